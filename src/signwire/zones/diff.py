"""The difference between two versions of a zone, as IXFR carries it (RFC 1995 §4).

A :class:`Diff` is the old SOA, the records deleted, the new SOA and the records added; the SOA
itself is never among ``deleted``/``added``. :func:`diff` computes it by a merge walk over the
two versions' names in canonical order, skipping the chunks the versions share (they hold the
same names) and comparing whole nodes as ``bytes`` first, so that names that did not change
cost one comparison. :func:`apply` builds the next version from the old one and a diff, copying
only the chunks of names the diff touches; it refuses a diff that does not fit (wrong serial, a
deleted record that is not there, an added one that is) rather than guess, since a journal made
of such diffs would serve secondaries a zone that no version ever held.

A record is identified by owner (case-insensitive), type, TTL and RDATA: a TTL change is a
deletion and an addition, as IXFR expresses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from signwire.errors import SignwireError
from signwire.zones import names
from signwire.zones.rrtypes import NSEC3, SOA
from signwire.zones.version import RR, NodeRecord, ZoneVersion, decode_node, encode_node


class DiffError(SignwireError):
    """A diff does not apply to the version it was given."""


@dataclass(frozen=True, slots=True)
class Diff:
    old_soa: RR
    new_soa: RR
    deleted: tuple[RR, ...]  # canonical order, SOA excluded
    added: tuple[RR, ...]

    @classmethod
    def from_ixfr(cls, deleted: Sequence[Sequence[Any]], added: Sequence[Sequence[Any]]) -> Diff:
        """A diff from one IXFR step as a transfer reads it: the old SOA first among the
        deletions, the new SOA first among the additions (record tuples; fields after the
        fourth, such as a source line, are dropped)."""
        if not deleted or not added or deleted[0][1] != SOA or added[0][1] != SOA:
            raise DiffError("an IXFR step starts its deletions and its additions with an SOA")

        def rr(r: Sequence[Any]) -> RR:
            return (r[0], r[1], r[2], r[3])

        return cls(rr(deleted[0]), rr(added[0]), tuple(rr(r) for r in deleted[1:]),
                   tuple(rr(r) for r in added[1:]))

    @property
    def from_serial(self) -> int:
        return int.from_bytes(self.old_soa[3][-20:-16], "big")

    @property
    def to_serial(self) -> int:
        return int.from_bytes(self.new_soa[3][-20:-16], "big")

    def records(self) -> list[RR]:
        """The IXFR sequence of this step: old SOA, deletions, new SOA, additions."""
        return [self.old_soa, *self.deleted, self.new_soa, *self.added]

    @property
    def wire_size(self) -> int:
        """Octets of the records uncompressed (owner, 10 octets of fixed fields, RDATA): what
        a journal counts against its byte bound."""
        return sum(len(o) + 10 + len(rd) for o, _, _, rd in self.records())


def diff(old: ZoneVersion, new: ZoneVersion) -> Diff:
    """The diff that turns ``old`` into ``new``."""
    if names.lower(old.origin) != names.lower(new.origin):
        raise DiffError(
            f"versions of different zones: {names.to_text(old.origin)} and "
            f"{names.to_text(new.origin)}"
        )
    deleted: list[RR] = []
    added: list[RR] = []
    # A chunk object found in both versions holds the same names in both, and no other name
    # of either version sorts among them: only the other chunks need a look.
    old_chunks, new_chunks = old.names_map.chunks, new.names_map.chunks
    shared = {id(c) for c in old_chunks} & {id(c) for c in new_chunks}
    ok: list[bytes] = []
    on: list[bytes] = []
    for chunk in old_chunks:
        if id(chunk) not in shared:
            ok.extend(chunk[0])
            on.extend(chunk[1])
    nk: list[bytes] = []
    nn: list[bytes] = []
    for chunk in new_chunks:
        if id(chunk) not in shared:
            nk.extend(chunk[0])
            nn.extend(chunk[1])
    i = j = 0
    while i < len(ok) or j < len(nk):
        if j >= len(nk) or (i < len(ok) and ok[i] < nk[j]):
            _all(on[i], deleted)
            i += 1
        elif i >= len(ok) or nk[j] < ok[i]:
            _all(nn[j], added)
            j += 1
        else:
            a, b = on[i], nn[j]
            if a != b:
                _changed(a, b, deleted, added)
            i += 1
            j += 1
    return Diff(old.soa, new.soa, tuple(deleted), tuple(added))


def _all(node: bytes, out: list[RR]) -> None:
    owner, recs = decode_node(node)
    out.extend((owner, t, ttl, rd) for t, ttl, rd in recs if t != SOA)


def _changed(a: bytes, b: bytes, deleted: list[RR], added: list[RR]) -> None:
    owner_a, ra = decode_node(a)
    owner_b, rb = decode_node(b)
    if ra == rb:
        return  # only the owner's case differs
    sa, sb = set(ra), set(rb)
    deleted.extend((owner_a, *r) for r in ra if r[0] != SOA and r not in sb)
    added.extend((owner_b, *r) for r in rb if r[0] != SOA and r not in sa)


def apply(version: ZoneVersion, d: Diff) -> ZoneVersion:
    """The version ``d`` leads to from ``version``; :class:`DiffError` when it does not fit."""
    zone = names.to_text(version.origin)
    if names.lower(d.old_soa[0]) != names.lower(version.origin):
        raise DiffError(f"the diff is for {names.to_text(d.old_soa[0])}, not {zone}")
    if d.from_serial != version.serial:
        raise DiffError(
            f"{zone}: the diff starts at serial {d.from_serial}, the version is at "
            f"{version.serial}"
        )
    if d.old_soa[2:] != version.soa[2:]:
        raise DiffError(f"{zone}: the diff's old SOA is not the version's SOA")
    # Changes grouped by name; the apex always changes (its SOA).
    changes: dict[bytes, tuple[bytes, list[NodeRecord], list[NodeRecord]]] = {}
    apex_key = names.canonical_key(version.origin)
    changes[apex_key] = (version.origin, [], [])
    for adding, part in ((False, d.deleted), (True, d.added)):
        for owner, t, ttl, rd in part:
            key = names.canonical_key(owner)
            if t == SOA and key == apex_key:
                raise DiffError(f"{zone}: the apex SOA changes through old_soa/new_soa only")
            entry = changes.get(key)
            if entry is None:
                changes[key] = entry = (owner, [], [])
            (entry[2] if adding else entry[1]).append((t, ttl, rd))

    edits: list[tuple[bytes, bytes | None]] = []
    label_edits: list[tuple[bytes, bytes | None]] = []
    for key in sorted(changes):
        owner, dels, adds = changes[key]
        at = version.index(key)
        old_recs: list[NodeRecord] = []
        if at is not None:
            owner, old_recs = version.node_at(at)
        recs = _edit(zone, owner, old_recs, dels, adds)
        if key == apex_key:
            recs = sorted([r for r in recs if r[0] != SOA] + [(SOA, d.new_soa[2], d.new_soa[3])],
                          key=lambda r: (r[0], r[2]))
        edits.append((key, encode_node(owner, recs) if recs else None))
        had = any(r[0] == NSEC3 for r in old_recs)
        has = any(r[0] == NSEC3 for r in recs)
        if had != has:
            label = key[key.rfind(b"\x00") + 1 :]
            label_edits.append((label, b"" if has else None))
    label_edits.sort()
    nsec3 = version.nsec3_map.edit(label_edits) if label_edits else version.nsec3_map
    # _edit refuses a deletion that is not there and an addition that is: the count moves by
    # exactly the diff's sizes (the SOA is replaced, never among them).
    count = version.record_count() - len(d.deleted) + len(d.added)
    return ZoneVersion._make(version.origin, version.names_map.edit(edits), nsec3, count)


def _edit(
    zone: str, owner: bytes, old: list[NodeRecord], dels: list[NodeRecord],
    adds: list[NodeRecord],
) -> list[NodeRecord]:
    if not dels and not adds:
        return old
    present = {(t, rd): ttl for t, ttl, rd in old}
    for t, ttl, rd in dels:
        if present.get((t, rd)) != ttl:
            raise DiffError(
                f"{zone}: the diff deletes a record that is not there: {names.to_text(owner)} "
                f"type {t} TTL {ttl}"
            )
        del present[(t, rd)]
    for t, ttl, rd in adds:
        if (t, rd) in present:
            raise DiffError(
                f"{zone}: the diff adds a record that is already there: {names.to_text(owner)} "
                f"type {t}"
            )
        present[(t, rd)] = ttl
    return sorted(((t, ttl, rd) for (t, rd), ttl in present.items()), key=lambda r: (r[0], r[2]))
