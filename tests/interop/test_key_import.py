"""Key files shared with BIND and ldns, both ways.

* Keys made by ``dnssec-keygen`` and ``ldns-keygen`` are read by :class:`FileKeyStore`; an RRset
  signed with them through :func:`load_signer` validates in dnspython against the DNSKEY that
  dnspython itself parses from the tool's ``.key`` file.
* Keys made by :meth:`FileKeyStore.create` sign a small zone with ``dnssec-signzone`` and
  ``ldns-signzone``, and ``dnssec-verify`` / ``ldns-verify-zone`` accept the result.
"""

from __future__ import annotations

import base64
import subprocess
import time
from pathlib import Path

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdatatype
import dns.rrset
import dns.zone
import pytest

from interop.verifiers import dnssec_verify, ldns_verify_zone, require_program, unavailable
from oracle import rrsig_signing_data
from signwire.keystore import signers as A_signers
from signwire.keystore.file_store import FileKeyStore
from signwire.keystore.model import ZoneKey
from signwire.policy import algorithms as A
from signwire.policy.model import KeyRole
from signwire.zones import names

pytestmark = pytest.mark.interop

ZONE = "example.test."
ORIGIN = names.from_text(ZONE, None)
ALGS = sorted(A.ALGORITHMS)
IDS = [A.mnemonic(a) for a in ALGS]

ZONE_TEXT = """$TTL 300
example.test. IN SOA ns1.example.test. hostmaster.example.test. 1 7200 3600 1209600 300
example.test. IN NS ns1.example.test.
ns1.example.test. IN A 192.0.2.1
www.example.test. IN A 192.0.2.2
www.example.test. IN TXT "hello"
"""


