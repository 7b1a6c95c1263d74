"""Measuring one signer run: wall and CPU time, memory of the process tree, records written.

The benchmark (bench/run.py) owns what to run; this module owns how a run is measured:

* wall time around the child; user+sys CPU time and ``ru_maxrss`` from ``os.wait4`` (the
  rusage covers the child and every descendant it reaped, but ``ru_maxrss`` is the peak of
  the single largest process, so it under-states a signer that forks workers);
* the peak of the *sum* of resident memory over the whole process tree, sampled from /proc
  every 0.2 s (RSS and PSS; PSS divides shared pages between the processes sharing them);
* a streaming count of record types in a zone file in master-file syntax (RFC 1035
  section 5), tolerant of every layout the tools write: omitted owners, omitted class,
  multi-line records in parentheses, quoted strings, comments.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
CLASSES = frozenset({b"IN", b"CH", b"CS", b"HS", b"NONE", b"ANY"})
_QUOTED = re.compile(rb'"(?:[^"\\]|\\.)*"')


@dataclass
class Measurement:
    """One child run, as measured from outside."""

    argv: list[str]
    returncode: int
    wall_s: float
    user_s: float
    sys_s: float
    child_maxrss_kib: int  # ru_maxrss: the largest single process of the tree
    tree_rss_peak_kib: int  # peak of the sampled sum of RSS over the tree
    tree_pss_peak_kib: int  # same for PSS (0 where smaps_rollup is missing)
    samples: int
    max_processes: int

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s

    @property
    def memory_kib(self) -> int:
        # A tree's summed RSS is never below its largest process's own peak; sampling every
        # 0.2 s can miss a short run entirely, so the larger figure is the honest one.
        return max(self.tree_rss_peak_kib, self.child_maxrss_kib)


def _read_stat(pid: int) -> tuple[int, int] | None:
    """(ppid, rss pages) of one process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    # The command name is in parentheses and may itself hold spaces or parentheses.
    rest = data[data.rindex(b")") + 2 :].split()
    return int(rest[1]), int(rest[21])


def _read_pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def tree_memory(root: int) -> tuple[int, int, int]:
    """(sum of RSS KiB, sum of PSS KiB, process count) for ``root`` and its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        st = _read_stat(pid)
        if st is None:
            continue
        children.setdefault(st[0], []).append(pid)
        rss[pid] = st[1]
    if root not in rss:
        return 0, 0, 0
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return (
        sum(rss[p] for p in tree) * PAGE_KIB,
        sum(_read_pss_kib(p) for p in tree),
        len(tree),
    )


@dataclass
class _Sampler:
    root: int
    interval: float
    rss_peak: int = 0
    pss_peak: int = 0
    samples: int = 0
    max_processes: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while True:
            rss, pss, count = tree_memory(self.root)
            if count:
                self.samples += 1
                self.rss_peak = max(self.rss_peak, rss)
                self.pss_peak = max(self.pss_peak, pss)
                self.max_processes = max(self.max_processes, count)
            if self.stop.wait(self.interval):
                return


def run_measured(
    argv: list[str],
    *,
    stdout: Path,
    stderr: Path,
    cwd: Path | None = None,
    interval: float = 0.2,
) -> Measurement:
    """Run ``argv`` to completion and measure it. A program that cannot start raises OSError."""
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd)
        sampler = _Sampler(proc.pid, interval)
        thread = threading.Thread(target=sampler.run, daemon=True)
        thread.start()
        # wait4 rather than Popen.wait: it hands back the child's own rusage, so other
        # children of this process (the sampler has none) cannot blur the figures.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        sampler.stop.set()
        thread.join()
    return Measurement(
        argv=argv,
        returncode=proc.returncode,
        wall_s=wall,
        user_s=usage.ru_utime,
        sys_s=usage.ru_stime,
        child_maxrss_kib=usage.ru_maxrss,
        tree_rss_peak_kib=sampler.rss_peak,
        tree_pss_peak_kib=sampler.pss_peak,
        samples=sampler.samples,
        max_processes=sampler.max_processes,
    )


def _is_ttl_or_class(token: bytes) -> bool:
    return token[:1].isdigit() or token.upper() in CLASSES or token.upper().startswith(b"CLASS")


def count_types(path: Path) -> Counter[str]:
    """Count records per type in a master file, streaming (a 1M-name zone is fine)."""
    counts: Counter[str] = Counter()
    depth = 0
    with open(path, "rb", buffering=1 << 20) as fh:
        for line in fh:
            if b'"' in line:
                line = _QUOTED.sub(b'""', line)
            if b";" in line:
                line = line[: line.index(b";")]
            opening, closing = line.count(b"("), line.count(b")")
            if depth > 0:
                depth += opening - closing
                continue
            depth = opening - closing
            if not line.strip() or line[:1] == b"$":
                continue
            if opening or closing:
                line = line.replace(b"(", b" ").replace(b")", b" ")
            tokens = line.split()
            if line[:1] not in (b" ", b"\t"):
                tokens = tokens[1:]  # an owner is present
            for token in tokens[:3]:
                if not _is_ttl_or_class(token):
                    counts[token.upper().decode("ascii", "replace")] += 1
                    break
    return counts
