"""When may a key record change state? The rules, as pure functions of the key states.

A change (of one record, or of several that must move together, such as a key's DNSKEY and its
signature over the DNSKEY RRset) is allowed only if all of these hold:

1. **Rollover method** (:func:`method_reason`): the order in which a rollover introduces
   records, e.g. a ZSK signs only once its DNSKEY is everywhere (pre-publication), a KSK's DS is
   requested only once its DNSKEY is everywhere (double-KSK) or before it (double-DS), and a new
   algorithm's signatures are everywhere before its DNSKEYs appear (RFC 6781 §4.1.4).
2. **DNSSEC safety** (:func:`unsafe_reason`): the three rules of "Flexible and Robust Key
   Rollover" (Van Mook, Mekking et al.; OpenDNSSEC 2 and BIND's dnssec-policy follow them):

   * rule 1: there is always a DS at the parent (once there was one), except when the policy
     takes the zone insecure: then "no DS at all" is the goal, and rules 2 and 3 keep every
     other record in place until no DS can be cached (:func:`unsafe_reason`);
   * rule 2: for each algorithm with a DS at the parent, every cached DS RRset leads to a
     DNSKEY that signed every cached DNSKEY RRset;
   * rule 3: for each algorithm with a DS at the parent, every cached RRset carries a signature
     by a key in every cached DNSKEY RRset.

   plus two invariants that keep strict validators content once the zone is signed (RFC 4035
   §2.2: every algorithm in the DNSKEY RRset signs the DNSKEY RRset and all zone data).

   Each is checked as "false before the change, or true after it": a change may never break a
   rule that held, and may always move out of a state where it did not (the unsigned zone's
   first steps).
3. **Time** (:func:`ready_at`): a RUMOURED or UNRETENTIVE record becomes OMNIPRESENT or HIDDEN
   only once TTL + propagation delay + safety margin have passed (RFC 7583), and a DS only
   after the parent was *seen* with (or without) it after the request.

The paper's "swap" cases (a predecessor's record withdrawn while its successor's appears) are
accepted when the timestamps prove that every cached version holds one of the two (see
:func:`_swapped`), rather than through the paper's successor relation between keys.
"""

from __future__ import annotations

from collections.abc import Sequence

from signwire.keys.keystate import H, KeyState, O, R, RecordState, RecordType, U
from signwire.policy import intervals
from signwire.policy.model import KeyRole, KskRollover, Policy

D, K, Z, S = RecordType.DNSKEY, RecordType.KRRSIG, RecordType.ZRRSIG, RecordType.DS

Keys = Sequence[KeyState]


# --- helpers ----------------------------------------------------------------------------------


def _of_algorithm(keys: Keys, algorithm: int) -> list[KeyState]:
    return [k for k in keys if k.algorithm == algorithm]


def _swapped(p: KeyState, s: KeyState, kinds: Sequence[RecordType]) -> bool:
    """For ``kinds``, ``s``'s records took over from ``p``'s with no version lacking both:
    each record ``p`` is withdrawing was in every cached version when it was withdrawn
    (OMNIPRESENT before UNRETENTIVE), and each record ``s`` is introducing appeared no later.

    The paper (and BIND) ask for a successor relation between the two keys instead; these
    timestamps say directly what that relation stands for, and stay true when a rollover is
    interrupted by another (a successor withdrawn before it was everywhere is no cover).
    """
    if p.key_id == s.key_id:
        return False
    withdrawn = [p.record(kind) for kind in kinds if p.state(kind) is U]
    if any(record.previous is not O for record in withdrawn):
        return False
    introduced = [s.record(kind).since for kind in kinds if s.state(kind) is R]
    return not introduced or not withdrawn or max(introduced) <= min(r.since for r in withdrawn)


def _match(key: KeyState, **states: object) -> bool:
    return all(key.state(RecordType(kind)) in _as_set(want) for kind, want in states.items())


def _as_set(want: object) -> tuple[object, ...]:
    return want if isinstance(want, tuple) else (want,)


def secure(keys: Keys) -> bool:
    """Some DS of the zone may be at the parent or in a cache: validators check the zone."""
    return any(k.state(S) is not H for k in keys)


# --- rule 1: a DS at all times --------------------------------------------------------------------


def has_ds(keys: Keys) -> bool:
    return any(k.state(S) in (R, O) for k in keys)


