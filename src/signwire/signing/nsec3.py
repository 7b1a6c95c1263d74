"""The NSEC3 chain (RFC 5155), with opt-out (§6) and the RFC 9276 defaults.

Which names get an NSEC3: every authoritative name and every empty non-terminal (§7.1). With
opt-out, a delegation without DS (an insecure delegation) may be left out, and every NSEC3 then
carries the opt-out flag so that a validator accepts the gap. Empty non-terminals are always
given a record: RFC 5155 allows leaving out those that lead only to insecure delegations, but
keeping them costs little and is always correct.

NSEC3 owners are ``<base32hex(hash)>.<zone>``, all one label below the apex, so in canonical
order they sort by their hash text; :func:`build_chain` returns them sorted that way, ready to be
merged into the canonical output.
"""

from __future__ import annotations

import hashlib
from operator import itemgetter

from signwire.errors import ZoneDataError
from signwire.signing.bitmap import type_bitmap
from signwire.signing.options import Nsec3Params, nsec3_origin_problem
from signwire.zones import base32hex
from signwire.zones.kinds import NameKind
from signwire.zones.records import Record
from signwire.zones.rrtypes import DS, NS, NSEC3, NSEC3PARAM, RRSIG

SHA1 = 1
FLAG_OPT_OUT = 0x01

_by_type = itemgetter(1)
_by_digest = itemgetter(0)


def nsec3_hash(name_wire: bytes, params: Nsec3Params) -> bytes:
    """RFC 5155 §5: IH(salt, x, 0) = H(x || salt), then iterations more rounds."""
    salt = params.salt
    digest = hashlib.sha1(name_wire.lower() + salt).digest()
    for _ in range(params.iterations):
        digest = hashlib.sha1(digest + salt).digest()
    return digest


def hash_label(digest: bytes) -> bytes:
    return base32hex.encode(digest).lower().encode("ascii")


def param_rdata(params: Nsec3Params) -> bytes:
    """NSEC3PARAM RDATA: flags are 0 here, opt-out lives only in the NSEC3 records (§4.1.2)."""
    return (
        bytes((SHA1, 0))
        + params.iterations.to_bytes(2, "big")
        + bytes((len(params.salt),))
        + params.salt
    )


def check_origin(origin: bytes, path: str | None = None) -> None:
    """Raise :class:`ZoneDataError` when the zone cannot have an NSEC3 chain."""
    problem = nsec3_origin_problem(origin)
    if problem is not None:
        raise ZoneDataError(problem, path=path)


def _bitmap_types(kind: NameKind | None, types: frozenset[int]) -> frozenset[int]:
    if kind is None:  # empty non-terminal
        return frozenset()
    if kind is NameKind.DELEGATION:
        owned = types & {NS, DS}
        # The RRSIG bit says signatures exist at this name: only the DS is signed at a cut.
        return owned | {RRSIG} if DS in owned else owned
    return types | {RRSIG}


def build_chain(
    names: list[tuple[bytes, NameKind, list[Record]]],
    origin: bytes,
    params: Nsec3Params,
    ttl: int,
) -> list[tuple[bytes, NameKind, list[Record]]]:
    """The NSEC3 records as (key, kind, [record]) entries in canonical (hash) order."""
    okey = names[0][0]
    present: set[bytes] = set()
    entries: list[tuple[bytes, NameKind | None, frozenset[int]]] = []  # (owner, kind, types)
    opt_out = params.opt_out
    delegation, occluded = NameKind.DELEGATION, NameKind.OCCLUDED
    # Where a child of the apex has its last separator: after the apex's key, or, in the
    # root zone (whose key is empty), nowhere.
    olen = len(okey) if okey else -1
    for key, kind, recs in names:
        if kind is occluded:
            continue
        # Everything below a delegation is occluded, so no later name asks whether a
        # delegation exists: only other names need to be remembered as present.
        if kind is not delegation:
            present.add(key)
        # An empty non-terminal can only sit between a name and the apex when the name's
        # parent is not the apex; in a TLD nearly every name is a child of the apex.
        up = key.rfind(b"\x00")
        if up != olen and key != okey and key[:up] not in present:
            _add_empty_non_terminals(key, recs[0][0], okey, present, entries)
        # records are sorted by type: when the last is below DS, there is none
        if opt_out and kind is delegation and (recs[-1][1] < DS or DS not in map(_by_type, recs)):
            continue
        entries.append((recs[0][0], kind, frozenset(map(_by_type, recs))))

    hashed = [(nsec3_hash(owner, params), kind, types) for owner, kind, types in entries]
    hashed.sort(key=_by_digest)
    if not hashed:
        return []
    for i in range(1, len(hashed)):
        if hashed[i][0] == hashed[i - 1][0]:
            raise ValueError("NSEC3 hash collision; choose another salt")
    flags = FLAG_OPT_OUT if params.opt_out else 0
    head = bytes((SHA1, flags)) + params.iterations.to_bytes(2, "big")
    head += bytes((len(params.salt),)) + params.salt + bytes((20,))
    bitmaps: dict[tuple[NameKind | None, frozenset[int]], bytes] = {}
    okey_sep = okey + b"\x00" if okey else b""  # the key of a child of the apex, before its label
    auth = NameKind.AUTH
    out = []
    nxt = [h[0] for h in hashed[1:]]
    nxt.append(hashed[0][0])
    for (digest, node_kind, types), following in zip(hashed, nxt, strict=True):
        label = hash_label(digest)
        bitmap = bitmaps.get((node_kind, types))
        if bitmap is None:
            bitmap = bitmaps[(node_kind, types)] = type_bitmap(_bitmap_types(node_kind, types))
        rdata = head + following + bitmap
        owner = b"\x20" + label + origin  # a base32hex SHA-1 label is 32 octets long
        out.append((okey_sep + label, auth, [(owner, NSEC3, ttl, rdata, 0)]))
    return out


def _add_empty_non_terminals(
    key: bytes,
    owner: bytes,
    okey: bytes,
    present: set[bytes],
    entries: list[tuple[bytes, NameKind | None, frozenset[int]]],
) -> None:
    # Canonical order visits every existing ancestor before its descendants, so an ancestor
    # missing from `present` here does not exist: it is an empty non-terminal.
    wire = owner
    parent_key = _parent_key(key)
    while parent_key != okey and parent_key not in present:
        present.add(parent_key)
        wire = wire[wire[0] + 1 :]
        # the parent wire of `owner` at this depth
        entries.append((wire, None, frozenset()))
        parent_key = _parent_key(parent_key)


def _parent_key(key: bytes) -> bytes:
    # A key with no separator is a child of the root, whose key is empty.
    return key[: max(key.rfind(b"\x00"), 0)]


__all__ = ["NSEC3PARAM", "build_chain", "hash_label", "nsec3_hash", "param_rdata"]
