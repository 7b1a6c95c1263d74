"""One zone's pipeline, pure: source → unsigned version → sign → verify → publish.

    outcome = handle(settings, state, event, now)
    outcome.state      # the new state (a value)
    outcome.commands   # what the runtime must do now, in order
    outcome.wake_at    # when to call again with TimerFired (None: only on the next event)

The runtime owns the heavy values (unsigned input, signed versions, the journal) and does the
work each command names; it reports back with an event. This module only decides *when*:

* **Source.** A zone file is read at start and on ``Reload`` (:class:`LoadFile`). Primaries
  are followed by :mod:`signwire.loading.refresh` (SOA refresh/retry/expire, NOTIFY), whose
  actions become :class:`QuerySoa` / :class:`Transfer`; a transfer whose result passed the
  input checks comes back as ``TransferResult(TransferDone)``, a broken one as
  ``TransferResult(TransferFailed)`` (the refresh machine then retries, falling back to AXFR).
* **Sign.** New input is signed in full the first time and after any failure, incrementally
  after that; signatures are refreshed at ``resign_at`` and keys re-checked at
  ``key_event_at`` whatever the source does (never dark: a stale zone keeps fresh
  signatures). One step at a time: input that arrives while a step runs waits for it.
* **Verify.** Every signed candidate is verified before it is served. A failure drops the
  candidate, keeps the previous version served, logs the source (peer or file) and both
  serials, and retries in full after ``retry_after`` seconds.
* **Publish.** A verified candidate is published (served, journalled, written out),
  secondaries are notified, and the version and refresh state persisted.

Pure: no clock, no sockets, no files; ``now`` is an argument and every effect is a command.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any

from signwire.loading import refresh

# The refresh machine's own words for these, passed through as they are.
from signwire.loading.refresh import Log as Log
from signwire.loading.refresh import ResumeServing as ResumeServing
from signwire.loading.refresh import StopServing as StopServing

# --- settings and state ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ZoneSettings:
    zone: str  # presentation form, for messages
    refresh: refresh.RefreshConfig | None  # None: a zone-file source
    source_text: str = ""  # the file's path, for messages
    retry_after: int = 300  # after a failed sign or verify, before trying again in full


class Busy(enum.StrEnum):
    NO = "idle"
    LOADING = "loading"
    SIGNING = "signing"
    VERIFYING = "verifying"


class SignMode(enum.StrEnum):
    FULL = "full"
    INCREMENTAL = "incremental"
    REFRESH = "refresh"  # signatures due and key events; the unsigned zone is unchanged


@dataclass(frozen=True, slots=True)
class ZoneState:
    refresh: refresh.RefreshState | None = None
    signed_serial: int | None = None  # the serial served
    input_serial: int | None = None  # the newest unsigned input's serial
    input_from: str = ""  # where the newest input came from (peer or file)
    input_pending: bool = False  # input not yet signed
    reload_pending: bool = False  # a reload asked for while a step ran
    resign_requested: bool = False  # the operator asked for a full signing
    busy: Busy = Busy.NO
    candidate_serial: int | None = None  # signed, being verified
    full_next: bool = True  # the next signing step is a full one
    resign_at: int | None = None  # earliest signature refresh point
    key_event_at: int | None = None  # the enforcer's next event
    retry_at: int | None = None  # a failed step is tried again then
    last_error: str | None = None
    last_published: int | None = None  # when the served version was published
    failures: int = 0  # sign/verify failures in a row

    def status(self) -> dict[str, Any]:
        return {
            "signed_serial": self.signed_serial,
            "input_serial": self.input_serial,
            "input_from": self.input_from,
            "busy": self.busy.value,
            "resign_at": self.resign_at,
            "key_event_at": self.key_event_at,
            "retry_at": self.retry_at,
            "last_error": self.last_error,
            "last_published": self.last_published,
            "failures": self.failures,
        }


# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Start:
    """The daemon (re)started the zone. ``restored``: a signed version was restored from the
    state and is served already; its refresh state is in ``ZoneState.refresh``."""

    restored: bool = False


@dataclass(frozen=True, slots=True)
class TimerFired:
    pass


@dataclass(frozen=True, slots=True)
class Notify:
    event: refresh.NotifyReceived


@dataclass(frozen=True, slots=True)
class SoaResult:
    event: refresh.SoaAnswer | refresh.SoaFailed


@dataclass(frozen=True, slots=True)
class TransferResult:
    """``TransferDone`` with ``new_input`` when the runtime holds a new checked unsigned
    version (an up-to-date IXFR answer is done without new input)."""

    event: refresh.TransferDone | refresh.TransferFailed
    new_input: bool = True


@dataclass(frozen=True, slots=True)
class Reload:
    """The operator asked: re-read the file, or check the primaries now."""


@dataclass(frozen=True, slots=True)
class Retransfer:
    """The operator asked for a whole new copy from the primaries (AXFR)."""


@dataclass(frozen=True, slots=True)
class Resign:
    """The operator asked: sign the zone again in full (new signatures everywhere)."""


@dataclass(frozen=True, slots=True)
class KeysChanged:
    """Something the enforcer waits for happened (a DS seen or gone at the parent): run a
    key step now rather than at the next planned key event."""


@dataclass(frozen=True, slots=True)
class FileLoaded:
    serial: int
    changed: bool  # False: the file holds what was signed already


@dataclass(frozen=True, slots=True)
class LoadFailed:
    reason: str


@dataclass(frozen=True, slots=True)
class SignDone:
    """A signing step ended: ``serial`` of the candidate, or None when there was nothing to
    change (no signature due, no key change)."""

    serial: int | None
    resign_at: int | None
    key_event_at: int | None


@dataclass(frozen=True, slots=True)
class SignFailed:
    reason: str


@dataclass(frozen=True, slots=True)
class Verified:
    ok: bool
    reason: str = ""


Event = (
    Start | TimerFired | Notify | SoaResult | TransferResult | Reload | Retransfer | Resign
    | KeysChanged | FileLoaded | LoadFailed | SignDone | SignFailed | Verified
)


# --- commands --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuerySoa:
    primary: refresh.Primary


@dataclass(frozen=True, slots=True)
class Transfer:
    primary: refresh.Primary
    from_serial: int | None  # IXFR from this serial; None: AXFR


@dataclass(frozen=True, slots=True)
class AnswerNotify:
    peer: str
    accept: bool


@dataclass(frozen=True, slots=True)
class LoadFile:
    pass


@dataclass(frozen=True, slots=True)
class Sign:
    mode: SignMode


@dataclass(frozen=True, slots=True)
class Verify:
    serial: int


@dataclass(frozen=True, slots=True)
class Publish:
    serial: int


@dataclass(frozen=True, slots=True)
class Discard:
    """Drop the candidate (and the unsigned input it came from); the served version stays."""

    reason: str


@dataclass(frozen=True, slots=True)
class SendNotify:
    serial: int


@dataclass(frozen=True, slots=True)
class Persist:
    """Save the refresh state; with ``version``, the served version too."""

    version: bool


Command = (
    QuerySoa | Transfer | AnswerNotify | LoadFile | Sign | Verify | Publish | Discard
    | SendNotify | Persist | Log | StopServing | ResumeServing
)


@dataclass(frozen=True, slots=True)
class Outcome:
    state: ZoneState
    commands: list[Command] = field(default_factory=list)
    wake_at: int | None = None


def initial_state(settings: ZoneSettings, now: int) -> ZoneState:
    rs = refresh.initial_state(now) if settings.refresh is not None else None
    return ZoneState(refresh=rs)


def handle(settings: ZoneSettings, state: ZoneState, event: Event, now: int) -> Outcome:
    """Apply one event at ``now``."""
    m = _Machine(settings, state, now)
    m.dispatch(event)
    m.next_work()
    return Outcome(m.state, m.commands, m.wake_at())


def status(settings: ZoneSettings, state: ZoneState, now: int) -> dict[str, Any]:
    out: dict[str, Any] = {"zone": settings.zone, **state.status()}
    if settings.refresh is not None and state.refresh is not None:
        inbound = refresh.status(settings.refresh, state.refresh, now)
        out["upstream"] = {k: v for k, v in inbound.items() if k != "zone"}
        out["state"] = inbound["state"]
    else:
        out["source"] = settings.source_text
        out["state"] = "fresh" if state.signed_serial is not None else "no copy"
    if state.last_error and out["state"] == "fresh":
        out["state"] = "fresh (last step failed)"
    return out


class _Machine:
    def __init__(self, settings: ZoneSettings, state: ZoneState, now: int) -> None:
        self.settings = settings
        self.state = state
        self.now = now
        self.commands: list[Command] = []
        self.refresh_wake: int | None = None
        if state.refresh is not None and settings.refresh is not None:
            self.refresh_wake = _refresh_wake(settings.refresh, state.refresh)

    def set(self, **changes: Any) -> None:
        self.state = replace(self.state, **changes)

    def log(self, level: str, message: str) -> None:
        self.commands.append(Log(level, f"{self.settings.zone}: {message}"))

    # --- the refresh machine ---

    def step_refresh(self, event: refresh.Event) -> None:
        config = self.settings.refresh
        if config is None or self.state.refresh is None:
            if isinstance(event, refresh.NotifyReceived):
                self.commands.append(AnswerNotify(event.peer, False))
                self.log("warning", f"NOTIFY from {event.peer} refused: the zone's source is "
                         "a file, not a primary")
            return
        before = self.state.refresh
        out = refresh.step(config, before, event, self.now)
        self.set(refresh=out.state)
        self.refresh_wake = out.wake_at
        for action in out.actions:
            if isinstance(action, refresh.SendSoaQuery):
                self.commands.append(QuerySoa(action.primary))
            elif isinstance(action, refresh.StartTransfer):
                self.commands.append(Transfer(action.primary, action.from_serial))
            elif isinstance(action, refresh.AcceptNotify):
                self.commands.append(AnswerNotify(action.peer, True))
            elif isinstance(action, refresh.RefuseNotify):
                self.commands.append(AnswerNotify(action.peer, False))
            elif isinstance(action, refresh.Log):
                self.commands.append(action)
            elif isinstance(action, refresh.Alert):
                self.commands.append(Log("error", action.message))
            elif isinstance(action, refresh.StopServing | refresh.ResumeServing):
                self.commands.append(action)
        if _durable(before) != _durable(out.state):
            self.commands.append(Persist(version=False))

    # --- events ---

    def dispatch(self, event: Event) -> None:
        if isinstance(event, Start):
            self.start(event)
        elif isinstance(event, TimerFired):
            self.step_refresh(refresh.TimerFired())
        elif isinstance(event, (Notify, SoaResult)):
            self.step_refresh(event.event)
        elif isinstance(event, TransferResult):
            self.transfer_result(event)
        elif isinstance(event, Reload):
            self.reload()
        elif isinstance(event, Retransfer):
            self.retransfer()
        elif isinstance(event, Resign):
            self.log("info", "signing in full again, as asked")
            # A waiting retry is cut short too: the operator asked for it now.
            self.set(full_next=True, resign_requested=True, retry_at=None)
        elif isinstance(event, KeysChanged):
            self.set(key_event_at=self.now)
        elif isinstance(event, FileLoaded):
            self.file_loaded(event)
        elif isinstance(event, LoadFailed):
            self.set(busy=Busy.NO, last_error=event.reason)
            self.log("error", f"{self.settings.source_text}: not loaded, still serving serial "
                     f"{self.state.signed_serial}: {event.reason}")
        elif isinstance(event, SignDone):
            self.sign_done(event)
        elif isinstance(event, SignFailed):
            self.failed(f"signing failed: {event.reason}")
        elif isinstance(event, Verified):
            self.verified(event)
        else:  # pragma: no cover - the union is closed
            raise TypeError(event)

    def start(self, event: Start) -> None:
        self.set(busy=Busy.NO, candidate_serial=None, input_pending=False)
        if event.restored:
            # The restored version is served already; signatures and keys are checked now,
            # not at their old times, which a downtime may have passed.
            self.set(full_next=False, resign_at=self.now, key_event_at=self.now)
        if self.settings.refresh is None:
            self.load()
        else:
            self.step_refresh(refresh.Restart())

    def load(self) -> None:
        if self.state.busy is not Busy.NO:
            self.set(reload_pending=True)  # read once the running step is over
            return
        self.set(busy=Busy.LOADING, reload_pending=False)
        self.commands.append(LoadFile())

    def reload(self) -> None:
        if self.settings.refresh is None:
            self.log("info", f"reloading {self.settings.source_text}")
            self.load()
            return
        rs = self.state.refresh
        assert rs is not None
        if rs.phase is refresh.Phase.IDLE:
            self.set(refresh=replace(rs, next_check=self.now))
            self.step_refresh(refresh.TimerFired())
        else:
            self.log("info", f"reload: a {rs.phase.value} step is running already")

    def retransfer(self) -> None:
        if self.settings.refresh is None:
            self.reload()
            return
        rs = self.state.refresh
        assert rs is not None
        if rs.phase is not refresh.Phase.IDLE:
            self.log("info", f"retransfer: a {rs.phase.value} step is running; try again after")
            return
        # No serial to start an IXFR from: the refresh machine fetches the whole zone. The
        # expiry clock (last_success) stays as it was.
        self.set(refresh=replace(rs, serial=None, next_check=self.now))
        self.step_refresh(refresh.TimerFired())

    def transfer_result(self, event: TransferResult) -> None:
        self.step_refresh(event.event)
        if isinstance(event.event, refresh.TransferDone) and event.new_input:
            # New input gets its chance at once, even while a failed one waits for a retry.
            self.set(input_serial=event.event.serial, input_from=str(event.event.primary),
                     input_pending=True, retry_at=None)

    def file_loaded(self, event: FileLoaded) -> None:
        self.set(busy=Busy.NO, input_serial=event.serial, input_from=self.settings.source_text)
        if event.changed:
            self.set(input_pending=True, retry_at=None)
        else:
            self.log("info", f"{self.settings.source_text}: serial {event.serial}, unchanged")
            self.set(input_pending=False)

    def sign_done(self, event: SignDone) -> None:
        self.set(resign_at=event.resign_at, key_event_at=event.key_event_at)
        if event.serial is None:
            self.set(busy=Busy.NO, retry_at=None)
            return
        self.set(busy=Busy.VERIFYING, candidate_serial=event.serial)
        self.commands.append(Verify(event.serial))

    def verified(self, event: Verified) -> None:
        serial = self.state.candidate_serial
        assert serial is not None
        if not event.ok:
            self.commands.append(Discard(event.reason))
            self.failed(f"signed serial {serial} (input serial {self.state.input_serial} from "
                        f"{self.state.input_from}) failed verification, not published: "
                        f"{event.reason}")
            return
        previous = self.state.signed_serial
        self.set(busy=Busy.NO, candidate_serial=None, signed_serial=serial, full_next=False,
                 retry_at=None, last_error=None, failures=0, last_published=self.now)
        self.commands.append(Publish(serial))
        self.commands.append(SendNotify(serial))
        self.commands.append(Persist(version=True))
        self.log("info", f"published serial {serial} (was {previous}; input serial "
                 f"{self.state.input_serial} from {self.state.input_from})")

    def failed(self, reason: str) -> None:
        # The served version stays; the next attempt signs in full (no trust in a step that
        # produced a bad version), later, so a persistent fault does not spin.
        self.set(busy=Busy.NO, candidate_serial=None, full_next=True,
                 retry_at=self.now + self.settings.retry_after, last_error=reason,
                 failures=self.state.failures + 1)
        self.log("error", f"{reason}; still serving serial {self.state.signed_serial}; next "
                 f"try in {self.settings.retry_after} s")

    # --- what to do next ---

    def next_work(self) -> None:
        s = self.state
        if s.busy is not Busy.NO:
            return
        if s.reload_pending:
            self.load()
            return
        if s.input_serial is None:
            return  # nothing to sign yet
        due = [t for t in (s.resign_at, s.key_event_at) if t is not None]
        timer_due = any(t <= self.now for t in due)
        retry_due = s.retry_at is not None and s.retry_at <= self.now
        if s.retry_at is not None and not retry_due:
            return  # after a failure, wait for the retry time, even for new input
        if s.signed_serial is None or s.full_next:
            if s.input_pending or retry_due or s.signed_serial is None or s.resign_requested:
                self.begin_sign(SignMode.FULL)
            return
        if s.input_pending:
            self.begin_sign(SignMode.INCREMENTAL)
        elif timer_due or retry_due:
            self.begin_sign(SignMode.REFRESH)

    def begin_sign(self, mode: SignMode) -> None:
        self.set(busy=Busy.SIGNING, input_pending=False, resign_requested=False)
        self.commands.append(Sign(mode))

    def wake_at(self) -> int | None:
        s = self.state
        times = [self.refresh_wake] if self.refresh_wake is not None else []
        if s.busy is Busy.NO and s.input_serial is not None:
            if s.retry_at is not None:
                times.append(s.retry_at)
            else:
                times.extend(t for t in (s.resign_at, s.key_event_at) if t is not None)
        return min(times) if times else None


def _refresh_wake(config: refresh.RefreshConfig, state: refresh.RefreshState) -> int | None:
    # The wake-up time the refresh machine would give for this state (its own helper is
    # private): a no-op step on a copy computes it without acting.
    s = state
    times = []
    if s.phase is refresh.Phase.IDLE:
        times.append(s.next_check)
    elif s.deadline is not None:
        times.append(s.deadline)
    at = refresh.expires_at(s)
    if at is not None and not s.stale:
        times.append(at)
    return min(times) if times else None


def _durable(state: refresh.RefreshState) -> tuple[Any, ...]:
    """The part of the refresh state worth a write to disk when it changes."""
    return (state.serial, state.last_success, state.refresh, state.retry, state.expire,
            state.stale, state.serving, state.failures)
