"""Signing spread over worker processes.

Workers are forked *after* the plan is built, so they inherit it: nothing of the zone is pickled
on the way in, each task is just a (start, end) range, and each result is the finished text of
that range, returned in order. ``gc.freeze()`` before the fork keeps the collector from touching
(and so copying) every inherited object in every worker.

The module-level ``_plan`` is how the inherited data reaches the workers; it is set only for
the life of one :func:`render_plan` call.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator

from signwire.signing.full import SigningPlan
from signwire.signing.render import SignFns, load_signers, render

CHUNK = 2000
# Below this many names the fork costs more than it saves.
IN_PROCESS_LIMIT = 3 * CHUNK

_plan: SigningPlan | None = None
_sign_fns: SignFns = {}


def _init_worker() -> None:
    global _sign_fns
    assert _plan is not None
    _sign_fns = load_signers(_plan.context)


def _render_range(bounds: tuple[int, int]) -> tuple[str, int, int]:
    assert _plan is not None
    lo, hi = bounds
    text, made = render(_plan.units[lo:hi], _plan.context, _sign_fns)
    return text, made, hi - lo


def default_processes() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def render_plan(
    plan: SigningPlan,
    processes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[tuple[str, int]]:
    """Yield (text, RRSIGs made) for consecutive ranges of the plan, in canonical order."""
    global _plan
    total = len(plan.units)
    procs = processes or default_processes()
    done = 0
    if procs <= 1 or total <= IN_PROCESS_LIMIT:
        fns = load_signers(plan.context)
        for lo in range(0, total, CHUNK):
            text, made = render(plan.units[lo : lo + CHUNK], plan.context, fns)
            done += min(CHUNK, total - lo)
            if progress:
                progress(done, total)
            yield text, made
        return

    _plan = plan
    gc.collect()
    gc.freeze()
    try:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(procs, initializer=_init_worker) as pool:
            ranges = [(lo, min(lo + CHUNK, total)) for lo in range(0, total, CHUNK)]
            for text, made, count in pool.imap(_render_range, ranges):
                done += count
                if progress:
                    progress(done, total)
                yield text, made
    finally:
        _plan = None
        gc.unfreeze()
