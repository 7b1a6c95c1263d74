"""When each name of a signed version needs fresh signatures: the re-sign schedule.

A signature is refreshed when less than ``refresh`` seconds remain before it expires
(``expiration - refresh``: its *due* time). A signer that serves its zone must find the next due
time, and the names due now, without reading every RRSIG of the zone at every wake-up, so the
schedule keeps one entry per name that owns signatures: the due time of its earliest-expiring
RRSIG (4 octets, big-endian) followed by the name's canonical key. One ``bytes`` per name sorts
in due order by plain byte comparison.

Entries are kept in a :class:`~signwire.zones.version.ChunkedMap`, like a version's names: a
schedule is a value, and the next one after a small change shares every chunk the change does
not touch, so updating it costs about the same for a thousand names as for a million.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from signwire.zones.rrtypes import RRSIG
from signwire.zones.version import ChunkedMap, NodeRecord

_DUE = struct.Struct("!I")
_MAX_DUE = 2**32 - 1
_LAST_KEY = b"\xff" * 256  # sorts after every canonical key (at most 255 octets)


def expiration(rrsig_rdata: bytes) -> int:
    # RRSIG RDATA: type covered (2), algorithm (1), labels (1), original TTL (4), expiration.
    return int.from_bytes(rrsig_rdata[8:12], "big")


def covered(rrsig_rdata: bytes) -> int:
    return int.from_bytes(rrsig_rdata[:2], "big")


def earliest_expiration(records: Iterable[NodeRecord]) -> int | None:
    """The earliest expiration among the RRSIGs of one name's records, or None."""
    found = [expiration(rd) for t, _, rd in records if t == RRSIG]
    return min(found) if found else None


def entry(due: int, key: bytes) -> bytes:
    # RRSIG times are 32-bit; a refresh longer than the time left would give a negative due
    # time, which means "now" anyway.
    return _DUE.pack(min(max(due, 0), _MAX_DUE)) + key


@dataclass(frozen=True, slots=True)
class Schedule:
    refresh: int  # seconds before expiration at which a signature is replaced
    entries: ChunkedMap  # due time (4 octets) + canonical key -> b"", one per signed name

    @classmethod
    def build(cls, refresh: int, expirations: Mapping[bytes, int]) -> Schedule:
        """From the earliest RRSIG expiration of every name that has signatures."""
        keys = sorted(entry(e - refresh, k) for k, e in expirations.items())
        return cls(refresh, ChunkedMap.from_sorted(keys, [b""] * len(keys)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return self.refresh == other.refresh and list(self.entries.items()) == list(
            other.entries.items()
        )

    __hash__ = None  # type: ignore[assignment]

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def next_due(self) -> int | None:
        """The earliest time a signature reaches its refresh point (None: nothing is signed)."""
        if not len(self.entries):
            return None
        return int(_DUE.unpack_from(self.entries.key_at(0))[0])

    def due_keys(self, now: int) -> list[bytes]:
        """Canonical keys of the names with a signature due at ``now`` or before, earliest
        first."""
        end = self.entries.bisect_right(entry(now, _LAST_KEY)) if now >= 0 else 0
        key_at = self.entries.key_at
        return [key_at(i)[4:] for i in range(end)]

    def entry_for(self, key: bytes, records: Iterable[NodeRecord]) -> bytes | None:
        first = earliest_expiration(records)
        return None if first is None else entry(first - self.refresh, key)

    def updated(self, removed: Iterable[bytes], added: Iterable[bytes]) -> Schedule:
        """This schedule without the ``removed`` entries (each must be present) and with the
        ``added`` ones."""
        changes: dict[bytes, bytes | None] = {}
        for e in removed:
            if self.entries.find(e) is None:
                raise ValueError("removing a schedule entry that is not there")
            changes[e] = None
        for e in added:
            if changes.get(e, b"") is None:
                del changes[e]  # removed and added again: unchanged
            else:
                changes[e] = b""
        if not changes:
            return self
        return Schedule(self.refresh, self.entries.edit(sorted(changes.items())))
