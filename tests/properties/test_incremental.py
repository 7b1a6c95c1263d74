"""Incremental signing equals full signing, record for record, and what it makes validates.

For a random small zone A and a random edit of it B (names added and removed, RRsets added,
removed and changed, TTL changes, delegations with glue and occluded data below them, DS
coming and going, DNAME, wildcards, empty non-terminals, a DNAME at the apex), in NSEC, NSEC3
and NSEC3 opt-out modes, with the same Ed25519 keys and the same ``now``:

    incremental(sign_full(A), diff(A, B)) == sign_full(B)

Ed25519 signatures are deterministic (RFC 8032), so every RRSIG compares byte for byte: a
signature the step kept and one it made must both be what full signing makes. The signed diff
must be exactly the difference of the two signed versions, the re-sign schedules must agree,
the result must pass signwire's independent verifier (dnspython's ``dns.dnssec``), and a second
step, back from B to A, must give sign_full(A) again.

Names are drawn from a fixed pool with one spelling each: a version keeps the case a name was
first written in, so a name respelled by an edit is the same name to ``diff`` but its NSEC
next-name field would differ in case between the two signed versions.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import dns.name
import dns.rdata
import dns.rdataclass
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from signwire.keystore import crypto
from signwire.keystore.model import ZoneKey
from signwire.policy import algorithms
from signwire.policy.model import KeyRole
from signwire.signing.incremental import incremental
from signwire.signing.keyset import SigningKeys
from signwire.signing.options import Nsec3Params, SigningOptions
from signwire.signing.versioned import Signed, sign_full
from signwire.verify.zone_reader import ZoneContents
from signwire.verify.zone_verifier import verify_contents
from signwire.zones import names
from signwire.zones.diff import diff
from signwire.zones.version import RR, ZoneVersion

NOW = 1_767_225_600
ORIGIN = names.from_text("example.test.", None)
A, NS, CNAME, SOA, MX, TXT, DNAME, DS = 1, 2, 5, 6, 15, 16, 39, 43

MODES = {
    "nsec": SigningOptions(),
    "nsec3": SigningOptions(nsec3=Nsec3Params()),
    "nsec3-optout": SigningOptions(nsec3=Nsec3Params(opt_out=True)),
    "nsec3-salted": SigningOptions(nsec3=Nsec3Params(iterations=2, salt=b"\xab\x12")),
}


def wire(text: str) -> bytes:
    return names.from_text(text, ORIGIN)


def make_key(role: KeyRole, origin: bytes = ORIGIN) -> ZoneKey:
    private = crypto.generate(algorithms.ED25519)
    public = crypto.public_key_field(algorithms.ED25519, private)
    flags = 256 if role is KeyRole.ZSK else 257
    rdata = flags.to_bytes(2, "big") + bytes((3, algorithms.ED25519)) + public
    return ZoneKey(
        origin,
        algorithms.ED25519,
        flags,
        public,
        algorithms.key_tag(rdata),
        role,
        crypto.signer_spec(algorithms.ED25519, private),
        "test",
    )


KSK = make_key(KeyRole.KSK)
ZSK = make_key(KeyRole.ZSK)
KEYS = SigningKeys.by_role([KSK, ZSK])


def soa(serial: int, ttl: int = 3600, minimum: int = 300) -> RR:
    rdata = (
        wire("ns1")
        + wire("hostmaster")
        + struct.pack("!IIIII", serial, 7200, 900, 1209600, minimum)
    )
    return (ORIGIN, SOA, ttl, rdata)


def problems(version: ZoneVersion, now: int = NOW) -> list[str]:
    """What signwire's independent verifier finds wrong with a signed version."""
    origin = dns.name.from_wire(version.origin, 0)[0]
    contents = ZoneContents(origin)
    for owner, rdtype, ttl, rdata in version.records():
        name = dns.name.from_wire(owner, 0)[0]
        rd = dns.rdata.from_wire(dns.rdataclass.IN, rdtype, rdata, 0, len(rdata))
        contents.add(name, ttl, rd)
    report = verify_contents(contents, now=now)
    return [f"{p}" for p in report.errors]


def records_differ(a: ZoneVersion, b: ZoneVersion) -> str:
    """A short account of how two versions differ, for a failing assertion."""
    ra = {(names.lower(o), t, ttl, rd) for o, t, ttl, rd in a.records()}
    rb = {(names.lower(o), t, ttl, rd) for o, t, ttl, rd in b.records()}
    only_a = sorted((names.to_text(o), t) for o, t, _, _ in ra - rb)
    only_b = sorted((names.to_text(o), t) for o, t, _, _ in rb - ra)
    return f"only in the first: {only_a}; only in the second: {only_b}"


def assert_same(incremental_signed: Signed, full_signed: Signed) -> None:
    got, want = incremental_signed.version, full_signed.version
    assert got == want, records_differ(got, want)
    assert got.nsec3_labels() == want.nsec3_labels()
    assert incremental_signed.schedule == full_signed.schedule


# --- random zones -------------------------------------------------------------------------

