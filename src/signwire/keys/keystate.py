"""What the enforcer knows about each key: four records, each in one of four states.

Every key has four records whose presence in the caches of validating resolvers matters
("Flexible and Robust Key Rollover", Van Mook, Mekking et al.; RFC 7583 speaks of the same
intervals):

* ``dnskey``: its DNSKEY record in the zone's DNSKEY RRset;
* ``krrsig``: its signature over the DNSKEY RRset (KSK and CSK only);
* ``zrrsig``: its signatures over the zone's other RRsets (ZSK and CSK only);
* ``ds``: the DS record for it at the parent (KSK and CSK only).

Each record is in one of four states, with the time of its last change::

    HIDDEN ──▶ RUMOURED ──▶ OMNIPRESENT ──▶ UNRETENTIVE ──▶ HIDDEN
    (in no cache)  (published; some    (published; every   (withdrawn; some
                    caches may lack it) cache that holds     caches may still
                                        the RRset has it)    hold it)

A record that does not apply to the key's role stays HIDDEN for ever. The key's ``goal`` says
where its records are heading: all present (OMNIPRESENT) or all gone (HIDDEN).

:class:`KeyState` is a frozen value of plain ints and strings (:meth:`KeyState.to_dict` /
:meth:`KeyState.from_dict`), so the state store can keep it as JSON or in SQLite columns.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from signwire.policy.model import KeyRole


class RecordState(enum.StrEnum):
    HIDDEN = "hidden"
    RUMOURED = "rumoured"
    OMNIPRESENT = "omnipresent"
    UNRETENTIVE = "unretentive"

    @property
    def published(self) -> bool:
        """The signer puts this record in the versions it publishes now."""
        return self in (RecordState.RUMOURED, RecordState.OMNIPRESENT)


# The paper's one-letter names, used where rules read best as patterns.
H, R, O, U = (  # noqa: E741
    RecordState.HIDDEN,
    RecordState.RUMOURED,
    RecordState.OMNIPRESENT,
    RecordState.UNRETENTIVE,
)


class RecordType(enum.StrEnum):
    DNSKEY = "dnskey"
    KRRSIG = "krrsig"
    ZRRSIG = "zrrsig"
    DS = "ds"


RECORD_TYPES: tuple[RecordType, ...] = tuple(RecordType)


class Goal(enum.StrEnum):
    PRESENT = "present"  # OMNIPRESENT in the paper
    ABSENT = "absent"  # HIDDEN in the paper


@dataclass(frozen=True, slots=True)
class Record:
    state: RecordState = RecordState.HIDDEN
    since: int = 0  # when ``state`` was entered (seconds since the epoch)
    # The state before ``state``. An UNRETENTIVE record that was OMNIPRESENT was in every cached
    # version when it was withdrawn; one that was only RUMOURED was not, and cannot stand in
    # for a successor in a swap.
    previous: RecordState = RecordState.HIDDEN


def applies(role: KeyRole, record: RecordType) -> bool:
    """Whether ``record`` exists for a key of ``role`` at all."""
    if record is RecordType.DNSKEY:
        return True
    if record in (RecordType.KRRSIG, RecordType.DS):
        return role in (KeyRole.KSK, KeyRole.CSK)
    return role in (KeyRole.ZSK, KeyRole.CSK)


@dataclass(frozen=True, slots=True)
class KeyState:
    key_id: str  # the enforcer's name for the key; the key store files the material under it
    role: KeyRole
    algorithm: int
    size: int  # bits
    created_at: int
    goal: Goal
    dnskey: Record = Record()
    krrsig: Record = Record()
    zrrsig: Record = Record()
    ds: Record = Record()
    # When the key took over from its predecessor (see enforcer: the first ZRRSIG for a ZSK or
    # CSK, the DS for a double-KSK KSK, the DNSKEY for a double-DS KSK). Lifetimes count from it.
    active_at: int | None = None
    predecessor: str | None = None  # the key this one replaces in a rollover
    ds_requested_at: int | None = None  # the DS was asked of the parent (DS became RUMOURED)
    ds_seen_at: int | None = None  # the parent was seen publishing the DS (after the request)
    ds_gone_at: int | None = None  # the parent was seen without the DS (after the withdrawal)
    retire_reason: str | None = None  # why the goal became ABSENT: lifetime, operator, ...
    compromised: bool = False
    tag: int | None = None  # the DNSKEY key tag, filled in by whoever made the key material

    def record(self, kind: RecordType) -> Record:
        return {
            RecordType.DNSKEY: self.dnskey,
            RecordType.KRRSIG: self.krrsig,
            RecordType.ZRRSIG: self.zrrsig,
            RecordType.DS: self.ds,
        }[kind]

    def state(self, kind: RecordType) -> RecordState:
        return self.record(kind).state

    def with_record(self, kind: RecordType, state: RecordState, since: int) -> KeyState:
        record = Record(state, since, self.state(kind))
        if kind is RecordType.DNSKEY:
            return dataclasses.replace(self, dnskey=record)
        if kind is RecordType.KRRSIG:
            return dataclasses.replace(self, krrsig=record)
        if kind is RecordType.ZRRSIG:
            return dataclasses.replace(self, zrrsig=record)
        return dataclasses.replace(self, ds=record)

    @property
    def signs_keys(self) -> bool:
        return self.role.signs_keys

    @property
    def signs_zone(self) -> bool:
        return self.role.signs_zone

    @property
    def all_hidden(self) -> bool:
        return all(self.state(kind) is H for kind in RECORD_TYPES)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (the inverse of :meth:`from_dict`)."""
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, Record):
                out[field.name] = {
                    "state": value.state.value,
                    "since": value.since,
                    "previous": value.previous.value,
                }
            elif isinstance(value, enum.Enum):
                out[field.name] = value.value
            else:
                out[field.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KeyState:
        values: dict[str, Any] = dict(data)
        values["role"] = KeyRole(values["role"])
        values["goal"] = Goal(values["goal"])
        for kind in RECORD_TYPES:
            raw = values.get(kind.value)
            if raw is not None:
                values[kind.value] = Record(
                    RecordState(raw["state"]),
                    int(raw["since"]),
                    RecordState(raw.get("previous", RecordState.HIDDEN.value)),
                )
        return cls(**values)
