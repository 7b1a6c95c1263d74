"""The operator: rollovers on request, emergency rollovers, mistakes, and a signer left off.

A mistake must never make the zone bogus: an event that makes no sense is ignored with a
notice saying why, and a confirmation that comes too early only starts the waits later.
"""

from __future__ import annotations

import pytest

from signwire.keys.enforcer import DsGone, DsSeen, KeyCompromised, RollKey
from signwire.keys.keystate import RecordState, RecordType
from signwire.policy.model import KeyRole

from .policies import fast, tight
from .world import DAY, World, assert_safe, settle

START = 1_767_225_600
KSK0, ZSK0, CSK0 = (f"{role}-13-{START}" for role in ("ksk", "zsk", "csk"))


def run(world: World, days: float) -> World:
    world.run_until(START + int(days * DAY))
    assert_safe(world)
    return world


def notices(w: World) -> list[str]:
    return [text for _, text in w.notices]


@pytest.mark.parametrize("role", [KeyRole.ZSK, KeyRole.KSK])
def test_operator_rolls_twice(role: KeyRole) -> None:
    w = World(tight(zsk_lifetime="unlimited"), START, registration_delay=3600)
    w.at(START + 2 * DAY, RollKey(role))
    w.at(START + 4 * DAY, RollKey(role))
    run(w, 7)
    assert w.deleted_roles() == {role.value: 2}
    assert all(k.retire_reason == "operator" for _, k in w.deleted)
    settle(w)


def test_operator_rolls_a_csk_twice() -> None:
    w = World(tight(keys="csk"), START, registration_delay=3600)
    w.at(START + 2 * DAY, RollKey(KeyRole.CSK))
    w.at(START + 4 * DAY, RollKey(KeyRole.CSK))
    run(w, 7)
    assert w.deleted_roles() == {"csk": 2}


def test_a_second_roll_while_one_is_under_way_is_ignored() -> None:
    w = World(tight(zsk_lifetime="unlimited"), START, registration_delay=0)
    w.at(START + 2 * DAY, RollKey(KeyRole.ZSK))
    w.at(START + 2 * DAY + 600, RollKey(KeyRole.ZSK))  # the successor is not in charge yet
    w.at(START + 2 * DAY + 900, RollKey(KeyRole.KSK))  # another role: goes ahead
    w.at(START + 2 * DAY + 1200, RollKey(KeyRole.KSK))
    w.at(START + 2 * DAY + 1300, RollKey(KeyRole.CSK))  # not in this policy
    run(w, 5)
    said = notices(w)
    assert sum("roll zsk ignored: a rollover is already under way" in n for n in said) == 1
    assert sum("roll ksk ignored: a rollover is already under way" in n for n in said) == 1
    assert "roll csk ignored: policy 'tight' has no csk keys" in said
    assert w.deleted_roles() == {"zsk": 1, "ksk": 1}


def test_a_roll_once_the_successor_took_over_starts_another() -> None:
    # The second request comes after the first successor signs but before the old key left.
    w = World(tight(zsk_lifetime="unlimited"), START, registration_delay=0)
    w.at(START + 2 * DAY, RollKey(KeyRole.ZSK))
    w.at(START + 2 * DAY + 5000, RollKey(KeyRole.ZSK))
    run(w, 2.1)
    assert sum(k.role is KeyRole.ZSK for k in w.keys) == 3
    run(w, 5)
    settle(w)
    assert w.deleted_roles() == {"zsk": 2}


@pytest.mark.parametrize(
    ("policy_args", "victim"),
    [({}, ZSK0), ({}, KSK0), ({"keys": "csk"}, CSK0), ({"ksk_rollover": "double-ds"}, KSK0)],
)
def test_emergency_rollover(policy_args: dict[str, str], victim: str) -> None:
    w = World(tight(zsk_lifetime="unlimited", **policy_args), START, registration_delay=1800)
    w.at(START + 2 * DAY, KeyCompromised(victim))
    run(w, 2 + 0.01)
    assert any(n.startswith(f"{victim} compromised: ") for n in notices(w))
    assert w.key(victim).compromised and w.key(victim).retire_reason == "compromised"
    run(w, 5)
    assert victim not in {k.key_id for k in w.keys}
    settle(w)


def test_compromise_of_a_successor_and_of_its_predecessor() -> None:
    w = World(tight(zsk_lifetime="1d"), START, registration_delay=0)
    successor = f"zsk-13-{START + DAY - 4200}"  # created lifetime - lead after the start
    w.at(START + DAY, KeyCompromised(successor))
    w.at(START + DAY + 60, KeyCompromised(ZSK0))
    run(w, 1.01)
    assert f"{ZSK0} marked compromised; it is already being retired" in notices(w)
    run(w, 4)
    settle(w)


