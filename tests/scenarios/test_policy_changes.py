"""Policy changes that need new keys: algorithm rollovers (to and from a CSK), a new key size,
KSK+ZSK <-> CSK, and changes in the middle of a rollover or of the first signing.

The enforcer is only told the new policy; retiring the old keys and ordering the new ones is
its job. Every instant is checked as in :mod:`.test_rollovers`.
"""

from __future__ import annotations

import pytest

from signwire.keys.enforcer import RollKey
from signwire.keys.keystate import RecordState, RecordType
from signwire.policy.model import KeyRole

from .policies import tight
from .world import DAY, World, assert_safe, settle

START = 1_767_225_600


def change(first: object, *later: tuple[float, object], days: int = 10, delay: int = 0) -> World:
    w = World(first, START, registration_delay=delay)  # type: ignore[arg-type]
    for day, what in later:
        w.at(START + int(day * DAY), what)  # type: ignore[arg-type]
    w.run_until(START + days * DAY)
    assert_safe(w)
    settle(w)
    assert_safe(w)
    return w


def first_time(w: World, key_prefix: str, record: RecordType, new: RecordState) -> int:
    return min(
        when
        for when, plan in w.plans
        for t in plan.transitions
        if t.key_id.startswith(key_prefix) and t.record is record and t.new is new
    )


def last_time(w: World, key_prefix: str, record: RecordType, new: RecordState) -> int:
    return max(
        when
        for when, plan in w.plans
        for t in plan.transitions
        if t.key_id.startswith(key_prefix) and t.record is record and t.new is new
    )


@pytest.mark.parametrize("delay", [0, 12 * 3600])
def test_algorithm_rollovers_to_and_from_csk(delay: int) -> None:
    w = change(
        tight(algorithm="RSASHA256"),
        (2, tight(keys="csk")),  # KSK+ZSK RSASHA256 -> CSK ECDSAP256SHA256
        (6, tight(algorithm="ED25519")),  # CSK -> KSK+ZSK ED25519
        days=12,
        delay=delay,
    )
    assert {k.algorithm for k in w.keys} == {15}
    deleted = {(k.role.value, k.algorithm) for _, k in w.deleted}
    assert {("ksk", 8), ("zsk", 8), ("csk", 13)} <= deleted
    # RFC 6781 §4.1.4: a new algorithm signs the data everywhere before its DNSKEY appears,
    # and a leaving one keeps signing until its DNSKEYs are gone from every cache.
    assert first_time(w, "csk-13", RecordType.ZRRSIG, RecordState.OMNIPRESENT) <= first_time(
        w, "csk-13", RecordType.DNSKEY, RecordState.RUMOURED
    )
    assert last_time(w, "zsk-8", RecordType.ZRRSIG, RecordState.UNRETENTIVE) >= last_time(
        w, "ksk-8", RecordType.DNSKEY, RecordState.HIDDEN
    )
    assert first_time(w, "zsk-15", RecordType.ZRRSIG, RecordState.OMNIPRESENT) <= first_time(
        w, "ksk-15", RecordType.DNSKEY, RecordState.RUMOURED
    )


def test_algorithm_rollover_with_double_ds() -> None:
    w = change(
        tight(algorithm="RSASHA256", ksk_rollover="double-ds"),
        (2, tight(ksk_rollover="double-ds")),
        (6, tight(algorithm="ED448", ksk_rollover="double-ds")),
        days=12,
        delay=3600,
    )
    assert {k.algorithm for k in w.keys} == {16}


def test_same_algorithm_ksk_zsk_to_csk_and_back() -> None:
    w = change(tight(), (2, tight(keys="csk")), (5, tight()), days=9)
    assert sorted(k.role.value for k in w.keys) == ["ksk", "zsk"]
    assert {k.role.value for _, k in w.deleted} == {"ksk", "zsk", "csk"}


def test_new_rsa_key_size_rolls_both_keys() -> None:
    w = change(tight(algorithm="RSASHA256"), (2, tight(algorithm="RSASHA256", key_size=3072)))
    assert {(k.algorithm, k.size) for k in w.keys} == {(8, 3072)}
    assert {k.role.value for _, k in w.deleted if k.size == 2048} == {"ksk", "zsk"}


def test_algorithm_change_in_the_middle_of_a_zsk_rollover() -> None:
    # The ZSK rollover starts at 1d minus its lead; change while the successor is published.
    w = change(tight(zsk_lifetime="1d"), (1, tight(algorithm="RSASHA512", zsk_lifetime="1d")))
    assert {k.algorithm for k in w.keys} == {10}


def test_algorithm_change_while_a_ksk_rollover_waits_for_the_parent() -> None:
    w = World(tight(), START, registration_delay=12 * 3600)
    w.at(START + 2 * DAY, RollKey(KeyRole.KSK))
    w.at(START + 2 * DAY + 3 * 3600, tight(algorithm="ED25519"))
    w.run_until(START + 2 * DAY + 3 * 3600 - 1)
    # When the policy changes, the new KSK's DS is requested and not yet at the parent.
    assert any(
        k.algorithm == 13
        and k.state(RecordType.DS) is RecordState.RUMOURED
        and k.ds_seen_at is None
        for k in w.keys
    )
    w.run_until(START + 3 * DAY)
    assert_safe(w)
    settle(w)
    assert_safe(w)
    assert {k.algorithm for k in w.keys} == {15}


def test_policy_change_during_the_first_signing() -> None:
    w = change(tight(), (0.02, tight(keys="csk", algorithm="ED448")), days=4)
    assert [(k.role.value, k.algorithm) for k in w.keys] == [("csk", 16)]
    # The first keys never got a DS, and left without one.
    assert all(k.ds_requested_at is None for _, k in w.deleted)
