"""Incremental signing: the next signed version from the previous one and an unsigned diff.

The result is the version :func:`~signwire.signing.versioned.sign_full` would make of the new
unsigned zone at the same ``now`` (same records; with Ed25519 the same bytes), reached by work
proportional to the change instead of to the zone:

* the unsigned diff is applied to the previous *unsigned* version (the signed one cannot take
  it: its SOA and apex are the signer's), and the names it touches are the starting set;
* a name that gains or loses NS (below the apex) or DNAME moves the authority of every name
  below it: that subtree, one contiguous range of canonical keys, joins the set;
* every other name keeps its node, and every RRset whose records did not change keeps its
  RRSIGs; only changed RRsets, the apex's (SOA serial, maybe DNSKEY) and the denial records
  around the changes are signed again;
* NSEC: a name joining or leaving the chain changes the NSEC of its predecessor, found by one
  ``bisect`` in the new version and a walk up the predecessor's ancestors (an occluded
  predecessor's chain predecessor is the cut above it);
* NSEC3: the names whose hashed owner may appear, vanish or change bitmap are the changed
  names and their ancestors (empty non-terminals come and go with their descendants); their
  hashes are looked up in the previous version's sorted hashed labels, and the chain's
  neighbours of an added or removed hash found by ``bisect`` there, with the step's own
  additions and removals merged in.

Changes of signing keys are a case of their own: a zone-signing key that starts or stops
signing means every RRSIG of the zone changes, so that step signs the zone in full (and
returns the diff); a change on the key-signing side (a KSK, a published key, CDS/CDNSKEY)
re-signs the apex's DNSKEY, CDS and CDNSKEY RRsets only. Other changes that touch every
denial record (a new SOA TTL or minimum, which is the NSEC/NSEC3 TTL, other signing options)
also fall back to full signing.

The step never reads the whole zone: versions and the re-sign schedule are chunked maps
(:class:`~signwire.zones.version.ChunkedMap`), so the new version and the new schedule copy
only the chunks the change touches. A cut that appears or vanishes costs in proportion to the
names below it, which all change authority.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence

from signwire.errors import SigningError, ZoneDataError
from signwire.signing.apex import apex_records, denial_ttl
from signwire.signing.bitmap import type_bitmap
from signwire.signing.context import SignFns, load_signers
from signwire.signing.keyset import SigningKeys
from signwire.signing.nsec import chain_types
from signwire.signing.nsec3 import FLAG_OPT_OUT, SHA1, hash_label, nsec3_hash
from signwire.signing.options import Nsec3Params, SigningOptions
from signwire.signing.schedule import covered
from signwire.signing.versioned import (
    RrsetSigner,
    Signed,
    rrsets,
    sign_full,
    signing_context,
)
from signwire.zones import checks, names
from signwire.zones.diff import Diff, apply, diff
from signwire.zones.kinds import NameKind
from signwire.zones.records import Record
from signwire.zones.rrtypes import (
    CDNSKEY,
    CDS,
    DNAME,
    DNSKEY,
    DS,
    KEY_SIGNED_TYPES,
    NS,
    NSEC,
    NSEC3,
    RRSIG,
    SOA,
)
from signwire.zones.serial import SerialRule
from signwire.zones.version import RR, ChunkedMap, NodeRecord, ZoneVersion, name_length

RRsetKey = tuple[bytes, int]  # (canonical key of the owner, type)

# Apex types the signer makes from the keys; a change of them in the input goes through the
# full plan, whose checks refuse a DNSKEY of an algorithm no key signs with.
_INPUT_KEY_TYPES = frozenset({DNSKEY, CDS, CDNSKEY})


def incremental(
    previous: Signed,
    unsigned_diff: Diff,
    keys: SigningKeys,
    options: SigningOptions,
    now: int,
    previous_serial: int | None = None,
    *,
    signers: SignFns | None = None,
) -> tuple[Signed, Diff]:
    """The signed version after ``unsigned_diff``, and the signed diff from the previous one.

    ``unsigned_diff`` applies to ``previous.unsigned`` (:class:`~signwire.zones.diff.DiffError`
    when it does not). ``previous_serial`` is the serial last published, for the serial rule;
    by default the previous signed version's.
    """
    unsigned = apply(previous.unsigned, unsigned_diff)
    touched = {names.canonical_key(r[0]) for r in (*unsigned_diff.deleted, *unsigned_diff.added)}
    return _step(previous, unsigned, touched, set(), keys, options, now, previous_serial, signers)


def check_owners(origin: bytes, keys: Iterable[bytes]) -> None:
    """:class:`~signwire.errors.ZoneDataError` for a name (canonical key) outside the zone:
    before a diff is applied, since a version has no place for such a name."""
    okey = names.canonical_key(origin)
    for key in sorted(keys):
        if not names.is_subdomain(key, okey):
            raise ZoneDataError(
                f"{names.to_text(key_wire(key))} is outside the zone {names.to_text(origin)}"
            )


def check_input(before: ZoneVersion, after: ZoneVersion, touched: Iterable[bytes]) -> None:
    """The input checks of full signing (:func:`signwire.zones.snapshot.build`) on what a
    change from ``before`` to ``after`` can have made wrong, in proportion to the change:
    the ``touched`` names (canonical keys of every owner a diff deleted or added at), the
    apex (one SOA, NS there: :class:`~signwire.zones.version.ZoneVersion` holds it to the
    first), and every name below a name that became or stopped being a zone cut or DNAME
    (their authority changed: occluded data that comes back in must pass). A name outside
    the zone is refused. Raises :class:`~signwire.errors.ZoneDataError` naming the problem.

    For an IXFR this is the whole check: every other name passed it in an earlier version
    and keeps its records and its kind."""
    okey = names.canonical_key(after.origin)
    dirty = set(touched)
    check_owners(after.origin, dirty)
    old, new = _Names(before, okey), _Names(after, okey)
    for key in list(dirty):
        if old.is_cut(key) != new.is_cut(key):
            dirty.update(new.below(key))
    dirty.add(okey)
    for key in sorted(dirty):
        found = new.records(key)
        if found is not None:
            owner, recs = found
            _checked([(owner, t, ttl, rd, 0) for t, ttl, rd in recs], new.kind(key))


def resign(
    previous: Signed,
    due: Iterable[RRsetKey],
    keys: SigningKeys,
    options: SigningOptions,
    now: int,
    previous_serial: int | None = None,
    *,
    signers: SignFns | None = None,
) -> tuple[Signed, Diff]:
    """The signed version with the RRSIGs of ``due`` RRsets made again at ``now`` (the
    unsigned zone unchanged), and the diff. A new version needs a new serial for secondaries
    to take it, so the ``keep`` rule counts as ``increment`` here."""
    return _step(
        previous, previous.unsigned, set(), set(due), keys, options, now, previous_serial,
        signers, refresh_serial=True,
    )


def _step(
    previous: Signed,
    unsigned: ZoneVersion,
    touched: set[bytes],
    force: set[RRsetKey],
    keys: SigningKeys,
    options: SigningOptions,
    now: int,
    previous_serial: int | None,
    signers: SignFns | None,
    *,
    refresh_serial: bool = False,
) -> tuple[Signed, Diff]:
    old = previous.version
    if previous_serial is None:
        previous_serial = old.serial
    serial_options = options
    if refresh_serial and options.serial is SerialRule.KEEP:
        serial_options = dataclasses.replace(options, serial=SerialRule.INCREMENT)
    if keys.unsigned or previous.keys.unsigned:
        # To or from an unsigned zone (a policy took it insecure, or back): nothing of the
        # old version's DNSSEC records carries over, and an unsigned version costs no
        # signature to build whole.
        return _full(previous, unsigned, keys, serial_options, options, now, previous_serial,
                     signers)
    keys.check(unsigned.origin)
    problem = options.time_problem(now)
    if problem is not None:
        raise SigningError(problem)
    if _needs_full(previous, unsigned, keys, options):
        return _full(previous, unsigned, keys, serial_options, options, now, previous_serial,
                     signers)
    step = _Step(previous, unsigned, keys, options, now, signers)
    if keys != previous.keys:
        # Only the key-signing side differs (_needs_full took the rest): the apex's key
        # RRsets are signed again even when their records are the same.
        force |= {(step.okey, t) for t in KEY_SIGNED_TYPES}
    step.force = force
    new_apex, _ = apex_records(
        step.apex_input(), keys, serial_options, now, previous_serial
    )
    soa = next(r for r in new_apex if r[1] == SOA)
    if denial_ttl(soa) != denial_ttl((*old.soa, 0)):
        return _full(previous, unsigned, keys, serial_options, options, now, previous_serial,
                     signers)
    step.new_apex = new_apex
    step.denial_ttl = denial_ttl(soa)
    try:
        signed_diff = step.run(touched, {k for k, _ in force})
    except _FullInstead:
        return _full(previous, unsigned, keys, serial_options, options, now, previous_serial,
                     signers)
    version = apply(old, signed_diff)
    schedule = previous.schedule.updated(step.schedule_removed, step.schedule_added)
    signed = Signed(version, unsigned, keys, options, schedule, step.signer.made)
    return signed, signed_diff


def _needs_full(
    previous: Signed, unsigned: ZoneVersion, keys: SigningKeys, options: SigningOptions
) -> bool:
    if options != previous.options or keys.zone_signers != previous.keys.zone_signers:
        return True
    old_apex = previous.unsigned.node_at(0)[1]
    new_apex = unsigned.node_at(0)[1]
    return [r for r in old_apex if r[0] in _INPUT_KEY_TYPES] != [
        r for r in new_apex if r[0] in _INPUT_KEY_TYPES
    ]


def _full(
    previous: Signed,
    unsigned: ZoneVersion,
    keys: SigningKeys,
    serial_options: SigningOptions,
    options: SigningOptions,
    now: int,
    previous_serial: int,
    signers: SignFns | None,
) -> tuple[Signed, Diff]:
    made = sign_full(unsigned, keys, serial_options, now, previous_serial,
                     refresh=previous.schedule.refresh, signers=signers)
    if serial_options is not options:
        made = dataclasses.replace(made, options=options)
    return made, diff(previous.version, made.version)


class _FullInstead(Exception):
    """This change cannot be made locally (an NSEC3 owner that is also a name of the zone)."""


class _Names:
    """Lookups in one unsigned version, remembered for the step."""

    def __init__(self, version: ZoneVersion, okey: bytes) -> None:
        self.version = version
        self.map = version.names_map
        self.okey = okey
        self._types: dict[bytes, frozenset[int] | None] = {}
        self._occluder: dict[bytes, bytes | None] = {}

    def types(self, key: bytes) -> frozenset[int] | None:
        """The types at ``key``, None when it owns no records."""
        if key in self._types:
            return self._types[key]
        i = self.version.index(key)
        got = None
        if i is not None:
            got = frozenset(t for t, _, _ in self.version.node_at(i)[1])
        self._types[key] = got
        return got

    def records(self, key: bytes) -> tuple[bytes, list[NodeRecord]] | None:
        i = self.version.index(key)
        return None if i is None else self.version.node_at(i)

    def is_cut(self, key: bytes) -> bool:
        """A zone cut or a DNAME: what occludes the names below it (as the snapshot rules)."""
        t = self.types(key)
        return t is not None and ((NS in t and key != self.okey) or DNAME in t)

    def occluder(self, key: bytes) -> bytes | None:
        """The highest proper ancestor of ``key`` that is a cut (it is authoritative)."""
        if key in self._occluder:
            return self._occluder[key]
        found = None
        for a in ancestors(key, self.okey):
            if self.is_cut(a):
                found = a
                break
        self._occluder[key] = found
        return found

    def kind(self, key: bytes) -> NameKind:
        """The kind of a name that owns records."""
        if key == self.okey:
            return NameKind.APEX
        if self.occluder(key) is not None:
            return NameKind.OCCLUDED
        t = self.types(key)
        if t is not None and NS in t:
            return NameKind.DELEGATION
        return NameKind.AUTH

    def below_range(self, key: bytes) -> range:
        """Positions of the names below ``key``: one run in canonical order."""
        if not key:  # the root zone's apex: every other name
            return range(1, len(self.map))
        return range(self.map.bisect_left(key + b"\x00"), self.map.bisect_left(key + b"\x01"))

    def below(self, key: bytes) -> list[bytes]:
        key_at = self.map.key_at
        return [key_at(i) for i in self.below_range(key)]

    def owner_at(self, i: int) -> bytes:
        node = self.version.node_bytes(i)
        return node[: name_length(node)]

    def prev_authoritative(self, key: bytes) -> bytes:
        """The greatest name before ``key`` in the NSEC chain (``key`` is not the apex)."""
        before = self.map.key_at(self.map.bisect_left(key) - 1)
        # Everything between an occluded name and the cut above it is below that cut too.
        cut = self.occluder(before)
        return before if cut is None else cut

    def next_owner(self, key: bytes) -> bytes:
        """The owner the NSEC of ``key`` (authoritative) points to: the next name that is not
        below it when it is a cut, else the next name; the apex after the last."""
        i = self.version.index(key)
        assert i is not None
        if self.is_cut(key):
            i += len(self.below_range(key))
        i += 1
        return self.owner_at(i if i < len(self.map) else 0)


def ancestors(key: bytes, okey: bytes) -> list[bytes]:
    """The keys of ``key``'s ancestors from the apex down, without ``key`` itself."""
    if key == okey:
        return []
    out = [okey]
    start = len(okey) + 1 if okey else 0
    i = key.find(b"\x00", start)
    while i != -1:
        out.append(key[:i])
        i = key.find(b"\x00", i + 1)
    return out


