"""``signwire sign`` as an operator uses it: keys, serials, signature timing, output.

The signed output is read back with dnspython (``read_rrsets`` in conftest), never with
signwire's own reader, and every time-dependent run passes ``--now`` so results are exact.
"""

from __future__ import annotations

import stat
import time
from collections.abc import Callable
from pathlib import Path

import dns.dnssec
import dns.name
import dns.node
import dns.rdataset
import dns.rdatatype
import dns.rrset
import pytest

from conftest import FIXED_NOW, CliResult, CliRunner

ORIGIN = "example.test."
DAY = 86400
INPUT_SERIAL = 2026010101

ZONE = f"""\
$ORIGIN example.test.
$TTL 3600
@        1800 IN SOA ns1 hostmaster {INPUT_SERIAL} 7200 3600 1209600 600
@        NS    ns1
@        MX    10 mail
ns1      A     192.0.2.1
mail     A     192.0.2.2
www      A     192.0.2.10
WWW      AAAA  2001:db8::10
Upper    TXT   "case kept"
*.wild   TXT   "wildcard"
a.b.c    A     192.0.2.11
a\\.b     TXT   "escaped dot"
sp\\032ce TXT   "escaped space"
sub      NS    ns.sub
ns.sub   A     192.0.2.53
sub      DS    12345 13 2 {"0123456789abcdef" * 4}
insecure NS    ns.example.net.
alias    CNAME www
"""

ReadRRsets = Callable[[str, str], list[dns.rrset.RRset]]


class Signer:
    """Runs ``signwire sign`` on a zone in tmp_path with a keys folder kept between runs."""

    def __init__(self, tmp_path: Path, signwire: CliRunner, read_rrsets: ReadRRsets) -> None:
        self.tmp_path = tmp_path
        self.signwire = signwire
        self.read_rrsets = read_rrsets
        self.keys = tmp_path / "keys"
        self.zone = tmp_path / "example.test.zone"
        self.zone.write_text(ZONE)
        self.out = tmp_path / "example.test.signed"

    def run(self, *extra: str, zone_text: str | None = None) -> CliResult:
        if zone_text is not None:
            self.zone.write_text(zone_text)
        args = ("sign", self.zone, "--origin", ORIGIN, "--keys", self.keys)
        result = self.signwire(*args, "-o", self.out, "--now", str(FIXED_NOW), *extra)
        assert result.code == 0, f"exit {result.code}\n{result.err}"
        return result

    def rrsets(self) -> list[dns.rrset.RRset]:
        return self.read_rrsets(self.out.read_text(), ORIGIN)

    def find(self, rdtype: dns.rdatatype.RdataType, name: str = ORIGIN) -> dns.rrset.RRset:
        owner = dns.name.from_text(name)
        for r in self.rrsets():
            if r.name == owner and r.rdtype == rdtype:
                return r
        raise AssertionError(f"no {dns.rdatatype.to_text(rdtype)} at {name} in the output")

    def rrsigs(self) -> list[dns.rrset.RRset]:
        return [r for r in self.rrsets() if r.rdtype == dns.rdatatype.RRSIG]

    def serial(self) -> int:
        return int(next(iter(self.find(dns.rdatatype.SOA))).serial)


@pytest.fixture
def signer(tmp_path: Path, signwire: CliRunner, read_rrsets: ReadRRsets) -> Signer:
    return Signer(tmp_path, signwire, read_rrsets)


def _key_tags(dnskeys: dns.rrset.RRset) -> dict[int, int]:
    """key tag -> flags"""
    return {dns.dnssec.key_id(k): k.flags for k in dnskeys}


# --- keys -------------------------------------------------------------------------------------


def test_keys_are_created_when_absent(signer: Signer) -> None:
    result = signer.run()
    dnskeys = signer.find(dns.rdatatype.DNSKEY)
    tags = _key_tags(dnskeys)
    assert sorted(tags.values()) == [256, 257], "default is one KSK and one ZSK"
    assert {k.algorithm for k in dnskeys} == {13}, "default algorithm is ECDSAP256SHA256"
    assert "created" in result.err.lower()
    for tag in tags:
        assert str(tag) in result.err, f"key tag {tag} not named in:\n{result.err}"
    files = list(signer.keys.iterdir())
    assert files, "no key files written"
    private = [p for p in files if "private" in p.name.lower() or b"PRIVATE" in p.read_bytes()]
    assert private, f"no private key file among {[p.name for p in files]}"
    for p in private:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, f"{p.name} is not 0600"


