"""Random zones, signed by ``signwire sign``, must verify everywhere; damaged ones must not.

For every algorithm and denial mode: a zone drawn by :func:`properties.strategies.zones` is
signed, then ``signwire verify`` must accept the result; this part needs no outside program and
always runs. The interop part signs the same way and the three outside verifiers (ldns, BIND,
Knot) must accept the result too, beside ``signwire verify``; it needs their programs (missing
ones skip it, or fail it under CI). Keys are made once per algorithm per session (the first
``sign`` into an empty ``--keys`` folder creates them) and reused, as an operator would.

Then the other direction: a signed zone with one record changed, one NSEC/NSEC3 removed or one
RRSIG pushed past its expiration must make ``signwire verify`` exit 1 (a finding), not 0 and not
2 (a usage error). Each damaged zone is rewritten by dnspython; the same rewrite without damage
must still verify, so the rejection is due to the damage alone.

Example counts are modest (the outside tools run as processes); in CI the examples are fixed
per combination (a seed derived from its name), so a run is repeatable.
"""

from __future__ import annotations

import subprocess
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import dns.name
import dns.rdata
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.RRSIG
import dns.zone
import pytest
from hypothesis import given, note, seed, settings
from hypothesis import strategies as st

from conftest import FIXED_NOW, CliRunner
from interop.verifiers import (
    VerifierResult,
    dnssec_verify,
    kzonecheck,
    kzonecheck_complaints,
    ldns_verify_zone,
    rejections,
    require_program,
)
from properties.strategies import ORIGIN, ZoneCase, zones

DAY = 86400

# Mnemonic -> examples per denial mode. RSA keys are slow to make and signatures big: fewer.
ALGORITHMS = {
    "ECDSAP256SHA256": 10,
    "ECDSAP384SHA384": 10,
    "ED25519": 10,
    "ED448": 10,
    "RSASHA256": 4,
    "RSASHA512": 4,
}
DENIAL = {
    "nsec": ("--nsec",),
    "nsec3": ("--nsec3",),
    "nsec3-optout": ("--nsec3", "--opt-out"),
    "nsec3-salted": ("--nsec3", "--iterations", "5", "--salt", "ab12"),
}
MUTATION_EXAMPLES = 8

MINIMAL_ZONE = f"""\
$TTL 3600
{ORIGIN} IN SOA ns1.{ORIGIN} hostmaster.{ORIGIN} 1 7200 3600 1209600 300
{ORIGIN} IN NS ns1.{ORIGIN}
ns1.{ORIGIN} IN A 192.0.2.1
www.{ORIGIN} IN A 192.0.2.2
"""

KeyDirs = Callable[[str], Path]


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory, signwire: CliRunner) -> KeyDirs:
    """``key_dir(algorithm)``: a folder holding keys for ORIGIN, made by signwire on first use."""
    made: dict[str, Path] = {}

    def get(algorithm: str) -> Path:
        if algorithm not in made:
            keys = tmp_path_factory.mktemp(f"keys-{algorithm}")
            work = tmp_path_factory.mktemp(f"first-sign-{algorithm}")
            zone = work / "minimal.zone"
            zone.write_text(MINIMAL_ZONE)
            args = ("sign", zone, "--origin", ORIGIN, "--keys", keys, "--algorithm", algorithm)
            result = signwire(*args, "-o", work / "minimal.signed")
            assert result.code == 0, result.err
            assert any(keys.iterdir()), f"signwire sign made no key files in {keys}"
            made[algorithm] = keys
        return made[algorithm]

    return get


