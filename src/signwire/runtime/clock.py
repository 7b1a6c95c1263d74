"""One clock for every decision that depends on the time.

Pure code never asks the operating system what time it is: it takes ``now`` (seconds since
the epoch, an ``int``) as an argument. Callers get ``now`` from a :class:`Clock`; production
uses :class:`SystemClock`, tests use :class:`ManualClock` and move it by hand, so a policy can
be walked through years in seconds.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> int:
        """Seconds since the epoch (UTC)."""
        ...


class SystemClock:
    def now(self) -> int:
        return int(time.time())


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: int) -> None:
        self._now = start

    def now(self) -> int:
        return self._now

    def advance(self, seconds: int) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self._now += seconds

    def set(self, when: int) -> None:
        if when < self._now:
            raise ValueError("a clock does not go backwards")
        self._now = when