def test_ksk_signs_the_dnskey_rrset_and_zsk_the_rest(signer: Signer) -> None:
    signer.run()
    tags = _key_tags(signer.find(dns.rdatatype.DNSKEY))
    ksk = next(t for t, f in tags.items() if f == 257)
    zsk = next(t for t, f in tags.items() if f == 256)
    for rrsig_set in signer.rrsigs():
        for sig in rrsig_set:
            expected = ksk if sig.type_covered == dns.rdatatype.DNSKEY else zsk
            assert sig.key_tag == expected, f"{rrsig_set.name} {sig.type_covered!r}"


def test_csk_makes_one_key_that_signs_everything(signer: Signer) -> None:
    result = signer.run("--csk")
    tags = _key_tags(signer.find(dns.rdatatype.DNSKEY))
    assert list(tags.values()) == [257], tags
    (tag,) = tags
    assert str(tag) in result.err
    assert {sig.key_tag for s in signer.rrsigs() for sig in s} == {tag}


def test_keys_are_reused_on_the_second_run(signer: Signer) -> None:
    signer.run()
    first_keys = signer.find(dns.rdatatype.DNSKEY)
    files = {p.name: p.read_bytes() for p in signer.keys.iterdir()}
    again = signer.run()
    assert "created" not in again.err.lower(), again.err
    assert signer.find(dns.rdatatype.DNSKEY) == first_keys
    assert {p.name: p.read_bytes() for p in signer.keys.iterdir()} == files


@pytest.mark.parametrize("algorithm,number", [("ED25519", 15), ("ECDSAP384SHA384", 14)])
def test_algorithm_of_new_keys(signer: Signer, algorithm: str, number: int) -> None:
    signer.run("--algorithm", algorithm)
    assert {k.algorithm for k in signer.find(dns.rdatatype.DNSKEY)} == {number}
    assert {sig.algorithm for s in signer.rrsigs() for sig in s} == {number}


# --- serial -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule,input_serial,expected",
    [
        ("keep", INPUT_SERIAL, INPUT_SERIAL),
        ("increment", INPUT_SERIAL, INPUT_SERIAL + 1),
        ("increment", 2**32 - 1, 0),  # RFC 1982: the serial wraps
        ("unixtime", 1, FIXED_NOW),
        ("unixtime", FIXED_NOW + 500, FIXED_NOW + 501),  # never backwards
        ("datecounter", 1, 2026010100),  # FIXED_NOW is 2026-01-01
        ("datecounter", 2026010105, 2026010106),
    ],
)
def test_serial_rule(signer: Signer, rule: str, input_serial: int, expected: int) -> None:
    signer.run("--serial", rule, zone_text=ZONE.replace(str(INPUT_SERIAL), str(input_serial)))
    assert signer.serial() == expected


def test_soa_rrsig_covers_the_new_serial(signer: Signer) -> None:
    """The SOA signature is over the rewritten SOA, not the input's."""
    signer.run("--serial", "increment")
    soa = signer.find(dns.rdatatype.SOA)
    keys: dict[dns.name.Name, dns.node.Node | dns.rdataset.Rdataset] = {
        dns.name.from_text(ORIGIN): signer.find(dns.rdatatype.DNSKEY)
    }
    sigs = [s for s in signer.rrsigs() if s.name == soa.name and s.covers == dns.rdatatype.SOA]
    assert sigs
    dns.dnssec.validate(soa, sigs[0], keys, now=FIXED_NOW)


# --- signature timing -------------------------------------------------------------------------


def test_validity_sets_expiration(signer: Signer) -> None:
    signer.run("--validity", "7d")
    expirations = [sig.expiration for s in signer.rrsigs() for sig in s]
    target = FIXED_NOW + 7 * DAY
    for e in expirations:
        assert target - 7 * DAY // 4 <= e <= target, time.strftime("%F %T", time.gmtime(e))
    assert len(set(expirations)) > 1, "expirations are jittered per RRset"


def test_inception_is_one_hour_before_now_by_default(signer: Signer) -> None:
    signer.run()
    inceptions = {sig.inception for s in signer.rrsigs() for sig in s}
    assert inceptions == {FIXED_NOW - 3600}


def test_default_validity_is_days_not_hours(signer: Signer) -> None:
    signer.run()
    for s in signer.rrsigs():
        for sig in s:
            assert sig.expiration - FIXED_NOW >= 3 * DAY


