"""Signed test zones for the verifier tests, made without signwire's signer.

* NSEC zones come from ``dns.dnssec.sign_zone`` (dnspython).
* NSEC3 zones come from :func:`sign_nsec3` below, a small test-only signer built on
  ``dns.dnssec.sign`` and ``dns.dnssec.nsec3_hash``; the tests at the end of this file check that
  its output is valid for ``ldns-verify-zone`` too, so it is an oracle independent of the
  verifier under test.
* :class:`Zone` wraps a ``dns.zone.Zone`` with the mutations the tests need (re-sign an RRset
  with other dates or keys, drop or replace records) and renders zone-file text.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.zone
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.NSEC3 import NSEC3
from dns.rdtypes.ANY.NSEC3PARAM import NSEC3PARAM
from dns.rdtypes.ANY.RRSIG import RRSIG
from dns.rdtypes.util import Bitmap

from interop.verifiers import missing_programs
from signwire.verify.anchors import TrustAnchor
from signwire.verify.lean import lean_verdict
from signwire.verify.lean_reader import read_lean
from signwire.verify.lean_wire import Doubt
from signwire.verify.report import VerifyReport
from signwire.verify.zone_reader import ZoneContents, read_zone_text
from signwire.verify.zone_verifier import DEFAULT_WARN_HORIZON, verify_contents

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
INCEPTION = NOW - 3600
EXPIRATION = NOW + 30 * 86400
ORIGIN = dns.name.from_text("example.test.")

RRSIG_T = dns.rdatatype.RRSIG
NSEC_T = dns.rdatatype.NSEC
NSEC3_T = dns.rdatatype.NSEC3
NS_T = dns.rdatatype.NS
DS_T = dns.rdatatype.DS
DNAME_T = dns.rdatatype.DNAME

UNSIGNED = """\
$ORIGIN example.test.
$TTL 3600
@        SOA   ns1 hostmaster 1 7200 3600 1209600 300
@        NS    ns1
@        NS    ns2
@        MX    10 mail
ns1      A     192.0.2.1
ns2      A     192.0.2.2
mail     A     192.0.2.3
www      A     192.0.2.4
www      AAAA  2001:db8::4
*.wild   TXT   "wildcard; with (parens)"
a.b.c    A     192.0.2.5
sub      NS    ns.sub
sub      DS    12345 13 2 2bb183af5f22588179a53b0a98631fad1a292118ba2ed2a93b4f7c1e2f1b9c30
ns.sub   A     192.0.2.6
insecure NS    ns.elsewhere.test.
deep.insecure A 192.0.2.7
"""

# A DNAME at the apex: every name below is occluded, except the NSEC3 owners.
APEX_DNAME = """\
$ORIGIN example.test.
$TTL 3600
@        SOA   ns1.elsewhere.test. hostmaster.elsewhere.test. 1 7200 3600 1209600 300
@        NS    ns1.elsewhere.test.
@        NS    ns2.elsewhere.test.
@        DNAME target.test.
"""


@dataclass(frozen=True)
class Key:
    private: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    dnskey: DNSKEY

    @property
    def tag(self) -> int:
        return dns.dnssec.key_id(self.dnskey)


def make_key(algorithm: int = 13, *, ksk: bool) -> Key:
    private: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    if algorithm == 13:
        private = ec.generate_private_key(ec.SECP256R1())
    elif algorithm == 15:
        private = ed25519.Ed25519PrivateKey.generate()
    else:  # pragma: no cover - the tests only use these two
        raise ValueError(algorithm)
    flags = 257 if ksk else 256
    dnskey = dns.dnssec.make_dnskey(private.public_key(), algorithm, flags=flags)
    return Key(private, dnskey)


@functools.cache
def keys(algorithm: int = 13) -> tuple[Key, Key]:
    """A (KSK, ZSK) pair, made once per test session."""
    return make_key(algorithm, ksk=True), make_key(algorithm, ksk=False)


@functools.cache
def stranger() -> Key:
    """A zone key that is not in any test zone's DNSKEY RRset."""
    return make_key(13, ksk=False)


