"""The resolver model itself: it accepts what validates and catches what does not.

The last tests break the enforcer on purpose (one second too early, a rule switched off) and
check that the walk through a rollover then fails: the model is not a rubber stamp.
"""

from __future__ import annotations

import pytest

from signwire.keys import rules

from .policies import tight
from .resolver_model import CacheTimes, History, ZoneVersion, validate
from .world import DAY, World

T = CacheTimes(dnskey_ttl=100, signature_ttl=200, ds_ttl=300, zone_propagation=10,
               parent_propagation=20)
START = 1_767_225_600


def version(dnskey: set[str], ksigners: set[str], zsigners: set[str]) -> ZoneVersion:
    return ZoneVersion(0, frozenset(dnskey), frozenset(ksigners), frozenset(zsigners))


def test_validate_permissive_and_strict() -> None:
    algs = {"k8": 8, "z8": 8, "k13": 13, "z13": 13}
    good = version({"k8", "z8"}, {"k8"}, {"z8"})
    assert validate(frozenset({"k8"}), good, good, algs, strict=True) is None
    # A DS for a key that did not sign the DNSKEY RRset.
    unsigned = version({"k8", "z8"}, set(), {"z8"})
    assert "no DS leads" in str(validate(frozenset({"k8"}), unsigned, unsigned, algs, strict=False))
    # Data signed only by a key outside the DNSKEY RRset.
    other = version({"k8", "z8"}, {"k8"}, {"z13"})
    reason = validate(frozenset({"k8"}), good, other, algs, strict=False)
    assert "no signature by a key" in str(reason)
    # Two algorithms in the DNSKEY RRset, data signed by one: fine for RFC 6840, not strict.
    mixed = version({"k8", "z8", "k13", "z13"}, {"k8", "k13"}, {"z8"})
    assert validate(frozenset({"k8"}), mixed, mixed, algs, strict=False) is None
    assert "algorithm 13 of the DNSKEY RRset signs no data" in str(
        validate(frozenset({"k8"}), mixed, mixed, algs, strict=True)
    )
    # Algorithm 13 in the DS RRset without a chain: only harden-algo-downgrade minds.
    ds_both = frozenset({"k8", "k13"})
    assert validate(ds_both, good, good, algs, strict=False) is None
    assert "algorithm 13 of the DS RRset has no chain" in str(
        validate(ds_both, good, good, algs, strict=True)
    )


def test_cached_versions_follow_ttl_and_propagation() -> None:
    h = History(T, algorithms={"a": 13, "b": 13})
    h.publish_zone(1000, {"a"}, {"a"}, {"a"})
    h.publish_zone(2000, {"b"}, {"b"}, {"b"})
    # The first version ended at 2000: a lagging server serves it 10 s more, a cache keeps it
    # 100 s (DNSKEY) or 200 s (data).
    assert {v.start for v in h.cached_dnskey(2109)} == {1000, 2000}
    assert {v.start for v in h.cached_dnskey(2110)} == {2000}
    assert {v.start for v in h.cached_data(2209)} == {1000, 2000}
    assert {v.start for v in h.cached_data(2210)} == {2000}
    assert h.may_be_cached("a", 2209) and not h.may_be_cached("a", 2210)


def test_an_unsafe_history_fails_at_the_right_instants() -> None:
    h = History(T, algorithms={"a": 13, "b": 13})
    h.publish_zone(1000, {"a"}, {"a"}, {"a"})
    h.publish_ds(1500, {"a"})
    # Swap everything at once: caches holding the old DNSKEY RRset see data signed by b only.
    h.publish_zone(5000, {"b"}, {"b"}, {"b"})
    h.publish_ds(5000, {"b"})
    failures = h.failures(0, 6000)
    assert failures
    assert min(f.at for f in failures) == 5000
    assert max(f.at for f in failures) < 5000 + 20 + 300  # the old DS expires from caches
    assert not h.failures(0, 4999)


def test_losing_every_ds_after_securing_is_a_failure() -> None:
    h = History(T, algorithms={"a": 13})
    h.publish_zone(1000, {"a"}, {"a"}, {"a"})
    assert not h.failures(0, 1400)  # unsigned delegation: insecure, which is fine
    h.publish_ds(1500, {"a"})
    h.publish_ds(3000, set())
    assert any(f.reason == "the parent lost every DS" for f in h.failures(0, 4000))


def _zsk_walk() -> World:
    world = World(tight(zsk_lifetime="1d"), START, registration_delay=0)
    world.run_until(START + 4 * DAY)
    return world


def test_the_model_catches_steps_one_second_early(monkeypatch: pytest.MonkeyPatch) -> None:
    honest = rules.ready_at

    def early(key, kind, target, policy):  # type: ignore[no-untyped-def]
        when = honest(key, kind, target, policy)
        return None if when is None else when - 1

    monkeypatch.setattr(rules, "ready_at", early)
    world = _zsk_walk()
    assert world.failures(strict=False)
    assert world.unsafe_deletes


@pytest.mark.parametrize(
    "disabled",
    [
        # Rule 3 and the strict invariant both guard the signatures: disable both.
        ("signature_chain", "every_algorithm_signs"),
        ("dnskey_chain",),
    ],
)
def test_the_model_catches_a_missing_rule(
    monkeypatch: pytest.MonkeyPatch, disabled: tuple[str, ...]
) -> None:
    for name in disabled:
        monkeypatch.setattr(rules, name, lambda *args: True)
    if "dnskey_chain" in disabled:
        policy = tight(zsk_lifetime="unlimited", ksk_lifetime="1d")
    else:
        policy = tight(zsk_lifetime="1d")
    world = World(policy, START, registration_delay=0)
    world.run_until(START + 4 * DAY)
    assert world.failures(strict=False)


def test_the_honest_enforcer_passes_the_same_walk() -> None:
    world = _zsk_walk()
    assert not world.failures(strict=True)
    assert not world.unsafe_deletes
