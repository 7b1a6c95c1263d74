"""``signwire verify`` reads what other signers write: one zone with many record types, signed by
BIND's dnssec-signzone, ldns-signzone and Knot's kzonesign, must verify as each tool wrote it.

The types are the ones whose presentation differs between tools (BIND drops leading zeros in
NID and L64 locators, Knot writes hex in upper case and leaves out the class, every tool escapes
octets that are not printable as ``\\DDD``), and a zone file may hold raw octets that are not
UTF-8, which all three tools read as the octet itself.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
from pathlib import Path

import pytest
from test_verify_support import NOW

from interop.verifiers import missing_programs
from signwire.cli import verify_cmd
from signwire.verify.lean import lean_verdict
from signwire.verify.lean_reader import read_lean
from signwire.verify.zone_reader import load_zone_text

ORIGIN = "example.test."
DIGEST = "2bb183af5f22588179a53b0a98631fad1a292118ba2ed2a93b4f7c1e2f1b9c30"

WIDE = f"""\
$ORIGIN example.test.
$TTL 3600
@ SOA ns1 hostmaster 1 7200 3600 1209600 300
@ NS ns1
@ MX 10 mail
@ CAA 0 issue "ca.example.net"
@ HINFO "PC" "Linux"
ns1 A 192.0.2.1
mail A 192.0.2.2
mail AAAA 2001:db8::2
nid NID 10 0014:4fff:ff20:ee64
l64 L64 10 2001:0db8:1140:1000
l32 L32 10 10.1.2.0
lp LP 10 l64-subnet1.example.test.
eui EUI48 00-00-5e-00-53-2a
eui EUI64 00-00-5e-ef-10-00-00-2a
txt TXT "caf\\233" "\\233x" "a;b" "quote\\"d"
_443._tcp TLSA 3 1 1 {DIGEST}
ssh SSHFP 4 2 {DIGEST}
_sip._udp SRV 10 20 5060 mail
uri URI 10 1 "https://example.test/"
svc SVCB 1 mail alpn=h2,h3 port=8443
www HTTPS 1 . alpn=h2 ipv4hint=192.0.2.7
naptr NAPTR 100 10 "S" "SIP+D2U" "" _sip._udp
rp RP hostmaster txt
loc LOC 52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m
apl APL 1:192.0.2.0/24 !2:2001:db8::/32
cert CERT 1 0 0 AAECAwQ=
cds CDS 0 0 0 00
csync CSYNC 1 3 A NS AAAA
zonemd ZONEMD 1 1 1 {DIGEST}{DIGEST[:32]}
openpgp OPENPGPKEY AAECAwQ=
dhcid DHCID AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA=
generic TYPE65280 \\# 3 abcdef
sub NS ns.sub
ns.sub A 192.0.2.9
"""

TOOLS = ("dnssec-keygen", "dnssec-signzone", "ldns-signzone", "kzonesign", "keymgr")
pytestmark = [
    pytest.mark.interop,
    pytest.mark.requires(missing_programs(*TOOLS)),
]


def _run(*argv: str, cwd: Path) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{' '.join(argv)}\n{done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("tools")
    (where / "wide.zone").write_text(WIDE)
    # Published and active before NOW: Knot signs at NOW (-t) only with keys active then.
    keygen = ("dnssec-keygen", "-q", "-a", "ECDSAP256SHA256", "-P", "20250101000000",
              "-A", "20250101000000")
    ksk = _run(*keygen, "-f", "KSK", ORIGIN, cwd=where)
    zsk = _run(*keygen, ORIGIN, cwd=where)
    (where / "keys").write_text(f"{ksk.strip()}\n{zsk.strip()}\n")
    return where


def _bind(work: Path) -> Path:
    _run("dnssec-signzone", "-q", "-P", "-S", "-K", ".", "-o", ORIGIN, "-f", "bind.signed",
         "-s", "20251231000000", "-e", "20260131000000", "wide.zone", cwd=work)
    return work / "bind.signed"


def _ldns(work: Path) -> Path:
    ksk, zsk = (work / "keys").read_text().split()
    _run("ldns-signzone", "-o", ORIGIN, "-f", "ldns.signed", "-i", "20251231000000",
         "-e", "20260131000000", "wide.zone", ksk, zsk, cwd=work)
    return work / "ldns.signed"


def _knot(work: Path) -> Path:
    base = work / "knot"
    for sub in ("kasp", "zones", "out"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy(work / "wide.zone", base / "zones" / "example.test.zone")
    conf = base / "knot.conf"
    conf.write_text(
        f'server:\n    rundir: "{base}"\n'
        f'database:\n    storage: "{base}"\n    kasp-db: "{base / "kasp"}"\n'
        "policy:\n  - id: p\n    manual: on\n    algorithm: ecdsap256sha256\n"
        f'template:\n  - id: default\n    storage: "{base / "zones"}"\n    file: "%s.zone"\n'
        "    journal-content: none\n"
        f"zone:\n  - domain: {ORIGIN}\n    dnssec-signing: on\n    dnssec-policy: p\n"
    )
    for key in (work / "keys").read_text().split():
        _run("keymgr", "-c", str(conf), ORIGIN, "import-bind", str(work / f"{key}.private"),
             cwd=work)
    _run("kzonesign", "-c", str(conf), "-o", str(base / "out"), "-t", str(NOW), ORIGIN, cwd=work)
    return base / "out" / "example.test.zone"


def _verify(path: Path) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="signwire")
    verify_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["verify", str(path), "--origin", ORIGIN])
    out, err = io.StringIO(), io.StringIO()
    return verify_cmd.run(args, now=NOW, out=out, err=err), out.getvalue() + err.getvalue()


@pytest.mark.parametrize("sign", [_bind, _ldns, _knot], ids=["bind", "ldns", "knot"])
def test_every_tools_output_verifies(work: Path, sign: object) -> None:
    assert callable(sign)
    path = sign(work)
    code, out = _verify(path)
    assert code == 0, out
    assert " 0 errors, 0 warnings" in out
    # and the lean path reads the file itself, without handing it to the full reader
    text = load_zone_text(str(path))
    verdict = lean_verdict(read_lean(text, ORIGIN), now=NOW, warn_horizon=7 * 86400,
                           anchors=None, workers=1)
    assert verdict.counts.rrsets_checked > 30


def test_bind_writes_locators_without_leading_zeros(work: Path) -> None:
    # What the reader must cope with, seen in the file itself.
    text = _bind(work).read_text()
    assert "NID\t10 14:4fff:ff20:ee64" in text


def test_raw_octets_that_are_not_utf8_are_read_as_octets(work: Path) -> None:
    # The same zone with TXT's \233 written as the raw octet 0xE9: the same data, still valid.
    text = _bind(work).read_bytes()
    assert b'"caf\\233"' in text
    raw = work / "raw.signed"
    raw.write_bytes(text.replace(b'"caf\\233"', b'"caf\xe9"'))
    code, out = _verify(raw)
    assert code == 0, out
    # and the octet is really read: changing it breaks the TXT signature
    broken = work / "broken.signed"
    broken.write_bytes(text.replace(b'"caf\\233"', b'"caf\xea"'))
    code, out = _verify(broken)
    assert code == 1
    assert "error: txt.example.test. TXT: RRSIG TXT" in out