# --- rule 2: a chain from the DS to the DNSKEY RRset ---------------------------------------------


def dnskey_chain(keys: Keys, algorithm: int) -> bool:
    ks = _of_algorithm(keys, algorithm)
    # (2b) one key whose DS, DNSKEY and signature over the DNSKEY RRset are everywhere.
    if any(_match(k, dnskey=O, krrsig=O, ds=O) for k in ks):
        return True
    for p in ks:
        for s in ks:
            # (2c) DNSKEYs everywhere, the DS swapped at the parent.
            if (
                _match(p, dnskey=O, krrsig=O, ds=U)
                and _match(s, dnskey=O, krrsig=O, ds=R)
                and _swapped(p, s, (S,))
            ):
                return True
            # (2d) both DS everywhere, the DNSKEY and/or its signature swapped.
            if (
                _match(p, ds=O, dnskey=(O, U), krrsig=(O, U))
                and not _match(p, dnskey=O, krrsig=O)
                and _match(s, ds=O, dnskey=(O, R), krrsig=(O, R))
                and not _match(s, dnskey=O, krrsig=O)
                and _swapped(p, s, (D, K))
            ):
                return True
    # (2e) every DS that may be cached belongs to a key whose DNSKEY and signature are
    # everywhere, or some key has the whole chain everywhere (all DS absent: trivially true).
    complete = any(_match(j, dnskey=O, krrsig=O, ds=O) for j in ks)
    return all(_match(k, dnskey=O, krrsig=O) or complete for k in ks if k.state(S) is not H)


# --- rule 3: signatures by a key of the DNSKEY RRset ----------------------------------------------


def signature_chain(keys: Keys, algorithm: int) -> bool:
    ks = _of_algorithm(keys, algorithm)
    # (3a) nobody validates this algorithm: no DS of it anywhere.
    if all(k.state(S) is H for k in ks):
        return True
    return signatures_cover(ks)


def signatures_cover(ks: Sequence[KeyState]) -> bool:
    """Whatever DNSKEY RRset of these keys a cache holds, its cached data carries a signature
    by a key of that RRset (equations 3f-3i of the paper, for one algorithm's keys)."""
    # (3f) one key whose DNSKEY and signatures are everywhere.
    if any(_match(k, dnskey=O, zrrsig=O) for k in ks):
        return True
    for p in ks:
        for s in ks:
            # (3g) signatures of both everywhere, the DNSKEYs swapped.
            if (
                _match(p, dnskey=U, zrrsig=O)
                and _match(s, dnskey=R, zrrsig=O)
                and _swapped(p, s, (D,))
            ):
                return True
            # (3h) DNSKEYs of both everywhere, the signatures swapped (pre-publication).
            if (
                _match(p, dnskey=O, zrrsig=U)
                and _match(s, dnskey=O, zrrsig=R)
                and _swapped(p, s, (Z,))
            ):
                return True
    # (3i) every DNSKEY that may be cached goes with everywhere-signatures of a key in the same
    # state, so whatever DNSKEY RRset a cache holds, it can check the data.
    return all(
        any(j.state(D) is k.state(D) and j.state(Z) is O for j in ks)
        for k in ks
        if k.state(D) is not H
    )


# --- invariants for strict validators -------------------------------------------------------------


def every_algorithm_signs(keys: Keys) -> bool:
    """Once the zone is secure, for every algorithm with a DNSKEY that may be cached: whatever
    DNSKEY RRset a cache holds, its data carries a signature of that algorithm by a key of that
    RRset (rule 3 without its "no DS of this algorithm" escape); and every algorithm in the
    published DNSKEY RRset has a published key that signs it (RFC 4035 §2.2)."""
    if not secure(keys):
        return True
    for algorithm in {k.algorithm for k in keys}:
        ks = _of_algorithm(keys, algorithm)
        if any(k.state(D) is not H for k in ks) and not signatures_cover(ks):
            return False
        if any(k.state(D).published for k in ks) and not any(
            k.state(D).published and k.state(K).published for k in ks
        ):
            return False
    return True


# --- the checks the enforcer calls ----------------------------------------------------------------


