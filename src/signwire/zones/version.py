"""A version of a zone as an immutable value: origin, serial and every record, in compact form.

A signer that serves what it signed keeps every version it publishes (the current one, and the
one being built from a diff) in memory, so a version must be small. The layout is two parallel
lists in canonical name order (RFC 4034 §6.1):

* ``keys[i]``: the canonical key of name *i* (:func:`signwire.zones.names.canonical_key`), so
  a ``bisect`` finds a name, its NSEC predecessor and whether it has descendants;
* ``nodes[i]``: one ``bytes`` per name: its owner in wire form (in the case first seen), then
  each record as ``type (16) | ttl (32) | rdlength (16) | rdata``, sorted by type then RDATA.

That is two objects per name and none per record: a record costs its wire size plus 8 octets.
Records are parsed out of a node only when asked for, which a responder does for a handful of
names per query. Every record keeps its own TTL, so RRSIGs at one owner covering types with
different TTLs need no special case.

Two versions are equal when they hold the same records: owner case is not significant (DNS
names compare case-insensitively) and RDATA compares byte for byte, as in the record tuples the
rest of signwire uses.
"""

from __future__ import annotations

import struct
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from operator import itemgetter
from typing import Any

from signwire.errors import ZoneDataError
from signwire.zones import names
from signwire.zones.rrtypes import NSEC3, SOA

# (owner, rdtype, ttl, rdata): the record form of loading/xfr_in and zones/records without the
# source line, which a version has no use for.
RR = tuple[bytes, int, int, bytes]
# (rdtype, ttl, rdata) of one name.
NodeRecord = tuple[int, int, bytes]

_ENTRY = struct.Struct("!HIH")
_ENTRY_SIZE = _ENTRY.size


_type_and_rdata = itemgetter(0, 1)


def name_length(wire: bytes) -> int:
    """Length of the uncompressed wire name at the start of ``wire``."""
    i = 0
    n = wire[0]
    while n:
        i += n + 1
        n = wire[i]
    return i + 1


def encode_node(owner: bytes, records: Iterable[NodeRecord]) -> bytes:
    """The node bytes of ``owner`` with ``records`` (already sorted and without duplicates)."""
    pack = _ENTRY.pack
    return owner + b"".join(pack(t, ttl, len(rd)) + rd for t, ttl, rd in records)


def decode_node(node: bytes) -> tuple[bytes, list[NodeRecord]]:
    """The owner and the records of a node."""
    start = name_length(node)
    out: list[NodeRecord] = []
    unpack = _ENTRY.unpack_from
    pos = start
    end = len(node)
    while pos < end:
        t, ttl, size = unpack(node, pos)
        pos += _ENTRY_SIZE
        out.append((t, ttl, node[pos : pos + size]))
        pos += size
    return node[:start], out


def node_types(node: bytes) -> set[int]:
    return {t for t, _, _ in decode_node(node)[1]}


