"""Random operators: any mix of policy changes (to and from insecure too), rollovers,
compromises, junk confirmations, outages and parent delays keeps every cached combination valid
(or insecure by design) and ends with settled keys.

The hand-written walks cover each case once; this explores their combinations (it found the
interrupted-rollover and queued-DS cases the enforcer now handles).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signwire.keys.enforcer import DsGone, DsSeen, Event, KeyCompromised, RollKey
from signwire.keys.keystate import RecordState
from signwire.policy.model import KeyRole, Policy

from .policies import fast, tight
from .world import DAY, World, assert_safe, settle

START = 1_767_225_600

policies = st.builds(
    lambda maker, algorithm, keys, method, zsk, ksk, csk: maker(
        algorithm=algorithm,
        keys=keys,
        ksk_rollover=method if keys == "ksk+zsk" else "double-ksk",
        zsk_lifetime=zsk,
        ksk_lifetime=ksk,
        csk_lifetime=csk,
    ),
    st.sampled_from([tight, fast]),
    st.sampled_from(["RSASHA256", "ECDSAP256SHA256", "ED25519"]),
    st.sampled_from(["ksk+zsk", "csk", "none"]),  # none: take the zone insecure
    st.sampled_from(["double-ksk", "double-ds"]),
    st.sampled_from(["1d", "2d", "unlimited"]),
    st.sampled_from(["2d", "unlimited"]),
    st.sampled_from(["2d", "unlimited"]),
)


def _pick(index: int, make: type[DsSeen] | type[DsGone] | type[KeyCompromised]) -> Any:
    """An event about some key. Confirmations may come at odd times but never lie: a DS
    reported seen is at the parent (or the report is meaningless for its state), one reported
    gone is absent. A false "seen" defeats any enforcer (test_operator shows the limit)."""

    def events(world: World) -> Sequence[Event]:
        if not world.keys:
            return []
        key = world.keys[index % len(world.keys)]
        at_parent = key.key_id in world.history.current_ds(world.now)
        requested = key.ds.state in (RecordState.RUMOURED, RecordState.UNRETENTIVE)
        if make is DsSeen and requested and not at_parent:
            return []
        if make is DsGone and at_parent:
            return []
        return [make(key.key_id)]

    return events


steps = st.one_of(
    policies,
    st.builds(RollKey, st.sampled_from(list(KeyRole))),
    st.builds(_pick, st.integers(0, 5), st.sampled_from([KeyCompromised, DsSeen, DsGone])),
    st.integers(3600, 8 * DAY).map(lambda seconds: f"offline:{seconds}"),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=policies,
    delay=st.sampled_from([0, 600, 3 * 3600, DAY]),
    script=st.lists(st.tuples(st.integers(60, 2 * DAY), steps), max_size=6),
)
def test_random_operator(first: Policy, delay: int, script: list[tuple[int, Any]]) -> None:
    world = World(first, START, registration_delay=delay)
    at = START
    for gap, what in script:
        at += gap
        world.at(at, what)
    world.run_until(at + 3 * DAY)
    assert_safe(world)
    settle(world, days=20)
    assert_safe(world)
