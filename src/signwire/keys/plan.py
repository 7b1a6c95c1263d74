"""The enforcer's inputs and outputs: events from outside, actions for outside, the plan.

Plain frozen values, so a daemon can queue events, log actions and store plans as they are;
:func:`insecure_status` says in one line where a zone going insecure stands.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from signwire.durations import format_instant
from signwire.keys import rules
from signwire.keys.instructions import SigningInstructions, signing_view
from signwire.keys.keystate import KeyState, RecordState, RecordType
from signwire.policy.model import KeyRole, Policy

# --- events -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DsSeen:
    """Every parental agent (or the operator) saw the key's DS at the parent.

    For a requested DS this starts its wait for caches (parent DS TTL + propagation + margin).
    For a DS being withdrawn it is evidence that the parent did add it (see ``DsGone``).
    """

    key_id: str


@dataclass(frozen=True, slots=True)
class DsGone:
    """Every parental agent (or the operator) saw the parent without the key's DS.

    It must mean the parent *acted on* the withdrawal, not only that the DS is not there: a DS
    whose addition is still queued at the parent is not there either. So the enforcer accepts
    it only for a DS the parent once showed (``DsSeen``), or once the parent shows a DS
    requested at or after the withdrawal. A checker does best to report every DS it sees.

    ``operator``: the operator's own word (``signwire key ds-gone``), not a checker's sighting.
    A zone going insecure has no later DS to prove the withdrawal with, so there the operator's
    word is taken for a DS the parent was never seen with (they know whether it ever had it).
    """

    key_id: str
    operator: bool = False


@dataclass(frozen=True, slots=True)
class RollKey:
    """The operator asks for a rollover of the key with this role now."""

    role: KeyRole


@dataclass(frozen=True, slots=True)
class KeyCompromised:
    """Emergency: replace this key as fast as the rules allow, whatever its lifetime."""

    key_id: str


Event = DsSeen | DsGone | RollKey | KeyCompromised


# --- results ----------------------------------------------------------------------------------


class ActionKind(enum.StrEnum):
    CREATE_KEY = "create-key"  # make key material (role, algorithm, size) under key_id
    PUBLISH_DNSKEY = "publish-dnskey"
    WITHDRAW_DNSKEY = "withdraw-dnskey"
    START_SIGNING_DNSKEY = "start-signing-dnskey"  # RRSIGs over DNSKEY, CDS, CDNSKEY
    STOP_SIGNING_DNSKEY = "stop-signing-dnskey"
    START_SIGNING_ZONE = "start-signing-zone"
    STOP_SIGNING_ZONE = "stop-signing-zone"
    PUBLISH_CDS = "publish-cds"  # CDS/CDNSKEY for the key (policy permitting)
    WITHDRAW_CDS = "withdraw-cds"
    SUBMIT_DS = "submit-ds"  # the parent should publish this key's DS; then wait for DsSeen
    WITHDRAW_DS = "withdraw-ds"  # the parent should remove it; then wait for DsGone
    DELETE_KEY = "delete-key"  # no record of the key may be cached any more


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    key_id: str
    role: KeyRole
    algorithm: int
    size: int


@dataclass(frozen=True, slots=True)
class Transition:
    key_id: str
    record: RecordType
    old: RecordState
    new: RecordState
    at: int


@dataclass(frozen=True, slots=True)
class Wait:
    """A record that wants to move and cannot yet: until when (None: until something else
    happens first, such as the parent or another record) and why."""

    key_id: str
    record: RecordType
    target: RecordState
    until: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    keys: tuple[KeyState, ...]
    actions: tuple[Action, ...]
    transitions: tuple[Transition, ...]
    waits: tuple[Wait, ...]
    notices: tuple[str, ...]
    next_event_at: int | None

    def instructions(self, policy: Policy | None = None) -> SigningInstructions:
        return signing_view(self.keys, policy)


def insecure_status(policy: Policy, keys: Sequence[KeyState]) -> str | None:
    """Where a zone under a policy without keys stands, for ``key list`` and the signer's log
    (None for a policy with keys): what it waits for, and since or until when."""
    if not policy.insecure:
        return None
    if not keys:
        return "insecure: no keys left; the zone is published unsigned"
    ds = RecordType.DS

    def tags(found: Sequence[KeyState]) -> str:
        return ", ".join(str(k.tag if k.tag is not None else k.key_id) for k in found)

    leaving = [k for k in keys if k.state(ds) is not RecordState.HIDDEN]
    asked = [k for k in leaving if k.ds_gone_at is None or k.ds_gone_at < k.ds.since]
    if asked:
        delete = (
            " with CDS/CDNSKEY delete published"
            if policy.parent.cds or (policy.parent.cdnskey)
            else ""
        )
        return (
            f"going insecure: waiting for the parent to remove DS {tags(asked)} (asked "
            f"{format_instant(min(k.ds.since for k in asked))}{delete}); once it has, run "
            f"'signwire key ds-gone' or 'signwire key check-ds'"
        )
    if leaving:
        until = max(rules.ready_at(k, ds, RecordState.HIDDEN, policy) or 0 for k in leaving)
        return (
            f"going insecure: the parent removed DS {tags(leaving)}; the zone is published "
            f"unsigned once no cache can hold it ({format_instant(until)})"
        )
    return (
        "going insecure: the zone is published unsigned; the keys are deleted once no cache "
        "can hold their records"
    )
