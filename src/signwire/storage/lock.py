"""One writer per state directory.

Two runs that both change a zone's keys would each create keys and publish the same serial with
different DNSKEYs; so every command that writes the state first takes an exclusive ``flock`` on
``<state>/lock``. The kernel drops the lock when its holder dies, however it dies, so a SIGKILL
never leaves a stale lock behind. The holder writes its pid, start time and command into the
file, so the one who waits is told who holds it. (The daemon will hold this lock for its whole
life, and the command line will talk to it instead.)
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from pathlib import Path
from types import TracebackType

from signwire.errors import SignwireError

DEFAULT_WAIT = 10.0  # seconds a second writer waits before it gives up
_POLL = 0.1


class StateLockedError(SignwireError):
    """Another signwire process holds the state directory."""


class StateLock:
    def __init__(self, directory: str | os.PathLike[str], *, wait: float = DEFAULT_WAIT) -> None:
        self.path = Path(directory) / "lock"
        self.wait = wait
        self.fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as e:
            raise SignwireError(
                f"{self.path.parent}: cannot use this state directory: {e.strerror}"
            ) from None
        # The wait is a bound on a blocking call, not a decision about DNS time: the
        # monotonic clock is the right one, and no test needs to move it.
        deadline = time.monotonic() + max(0.0, self.wait)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise StateLockedError(
                        f"{self.path.parent} is in use by another signwire ({holder}); "
                        f"waited {self.wait:g} s. One process at a time may change a zone's "
                        f"keys and state: wait for it to finish, or use --lock-wait SECONDS"
                    ) from None
                time.sleep(_POLL)
        os.ftruncate(fd, 0)
        os.pwrite(fd, _holder_text().encode("utf-8", "replace"), 0)
        self.fd = fd

    def release(self) -> None:
        if self.fd is None:
            return
        # Leave the file (another process may already wait on it); empty it so a reader never
        # names a holder that is gone.
        with contextlib.suppress(OSError):
            os.ftruncate(self.fd, 0)
        os.close(self.fd)  # closing drops the flock
        self.fd = None

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _holder_text() -> str:
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    command = " ".join(["signwire", *sys.argv[1:3]])
    return f"pid {os.getpid()}, since {started}, {command}\n"


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 512, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "pid unknown"