# --- output -----------------------------------------------------------------------------------


@pytest.mark.parametrize("denial", [(), ("--nsec3",), ("--nsec3", "--opt-out")])
def test_output_is_in_canonical_order(signer: Signer, denial: tuple[str, ...]) -> None:
    signer.run(*denial)
    owners: list[dns.name.Name] = []
    for r in signer.rrsets():
        if not owners or owners[-1] != r.name:
            owners.append(r.name)
    # dnspython orders names canonically (RFC 4034 §6.1); each owner appears once, in order.
    assert owners == sorted(set(owners)), "\n".join(n.to_text() for n in owners)


def test_owner_case_is_kept(signer: Signer) -> None:
    """Case is preserved in the output (the signatures cover the lowercase form)."""
    signer.run()
    text = signer.out.read_text()
    assert "Upper.example.test." in text, text


def test_output_to_stdout(signer: Signer) -> None:
    args = ("sign", signer.zone, "--origin", ORIGIN, "--keys", signer.keys)
    result = signer.signwire(*args, "-o", "-", "--now", str(FIXED_NOW))
    assert result.code == 0, result.err
    rrsets = signer.read_rrsets(result.out, ORIGIN)
    types = {r.rdtype for r in rrsets}
    assert {dns.rdatatype.SOA, dns.rdatatype.DNSKEY, dns.rdatatype.RRSIG} <= types
    assert not signer.out.exists()
    assert not list(signer.tmp_path.glob("*.signed")), "no file when writing to stdout"
    assert "hostmaster" not in result.err, "zone data went to stderr"


def test_nsec_ttl_follows_rfc_9077(signer: Signer) -> None:
    """NSEC/NSEC3 TTL = min(SOA TTL, SOA MINIMUM): here min(1800, 600)."""
    signer.run()
    ttls = {r.ttl for r in signer.rrsets() if r.rdtype == dns.rdatatype.NSEC}
    assert ttls == {600}
    signer.run("--nsec3")
    ttls = {r.ttl for r in signer.rrsets() if r.rdtype == dns.rdatatype.NSEC3}
    assert ttls == {600}


def test_wildcard_rrsig_label_count(signer: Signer) -> None:
    """RFC 4034 §3.1.3: the ``*`` label is not counted."""
    signer.run()
    sigs = [s for s in signer.rrsigs() if s.name == dns.name.from_text("*.wild." + ORIGIN)]
    assert sigs
    assert {sig.labels for s in sigs for sig in s} == {3}


def test_subprocess_on_a_pipe_prints_no_progress(
    signer: Signer, run_cli_subprocess: CliRunner
) -> None:
    """A real process with stdout/stderr as pipes: signed zone on stdout, no bar on stderr."""
    args = ("sign", signer.zone, "--origin", ORIGIN, "--keys", signer.keys)
    result = run_cli_subprocess(*args, "-o", "-", "--now", str(FIXED_NOW))
    assert result.code == 0, result.err
    assert "SOA" in result.out
    assert "\r" not in result.err and "\x1b[" not in result.err, repr(result.err)


def test_cds_delete_form(tmp_path, signwire):
    """RFC 8078 §4: CDS 0 0 0 00 and CDNSKEY 0 3 0 AA==, signed by the KSK."""
    import dns.rdatatype
    import dns.zone

    zone = tmp_path / "z.zone"
    zone.write_text("$ORIGIN example.test.\n$TTL 300\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\n"
                    "ns1 A 192.0.2.1\n")
    out = tmp_path / "z.signed"
    code, _, err = signwire("sign", zone, "--origin", "example.test.", "--keys", tmp_path / "k",
                            "--cds-delete", "-o", out)
    assert code == 0, err
    signed = dns.zone.from_file(str(out), origin="example.test.", relativize=False)
    cds = signed.find_rdataset("example.test.", dns.rdatatype.CDS)
    cdnskey = signed.find_rdataset("example.test.", dns.rdatatype.CDNSKEY)
    assert [r.to_text() for r in cds] == ["0 0 0 00"]
    assert [r.to_text() for r in cdnskey] == ["0 3 0 AA=="]
    sigs = signed.find_rdataset("example.test.", dns.rdatatype.RRSIG, dns.rdatatype.CDS)
    assert len(sigs) == 1
    code, _, err = signwire("sign", zone, "--origin", "example.test.", "--keys", tmp_path / "k",
                            "--cds-delete", "--cds", "-o", out)
    assert code == 2
