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

from dataclasses import dataclass, field
from operator import itemgetter

from signwire.errors import ZoneDataError
from signwire.zones import checks
from signwire.zones.kinds import NameKind
from signwire.zones.names import canonical_key, to_text
from signwire.zones.records import ParsedZone, Record
from signwire.zones.rrtypes import DNAME, NS, SOA

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

    @property
    def apex(self) -> Name:
        return self.names[0]

    @property
    def serial(self) -> int:
        return int.from_bytes(self.soa[3][-20:-16], "big")


_by_type = itemgetter(1)


def build(parsed: ParsedZone, *, strip_dnssec: bool = False, max_errors: int = 20) -> ZoneSnapshot:
    """Group, sort, classify and check. Raises :class:`ZoneDataError` listing what is wrong."""
    origin = parsed.origin
    okey = canonical_key(origin)
    problems = checks.Problems(parsed.path, max_errors)
    groups: dict[bytes, list[Record]] = {}
    last_owner: bytes | None = None
    current: list[Record] = []
    olen = len(okey)
    for rec in parsed.records:
        owner = rec[0]
        # Records of one owner share one bytes object (the reader's contract), so identity
        # is the cheap test; equal owners written in different places still meet in the dict.
        if owner is not last_owner:
            key = canonical_key(owner)
            # is_subdomain(key, okey), inline: this runs for every owner of the zone
            if not (key.startswith(okey) and (len(key) == olen or key[olen] == 0 or not olen)):
                problems.add(rec[4], f"{to_text(owner)} is outside the zone {to_text(origin)}")
                last_owner = None
                continue
            got = groups.get(key)
            if got is None:
                got = groups[key] = []
            current = got
            last_owner = owner
        current.append(rec)

    if okey not in groups:
        problems.add(0, f"no SOA record at the zone apex {to_text(origin)}")
        problems.raise_if_any()

    names: list[Name] = []
    cut: bytes | None = None  # key of the innermost zone cut or DNAME we are below
    soa: Record | None = None
    warnings: list[str] = []
    authoritative = 0
    occluded, apex, delegation, auth = (
        NameKind.OCCLUDED,
        NameKind.APEX,
        NameKind.DELEGATION,
        NameKind.AUTH,
    )
    check_name = checks.check_name
    for key in sorted(groups):
        recs = groups[key]
        if len(recs) > 1:
            recs.sort(key=_by_type)
        types = {r[1] for r in recs}
        # is_subdomain(key, cut), inline; canonical order puts a cut's subtree right after it
        if cut is not None and key.startswith(cut) and key != cut and key[len(cut)] == 0:
            kind = occluded
        else:
            cut = None
            authoritative += 1
            if key == okey:
                kind = apex
            elif NS in types:
                kind = delegation
                cut = key
            else:
                kind = auth
            if DNAME in types and kind is not delegation:
                cut = key
        recs = check_name(recs, types, kind, problems, warnings, strip_dnssec=strip_dnssec)
        if kind is apex:
            soa = next((r for r in recs if r[1] == SOA), None)
        names.append((key, kind, recs))

    if soa is None:
        problems.add(0, f"no SOA record at the zone apex {to_text(origin)}")
    problems.raise_if_any()
    assert soa is not None
    return ZoneSnapshot(origin, parsed.path, names, soa, warnings, authoritative)


__all__ = ["Name", "NameKind", "ZoneDataError", "ZoneSnapshot", "build"]
