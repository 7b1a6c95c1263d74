"""RFC 7583 waits of a policy, the simulated timeline of the default policy, and the CLI."""

from __future__ import annotations

from pathlib import Path

from signwire.keys.simulate import format_timeline, simulate
from signwire.policy import intervals
from signwire.policy.model import KeyRole
from signwire.policy.parse import default_policy, parse_policy

DAY = 86400
START = 1_767_225_600  # 2026-01-01T00:00:00Z


def test_intervals_of_the_default_policy() -> None:
    p = default_policy()
    assert intervals.dnskey_publish(p) == 3600 + 300 + 3600
    assert intervals.dnskey_retire(p) == 3600 + 300 + 3600
    assert intervals.signatures_publish(p) == DAY + 300 + 3600
    assert intervals.ds_publish(p) == DAY + 3600 + 3600
    assert intervals.takeover_lead(p, KeyRole.ZSK) == intervals.dnskey_publish(p)
    assert intervals.rollover_duration(p, KeyRole.ZSK) == 2 * 7500 + DAY + 3900


def test_double_ds_lead_and_duration_use_the_parent() -> None:
    p = parse_policy("dds", {"ksk-rollover": "double-ds", "parent-ds-ttl": "2d"})
    assert intervals.takeover_lead(p, KeyRole.KSK) == 2 * DAY + 3600 + 3600
    steps = intervals.rollover_steps(p, KeyRole.KSK)
    firsts = [name.split(" +")[0] for name, _ in steps]
    assert firsts == ["parent-ds-ttl", "dnskey-ttl", "parent-ds-ttl"]


def test_signature_ttl_covers_negative_answers() -> None:
    p = parse_policy("neg", {"max-zone-ttl": "1h", "soa-negative-ttl": "3h", "dnskey-ttl": "1h"})
    assert p.signature_ttl == 3 * 3600
    assert intervals.signatures_retire(p) == 3 * 3600 + 300 + 3600


def test_default_policy_for_400_days() -> None:
    events = simulate(default_policy(), START, 400)
    assert [e.at for e in events] == sorted(e.at for e in events)
    assert all(START <= e.at <= START + 400 * DAY for e in events)

    def times(what: str, role: KeyRole) -> list[int]:
        return [e.at - START for e in events if e.what == what and e.role is role]

    # First signing: both keys at once, the DS once everything is in every cache.
    assert times("created (ECDSAP256SHA256, 256 bits)", KeyRole.KSK) == [0]
    assert times("starts signing the zone", KeyRole.ZSK)[0] == 0
    assert times("DS requested from the parent", KeyRole.KSK) == [DAY + 3900]
    # DS seen after propagation + TTL (simulated parent), then in caches a TTL and margin later.
    assert times("parent seen with the DS", KeyRole.KSK) == [DAY + 3900 + DAY + 3600]
    assert times("DS at the parent and in every cache", KeyRole.KSK) == [
        DAY + 3900 + DAY + 3600 + DAY + 7200
    ]
    # The KSK never rolls; the ZSK takes over every 90 days, its successor published ahead.
    assert len(times("created (ECDSAP256SHA256, 256 bits)", KeyRole.KSK)) == 1
    starts = times("starts signing the zone", KeyRole.ZSK)
    assert starts == [0, 90 * DAY, 180 * DAY, 270 * DAY, 360 * DAY]
    published = times("DNSKEY published", KeyRole.ZSK)
    assert published == [0] + [n * 90 * DAY - 7500 for n in (1, 2, 3, 4)]
    deleted = times("key material deleted", KeyRole.ZSK)
    assert len(deleted) == 4
    # The old ZSK's material goes only after its signatures and DNSKEY left every cache.
    assert deleted[0] == 90 * DAY + (DAY + 3900) + 7500


def test_timeline_text_has_dates() -> None:
    events = simulate(default_policy(), START, 2)
    text = format_timeline(events, START)
    lines = text.splitlines()
    assert lines[0].startswith("2026-01-01 00:00:00Z  +  0d00h00m  KSK ECDSAP256SHA256")
    assert lines[0].endswith("created (ECDSAP256SHA256, 256 bits)")
    ds_line = next(line for line in lines if "DS requested" in line)
    assert ds_line.startswith("2026-01-02 01:05:00Z  +  1d01h05m")
    assert format_timeline([], START) == "no key events\n"


def test_cli_simulate(signwire) -> None:  # type: ignore[no-untyped-def]
    result = signwire("policy", "simulate", "default", "--days", "400", "--now", "20260101000000")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("# policy 'default' (<built-in>): KSK+ZSK ECDSAP256SHA256")
    assert "ZSK lifetime 90d" in lines[0]
    assert sum("key material deleted" in line for line in lines) == 4
    assert lines[2].startswith("2026-01-01 00:00:00Z")


def test_cli_simulate_start_and_policy_file(signwire, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    conf = tmp_path / "signwire.toml"
    conf.write_text('[policy.csk]\nkeys = "csk"\ncsk-lifetime = "30d"\n')
    result = signwire(
        "policy", "simulate", "csk", "--policy-file", conf, "--days", "61", "--start", "1767225600"
    )
    assert result.code == 0, result.err
    assert sum("CSK" in line and "created" in line for line in result.out.splitlines()) == 3


def test_cli_check(signwire, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ok = signwire("policy", "check")
    assert ok.code == 0 and "policy 'default' (<built-in>): ok" in ok.out
    assert "a ZSK rollover takes at least 1d5h15m" in ok.out
    bad = tmp_path / "bad.toml"
    bad.write_text('[policy.quick]\nzsk-lifetime = "2h"\n')
    result = signwire("policy", "check", "--policy-file", bad)
    assert result.code == 1
    assert f"{bad}: policy 'quick': zsk-lifetime: zsk-lifetime (2h) is shorter" in result.err


def test_cli_usage_errors(signwire, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert signwire("policy", "simulate", "default", "--days", "0").code == 2
    missing = signwire(
        "policy", "simulate", "default", "--days", "3", "--policy-file", tmp_path / "none.toml"
    )
    assert missing.code == 2 and "no such file" in missing.err
    unknown = signwire("policy", "simulate", "nosuch", "--days", "3")
    assert unknown.code == 1 and "no such policy" in unknown.err
