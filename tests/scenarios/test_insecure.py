"""Taking a signed zone insecure under a policy without keys, and the ways an operator can
get it wrong, checked at every instant with the resolver model.

The zone goes from KSK+ZSK (double-KSK and double-DS) or CSK to unsigned. What must hold
throughout: every cached mix of DS, DNSKEY and signatures validates, or holds the empty DS
RRset the zone asked for and is insecure (never bogus); the delete form of CDS/CDNSKEY is
published from the withdrawal until no DS can be cached and never after; no key is deleted
while a record of it may be cached; and at the end no key is left and the zone is unsigned.
"""

from __future__ import annotations

from typing import Any

import pytest

from signwire.keys.enforcer import DsGone, DsSeen, advance, signing_view
from signwire.keys.keystate import Goal, RecordState, RecordType
from signwire.keys.plan import insecure_status
from signwire.policy.model import Policy

from .policies import fast, tight
from .world import DAY, World, assert_safe, settle

START = 1_767_225_600
HOUR = 3600
SWITCH = START + 3 * DAY  # the zone is secure by then, whatever the parent's delay
D, S = RecordType.DNSKEY, RecordType.DS

LAYOUTS: dict[str, dict[str, Any]] = {
    "ksk+zsk": {},
    "double-ds": {"ksk_rollover": "double-ds"},
    "csk": {"keys": "csk"},
}


def secured(layout: str, *, margins: str = "tight", **overrides: Any) -> Policy:
    make = tight if margins == "tight" else fast
    return make(f"signed-{layout}", **{**LAYOUTS[layout], **overrides})


def unsigned(base: Policy) -> Policy:
    """The zone's own policy without keys: its timing, parent settings, and ``keys = "none"``."""
    make = tight if base.timing.publish_safety == 0 else fast
    return make(f"{base.name}-insecure", keys="none")


def going_insecure(policy: Policy, *, delay: int = 1800, **world: Any) -> World:
    w = World(policy, START, registration_delay=delay, **world)
    w.at(SWITCH, unsigned(policy))
    return w


def first(w: World, record: RecordType, new: RecordState, key_id: str | None = None) -> int:
    return min(
        when
        for when, plan in w.plans
        for t in plan.transitions
        if t.record is record and t.new is new and (key_id is None or t.key_id == key_id)
    )


def ends_insecure(w: World) -> None:
    assert w.keys == ()
    last = w.history.zone[-1]
    assert not (last.dnskey or last.dnskey_signers or last.zone_signers)
    assert w.history.parent[-1].ds == frozenset() and w.history.parent[-1].by_design


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("margins", ["tight", "fast"])
@pytest.mark.parametrize("delay", [0, 6 * HOUR])
def test_going_insecure(layout: str, margins: str, delay: int) -> None:
    policy = secured(layout, margins=margins, zsk_lifetime="unlimited")
    w = going_insecure(policy, delay=delay)
    w.run_until(START + 8 * DAY)
    assert_safe(w)
    ends_insecure(w)
    assert sorted(k.role.value for _, k in w.deleted) == sorted(s.role.value for s in policy.keys)
    assert all(k.retire_reason == "insecure" for _, k in w.deleted)

    # The DS goes first; DNSKEYs and signatures only once no cache can hold the DS.
    t = policy.timing
    parent_dropped = next(v.start for v in w.history.parent if v.by_design)
    stripped = first(w, D, RecordState.UNRETENTIVE)
    assert first(w, S, RecordState.UNRETENTIVE) == SWITCH
    assert stripped >= parent_dropped + t.parent_ds_ttl + t.parent_propagation_delay
    assert stripped == first(w, RecordType.ZRRSIG, RecordState.UNRETENTIVE)
    # The delete form of CDS/CDNSKEY from the withdrawal until the DNSKEYs go, never else.
    published = {when: on for when, on in w.cds_delete}
    assert all(on == (SWITCH <= when < stripped) for when, on in published.items())
    assert published[SWITCH]
    settle(w)


def test_going_insecure_during_a_zsk_rollover() -> None:
    # A ZSK rollover is under way (the successor pre-published) when the policy changes.
    policy = secured("ksk+zsk", zsk_lifetime="2d")
    w = World(policy, START, registration_delay=HOUR)
    w.at(START + 2 * DAY - 1800, unsigned(policy))
    w.run_until(START + 7 * DAY)
    assert_safe(w)
    ends_insecure(w)
    assert sum(k.role.value == "zsk" for _, k in w.deleted) == 2


