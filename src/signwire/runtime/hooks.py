"""Blocking calls the daemon waits for without holding up its loop or its exit.

The on-publish command (:func:`signwire.parent.submit.run_command`, the DS hook's runner) can
take up to its timeout. Run in the loop's default executor it would take a thread that signing
needs; in an executor of its own it would hold the process at exit (Python joins those threads)
for as long as the command runs, and a SIGTERM must stop the daemon at once. So each call gets
a daemon thread of its own, and the caller bounds how many run at a time. A command still
running when the daemon stops is left to finish on its own (in its own session).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def run_detached(work: Callable[[], T], name: str = "hook") -> T:
    """``work()`` in a daemon thread; its result or exception, back on the loop."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return  # the waiter was cancelled (the daemon is stopping)
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result, error = work(), None
        except BaseException as e:
            result, error = None, e
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(deliver, result, error)

    threading.Thread(target=run, name=name, daemon=True).start()
    return await future