def rrsig(
    name: dns.name.Name,
    rds: dns.rdataset.Rdataset,
    key: Key,
    *,
    inception: int = INCEPTION,
    expiration: int = EXPIRATION,
    signer: dns.name.Name = ORIGIN,
) -> RRSIG:
    rrset = dns.rrset.from_rdata_list(name, rds.ttl, list(rds))
    return dns.dnssec.sign(
        rrset,
        key.private,
        signer,
        key.dnskey,
        inception=inception,
        expiration=expiration,
        policy=dns.dnssec.allow_all_policy,
    )


class Zone:
    """A signed zone under test, editable record by record."""

    def __init__(self, zone: dns.zone.Zone, zsks: list[Key], ksks: list[Key]) -> None:
        self.zone = zone
        self.zsks = zsks
        self.ksks = ksks
        self.lean_vouched: bool | None = None
        """Whether the lean path vouched for the zone at the last :meth:`verify`."""

    @property
    def origin(self) -> dns.name.Name:
        assert self.zone.origin is not None
        return self.zone.origin

    def name(self, text: str) -> dns.name.Name:
        return dns.name.from_text(text, self.origin)

    def get(self, owner: str, rdtype: str | int, covers: int = 0) -> dns.rdataset.Rdataset:
        rds = self.zone.get_rdataset(self.name(owner), rdtype, covers)
        assert rds is not None, (owner, rdtype)
        return rds

    def put(self, owner: str, rdtype: str, ttl: int, *rdata: str) -> None:
        name = self.name(owner)
        rds = dns.rdataset.from_text_list(
            dns.rdataclass.IN, rdtype, ttl, rdata, origin=self.origin, relativize=False
        )
        self.zone.replace_rdataset(name, rds)

    def delete(self, owner: str, rdtype: str | int, covers: int = 0) -> None:
        self.zone.delete_rdataset(self.name(owner), rdtype, covers)

    def sigs(self, owner: str, covered: int) -> list[RRSIG]:
        rds = self.zone.get_rdataset(self.name(owner), RRSIG_T, covered)
        return [] if rds is None else [rd for rd in rds if isinstance(rd, RRSIG)]

    def set_sigs(self, owner: str, covered: int, sigs: Iterable[RRSIG], ttl: int) -> None:
        name = self.name(owner)
        sigs = list(sigs)
        if not sigs:
            self.zone.delete_rdataset(name, RRSIG_T, covered)
            return
        rds = dns.rdataset.Rdataset(dns.rdataclass.IN, RRSIG_T, covered, ttl)
        for sig in sigs:
            rds.add(sig)
        self.zone.replace_rdataset(name, rds)

    def resign(self, owner: str, rdtype: int, keys: list[Key] | None = None, **kw: Any) -> None:
        """Replace the RRSIGs over one RRset with new ones (other dates, keys or signer)."""
        rds = self.get(owner, rdtype)
        use = (self.ksks if rdtype == dns.rdatatype.DNSKEY else self.zsks) if keys is None else keys
        sigs = [rrsig(self.name(owner), rds, k, **kw) for k in use]
        self.set_sigs(owner, rdtype, sigs, rds.ttl)

    def text(self) -> str:
        return self.zone.to_text(relativize=False)

    def verify(self, **kw: Any) -> VerifyReport:
        """The full verifier's report; the lean path runs too and must not contradict it."""
        text = self.text()
        kw.setdefault("now", NOW)
        report = verify_contents(read_zone_text(text, self.origin), **kw)
        self.lean_vouched = lean_agrees(text, self.origin, report, **kw)
        return report


def nsec_zone(
    unsigned: str = UNSIGNED, *, algorithms: tuple[int, ...] = (13,), dnspython_ttl: bool = True
) -> Zone:
    """``unsigned`` signed with NSEC by dnspython, one KSK and one ZSK per algorithm."""
    zone = dns.zone.from_text(unsigned, ORIGIN, relativize=False)
    pairs = [keys(a) for a in algorithms]
    ksks = [p[0] for p in pairs]
    zsks = [p[1] for p in pairs]
    dns.dnssec.sign_zone(
        zone,
        keys=[(k.private, k.dnskey) for k in ksks + zsks],
        inception=INCEPTION,
        expiration=EXPIRATION,
        policy=dns.dnssec.allow_all_policy,
    )
    return Zone(zone, zsks, ksks)


