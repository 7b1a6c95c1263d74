"""When each name of a signed version needs fresh signatures: the re-sign schedule.

A signature is refreshed when less than ``refresh`` seconds remain before it expires
(``expiration - refresh``: its *due* time). A signer that serves its zone must find the next due
time, and the names due now, without reading every RRSIG of the zone at every wake-up, so the
schedule keeps one entry per name that owns signatures: the due time of its earliest-expiring
RRSIG (4 octets, big-endian) followed by the name's canonical key. One ``bytes`` per name sorts
in due order with plain byte comparison, in C, and costs about the size of the key.

A schedule is a value like the version it belongs to: :meth:`Schedule.updated` returns a new
one. The copy of the entry list that costs is a C-level copy of pointers, as the version's own
lists are copied by :func:`signwire.zones.diff.apply`.
"""

from __future__ import annotations

import struct
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from signwire.zones.rrtypes import RRSIG
from signwire.zones.version import NodeRecord

_DUE = struct.Struct("!I")
_MAX_DUE = 2**32 - 1
# RRSIG RDATA: type covered (2), algorithm (1), labels (1), original TTL (4), expiration (4).
_EXPIRATION = slice(8, 12)


def expiration(rrsig_rdata: bytes) -> int:
    return int.from_bytes(rrsig_rdata[_EXPIRATION], "big")


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
    entries: tuple[bytes, ...]  # sorted: due time (4 octets) + canonical key, one per name

    @classmethod
    def build(cls, refresh: int, expirations: Mapping[bytes, int]) -> Schedule:
        """From the earliest RRSIG expiration of every name that has signatures."""
        return cls(refresh, tuple(sorted(entry(e - refresh, k) for k, e in expirations.items())))

    @property
    def next_due(self) -> int | None:
        """The earliest time a signature reaches its refresh point (None: nothing is signed)."""
        if not self.entries:
            return None
        return int(_DUE.unpack_from(self.entries[0])[0])

    def due_keys(self, now: int) -> list[bytes]:
        """Canonical keys of the names with a signature due at ``now`` or before, earliest
        first."""
        end = bisect_right(self.entries, entry(now, b"\xff" * 256)) if now >= 0 else 0
        return [e[4:] for e in self.entries[:end]]

    def entry_for(self, key: bytes, records: Iterable[NodeRecord]) -> bytes | None:
        first = earliest_expiration(records)
        return None if first is None else entry(first - self.refresh, key)

    def updated(self, removed: Iterable[bytes], added: Iterable[bytes]) -> Schedule:
        """This schedule without the ``removed`` entries (each must be present) and with the
        ``added`` ones."""
        entries = self.entries
        cuts: set[int] = set()
        for e in removed:
            c = bisect_left(entries, e)
            if c >= len(entries) or entries[c] != e:
                raise ValueError("removing a schedule entry that is not there")
            cuts.add(c)
        # Slices between the removed positions: C-level copies, no Python loop per entry.
        parts: list[bytes] = []
        start = 0
        for c in sorted(cuts):
            parts.extend(entries[start:c])
            start = c + 1
        parts.extend(entries[start:])
        new = sorted(added)
        if new:
            # Two sorted runs: Timsort merges them with galloping, mostly memory moves.
            parts.extend(new)
            parts.sort()
        return Schedule(self.refresh, tuple(parts))