def unsafe_reason(
    before: Keys, after: Keys, algorithm: int, *, insecure: bool = False
) -> str | None:
    """Why going from ``before`` to ``after`` could make the zone bogus for some cache, or None.

    Rules 2 and 3 are checked for ``algorithm``, the algorithm of the key that changes: records
    of one algorithm cannot make or break another algorithm's chain. ``insecure`` (the policy
    has no keys: the zone goes unsigned by design) lifts rule 1 and nothing else, so the last
    DS may be withdrawn; while any DS may still be cached, rules 2 and 3 hold every DNSKEY and
    signature it leads to in place, and once none can be, they hold trivially.
    """
    if has_ds(before) and not has_ds(after) and not insecure:
        return "rule 1: the parent would be left without a DS"
    if dnskey_chain(before, algorithm) and not dnskey_chain(after, algorithm):
        return "rule 2: a cached DS would no longer lead to a signed DNSKEY RRset"
    if signature_chain(before, algorithm) and not signature_chain(after, algorithm):
        return "rule 3: cached data would lack a signature by a cached DNSKEY"
    if every_algorithm_signs(before) and not every_algorithm_signs(after):
        return "an algorithm in the DNSKEY RRset would not sign the DNSKEY RRset or all data"
    return None


def method_reason(keys: Keys, key: KeyState, kind: RecordType, method: KskRollover) -> str | None:
    """Why the rollover method does not yet let ``kind`` of ``key`` be introduced, or None.

    Only introductions (to RUMOURED) are ordered by the method; withdrawals are governed by the
    safety rules alone.
    """
    same_algorithm = [k for k in keys if k.algorithm == key.algorithm and k.key_id != key.key_id]
    if kind is D:
        if (
            method is KskRollover.DOUBLE_DS
            and key.role is KeyRole.KSK
            and any(_match(j, dnskey=O, krrsig=O, ds=O) for j in same_algorithm)
            and key.state(S) is not O
        ):
            return "double-DS: waits for its DS to be at the parent everywhere"
        new_algorithm = all(j.state(D) is H for j in same_algorithm)
        if new_algorithm and secure(keys):
            # RFC 6781 §4.1.4: a validator that sees a new algorithm in the DNSKEY RRset may
            # expect its signatures on everything, so they go first, and the first DNSKEY of
            # the algorithm is one that signs the DNSKEY RRset.
            if not key.signs_keys:
                return "algorithm rollover: waits for a key-signing key of its algorithm"
            if not any(j.state(Z) is O for j in [key, *same_algorithm]):
                return "algorithm rollover: waits for its algorithm's signatures everywhere"
        return None
    if kind is K:
        return None if key.state(D) is not H else "waits for its DNSKEY"
    if kind is Z:
        if key.state(D) is O:
            return None
        if all(j.state(S) is H for j in [key, *same_algorithm]):
            return None  # nobody validates with this algorithm yet: sign at once
        return "pre-publication: waits for its DNSKEY to be everywhere"
    # DS
    if method is KskRollover.DOUBLE_DS and key.role is KeyRole.KSK:
        return None
    if key.state(D) is O and key.state(K) is O:
        return None
    return "double-KSK: waits for its DNSKEY to be everywhere"


def ready_at(key: KeyState, kind: RecordType, target: RecordState, policy: Policy) -> int | None:
    """The earliest time ``kind`` of ``key`` may move to ``target``, or None while it waits
    for the parent. Moves to RUMOURED or UNRETENTIVE (publishing, withdrawing) may happen at
    once; moves to OMNIPRESENT or HIDDEN wait until every cache has caught up."""
    record = key.record(kind)
    if target in (R, U):
        return record.since
    publishing = target is O
    if kind in (D, K):
        wait = intervals.dnskey_publish(policy) if publishing else intervals.dnskey_retire(policy)
        return record.since + wait
    if kind is Z:
        wait = (
            intervals.signatures_publish(policy)
            if publishing
            else intervals.signatures_retire(policy)
        )
        return record.since + wait
    # The DS counts from when the parent was seen with it (or without it), not from the request:
    # the parent may take days. A confirmation from before the request means nothing.
    if publishing:
        seen = key.ds_seen_at
        if seen is None or seen < record.since:
            return None
        return seen + intervals.ds_publish(policy)
    gone = key.ds_gone_at
    if gone is None or gone < record.since:
        return None
    return gone + intervals.ds_retire(policy)


__all__ = [
    "dnskey_chain",
    "every_algorithm_signs",
    "has_ds",
    "method_reason",
    "ready_at",
    "secure",
    "signature_chain",
    "signatures_cover",
    "unsafe_reason",
]
