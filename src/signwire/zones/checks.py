"""Input checks: what makes an unsigned zone unfit to sign, said with file and line.

These run on every name while the snapshot is built, so they are written for the common case
(a name with one or two types and nothing wrong) to cost a set lookup or two. Problems are
collected, not raised one at a time: an operator fixing a broken zone file wants every error of
the file in one run, like a compiler's, up to a limit.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet

from signwire.errors import ZoneDataError
from signwire.zones import rrtypes
from signwire.zones.kinds import NameKind
from signwire.zones.names import to_text
from signwire.zones.rdata import canonical
from signwire.zones.records import Record
from signwire.zones.rrtypes import (
    CNAME,
    DNAME,
    DNSKEY,
    DS,
    GLUE_TYPES,
    KEY_SIGNED_TYPES,
    NS,
    SIGNER_TYPES,
    SOA,
)

_DELEGATION_TYPES = frozenset({NS, DS}) | GLUE_TYPES
_NOTABLE = frozenset({CNAME, DNAME, SOA, DNSKEY})
_NOTICED = SIGNER_TYPES | _NOTABLE
_STRIPPED_AT_APEX = SIGNER_TYPES | KEY_SIGNED_TYPES


def quick_check(order: tuple[int, ...]) -> tuple[frozenset[NameKind], tuple[int, ...]]:
    """For a name whose records have these types in this order: the kinds of name for which
    :func:`check_name` would find nothing and change nothing as long as each listed pair ``i``
    (records ``i`` and ``i + 1``) shares a TTL and differs in data.

    The snapshot works this out once per shape of types (a TLD has a handful: NS NS,
    NS NS DS, A AAAA…) and so skips check_name for nearly every name.
    """
    types = frozenset(order)
    kinds: set[NameKind] = set()
    # Unsorted records, longer runs of one type (a duplicate could sit anywhere in them),
    # signer-made and notable types all need the full check.
    if list(order) == sorted(order) and max(map(order.count, types)) <= 2 and not types & _NOTICED:
        if types <= GLUE_TYPES:
            kinds.add(NameKind.OCCLUDED)
        if types <= _DELEGATION_TYPES:
            kinds.add(NameKind.DELEGATION)
        if DS not in types:
            kinds.add(NameKind.AUTH)
    pairs = tuple(i for i in range(len(order) - 1) if order[i] == order[i + 1])
    return frozenset(kinds), pairs


class Problems:
    """Collects (line, message) pairs for one file and raises them together."""

    def __init__(self, path: str, limit: int) -> None:
        self.path = path
        self.limit = limit
        self.items: list[tuple[int, str]] = []

    def add(self, line: int, message: str) -> None:
        if len(self.items) >= self.limit:
            self.raise_if_any()
        self.items.append((line, message))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        items = sorted(self.items, key=lambda item: item[0])
        line, first = items[0]
        more = [
            f"{self.path}:{ln}: {msg}" if ln else f"{self.path}: {msg}" for ln, msg in items[1:]
        ]
        if len(self.items) >= self.limit:
            more.append(f"{self.path}: stopped after {self.limit} errors")
        message = "\n".join([first, *more])
        raise ZoneDataError(message, path=self.path, line=line or None)


def check_name(
    recs: list[Record],
    types: AbstractSet[int],
    kind: NameKind,
    problems: Problems,
    warnings: list[str],
    *,
    strip_dnssec: bool,
) -> list[Record]:
    """Check one name's records (sorted by type); returns them with duplicates removed."""
    owner = recs[0][0]
    if strip_dnssec:
        # The old DNSKEY RRset (and the CDS/CDNSKEY made from it) goes with the old
        # signatures: kept, a key of an algorithm the new keys lack would leave the zone
        # unverifiable (RFC 4035 §2.2). The signer publishes its own keys.
        dropped = _STRIPPED_AT_APEX if kind is NameKind.APEX else SIGNER_TYPES
        if types & dropped:
            recs = [r for r in recs if r[1] not in dropped]
            types = types - dropped
            if not recs:  # an NSEC3 owner: nothing of the name is left
                return recs
    elif types & SIGNER_TYPES:
        bad = next(r for r in recs if r[1] in SIGNER_TYPES)
        problems.add(
            bad[4],
            f"{rrtypes.name(bad[1])} record at {to_text(owner)}: the input is already signed;"
            " use --strip-dnssec to drop old DNSSEC records (RRSIG, NSEC, NSEC3, NSEC3PARAM,"
            " DNSKEY, CDS, CDNSKEY) and re-sign",
        )

    # RFC 2181 §5: records repeated exactly are one record (an AXFR dump repeats the SOA at
    # its end; zone files concatenated by hand repeat whole RRsets), so the checks below count
    # records after dropping repeats. A name with one record per type has none to drop.
    unique = recs if len(recs) == len(types) else _dedup(recs)
    if kind is NameKind.OCCLUDED:
        if not types <= GLUE_TYPES:
            warnings.append(
                f"{to_text(owner)}: data below a zone cut or DNAME is occluded; it is kept"
                " unsigned and left out of the NSEC/NSEC3 chain"
            )
    else:
        # One set per name finds a TTL mismatch: each RRset must contribute one (type, TTL).
        # All records, repeats included: a repeat with another TTL is the same mismatch as
        # two records with different data (RFC 2181 §5.2), refused alike.
        if len(recs) > 1 and len({(r[1], r[2]) for r in recs}) != len(types):
            _check_ttls(recs, problems)
        if (
            kind is NameKind.APEX
            or types & _NOTABLE
            or (DS in types and kind is not NameKind.DELEGATION)
            or (kind is NameKind.DELEGATION and not types <= _DELEGATION_TYPES)
        ):
            _check_types(unique, types, kind, owner, problems, warnings)
    return unique