def key_wire(key: bytes) -> bytes:
    """The (lowercase) wire name of a canonical key: the inverse of
    :func:`names.canonical_key` up to case."""
    if not key:
        return names.ROOT
    labels = [
        p.replace(b"\x01\x01", b"\x00").replace(b"\x01\x02", b"\x01") if b"\x01" in p else p
        for p in key.split(b"\x00")
    ]
    labels.reverse()
    return names.from_labels(labels)


def _label_digest(label: bytes) -> bytes:
    return base64.b32hexdecode(label.upper())


def _nsec3_bitmap_types(kind: NameKind | None, types: frozenset[int]) -> frozenset[int]:
    # The same rule as nsec3.build_chain: nothing for an empty non-terminal, the parent side's
    # NS and DS at a cut (RRSIG only when the DS is signed), and the RRSIG bit elsewhere.
    if kind is None:
        return frozenset()
    if kind is NameKind.DELEGATION:
        owned = types & {NS, DS}
        return owned | {RRSIG} if DS in owned else owned
    return types | {RRSIG}


def _group(recs: Iterable[NodeRecord]) -> tuple[dict[int, tuple[int, frozenset[bytes]]],
                                                  dict[int, list[bytes]]]:
    """A node's RRsets by type (TTL, RDATA set) and its RRSIGs by covered type."""
    data: dict[int, tuple[int, set[bytes]]] = {}
    sigs: dict[int, list[bytes]] = {}
    for t, ttl, rd in recs:
        if t == RRSIG:
            sigs.setdefault(covered(rd), []).append(rd)
        else:
            data.setdefault(t, (ttl, set()))[1].add(rd)
    return {t: (ttl, frozenset(rds)) for t, (ttl, rds) in data.items()}, sigs


