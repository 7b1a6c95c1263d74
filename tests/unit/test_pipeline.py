"""The per-zone pipeline, driven by hand with a manual clock: what it asks the runtime to do."""

from __future__ import annotations

from signwire.loading import refresh
from signwire.pipeline import zone as pz

T0 = 1_800_000_000
FILE = pz.ZoneSettings("example.com.", None, source_text="example.com.zone")
P1 = refresh.Primary("127.0.0.11", 5300)
PRIMARIES = pz.ZoneSettings(
    "example.com.", refresh.RefreshConfig("example.com.", (P1,), min_expire=600))
TIMERS = refresh.SoaTimers(refresh=300, retry=60, expire=600)


def kinds(out: pz.Outcome) -> list[type]:
    return [type(c) for c in out.commands if not isinstance(c, pz.Log)]


def logs(out: pz.Outcome, level: str) -> list[str]:
    return [c.message for c in out.commands if isinstance(c, pz.Log) and c.level == level]


def publish_file_zone() -> pz.ZoneState:
    s = pz.initial_state(FILE, T0)
    out = pz.handle(FILE, s, pz.Start(), T0)
    assert kinds(out) == [pz.LoadFile]
    out = pz.handle(FILE, out.state, pz.FileLoaded(2026112801, changed=True), T0)
    assert out.commands == [pz.Sign(pz.SignMode.FULL)]
    out = pz.handle(FILE, out.state, pz.SignDone(2026112802, T0 + 1000, T0 + 5000), T0 + 1)
    assert out.commands == [pz.Verify(2026112802)]
    out = pz.handle(FILE, out.state, pz.Verified(True), T0 + 2)
    assert kinds(out) == [pz.Publish, pz.SendNotify, pz.Persist]
    assert out.state.signed_serial == 2026112802
    assert out.wake_at == T0 + 1000
    return out.state


def test_file_zone_first_signing_then_signature_refresh() -> None:
    s = publish_file_zone()
    # Nothing before the refresh point.
    out = pz.handle(FILE, s, pz.TimerFired(), T0 + 999)
    assert out.commands == [] and out.wake_at == T0 + 1000
    out = pz.handle(FILE, s, pz.TimerFired(), T0 + 1000)
    assert out.commands == [pz.Sign(pz.SignMode.REFRESH)]
    # Nothing was due after all (the runtime batches): idle, next time from the signer.
    out = pz.handle(FILE, out.state, pz.SignDone(None, T0 + 2000, T0 + 5000), T0 + 1000)
    assert out.commands == [] and out.wake_at == T0 + 2000


def test_reload_signs_incrementally_and_unchanged_file_signs_nothing() -> None:
    s = publish_file_zone()
    out = pz.handle(FILE, s, pz.Reload(), T0 + 10)
    assert kinds(out) == [pz.LoadFile]
    same = pz.handle(FILE, out.state, pz.FileLoaded(2026112801, changed=False), T0 + 11)
    assert kinds(same) == [] and same.state.busy is pz.Busy.NO
    out = pz.handle(FILE, out.state, pz.FileLoaded(2026112803, changed=True), T0 + 11)
    assert out.commands == [pz.Sign(pz.SignMode.INCREMENTAL)]


def test_failed_verification_keeps_the_served_version_and_retries_in_full() -> None:
    s = publish_file_zone()
    out = pz.handle(FILE, s, pz.Reload(), T0 + 10)
    out = pz.handle(FILE, out.state, pz.FileLoaded(2026112805, changed=True), T0 + 11)
    out = pz.handle(FILE, out.state, pz.SignDone(2026112806, T0 + 1000, None), T0 + 12)
    out = pz.handle(FILE, out.state, pz.Verified(False, "RRSIG of www A does not verify"),
                    T0 + 13)
    assert pz.Publish not in kinds(out) and pz.Discard in kinds(out)
    (error,) = logs(out, "error")
    assert "2026112806" in error and "2026112805" in error and "example.com.zone" in error
    assert "still serving serial 2026112802" in error
    assert out.state.signed_serial == 2026112802
    assert out.wake_at == T0 + 13 + FILE.retry_after
    again = pz.handle(FILE, out.state, pz.TimerFired(), T0 + 13 + FILE.retry_after)
    assert again.commands == [pz.Sign(pz.SignMode.FULL)]


def test_input_arriving_while_signing_waits_for_the_step() -> None:
    s = publish_file_zone()
    out = pz.handle(FILE, s, pz.TimerFired(), T0 + 1000)
    assert out.commands == [pz.Sign(pz.SignMode.REFRESH)]
    busy = pz.handle(FILE, out.state, pz.Reload(), T0 + 1001)
    assert busy.commands == [pz.Log("info", "example.com.: reloading example.com.zone")]
    out = pz.handle(FILE, busy.state, pz.SignDone(2026112803, T0 + 2000, None), T0 + 1002)
    out = pz.handle(FILE, out.state, pz.Verified(True), T0 + 1003)
    # The waiting reload is read now.
    assert kinds(out) == [pz.Publish, pz.SendNotify, pz.Persist, pz.LoadFile]