def sign_nsec3(
    unsigned: str = UNSIGNED,
    *,
    iterations: int = 0,
    salt: bytes = b"",
    opt_out: bool = False,
    origin: dns.name.Name = ORIGIN,
) -> Zone:
    """A test-only NSEC3 signer (RFC 5155 §7.1): enough for the verifier's tests, no more."""
    zone = dns.zone.from_text(unsigned, origin, relativize=False)
    ksk, zsk = keys(13)
    zone.replace_rdataset(
        origin,
        dns.rdataset.from_rdata(3600, ksk.dnskey, zsk.dnskey),
    )
    param = NSEC3PARAM(dns.rdataclass.IN, dns.rdatatype.NSEC3PARAM, 1, 0, iterations, salt)
    zone.replace_rdataset(origin, dns.rdataset.from_rdata(0, param))
    soa = zone.get_soa()
    soa_rds = zone.get_rdataset(origin, "SOA")
    assert soa_rds is not None
    denial_ttl = min(soa_rds.ttl, soa.minimum)

    names = sorted(zone.nodes)
    delegations: set[dns.name.Name] = set()
    authoritative: list[dns.name.Name] = []
    cut: dns.name.Name | None = None
    for name in names:
        if cut is not None and name.is_subdomain(cut):
            continue
        cut = None
        types = {rds.rdtype for rds in zone.nodes[name].rdatasets}
        if name != origin and NS_T in types:
            delegations.add(name)
            cut = name
        elif DNAME_T in types:
            cut = name
        authoritative.append(name)
    insecure = {d for d in delegations if zone.get_rdataset(d, DS_T) is None}
    ents: dict[dns.name.Name, bool] = {}  # ENT -> only insecure delegations below it
    for name in authoritative:
        if name == origin:
            continue
        parent = name.parent()
        while parent != origin and parent not in zone.nodes:
            ents[parent] = ents.get(parent, True) and name in insecure
            parent = parent.parent()

    for name in authoritative:
        for rds in list(zone.nodes[name].rdatasets):
            if name in delegations and rds.rdtype != DS_T:
                continue
            key = ksk if rds.rdtype == dns.rdatatype.DNSKEY else zsk
            zone.replace_rdataset(name, dns.rdataset.from_rdata(rds.ttl, rrsig(name, rds, key)))

    def bitmap(name: dns.name.Name) -> set[int]:
        if name in ents:
            return set()
        types = {rds.rdtype for rds in zone.nodes[name].rdatasets}
        if name in delegations:
            return types & {NS_T, DS_T, RRSIG_T}
        return types

    hashed: dict[bytes, dns.name.Name] = {}
    for name in [*authoritative, *ents]:
        if opt_out and (name in insecure or ents.get(name, False)):
            continue
        digest = nsec3_digest(name, iterations, salt)
        hashed[digest] = name
    order = sorted(hashed)
    flags = 1 if opt_out else 0
    for i, digest in enumerate(order):
        owner = dns.name.Name([nsec3_label(digest), *origin.labels])
        rd = NSEC3(
            dns.rdataclass.IN,
            NSEC3_T,
            1,
            flags,
            iterations,
            salt,
            order[(i + 1) % len(order)],
            Bitmap.from_rdtypes(sorted(bitmap(hashed[digest]))).windows,
        )
        rds = dns.rdataset.from_rdata(denial_ttl, rd)
        zone.replace_rdataset(owner, rds)
        zone.replace_rdataset(owner, dns.rdataset.from_rdata(denial_ttl, rrsig(owner, rds, zsk)))
    return Zone(zone, [zsk], [ksk])


def nsec3_digest(name: dns.name.Name, iterations: int = 0, salt: bytes = b"") -> bytes:
    import base64

    return base64.b32hexdecode(dns.dnssec.nsec3_hash(name, salt, iterations, 1))


def nsec3_label(digest: bytes) -> bytes:
    import base64

    return base64.b32hexencode(digest).lower()


