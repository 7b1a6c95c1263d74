"""What a policy would do to a fresh zone: the enforcer run on a simulated clock.

:func:`simulate` starts with no keys at ``start`` and calls :func:`~signwire.keys.enforcer.advance`
at every moment it asks to be called again, until ``days`` have passed. The parent is
simulated too: a DS requested (or withdrawn) is confirmed seen (or gone) ``ds_confirm_delay``
later, by default the parent's propagation delay plus its DS TTL (a parent that is neither fast
nor slow). The result lists every key event with its time; :func:`format_timeline` prints it
with dates for ``signwire policy simulate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from signwire.durations import format_instant
from signwire.keys.enforcer import ActionKind, DsGone, DsSeen, Event, advance
from signwire.keys.keystate import KeyState, RecordState, RecordType
from signwire.policy import algorithms
from signwire.policy.model import KeyRole, Policy

DAY = 86400

_RECORD_WORDS: dict[tuple[RecordType, RecordState], str] = {
    (RecordType.DNSKEY, RecordState.RUMOURED): "DNSKEY published",
    (RecordType.DNSKEY, RecordState.OMNIPRESENT): "DNSKEY in every cache",
    (RecordType.DNSKEY, RecordState.UNRETENTIVE): "DNSKEY withdrawn",
    (RecordType.DNSKEY, RecordState.HIDDEN): "DNSKEY gone from every cache",
    (RecordType.KRRSIG, RecordState.RUMOURED): "starts signing the DNSKEY RRset",
    (RecordType.KRRSIG, RecordState.OMNIPRESENT): "its DNSKEY RRset signature in every cache",
    (RecordType.KRRSIG, RecordState.UNRETENTIVE): "stops signing the DNSKEY RRset",
    (RecordType.KRRSIG, RecordState.HIDDEN): "its DNSKEY RRset signature gone from every cache",
    (RecordType.ZRRSIG, RecordState.RUMOURED): "starts signing the zone",
    (RecordType.ZRRSIG, RecordState.OMNIPRESENT): "its zone signatures in every cache",
    (RecordType.ZRRSIG, RecordState.UNRETENTIVE): "stops signing the zone",
    (RecordType.ZRRSIG, RecordState.HIDDEN): "its zone signatures gone from every cache",
    (RecordType.DS, RecordState.RUMOURED): "DS requested from the parent",
    (RecordType.DS, RecordState.OMNIPRESENT): "DS at the parent and in every cache",
    (RecordType.DS, RecordState.UNRETENTIVE): "DS withdrawal requested from the parent",
    (RecordType.DS, RecordState.HIDDEN): "DS gone from the parent and every cache",
}


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    at: int
    key_id: str
    role: KeyRole
    algorithm: int
    what: str


def simulate(
    policy: Policy,
    start: int,
    days: int,
    *,
    ds_confirm_delay: int | None = None,
) -> list[TimelineEvent]:
    """Every key event of a zone signed with ``policy`` from ``start`` for ``days`` days."""
    if days < 0:
        raise ValueError("days must not be negative")
    delay = ds_confirm_delay
    if delay is None:
        delay = policy.timing.parent_propagation_delay + policy.timing.parent_ds_ttl
    end = start + days * DAY
    keys: tuple[KeyState, ...] = ()
    known: dict[str, KeyState] = {}
    pending: list[tuple[int, Event]] = []
    timeline: list[TimelineEvent] = []
    now = start
    while True:
        due = [event for when, event in pending if when <= now]
        pending = [(when, event) for when, event in pending if when > now]
        plan = advance(policy, keys, now, events=due)
        for key in plan.keys:
            known[key.key_id] = key

        def note(key_id: str, what: str, at: int = now) -> None:
            key = known[key_id]
            timeline.append(TimelineEvent(at, key_id, key.role, key.algorithm, what))

        for event in due:
            if isinstance(event, DsSeen):
                note(event.key_id, "parent seen with the DS")
            elif isinstance(event, DsGone):
                note(event.key_id, "parent seen without the DS")
        for action in plan.actions:
            if action.kind is ActionKind.CREATE_KEY:
                bits = f", {action.size} bits" if action.size else ""
                note(action.key_id, f"created ({_algorithm_name(action.algorithm)}{bits})")
        for change in plan.transitions:
            note(change.key_id, _RECORD_WORDS[(change.record, change.new)])
        for action in plan.actions:
            if action.kind is ActionKind.SUBMIT_DS:
                pending.append((now + delay, DsSeen(action.key_id)))
            elif action.kind is ActionKind.WITHDRAW_DS:
                pending.append((now + delay, DsGone(action.key_id)))
            elif action.kind is ActionKind.DELETE_KEY:
                note(action.key_id, "key material deleted")
        keys = plan.keys
        candidates = [when for when, _ in pending]
        if plan.next_event_at is not None:
            candidates.append(plan.next_event_at)
        if not candidates or min(candidates) > end:
            return timeline
        now = min(candidates)


def format_timeline(events: Sequence[TimelineEvent], start: int | None = None) -> str:
    """One line per event: date, time since ``start``, key and what happened."""
    if not events:
        return "no key events\n"
    origin = events[0].at if start is None else start
    width = max(len(e.key_id) for e in events)
    lines = []
    for e in events:
        when = format_instant(e.at)
        days, rest = divmod(e.at - origin, DAY)
        hours, rest = divmod(rest, 3600)
        label = f"{e.role.value.upper()} {_algorithm_name(e.algorithm)}"
        lines.append(
            f"{when}  +{days:>3}d{hours:02}h{rest // 60:02}m  {label:<20} "
            f"{e.key_id:<{width}}  {e.what}"
        )
    return "\n".join(lines) + "\n"


def _algorithm_name(number: int) -> str:
    try:
        return algorithms.mnemonic(number)
    except ValueError:
        return str(number)