def test_notify_to_a_file_zone_is_refused() -> None:
    s = publish_file_zone()
    out = pz.handle(FILE, s, pz.Notify(refresh.NotifyReceived("127.0.0.9", 5)), T0)
    assert out.commands[0] == pz.AnswerNotify("127.0.0.9", False)


def test_primaries_transfer_sign_publish_and_never_go_dark() -> None:
    s = pz.initial_state(PRIMARIES, T0)
    out = pz.handle(PRIMARIES, s, pz.Start(), T0)
    assert kinds(out) == [pz.Transfer]
    assert out.commands[-1] == pz.Transfer(P1, None)
    out = pz.handle(PRIMARIES, out.state, pz.TransferResult(
        refresh.TransferDone(P1, 7, TIMERS)), T0 + 1)
    assert kinds(out) == [pz.Persist, pz.Sign]
    assert out.commands[-1] == pz.Sign(pz.SignMode.FULL)
    out = pz.handle(PRIMARIES, out.state, pz.SignDone(8, T0 + 3000, None), T0 + 2)
    out = pz.handle(PRIMARIES, out.state, pz.Verified(True), T0 + 3)
    assert pz.Publish in kinds(out)
    assert out.wake_at == T0 + 1 + 300  # the refresh timer comes before the re-sign
    # The primary goes silent: SOA queries time out, retries every 60 s, past expire.
    state, now = out.state, T0 + 301
    errors: list[str] = []
    resigned = False
    while now < T0 + 3600:
        out = pz.handle(PRIMARIES, state, pz.TimerFired(), now)
        state = out.state
        errors += logs(out, "error")
        if pz.Sign(pz.SignMode.REFRESH) in out.commands:
            resigned = True
            out = pz.handle(PRIMARIES, state, pz.SignDone(9, now + 3000, None), now)
            out = pz.handle(PRIMARIES, out.state, pz.Verified(True), now)
            state = out.state
        assert pz.StopServing not in kinds(out)
        assert out.wake_at is not None and out.wake_at > now
        now = out.wake_at
    assert any("STALE" in e for e in errors)
    assert resigned, "signatures are refreshed while the upstream is gone"
    assert pz.status(PRIMARIES, state, now)["state"] == "stale"


def test_notify_from_a_stranger_refused_from_the_primary_accepted() -> None:
    s = pz.initial_state(PRIMARIES, T0)
    out = pz.handle(PRIMARIES, s, pz.Start(), T0)
    out = pz.handle(PRIMARIES, out.state, pz.TransferResult(
        refresh.TransferDone(P1, 7, TIMERS)), T0 + 1)
    stranger = pz.handle(PRIMARIES, out.state, pz.Notify(
        refresh.NotifyReceived("127.0.0.99", 9)), T0 + 2)
    assert pz.AnswerNotify("127.0.0.99", False) in stranger.commands
    friend = pz.handle(PRIMARIES, out.state, pz.Notify(
        refresh.NotifyReceived("127.0.0.11", 9)), T0 + 2)
    assert pz.AnswerNotify("127.0.0.11", True) in friend.commands


def test_retransfer_asks_for_axfr_and_restart_checks_at_once() -> None:
    s = pz.initial_state(PRIMARIES, T0)
    out = pz.handle(PRIMARIES, s, pz.Start(), T0)
    out = pz.handle(PRIMARIES, out.state, pz.TransferResult(
        refresh.TransferDone(P1, 7, TIMERS)), T0 + 1)
    out = pz.handle(PRIMARIES, out.state, pz.SignDone(8, T0 + 3000, None), T0 + 2)
    out = pz.handle(PRIMARIES, out.state, pz.Verified(True), T0 + 3)
    re = pz.handle(PRIMARIES, out.state, pz.Retransfer(), T0 + 10)
    assert pz.Transfer(P1, None) in re.commands
    restarted = pz.handle(PRIMARIES, out.state, pz.Start(restored=True), T0 + 20)
    assert pz.QuerySoa(P1) in restarted.commands
    assert restarted.state.signed_serial == 8


def test_resign_signs_in_full_now_and_waits_for_a_running_step() -> None:
    s = publish_file_zone()
    out = pz.handle(FILE, s, pz.Resign(), T0 + 5)
    assert out.commands[-1] == pz.Sign(pz.SignMode.FULL)
    busy = pz.handle(FILE, s, pz.TimerFired(), T0 + 1000)
    assert busy.commands == [pz.Sign(pz.SignMode.REFRESH)]
    asked = pz.handle(FILE, busy.state, pz.Resign(), T0 + 1001)
    assert pz.Sign not in kinds(asked)
    done = pz.handle(FILE, asked.state, pz.SignDone(None, T0 + 2000, None), T0 + 1002)
    assert done.commands == [pz.Sign(pz.SignMode.FULL)]


def test_keys_changed_runs_a_key_step_now() -> None:
    s = publish_file_zone()
    out = pz.handle(FILE, s, pz.KeysChanged(), T0 + 7)
    assert out.commands == [pz.Sign(pz.SignMode.REFRESH)]