def run(argv: list[str], cwd: Path) -> str:
    proc = subprocess.run(
        argv,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"$ {' '.join(argv)}\n{proc.stdout}{proc.stderr}"
    return proc.stdout


def dnskey_from_key_file(path: Path) -> tuple[dns.name.Name, dns.rdata.Rdata]:
    """The DNSKEY of a tool's .key file, parsed by dnspython (not by signwire)."""
    for line in path.read_text().splitlines():
        tokens = line.split(";", 1)[0].split()
        if "DNSKEY" in tokens:
            at = tokens.index("DNSKEY")
            return dns.name.from_text(tokens[0]), dns.rdata.from_text(
                "IN", "DNSKEY", " ".join(tokens[at + 1 :])
            )
    raise AssertionError(f"no DNSKEY in {path}")


def assert_signs_for_dnspython(key: ZoneKey, key_file: Path) -> None:
    owner, dnskey = dnskey_from_key_file(key_file)
    assert owner == dns.name.from_text(ZONE)
    assert dnskey.to_digestable() == key.dnskey_rdata
    assert dns.dnssec.key_id(dnskey) == key.key_tag
    rrset = dns.rrset.from_text("www.example.test.", 300, "IN", "A", "192.0.2.2", "192.0.2.9")
    template = dns.rdata.from_text(
        "IN",
        "RRSIG",
        f"A {key.algorithm} 3 300 1900000000 1700000000 {key.key_tag} {ZONE} AA==",
    )
    signature = A_signers.load_signer(key.signer)(rrsig_signing_data(rrset, template))
    rrsig = template.replace(signature=signature)
    keys = {owner: dns.rrset.from_rdata_list(owner, 300, [dnskey])}
    dns.dnssec.validate(
        rrset, dns.rrset.from_rdata_list(rrset.name, 300, [rrsig]), keys, now=1_800_000_000
    )


def by_tag(keys: list[ZoneKey]) -> dict[int, ZoneKey]:
    return {k.key_tag: k for k in keys}


# --- their keys, our signer ---------------------------------------------------------------------


@pytest.mark.parametrize("alg", ALGS, ids=IDS)
def test_reads_dnssec_keygen_keys(tmp_path: Path, alg: int) -> None:
    keygen = require_program("dnssec-keygen")
    common = [keygen, "-q", "-K", str(tmp_path), "-a", A.mnemonic(alg)]
    if alg in (A.RSASHA256, A.RSASHA512):
        common += ["-b", "2048"]
    ksk = run([*common, "-f", "KSK", ZONE], tmp_path).strip()
    zsk = run([*common, ZONE], tmp_path).strip()
    keys = by_tag(FileKeyStore(tmp_path).keys_for(ORIGIN))
    assert len(keys) == 2
    for stem, role in ((ksk, KeyRole.KSK), (zsk, KeyRole.ZSK)):
        tag = int(stem.rsplit("+", 1)[1])
        key = keys[tag]
        assert key.role is role and key.algorithm == alg
        assert key.source == f"{stem}.private"
        assert_signs_for_dnspython(key, tmp_path / f"{stem}.key")


def test_dnssec_keygen_ksk_alone_is_a_csk(tmp_path: Path) -> None:
    keygen = require_program("dnssec-keygen")
    stem = run([keygen, "-q", "-K", str(tmp_path), "-a", "ED25519", "-f", "KSK", ZONE], tmp_path)
    (key,) = FileKeyStore(tmp_path).keys_for(ORIGIN)
    assert key.role is KeyRole.CSK and key.flags == 257
    assert_signs_for_dnspython(key, tmp_path / f"{stem.strip()}.key")


def ldns_algorithms(keygen: str) -> set[str]:
    proc = subprocess.run(
        [keygen, "-a", "list"], capture_output=True, text=True, timeout=30, check=False
    )
    return {line.strip().upper() for line in (proc.stdout + proc.stderr).splitlines()}


@pytest.mark.parametrize("alg", ALGS, ids=IDS)
def test_reads_ldns_keygen_keys(tmp_path: Path, alg: int) -> None:
    keygen = require_program("ldns-keygen")
    if A.mnemonic(alg) not in ldns_algorithms(keygen):
        # An ldns too old for the algorithm is a missing program too: CI's (Debian 12) has all.
        unavailable(f"this ldns-keygen cannot make {A.mnemonic(alg)} keys (not in -a list)")
    common = [keygen, "-a", A.mnemonic(alg)]
    if alg in (A.RSASHA256, A.RSASHA512):
        common += ["-b", "2048"]
    ksk = run([*common, "-k", ZONE], tmp_path).strip()
    zsk = run([*common, ZONE], tmp_path).strip()
    keys = by_tag(FileKeyStore(tmp_path).keys_for(ORIGIN))
    assert len(keys) == 2
    for stem, role in ((ksk, KeyRole.KSK), (zsk, KeyRole.ZSK)):
        key = keys[int(stem.rsplit("+", 1)[1])]
        assert key.role is role and key.algorithm == alg
        assert_signs_for_dnspython(key, tmp_path / f"{stem}.key")


# --- our keys, their signer ---------------------------------------------------------------------


def make_keys(folder: Path, alg: int, roles: list[KeyRole]) -> list[ZoneKey]:
    # Their signers compare the Activate time with the real clock: make the keys an hour old.
    now = int(time.time()) - 3600
    store = FileKeyStore(folder)
    return [store.create(ORIGIN, alg, role, now) for role in roles]


def rrsig_tags(signed: Path) -> set[int]:
    zone = dns.zone.from_file(str(signed), origin=ZONE, relativize=False)
    tags = set()
    for _, rdataset in zone.iterate_rdatasets():
        if rdataset.rdtype == dns.rdatatype.RRSIG:
            tags.update(rd.key_tag for rd in rdataset)
    return tags


@pytest.mark.parametrize("alg", ALGS, ids=IDS)
def test_dnssec_signzone_uses_our_keys(tmp_path: Path, alg: int) -> None:
    signzone = require_program("dnssec-signzone")
    keys = make_keys(tmp_path / "keys", alg, [KeyRole.KSK, KeyRole.ZSK])
    (tmp_path / "zone.db").write_text(ZONE_TEXT)
    run([signzone, "-K", "keys", "-o", ZONE, "-S", "-f", "zone.signed", "zone.db"], tmp_path)
    result = dnssec_verify(tmp_path / "zone.signed", ZONE)
    assert result.ok, result.describe()
    assert rrsig_tags(tmp_path / "zone.signed") == {k.key_tag for k in keys}


def test_dnssec_signzone_with_a_csk(tmp_path: Path) -> None:
    signzone = require_program("dnssec-signzone")
    (key,) = make_keys(tmp_path, A.ECDSAP256SHA256, [KeyRole.CSK])
    stem = key.source.removesuffix(".private")
    # Without -S the zone must carry the DNSKEY itself ($INCLUDE of our .key file), and the
    # key is named on the command line; -z: the SEP key signs everything (a CSK in BIND).
    (tmp_path / "zone.db").write_text(ZONE_TEXT + f"$INCLUDE {stem}.key\n")
    run([signzone, "-z", "-o", ZONE, "-f", "zone.signed", "zone.db", stem], tmp_path)
    result = dnssec_verify(tmp_path / "zone.signed", ZONE)
    assert result.ok, result.describe()
    assert rrsig_tags(tmp_path / "zone.signed") == {key.key_tag}


@pytest.mark.parametrize("alg", ALGS, ids=IDS)
def test_ldns_signzone_uses_our_keys(tmp_path: Path, alg: int) -> None:
    signzone = require_program("ldns-signzone")
    keys = make_keys(tmp_path, alg, [KeyRole.KSK, KeyRole.ZSK])
    (tmp_path / "zone.db").write_text(ZONE_TEXT)
    stems = [k.source.removesuffix(".private") for k in keys]
    expire = time.strftime("%Y%m%d%H%M%S", time.gmtime(time.time() + 30 * 86400))
    run([signzone, "-e", expire, "-o", ZONE, "-f", "zone.signed", "zone.db", *stems], tmp_path)
    result = ldns_verify_zone(tmp_path / "zone.signed")
    assert result.ok, result.describe()
    assert rrsig_tags(tmp_path / "zone.signed") == {k.key_tag for k in keys}
    signed = (tmp_path / "zone.signed").read_text()
    for key in keys:
        assert base64.b64encode(key.public_key).decode()[:40] in signed.replace(" ", "")
