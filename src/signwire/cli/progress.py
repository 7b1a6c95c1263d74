"""A progress line for long work, shown only on a terminal and only once work takes a while.

Scripts and CI logs get nothing extra: when standard error is not a terminal this prints
nothing at all.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

SHOW_AFTER = 1.5  # seconds: short runs finish before a bar would be worth drawing


class Progress:
    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.started = time.monotonic()
        self.drawn = False
        self.last = 0.0
        self.phase = ""

    def start(self, phase: str) -> None:
        self.phase = phase
        self.update(0, 0)

    def update(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.started < SHOW_AFTER or (now - self.last < 0.1 and done != total):
            return
        self.last = now
        if total:
            width = 30
            filled = width * done // total
            bar = "#" * filled + "-" * (width - filled)
            text = f"\r{self.phase:<9} [{bar}] {100 * done // total:3d}% {done}/{total}"
        else:
            text = f"\r{self.phase}..."
        self.stream.write(text.ljust(72))
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        if self.drawn:
            self.stream.write("\r" + " " * 72 + "\r")
            self.stream.flush()
            self.drawn = False
