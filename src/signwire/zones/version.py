"""A version of a zone as an immutable value: origin, serial and every record, in compact form.

A signer that serves what it signed keeps every version it publishes (the current one, and the
one being built from a diff) in memory, so a version must be small. Per name, in canonical name
order (RFC 4034 §6.1), it holds two ``bytes``:

* the canonical key (:func:`signwire.zones.names.canonical_key`), so that a ``bisect`` finds a
  name, its NSEC predecessor and whether it has descendants;
* the node: the owner in wire form (in the case first seen), then each record as
  ``type (16) | ttl (32) | rdlength (16) | rdata``, sorted by type then RDATA.

That is two objects per name and none per record: a record costs its wire size plus 8 octets.
Records are parsed out of a node only when asked for, which a responder does for a handful of
names per query. Every record keeps its own TTL, so RRSIGs at one owner covering types with
different TTLs need no special case.

The names are kept in a :class:`ChunkedMap`: sorted chunks of a few hundred names, shared
between versions. The next version after a small diff copies the chunk index and the chunks the
diff touches, not the zone, so applying a one-record change costs about the same for a
thousand names as for a million, and so does diffing two versions related that way (chunks
that are the same object hold the same names).

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


CHUNK = 512  # names per chunk: small enough to copy per change, few enough to index


class ChunkedMap:
    """An immutable sorted map of ``bytes`` keys to ``bytes`` values, in chunks.

    :meth:`edit` returns a new map sharing every chunk it does not touch. Positions are global
    (0 to ``len - 1``), found through the chunks' first keys and starting positions.
    """

    __slots__ = ("_chunk", "_chunks", "_count", "_firsts", "_starts")

    _chunks: list[tuple[tuple[bytes, ...], tuple[bytes, ...]]]
    _firsts: list[bytes]
    _starts: list[int]
    _count: int
    _chunk: int

    @classmethod
    def _of(cls, chunks: list[tuple[tuple[bytes, ...], tuple[bytes, ...]]],
            chunk: int) -> ChunkedMap:
        self = object.__new__(cls)
        self._chunks = chunks
        self._chunk = chunk
        self._firsts = [c[0][0] for c in chunks]
        starts = []
        total = 0
        for c in chunks:
            starts.append(total)
            total += len(c[0])
        self._starts = starts
        self._count = total
        return self

    @classmethod
    def from_sorted(cls, keys: Sequence[bytes], values: Sequence[bytes],
                    chunk: int = CHUNK) -> ChunkedMap:
        if chunk < 1:
            raise ValueError("chunk size must be positive")
        return cls._of(
            [(tuple(keys[i : i + chunk]), tuple(values[i : i + chunk]))
             for i in range(0, len(keys), chunk)],
            chunk,
        )

    def __len__(self) -> int:
        return self._count

    @property
    def chunks(self) -> Sequence[tuple[tuple[bytes, ...], tuple[bytes, ...]]]:
        return self._chunks

    def _chunk_of(self, key: bytes) -> int:
        return max(bisect_right(self._firsts, key) - 1, 0)

    def bisect_left(self, key: bytes) -> int:
        if not self._chunks:
            return 0
        c = self._chunk_of(key)
        return self._starts[c] + bisect_left(self._chunks[c][0], key)

    def bisect_right(self, key: bytes) -> int:
        if not self._chunks:
            return 0
        c = self._chunk_of(key)
        return self._starts[c] + bisect_right(self._chunks[c][0], key)

    def key_at(self, i: int) -> bytes:
        c = bisect_right(self._starts, i) - 1
        return self._chunks[c][0][i - self._starts[c]]

    def value_at(self, i: int) -> bytes:
        c = bisect_right(self._starts, i) - 1
        return self._chunks[c][1][i - self._starts[c]]

    def find(self, key: bytes) -> int | None:
        i = self.bisect_left(key)
        if i < self._count and self.key_at(i) == key:
            return i
        return None

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        for keys, values in self._chunks:
            yield from zip(keys, values, strict=True)

    def edit(self, changes: Sequence[tuple[bytes, bytes | None]]) -> ChunkedMap:
        """A new map with ``changes`` (sorted by key, each key once) made: a value sets the
        key, None removes it."""
        chunks = self._chunks
        firsts = self._firsts
        out: list[tuple[tuple[bytes, ...], tuple[bytes, ...]]] = []
        size = self._chunk
        done = 0  # chunks of self already passed on
        i = 0
        n = len(changes)
        while i < n:
            c = self._chunk_of(changes[i][0]) if chunks else 0
            out.extend(chunks[done:c])
            limit = firsts[c + 1] if c + 1 < len(chunks) else None
            j = i
            while j < n and (limit is None or changes[j][0] < limit):
                j += 1
            keys, values = (list(chunks[c][0]), list(chunks[c][1])) if chunks else ([], [])
            for key, value in changes[i:j]:
                p = bisect_left(keys, key)
                if p < len(keys) and keys[p] == key:
                    if value is None:
                        del keys[p], values[p]
                    else:
                        values[p] = value
                elif value is not None:
                    keys.insert(p, key)
                    values.insert(p, value)
            # A chunk grown past twice the size is split; an emptied one disappears.
            step = size if len(keys) > 2 * size else max(len(keys), 1)
            out.extend((tuple(keys[k : k + step]), tuple(values[k : k + step]))
                       for k in range(0, len(keys), step))
            done = c + 1
            i = j
        out.extend(chunks[done:])
        return ChunkedMap._of(out, size)


class ZoneVersion:
    """One version of one zone. Build it with :meth:`from_records`; never changed afterwards."""

    __slots__ = ("_names", "_nsec3", "_origin", "_records", "_serial", "_soa")

    _origin: bytes
    _serial: int
    _soa: RR
    _names: ChunkedMap  # canonical key -> node
    _nsec3: ChunkedMap  # lowercase hash label of each NSEC3 owner -> b""
    _records: int  # records in all nodes, kept so that counting them reads no node

    @classmethod
    def _make(cls, origin: bytes, names_map: ChunkedMap, nsec3: ChunkedMap,
              records: int) -> ZoneVersion:
        """``records``: the number of records in ``names_map`` (the builder knows it: a
        version made from records counts them, :func:`signwire.zones.diff.apply` adds the
        diff's additions to the old count and takes its deletions away)."""
        self = object.__new__(cls)
        if not len(names_map) or names_map.key_at(0) != names.canonical_key(origin):
            raise ZoneDataError(f"no records at the apex of {names.to_text(origin)}")
        owner, apex = decode_node(names_map.value_at(0))
        soas = [(ttl, rd) for t, ttl, rd in apex if t == SOA]
        if len(soas) != 1:
            raise ZoneDataError(
                f"{names.to_text(origin)} has {len(soas)} SOA records at its apex, not one"
            )
        ttl, rdata = soas[0]
        self._origin = owner
        self._soa = (owner, SOA, ttl, rdata)
        self._serial = int.from_bytes(rdata[-20:-16], "big")
        self._names = names_map
        self._nsec3 = nsec3
        self._records = records
        return self

    @classmethod
    def from_records(cls, origin: bytes, records: Iterable[Sequence[Any]], *,
                     chunk: int = CHUNK) -> ZoneVersion:
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
        count = 0
        for key in keys:
            entries = groups[key]
            owner = owners[key]
            if len(entries) == 1:
                t, rd, ttl = entries[0]
                nodes.append(owner + pack(t, ttl, len(rd)) + rd)
                count += 1
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
                    count += 1
                    last = (t, rd)
                    if t == NSEC3:
                        nsec3.append(key[key.rfind(b"\x00") + 1 :])
            nodes.append(b"".join(parts))
        labels = sorted(set(nsec3))
        return cls._make(origin, ChunkedMap.from_sorted(keys, nodes, chunk),
                         ChunkedMap.from_sorted(labels, [b""] * len(labels), chunk), count)

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
    def names_map(self) -> ChunkedMap:
        """Canonical key -> node bytes, in canonical order."""
        return self._names

    @property
    def nsec3_map(self) -> ChunkedMap:
        """Lowercase first labels of the names holding NSEC3 records, in hash order."""
        return self._nsec3

    def __len__(self) -> int:
        """The number of names that own records."""
        return len(self._names)

    def record_count(self) -> int:
        """The number of records (the SOA and every RRSIG included), without reading a
        node: kept since the version was built."""
        return self._records

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ZoneVersion):
            return NotImplemented
        if (
            self._serial != other._serial
            or names.lower(self._origin) != names.lower(other._origin)
            or len(self._names) != len(other._names)
        ):
            return False
        for (ka, a), (kb, b) in zip(self._names.items(), other._names.items(), strict=True):
            if ka != kb or (a != b and a[name_length(a) :] != b[name_length(b) :]):
                return False
        return True

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"ZoneVersion({names.to_text(self._origin)} serial {self._serial}, "
            f"{len(self._names)} names)"
        )

    # --- lookups ------------------------------------------------------------------------

    def index(self, key: bytes) -> int | None:
        """Position of the name with canonical ``key``, or None when it owns no records."""
        return self._names.find(key)

    def node(self, owner: bytes) -> list[NodeRecord] | None:
        """The records of ``owner`` as ``(rdtype, ttl, rdata)``, or None when it owns none."""
        i = self.index(names.canonical_key(owner))
        return None if i is None else decode_node(self._names.value_at(i))[1]

    def node_at(self, i: int) -> tuple[bytes, list[NodeRecord]]:
        """Owner and records of the name at position ``i``."""
        return decode_node(self._names.value_at(i))

    def node_bytes(self, i: int) -> bytes:
        return self._names.value_at(i)

    def rrset(self, owner: bytes, rdtype: int) -> list[tuple[int, bytes]]:
        """``(ttl, rdata)`` of the records of one type at ``owner`` (empty when none)."""
        recs = self.node(owner)
        if recs is None:
            return []
        return [(ttl, rd) for t, ttl, rd in recs if t == rdtype]

    def exists(self, key: bytes) -> bool:
        """Whether the name exists (RFC 4592 §2.2.2): it owns records or has descendants
        that do (an empty non-terminal)."""
        i = self._names.bisect_left(key)
        return i < len(self._names) and names.is_subdomain(self._names.key_at(i), key)

    def last_at_or_before(self, key: bytes) -> int:
        """Position of the greatest name that is ``key`` or sorts before it (-1: none)."""
        return self._names.bisect_right(key) - 1

    def nsec3_lookup(self, label: bytes) -> tuple[bool, bytes | None]:
        """For a lowercase NSEC3 hash label: whether an NSEC3 owner has it, and the label of
        the matching owner or else of the one covering it (the chain wraps round); None when
        the zone has no NSEC3 records."""
        chain = self._nsec3
        if not len(chain):
            return False, None
        i = chain.bisect_left(label)
        if i < len(chain) and chain.key_at(i) == label:
            return True, label
        return False, chain.key_at(i - 1 if i else len(chain) - 1)

    def nsec3_labels(self) -> list[bytes]:
        return [k for k, _ in self._nsec3.items()]

    def records(self) -> Iterator[RR]:
        """Every record in canonical order (the apex's first)."""
        for _, node in self._names.items():
            owner, recs = decode_node(node)
            for t, ttl, rd in recs:
                yield (owner, t, ttl, rd)
