"""Every rollover type, walked through at least two full rollovers on a manual clock.

At every instant where what a cache may hold changes, every combination of cached DS, DNSKEY
and signatures must validate, for strict validators too (see :mod:`.resolver_model`); no key
material may be deleted while any of its records may be cached; and once rollovers stop, every
key settles. ``tight`` has no safety margins, so a step taken a second early shows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from signwire.keys.keystate import RecordState, RecordType
from signwire.keys.plan import ActionKind
from signwire.policy.model import Policy
from signwire.policy.parse import default_policy

from .policies import fast, tight
from .world import DAY, World, assert_safe, settle

START = 1_767_225_600
MAKERS: dict[str, Callable[..., Policy]] = {"tight": tight, "fast": fast}


def walk(policy: Policy, days: int, **world: Any) -> World:
    w = World(policy, START, **world)
    w.run_until(START + days * DAY)
    assert_safe(w)
    return w


def transitions(w: World, record: RecordType, new: RecordState) -> dict[str, int]:
    return {
        t.key_id: when
        for when, plan in w.plans
        for t in plan.transitions
        if t.record is record and t.new is new
    }


@pytest.mark.parametrize("margins", ["tight", "fast"])
@pytest.mark.parametrize("registration_delay", [0, 6 * 3600])
def test_zsk_pre_publication(margins: str, registration_delay: int) -> None:
    policy = MAKERS[margins](zsk_lifetime="1d")
    w = walk(policy, 5, registration_delay=registration_delay)
    assert w.deleted_roles().get("zsk", 0) >= 3
    assert "ksk" not in w.deleted_roles()
    published = transitions(w, RecordType.DNSKEY, RecordState.RUMOURED)
    signing = transitions(w, RecordType.ZRRSIG, RecordState.RUMOURED)
    successors = [k.key_id for _, k in w.created if k.role.value == "zsk"][1:]
    for key_id in successors:
        # Pre-publication: the DNSKEY is in every cache before the key signs anything.
        assert signing[key_id] - published[key_id] >= (
            policy.timing.dnskey_ttl + policy.timing.zone_propagation_delay
        )
    # Never two sets of signatures on the data at once.
    assert max(len(v.zone_signers) for v in w.history.zone) == 1
    settle(w)
    assert_safe(w)


@pytest.mark.parametrize("margins", ["tight", "fast"])
@pytest.mark.parametrize("registration_delay", [0, 6 * 3600])
def test_ksk_double_ksk(margins: str, registration_delay: int) -> None:
    w = walk(MAKERS[margins](zsk_lifetime="unlimited", ksk_lifetime="2d"), 7,
             registration_delay=registration_delay)
    assert w.deleted_roles().get("ksk", 0) >= 2
    # Double-KSK: two KSKs sign the DNSKEY RRset, the parent swaps the DS in one step.
    assert max(len(v.dnskey_signers) for v in w.history.zone) == 2
    assert max(len(v.ds) for v in w.history.parent) == 1
    ds_asked = transitions(w, RecordType.DS, RecordState.RUMOURED)
    in_caches = transitions(w, RecordType.DNSKEY, RecordState.OMNIPRESENT)
    for key_id, asked in ds_asked.items():
        assert asked >= in_caches[key_id]
    settle(w)
    assert_safe(w)


@pytest.mark.parametrize("margins", ["tight", "fast"])
@pytest.mark.parametrize("registration_delay", [0, 6 * 3600])
def test_ksk_double_ds(margins: str, registration_delay: int) -> None:
    policy = MAKERS[margins](zsk_lifetime="unlimited", ksk_lifetime="2d", ksk_rollover="double-ds")
    w = walk(policy, 8, registration_delay=registration_delay)
    assert w.deleted_roles().get("ksk", 0) >= 2
    # Double-DS: two DS at the parent, never two KSKs in the DNSKEY RRset.
    assert max(len(v.ds) for v in w.history.parent) == 2
    assert max(len(v.dnskey_signers) for v in w.history.zone) == 1
    settle(w)
    assert_safe(w)


@pytest.mark.parametrize("margins", ["tight", "fast"])
@pytest.mark.parametrize("registration_delay", [0, 6 * 3600])
def test_csk_rollover(margins: str, registration_delay: int) -> None:
    w = walk(MAKERS[margins](keys="csk", csk_lifetime="2d"), 7,
             registration_delay=registration_delay)
    assert w.deleted_roles().get("csk", 0) >= 2
    assert max(len(v.ds) for v in w.history.parent) == 1
    settle(w)
    assert_safe(w)


def test_zsk_and_ksk_rolling_at_the_same_time() -> None:
    w = walk(tight(zsk_lifetime="1d", ksk_lifetime="1d"), 6, registration_delay=3600)
    assert w.deleted_roles().get("ksk", 0) >= 2 and w.deleted_roles().get("zsk", 0) >= 2
    settle(w)
    assert_safe(w)


def test_first_signing_publishes_the_ds_last() -> None:
    w = walk(fast(), 1)
    first = w.plans[0][1]
    assert [a.kind for a in first.actions][:2] == [ActionKind.CREATE_KEY, ActionKind.CREATE_KEY]
    ds_asked = transitions(w, RecordType.DS, RecordState.RUMOURED)
    everywhere = max(
        when
        for when, plan in w.plans
        for t in plan.transitions
        if t.new is RecordState.OMNIPRESENT and t.record is not RecordType.DS
    )
    assert list(ds_asked.values()) == [everywhere]
    assert w.stable()


def test_the_default_policy_for_400_days() -> None:
    w = walk(default_policy(), 400, registration_delay=DAY)
    assert w.deleted_roles() == {"zsk": 4}
    assert [k.role.value for k in w.keys] == ["ksk", "zsk"]
