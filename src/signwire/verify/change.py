"""Verifying what changed between two signed versions of a zone (the daemon's review).

An incremental signer changes a few RRsets, their signatures and the NSEC or NSEC3 records
around them; checking the whole zone again for each version would cost as much as a full
signing. :func:`verify_change` checks, in the new version:

* the apex keys (always: every signature depends on them), and the DNSKEY RRset's signatures
  when the apex changed;
* every RRset that differs from the old version (data or signatures), as the full check does
  (RFC 4035 §5.3.1, RFC 6840 §5.11), and the records of each changed name (duplicates, TTLs);
* the denial neighbourhood of each changed name: with NSEC, the NSEC of the name and of its
  predecessor in the chain (next name, type bitmap, TTL, signature); with NSEC3, the NSEC3 of
  the name's hash and of the hash before it, or, for a name gone, the NSEC3 that now covers it.

Reading both versions is linear in their size (an index, as the lean path keeps it); the checks
are proportional to the change, and :class:`ChangeReport` counts them. When the lean checks
doubt, the new version is verified in full, and that report says what is wrong.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import dns.name

from signwire.verify.anchors import TrustAnchor
from signwire.verify.lean import (
    DNSKEY,
    NSEC,
    NSEC3,
    Shape,
    check_name,
    check_placement,
    check_signed_rrset,
    classify,
    denial_ttl,
    load_keys,
    sort_key,
)
from signwire.verify.lean import _check_nsec3 as check_nsec3_records
from signwire.verify.lean import _check_trust as check_trust
from signwire.verify.lean import _nsec_types as nsec_types
from signwire.verify.lean_reader import RRSIG, LeanZone, Record, check_records, read_lean
from signwire.verify.lean_wire import Codec, Doubt
from signwire.verify.report import Counts, VerifyReport
from signwire.verify.zone_verifier import DEFAULT_WARN_HORIZON, verify_text


@dataclass
class ChangeReport:
    ok: bool
    changed_names: list[str]
    """Owner names whose records differ between the versions (added, removed or changed)."""
    counts: Counts = field(default_factory=Counts)
    """What the change checks covered: RRsets and signatures checked, NSEC/NSEC3 records."""
    full: VerifyReport | None = None
    """The full verification of the new version, when the change checks could not vouch."""
    doubt: str = ""
    """Why the change checks could not vouch for the new version."""


def verify_change(
    old_text: str,
    new_text: str,
    origin: str | dns.name.Name,
    *,
    now: int,
    anchors: list[TrustAnchor] | None = None,
    warn_horizon: int = DEFAULT_WARN_HORIZON,
) -> ChangeReport:
    """Check the RRsets of ``new_text`` that differ from ``old_text``, and their denial records.

    ``old_text`` is a version verified before; only what changed is checked again.
    """
    origin_text = origin.to_text() if isinstance(origin, dns.name.Name) else origin
    changed: list[str] = []
    counts = Counts()
    try:
        old = read_lean(old_text, origin_text)
        new = read_lean(new_text, origin_text)
        changed = _changed_names(old, new)
        _check_change(old, new, changed, counts, now, warn_horizon, anchors)
    except Doubt as e:
        full = verify_text(new_text, origin, now=now, anchors=anchors, warn_horizon=warn_horizon)
        return ChangeReport(full.ok, changed, counts, full, str(e))
    return ChangeReport(True, changed, counts)


def _changed_names(old: LeanZone, new: LeanZone) -> list[str]:
    changed = [n for n in old.nodes if n not in new.nodes]
    for name, node in new.nodes.items():
        before = old.nodes.get(name)
        if before is None or (
            _text(old, before.spans) != _text(new, node.spans)
            and sorted(old.records(name)) != sorted(new.records(name))
        ):
            changed.append(name)
    return sorted(changed, key=sort_key)


def _text(zone: LeanZone, spans: list[int]) -> str:
    return "".join(zone.text[spans[i] : spans[i + 1]] for i in range(0, len(spans), 2))


def _changed_types(old: LeanZone, new: LeanZone, name: str, recs: list[Record]) -> set[int]:
    """Types at ``name`` whose records or signatures differ between the versions."""
    before = old.records(name) if name in old.nodes else []

    def by_type(records: list[Record]) -> dict[int, set[Record]]:
        out: dict[int, set[Record]] = {}
        for r in records:
            t = new.type_number(r[2].split(None, 1)[0]) if r[0] == RRSIG else r[0]
            out.setdefault(t, set()).add(r)
        return out

    a, b = by_type(before), by_type(recs)
    return {t for t in a.keys() | b.keys() if a.get(t) != b.get(t)}


def _check_change(
    old: LeanZone,
    new: LeanZone,
    changed: list[str],
    counts: Counts,
    now: int,
    warn_horizon: int,
    anchors: list[TrustAnchor] | None,
) -> None:
    origin = new.origin
    if origin not in new.nodes:
        raise Doubt("nothing at the apex")
    shape = classify(new)
    codec = Codec(origin, dns.name.from_text(origin), new.type_number)
    apex = new.records(origin)
    keys = load_keys(codec, apex)
    if origin in changed:
        signers, n = check_signed_rrset(codec, keys, origin, apex, DNSKEY, now, warn_horizon)
        counts.rrsets_checked += 1
        counts.signatures_checked += n
        check_trust(new, codec, keys, signers, anchors)
        check_placement(shape, origin)
    for name in changed:
        if name not in new.nodes:
            continue
        recs = new.records(name)
        check_records(name, recs)
        types = shape.types[name]
        if name in shape.occluded:
            if RRSIG in types:
                raise Doubt(f"{name}: signature below a zone cut or DNAME")
            continue
        wanted = _changed_types(old, new, name, recs)
        # The checks of a name are those of its RRsets; keep only the changed ones.
        kept = [r for r in recs if r[0] != RRSIG and r[0] in wanted]
        kept += [r for r in recs if r[0] == RRSIG and new.type_number(r[2].split()[0]) in wanted]
        if name == origin:
            kept = [r for r in kept if r[0] != DNSKEY and not _covers_dnskey(r)]
        r, s = check_name(new, shape, codec, keys, name, kept, now, warn_horizon)
        counts.rrsets_checked += r
        counts.signatures_checked += s
    ttl = denial_ttl(apex)
    if NSEC in shape.types.get(origin, frozenset()):
        _nsec_neighbourhood(new, shape, codec, changed, counts, ttl)
    else:
        # The NSEC3 chain is ordered by hash, so its links and its match with the names are
        # checked whole (hashes and text, no signature: those of the NSEC3 records that
        # changed were checked above with the other changed RRsets).
        with_nsec3 = [n for n in shape.order if NSEC3 in shape.types[n]]
        check_nsec3_records(new, shape, codec, counts, ttl, with_nsec3)


def _covers_dnskey(record: Record) -> bool:
    return record[0] == RRSIG and record[2].split(None, 1)[0].upper() == "DNSKEY"


def _nsec_neighbourhood(
    zone: LeanZone, shape: Shape, codec: Codec, changed: list[str], counts: Counts, ttl: int
) -> None:
    """The NSEC records at and before each changed name: next name, bitmap and TTL.

    Their signatures are checked with the changed RRsets when they changed, and were valid in
    the old version when they did not.
    """
    chain = shape.authoritative
    at = {name: i for i, name in enumerate(chain)}
    keys = [sort_key(n) for n in chain]
    affected: set[int] = set()
    for name in changed:
        i = at.get(name)
        if i is None:
            if name in zone.nodes and NSEC in shape.types[name]:
                raise Doubt(f"{name}: NSEC at a name that must not have one")
            # A name gone or not authoritative: the NSEC before its place must now skip it.
            affected.add((bisect.bisect_left(keys, sort_key(name)) - 1) % len(chain))
            continue
        affected.update({i, (i - 1) % len(chain)})
    for i in sorted(affected):
        name = chain[i]
        found = [r for r in zone.nodes[name].denial if r[0] == NSEC]
        if len(found) != 1:
            raise Doubt(f"{name}: not one NSEC")
        _, rttl, text = found[0]
        counts.nsec_records += 1
        f = text.split(None, 1)
        nxt = chain[(i + 1) % len(chain)]
        if rttl != ttl or not f or codec.absolute(f[0].lower()) != nxt:
            raise Doubt(f"{name}: NSEC next name or TTL")
        types = {zone.type_number(w) for w in (f[1].split() if len(f) == 2 else [])}
        if types != nsec_types(shape, name) | {RRSIG, NSEC}:
            raise Doubt(f"{name}: NSEC type bitmap")