class _Step:
    def __init__(
        self,
        previous: Signed,
        unsigned: ZoneVersion,
        keys: SigningKeys,
        options: SigningOptions,
        now: int,
        signers: SignFns | None,
    ) -> None:
        self.old = previous.version
        self.origin = unsigned.origin
        self.okey = names.canonical_key(self.origin)
        self.before = _Names(previous.unsigned, self.okey)
        self.after = _Names(unsigned, self.okey)
        self.options = options
        self.schedule = previous.schedule
        ctx = signing_context(self.origin, keys, options, now)
        self.signer = RrsetSigner(ctx, signers or load_signers(ctx))
        self.force: set[RRsetKey] = set()
        self.new_apex: list[Record] = []
        self.denial_ttl = 0
        self.deleted: list[tuple[bytes, RR]] = []
        self.added: list[tuple[bytes, RR]] = []
        self.schedule_removed: list[bytes] = []
        self.schedule_added: list[bytes] = []

    # --- records --------------------------------------------------------------------

    def _input(self, owner: bytes, recs: list[NodeRecord], kind: NameKind) -> list[Record]:
        """A name's records as full signing signs them: checked, then capped to the
        policy's TTL ceiling (in that order, as the snapshot and the plan do it)."""
        out = _checked([(owner, t, ttl, rd, 0) for t, ttl, rd in recs], kind)
        ceiling = self.options.max_ttl
        if ceiling is None:
            return out
        return [(o, t, min(ttl, ceiling), rd, ln) for o, t, ttl, rd, ln in out]

    def apex_input(self) -> list[Record]:
        owner, recs = self.after.version.node_at(0)
        return self._input(owner, recs, NameKind.APEX)

    def _old_node(self, key: bytes) -> tuple[bytes, list[NodeRecord]] | None:
        i = self.old.index(key)
        return None if i is None else self.old.node_at(i)

    def _signed(
        self,
        key: bytes,
        owner: bytes,
        kind: NameKind,
        recs: Sequence[Record],
        old: list[NodeRecord],
    ) -> list[NodeRecord]:
        """The records of one name with their RRSIGs: the old ones where the RRset is the
        same, new ones where it changed (or is forced)."""
        old_data, old_sigs = _group(old)
        out: list[NodeRecord] = []
        for rdtype, ttl, rdatas in rrsets(recs):
            out.extend((rdtype, ttl, rd) for rd in rdatas)
            if not self.signer.signs(kind, rdtype):
                continue
            kept = old_sigs.get(rdtype)
            if (
                kept
                and (key, rdtype) not in self.force
                and old_data.get(rdtype) == (ttl, frozenset(rdatas))
            ):
                out.extend((RRSIG, ttl, sig) for sig in kept)
            else:
                sigs = self.signer.sign(owner, kind, rdtype, ttl, rdatas)
                out.extend((RRSIG, ttl, sig) for sig in sigs)
        return out

    def _emit(self, key: bytes, owner: bytes, old: list[NodeRecord], new: list[NodeRecord]) -> None:
        old_set, new_set = set(old), set(new)
        if old_set == new_set:
            return
        gone = sorted((r for r in old_set - new_set if r[0] != SOA), key=_type_rdata)
        came = sorted((r for r in new_set - old_set if r[0] != SOA), key=_type_rdata)
        self.deleted.extend((key, (owner, *r)) for r in gone)
        self.added.extend((key, (owner, *r)) for r in came)
        before = self.schedule.entry_for(key, old)
        after = self.schedule.entry_for(key, new)
        if before != after:
            if before is not None:
                self.schedule_removed.append(before)
            if after is not None:
                self.schedule_added.append(after)

    def real_name(self, key: bytes) -> None:
        """Rebuild the signed node of a name of the zone (not an NSEC3 owner)."""
        found = self.after.records(key)
        previous = self._old_node(key)
        old = [] if previous is None else previous[1]
        if found is None:
            if previous is not None:
                self._emit(key, previous[0], old, [])
            return
        owner, node = found
        kind = self.after.kind(key)
        recs: list[Record]
        if kind is NameKind.APEX:
            recs = sorted(self.new_apex, key=lambda r: r[1])
        else:
            recs = self._input(owner, node, kind)
        params = self.options.nsec3
        if params is None and kind is not NameKind.OCCLUDED:
            types = frozenset(r[1] for r in recs)
            bitmap = type_bitmap(chain_types(kind, types))
            nxt = self.after.next_owner(key)
            recs = [*recs, (owner, NSEC, self.denial_ttl, nxt + bitmap, 0)]
        self._emit(key, owner, old, self._signed(key, owner, kind, recs, old))

    # --- the step -------------------------------------------------------------------

    def run(self, touched: set[bytes], resigned: set[bytes]) -> Diff:
        okey = self.okey
        dirty = set(touched)
        dirty.add(okey)
        for k in list(dirty):
            if self.before.is_cut(k) != self.after.is_cut(k):
                dirty.update(self.before.below(k))
                dirty.update(self.after.below(k))
        params = self.options.nsec3
        if params is not None:
            # A name of the zone that is also an NSEC3 owner shares its node with the hash's
            # record; rebuilding one would drop the other. Full signing merges them.
            for k in dirty:
                label = self._child_label(k)
                if label is not None and self.old.nsec3_map.find(label) is not None:
                    raise _FullInstead
        hashed = {k for k in resigned if self._is_hash_owner(k)}
        rebuild = dirty | (resigned - hashed)
        if params is None:
            for k in dirty:
                if k != okey:
                    rebuild.add(self.after.prev_authoritative(k))
        for k in sorted(rebuild):
            self.real_name(k)
        if params is not None:
            self._nsec3(params, dirty, {k[k.rfind(b"\x00") + 1 :] for k in hashed})
        order = sorted(range(len(self.deleted)), key=lambda i: self.deleted[i][0])
        deleted = tuple(self.deleted[i][1] for i in order)
        order = sorted(range(len(self.added)), key=lambda i: self.added[i][0])
        added = tuple(self.added[i][1] for i in order)
        new_soa = next(r for r in self.new_apex if r[1] == SOA)
        return Diff(self.old.soa, (new_soa[0], SOA, new_soa[2], new_soa[3]), deleted, added)

    def _child_label(self, key: bytes) -> bytes | None:
        """The label of a child of the apex, None for any other name."""
        if key == self.okey or not names.is_subdomain(key, self.okey):
            return None
        label = key[len(self.okey) + 1 :] if self.okey else key
        return None if b"\x00" in label else label

    def _is_hash_owner(self, key: bytes) -> bool:
        if self.options.nsec3 is None or self.after.version.index(key) is not None:
            return False
        return names.is_subdomain(key, self.okey) and key != self.okey

    # --- NSEC3 ----------------------------------------------------------------------

    def _hash_key(self, label: bytes) -> bytes:
        return self.okey + b"\x00" + label if self.okey else label

    def _entry(self, key: bytes) -> frozenset[int] | None:
        """The bitmap types of ``key``'s NSEC3 in the new zone, None when it has none."""
        after = self.after
        types = after.types(key)
        if types is None:
            # An empty non-terminal: no records, names below it, and not itself below a cut.
            if not after.version.exists(key) or after.occluder(key) is not None:
                return None
            return _nsec3_bitmap_types(None, frozenset())
        kind = after.kind(key)
        if kind is NameKind.OCCLUDED:
            return None
        if kind is NameKind.APEX:
            types = frozenset(r[1] for r in self.new_apex)
        params = self.options.nsec3
        assert params is not None
        if params.opt_out and kind is NameKind.DELEGATION and DS not in types:
            return None
        return _nsec3_bitmap_types(kind, types)

    def _nsec3(self, params: Nsec3Params, dirty: set[bytes], resigned: set[bytes]) -> None:
        okey = self.okey
        candidates = set(dirty)
        for k in dirty:
            candidates.update(ancestors(k, okey))
        base = self.old.nsec3_map
        bitmaps: dict[bytes, bytes] = {}
        added: dict[bytes, bytes] = {}  # label -> digest
        removed: set[bytes] = set()
        for key in candidates:
            digest = nsec3_hash(key_wire(key), params)
            label = hash_label(digest)
            was = base.find(label) is not None
            types = self._entry(key)
            if types is not None:
                if label in bitmaps:
                    raise SigningError("NSEC3 hash collision; choose another salt")
                bitmaps[label] = type_bitmap(types)
                if not was:
                    added[label] = digest
            elif was:
                removed.add(label)
        for label in (*added, *removed):
            hkey = self._hash_key(label)
            if self.after.types(hkey) is not None or self.before.types(hkey) is not None:
                raise _FullInstead
        chain = _Chain(base, removed, sorted(added))
        touched = set(bitmaps) | resigned
        for label in (*added, *removed):
            touched.add(chain.prev(label))
        flags = FLAG_OPT_OUT if params.opt_out else 0
        head = bytes((SHA1, flags)) + params.iterations.to_bytes(2, "big")
        head += bytes((len(params.salt),)) + params.salt + bytes((20,))
        for label in sorted(touched | removed):
            self._hash_node(label, head, chain, bitmaps, added, label in removed)

    def _hash_node(
        self,
        label: bytes,
        head: bytes,
        chain: _Chain,
        bitmaps: dict[bytes, bytes],
        digests: dict[bytes, bytes],
        removed: bool,
    ) -> None:
        key = self._hash_key(label)
        previous = self._old_node(key)
        old = [] if previous is None else previous[1]
        owner = b"\x20" + label + self.origin if previous is None else previous[0]
        if removed:
            self._emit(key, owner, old, [])
            return
        bitmap = bitmaps.get(label)
        if bitmap is None:
            # Only the next-owner field can have changed: the bitmap stays the old record's.
            rdata = next(rd for t, _, rd in old if t == NSEC3)
            bitmap = rdata[len(head) + 20 :]
        following = chain.next(label)
        digest = digests.get(following)
        if digest is None:
            digest = _label_digest(following)
        recs = [(owner, NSEC3, self.denial_ttl, head + digest + bitmap, 0)]
        self._emit(key, owner, old, self._signed(key, owner, NameKind.AUTH, recs, old))


