"""The enforcer as a function: its actions, waits, next event time, events and state values."""

from __future__ import annotations

import dataclasses
import json

import pytest

from signwire.keys.enforcer import (
    ActionKind,
    DsGone,
    DsSeen,
    KeyCompromised,
    RollKey,
    advance,
    signing_view,
)
from signwire.keys.keystate import Goal, KeyState, Record, RecordState, RecordType
from signwire.policy import intervals
from signwire.policy.model import KeyRole

from .policies import fast

START = 1_767_225_600
H, R, O, U = (  # noqa: E741 (the paper's names)
    RecordState.HIDDEN,
    RecordState.RUMOURED,
    RecordState.OMNIPRESENT,
    RecordState.UNRETENTIVE,
)
CALM = fast(zsk_lifetime="unlimited")


def kinds(plan) -> list[ActionKind]:  # type: ignore[no-untyped-def]
    return [a.kind for a in plan.actions]


def secured(policy=CALM):  # type: ignore[no-untyped-def]
    """Advance a fresh zone until its DS is at the parent and in every cache; the parent shows
    a requested DS an hour after the request."""
    plan = advance(policy, (), START)
    now = START
    while not any(k.ds.state is O for k in plan.keys):
        requested = [k for k in plan.keys if k.ds.state is R and k.ds_seen_at is None]
        if requested:
            now += 3600
            plan = advance(policy, plan.keys, now, events=[DsSeen(k.key_id) for k in requested])
            continue
        assert plan.next_event_at is not None
        now = plan.next_event_at
        plan = advance(policy, plan.keys, now)
    return plan, now


def test_first_call_creates_and_publishes() -> None:
    plan = advance(CALM, (), START)
    assert kinds(plan) == [
        ActionKind.CREATE_KEY,
        ActionKind.CREATE_KEY,
        ActionKind.PUBLISH_DNSKEY,
        ActionKind.START_SIGNING_DNSKEY,
        ActionKind.PUBLISH_DNSKEY,
        ActionKind.START_SIGNING_ZONE,
    ]
    ksk, zsk = plan.keys
    assert (ksk.key_id, ksk.role, zsk.key_id, zsk.role) == (
        f"ksk-13-{START}",
        KeyRole.KSK,
        f"zsk-13-{START}",
        KeyRole.ZSK,
    )
    view = signing_view(plan.keys, CALM)
    assert view.dnskey == (ksk.key_id, zsk.key_id)
    assert view.dnskey_signers == (ksk.key_id,)
    assert view.zone_signers == (zsk.key_id,)
    assert view.ds == view.cds == view.cdnskey == ()
    assert plan.instructions(CALM) == view
    assert plan.next_event_at == START + intervals.dnskey_publish(CALM)


def test_advance_is_pure() -> None:
    first = advance(CALM, (), START)
    again = advance(CALM, (), START)
    assert first == again
    later = first.next_event_at
    assert later is not None
    assert advance(CALM, first.keys, later) == advance(CALM, first.keys, later)


def test_nothing_moves_before_its_time() -> None:
    plan = advance(CALM, (), START)
    assert plan.next_event_at is not None
    early = advance(CALM, plan.keys, plan.next_event_at - 1)
    assert early.transitions == () and early.keys == plan.keys
    due = advance(CALM, plan.keys, plan.next_event_at)
    assert {(t.record, t.new) for t in due.transitions} >= {(RecordType.DNSKEY, O)}


def test_ds_request_actions_and_waits() -> None:
    plan = advance(CALM, (), START)
    while not any(a.kind is ActionKind.SUBMIT_DS for a in plan.actions):
        assert plan.next_event_at is not None
        plan = advance(CALM, plan.keys, plan.next_event_at)
    assert ActionKind.PUBLISH_CDS in kinds(plan)
    ksk = plan.keys[0]
    assert signing_view(plan.keys, CALM).cds == (ksk.key_id,)
    wait = next(w for w in plan.waits if w.record is RecordType.DS)
    assert (wait.key_id, wait.target, wait.until) == (ksk.key_id, O, None)
    assert "ds-seen" in wait.reason
    assert plan.next_event_at is None  # nothing but the parent can move things now
    # Without CDS/CDNSKEY publication the parent still gets a submission, and no CDS appears.
    quiet = dataclasses.replace(
        CALM, parent=dataclasses.replace(CALM.parent, cds=False, cdnskey=False)
    )
    assert signing_view(plan.keys, quiet).cds == ()
    assert signing_view(plan.keys, quiet).ds == (ksk.key_id,)


def test_ds_seen_starts_the_wait_for_caches() -> None:
    plan = advance(CALM, (), START)
    while not any(k.ds.state is R for k in plan.keys):
        assert plan.next_event_at is not None
        plan = advance(CALM, plan.keys, plan.next_event_at)
    now = plan.next_event_at or START
    ksk_id = plan.keys[0].key_id
    seen = advance(CALM, plan.keys, START + 3 * 86400, events=[DsSeen(ksk_id)])
    assert seen.keys[0].ds_seen_at == START + 3 * 86400
    assert seen.next_event_at == START + 3 * 86400 + intervals.ds_publish(CALM)
    again = advance(CALM, seen.keys, START + 3 * 86400 + 60, events=[DsSeen(ksk_id)])
    assert again.keys[0].ds_seen_at == START + 3 * 86400  # the first sighting counts
    assert now  # (the loop above ran)


