"""Full signing: from an unsigned snapshot and a set of keys to the plan of a signed zone.

The plan is pure data: every owner name in canonical order with every record it will publish
(apex records replaced, NSEC or NSEC3 added, NSEC3 owners merged into canonical order), plus
the context a worker needs to sign and render them. Producing the RRSIGs and text is
:mod:`signwire.signing.render`'s job, run in parallel by :mod:`signwire.runtime.signing_pool`.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from operator import itemgetter

from signwire.errors import SigningError
from signwire.keys.model import ZoneKey
from signwire.signing import nsec, nsec3
from signwire.signing.apex import apex_records, denial_ttl
from signwire.signing.options import SigningOptions
from signwire.signing.render import KeyUse, RenderContext, Unit
from signwire.signing.rrsig import SigTiming
from signwire.zones.kinds import NameKind
from signwire.zones.names import to_text
from signwire.zones.snapshot import ZoneSnapshot


@dataclass(slots=True)
class SigningPlan:
    units: list[Unit]
    context: RenderContext
    serial: int
    authoritative_names: int


def check_keys(origin: bytes, keys: list[ZoneKey]) -> None:
    """Every algorithm must have a key for the DNSKEY RRset and a key for the data."""
    if not keys:
        raise SigningError(f"no keys for {to_text(origin)}")
    for k in keys:
        if k.origin.lower() != origin.lower():
            raise SigningError(
                f"key {k.source} belongs to {to_text(k.origin)}, not {to_text(origin)}"
            )
    for alg in {k.algorithm for k in keys}:
        mine = [k for k in keys if k.algorithm == alg]
        if not any(k.signs_keys for k in mine):
            raise SigningError(f"algorithm {alg} has no key-signing key (KSK or CSK)")
        if not any(k.signs_zone for k in mine):
            raise SigningError(f"algorithm {alg} has no zone-signing key (ZSK or CSK)")


def plan(
    snapshot: ZoneSnapshot, keys: list[ZoneKey], options: SigningOptions, now: int
) -> SigningPlan:
    check_keys(snapshot.origin, keys)
    names = list(snapshot.names)
    apex_key, apex_kind, apex_recs = names[0]
    new_apex, serial = apex_records(apex_recs, keys, options, now)
    names[0] = (apex_key, apex_kind, new_apex)
    ttl = denial_ttl(snapshot.soa)

    units: list[Unit]
    if options.nsec3 is None:
        units = nsec.add_chain(names, ttl)
    else:
        try:
            chain = nsec3.build_chain(names, snapshot.origin, options.nsec3, ttl)
        except ValueError as e:
            raise SigningError(str(e)) from None
        units = list(heapq.merge(names, chain, key=itemgetter(0)))

    timing = SigTiming(
        inception=now - options.inception_offset,
        expiration=now + options.validity,
        jitter=options.effective_jitter,
    )
    context = RenderContext(
        origin=snapshot.origin,
        zone_keys=tuple(KeyUse(k.algorithm, k.key_tag, k.signer) for k in keys if k.signs_zone),
        key_keys=tuple(KeyUse(k.algorithm, k.key_tag, k.signer) for k in keys if k.signs_keys),
        timing=timing,
    )
    authoritative = sum(1 for _, kind, _ in snapshot.names if kind is not NameKind.OCCLUDED)
    return SigningPlan(units, context, serial, authoritative)
