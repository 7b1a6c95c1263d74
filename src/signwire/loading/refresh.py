"""Keeping a zone's copy in step with its primaries: SOA refresh, retry and expire, and NOTIFY.

    outcome = step(config, state, event, now)
    outcome.state      # the new state (a value; save it with to_dict())
    outcome.actions    # what the I/O shell must do now: query an SOA, start a transfer, log...
    outcome.wake_at    # when to call again with TimerFired (None: only on the next event)

The refresh cycle is RFC 1034 §4.3.5 / RFC 1035 §3.3.13: every *refresh* seconds the primary's
SOA serial is asked for; a newer serial (RFC 1982) starts a transfer (IXFR from our serial, or
AXFR when we have no copy or IXFR failed); a failed attempt moves on to the next primary in
the configured order, and when all failed the cycle is tried again after *retry* seconds.
Timers come from the primary's SOA, clamped to the configured bounds, so a typo at the primary
cannot make us poll every second or never.

**Never dark.** RFC 1035 stops serving a zone whose copy was not refreshed for *expire*
seconds. A signer that does that takes the zone off the Internet when the hidden primary is
merely down, so here expiry makes the zone *stale* instead: an alert at the moment it happens
and at every retry after it, a status field, and the zone keeps being served (and its
signatures kept fresh by the signer). Only ``expire_stops_serving=True`` asks for the RFC
behaviour. The expiry clock is the time of the last successful contact, part of the state, so
it survives a restart; a restart does not reset it.

NOTIFY (RFC 1996) is accepted from the configured primaries' addresses only, and only signed
with the configured TSIG key when there is one; anything else is refused and logged with the
peer and the reason. An accepted NOTIFY starts a check at once, beginning with the primary that
sent it. One that arrives while a check or transfer runs is remembered and starts another check
when that one ends (the change it announces may be newer than what is being fetched). One that
carries a serial not newer than ours still starts a check (RFC 1996 §3.11: the primary may have
been restored from an older copy), but at most one per ``notify_min_interval``.

Pure: no clock, no sockets; ``now`` is an argument and every effect is an action.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, field, replace
from typing import Any

from signwire.zones import serial as serials


@dataclass(frozen=True, slots=True)
class Primary:
    address: str  # an IPv4 or IPv6 literal
    port: int = 53

    def __str__(self) -> str:
        return f"[{self.address}]:{self.port}" if ":" in self.address else (
            f"{self.address}:{self.port}"
        )


@dataclass(frozen=True, slots=True)
class RefreshConfig:
    """A zone's inbound settings. Times are seconds."""

    zone: str  # presentation format, with the trailing dot (for messages only)
    primaries: tuple[Primary, ...]
    tsig_key: str | None = None  # key name a NOTIFY must be signed with (lowercase, absolute)
    min_refresh: int = 60
    max_refresh: int = 86_400
    min_retry: int = 10
    max_retry: int = 3_600
    min_expire: int = 3_600
    max_expire: int = 60 * 86_400
    soa_timeout: int = 10  # how long an SOA query may stay unanswered before it counts as failed
    transfer_timeout: int = 7_200  # the same for a transfer (a million records take a while)
    notify_min_interval: int = 10  # between checks caused by NOTIFYs with a serial not newer
    expire_stops_serving: bool = False  # the RFC 1035 behaviour; off: stale but still served
    # Before the first SOA is known: how soon to try again when the first transfer fails.
    initial_retry: int = 60


class Phase(enum.StrEnum):
    IDLE = "idle"
    QUERYING = "querying"  # an SOA query is out
    TRANSFERRING = "transferring"  # a transfer is running