def _check_ttls(recs: list[Record], problems: Problems) -> None:
    first_of_type: dict[int, Record] = {}
    for r in recs:
        first = first_of_type.setdefault(r[1], r)
        if first is not r and first[2] != r[2]:
            problems.add(
                r[4],
                f"TTL {r[2]} differs from TTL {first[2]} (line {first[4]}) in the"
                f" {rrtypes.name(r[1])} RRset of {to_text(r[0])}",
            )


def _check_types(
    recs: list[Record],
    types: AbstractSet[int],
    kind: NameKind,
    owner: bytes,
    problems: Problems,
    warnings: list[str],
) -> None:
    where = to_text(owner)
    if CNAME in types:
        cnames = [r for r in recs if r[1] == CNAME]
        if len(cnames) > 1:
            problems.add(cnames[1][4], f"more than one CNAME at {where}")
        others = sorted(types - {CNAME})
        if others:
            problems.add(
                cnames[0][4],
                f"CNAME beside other data at {where} ({', '.join(map(rrtypes.name, others))})",
            )
    if DNAME in types and sum(1 for r in recs if r[1] == DNAME) > 1:
        problems.add(next(r for r in recs if r[1] == DNAME)[4], f"more than one DNAME at {where}")
    if kind is NameKind.APEX:
        soas = [r for r in recs if r[1] == SOA]
        if len(soas) > 1:
            problems.add(soas[1][4], f"second SOA record at {where} (first at line {soas[0][4]})")
        if NS not in types:
            line = soas[0][4] if soas else recs[0][4]
            problems.add(line, f"no NS records at the zone apex {where}")
        if DS in types:
            ds = next(r for r in recs if r[1] == DS)
            problems.add(ds[4], f"DS record at the zone apex {where}: it belongs in the parent")
    else:
        if SOA in types:
            soa = next(r for r in recs if r[1] == SOA)
            problems.add(soa[4], f"SOA record at {where}, which is not the zone apex")
        if DNSKEY in types:
            key = next(r for r in recs if r[1] == DNSKEY)
            problems.add(key[4], f"DNSKEY record at {where}, which is not the zone apex")
        if DS in types and kind is not NameKind.DELEGATION:
            ds = next(r for r in recs if r[1] == DS)
            problems.add(ds[4], f"DS record at {where}, which is not a delegation (no NS)")
        if kind is NameKind.DELEGATION and not types <= _DELEGATION_TYPES:
            other = sorted(types - _DELEGATION_TYPES)
            warnings.append(
                f"{where}: {', '.join(map(rrtypes.name, other))} at a delegation point is"
                " occluded by the zone cut; kept unsigned"
            )


def _dedup(recs: list[Record]) -> list[Record]:
    """Drop repeated records (same type, same canonical data), keeping the first written.

    RFC 2181 §5 calls them one record. Data is compared in canonical form (RFC 4034 §6.2),
    as BIND and dnspython compare it: ``CNAME X.example.`` repeats ``CNAME x.example.``, and
    the signature could not tell them apart anyway.
    """
    # Records equal in canonical form are equal once lowercased whole, so when no two are
    # equal that way (the usual case) there is nothing to drop and no canonical form to make.
    if len({(r[1], r[3].lower()) for r in recs}) == len(recs):
        return recs
    seen: set[tuple[int, bytes]] = set()
    out = []
    for r in recs:
        k = (r[1], canonical(r[1], r[3]))
        if k not in seen:
            seen.add(k)
            out.append(r)
    return out if len(out) < len(recs) else recs