def _fixed_examples(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """In a derandomized (CI) run, give each combination its own fixed examples.

    Derandomizing hashes the test function, which is the same inner function for every
    combination; a seed from the combination's name keeps them different but repeatable.
    """
    if settings().derandomize:
        return seed(zlib.crc32(name.encode()))
    return lambda f: f


def _knot_verdict(zone: ZoneCase, result: VerifierResult) -> VerifierResult:
    """Knot refuses data below a DNAME (see interop.verifiers): allow that, and only that."""
    if result.ok or not zone.dname_occlusion:
        return result
    dnames = [dns.name.from_text(d) for d in zone.dname_occlusion]
    complaints = kzonecheck_complaints(result)
    only_dname = bool(complaints) and all(
        any(dns.name.from_text(owner).is_subdomain(d) for d in dnames) for owner, _ in complaints
    )
    return VerifierResult(only_dname, result.command, result.output, result.returncode)


def sign(
    signwire: CliRunner, zone: Path, out: Path, keys: Path, algorithm: str, *extra: str
) -> None:
    out.unlink(missing_ok=True)
    args = ("sign", zone, "--origin", ORIGIN, "--keys", keys, "--algorithm", algorithm)
    result = signwire(*args, "-o", out, *extra)
    assert result.code == 0, f"sign exited {result.code}:\n{result.err}"
    assert out.exists()


def sign_and_self_verify(
    signwire: CliRunner,
    zone: ZoneCase,
    source: Path,
    out: Path,
    keys: Path,
    algorithm: str,
    denial: str,
) -> None:
    """Sign ``zone`` into ``out``; ``signwire verify`` must accept it."""
    note(zone.text)
    source.write_text(zone.text)
    sign(signwire, source, out, keys, algorithm, *DENIAL[denial])
    verified = signwire("verify", out, "--origin", ORIGIN)
    assert verified.code == 0, f"signwire verify:\n{verified.out}{verified.err}"


@pytest.mark.parametrize("denial", sorted(DENIAL))
@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_signed_zone_passes_signwire_verify(
    algorithm: str, denial: str, key_dir: KeyDirs, signwire: CliRunner, tmp_path: Path
) -> None:
    """No outside program: this runs wherever signwire is installed, and never skips."""
    keys = key_dir(algorithm)
    source, out = tmp_path / "zone.in", tmp_path / "zone.signed"

    # Not the interop test's seed: in CI the two parts see different zones, so signwire verify
    # is tried on twice as many.
    @_fixed_examples(f"self/{algorithm}/{denial}")
    @settings(max_examples=ALGORITHMS[algorithm], deadline=None)
    @given(zone=zones())
    def check(zone: ZoneCase) -> None:
        sign_and_self_verify(signwire, zone, source, out, keys, algorithm, denial)

    check()


@pytest.mark.interop
@pytest.mark.parametrize("denial", sorted(DENIAL))
@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_signed_zone_passes_outside_verifiers(
    algorithm: str, denial: str, key_dir: KeyDirs, signwire: CliRunner, tmp_path: Path
) -> None:
    for program in ("ldns-verify-zone", "dnssec-verify", "kzonecheck"):
        require_program(program)
    keys = key_dir(algorithm)
    source, out = tmp_path / "zone.in", tmp_path / "zone.signed"

    @_fixed_examples(f"{algorithm}/{denial}")
    @settings(max_examples=ALGORITHMS[algorithm], deadline=None)
    @given(zone=zones())
    def check(zone: ZoneCase) -> None:
        sign_and_self_verify(signwire, zone, source, out, keys, algorithm, denial)
        results = [
            ldns_verify_zone(out),
            dnssec_verify(out, ORIGIN),
            _knot_verdict(zone, kzonecheck(out, ORIGIN)),
        ]
        problems = rejections(results)
        assert not problems, problems + "\n\nsigned zone:\n" + out.read_text()

    check()


@pytest.mark.interop
@pytest.mark.parametrize("denial", ["nsec", "nsec3-optout"])
def test_generated_zones_are_valid(denial: str, tmp_path: Path) -> None:
    """The strategy's zones, signed by BIND's dnssec-signzone, pass all three verifiers.

    So a property failure above is signwire's fault, not the generator's.
    """
    keygen = require_program("dnssec-keygen")
    signzone = require_program("dnssec-signzone")
    for program in ("ldns-verify-zone", "dnssec-verify", "kzonecheck"):
        require_program(program)
    keys = tmp_path / "bind-keys"
    keys.mkdir()
    for flags in (["-f", "KSK"], []):
        subprocess.run(
            [keygen, "-q", "-a", "ECDSAP256SHA256", *flags, "-K", str(keys), ORIGIN],
            check=True,
            capture_output=True,
            timeout=120,
        )
    mode = ["-3", "-", "-A"] if denial == "nsec3-optout" else []
    source, out = tmp_path / "zone.in", tmp_path / "zone.signed"
    argv = [signzone, "-q", "-S", "-K", str(keys), *mode, "-o", ORIGIN, "-f", str(out), str(source)]

    @_fixed_examples(f"bind/{denial}")
    @settings(max_examples=15, deadline=None)
    @given(zone=zones())
    def check(zone: ZoneCase) -> None:
        # BIND reads the zone as dnspython writes it: this checks content, not syntax.
        parsed = dns.zone.from_text(zone.text, origin=ORIGIN, relativize=False)
        source.write_text(parsed.to_text(relativize=False))
        proc = subprocess.run(
            argv, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
        )
        assert proc.returncode == 0, proc.stderr
        results = [
            ldns_verify_zone(out),
            dnssec_verify(out, ORIGIN),
            _knot_verdict(zone, kzonecheck(out, ORIGIN)),
        ]
        assert not rejections(results), rejections(results) + "\n" + zone.text

    check()


# --- damaged zones --------------------------------------------------------------------------

_DENIAL_TYPES = (dns.rdatatype.NSEC, dns.rdatatype.NSEC3)
_ALTERABLE = {
    dns.rdatatype.A: lambda r: r.replace(address="198.51.100.77"),
    dns.rdatatype.AAAA: lambda r: r.replace(address="2001:db8:ffff::77"),
    dns.rdatatype.TXT: lambda r: r.replace(strings=(*r.strings, b"tampered")),
    dns.rdatatype.MX: lambda r: r.replace(preference=(r.preference + 1) % 65536),
    dns.rdatatype.SRV: lambda r: r.replace(port=(r.port + 1) % 65536),
    dns.rdatatype.NS: lambda r: r.replace(target=dns.name.from_text("tampered.example.net.")),
    dns.rdatatype.CNAME: lambda r: r.replace(target=dns.name.from_text("tampered.example.net.")),
    dns.rdatatype.DNAME: lambda r: r.replace(target=dns.name.from_text("tampered.example.net.")),
    dns.rdatatype.SOA: lambda r: r.replace(serial=(r.serial + 1) % 2**32),
    dns.rdatatype.DS: lambda r: r.replace(key_tag=(r.key_tag + 1) % 65536),
}


def _covered(zone: dns.zone.Zone) -> list[tuple[dns.name.Name, dns.rdatatype.RdataType]]:
    """(owner, type) of every RRset that carries an RRSIG, in a stable order."""
    out = []
    for name, node in sorted(zone.nodes.items()):
        for rds in node.rdatasets:
            if rds.rdtype == dns.rdatatype.RRSIG:
                out.append((name, rds.covers))
    return out


def _change_record(zone: dns.zone.Zone, draw: st.DataObject) -> str:
    targets = [(n, t) for n, t in _covered(zone) if t in _ALTERABLE]
    name, rdtype = draw.draw(st.sampled_from(targets), label="changed RRset")
    node = zone.nodes[name]
    old = node.find_rdataset(dns.rdataclass.IN, rdtype)
    victim = draw.draw(st.sampled_from(sorted(old, key=lambda r: r.to_digestable())))
    new = dns.rdataset.Rdataset(old.rdclass, old.rdtype, ttl=old.ttl)
    for rdata in old:
        new.add(_ALTERABLE[rdtype](rdata) if rdata is victim else rdata)
    node.replace_rdataset(new)
    return f"changed {dns.rdatatype.to_text(rdtype)} at {name}"


def _remove_denial(zone: dns.zone.Zone, draw: st.DataObject) -> str:
    targets = [(n, t) for n, t in _covered(zone) if t in _DENIAL_TYPES]
    name, rdtype = draw.draw(st.sampled_from(targets), label="removed denial record")
    node = zone.nodes[name]
    node.delete_rdataset(dns.rdataclass.IN, rdtype)
    node.delete_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, rdtype)
    if not node.rdatasets:
        del zone.nodes[name]
    return f"removed {dns.rdatatype.to_text(rdtype)} at {name}"