@dataclass(frozen=True, slots=True)
class RefreshState:
    """Everything that must survive a restart (plus the in-flight step, reset by Restart)."""

    serial: int | None = None  # the serial of the copy we serve (None: no copy yet)
    last_success: int | None = None  # last successful contact: the expiry clock starts here
    refresh: int | None = None  # timers from the last SOA seen, already clamped
    retry: int | None = None
    expire: int | None = None
    next_check: int = 0  # when the next refresh check is due
    phase: Phase = Phase.IDLE
    order: tuple[int, ...] = ()  # primaries (indexes) still to try in this check, current first
    axfr: bool = False  # the running or next transfer is AXFR (IXFR failed, or no copy)
    deadline: int | None = None  # when the running query or transfer counts as failed
    notify_pending: bool = False  # a NOTIFY came while busy: check again afterwards
    last_notify_check: int | None = None  # when a NOTIFY last started a check
    stale: bool = False  # expired upstream, still served
    serving: bool = True  # False only with expire_stops_serving, after expiry
    failures: int = 0  # checks in a row that reached no primary
    last_error: str | None = None
    last_attempt: int | None = None  # when the last check ended, successfully or not
    last_alert: int | None = None  # one stale alert per instant, even when a retry fails then

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready) for the state store."""
        return {
            "serial": self.serial,
            "last_success": self.last_success,
            "refresh": self.refresh,
            "retry": self.retry,
            "expire": self.expire,
            "next_check": self.next_check,
            "phase": self.phase.value,
            "order": list(self.order),
            "axfr": self.axfr,
            "deadline": self.deadline,
            "notify_pending": self.notify_pending,
            "last_notify_check": self.last_notify_check,
            "stale": self.stale,
            "serving": self.serving,
            "failures": self.failures,
            "last_error": self.last_error,
            "last_attempt": self.last_attempt,
            "last_alert": self.last_alert,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RefreshState:
        return cls(
            serial=data.get("serial"),
            last_success=data.get("last_success"),
            refresh=data.get("refresh"),
            retry=data.get("retry"),
            expire=data.get("expire"),
            next_check=int(data.get("next_check", 0)),
            phase=Phase(data.get("phase", "idle")),
            order=tuple(data.get("order", ())),
            axfr=bool(data.get("axfr", False)),
            deadline=data.get("deadline"),
            notify_pending=bool(data.get("notify_pending", False)),
            last_notify_check=data.get("last_notify_check"),
            stale=bool(data.get("stale", False)),
            serving=bool(data.get("serving", True)),
            failures=int(data.get("failures", 0)),
            last_error=data.get("last_error"),
            last_attempt=data.get("last_attempt"),
            last_alert=data.get("last_alert"),
        )


# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SoaTimers:
    """The timer fields of an SOA record, as the primary sent them."""

    refresh: int
    retry: int
    expire: int


@dataclass(frozen=True, slots=True)
class NotifyReceived:
    """A NOTIFY for this zone. The shell checked its TSIG (if any) against the keys it knows:
    ``tsig_key`` is the name of the key it verified with, ``tsig_error`` why it did not."""

    peer: str  # source address
    serial: int | None  # the SOA serial in the NOTIFY's answer section, when it has one
    tsig_key: str | None = None
    tsig_error: str | None = None


@dataclass(frozen=True, slots=True)
class SoaAnswer:
    primary: Primary
    serial: int
    timers: SoaTimers


@dataclass(frozen=True, slots=True)
class SoaFailed:
    primary: Primary
    reason: str


@dataclass(frozen=True, slots=True)
class TransferDone:
    primary: Primary
    serial: int
    timers: SoaTimers


@dataclass(frozen=True, slots=True)
class TransferFailed:
    primary: Primary
    reason: str


@dataclass(frozen=True, slots=True)
class TimerFired:
    pass


@dataclass(frozen=True, slots=True)
class Restart:
    """The daemon started with this state from storage: whatever was in flight is gone."""


Event = (
    NotifyReceived | SoaAnswer | SoaFailed | TransferDone | TransferFailed | TimerFired | Restart
)


# --- actions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendSoaQuery:
    primary: Primary


@dataclass(frozen=True, slots=True)
class StartTransfer:
    primary: Primary
    from_serial: int | None  # IXFR from this serial; None: AXFR


@dataclass(frozen=True, slots=True)
class AcceptNotify:
    peer: str  # answer the NOTIFY (RFC 1996 §4.7)


@dataclass(frozen=True, slots=True)
class RefuseNotify:
    peer: str  # answer REFUSED (or NOTAUTH for a TSIG failure) and log
    reason: str


@dataclass(frozen=True, slots=True)
class Log:
    level: str  # "info", "warning", "error"
    message: str


@dataclass(frozen=True, slots=True)
class Alert:
    """Loud: the zone is stale (log at error level, metric, status)."""

    message: str


@dataclass(frozen=True, slots=True)
class StopServing:
    reason: str


@dataclass(frozen=True, slots=True)
class ResumeServing:
    pass


Action = (
    SendSoaQuery | StartTransfer | AcceptNotify | RefuseNotify | Log | Alert | StopServing
    | ResumeServing
)


@dataclass(frozen=True, slots=True)
class Outcome:
    state: RefreshState
    actions: list[Action] = field(default_factory=list)
    wake_at: int | None = None


# --- the machine -----------------------------------------------------------------------------


def initial_state(now: int) -> RefreshState:
    """A zone just added: no copy, check at once."""
    return RefreshState(next_check=now)


def step(config: RefreshConfig, state: RefreshState, event: Event, now: int) -> Outcome:
    """Apply one event at time ``now``."""
    m = _Machine(config, state, now)
    if isinstance(event, NotifyReceived):
        m.notify(event)
    elif isinstance(event, SoaAnswer):
        m.soa_answer(event)
    elif isinstance(event, SoaFailed):
        m.failed(event.primary, Phase.QUERYING, f"SOA query failed: {event.reason}")
    elif isinstance(event, TransferDone):
        m.transfer_done(event)
    elif isinstance(event, TransferFailed):
        m.failed(event.primary, Phase.TRANSFERRING, f"transfer failed: {event.reason}")
    elif isinstance(event, TimerFired):
        m.timer()
    elif isinstance(event, Restart):
        m.restart()
    else:  # pragma: no cover - the union is closed
        raise TypeError(event)
    m.check_expiry()
    return Outcome(m.state, m.actions, m.wake_at())


def expires_at(state: RefreshState) -> int | None:
    """When the copy goes stale (or went stale) if no refresh succeeds before."""
    if state.serial is None or state.last_success is None or state.expire is None:
        return None
    return state.last_success + state.expire


def status(config: RefreshConfig, state: RefreshState, now: int) -> dict[str, Any]:
    """What ``signwire status`` shows for the zone's input side."""
    at = expires_at(state)
    return {
        "zone": config.zone,
        "serial": state.serial,
        "state": "no copy" if state.serial is None else ("stale" if state.stale else "fresh"),
        "serving": state.serving and state.serial is not None,
        "phase": state.phase.value,
        "last_success": state.last_success,
        "expires_at": at,
        "expires_in": None if at is None else at - now,
        "next_check": state.next_check,
        "failures": state.failures,
        "last_error": state.last_error,
    }