def test_a_zone_that_never_had_a_ds_goes_unsigned_at_once() -> None:
    # Switched before the first DS was even requested: nothing to wait for at the parent.
    policy = secured("ksk+zsk")
    w = World(policy, START, registration_delay=HOUR)
    w.at(START + 600, unsigned(policy))
    w.run_until(START + DAY)
    assert_safe(w)
    assert w.keys == () and w.history.parent[-1].ds == frozenset()
    assert not w.history.zone[-1].dnskey
    assert all(not k.ds_requested_at for _, k in w.deleted)
    assert first(w, D, RecordState.UNRETENTIVE) == START + 600


def test_ds_gone_reported_while_the_parent_still_serves_it() -> None:
    # The parent takes two days; the operator says "gone" after an hour. The checker still
    # sees the DS in that very check: the report is ignored and nothing moves.
    policy = secured("ksk+zsk")
    ksk = f"ksk-13-{START}"
    w = going_insecure(policy, delay=2 * DAY)
    w.at(SWITCH + HOUR, DsGone(ksk))
    w.run_until(SWITCH + HOUR)
    assert any(
        n == f"ds-gone for {ksk} ignored: the parent was seen with its DS in the same check; "
        "it still serves it"
        for _, n in w.notices
    )
    assert w.key(ksk).ds_gone_at is None
    w.run_until(SWITCH + 2 * DAY - 1)
    assert all(k.state(D) is RecordState.OMNIPRESENT for k in w.keys)
    w.run_until(START + 9 * DAY)
    assert_safe(w)
    ends_insecure(w)


def test_a_ds_seen_again_cancels_an_earlier_gone() -> None:
    # An operator says "gone" (no checker runs then), and the next check sees the DS: the
    # first "gone" must not run out into stripping the zone.
    policy = secured("csk")
    csk = f"csk-13-{START}"
    w = going_insecure(policy, delay=2 * DAY)
    w.run_until(SWITCH + 2 * HOUR)
    plan = advance(unsigned(policy), w.keys, SWITCH + 2 * HOUR, events=[DsGone(csk)])
    gone = {k.key_id: k for k in plan.keys}[csk]
    assert gone.ds_gone_at == SWITCH + 2 * HOUR
    again = advance(unsigned(policy), plan.keys, SWITCH + 3 * HOUR, events=[DsSeen(csk)])
    key = {k.key_id: k for k in again.keys}[csk]
    assert key.ds_gone_at is None
    assert f"{csk}: the parent serves its DS again; the earlier ds-gone no longer counts" in (
        again.notices
    )
    later = advance(unsigned(policy), again.keys, SWITCH + 30 * DAY)
    assert {k.key_id: k for k in later.keys}[csk].state(D) is RecordState.OMNIPRESENT
    assert later.next_event_at is None


def test_ds_gone_never_reported_waits_and_says_why() -> None:
    policy = secured("ksk+zsk")
    w = going_insecure(policy, delay=60 * DAY)  # the parent never acts within the test
    w.run_until(START + 20 * DAY)
    assert_safe(w)
    assert len(w.keys) == 2 and all(k.goal is Goal.ABSENT for k in w.keys)
    assert all(k.state(D) is RecordState.OMNIPRESENT for k in w.keys)
    assert w.cds_delete[-1][1]
    plan = w.last_plan
    assert plan is not None and plan.next_event_at is None
    ksk = next(k for k in w.keys if k.role.value == "ksk")
    (ds_wait,) = [x for x in plan.waits if x.key_id == ksk.key_id and x.record is S]
    assert ds_wait.until is None
    assert ds_wait.reason.startswith("going insecure: waiting for the parent to remove the DS")
    status = insecure_status(w.policy, w.keys)
    assert status is not None and "waiting for the parent to remove DS" in status
    assert {x.reason for x in plan.waits if x.record is not S} == {
        "going insecure: stays until no DS of the zone can be cached"
    }


@pytest.mark.parametrize(
    ("layout", "off_after"),
    [
        ("ksk+zsk", 1800),  # the withdrawal asked, the parent not yet acted
        ("ksk+zsk", 3 * HOUR),  # the parent acted and was seen: waiting for caches
        ("csk", 5 * HOUR),  # the zone is being stripped: waiting to delete the keys
    ],
)
def test_signer_off_for_a_week_while_going_insecure(layout: str, off_after: int) -> None:
    policy = secured(layout)
    w = going_insecure(policy, delay=HOUR)
    w.at(SWITCH + off_after, "offline:604800")
    w.run_until(START + 14 * DAY)
    assert_safe(w)
    ends_insecure(w)
    restart = SWITCH + off_after + 604800
    assert not [when for when, _ in w.plans if SWITCH + off_after < when < restart]