# Relative names, one spelling each. "sub" and "s2" can be delegations with glue ("ns.sub",
# "ns.s2") and occluded data below them; "dn" can be a DNAME over "q.dn"; "x.y", "m.n.o" and
# "deep.a.sub" hang below empty non-terminals; "Mixed" keeps its capitals.
POOL = (
    "a", "b", "c.b", "www", "Mixed", "x.y", "deep.x.y", "m.n.o", "*", "*.w", "*.x.y",
    "sub", "ns.sub", "a.sub", "deep.a.sub", "dn", "q.dn", "s2", "ns.s2", "x.s2", "zz",
)  # fmt: skip
CONTENTS = ("A", "A2", "A600", "TXT", "MX", "CNAME", "NS", "NS+DS", "DNAME", "A+TXT")
WILDCARD_CONTENTS = ("A", "TXT", "MX", "A+TXT")
# Names drawn mostly as what makes the structure interesting: cuts with glue and occluded
# names below them, so that edits land next to occluded names often.
BIASED = {
    "sub": ("NS", "NS+DS", "NS", "A", "TXT"),
    "s2": ("NS", "NS+DS", "DNAME", "A"),
    "dn": ("DNAME", "DNAME", "A", "NS"),
    "ns.sub": ("A", "A2"),
    "ns.s2": ("A", "A600"),
    "a.sub": ("A", "TXT", "NS", "CNAME"),
}
APEX_EXTRAS = (None, None, None, "TXT", "DNAME")


def name_records(name: str, content: str) -> list[RR]:
    owner = wire(name)
    out: list[RR] = []
    for part in content.split("+"):
        if part == "A":
            out.append((owner, A, 300, bytes((192, 0, 2, 1))))
        elif part == "A2":
            out += [(owner, A, 300, bytes((192, 0, 2, 1))), (owner, A, 300, bytes((192, 0, 2, 2)))]
        elif part == "A600":
            out.append((owner, A, 600, bytes((192, 0, 2, 1))))
        elif part == "TXT":
            out.append((owner, TXT, 300, b"\x04text"))
        elif part == "MX":
            out.append((owner, MX, 300, b"\x00\x0a" + wire("www")))
        elif part == "CNAME":
            out.append((owner, CNAME, 300, wire("www.example.net.")))
        elif part == "NS":
            glue = "ns." + name
            out.append((owner, NS, 3600, wire(glue if glue in POOL else "ns.example.net.")))
        elif part == "DS":
            out.append((owner, DS, 3600, struct.pack("!HBB", 4242, 13, 2) + bytes(range(32))))
        elif part == "DNAME":
            out.append((owner, DNAME, 3600, wire("example.net.")))
    return out


Zone = dict[str, str | None]  # pool name -> content; "@" -> the apex's extra RRset


def zone_version(zone: Zone, serial: int) -> ZoneVersion:
    recs: list[RR] = [
        soa(serial),
        (ORIGIN, NS, 3600, wire("ns1")),
        (wire("ns1"), A, 3600, bytes((192, 0, 2, 53))),
    ]
    apex = zone.get("@")
    if apex == "TXT":
        recs.append((ORIGIN, TXT, 3600, b"\x04apex"))
    elif apex == "DNAME":
        recs.append((ORIGIN, DNAME, 3600, wire("example.net.")))
    for name, content in zone.items():
        if name != "@" and content is not None:
            recs += name_records(name, content)
    return ZoneVersion.from_records(ORIGIN, recs)


def _content(name: str, absent: int) -> st.SearchStrategy[str | None]:
    """A content for ``name``, or None (the name absent) about one time in ``absent``."""
    choices = WILDCARD_CONTENTS if name.startswith("*") else BIASED.get(name, CONTENTS)
    return st.integers(1, absent).flatmap(
        lambda n: st.none() if n == 1 else st.sampled_from(choices)
    )


@st.composite
def zone_pairs(draw: st.DrawFn) -> tuple[Zone, Zone]:
    chosen = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=16, unique=True))
    zone: Zone = {name: draw(_content(name, 6)) for name in chosen}
    zone["@"] = draw(st.sampled_from(APEX_EXTRAS))
    edited = dict(zone)
    for name in draw(st.lists(st.sampled_from((*POOL, "@")), min_size=1, max_size=4, unique=True)):
        if name == "@":
            edited["@"] = draw(st.sampled_from(APEX_EXTRAS))
        else:
            edited[name] = draw(_content(name, 2 if zone.get(name) else 6))
    return zone, edited


def rr_sorted(rrs: Iterable[RR]) -> list[RR]:
    return sorted((names.lower(o), t, ttl, rd) for o, t, ttl, rd in rrs)


@pytest.mark.parametrize("mode", list(MODES))
@settings(max_examples=50)
@given(pair=zone_pairs())
def test_incremental_equals_full(mode: str, pair: tuple[Zone, Zone]) -> None:
    options = MODES[mode]
    before, after = zone_version(pair[0], 1), zone_version(pair[1], 2)
    note(f"A: {pair[0]}")
    note(f"B: {pair[1]}")
    signed_before = sign_full(before, KEYS, options, NOW)
    signed_after = sign_full(after, KEYS, options, NOW)

    stepped, signed_diff = incremental(signed_before, diff(before, after), KEYS, options, NOW)

    assert_same(stepped, signed_after)
    expected = diff(signed_before.version, signed_after.version)
    assert rr_sorted(signed_diff.deleted) == rr_sorted(expected.deleted)
    assert rr_sorted(signed_diff.added) == rr_sorted(expected.added)
    assert signed_diff.new_soa == expected.new_soa
    # Signatures kept are those of unchanged RRsets; the step made no more than full signing.
    assert stepped.signatures_made <= signed_after.signatures_made
    assert problems(stepped.version) == []
    # And back: a second step from the stepped version (not a fresh one) undoes the edit.
    returned, _ = incremental(stepped, diff(after, before), KEYS, options, NOW)
    assert_same(returned, signed_before)
