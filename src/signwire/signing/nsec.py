"""The NSEC chain (RFC 4034 §4, RFC 4035 §2.3).

Every name that is authoritative (apex, ordinary names, delegation points) gets one NSEC that
points to the next such name in canonical order; the last one points back to the apex. Glue and
other occluded names are not part of the chain. At a delegation the bitmap lists only what the
parent side owns: NS, DS when present, and the NSEC and its RRSIG.
"""

from __future__ import annotations

from signwire.signing.bitmap import type_bitmap
from signwire.zones.kinds import NameKind
from signwire.zones.records import Record
from signwire.zones.rrtypes import DS, NS, NSEC, RRSIG

_ALWAYS = frozenset({NSEC, RRSIG})
_DELEGATION_OWNED = frozenset({NS, DS})


def chain_types(kind: NameKind, types: frozenset[int]) -> frozenset[int]:
    if kind is NameKind.DELEGATION:
        return (types & _DELEGATION_OWNED) | _ALWAYS
    return types | _ALWAYS


def add_chain(
    names: list[tuple[bytes, NameKind, list[Record]]], ttl: int
) -> list[tuple[bytes, NameKind, list[Record]]]:
    """The names with an NSEC record appended to each authoritative name's records.

    The NSEC goes into each name's own record list, in place: the plan takes over the
    snapshot it is given, and a million new lists would cost about 150 MB that every forked
    worker would inherit.
    """
    chained = [i for i, (_, kind, _) in enumerate(names) if kind is not NameKind.OCCLUDED]
    # A big zone has a handful of distinct (kind, types) shapes: compute each bitmap once.
    bitmaps: dict[tuple[NameKind, tuple[int, ...]], bytes] = {}
    for pos, i in enumerate(chained):
        _key, kind, recs = names[i]
        next_owner = names[chained[(pos + 1) % len(chained)]][2][0][0]
        shape = (kind, tuple([r[1] for r in recs]))
        bitmap = bitmaps.get(shape)
        if bitmap is None:
            bitmap = bitmaps[shape] = type_bitmap(chain_types(kind, frozenset(shape[1])))
        recs.append((recs[0][0], NSEC, ttl, next_owner + bitmap, 0))
    return names