def test_ds_seen_before_the_request_is_ignored() -> None:
    w = World(tight(), START, registration_delay=0)
    w.at(START, DsSeen(KSK0))  # the key does not even exist yet
    w.at(START + 600, DsSeen(KSK0))  # exists, DS not requested
    w.at(START + 700, DsGone(KSK0))
    w.at(START + 800, DsSeen("ksk-nonsense"))
    run(w, 2)
    said = notices(w)
    assert f"ds-seen for unknown key {KSK0!r} ignored" in said
    assert any(
        n.startswith(f"ds-seen for {KSK0} ignored: its DS is hidden, not yet requested")
        for n in said
    )
    assert f"ds-gone for {KSK0} ignored: its DS is hidden, not being withdrawn" in said
    # The early sightings changed nothing: the DS still needed a real one after the request.
    ksk = w.key(KSK0)
    assert ksk.ds_requested_at is not None and ksk.ds_seen_at is not None
    assert ksk.ds_seen_at >= ksk.ds_requested_at


def test_ds_seen_still_waits_for_the_ttl() -> None:
    p = fast()
    w = World(p, START, registration_delay=0, eager_operator=True)
    run(w, 1.5)
    ksk = w.key(KSK0)
    assert ksk.ds_seen_at is not None
    became = next(
        when
        for when, plan in w.plans
        for t in plan.transitions
        if t.key_id == KSK0 and t.record is RecordType.DS and t.new is RecordState.OMNIPRESENT
    )
    t = p.timing
    wait = t.parent_ds_ttl + t.parent_propagation_delay + t.publish_safety
    assert became == ksk.ds_seen_at + wait


def test_an_eager_operator_within_the_safety_margin_is_harmless() -> None:
    # "Seen" as soon as requested, though the parent publishes 10 minutes later (= the margin).
    w = World(
        fast(ksk_lifetime="2d", zsk_lifetime="1d"),
        START,
        registration_delay=600,
        eager_operator=True,
    )
    run(w, 7)
    assert w.deleted_roles().get("ksk", 0) >= 2


def test_an_operator_lying_beyond_the_margins_is_caught_by_the_model() -> None:
    # The limit of what any enforcer can do: "seen" an hour and a half before the parent
    # publishes, with 10 minutes of margin. The model shows the zone going bogus.
    w = World(fast(), START, registration_delay=5400, eager_operator=True)
    w.at(START + 2 * DAY, RollKey(KeyRole.KSK))
    w.run_until(START + 4 * DAY)
    assert w.failures()


def test_ds_gone_while_the_request_to_add_it_may_still_be_queued() -> None:
    # The parent works through requests in order and takes two days. The first KSK is rolled
    # before its DS ever showed: "gone" from a checker then proves nothing until the parent
    # shows the request made with the withdrawal.
    w = World(tight(), START, registration_delay=2 * DAY)
    w.at(START + DAY, RollKey(KeyRole.KSK))
    run(w, 2.2)
    assert any("the parent never showed its DS" in n for n in notices(w))
    assert w.key(KSK0).state(RecordType.DS) is RecordState.UNRETENTIVE
    run(w, 8)
    settle(w)
    assert KSK0 not in {k.key_id for k in w.keys}


@pytest.mark.parametrize(
    ("policy_args", "off_at"),
    [
        ({"zsk_lifetime": "2d"}, 2 * DAY - 1800),  # the new ZSK is published, not signing
        ({"keys": "csk", "csk_lifetime": "3d"}, 3 * DAY - 1800),  # the new CSK is published
        ({"ksk_lifetime": "3d", "zsk_lifetime": "unlimited"}, 3 * DAY + 3 * 3600),  # DS asked
    ],
)
def test_signer_off_for_a_week_in_the_middle_of_a_rollover(
    policy_args: dict[str, str], off_at: int
) -> None:
    w = World(tight(**policy_args), START, registration_delay=3600)
    w.at(START + off_at, "offline:604800")
    w.at(START + off_at + DAY, KeyCompromised(f"zsk-13-{START}"))  # arrives while it is off
    run(w, 16)
    restart = START + off_at + 604800
    assert not [when for when, _ in w.plans if START + off_at < when < restart]
    assert any(when == restart for when, _ in w.plans)
    assert len(w.deleted) >= 1  # the rollover under way when it stopped did finish
    settle(w)
