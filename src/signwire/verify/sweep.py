"""The lean path's engine: one pass over the text, cut between forked workers.

The zone's text is read once, in parts: the apex first, in this process (its keys and denial
TTL are what every check needs), then the file is cut into as many ranges as there are workers,
each at a line where a new owner starts, and each range is read by one process (this one takes
the first; the others are forked, so they inherit the text and nothing is pickled to them).

A worker checks, for each run of lines of one owner, everything that can be checked from that
name alone, and keeps nothing of its records: the reading checks of :func:`check_records`, every
RRSIG against its RRset (RFC 4035 §5.3.1) and that the signed types are exactly those a name
with NS (a delegation) or without signs, the NSEC or NSEC3 record's own fields, and the NSEC3
hash of the name. It sends back, per name, only its types and what the chains need.

This process then decides what depends on the whole zone (:func:`~signwire.verify.lean.shape_of`:
zone cuts, occluded names, empty non-terminals), that names without signatures are exactly
those that need none, and the NSEC or NSEC3 chain.

Files whose owners' lines are not all together (Knot writes every signature after all the
data; an apex that is not the first name) are indexed first and checked as before
(:func:`~signwire.verify.lean.indexed_verdict`); a part that cannot be read on its own (a cut
inside a record that spans lines) makes this process read the whole file alone.
"""

from __future__ import annotations

import gc
import itertools
import re
from dataclasses import dataclass, field

import dns.name

from signwire.verify import lean as _lean
from signwire.verify.anchors import TrustAnchor
from signwire.verify.lean_reader import (
    RRSIG,
    SINGLETONS,
    LeanZone,
    Record,
    check_records,
    read_lean,
)
from signwire.verify.lean_reader import read_runs as _read_runs
from signwire.verify.lean_wire import Codec, Doubt
from signwire.verify.report import Counts
from signwire.verify.workers import run_parts

NS = 2
SOA = 6
DS = 43
NSEC = 47
DNSKEY = 48
NSEC3 = 50
NSEC3PARAM = 51
_NOT_DATA = frozenset({NSEC, NSEC3, RRSIG})
_DELEGATION_SIGNED = frozenset({DS, NSEC})
_NSEC_ALWAYS = frozenset({RRSIG, NSEC})
OPT_OUT = 0x01

_FIRST_WORD = re.compile(r"\S+")
_NSEC3_FLAGS = re.compile(r"\sNSEC3\s+1\s+(\d+)\s")


class _Stop(Exception):
    """The apex's records are read: stop reading."""


class _Scattered(Exception):
    """The lines of some owner are not all together: the zone must be indexed first."""


@dataclass
class Part:
    """What one worker sends back: per name in file order, and sums."""

    names: list[str] = field(default_factory=list)
    types: list[frozenset[int]] = field(default_factory=list)
    nsec: dict[str, tuple[str, frozenset[int]]] = field(default_factory=dict)
    """NSEC owner → (next name, absolute and lowercased; type bitmap)."""
    nsec3: list[tuple[bytes, bytes, int, frozenset[int]]] = field(default_factory=list)
    """(owner hash, next hash, flags, type bitmap) of each NSEC3 record."""
    hashes: dict[str, bytes] = field(default_factory=dict)
    """NSEC3 hash (no salt, no extra iteration) of names that may need an NSEC3."""
    failure: str | None = None
    """The first check that failed (the rest of the part is read, not checked)."""
    unreadable: str | None = None
    """Why the part could not be read (then nothing else of it counts)."""
    in_order: bool = True
    """The names are in canonical order (RFC 4034 §6.1)."""
    first_key: str = ""
    last_key: str = ""
    rrsets: int = 0
    sigs: int = 0


