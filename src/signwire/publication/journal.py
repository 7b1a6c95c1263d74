"""A bounded journal of signed diffs, from which IXFR is answered (RFC 1995).

The journal holds consecutive diffs (each starts at the serial the previous one ended at),
oldest first. It is bounded by the number of diffs and by their total size; the oldest go
first. A secondary whose serial the journal no longer reaches back to gets the whole zone
(``chain`` returns None), so a bound only ever costs bandwidth, never correctness.

A diff that does not continue the chain (the zone was reloaded, or signed again in full with
a serial that skipped ahead) starts the journal over: a chain with a hole would hand a
secondary a zone no version ever held.
"""

from __future__ import annotations

from collections import deque

from signwire.zones import serial as serials
from signwire.zones.diff import Diff

DEFAULT_MAX_DIFFS = 1000
DEFAULT_MAX_BYTES = 16 * 1024 * 1024


class Journal:
    """Consecutive diffs, oldest first, within ``max_diffs`` and ``max_bytes``."""

    __slots__ = ("_bytes", "_diffs", "max_bytes", "max_diffs")

    def __init__(
        self, max_diffs: int = DEFAULT_MAX_DIFFS, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        if max_diffs < 0 or max_bytes < 0:
            raise ValueError("journal bounds must not be negative")
        self.max_diffs = max_diffs
        self.max_bytes = max_bytes
        self._diffs: deque[Diff] = deque()
        self._bytes = 0

    @property
    def serial(self) -> int | None:
        """The serial the newest diff leads to (None when empty)."""
        return self._diffs[-1].to_serial if self._diffs else None

    @property
    def oldest(self) -> int | None:
        """The oldest serial an IXFR can start from (None when empty)."""
        return self._diffs[0].from_serial if self._diffs else None

    def __len__(self) -> int:
        return len(self._diffs)

    @property
    def size(self) -> int:
        return self._bytes

    def append(self, diff: Diff) -> None:
        """Record the diff to a new version, then drop the oldest diffs over the bounds."""
        if not serials.gt(diff.to_serial, diff.from_serial):
            # An IXFR client would take such a step as "serial went backwards" and stop.
            raise ValueError(
                f"a journal step must move the serial forward ({diff.from_serial} -> "
                f"{diff.to_serial})"
            )
        if self._diffs and self._diffs[-1].to_serial != diff.from_serial:
            self.clear()
        self._diffs.append(diff)
        self._bytes += diff.wire_size
        while self._diffs and (len(self._diffs) > self.max_diffs or self._bytes > self.max_bytes):
            self._bytes -= self._diffs.popleft().wire_size

    def clear(self) -> None:
        self._diffs.clear()
        self._bytes = 0

    def chain(self, from_serial: int, to_serial: int) -> list[Diff] | None:
        """The diffs from ``from_serial`` to ``to_serial`` in order; ``[]`` when the two are
        equal; None when the journal does not hold that whole path (answer with AXFR)."""
        if from_serial == to_serial:
            return []
        if self.serial != to_serial or not serials.gt(to_serial, from_serial):
            return None
        for i, d in enumerate(self._diffs):
            if d.from_serial == from_serial:
                return list(self._diffs)[i:]
        return None
