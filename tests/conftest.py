"""Fixtures shared by every test folder: a hand-moved clock and two ways to run the CLI.

* ``manual_clock``: a :class:`~signwire.runtime.clock.ManualClock` at :data:`FIXED_NOW`.
* ``signwire``: calls ``signwire.cli.main.main(argv)`` in this process and returns
  ``CliResult(code, out, err)``. Fast (no interpreter start), so property tests use it. It is
  session-scoped and does not use ``capsys``, so hypothesis tests may take it.
* ``run_cli_subprocess``: the same through ``python -m signwire`` in a real process, for what
  only a process shows (exit status of an uncaught error, signals, stdout as a pipe).
* ``read_rrsets``: a zone file's text as dnspython RRsets in the order they first appear (with
  ``$ORIGIN``/``$TTL`` honoured), for checks of order and of individual records; built on
  dnspython, so it shares no code with signwire's reader.

A test that needs a program or module that is missing is skipped, or under ``CI`` failed:
see :func:`interop.verifiers.unavailable`. The ``requires`` mark does the same for a whole
module: ``pytestmark = pytest.mark.requires(softhsm.missing())`` stops each of its tests at
set-up when the argument (a reason) is not None.

Hypothesis profiles: ``ci`` (derandomized, no example database: the same examples on every run,
so CI is stable; no shrinking, since shrinking a zone through outside verifiers can take minutes
per failing test and CI's time is bounded: the failing example is still printed) is loaded when
``CI`` is set; ``dev`` (random, remembers and shrinks failures) otherwise. ``HYPOTHESIS_PROFILE``
overrides the choice.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Callable
from typing import NamedTuple

import dns.name
import dns.rdataclass
import dns.rrset
import dns.tokenizer
import dns.zonefile
import pytest
from hypothesis import HealthCheck, Phase, settings

from interop.verifiers import in_ci, unavailable
from signwire.runtime.clock import ManualClock

FIXED_NOW = 1_767_225_600  # 2026-01-01T00:00:00Z: tests that pass --now use this
SUBPROCESS_TIMEOUT = 300

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target),
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if in_ci() else "dev"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "requires(missing): stop the test when missing (a reason, or None) is set: "
        "skip it, or fail it under CI",
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("requires"):
        missing = mark.args[0] if mark.args else mark.kwargs.get("missing")
        if missing:
            unavailable(str(missing))


class CliResult(NamedTuple):
    code: int
    out: str
    err: str


CliRunner = Callable[..., CliResult]


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)  # SystemExit("message") prints it and exits 1
    return 1


def run_in_process(*args: str | os.PathLike[str]) -> CliResult:
    """Run ``signwire ARGS`` in this process, capturing what it writes to stdout and stderr.

    The streams are text wrappers over bytes buffers, so the CLI may write either text
    (``print``) or bytes (``sys.stdout.buffer``) as it would to a real pipe; neither is a tty.
    """
    from signwire.cli.main import main

    out_bytes, err_bytes = io.BytesIO(), io.BytesIO()
    out = io.TextIOWrapper(out_bytes, encoding="utf-8", errors="replace", write_through=True)
    err = io.TextIOWrapper(err_bytes, encoding="utf-8", errors="replace", write_through=True)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([os.fspath(a) for a in args])
        except SystemExit as exc:
            code = _exit_code(exc)
        out.flush()
        err.flush()
    assert isinstance(code, int), f"main() returned {code!r}, not an exit code"
    return CliResult(
        code,
        out_bytes.getvalue().decode("utf-8", "replace"),
        err_bytes.getvalue().decode("utf-8", "replace"),
    )


def run_subprocess(
    *args: str | os.PathLike[str],
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> CliResult:
    """Run ``python -m signwire ARGS`` in a child process (no tty; stdin empty unless given)."""
    child_env = dict(os.environ)
    child_env.pop("COLUMNS", None)
    if env:
        child_env.update(env)
    proc = subprocess.run(
        [sys.executable, "-m", "signwire", *(os.fspath(a) for a in args)],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        errors="replace",
        timeout=SUBPROCESS_TIMEOUT,
        env=child_env,
        cwd=cwd,
        check=False,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def read_rrsets_in_order(text: str, origin: str) -> list[dns.rrset.RRset]:
    """RRsets of a zone file in order of first appearance (dnspython's reader, directives on)."""
    manager = dns.zonefile.RRSetsReaderManager(dns.name.from_text(origin), False, dns.rdataclass.IN)
    with manager.writer(True) as txn:  # type: ignore[no-untyped-call]
        tok = dns.tokenizer.Tokenizer(text, "<signed zone>")
        dns.zonefile.Reader(tok, dns.rdataclass.IN, txn, allow_directives=True).read()
    return list(manager.rrsets)


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock(FIXED_NOW)


@pytest.fixture(scope="session")
def signwire() -> CliRunner:
    """``signwire(*argv) -> CliResult(code, out, err)``, in this process."""
    return run_in_process


@pytest.fixture(scope="session")
def run_cli_subprocess() -> CliRunner:
    """``run_cli_subprocess(*argv, stdin=None, env=None, cwd=None) -> CliResult``."""
    return run_subprocess


@pytest.fixture(scope="session")
def read_rrsets() -> Callable[[str, str], list[dns.rrset.RRset]]:
    """``read_rrsets(zone_text, origin) -> [RRset, ...]`` in file order."""
    return read_rrsets_in_order