class _Context:
    """What every worker knows before it starts: the apex's keys and the zone's parameters."""

    def __init__(
        self,
        zone: LeanZone,
        codec: Codec,
        keys: _lean.Keys,
        *,
        now: int,
        warn_horizon: int,
        ttl: int,
        nsec3: bool,
        opt_out: bool,
    ) -> None:
        self.zone = zone
        self.codec = codec
        self.keys = keys
        self.now = now
        self.warn_horizon = warn_horizon
        self.ttl = ttl
        self.nsec3 = nsec3
        self.opt_out = opt_out
        """A guess from the first NSEC3 record: which names to hash in advance."""
        self.origin = zone.origin
        self.suffix = "." + zone.origin if zone.origin != "." else "."
        self.interned: dict[frozenset[int], frozenset[int]] = {}
        self.bitmaps: dict[str, frozenset[int]] = {}
        self.covers: dict[str, int] = {}

    def read(self, begin: int, end: int) -> Part:
        part = Part()
        names = part.names
        types_out = part.types
        interned = self.interned
        hashing = self.nsec3
        hash_cuts = not self.opt_out
        last_key = ""
        in_order = True

        def sink(name: str, recs: list[Record]) -> None:
            nonlocal last_key, in_order
            found = frozenset([r[0] for r in recs])
            types = interned.get(found)
            if types is None:
                types = interned[found] = found
            if part.failure is None:
                try:
                    check(name, recs, types)
                except Doubt as e:
                    # Kept, not raised: it may only mean that this owner has lines elsewhere
                    # too, which the names of every part, put together, will tell.
                    part.failure = str(e)
            key = "\x00".join(reversed(name[:-1].split(".")))
            if key <= last_key:
                in_order = False
            last_key = key
            names.append(name)
            types_out.append(types)

        def check(name: str, recs: list[Record], types: frozenset[int]) -> None:
            if len(recs) > len(types):
                first, second = recs[0], recs[1]
                # The common case without a call: one type has two records, the first two
                # (a delegation's NS records), with one TTL and different data.
                if (
                    len(recs) - len(types) != 1
                    or first[0] != second[0]
                    or first[1] != second[1]
                    or first[2].lower() == second[2].lower()
                    or first[0] in SINGLETONS
                ):
                    check_records(name, recs)
            if RRSIG in types:
                r, s = self.check_name(name, recs, types)
                part.rrsets += r
                part.sigs += s
            if NSEC in types:
                part.nsec[name] = self.nsec_of(name, recs)
            if NSEC3 in types:
                part.nsec3.append(self.nsec3_of(name, recs))
            if hashing and (RRSIG in types or (hash_cuts and NS in types)) and types - _NOT_DATA:
                # Names an opt-out chain may leave out (unsigned delegations) are hashed later,
                # and only if the chain needs them; names below a cut need none.
                part.hashes[name] = _lean.nsec3_hash(name, b"", 0)

        try:
            _read_runs(self.zone, begin, end, sink)
        except Doubt as e:
            part.unreadable = str(e)
        if names:
            part.first_key = _lean.sort_key(names[0])
        part.last_key = last_key
        part.in_order = in_order
        return part

    def check_name(self, name: str, recs: list[Record], types: frozenset[int]) -> tuple[int, int]:
        """Check every RRSIG at ``name``, and that they cover exactly the types to be signed
        there: (RRsets, RRSIGs) checked. Where that depends on the whole zone (a name below a
        cut has no signature at all), the caller checks it."""
        data: dict[int, list[str]] = {}
        sigs: dict[int, list[tuple[int, str]]] = {}
        ttls: dict[int, int] = {}
        covers = self.covers
        for t, ttl, text in recs:
            if t == RRSIG:
                word = text.split(None, 1)[0]
                covered = covers.get(word)
                if covered is None:
                    covered = covers[word] = self.zone.type_number(word)
                found = sigs.get(covered)
                if found is None:
                    sigs[covered] = [(ttl, text)]
                else:
                    found.append((ttl, text))
            else:
                rdatas = data.get(t)
                if rdatas is None:
                    data[t] = [text]
                    ttls[t] = ttl
                else:
                    rdatas.append(text)
        apex = name == self.origin
        if NS in types and not apex:
            signed = [t for t in data if t in _DELEGATION_SIGNED]
        else:
            signed = list(data)
        if len(sigs) != len(signed) or any(t not in sigs for t in signed):
            raise Doubt(f"{name}: an RRSIG missing, or over a type absent or not to be signed")
        count = 0
        for rdtype in signed:
            if rdtype == DNSKEY and apex:
                continue  # checked first, apart
            count += len(
                _lean.check_rrset(
                    self.codec,
                    self.keys,
                    name,
                    rdtype,
                    ttls[rdtype],
                    data[rdtype],
                    sigs[rdtype],
                    self.now,
                    self.warn_horizon,
                )
            )
        return len(signed) - (1 if apex and DNSKEY in data else 0), count

    def _bitmap(self, words: str) -> frozenset[int]:
        types = self.bitmaps.get(words)
        if types is None:
            types = self.bitmaps[words] = frozenset(self.zone.type_number(w) for w in words.split())
        return types

    def nsec_of(self, name: str, recs: list[Record]) -> tuple[str, frozenset[int]]:
        found = [r for r in recs if r[0] == NSEC]
        if len(found) != 1:
            raise Doubt(f"{name}: not exactly one NSEC")
        _, rttl, text = found[0]
        if rttl != self.ttl:
            raise Doubt(f"{name}: NSEC TTL")
        f = text.split(None, 1)
        if not f:
            raise Doubt(f"{name}: NSEC next name")
        nxt = f[0].lower()
        if not nxt.endswith("."):
            nxt = self.codec.absolute(nxt)
        return nxt, self._bitmap(f[1] if len(f) == 2 else "")

    def nsec3_of(self, name: str, recs: list[Record]) -> tuple[bytes, bytes, int, frozenset[int]]:
        found = [r for r in recs if r[0] == NSEC3]
        if len(found) != 1:
            raise Doubt(f"{name}: not exactly one NSEC3")
        _, rttl, text = found[0]
        suffix = self.suffix
        label = name[: -len(suffix)]
        if rttl != self.ttl or not name.endswith(suffix) or "." in label:
            raise Doubt(f"{name}: NSEC3 owner or TTL")
        f = text.split(None, 5)
        if len(f) < 5 or f[0] != "1" or f[2] != "0" or f[3] != "-" or f[1] not in ("0", "1"):
            raise Doubt(f"{name}: NSEC3 parameters or flags")
        types = self._bitmap(f[5] if len(f) == 6 else "")
        return _lean.b32_digest(label), _lean.b32_digest(f[4].lower()), int(f[1]), types