def _address(text: str) -> str:
    """One spelling per address: ``2001:DB8:0::1`` and ``2001:db8::1`` are the same primary,
    and a dual-stack socket reports an IPv4 peer as ``::ffff:192.0.2.1``."""
    try:
        ip = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return text
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


class _Machine:
    """One step's working copy: the state as it changes, and the actions so far."""

    def __init__(self, config: RefreshConfig, state: RefreshState, now: int) -> None:
        self.config = config
        self.state = state
        self.now = now
        self.actions: list[Action] = []

    # --- helpers ---

    def set(self, **changes: Any) -> None:
        self.state = replace(self.state, **changes)

    def log(self, level: str, message: str) -> None:
        self.actions.append(Log(level, f"{self.config.zone}: {message}"))

    def primary_index(self, primary: Primary) -> int | None:
        for i, p in enumerate(self.config.primaries):
            if p == primary:
                return i
        return None

    def current(self) -> Primary | None:
        if not self.state.order:
            return None
        return self.config.primaries[self.state.order[0]]

    def retry_interval(self) -> int:
        if self.state.retry is None:
            return _clamp(self.config.initial_retry, self.config.min_retry, self.config.max_retry)
        return self.state.retry

    def wake_at(self) -> int | None:
        s = self.state
        times = []
        if s.phase is Phase.IDLE:
            times.append(s.next_check)
        elif s.deadline is not None:
            times.append(s.deadline)
        at = expires_at(s)
        if at is not None and not s.stale:
            times.append(at)
        return min(times) if times else None

    # --- starting work ---

    def start_check(self, first: int | None = None) -> None:
        """A new check: ask the primaries' SOA in order (``first`` before the others)."""
        order = list(range(len(self.config.primaries)))
        if first is not None:
            order.remove(first)
            order.insert(0, first)
        self.set(order=tuple(order), notify_pending=False, axfr=self.state.serial is None)
        if not order:
            self.log("error", "no primary configured")
            self.end_round_failed("no primary configured")
            return
        self.query_current()

    def query_current(self) -> None:
        primary = self.current()
        assert primary is not None
        if self.state.serial is None:
            # Nothing to compare a serial with: fetch the zone straight away.
            self.transfer_current()
            return
        self.set(phase=Phase.QUERYING, deadline=self.now + self.config.soa_timeout)
        self.actions.append(SendSoaQuery(primary))

    def transfer_current(self) -> None:
        primary = self.current()
        assert primary is not None
        from_serial = None if self.state.axfr or self.state.serial is None else self.state.serial
        self.set(phase=Phase.TRANSFERRING, deadline=self.now + self.config.transfer_timeout)
        self.actions.append(StartTransfer(primary, from_serial))

    # --- ending work ---

    def succeeded(self, serial: int, timers: SoaTimers) -> None:
        c = self.config
        self.set(
            serial=serial,
            last_success=self.now,
            last_attempt=self.now,
            refresh=_clamp(timers.refresh, c.min_refresh, c.max_refresh),
            retry=_clamp(timers.retry, c.min_retry, c.max_retry),
            expire=_clamp(timers.expire, c.min_expire, c.max_expire),
            phase=Phase.IDLE,
            order=(),
            axfr=False,
            deadline=None,
            failures=0,
            last_error=None,
        )
        if self.state.stale or not self.state.serving:
            self.log("info", f"refreshed from the primary again (serial {serial}); fresh")
        if not self.state.serving:
            self.actions.append(ResumeServing())
        self.set(stale=False, serving=True)
        assert self.state.refresh is not None
        self.set(next_check=self.now + self.state.refresh)
        if self.state.notify_pending:
            self.start_check()

    def end_round_failed(self, reason: str) -> None:
        self.set(
            phase=Phase.IDLE,
            order=(),
            deadline=None,
            axfr=False,
            failures=self.state.failures + 1,
            last_error=reason,
            last_attempt=self.now,
            next_check=self.now + self.retry_interval(),
        )
        self.log("warning", f"no primary could be refreshed from; next try in "
                 f"{self.retry_interval()} s ({reason})")
        if self.state.stale:
            self.alert_stale()
        if self.state.notify_pending:
            self.start_check()

    def failed(self, primary: Primary, phase: Phase, reason: str) -> None:
        if self.state.phase is not phase or self.current() != primary:
            self.log("info", f"ignored a late answer from {primary}: {reason}")
            return
        self.log("warning", f"{primary}: {reason}")
        if phase is Phase.TRANSFERRING and not self.state.axfr:
            # IXFR first, AXFR as the fallback (a primary may refuse IXFR or fail to apply it).
            self.set(axfr=True)
            self.transfer_current()
            return
        self.next_primary(reason)

    def next_primary(self, reason: str) -> None:
        rest = self.state.order[1:]
        if not rest:
            self.end_round_failed(f"{self.current()}: {reason}")
            return
        self.set(order=rest, axfr=self.state.serial is None)
        self.query_current()

    # --- events ---

    def notify(self, event: NotifyReceived) -> None:
        c = self.config
        peer = _address(event.peer)
        index = next(
            (i for i, p in enumerate(c.primaries) if _address(p.address) == peer), None
        )
        refusal = None
        if index is None:
            refusal = "not a configured primary"
        elif event.tsig_error is not None:
            refusal = f"TSIG check failed: {event.tsig_error}"
        elif c.tsig_key is not None and event.tsig_key is None:
            refusal = f"not signed (TSIG key {c.tsig_key} required)"
        elif c.tsig_key is not None and (event.tsig_key or "").lower() != c.tsig_key.lower():
            refusal = f"signed with key {event.tsig_key}, not {c.tsig_key}"
        if refusal is not None:
            self.actions.append(RefuseNotify(event.peer, refusal))
            self.log("warning", f"NOTIFY from {event.peer} refused: {refusal}")
            return
        self.actions.append(AcceptNotify(event.peer))
        ours = self.state.serial
        news = (
            event.serial is None or ours is None or serials.gt(event.serial, ours)
        )
        if self.state.phase is not Phase.IDLE:
            self.set(notify_pending=True)
            self.log("info", f"NOTIFY from {event.peer} during a {self.state.phase.value} "
                     "step: checking again afterwards")
            return
        if not news:
            last = self.state.last_notify_check
            if last is not None and self.now - last < c.notify_min_interval:
                self.log("info", f"NOTIFY from {event.peer} with serial {event.serial}, not newer "
                         f"than ours ({ours}): no check, one ran {self.now - last} s ago")
                return
        self.set(last_notify_check=self.now)
        self.start_check(first=index)

    def soa_answer(self, event: SoaAnswer) -> None:
        s = self.state
        if s.phase is not Phase.QUERYING or self.current() != event.primary:
            self.log("info", f"ignored a late SOA answer from {event.primary}")
            return
        if s.serial is None or serials.gt(event.serial, s.serial):
            self.log("info", f"{event.primary} has serial {event.serial}, ours is {s.serial}: "
                     "transferring")
            self.transfer_current()
            return
        if event.serial != s.serial:
            self.log("warning", f"{event.primary} has serial {event.serial}, older than ours "
                     f"({s.serial}); keeping ours")
        self.succeeded(s.serial, event.timers)

    def transfer_done(self, event: TransferDone) -> None:
        s = self.state
        if s.phase is not Phase.TRANSFERRING or self.current() != event.primary:
            self.log("info", f"ignored a late transfer result from {event.primary}")
            return
        self.log("info", f"transferred serial {event.serial} from {event.primary}")
        self.succeeded(event.serial, event.timers)

    def timer(self) -> None:
        s = self.state
        if s.phase is Phase.IDLE:
            if self.now >= s.next_check:
                self.start_check()
            return
        if s.deadline is not None and self.now >= s.deadline:
            primary = self.current()
            assert primary is not None
            what = "SOA query" if s.phase is Phase.QUERYING else "transfer"
            self.failed(primary, s.phase, f"{what} timed out")

    def restart(self) -> None:
        # Work in flight died with the process; the expiry clock (last_success) stays.
        self.set(phase=Phase.IDLE, order=(), deadline=None, axfr=False)
        self.log("info", "restarted: checking the primaries now")
        if self.state.stale:
            self.alert_stale()
        if not self.state.serving:
            self.actions.append(StopServing("stale at restart, and expire_stops_serving is set"))
        self.start_check()

    # --- expiry ---

    def check_expiry(self) -> None:
        s = self.state
        at = expires_at(s)
        if at is None or self.now < at or s.stale:
            return
        self.set(stale=True)
        self.alert_stale()
        if self.config.expire_stops_serving and s.serving:
            self.set(serving=False)
            self.actions.append(StopServing(
                f"not refreshed for {self.now - (s.last_success or 0)} s, past the SOA expire "
                f"({s.expire} s), and expire_stops_serving is set"
            ))

    def alert_stale(self) -> None:
        s = self.state
        assert s.last_success is not None
        if s.last_alert == self.now:
            return
        self.set(last_alert=self.now)
        since = self.now - s.last_success
        served = "still serving" if not self.config.expire_stops_serving else "no longer serving"
        self.actions.append(Alert(
            f"{self.config.zone}: STALE: no refresh from any primary for {since} s, longer than "
            f"the SOA expire ({s.expire} s); {served} serial {s.serial}; last error: "
            f"{s.last_error or 'none'}"
        ))
