"""The SOA refresh state machine, walked with a hand-moved clock across days.

A small simulation plays the primaries: each is up (answers its SOA and transfers), down
(every query fails at once) or silent (never answers, so only the machine's own deadlines move
it on). Every action the machine returns is answered at the same instant, and the clock jumps
to the wake-up time the machine asked for.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field

import pytest

from signwire.loading.refresh import (
    AcceptNotify,
    Action,
    Alert,
    Event,
    Log,
    NotifyReceived,
    Phase,
    Primary,
    RefreshConfig,
    RefreshState,
    RefuseNotify,
    Restart,
    ResumeServing,
    SendSoaQuery,
    SoaAnswer,
    SoaFailed,
    SoaTimers,
    StartTransfer,
    StopServing,
    TimerFired,
    TransferDone,
    TransferFailed,
    initial_state,
    status,
    step,
)

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 86_400
P1 = Primary("127.0.0.11")
P2 = Primary("127.0.0.12", 5300)
# refresh 1 h, retry 10 min, expire 2 days: small enough to walk through in a test
TIMERS = SoaTimers(refresh=3600, retry=600, expire=2 * DAY)


@dataclass
class FakePrimary:
    serial: int = 2026010101
    mode: str = "up"  # "up", "down", "silent"
    ixfr: bool = True  # answers IXFR (else the transfer fails and AXFR must follow)
    timers: SoaTimers = TIMERS


@dataclass
class Sim:
    config: RefreshConfig
    primaries: dict[Primary, FakePrimary]
    now: int = T0
    state: RefreshState = field(default_factory=lambda: initial_state(T0))
    wake: int | None = T0
    done: list[tuple[int, Action]] = field(default_factory=list)
    hold_transfers: bool = False  # leave StartTransfer unanswered (to NOTIFY in the middle)
    held: list[StartTransfer] = field(default_factory=list)

    def send(self, event: Event) -> list[Action]:
        out = step(self.config, self.state, event, self.now)
        self.state = out.state
        self.wake = out.wake_at
        for action in out.actions:
            self.done.append((self.now, action))
        for action in out.actions:
            reply = self.answer(action)
            if reply is not None:
                self.send(reply)
        return out.actions

    def answer(self, action: Action) -> Event | None:
        if isinstance(action, SendSoaQuery):
            p = self.primaries[action.primary]
            if p.mode == "down":
                return SoaFailed(action.primary, "connection refused")
            if p.mode == "silent":
                return None
            return SoaAnswer(action.primary, p.serial, p.timers)
        if isinstance(action, StartTransfer):
            if self.hold_transfers:
                self.held.append(action)
                return None
            return self.transfer(action)
        return None

    def transfer(self, action: StartTransfer) -> Event | None:
        p = self.primaries[action.primary]
        if p.mode == "down":
            return TransferFailed(action.primary, "connection refused")
        if p.mode == "silent":
            return None
        if action.from_serial is not None and not p.ixfr:
            return TransferFailed(action.primary, "refused with NOTIMP")
        return TransferDone(action.primary, p.serial, p.timers)

    def run_until(self, t: int) -> None:
        while self.wake is not None and self.wake <= t:
            self.now = max(self.now, self.wake)
            self.send(TimerFired())
        self.now = t

    def since(self, t: int, kind: type) -> list[tuple[int, Action]]:
        return [(at, a) for at, a in self.done if at >= t and isinstance(a, kind)]


def sim(*primaries: Primary, **config) -> Sim:
    cfg = RefreshConfig("example.com.", tuple(primaries), **config)
    return Sim(cfg, {p: FakePrimary() for p in primaries})


def loaded(*primaries: Primary, **config) -> Sim:
    s = sim(*primaries, **config)
    s.run_until(T0)
    assert s.state.serial == 2026010101
    return s


def test_first_load_is_an_axfr_then_refresh_every_soa_refresh():
    s = sim(P1)
    s.run_until(T0)
    assert s.since(T0, StartTransfer) == [(T0, StartTransfer(P1, None))]
    assert s.state.last_success == T0 and s.state.next_check == T0 + 3600
    s.run_until(T0 + DAY - 1)
    queries = s.since(T0, SendSoaQuery)
    assert [at for at, _ in queries] == [T0 + 3600 * i for i in range(1, 24)]
    assert s.state.last_success == T0 + 23 * 3600 and not s.state.stale


def test_newer_serial_starts_an_ixfr_from_ours():
    s = loaded(P1)
    s.primaries[P1].serial = 2026010102
    s.run_until(T0 + 3600)
    assert s.since(T0 + 1, StartTransfer) == [(T0 + 3600, StartTransfer(P1, 2026010101))]
    assert s.state.serial == 2026010102


def test_serial_comparison_wraps_around_as_rfc_1982_says():
    s = sim(P1)
    s.primaries[P1].serial = 2**32 - 1
    s.run_until(T0)
    s.primaries[P1].serial = 5  # 2**32 - 1 + 6: newer on the circle
    s.run_until(T0 + 3600)
    assert s.since(T0 + 1, StartTransfer) == [(T0 + 3600, StartTransfer(P1, 2**32 - 1))]
    assert s.state.serial == 5


def test_older_serial_at_the_primary_keeps_ours_and_says_so():
    s = loaded(P1)
    s.primaries[P1].serial = 2026010100
    s.run_until(T0 + 3600)
    assert not s.since(T0 + 1, StartTransfer)
    assert s.state.serial == 2026010101
    assert any("older than ours" in a.message for _, a in s.since(T0 + 1, Log))


def test_ixfr_refused_falls_back_to_axfr_from_the_same_primary():
    s = loaded(P1)
    p = s.primaries[P1]
    p.serial, p.ixfr = 2026010102, False
    s.run_until(T0 + 3600)
    assert [a for _, a in s.since(T0 + 1, StartTransfer)] == [
        StartTransfer(P1, 2026010101), StartTransfer(P1, None)
    ]
    assert s.state.serial == 2026010102 and s.state.failures == 0


def test_primaries_are_tried_in_order():
    s = loaded(P1, P2)
    s.primaries[P1].mode = "down"
    s.primaries[P2].serial = 2026010102
    s.run_until(T0 + 3600)
    assert [a for _, a in s.since(T0 + 1, SendSoaQuery)] == [SendSoaQuery(P1), SendSoaQuery(P2)]
    assert [a for _, a in s.since(T0 + 1, StartTransfer)] == [StartTransfer(P2, 2026010101)]
    assert s.state.serial == 2026010102


def test_unanswered_query_times_out_and_the_next_primary_is_asked():
    s = loaded(P1, P2, soa_timeout=10)
    s.primaries[P1].mode = "silent"
    s.run_until(T0 + 3600 + 9)
    assert s.state.phase is Phase.QUERYING
    s.run_until(T0 + 3600 + 10)
    assert [(at, a) for at, a in s.since(T0 + 1, SendSoaQuery)] == [
        (T0 + 3600, SendSoaQuery(P1)), (T0 + 3610, SendSoaQuery(P2))
    ]
    assert s.state.phase is Phase.IDLE and s.state.last_success == T0 + 3610


def test_timers_from_the_soa_are_clamped():
    s = sim(P1, min_refresh=300, max_refresh=DAY, min_retry=60, max_retry=3600)
    s.primaries[P1].timers = SoaTimers(refresh=1, retry=10**9, expire=10)
    s.run_until(T0)
    assert (s.state.refresh, s.state.retry) == (300, 3600)
    assert s.state.expire == RefreshConfig("x.", ()).min_expire
    assert s.state.next_check == T0 + 300


def test_primary_down_retries_then_goes_stale_and_keeps_serving_then_recovers():
    s = loaded(P1)
    s.primaries[P1].mode = "down"
    s.run_until(T0 + 2 * DAY - 1)
    # refresh at T0+1h fails; retries every 10 min after that
    queries = [at for at, _ in s.since(T0 + 1, SendSoaQuery)]
    assert queries[:3] == [T0 + 3600, T0 + 4200, T0 + 4800]
    assert all(b - a == 600 for a, b in itertools.pairwise(queries))
    assert not s.state.stale and not s.since(T0, Alert)
    assert status(s.config, s.state, s.now)["state"] == "fresh"

    s.run_until(T0 + 2 * DAY)  # the SOA expire, counted from the last success at T0
    alerts = s.since(T0, Alert)
    assert [at for at, _ in alerts] == [T0 + 2 * DAY]
    assert "STALE" in alerts[0][1].message and "still serving serial 2026010101" in (
        alerts[0][1].message
    )
    assert s.state.stale and s.state.serving
    st = status(s.config, s.state, s.now)
    assert st["state"] == "stale" and st["serving"] and st["expires_in"] == 0

    s.run_until(T0 + 3 * DAY)
    # an alert at every retry while stale, and never a StopServing
    retries_after = [at for at, _ in s.since(T0 + 2 * DAY + 1, SendSoaQuery)]
    alerts_after = [at for at, _ in s.since(T0 + 2 * DAY + 1, Alert)]
    assert alerts_after == retries_after and len(alerts_after) >= 140
    assert not s.since(T0, StopServing)

    s.primaries[P1].mode = "up"
    s.primaries[P1].serial = 2026010105
    s.run_until(T0 + 3 * DAY + 600)
    assert s.state.serial == 2026010105 and not s.state.stale
    assert s.state.last_success is not None and s.state.last_success > T0 + 3 * DAY
    assert status(s.config, s.state, s.now)["state"] == "fresh"
    assert any("fresh" in a.message for _, a in s.since(T0 + 3 * DAY, Log))
    assert not s.since(T0, ResumeServing)


def test_restart_in_the_middle_keeps_the_expiry_clock():
    def walk(restart_at: int | None) -> list[int]:
        s = loaded(P1)
        s.primaries[P1].mode = "down"
        if restart_at is not None:
            s.run_until(restart_at)
            saved = json.loads(json.dumps(s.state.to_dict()))
            s.state = RefreshState.from_dict(saved)
            s.wake = None  # the old process is gone; the new one starts with Restart
            s.now = restart_at + 3600  # an hour of downtime
            s.send(Restart())
            assert s.since(s.now, SendSoaQuery)  # checks at once
        s.run_until(T0 + 2 * DAY + 1)
        return [at for at, _ in s.since(T0, Alert)]

    assert walk(None) == [T0 + 2 * DAY]
    assert walk(T0 + DAY) == [T0 + 2 * DAY]  # not pushed back by the restart


def test_restart_while_stale_alerts_at_once():
    s = loaded(P1)
    s.primaries[P1].mode = "down"
    s.run_until(T0 + 3 * DAY)
    s.state = RefreshState.from_dict(s.state.to_dict())
    s.now += 60
    actions = s.send(Restart())
    assert any(isinstance(a, Alert) for a in actions) and s.state.stale


def test_state_round_trips_through_a_plain_dict():
    s = loaded(P1)
    s.hold_transfers = True
    s.primaries[P1].serial += 1
    s.run_until(T0 + 3600)
    assert s.state.phase is Phase.TRANSFERRING
    d = s.state.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert RefreshState.from_dict(d) == s.state


def test_expire_stops_serving_only_when_asked_and_resumes_after_recovery():
    s = loaded(P1, expire_stops_serving=True)
    s.primaries[P1].mode = "down"
    s.run_until(T0 + 2 * DAY)
    assert [at for at, _ in s.since(T0, StopServing)] == [T0 + 2 * DAY]
    assert not s.state.serving and not status(s.config, s.state, s.now)["serving"]
    s.primaries[P1].mode = "up"
    s.run_until(T0 + 2 * DAY + 600)
    assert [at for at, _ in s.since(T0, ResumeServing)] == [T0 + 2 * DAY + 600]
    assert s.state.serving and not s.state.stale


# --- NOTIFY ---------------------------------------------------------------------------------


def test_notify_from_an_unlisted_address_is_refused():
    s = loaded(P1)
    actions = s.send(NotifyReceived("192.0.2.66", 2026010102))
    assert actions[0] == RefuseNotify("192.0.2.66", "not a configured primary")
    assert not any(isinstance(a, SendSoaQuery | AcceptNotify) for a in actions)
    assert any("192.0.2.66" in a.message for a in actions if isinstance(a, Log))


@pytest.mark.parametrize("peer", ["::ffff:127.0.0.11", "2001:DB8:0::1"])
def test_notify_peer_is_matched_as_an_address_not_as_text(peer):
    s = loaded(P1, Primary("2001:db8::1"))
    actions = s.send(NotifyReceived(peer, 2026010102))
    assert actions[0] == AcceptNotify(peer)


def test_notify_with_a_bad_tsig_is_refused():
    s = loaded(P1, tsig_key="xfr-key.")
    actions = s.send(NotifyReceived(P1.address, 2026010102, tsig_error="BADSIG"))
    assert actions[0] == RefuseNotify(P1.address, "TSIG check failed: BADSIG")
    assert not any(isinstance(a, SendSoaQuery) for a in actions)


@pytest.mark.parametrize(
    ("key", "reason"),
    [(None, "not signed (TSIG key xfr-key. required)"),
     ("other-key.", "signed with key other-key., not xfr-key.")],
)
def test_notify_without_the_configured_key_is_refused(key, reason):
    s = loaded(P1, tsig_key="xfr-key.")
    actions = s.send(NotifyReceived(P1.address, 2026010102, tsig_key=key))
    assert actions[0] == RefuseNotify(P1.address, reason)


def test_notify_from_a_primary_starts_a_check_there_first():
    s = loaded(P1, P2, tsig_key="xfr-key.")
    s.now += 100
    s.primaries[P2].serial = 2026010102
    actions = s.send(NotifyReceived(P2.address, 2026010102, tsig_key="XFR-Key."))
    assert actions[:2] == [AcceptNotify(P2.address), SendSoaQuery(P2)]
    assert s.state.serial == 2026010102 and s.state.next_check == s.now + 3600


def test_notify_during_a_transfer_leads_to_another_check_afterwards():
    s = loaded(P1)
    s.hold_transfers = True
    s.primaries[P1].serial = 2026010102
    s.now += 100
    s.send(NotifyReceived(P1.address, 2026010102))
    assert s.state.phase is Phase.TRANSFERRING and len(s.held) == 1
    s.primaries[P1].serial = 2026010103
    s.now += 5
    actions = s.send(NotifyReceived(P1.address, 2026010103))
    assert actions[0] == AcceptNotify(P1.address)
    assert not any(isinstance(a, SendSoaQuery) for a in actions) and s.state.notify_pending
    s.hold_transfers = False
    s.now += 5
    s.send(TransferDone(P1, 2026010102, TIMERS))
    # the remembered NOTIFY: another SOA query at once, which finds 2026010103
    assert [at for at, _ in s.since(s.now, SendSoaQuery)] == [s.now]
    assert s.state.serial == 2026010103 and not s.state.notify_pending


def test_notify_with_a_serial_not_newer_still_checks_but_rate_limited():
    s = loaded(P1, notify_min_interval=30)
    s.now = T0 + 100
    a1 = s.send(NotifyReceived(P1.address, 2026010101))
    assert SendSoaQuery(P1) in a1
    s.now = T0 + 110
    a2 = s.send(NotifyReceived(P1.address, 2026010101))
    assert AcceptNotify(P1.address) in a2 and SendSoaQuery(P1) not in a2
    s.now = T0 + 130
    assert SendSoaQuery(P1) in s.send(NotifyReceived(P1.address, 2026010100))
    # a newer serial is never held back
    s.now = T0 + 131
    assert SendSoaQuery(P1) in s.send(NotifyReceived(P1.address, 2026010102))


def test_late_answers_are_ignored():
    s = loaded(P1, P2)
    before = s.state
    actions = s.send(SoaAnswer(P2, 2026010199, TIMERS))
    assert s.state == before
    assert all(isinstance(a, Log) for a in actions)
    s.send(TransferFailed(P1, "late"))
    assert s.state == before


def test_no_copy_yet_and_primary_down_retries_without_going_stale():
    s = sim(P1, initial_retry=60)
    s.primaries[P1].mode = "down"
    s.run_until(T0 + 10 * DAY)
    starts = [at for at, _ in s.since(T0, StartTransfer)]
    assert starts[:3] == [T0, T0 + 60, T0 + 120]
    assert not s.state.stale and not s.since(T0, Alert)
    assert status(s.config, s.state, s.now)["state"] == "no copy"
