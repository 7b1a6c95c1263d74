"""A zone, its parent and an operator around the enforcer, on a hand-moved clock.

:class:`World` calls :func:`signwire.keys.enforcer.advance` at every moment something can
change (the plan's ``next_event_at``, a parent publication, a scripted operator event), records
every version the signer would publish (from :func:`signing_view`) and every DS RRset the
parent publishes in a :class:`~.resolver_model.History`, and plays the parent:

* after a ``submit-ds`` or ``withdraw-ds`` action, the parent publishes the DS RRset the zone
  asks for (its ``ds`` instructions) ``registration_delay`` later; an empty one asked under a
  policy without keys is insecure by design (see :mod:`.resolver_model`);
* a DS checker (the parental agents) confirms what it sees ``observe_delay`` after each parent
  publication: ``DsSeen`` for a requested DS that is there, ``DsGone`` for a withdrawn one that
  is not. ``eager_operator`` replaces it by an operator who says "seen" as soon as the DS is
  requested, whatever the parent did (a mistake the enforcer must survive within its margins).
  ``truthful_operator`` adds an operator who knows the parent's queue: for a DS being withdrawn
  that the parent neither serves nor will add, they say "gone" (``key ds-gone``), which a zone
  going insecure needs when the checker never saw the DS it withdraws.

The signer can be switched off (``offline``): no call, the last version stays served, the
parent goes on, and at restart one call catches up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from signwire.keys.enforcer import (
    ActionKind,
    DsGone,
    DsSeen,
    Event,
    Plan,
    advance,
    desired_state,
    signing_view,
)
from signwire.keys.keystate import KeyState, RecordState, RecordType, applies
from signwire.policy.model import Policy

from .resolver_model import CacheTimes, Failure, History

DAY = 86400

Script = Event | Policy | str | Callable[["World"], Sequence[Event]]


def cache_times(policy: Policy) -> CacheTimes:
    t = policy.timing
    return CacheTimes(
        dnskey_ttl=t.dnskey_ttl,
        signature_ttl=policy.signature_ttl,
        ds_ttl=t.parent_ds_ttl,
        zone_propagation=t.zone_propagation_delay,
        parent_propagation=t.parent_propagation_delay,
    )


@dataclass
class World:
    policy: Policy
    start: int
    registration_delay: int = 1800
    observe_delay: int | None = None  # default: the parent's propagation delay
    eager_operator: bool = False
    truthful_operator: bool = False
    keys: tuple[KeyState, ...] = ()
    now: int = 0
    history: History = field(init=False)
    scripted: list[tuple[int, Script]] = field(default_factory=list)
    parent_queue: list[tuple[int, frozenset[str], bool]] = field(default_factory=list)
    observations: list[int] = field(default_factory=list)
    notices: list[tuple[int, str]] = field(default_factory=list)
    deleted: list[tuple[int, KeyState]] = field(default_factory=list)
    created: list[tuple[int, KeyState]] = field(default_factory=list)
    plans: list[tuple[int, Plan]] = field(default_factory=list)
    offline_until: int | None = None
    unsafe_deletes: list[str] = field(default_factory=list)
    cds_delete: list[tuple[int, bool]] = field(default_factory=list)  # per published version
    last_plan: Plan | None = None

    def __post_init__(self) -> None:
        self.now = self.start
        self.history = History(cache_times(self.policy))
        if self.observe_delay is None:
            self.observe_delay = self.policy.timing.parent_propagation_delay

    # -- scripting

    def at(self, when: int, what: Script) -> None:
        """Schedule an operator event, a policy change, "offline:<seconds>", or a function of
        the world returning events (to pick a key only known then)."""
        self.scripted.append((when, what))
        self.scripted.sort(key=lambda item: item[0])

    # -- running

    def run_until(self, end: int, *, max_steps: int = 20_000) -> None:
        for _ in range(max_steps):
            self.step()
            nxt = self.next_time()
            if nxt is None or nxt > end:
                self.now = max(self.now, end)
                self._publish_parent(self.now)
                return
            assert nxt > self.now, f"time must move forward ({nxt} <= {self.now})"
            self.now = nxt
        raise AssertionError("too many steps: the enforcer does not settle")

    def next_time(self) -> int | None:
        times: list[int] = []
        if self.last_plan is not None and self.last_plan.next_event_at is not None:
            times.append(self.last_plan.next_event_at)
        times += [t for t, _, _ in self.parent_queue]
        times += [t for t in self.observations if t > self.now]
        times += [t for t, _ in self.scripted]
        if self.offline_until is not None:
            times = [max(t, self.offline_until) for t in times] + [self.offline_until]
        future = [t for t in times if t > self.now]
        return min(future) if future else None

    def step(self, extra: Sequence[Event] = ()) -> Plan | None:
        self._publish_parent(self.now)
        events: list[Event] = list(extra)
        while self.scripted and self.scripted[0][0] <= self.now:
            _, what = self.scripted.pop(0)
            if isinstance(what, Policy):
                self.policy = what
            elif isinstance(what, str):
                assert what.startswith("offline:")
                self.offline_until = self.now + int(what.split(":", 1)[1])
            elif callable(what):
                events.extend(what(self))
            else:
                events.append(what)
        if self.offline_until is not None:
            if self.now < self.offline_until:
                return None
            self.offline_until = None
        events += self._observe()
        plan = advance(self.policy, self.keys, self.now, events=events)
        assert plan.next_event_at is None or plan.next_event_at > self.now
        self.plans.append((self.now, plan))
        self.last_plan = plan
        self.notices += [(self.now, n) for n in plan.notices]
        self._record(plan)
        self._publish_parent(self.now)
        return plan

    # -- the world's reactions

    def _record(self, plan: Plan) -> None:
        for key in plan.keys:
            self.history.algorithms[key.key_id] = key.algorithm
        before = {k.key_id: k for k in self.keys}
        for action in plan.actions:
            if action.kind is ActionKind.CREATE_KEY:
                made = next(k for k in plan.keys if k.key_id == action.key_id)
                self.created.append((self.now, made))
            elif action.kind is ActionKind.DELETE_KEY:
                gone = before.get(action.key_id) or next(
                    k for _, k in self.created if k.key_id == action.key_id
                )
                self.deleted.append((self.now, gone))
        self.keys = plan.keys
        view = signing_view(plan.keys, self.policy)
        self.history.publish_zone(self.now, view.dnskey, view.dnskey_signers, view.zone_signers)
        # A key may be deleted only once no cache can hold any record of it.
        for action in plan.actions:
            if action.kind is ActionKind.DELETE_KEY and self.history.may_be_cached(
                action.key_id, self.now
            ):
                self.unsafe_deletes.append(f"{action.key_id} deleted at {self.now}")
        self.cds_delete.append((self.now, view.cds_delete))
        if any(a.kind in (ActionKind.SUBMIT_DS, ActionKind.WITHDRAW_DS) for a in plan.actions):
            self.parent_queue.append(
                (self.now + self.registration_delay, frozenset(view.ds), self.policy.insecure)
            )

    def _publish_parent(self, until: int) -> None:
        while self.parent_queue and self.parent_queue[0][0] <= until:
            when, ds, by_design = self.parent_queue.pop(0)
            self.history.publish_ds(when, ds, by_design=by_design)
            assert self.observe_delay is not None
            self.observations.append(when + self.observe_delay)

    def _observe(self) -> list[Event]:
        events: list[Event] = []
        if self.eager_operator:
            for key in self.keys:
                if key.state(RecordType.DS) is RecordState.RUMOURED and key.ds_seen_at is None:
                    events.append(DsSeen(key.key_id))
                if key.state(RecordType.DS) is RecordState.UNRETENTIVE and key.ds_gone_at is None:
                    events.append(DsGone(key.key_id))
            return events
        assert self.observe_delay is not None
        if self.truthful_operator:
            coming = set().union(*(ds for _, ds, _ in self.parent_queue))
            at_parent = self.history.current_ds(self.now)
            for key in self.keys:
                if (
                    key.state(RecordType.DS) is RecordState.UNRETENTIVE
                    and key.ds_gone_at is None
                    and key.key_id not in at_parent | coming
                ):
                    events.append(DsGone(key.key_id, operator=True))
        # The checker sees a parent change once every server of the parent has it.
        visible = self.history.current_ds(self.now - self.observe_delay)
        for key in self.keys:
            ds = key.state(RecordType.DS)
            if ds in (RecordState.RUMOURED, RecordState.UNRETENTIVE) and key.key_id in visible:
                events.append(DsSeen(key.key_id))
            if ds is RecordState.UNRETENTIVE and key.key_id not in visible:
                events.append(DsGone(key.key_id))
        return events

    # -- results

    def failures(self, *, strict: bool = True) -> list[Failure]:
        return self.history.failures(self.start, self.now, strict=strict)

    def deleted_roles(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, key in self.deleted:
            counts[key.role.value] = counts.get(key.role.value, 0) + 1
        return counts

    def stable(self) -> bool:
        """Every record of every key is where its key's goal wants it."""
        return all(
            desired_state(k.goal, k.state(kind)) is None
            for k in self.keys
            for kind in RecordType
            if applies(k.role, kind)
        )

    def key(self, key_id: str) -> KeyState:
        return next(k for k in self.keys if k.key_id == key_id)


def assert_safe(world: World, *, strict: bool = True) -> None:
    failures = world.failures(strict=strict)
    assert not failures, "\n".join(str(f) for f in failures[:5])
    assert not world.unsafe_deletes, world.unsafe_deletes


def calm(policy: Policy) -> Policy:
    """The same policy with unlimited lifetimes: nothing rolls by itself any more."""
    return dataclasses.replace(
        policy, keys=tuple(dataclasses.replace(spec, lifetime=None) for spec in policy.keys)
    )


def settle(world: World, days: int = 10) -> None:
    """Stop lifetime rollovers, run on, and check every key reaches its goal, one per slot."""
    world.at(world.now + 1, calm(world.policy))
    world.truthful_operator = True
    world.run_until(world.now + days * DAY)
    assert world.stable(), [(k.key_id, k.goal.value, k.to_dict()) for k in world.keys]
    roles = sorted(k.role.value for k in world.keys)
    assert roles == sorted(s.role.value for s in world.policy.keys)
