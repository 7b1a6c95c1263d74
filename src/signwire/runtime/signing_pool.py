"""Signing spread over worker processes.

Workers are forked *after* the plan is built, so they inherit it: nothing of the zone is pickled
on the way in. Each worker takes one contiguous segment of the names and writes its signed text
to a file of its own; the main process then copies the segments, in order, into the output.

Why segments and files rather than a task queue:

* CPython changes an object's reference count whenever it reads it, so a forked worker copies
  every memory page of the plan it touches. A worker that only ever reads its own half copies
  only that half; workers fed round-robin chunks end up copying nearly all of it each.
* The main process does not have to receive and write a gigabyte of text through pipes while
  the workers need the CPU; copying finished files is a kernel-speed operation at the end.

``gc.freeze()`` before the fork keeps the collector from touching (and so copying) every
inherited object. The module-level ``_plan`` is how the inherited data reaches the workers;
it is set only for the life of one :func:`write_plan` call.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import shutil
import tempfile
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import IO, TextIO

from signwire.errors import SigningError
from signwire.publication.zonetext import TextCache, render
from signwire.signing.context import load_signers
from signwire.signing.full import SigningPlan

CHUNK = 2000
# Below this many names the fork costs more than it saves.
IN_PROCESS_LIMIT = 3 * CHUNK

_plan: SigningPlan | None = None


def default_processes() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def write_plan(
    plan: SigningPlan,
    out: TextIO,
    processes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    scratch: str | None = None,
) -> int:
    """Sign and write every name of the plan to ``out`` in canonical order; RRSIGs made.

    The workers' segments are kept in unnamed files in ``scratch`` (best: the output's own
    folder, so they are on the same disk; None: the system's temporary folder)."""
    total = len(plan.units)
    procs = max(1, min(processes or default_processes(), total // CHUNK or 1))
    if procs == 1 or total <= IN_PROCESS_LIMIT:
        return _write_in_process(plan, out, progress)
    return _write_in_workers(plan, out, procs, progress, scratch)


def _write_in_process(
    plan: SigningPlan, out: TextIO, progress: Callable[[int, int], None] | None
) -> int:
    fns = load_signers(plan.context)
    cache = TextCache()
    total = len(plan.units)
    made = 0
    for lo in range(0, total, CHUNK):
        text, count = render(plan.units[lo : lo + CHUNK], plan.context, fns, cache)
        out.write(text)
        made += count
        if progress:
            progress(min(lo + CHUNK, total), total)
    return made


def _segment_worker(lo: int, hi: int, part: IO[str], conn: Connection) -> None:
    try:
        assert _plan is not None
        fns = load_signers(_plan.context)
        cache = TextCache()
        for start in range(lo, hi, CHUNK):
            end = min(start + CHUNK, hi)
            text, made = render(_plan.units[start:end], _plan.context, fns, cache)
            part.write(text)
            conn.send(("progress", end - start, made))
        part.flush()
        conn.send(("done", 0, 0))
    except BaseException:  # reported to the main process, which stops the run
        conn.send(("error", traceback.format_exc(), 0))
    finally:
        conn.close()


def _write_in_workers(
    plan: SigningPlan,
    out: TextIO,
    procs: int,
    progress: Callable[[int, int], None] | None,
    folder: str | None,
) -> int:
    total = len(plan.units)
    bounds = [total * i // procs for i in range(procs + 1)]
    with contextlib.ExitStack() as files:
        parts = [
            files.enter_context(
                tempfile.TemporaryFile("w+", encoding="latin-1", newline="\n", dir=folder)
            )
            for _ in range(procs)
        ]
        return _run_workers(plan, out, parts, bounds, progress)


def _run_workers(
    plan: SigningPlan,
    out: TextIO,
    parts: Sequence[IO[str]],
    bounds: list[int],
    progress: Callable[[int, int], None] | None,
) -> int:
    global _plan
    total = len(plan.units)
    ctx = multiprocessing.get_context("fork")
    workers: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
    _plan = plan
    # No gc.collect() first: the plan holds no reference cycles, and a full collection over
    # the millions of objects of a big zone takes seconds.
    gc.freeze()
    try:
        for i in range(len(parts)):
            receiver, sender = ctx.Pipe(duplex=False)
            proc: multiprocessing.process.BaseProcess = ctx.Process(
                target=_segment_worker, args=(bounds[i], bounds[i + 1], parts[i], sender)
            )
            proc.start()
            sender.close()
            workers.append((proc, receiver))
        made = _follow(workers, total, progress)
        for part in parts:
            part.seek(0)
            shutil.copyfileobj(part, out, 1 << 20)
        return made
    finally:
        _plan = None
        gc.unfreeze()
        for proc, receiver in workers:
            if proc.is_alive():
                proc.terminate()
            proc.join()
            receiver.close()


def _follow(
    workers: list[tuple[multiprocessing.process.BaseProcess, Connection]],
    total: int,
    progress: Callable[[int, int], None] | None,
) -> int:
    done = made = 0
    open_conns = {receiver for _, receiver in workers}
    finished = 0
    while open_conns:
        for conn in wait(list(open_conns)):
            assert isinstance(conn, Connection)
            try:
                kind, value, count = conn.recv()
            except EOFError:
                open_conns.discard(conn)
                continue
            if kind == "error":
                raise SigningError(f"a signing worker failed:\n{value}")
            if kind == "done":
                finished += 1
                open_conns.discard(conn)
                continue
            done += value
            made += count
            if progress:
                progress(done, total)
    if finished != len(workers):
        raise SigningError("a signing worker stopped without finishing its part of the zone")
    return made