class ZoneVersion:
    """One version of one zone. Build it with :meth:`from_records`; never changed afterwards."""

    __slots__ = ("_keys", "_nodes", "_nsec3", "_origin", "_serial", "_soa")

    _origin: bytes
    _serial: int
    _soa: RR
    _keys: list[bytes]
    _nodes: list[bytes]
    _nsec3: tuple[bytes, ...]

    @classmethod
    def _make(cls, origin: bytes, keys: list[bytes], nodes: list[bytes],
              nsec3: tuple[bytes, ...] | None = None) -> ZoneVersion:
        """A version from lists already in canonical order (the apex first)."""
        self = object.__new__(cls)
        if not keys or keys[0] != names.canonical_key(origin):
            raise ZoneDataError(f"no records at the apex of {names.to_text(origin)}")
        owner, apex = decode_node(nodes[0])
        soas = [(ttl, rd) for t, ttl, rd in apex if t == SOA]
        if len(soas) != 1:
            raise ZoneDataError(
                f"{names.to_text(origin)} has {len(soas)} SOA records at its apex, not one"
            )
        ttl, rdata = soas[0]
        self._origin = owner
        self._soa = (owner, SOA, ttl, rdata)
        self._serial = int.from_bytes(rdata[-20:-16], "big")
        self._keys = keys
        self._nodes = nodes
        if nsec3 is None:
            nsec3 = tuple(sorted(
                k[k.rfind(b"\x00") + 1 :] if k else k
                for k, node in zip(keys, nodes, strict=True)
                if NSEC3 in node_types(node)
            ))
        self._nsec3 = nsec3
        return self

    @classmethod
    def from_records(cls, origin: bytes, records: Iterable[Sequence[Any]]) -> ZoneVersion:
        """A version from record tuples ``(owner, rdtype, ttl, rdata, ...)`` (wire bytes; any
        fields after the fourth, such as a source line, are ignored).

        Exact duplicates (same owner, type and RDATA) are kept once, with the first TTL seen.
        Raises :class:`ZoneDataError` for a record outside the zone or when the apex does not
        hold exactly one SOA.
        """
        origin_key = names.canonical_key(origin)
        key_of: dict[bytes, bytes] = {}
        owners: dict[bytes, bytes] = {}
        groups: dict[bytes, list[tuple[int, bytes, int]]] = {}
        last_owner = None
        group: list[tuple[int, bytes, int]] = []
        for rec in records:
            owner = rec[0]
            # Records of one owner usually come together (a zone file, a transfer).
            if owner is not last_owner:
                key = key_of.get(owner)
                if key is None:
                    key = names.canonical_key(owner)
                    if not names.is_subdomain(key, origin_key):
                        raise ZoneDataError(
                            f"{names.to_text(owner)} is outside the zone {names.to_text(origin)}"
                        )
                    key_of[owner] = key
                found = groups.get(key)
                if found is None:
                    groups[key] = found = []
                    owners[key] = owner
                group = found
                last_owner = owner
            group.append((rec[1], rec[3], rec[2]))
        keys = sorted(groups)
        nodes = []
        nsec3 = []
        pack = _ENTRY.pack
        for key in keys:
            entries = groups[key]
            owner = owners[key]
            if len(entries) == 1:
                t, rd, ttl = entries[0]
                nodes.append(owner + pack(t, ttl, len(rd)) + rd)
                if t == NSEC3:
                    nsec3.append(key[key.rfind(b"\x00") + 1 :])
                continue
            # Stable sort: among duplicates the first TTL seen comes first and is kept.
            entries.sort(key=_type_and_rdata)
            parts = [owner]
            last: tuple[int, bytes] | None = None
            for t, rd, ttl in entries:
                if (t, rd) != last:
                    parts.append(pack(t, ttl, len(rd)))
                    parts.append(rd)
                    last = (t, rd)
                    if t == NSEC3:
                        nsec3.append(key[key.rfind(b"\x00") + 1 :])
            nodes.append(b"".join(parts))
        return cls._make(origin, keys, nodes, tuple(sorted(set(nsec3))))

    # --- the value ----------------------------------------------------------------------

    @property
    def origin(self) -> bytes:
        return self._origin

    @property
    def serial(self) -> int:
        return self._serial

    @property
    def soa(self) -> RR:
        return self._soa

    @property
    def keys(self) -> Sequence[bytes]:
        """Canonical keys of the names, in canonical order (read-only use)."""
        return self._keys

    @property
    def nodes(self) -> Sequence[bytes]:
        """Node bytes, parallel to :attr:`keys` (read-only use)."""
        return self._nodes

    @property
    def nsec3_labels(self) -> tuple[bytes, ...]:
        """Lowercase first labels of the names holding NSEC3 records, in hash order."""
        return self._nsec3

    def __len__(self) -> int:
        """The number of names that own records."""
        return len(self._keys)

    def record_count(self) -> int:
        return sum(len(decode_node(n)[1]) for n in self._nodes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ZoneVersion):
            return NotImplemented
        if (
            self._serial != other._serial
            or names.lower(self._origin) != names.lower(other._origin)
            or self._keys != other._keys
        ):
            return False
        for a, b in zip(self._nodes, other._nodes, strict=True):
            if a != b and a[name_length(a) :] != b[name_length(b) :]:
                return False
        return True

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"ZoneVersion({names.to_text(self._origin)} serial {self._serial}, "
            f"{len(self._keys)} names)"
        )

    # --- lookups ------------------------------------------------------------------------

    def index(self, key: bytes) -> int | None:
        """Position of the name with canonical ``key``, or None when it owns no records."""
        i = bisect_left(self._keys, key)
        if i < len(self._keys) and self._keys[i] == key:
            return i
        return None

    def node(self, owner: bytes) -> list[NodeRecord] | None:
        """The records of ``owner`` as ``(rdtype, ttl, rdata)``, or None when it owns none."""
        i = self.index(names.canonical_key(owner))
        return None if i is None else decode_node(self._nodes[i])[1]

    def node_at(self, i: int) -> tuple[bytes, list[NodeRecord]]:
        return decode_node(self._nodes[i])

    def rrset(self, owner: bytes, rdtype: int) -> list[tuple[int, bytes]]:
        """``(ttl, rdata)`` of the records of one type at ``owner`` (empty when none)."""
        recs = self.node(owner)
        if recs is None:
            return []
        return [(ttl, rd) for t, ttl, rd in recs if t == rdtype]

    def exists(self, key: bytes) -> bool:
        """Whether the name exists (RFC 4592 §2.2.2): it owns records or has descendants
        that do (an empty non-terminal)."""
        i = bisect_left(self._keys, key)
        return i < len(self._keys) and names.is_subdomain(self._keys[i], key)

    def last_at_or_before(self, key: bytes) -> int:
        """Position of the greatest name that is ``key`` or sorts before it (-1: none)."""
        return bisect_right(self._keys, key) - 1

    def records(self) -> Iterator[RR]:
        """Every record in canonical order (the apex's first)."""
        for node in self._nodes:
            owner, recs = decode_node(node)
            for t, ttl, rd in recs:
                yield (owner, t, ttl, rd)
