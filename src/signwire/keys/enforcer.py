"""The key enforcer: ``advance(policy, keys, now, events=…) → Plan``, a pure function.

One call does, in this order:

1. **Events** from outside: the parent was seen with a DS (``DsSeen``) or without it
   (``DsGone``), the operator asks for a rollover (``RollKey``) or reports a compromised key
   (``KeyCompromised``). An event that makes no sense now (a DS seen before it was requested, a
   second rollover while one is under way) changes nothing and leaves a notice saying why. The
   parent seen *with* a DS being withdrawn outweighs any "gone" for it: in the same call the
   "gone" is ignored, and a "gone" accepted earlier no longer counts.
2. **Policy**: every key the policy no longer describes (another algorithm, size or role) gets
   the goal ABSENT; every key slot of the policy (KSK and ZSK, or CSK) without a key wanting to
   be present gets a new key. That is all an algorithm rollover, a KSK+ZSK ⇄ CSK change or the
   first signing of a zone needs: the rules below order the rest. A policy without keys
   (``keys = "none"``) retires every key ("insecure"): the DS is withdrawn first, with the RFC
   8078 delete form of CDS/CDNSKEY (:func:`signing_view`), and the DNSKEYs and signatures stay
   until no DS can be cached. A policy with keys again before those keys are gone keeps the ones
   that still fit it and have no DS that may be cached (a ZSK, or any key once the zone is
   unsigned); a key whose DS is being withdrawn goes on leaving and gets a successor, as in a
   rollover (a DS asked for again while its withdrawal may still be queued at the parent could
   be "seen" before the parent even did the withdrawal).
3. **Lifetimes**: a key whose lifetime is about to end gets a successor, created early enough
   (:func:`signwire.policy.intervals.takeover_lead`) to take over when the lifetime ends.
4. **Transitions**, repeated until nothing moves: each record of each key steps towards its
   key's goal when the rollover method, the safety rules and the clock allow it
   (:mod:`signwire.keys.rules`). A key's DNSKEY and its signature over the DNSKEY RRset may
   move together, as a validator only ever sees them together, and so may the DNSKEYs of all
   keys of an algorithm that appears or leaves (RFC 4035 §2.2). A retiring key's RUMOURED
   record that cannot be withdrawn safely yet completes to OMNIPRESENT instead.
5. **Clean-up**: a key whose goal is ABSENT and whose records are all HIDDEN is in no cache any
   more: its material may be deleted.

The :class:`Plan` holds the new key states, the actions for the outside world (create a key,
publish a DNSKEY, start signing, ask the parent for a DS …), what each pending step waits for,
and ``next_event_at``: the earliest time a call could change anything without a new event.

Contract for the caller: perform CREATE_KEY actions, then publish the version built from
:func:`signing_view` of the new states before (or in the same transaction as) storing them.
The ``since`` of a record is the time of the decision; a delay before the version is public
must stay within the policy's safety margins. Call again at ``next_event_at``, and whenever an
event arrives (a DS check, an operator command, a new policy).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from signwire.keys import rules
from signwire.keys.instructions import SigningInstructions, signing_view
from signwire.keys.keystate import (
    RECORD_TYPES,
    Goal,
    H,
    KeyState,
    O,
    R,
    Record,
    RecordState,
    RecordType,
    U,
    applies,
)
from signwire.keys.plan import (
    Action,
    ActionKind,
    DsGone,
    DsSeen,
    Event,
    KeyCompromised,
    Plan,
    RollKey,
    Transition,
    Wait,
)
from signwire.policy import intervals
from signwire.policy.model import KeyRole, KeySpec, KskRollover, Policy

__all__ = [
    "Action",
    "ActionKind",
    "DsGone",
    "DsSeen",
    "Event",
    "KeyCompromised",
    "Plan",
    "RollKey",
    "SigningInstructions",
    "Transition",
    "Wait",
    "advance",
    "signing_view",
]

INSECURE = "insecure"  # the retire reason of keys a policy without keys sends away
MAX_ROUNDS = 64  # each record moves at most twice per call; this only guards against a bug

Move = tuple[tuple[str, RecordType], ...]  # (key id, record) changed together


# --- the enforcer -----------------------------------------------------------------------------


def advance(
    policy: Policy,
    keys: Iterable[KeyState],
    now: int,
    *,
    events: Sequence[Event] = (),
) -> Plan:
    """Apply ``events``, reconcile the keys with ``policy`` and move every record as far as is
    safe at ``now``. Pure: the same arguments give the same plan."""
    run = _Run(policy, keys, now)
    # Sightings first: a parent seen with the new DS and without the old one in the same check
    # is consistent evidence (see _Run.apply).
    for event in sorted(events, key=lambda e: not isinstance(e, DsSeen)):
        run.apply(event)
    run.reconcile()
    run.roll_expiring()
    run.settle()
    run.delete_hidden()
    return run.plan()


def desired_state(goal: Goal, state: RecordState) -> RecordState | None:
    """The next state on the way to ``goal``, or None when there."""
    if goal is Goal.PRESENT:
        return {H: R, U: R, R: O}.get(state)
    return {R: U, O: U, U: H}.get(state)


def targets(goal: Goal, state: RecordState) -> list[RecordState]:
    """The states a record may move to next, preferred first.

    A retiring key's RUMOURED record would rather be withdrawn; but when withdrawing it is not
    safe yet (another key's rollover counted on it), it may complete its introduction first,
    or the zone could wait for ever for a record that will never be everywhere.
    """
    if goal is Goal.ABSENT and state is R:
        return [U, O]
    nxt = desired_state(goal, state)
    return [] if nxt is None else [nxt]


def matches(spec: KeySpec, key: KeyState) -> bool:
    return key.role is spec.role and key.algorithm == spec.algorithm and key.size == spec.size


def takeover_record(policy: Policy, role: KeyRole) -> RecordType:
    """The record whose introduction makes a key the one in charge (lifetimes count from it)."""
    if role is KeyRole.KSK:
        return RecordType.DNSKEY if policy.ksk_rollover is KskRollover.DOUBLE_DS else RecordType.DS
    return RecordType.ZRRSIG


_ACTION_FOR: dict[tuple[RecordType, RecordState], ActionKind] = {
    (RecordType.DNSKEY, R): ActionKind.PUBLISH_DNSKEY,
    (RecordType.DNSKEY, U): ActionKind.WITHDRAW_DNSKEY,
    (RecordType.KRRSIG, R): ActionKind.START_SIGNING_DNSKEY,
    (RecordType.KRRSIG, U): ActionKind.STOP_SIGNING_DNSKEY,
    (RecordType.ZRRSIG, R): ActionKind.START_SIGNING_ZONE,
    (RecordType.ZRRSIG, U): ActionKind.STOP_SIGNING_ZONE,
    (RecordType.DS, R): ActionKind.SUBMIT_DS,
    (RecordType.DS, U): ActionKind.WITHDRAW_DS,
}


class _Run:
    """The working state of one :func:`advance` call."""

    def __init__(self, policy: Policy, keys: Iterable[KeyState], now: int) -> None:
        self.policy = policy
        self.now = now
        self.keys: dict[str, KeyState] = {}
        for key in keys:
            if key.key_id in self.keys:
                raise ValueError(f"two keys have the id {key.key_id!r}")
            self.keys[key.key_id] = key
        self.actions: list[Action] = []
        self.transitions: list[Transition] = []
        self.notices: list[str] = []
        self.lifetime_checks: list[int] = []
        self.seen_now: set[str] = set()  # keys the parent was seen with in this call

    # -- helpers

    def ordered(self) -> list[KeyState]:
        return sorted(self.keys.values(), key=lambda k: (k.created_at, k.key_id))

    def act(self, kind: ActionKind, key: KeyState) -> None:
        self.actions.append(Action(kind, key.key_id, key.role, key.algorithm, key.size))

    def put(self, key: KeyState) -> None:
        self.keys[key.key_id] = key

    def slot_keys(self, spec: KeySpec) -> list[KeyState]:
        return [k for k in self.ordered() if k.goal is Goal.PRESENT and matches(spec, k)]

    def new_id(self, role: KeyRole, algorithm: int) -> str:
        base = f"{role.value}-{algorithm}-{self.now}"
        candidate, n = base, 1
        while candidate in self.keys:
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    def create(self, spec: KeySpec, predecessor: str | None) -> KeyState:
        key = KeyState(
            key_id=self.new_id(spec.role, spec.algorithm),
            role=spec.role,
            algorithm=spec.algorithm,
            size=spec.size,
            created_at=self.now,
            goal=Goal.PRESENT,
            dnskey=Record(H, self.now),
            krrsig=Record(H, self.now),
            zrrsig=Record(H, self.now),
            ds=Record(H, self.now),
            predecessor=predecessor,
        )
        self.put(key)
        self.act(ActionKind.CREATE_KEY, key)
        return key

    def retire(self, key: KeyState, reason: str) -> KeyState:
        retired = dataclasses.replace(key, goal=Goal.ABSENT, retire_reason=reason)
        self.put(retired)
        return retired

    def start_roll(self, current: KeyState, spec: KeySpec, reason: str) -> KeyState:
        """Retire ``current`` and create its successor. A key that never took over is not a
        predecessor worth swapping with: its successor replaces the key it was replacing."""
        self.retire(current, reason)
        predecessor = current.key_id if current.active_at is not None else current.predecessor
        return self.create(spec, predecessor)

    # -- 1. events

    def apply(self, event: Event) -> None:
        if isinstance(event, DsSeen | DsGone | KeyCompromised) and event.key_id not in self.keys:
            self.notices.append(f"{_event_name(event)} for unknown key {event.key_id!r} ignored")
            return
        if isinstance(event, DsSeen):
            key = self.keys[event.key_id]
            state = key.state(RecordType.DS)
            if state not in (R, U) or key.ds_requested_at is None:
                self.notices.append(
                    f"ds-seen for {key.key_id} ignored: its DS is {state.value}, "
                    f"{_ds_seen_hint(key)}"
                )
                return
            self.seen_now.add(key.key_id)
            if state is U and key.ds_gone_at is not None and key.ds_gone_at >= key.ds.since:
                # The parent serves the DS after all: the "gone" was premature (an operator's
                # guess, a lagging server), and the wait it started must not run out.
                self.put(dataclasses.replace(key, ds_gone_at=None))
                self.notices.append(
                    f"{key.key_id}: the parent serves its DS again; the earlier ds-gone no "
                    f"longer counts"
                )
            elif key.ds_seen_at is None or key.ds_seen_at < key.ds_requested_at:
                # For a DS being withdrawn this changes no state; it only proves the parent
                # acted on the request that added it (see DsGone).
                self.put(dataclasses.replace(key, ds_seen_at=self.now))
        elif isinstance(event, DsGone):
            key = self.keys[event.key_id]
            if key.state(RecordType.DS) is not U:
                self.notices.append(
                    f"ds-gone for {key.key_id} ignored: its DS is {key.ds.state.value}, "
                    f"not being withdrawn"
                )
            elif key.key_id in self.seen_now:
                self.notices.append(
                    f"ds-gone for {key.key_id} ignored: the parent was seen with its DS in the "
                    f"same check; it still serves it"
                )
            elif not self.withdrawal_provable(key) and not (
                event.operator and self.policy.insecure
            ):
                hint = (
                    "; if the parent never had it, say so with 'signwire key ds-gone'"
                    if self.policy.insecure
                    else ""
                )
                self.notices.append(
                    f"ds-gone for {key.key_id} ignored: the parent never showed its DS, nor any "
                    f"DS requested since its withdrawal; its absence may only mean the request "
                    f"to add it is still queued{hint}"
                )
            elif key.ds_gone_at is None or key.ds_gone_at < key.ds.since:
                self.put(dataclasses.replace(key, ds_gone_at=self.now))
        elif isinstance(event, RollKey):
            self.operator_roll(event.role)
        else:
            self.compromised(self.keys[event.key_id])

    def withdrawal_provable(self, key: KeyState) -> bool:
        """Whether a DS missing at the parent means the parent acted on its withdrawal.

        It does if the parent once showed this DS (so the request that added it is done), or
        shows the DS of a key requested at or after the withdrawal (a parent that works through
        its requests in order has then done the withdrawal too).
        """
        if _seen_since_request(key):
            return True
        return any(
            _seen_since_request(other)
            and other.ds_requested_at is not None
            and other.ds_requested_at >= key.ds.since
            for other in self.keys.values()
        )

    def operator_roll(self, role: KeyRole) -> None:
        spec = self.policy.spec(role)
        if spec is None:
            self.notices.append(
                f"roll {role.value} ignored: policy {self.policy.name!r} has no {role.value} keys"
            )
            return
        current = self.slot_keys(spec)
        if not current:
            self.notices.append(f"roll {role.value} ignored: a new {role.value} is being made")
            return
        key = current[-1]
        if key.active_at is None:
            self.notices.append(
                f"roll {role.value} ignored: a rollover is already under way "
                f"({key.key_id} has not taken over yet)"
            )
            return
        self.start_roll(key, spec, "operator")

    def compromised(self, key: KeyState) -> None:
        flagged = dataclasses.replace(key, compromised=True)
        self.put(flagged)
        if key.goal is Goal.ABSENT:
            self.notices.append(f"{key.key_id} marked compromised; it is already being retired")
            return
        spec = next((s for s in self.policy.keys if matches(s, key)), None)
        if spec is None:
            self.retire(flagged, "compromised")
            return
        successor = self.start_roll(flagged, spec, "compromised")
        self.notices.append(f"{key.key_id} compromised: {successor.key_id} replaces it")

    # -- 2. policy

    def reconcile(self) -> None:
        reason = INSECURE if self.policy.insecure else "policy"
        for key in self.ordered():
            if key.goal is Goal.PRESENT and not any(matches(s, key) for s in self.policy.keys):
                self.retire(key, reason)
        for spec in self.policy.keys:
            present = self.slot_keys(spec)
            for extra in present[:-1]:
                self.retire(extra, "duplicate")
            if not present and not self.revive(spec):
                self.create(spec, None)

    def revive(self, spec: KeySpec) -> bool:
        """Keep a key that was leaving only because the zone was going insecure, now that the
        policy has keys again, if no DS of it can be cached: it simply heads back.

        A key whose DS is being withdrawn is not kept: asked for again, its DS could be seen
        at the parent *before* the parent did the withdrawal still queued there, and the
        enforcer would count on a DS about to disappear. Its successor's DS is a new request,
        which also proves the withdrawal once the parent shows it.
        """
        leaving = [
            k
            for k in self.ordered()
            if k.goal is Goal.ABSENT
            and k.retire_reason == INSECURE
            and not k.compromised
            and k.state(RecordType.DS) is H
            and matches(spec, k)
        ]
        if not leaving:
            return False
        key = leaving[-1]
        self.put(dataclasses.replace(key, goal=Goal.PRESENT, retire_reason=None))
        self.notices.append(f"{key.key_id} kept: policy {self.policy.name!r} signs the zone again")
        return True

    # -- 3. lifetimes

    def roll_expiring(self) -> None:
        for spec in self.policy.keys:
            if spec.lifetime is None:
                continue
            present = self.slot_keys(spec)
            if not present:
                continue
            key = present[-1]
            if key.active_at is None:
                continue
            due = key.active_at + spec.lifetime - intervals.takeover_lead(self.policy, spec.role)
            if due <= self.now:
                self.start_roll(key, spec, "lifetime")
            else:
                self.lifetime_checks.append(due)

    # -- 4. transitions

    def settle(self) -> None:
        for _ in range(MAX_ROUNDS):
            if not self.step_all():
                return
        raise RuntimeError("key states did not settle; this is a bug in the enforcer")

    def step_all(self) -> bool:
        moved = False
        for key_id in [k.key_id for k in self.ordered()]:
            for kind in RECORD_TYPES:
                key = self.keys[key_id]
                if not applies(key.role, kind):
                    continue
                for target in targets(key.goal, key.state(kind)):
                    move = next(
                        (
                            m
                            for m in self.candidate_moves(key, kind, target)
                            if self.blocked(m, target) is None
                        ),
                        None,
                    )
                    if move is not None:
                        self.commit(move, target)
                        moved = True
                        break
        return moved

    def candidate_moves(self, key: KeyState, kind: RecordType, target: RecordState) -> list[Move]:
        """Moves to try for ``kind`` of ``key``, largest first.

        A validator sees a key's DNSKEY with its signature over the DNSKEY RRset, and a strict
        one wants every algorithm of the DNSKEY RRset to sign both the DNSKEY RRset and the
        data (RFC 4035 §2.2): so the DNSKEYs of one algorithm that head the same way (all of a
        new algorithm appearing, all of a leaving one going) are tried together, each with its
        signature over the DNSKEY RRset, then the key's DNSKEY with its signature, then alone.
        """
        if kind is not RecordType.DNSKEY or target not in (R, U):
            return [((key.key_id, kind),)]

        def with_signature(k: KeyState) -> Move:
            move: Move = ((k.key_id, RecordType.DNSKEY),)
            if (
                k.signs_keys
                and k.state(RecordType.KRRSIG) is k.state(RecordType.DNSKEY)
                and target in targets(k.goal, k.state(RecordType.KRRSIG))
            ):
                move += ((k.key_id, RecordType.KRRSIG),)
            return move

        group = [
            k
            for k in self.ordered()
            if k.algorithm == key.algorithm
            and k.state(RecordType.DNSKEY) is key.state(RecordType.DNSKEY)
            and target in targets(k.goal, k.state(RecordType.DNSKEY))
        ]
        group.sort(key=lambda k: not k.signs_keys)
        candidates: list[Move] = []
        if len(group) > 1:
            candidates.append(tuple(item for k in group for item in with_signature(k)))
        own = with_signature(key)
        if len(own) > 1:
            candidates.append(own)
        candidates.append(((key.key_id, RecordType.DNSKEY),))
        return candidates

    def blocked(self, move: Move, target: RecordState) -> str | None:
        """Why ``move`` cannot happen now, or None. Timing waits are reported as "until"."""
        for key_id, kind in move:
            when = rules.ready_at(self.keys[key_id], kind, target, self.policy)
            if when is None:
                return _parent_wait(target, self.policy.insecure)
            if when > self.now:
                return "until"
        working = dict(self.keys)
        for key_id, kind in move:
            if target is R:
                reason = rules.method_reason(
                    list(working.values()), working[key_id], kind, self.policy.ksk_rollover
                )
                if reason is not None:
                    return reason
            working[key_id] = working[key_id].with_record(kind, target, self.now)
        before = list(self.keys.values())
        after = list(working.values())
        for algorithm in sorted({self.keys[key_id].algorithm for key_id, _ in move}):
            reason = rules.unsafe_reason(before, after, algorithm, insecure=self.policy.insecure)
            if reason is not None:
                return reason
        return None

    def commit(self, move: Move, target: RecordState) -> None:
        for key_id, kind in move:
            key = self.keys[key_id]
            new = key.with_record(kind, target, self.now)
            self.transitions.append(Transition(key_id, kind, key.state(kind), target, self.now))
            action = _ACTION_FOR.get((kind, target))
            if action is not None:
                self.act(action, new)
            if kind is RecordType.DS and target in (R, U) and _publishes_cds(self.policy):
                self.act(ActionKind.PUBLISH_CDS if target is R else ActionKind.WITHDRAW_CDS, new)
            if (
                target is R
                and new.active_at is None
                and kind is takeover_record(self.policy, key.role)
            ):
                new = dataclasses.replace(new, active_at=self.now)
            if kind is RecordType.DS and target is R:
                new = dataclasses.replace(new, ds_requested_at=self.now)
            self.put(new)

    # -- 5. clean-up

    def delete_hidden(self) -> None:
        for key in self.ordered():
            if key.goal is Goal.ABSENT and key.all_hidden:
                self.act(ActionKind.DELETE_KEY, key)
                del self.keys[key.key_id]

    # -- result

    def waits(self) -> list[Wait]:
        """For every record not at its goal: what each possible next step waits for."""
        found: list[Wait] = []
        for key in self.ordered():
            for kind in RECORD_TYPES:
                if not applies(key.role, kind):
                    continue
                for target in targets(key.goal, key.state(kind)):
                    found.append(self.wait_for(key, kind, target))
        return found

    def wait_for(self, key: KeyState, kind: RecordType, target: RecordState) -> Wait:
        first_reason: str | None = None
        for move in self.candidate_moves(key, kind, target):
            reason = self.blocked(move, target)
            if reason == "until":
                when = [rules.ready_at(self.keys[k], r, target, self.policy) for k, r in move]
                until = max(t for t in when if t is not None)
                why = f"caches to catch up ({kind.value} {target.value})"
                if self.policy.insecure and kind is RecordType.DS:
                    why = "going insecure: the parent removed the DS; cached copies to expire"
                return Wait(key.key_id, kind, target, until, why)
            if first_reason is None:
                first_reason = reason
        if self.policy.insecure and first_reason and first_reason.startswith("rule"):
            first_reason = "going insecure: stays until no DS of the zone can be cached"
        # None only if settle() stopped early, which it does not; say so rather than hide it.
        return Wait(key.key_id, kind, target, None, first_reason or "allowed; call again")

    def plan(self) -> Plan:
        waits = self.waits()
        times = [w.until for w in waits if w.until is not None] + self.lifetime_checks
        future = [t for t in times if t > self.now]
        return Plan(
            keys=tuple(self.ordered()),
            actions=tuple(self.actions),
            transitions=tuple(self.transitions),
            waits=tuple(waits),
            notices=tuple(self.notices),
            next_event_at=min(future) if future else None,
        )


def _seen_since_request(key: KeyState) -> bool:
    return (
        key.ds_requested_at is not None
        and key.ds_seen_at is not None
        and key.ds_seen_at >= key.ds_requested_at
    )


def _publishes_cds(policy: Policy) -> bool:
    return policy.parent.cds or policy.parent.cdnskey


def _parent_wait(target: RecordState, insecure: bool) -> str:
    if target is O:
        return "waiting for the DS to be seen at the parent (ds-seen)"
    if insecure:
        return "going insecure: waiting for the parent to remove the DS (ds-gone or check-ds)"
    return "waiting for the DS to be seen gone from the parent (ds-gone)"


def _event_name(event: Event) -> str:
    return {DsSeen: "ds-seen", DsGone: "ds-gone", KeyCompromised: "compromised"}.get(
        type(event), "event"
    )


def _ds_seen_hint(key: KeyState) -> str:
    if key.state(RecordType.DS) is not H:
        return "already known to be at the parent"
    if key.ds_requested_at is not None:
        # It was withdrawn and counted gone from every cache: if the parent serves it again,
        # validators may fail the zone. Nothing here can undo that; the operator must look.
        return (
            "withdrawn and counted gone from every cache: if the parent serves it again, "
            "ask the parent to remove it"
        )
    return "not yet requested from the parent; a DS seen before the request proves nothing"
