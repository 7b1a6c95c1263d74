"""Full signing: from an unsigned snapshot and a set of keys to the plan of a signed zone.

The plan is pure data: every owner name in canonical order with every record it will publish
(apex records replaced, NSEC or NSEC3 added, NSEC3 owners merged into canonical order), plus
the context a worker needs to sign and render them. Producing the RRSIGs and text is
:mod:`signwire.signing.context` (signatures) and :mod:`signwire.publication.zonetext` (text),
run in parallel by :mod:`signwire.runtime.signing_pool`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from operator import itemgetter

from dns.dnssectypes import Algorithm

from signwire.errors import SigningError, ZoneDataError
from signwire.signing import nsec, nsec3
from signwire.signing.apex import apex_records, denial_ttl
from signwire.signing.context import KeyUse, RenderContext, Unit
from signwire.signing.keyset import SigningKeys
from signwire.signing.options import SigningOptions
from signwire.signing.rrsig import SigTiming
from signwire.zones.names import to_text
from signwire.zones.rrtypes import CDNSKEY, CDS, DNSKEY, NSEC3PARAM, SOA
from signwire.zones.snapshot import ZoneSnapshot


@dataclass(slots=True)
class SigningPlan:
    units: list[Unit]
    context: RenderContext
    serial: int
    authoritative_names: int


def plan(
    snapshot: ZoneSnapshot,
    keys: SigningKeys,
    options: SigningOptions,
    now: int,
    *,
    previous_serial: int | None = None,
) -> SigningPlan:
    """The plan of the signed zone. It takes over the snapshot (NSEC records are appended to
    the snapshot's own record lists), so sign a snapshot once."""
    keys.check(snapshot.origin)
    problem = options.time_problem(now)
    if problem is not None:
        raise SigningError(problem)
    if options.nsec3 is not None:
        nsec3.check_origin(snapshot.origin, snapshot.path)
    _check_foreign_dnskeys(snapshot, keys)
    if options.dnskey_ttl is None and snapshot.stripped_dnskey_ttl is not None:
        options = dataclasses.replace(options, dnskey_ttl=snapshot.stripped_dnskey_ttl)
    names = list(snapshot.names)
    if options.max_ttl is not None:
        names = _cap_ttls(names, options.max_ttl)
    apex_key, apex_kind, apex_recs = names[0]
    new_apex, serial = apex_records(apex_recs, keys, options, now, previous_serial)
    names[0] = (apex_key, apex_kind, new_apex)
    ttl = denial_ttl(next(r for r in new_apex if r[1] == SOA))

    units: list[Unit]
    if options.nsec3 is None:
        units = nsec.add_chain(names, ttl)
    else:
        try:
            chain = nsec3.build_chain(names, snapshot.origin, options.nsec3, ttl)
        except ValueError as e:
            raise SigningError(str(e)) from None
        # Two sorted runs: Timsort merges them in one linear pass, in C.
        units = names + chain
        units.sort(key=itemgetter(0))

    jitter = options.effective_jitter
    dnskey_validity = options.dnskey_validity or options.validity
    context = RenderContext(
        origin=snapshot.origin,
        zone_keys=tuple(KeyUse(k.algorithm, k.key_tag, k.signer) for k in keys.zone_signers),
        key_keys=tuple(KeyUse(k.algorithm, k.key_tag, k.signer) for k in keys.key_signers),
        timing=SigTiming(now - options.inception_offset, now + options.validity, jitter),
        key_timing=SigTiming(
            now - options.inception_offset, now + dnskey_validity, min(jitter, dnskey_validity // 4)
        ),
    )
    return SigningPlan(units, context, serial, snapshot.authoritative)


def _check_foreign_dnskeys(snapshot: ZoneSnapshot, keys: SigningKeys) -> None:
    """Refuse a DNSKEY of the input whose algorithm none of the keys signs with.

    The signer republishes the input's DNSKEYs beside its own; one of an algorithm it holds no
    key for would be in the DNSKEY RRset while nothing in the zone carries a signature of that
    algorithm, which RFC 4035 §2.2 forbids and validators may reject. (The RRSIGs of a
    multi-signer zone, which would make it right, come from another signer.)
    """
    # An algorithm signs the whole zone when it signs both the zone's data and its keys.
    held = {k.algorithm for k in keys.zone_signers} & {k.algorithm for k in keys.key_signers}
    for rec in snapshot.apex[2]:
        if rec[1] != DNSKEY:
            continue
        algorithm = rec[3][3] if len(rec[3]) > 3 else 0
        if algorithm not in held:
            have = ", ".join(sorted(Algorithm.to_text(a) for a in held))
            raise ZoneDataError(
                f"DNSKEY of algorithm {Algorithm.to_text(algorithm)} at {to_text(rec[0])}, but"
                f" the zone's keys are {have}: every algorithm of the DNSKEY RRset must sign the"
                " whole zone (RFC 4035 §2.2). Remove that DNSKEY, or sign with --strip-dnssec to"
                " drop the input's DNSKEY, CDS and CDNSKEY records",
                path=snapshot.path,
                line=rec[4] or None,
            )


# Apex records only a signed zone has; the input's own (a foreign DNSKEY, a CDS) go too.
_SIGNED_ONLY_APEX_TYPES = frozenset({DNSKEY, CDS, CDNSKEY, NSEC3PARAM})


def plan_unsigned(
    snapshot: ZoneSnapshot, options: SigningOptions, now: int, previous_serial: int | None
) -> SigningPlan:
    """The zone with no DNSSEC record at all, for a zone a policy took insecure: the SOA with
    the serial rule applied (its expire and minimum as the zone file says: the policy only set
    them for its signatures' sake), every other record as it came. Rendered by the same workers
    with no keys, so no RRSIG is made."""
    units = list(snapshot.names)
    apex_key, apex_kind, apex_recs = units[0]
    plain = dataclasses.replace(options, nsec3=None, soa_expire=None, soa_minimum=None)
    new_apex, serial = apex_records(apex_recs, SigningKeys((), (), ()), plain, now, previous_serial)
    units[0] = (apex_key, apex_kind, [r for r in new_apex if r[1] not in _SIGNED_ONLY_APEX_TYPES])
    never = SigTiming(now, now, 0)
    context = RenderContext(snapshot.origin, (), (), never, never)
    return SigningPlan(units, context, serial, snapshot.authoritative)


def _cap_ttls(names: list[Unit], ceiling: int) -> list[Unit]:
    # A policy's rollover timing assumes no signed data is cached longer than its max TTL;
    # serving a longer TTL would let a resolver outlive a key. Capping keeps that promise.
    out = []
    for key, kind, recs in names:
        if any(r[2] > ceiling for r in recs):
            recs = [(o, t, min(ttl, ceiling), d, ln) for o, t, ttl, d, ln in recs]
        out.append((key, kind, recs))
    return out