@pytest.mark.parametrize("layout", ["ksk+zsk", "csk"])
def test_signed_again_after_going_insecure(layout: str) -> None:
    # Unsigned for a few days, then the zone's policy again: a fresh first signing.
    policy = secured(layout)
    w = going_insecure(policy, delay=HOUR)
    w.at(START + 8 * DAY, policy)
    w.run_until(START + 8 * DAY - 1)
    ends_insecure(w)
    w.run_until(START + 14 * DAY)
    assert_safe(w)
    settle(w)
    assert_safe(w)
    first_keys = {k.key_id for _, k in w.deleted}
    assert not first_keys & {k.key_id for k in w.keys}
    assert w.history.parent[-1].ds == {k.key_id for k in w.keys if k.role.signs_keys}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize(
    "after",
    [
        HOUR,  # the withdrawal asked and not yet done by the parent
        6 * HOUR,  # the parent removed the DS and was seen doing it; caches still hold it
    ],
)
def test_changing_mind_while_the_ds_is_withdrawn(layout: str, after: int) -> None:
    # A key whose DS is on its way out goes on leaving, as in a rollover: a successor's DS
    # is requested; a ZSK (no DS) simply stays.
    policy = secured(layout, zsk_lifetime="unlimited")
    w = going_insecure(policy, delay=2 * HOUR)
    w.at(SWITCH + after, policy)
    w.run_until(START + 10 * DAY)
    assert_safe(w)
    settle(w)
    assert_safe(w)
    signers = [s.role.value for s in policy.keys if s.role.signs_keys]
    assert sorted(k.role.value for _, k in w.deleted) == signers
    assert all(k.retire_reason == "insecure" for _, k in w.deleted)
    kept = [k.key_id for k in w.keys if k.created_at == START]
    assert [k.split("-")[0] for k in kept] == [r for r in ("zsk",) if r in
                                                {s.role.value for s in policy.keys}]
    assert all(f"{key_id} kept: policy {policy.name!r} signs the zone again" in
               [n for _, n in w.notices] for key_id in kept)
    assert w.history.parent[-1].ds == {k.key_id for k in w.keys if k.role.signs_keys}
    # The delete form went as soon as the zone was to stay signed.
    assert not any(on for when, on in w.cds_delete if when >= SWITCH + after)


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_changing_mind_once_the_zone_is_unsigned(layout: str) -> None:
    # The zone is unsigned, its keys not yet deleted (caches may hold their records): the
    # same keys come back, as for a first signing, and their DS is asked for anew.
    policy = secured(layout, zsk_lifetime="unlimited")
    w = going_insecure(policy, delay=HOUR)
    w.run_until(START + 8 * DAY)
    stripped = first(w, D, RecordState.UNRETENTIVE)
    w = going_insecure(policy, delay=HOUR)
    w.at(stripped + 600, policy)
    w.run_until(START + 10 * DAY)
    assert_safe(w)
    settle(w)
    assert_safe(w)
    assert not w.deleted and len(w.created) == len(policy.keys)
    assert w.history.parent[-1].ds == {k.key_id for k in w.keys if k.role.signs_keys}


def test_changing_mind_to_another_algorithm() -> None:
    # Back to signed, but with new keys of another algorithm: the old ones finish leaving.
    policy = secured("ksk+zsk")
    w = going_insecure(policy, delay=2 * HOUR)
    w.at(SWITCH + HOUR, tight("ed", algorithm="ED25519", keys="csk"))
    w.run_until(START + 10 * DAY)
    assert_safe(w)
    settle(w)
    assert_safe(w)
    assert [(k.role.value, k.algorithm) for k in w.keys] == [("csk", 15)]
    assert {k.algorithm for _, k in w.deleted} == {13}


def test_the_delete_form_follows_the_policy_switches() -> None:
    policy = secured("ksk+zsk")
    w = going_insecure(policy, delay=HOUR)
    w.run_until(SWITCH)
    both_off = tight("quiet", keys="none", cds=False, cdnskey=False)
    assert not signing_view(w.keys, both_off).cds_delete
    view = signing_view(w.keys, unsigned(policy))
    assert view.cds_delete and view.cds == () and view.cdnskey == ()
