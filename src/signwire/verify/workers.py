"""Spreading the lean path's work over forked processes.

The zone is read into this process once; workers are forked afterwards and inherit it, so
nothing of the zone is copied or pickled: a worker gets a range of offsets and sends back its
result through a pipe. This process does the first range itself (one process fewer to hold
memory). ``gc.freeze()`` before the fork keeps the collector from touching, and so copying,
every inherited object. A worker that fails makes the whole run fail loudly.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def run_parts(run: Callable[[int, int], T], ranges: list[tuple[int, int]]) -> list[T]:
    """``[run(start, end) for start, end in ranges]``, the first here and each other one in a
    forked worker at the same time.

    An exception raised here stops the workers; one raised in a worker is raised here again
    (after this process's own part is done).
    """
    if len(ranges) <= 1 or not hasattr(os, "fork"):
        return [run(start, end) for start, end in ranges]
    gc.freeze()
    children: list[tuple[int, int]] = []
    try:
        for start, end in ranges[1:]:
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # the worker
                os.close(read_end)
                try:
                    outcome: tuple[bool, object] = (True, run(start, end))
                except BaseException as e:
                    outcome = (False, e)
                with os.fdopen(write_end, "wb") as out:
                    pickle.dump(outcome, out, protocol=pickle.HIGHEST_PROTOCOL)
                os._exit(0)
            os.close(write_end)
            children.append((pid, read_end))
        try:
            results = [run(*ranges[0])]
        except BaseException:
            # The verdict is settled: stop the workers rather than wait for them.
            for pid, read_end in children:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                os.close(read_end)
            raise
        failure: BaseException | None = None
        for pid, read_end in children:
            with os.fdopen(read_end, "rb") as inp:
                data = inp.read()
            os.waitpid(pid, 0)
            if not data:
                failure = failure or RuntimeError("a verifier worker died")
                continue
            ok, value = pickle.loads(data)
            del data
            if ok:
                results.append(value)
            elif failure is None:
                failure = value
        if failure is not None:
            raise failure
        return results
    finally:
        gc.unfreeze()


def split_work(
    run: Callable[[int, int], T],
    total: int,
    workers: int,
    meanwhile: Callable[[], object] | None = None,
) -> list[T]:
    """``run(start, end)`` over ``range(total)`` cut into ``workers`` contiguous parts, in order.

    ``meanwhile`` runs in this process while the workers work. Exceptions raised by ``run`` in
    a worker are raised again here (after those of ``meanwhile``).
    """
    if workers <= 1 or total < 2 or not hasattr(os, "fork"):
        if meanwhile is not None:
            meanwhile()
        return [run(0, total)]
    bounds = [total * i // workers for i in range(workers + 1)]
    gc.freeze()
    children: list[tuple[int, int]] = []
    try:
        for i in range(workers):
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # the worker
                os.close(read_end)
                try:
                    outcome: tuple[bool, object] = (True, run(bounds[i], bounds[i + 1]))
                except BaseException as e:
                    outcome = (False, e)
                with os.fdopen(write_end, "wb") as out:
                    pickle.dump(outcome, out)
                os._exit(0)
            os.close(write_end)
            children.append((pid, read_end))
        if meanwhile is not None:
            try:
                meanwhile()
            except BaseException:
                # The verdict is settled: stop the workers rather than wait for them.
                for pid, read_end in children:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    os.close(read_end)
                raise
        results: list[T] = []
        failure: BaseException | None = None
        for pid, read_end in children:
            with os.fdopen(read_end, "rb") as inp:
                data = inp.read()
            os.waitpid(pid, 0)
            if not data:
                failure = failure or RuntimeError("a verifier worker died")
                continue
            ok, value = pickle.loads(data)
            if ok:
                results.append(value)
            elif failure is None:
                failure = value
        if failure is not None:
            raise failure
        return results
    finally:
        gc.unfreeze()