def sweep_verdict(
    text: str,
    origin: str,
    *,
    now: int,
    warn_horizon: int,
    anchors: list[TrustAnchor] | None,
    workers: int,
    parallel_min: int,
) -> _lean.Verdict:
    """Vouch for the zone in ``text`` (return the counts) or raise :class:`Doubt`."""
    origin = origin.lower()
    if not origin.endswith("."):
        origin += "."
    count = workers if text.count("\n", 0, parallel_min * 100) >= parallel_min else 1
    # Hundreds of thousands of small objects and no reference cycles: the collector would only
    # walk them again and again (3 % of the time on 100k names).
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            return _sweep(text, origin, now, warn_horizon, anchors, count)
        except _Unreadable:
            # Perhaps only a cut inside a record that spans lines: read it whole.
            return _sweep(text, origin, now, warn_horizon, anchors, 1)
    except _Scattered:
        if collecting:
            gc.enable()
        return _lean.indexed_verdict(
            read_lean(text, origin),
            now=now,
            warn_horizon=warn_horizon,
            anchors=anchors,
            workers=count,
        )
    finally:
        if collecting:
            gc.enable()


class _Unreadable(Exception):
    """A part, read on its own, could not be read."""


def _sweep(
    text: str,
    origin: str,
    now: int,
    warn_horizon: int,
    anchors: list[TrustAnchor] | None,
    count: int,
) -> _lean.Verdict:
    zone = LeanZone(origin, text)
    apex = _apex_records(zone)
    if not any(r[0] == RRSIG for r in apex):
        raise _Scattered  # the apex is signed, so its signatures are elsewhere
    codec = Codec(origin, dns.name.from_text(origin), zone.type_number)
    apex_types = frozenset(r[0] for r in apex)
    if SOA not in apex_types or NS not in apex_types or DNSKEY not in apex_types:
        raise Doubt("the apex lacks SOA, NS or DNSKEY")
    keys = _lean.load_keys(codec, apex)
    ttl = _lean.denial_ttl(apex)
    signers, n = _lean.check_signed_rrset(codec, keys, origin, apex, DNSKEY, now, warn_horizon)
    if not n:
        raise Doubt("the DNSKEY RRset is not signed")
    _lean.check_trust(apex, codec, keys, signers, anchors)
    nsec3 = NSEC3PARAM in apex_types
    if nsec3:
        params = [r for r in apex if r[0] == NSEC3PARAM]
        if len(params) != 1 or params[0][2].split() != ["1", "0", "0", "-"]:
            # Iterations or a salt draw an RFC 9276 warning; other values are errors.
            raise Doubt("NSEC3PARAM other than 1 0 0 -")
    first = _NSEC3_FLAGS.search(text) if nsec3 else None
    opt_out = first is not None and bool(int(first.group(1)) & OPT_OUT)
    context = _Context(
        zone,
        codec,
        keys,
        now=now,
        warn_horizon=warn_horizon,
        ttl=ttl,
        nsec3=nsec3,
        opt_out=opt_out,
    )
    cuts = _cuts(text, count)
    parts = run_parts(context.read, list(itertools.pairwise(cuts)))
    for part in parts:
        if part.unreadable is not None:
            if len(parts) > 1:
                raise _Unreadable
            raise Doubt(part.unreadable)

    counts = Counts(rrsets_checked=1, signatures_checked=n)
    names: list[str] = []
    all_types: list[frozenset[int]] = []
    in_order = True
    previous = ""
    for part in parts:
        names += part.names
        all_types += part.types
        counts.rrsets_checked += part.rrsets
        counts.signatures_checked += part.sigs
        if part.names:
            in_order = in_order and part.in_order and previous < part.first_key
            previous = part.last_key
    types = dict(zip(names, all_types, strict=True))
    if len(types) != len(names):
        raise _Scattered
    del all_types
    for part in parts:
        if part.failure is not None:
            raise Doubt(part.failure)
    order = names if in_order else sorted(names, key=_lean.sort_key)
    shape = _lean.shape_of(origin, order, types)
    _lean.check_placement(shape, origin)
    _check_unsigned(shape)
    denial = _check_denial(shape, origin, parts, counts, nsec3)
    return _lean.Verdict(counts, denial, signers)