def nsec3_owner(zone: Zone, name: str, iterations: int = 0, salt: bytes = b"") -> str:
    digest = nsec3_digest(zone.name(name), iterations, salt)
    return f"{nsec3_label(digest).decode()}.{zone.origin}"


def same_contents(a: ZoneContents, b: ZoneContents) -> None:
    """Assert two readings of a zone hold the same RRsets, TTLs and RRSIGs."""
    assert set(a.nodes) == set(b.nodes)
    for name, node in a.nodes.items():
        other = b.nodes[name]
        assert set(node) == set(other), name
        for rdtype, rds in node.items():
            assert rds == other[rdtype], (name, rdtype)
            assert rds.ttl == other[rdtype].ttl, (name, rdtype)
    assert set(a.sigs) == set(b.sigs)
    for name, by_type in a.sigs.items():
        assert set(by_type) == set(b.sigs[name])
        for covered, sigs in by_type.items():
            mine = sorted(r.to_text() for r in sigs.rrsigs)
            assert mine == sorted(r.to_text() for r in b.sigs[name][covered].rrsigs)
            assert sigs.ttl == b.sigs[name][covered].ttl


def lean_agrees(
    text: str,
    origin: dns.name.Name,
    report: VerifyReport,
    *,
    now: int,
    anchors: list[TrustAnchor] | None = None,
    warn_horizon: int = DEFAULT_WARN_HORIZON,
) -> bool:
    """Run the lean path on ``text``; True if it vouched for the zone.

    It may only vouch for a zone in which the full verifier finds nothing, and then with the
    same counts; when it doubts, the full verifier's report is what the user sees.
    """
    try:
        verdict = lean_verdict(
            read_lean(text, origin.to_text()),
            now=now,
            warn_horizon=warn_horizon,
            anchors=anchors,
            workers=1,
        )
    except Doubt:
        return False
    assert report.problems == [], f"the lean path vouched for a faulty zone: {report.problems}"
    assert verdict.counts == report.counts
    assert verdict.denial == report.denial
    return True


def messages(report: VerifyReport, severity: str = "error") -> list[str]:
    return [str(p) for p in report.problems if p.severity == severity]


def has_problem(
    report: VerifyReport, owner: str, rdtype: str, fragment: str, severity: str = "error"
) -> bool:
    owner = dns.name.from_text(owner, ORIGIN).to_text()
    return any(
        p.severity == severity
        and p.owner.lower() == owner.lower()
        and p.rdtype == rdtype
        and fragment in p.message
        for p in report.problems
    )


# --- the oracles themselves are checked against ldns --------------------------------------

LDNS_VERIFY = shutil.which("ldns-verify-zone")


def ldns_verify(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    assert LDNS_VERIFY is not None
    path = tmp_path / "zone.signed"
    path.write_text(text)
    # -t: check validity at our fixed NOW, not at the machine's time
    return subprocess.run(
        [LDNS_VERIFY, "-t", "20260101000000", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.interop
@pytest.mark.requires(missing_programs("ldns-verify-zone"))
@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: nsec_zone(), id="nsec-dnspython"),
        pytest.param(lambda: sign_nsec3(), id="nsec3"),
        pytest.param(lambda: sign_nsec3(iterations=5, salt=b"\xab\xcd"), id="nsec3-salted"),
        pytest.param(lambda: sign_nsec3(opt_out=True), id="nsec3-opt-out"),
        pytest.param(lambda: sign_nsec3(APEX_DNAME), id="nsec3-apex-dname"),
    ],
)
def test_oracle_zones_pass_ldns(make: Callable[[], Zone], tmp_path: Path) -> None:
    zone = make()
    result = ldns_verify(zone.text(), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Zone is verified and complete" in result.stdout


@pytest.mark.interop
@pytest.mark.requires(missing_programs("ldns-verify-zone"))
def test_ldns_rejects_a_broken_oracle_zone(tmp_path: Path) -> None:
    # Proves the check above can fail: a dropped NSEC3 breaks the chain for ldns too.
    zone = sign_nsec3()
    zone.zone.delete_node(dns.name.from_text(nsec3_owner(zone, "www")))
    result = ldns_verify(zone.text(), tmp_path)
    assert result.returncode != 0