class _Chain:
    """The new order of hashed owners: the old sorted labels, less some, plus some."""

    def __init__(self, base: ChunkedMap, removed: set[bytes], added: list[bytes]) -> None:
        self.base = base
        self.removed = removed
        self.added = added

    def next(self, label: bytes) -> bytes:
        got = self._after(label)
        return got if got is not None else self._after(b"")  # type: ignore[return-value]

    def prev(self, label: bytes) -> bytes:
        got = self._before(label)
        # Hashed labels are base32hex text: every one sorts below 0xff.
        return got if got is not None else self._before(b"\xff")  # type: ignore[return-value]

    def _after(self, label: bytes) -> bytes | None:
        base, removed = self.base, self.removed
        i = base.bisect_right(label)
        found = None
        while i < len(base):
            found = base.key_at(i)
            if found not in removed:
                break
            found = None
            i += 1
        j = bisect_right(self.added, label)
        if j < len(self.added) and (found is None or self.added[j] < found):
            found = self.added[j]
        return found

    def _before(self, label: bytes) -> bytes | None:
        base, removed = self.base, self.removed
        i = base.bisect_left(label) - 1
        found = None
        while i >= 0:
            found = base.key_at(i)
            if found not in removed:
                break
            found = None
            i -= 1
        j = bisect_left(self.added, label) - 1
        if j >= 0 and (found is None or self.added[j] > found):
            found = self.added[j]
        return found


@functools.lru_cache(maxsize=1024)
def _quick(order: tuple[int, ...]) -> tuple[frozenset[NameKind], tuple[int, ...]]:
    return checks.quick_check(order)


def _checked(recs: list[Record], kind: NameKind) -> list[Record]:
    """The records of a rebuilt name after the input checks full signing runs on every name
    (:func:`signwire.zones.snapshot.build`), so that both keep the same records: a repeat in
    canonical form (``NS A.example.`` beside ``NS a.example.``, one record by RFC 2181 §5) is
    dropped where the checks drop it. A name that cannot be signed raises
    :class:`~signwire.errors.ZoneDataError`, as it would in full."""
    order = tuple(r[1] for r in recs)
    fast, pairs = _quick(order)
    if kind in fast and all(
        recs[i][2] == recs[i + 1][2] and recs[i][3] != recs[i + 1][3] for i in pairs
    ):
        return recs
    problems = checks.Problems("<zone version>", 20)
    out = checks.check_name(recs, frozenset(order), kind, problems, [], strip_dnssec=False)
    problems.raise_if_any()
    return out


def _type_rdata(r: NodeRecord) -> tuple[int, bytes]:
    return (r[0], r[2])