def _expire_signature(zone: dns.zone.Zone, draw: st.DataObject) -> str:
    name, covered = draw.draw(st.sampled_from(_covered(zone)), label="expired RRSIG")
    node = zone.nodes[name]
    old = node.find_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, covered)
    past = int(time.time()) - 30 * DAY
    new = dns.rdataset.Rdataset(old.rdclass, old.rdtype, old.covers, ttl=old.ttl)
    for i, rdata in enumerate(old):
        assert isinstance(rdata, dns.rdtypes.ANY.RRSIG.RRSIG)
        new.add(rdata.replace(inception=past - 30 * DAY, expiration=past) if i == 0 else rdata)
    node.replace_rdataset(new)
    return f"expired the RRSIG over {dns.rdatatype.to_text(covered)} at {name}"


MUTATIONS: dict[str, Callable[[dns.zone.Zone, st.DataObject], str]] = {
    "changed-record": _change_record,
    "removed-denial": _remove_denial,
    "expired-rrsig": _expire_signature,
}


@pytest.mark.parametrize("denial", ["nsec", "nsec3", "nsec3-optout"])
@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_damaged_zone_is_rejected(
    mutation: str, denial: str, key_dir: KeyDirs, signwire: CliRunner, tmp_path: Path
) -> None:
    algorithm = "ECDSAP256SHA256"
    keys = key_dir(algorithm)
    source, signed = tmp_path / "zone.in", tmp_path / "zone.signed"
    rewritten, damaged = tmp_path / "rewritten.signed", tmp_path / "damaged.signed"

    @_fixed_examples(f"{mutation}/{denial}")
    @settings(max_examples=MUTATION_EXAMPLES, deadline=None)
    @given(zone=zones(), draw=st.data())
    def check(zone: ZoneCase, draw: st.DataObject) -> None:
        note(zone.text)
        source.write_text(zone.text)
        sign(signwire, source, signed, keys, algorithm, *DENIAL[denial])

        parsed = dns.zone.from_text(signed.read_text(), origin=ORIGIN, relativize=False)
        rewritten.write_text(parsed.to_text(relativize=False))
        baseline = signwire("verify", rewritten, "--origin", ORIGIN)
        assert baseline.code == 0, f"undamaged rewrite rejected:\n{baseline.out}{baseline.err}"

        what = MUTATIONS[mutation](parsed, draw)
        note(what)
        damaged.write_text(parsed.to_text(relativize=False))
        result = signwire("verify", damaged, "--origin", ORIGIN)
        assert result.code == 1, f"{what}: verify exited {result.code}\n{result.out}{result.err}"
        assert (result.out + result.err).strip(), "a rejection must say what is wrong"

    check()


def test_zone_signed_in_the_past_has_expired(
    key_dir: KeyDirs, signwire: CliRunner, tmp_path: Path
) -> None:
    """Validly made signatures whose window has passed: verify (at the real time) says so."""
    keys = key_dir("ECDSAP256SHA256")
    source, out = tmp_path / "zone.in", tmp_path / "zone.signed"
    source.write_text(MINIMAL_ZONE)
    sign(
        signwire, source, out, keys, "ECDSAP256SHA256",
        "--now", str(FIXED_NOW - 400 * DAY), "--validity", "7d",
    )  # fmt: skip
    result = signwire("verify", out, "--origin", ORIGIN)
    assert result.code == 1, result.out + result.err
    assert "expir" in (result.out + result.err).lower(), result.out + result.err
