"""SIGTERM and SIGINT for the command line: stop like Ctrl-C, and never lose the request.

systemd stops a service with SIGTERM and an operator's ``kill`` sends it too; the default would
kill signwire mid-write and leave temporary files. Here it unwinds like Ctrl-C
(``KeyboardInterrupt``), so every ``finally`` runs. Python may run a handler where an exception
is only printed and dropped (at-fork hooks, finalisers), so the request is also remembered:
:func:`raise_if_stopped` re-raises it before a step that must not start once a stop was asked
for (saving the state, publishing). Forked signing workers just leave; their parent cleans up.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType
from typing import Any

_stopped: list[int] = []


def install() -> Any:
    """Install the SIGTERM handler; returns the previous one (None off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    main_pid = os.getpid()
    _stopped.clear()

    def on_term(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != main_pid:
            os._exit(128 + signum)
        _stopped.append(signum)
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, on_term)


def restore(previous: Any) -> None:
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


def raise_if_stopped() -> None:
    """Raise ``KeyboardInterrupt`` if a stop was asked for and its exception got lost."""
    if _stopped:
        raise KeyboardInterrupt
