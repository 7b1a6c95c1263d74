"""The unsigned zone as the signer sees it: names in canonical order, each classified.

One pass over the reader's records groups them by owner, sorts the owners canonically (RFC 4034
§6.1) and classifies each name, running the input checks of :mod:`signwire.zones.checks` on
the way. Because canonical order lists a name's descendants right after it, zone cuts (and
DNAME) are found with a single "current cut" variable: everything that follows a cut and lies
below it is occluded.

A :class:`ZoneSnapshot` is plain data; the signer turns it into a signed zone without reading it
again, and nothing here knows about keys or time.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from operator import itemgetter

from signwire.errors import ZoneDataError
from signwire.zones import checks, rrset_size
from signwire.zones.kinds import NameKind
from signwire.zones.names import canonical_key, to_text
from signwire.zones.records import ParsedZone, Record
from signwire.zones.rrtypes import DNAME, DNSKEY, NS, SOA

# (canonical key, kind, records of that name sorted by type)
Name = tuple[bytes, NameKind, list[Record]]


@dataclass(slots=True)
class ZoneSnapshot:
    origin: bytes
    path: str
    names: list[Name]
    soa: Record
    warnings: list[str] = field(default_factory=list)
    authoritative: int = 0  # names that are not occluded: those that get NSEC or NSEC3
    # The TTL of the DNSKEY RRset --strip-dnssec dropped: the re-signed zone keeps it.
    stripped_dnskey_ttl: int | None = None

    @property
    def apex(self) -> Name:
        return self.names[0]

    @property
    def serial(self) -> int:
        return int.from_bytes(self.soa[3][-20:-16], "big")


_by_type = itemgetter(1)
_by_line = itemgetter(4)


@dataclass(frozen=True, slots=True)
class _Shape:
    """What the types of a name, in the order read, tell before looking at the records.

    A zone has few shapes (a TLD: NS NS, NS NS DS, A, AAAA, A AAAA), so they are worked out
    once each and looked up by the tuple of types; most names then need no sort and no check
    beyond comparing a pair of records (:func:`checks.quick_check`).
    """

    types: frozenset[int]
    ordered: bool  # grouped by type as read: no sort needed
    delegation: bool  # NS: a zone cut unless at the apex or occluded
    dname: bool
    fast: frozenset[NameKind]  # kinds of name needing only the pair comparisons
    pairs: tuple[int, ...]  # i: records i and i+1 must share a TTL and differ in data

    @classmethod
    def of(cls, order: tuple[int, ...]) -> _Shape:
        fast, pairs = checks.quick_check(order)
        return cls(
            types=frozenset(order),
            ordered=list(order) == sorted(order),
            delegation=NS in order,
            dname=DNAME in order,
            fast=fast,
            pairs=pairs,
        )


def build(parsed: ParsedZone, *, strip_dnssec: bool = False, max_errors: int = 20) -> ZoneSnapshot:
    """Group, sort, classify and check. Raises :class:`ZoneDataError` listing what is wrong."""
    origin = parsed.origin
    okey = canonical_key(origin)
    problems = checks.Problems(parsed.path, max_errors)
    groups: dict[bytes, list[Record]] = {}
    last_owner: bytes | None = None
    current: list[Record] = []
    for rec in parsed.records:
        owner = rec[0]
        # Records of one owner share one bytes object (the reader's contract), so identity
        # is the cheap test; equal owners written in different places still meet in the dict.
        # Lists grown by append keep room for the NSEC record the plan adds; a list built
        # at its exact size would be reallocated then, leaving a hole among shared pages.
        if owner is not last_owner:
            key = canonical_key(owner)
            got = groups.get(key)
            if got is None:
                got = groups[key] = []
            current = got
            last_owner = owner
        current.append(rec)
    keys = sorted(groups)
    # Canonical order keeps the zone's names together: the origin's key and every key that
    # continues it with a separator. What sorts before or after that run is out of the zone.
    lo = bisect_left(keys, okey)
    hi = bisect_left(keys, okey + b"\x01") if okey else len(keys)
    # in file order, so that a run stopped at the error limit shows the first ones
    outside = [r for k in (*keys[:lo], *keys[hi:]) for r in groups[k]]
    for rec in sorted(outside, key=_by_line):
        problems.add(rec[4], f"{to_text(rec[0])} is outside the zone {to_text(origin)}")
    if lo == hi or keys[lo] != okey:
        problems.add(0, f"no SOA record at the zone apex {to_text(origin)}")
        problems.raise_if_any()
    if lo or hi != len(keys):
        keys = keys[lo:hi]

    names: list[Name] = []
    cut: bytes | None = None  # key of the innermost zone cut or DNAME we are below
    soa: Record | None = None
    warnings: list[str] = list(parsed.warnings)  # the reader's come first, in file order
    authoritative = 0
    stripped_dnskey_ttl = None
    occluded, apex, delegation, auth = (
        NameKind.OCCLUDED,
        NameKind.APEX,
        NameKind.DELEGATION,
        NameKind.AUTH,
    )
    check_name = checks.check_name
    shapes: dict[tuple[int, ...], _Shape] = {}
    append = names.append
    for key in keys:
        recs = groups[key]
        order = tuple(map(_by_type, recs))
        shape = shapes.get(order)
        if shape is None:
            shape = shapes[order] = _Shape.of(order)
        if not shape.ordered:
            recs.sort(key=_by_type)
        # is_subdomain(key, cut), inline; canonical order puts a cut's subtree right after it.
        # An empty cut is a DNAME at the root zone's apex: every other name is below it.
        if (
            cut is not None
            and key.startswith(cut)
            and key != cut
            and (key[len(cut)] == 0 or not cut)
        ):
            kind = occluded
        else:
            cut = None
            authoritative += 1
            if key == okey:
                kind = apex
            elif shape.delegation:
                kind = delegation
                cut = key
            else:
                kind = auth
            if shape.dname and kind is not delegation:
                cut = key
        if kind in shape.fast:
            for i in shape.pairs:
                a, b = recs[i], recs[i + 1]
                if a[2] != b[2] or a[3] == b[3]:
                    break
            else:
                append((key, kind, recs))
                continue
        if kind is apex and strip_dnssec and DNSKEY in shape.types:
            stripped_dnskey_ttl = next(r[2] for r in recs if r[1] == DNSKEY)
        recs = check_name(recs, shape.types, kind, problems, warnings, strip_dnssec=strip_dnssec)
        if not recs:  # only old DNSSEC records, stripped: the name is gone from the zone
            if kind is not occluded:
                authoritative -= 1
            continue
        if len(recs) > 4:  # an RRset too big for a message has 5 records or a large one
            warnings += rrset_size.warnings_for_name(recs, parsed.path)
        if kind is apex:
            soa = next((r for r in recs if r[1] == SOA), None)
        append((key, kind, recs))

    if soa is None:
        problems.add(0, f"no SOA record at the zone apex {to_text(origin)}")
    problems.raise_if_any()
    assert soa is not None
    return ZoneSnapshot(
        origin, parsed.path, names, soa, warnings, authoritative, stripped_dnskey_ttl
    )


__all__ = ["Name", "NameKind", "ZoneDataError", "ZoneSnapshot", "build"]