def _apex_records(zone: LeanZone) -> list[Record]:
    """The records of the first owner, which must be the apex."""
    found: list[Record] = []

    def sink(name: str, recs: list[Record]) -> None:
        if name != zone.origin:
            raise _Scattered  # or nothing at the apex: the index will tell
        found.extend(recs)
        raise _Stop

    try:
        _read_runs(zone, 0, len(zone.text), sink)
    except _Stop:
        return found
    raise Doubt("nothing at the apex")


def _cuts(text: str, count: int) -> list[int]:
    """``count`` + 1 offsets: 0, then where a line starts a new owner near each equal share of
    the text, then the end."""
    size = len(text)
    cuts = [0]
    for i in range(1, count):
        cut = _owner_change_after(text, size * i // count)
        if cut > cuts[-1]:
            cuts.append(cut)
    cuts.append(size)
    return cuts


def _owner_change_after(text: str, pos: int) -> int:
    """The start of the first line after ``pos`` that names an owner other than the line that
    named one before it (both at the start of their line)."""
    previous = None
    while True:
        nl = text.find("\n", pos)
        if nl < 0:
            return len(text)
        pos = nl + 1
        if pos >= len(text) or text[pos] in " \t\r\n;$()":
            continue
        m = _FIRST_WORD.match(text, pos)
        if m is None:
            continue
        word = m.group()
        if previous is not None and word != previous:
            return pos
        previous = word


def _check_unsigned(shape: _lean.Shape) -> None:
    """Names without an RRSIG are exactly those that need none: below a zone cut or a DNAME,
    or a delegation without DS (and without NSEC)."""
    occluded = shape.occluded
    delegations = shape.delegations
    for name, types in shape.types.items():
        if RRSIG in types:
            if name in occluded:
                raise Doubt(f"{name}: signature below a zone cut or DNAME")
        elif name not in occluded and (name not in delegations or types & _DELEGATION_SIGNED):
            raise Doubt(f"{name}: an RRset without RRSIG")


def _check_denial(
    shape: _lean.Shape, origin: str, parts: list[Part], counts: Counts, nsec3: bool
) -> str:
    nsec: dict[str, tuple[str, frozenset[int]]] = {}
    entries: list[tuple[bytes, bytes, int, frozenset[int]]] = []
    hashes: dict[str, bytes] = {}
    for part in parts:
        nsec.update(part.nsec)
        entries += part.nsec3
        hashes.update(part.hashes)
    if nsec and (entries or nsec3):
        raise Doubt("both NSEC and NSEC3")
    if nsec:
        _check_nsec(shape, nsec, counts)
        return "NSEC"
    if entries and nsec3:
        _check_nsec3(shape, entries, hashes, counts)
        return "NSEC3"
    raise Doubt("no complete denial chain")


def _check_nsec(
    shape: _lean.Shape, nsec: dict[str, tuple[str, frozenset[int]]], counts: Counts
) -> None:
    chain = shape.authoritative
    if len(nsec) != len(chain):
        raise Doubt("NSEC records and authoritative names differ")
    last = len(chain) - 1
    delegations = shape.delegations
    types = shape.types
    for i, name in enumerate(chain):
        found = nsec.get(name)
        if found is None:
            raise Doubt(f"{name}: no NSEC")
        nxt, bitmap = found
        if nxt != (chain[i + 1] if i < last else chain[0]):
            raise Doubt(f"{name}: NSEC next name")
        node = types[name]
        expected = node & {NS, DS} if name in delegations else node - _NOT_DATA
        if bitmap != expected | _NSEC_ALWAYS:
            raise Doubt(f"{name}: NSEC type bitmap")
    counts.nsec_records += len(chain)


def _check_nsec3(
    shape: _lean.Shape,
    records: list[tuple[bytes, bytes, int, frozenset[int]]],
    hashes: dict[str, bytes],
    counts: Counts,
) -> None:
    counts.nsec3_records += len(records)
    entries = {digest: (flags, types) for digest, _, flags, types in records}
    if len(entries) != len(records):
        raise Doubt("two NSEC3 records with one hashed owner")
    records.sort()
    size = len(records)
    for i, (_, nxt, _, _) in enumerate(records):
        if nxt != records[(i + 1) % size][0]:
            raise Doubt("NSEC3 next hashed owner")
    flags = {flags for _, _, flags, _ in records}
    if len(flags) > 1:
        raise Doubt("Opt-Out on some NSEC3 records only")
    opt_out = bool(flags.pop() & OPT_OUT)
    optional = shape.opt_out_optional if opt_out else set()
    ents = set(shape.ents)
    names = [*shape.authoritative, *shape.ents]
    seen: set[bytes] = set()
    required = [n for n in names if n not in optional]
    used = _lean._match_nsec3(shape, entries, ents, required, seen, optional=False,
                              known=hashes)
    if used < len(entries):
        extra = [n for n in names if n in optional]
        used += _lean._match_nsec3(shape, entries, ents, extra, seen, optional=True,
                                   known=hashes)
    if used != len(entries):
        raise Doubt("NSEC3 records for names that need none")