def test_secured_zone_is_stable_and_sleeps() -> None:
    plan, now = secured()
    assert all(k.state(kind) in (H, O) for k in plan.keys for kind in RecordType)
    assert plan.next_event_at is None and plan.waits == ()
    assert advance(CALM, plan.keys, now + 10**8).transitions == ()


def test_lifetime_sets_the_next_event() -> None:
    policy = fast(zsk_lifetime="30d")
    plan, _ = secured(policy)
    zsk = next(k for k in plan.keys if k.role is KeyRole.ZSK)
    assert zsk.active_at == START
    due = START + 30 * 86400 - intervals.takeover_lead(policy, KeyRole.ZSK)
    assert plan.next_event_at == due
    rolled = advance(policy, plan.keys, due)
    new = next(k for k in rolled.keys if k.created_at == due)
    assert (new.role, new.predecessor) == (KeyRole.ZSK, zsk.key_id)
    old = next(k for k in rolled.keys if k.key_id == zsk.key_id)
    assert (old.goal, old.retire_reason) == (Goal.ABSENT, "lifetime")


def test_keys_outside_the_policy_retire_and_duplicates_go() -> None:
    plan, now = secured()
    ksk, zsk = plan.keys
    twin = dataclasses.replace(zsk, key_id="zsk-twin", created_at=zsk.created_at + 1)
    stray = dataclasses.replace(zsk, key_id="zsk-rsa", algorithm=8, size=2048)
    out = advance(CALM, (ksk, zsk, twin, stray), now)
    by_id = {k.key_id: k for k in out.keys}
    assert by_id[zsk.key_id].retire_reason == "duplicate"
    assert by_id["zsk-rsa"].retire_reason == "policy"
    assert by_id["zsk-twin"].goal is Goal.PRESENT
    with pytest.raises(ValueError, match="two keys have the id"):
        advance(CALM, (ksk, ksk), now)


def test_hidden_retired_keys_are_deleted() -> None:
    plan, now = secured()
    ksk, zsk = plan.keys
    gone = KeyState("old", KeyRole.ZSK, 13, 256, START - 10, Goal.ABSENT)
    out = advance(CALM, (ksk, zsk, gone), now)
    assert [(a.kind, a.key_id) for a in out.actions] == [(ActionKind.DELETE_KEY, "old")]
    assert "old" not in {k.key_id for k in out.keys}


def test_events_that_make_no_sense_leave_notices() -> None:
    plan, now = secured()
    ksk = plan.keys[0]
    out = advance(
        CALM,
        plan.keys,
        now + 60,
        events=[DsSeen("nope"), DsGone(ksk.key_id), DsSeen(ksk.key_id), KeyCompromised("x")],
    )
    assert out.notices == (
        "ds-seen for unknown key 'nope' ignored",
        f"ds-seen for {ksk.key_id} ignored: its DS is omnipresent, already known to be at "
        "the parent",
        f"ds-gone for {ksk.key_id} ignored: its DS is omnipresent, not being withdrawn",
        "compromised for unknown key 'x' ignored",
    )
    assert out.keys == plan.keys


def test_operator_roll_and_compromise() -> None:
    plan, now = secured()
    ksk = plan.keys[0]
    out = advance(CALM, plan.keys, now, events=[RollKey(KeyRole.ZSK), KeyCompromised(ksk.key_id)])
    by_role: dict[KeyRole, list[KeyState]] = {}
    for k in out.keys:
        by_role.setdefault(k.role, []).append(k)
    assert [k.goal for k in by_role[KeyRole.ZSK]] == [Goal.ABSENT, Goal.PRESENT]
    assert [k.goal for k in by_role[KeyRole.KSK]] == [Goal.ABSENT, Goal.PRESENT]
    assert by_role[KeyRole.KSK][0].compromised
    successor = by_role[KeyRole.KSK][1].key_id
    assert out.notices == (f"{ksk.key_id} compromised: {successor} replaces it",)
    assert kinds(out).count(ActionKind.CREATE_KEY) == 2


def test_key_state_round_trips_through_json() -> None:
    plan, now = secured(fast())
    rolled = advance(fast(), plan.keys, now, events=[RollKey(KeyRole.ZSK)])
    for key in rolled.keys:
        text = json.dumps(key.to_dict(), sort_keys=True)
        assert KeyState.from_dict(json.loads(text)) == key
    sample = rolled.keys[0].to_dict()
    assert sample["role"] == "ksk" and sample["goal"] == "present"
    assert sample["dnskey"] == {
        "state": "omnipresent",
        "since": sample["dnskey"]["since"],
        "previous": "rumoured",
    }


def test_record_keeps_its_previous_state() -> None:
    key = KeyState("k", KeyRole.ZSK, 13, 256, 0, Goal.PRESENT, dnskey=Record(O, 5, R))
    moved = key.with_record(RecordType.DNSKEY, U, 9)
    assert moved.dnskey == Record(U, 9, O)
