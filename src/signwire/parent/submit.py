"""Hand the DS RRset the parent should serve to the operator's submission command.

Parents take DS changes in many ways (a registrar's API, EPP, an e-mail, a ticket), so signwire
leaves the last step to a program the policy names (``ds-submit-command``). When the enforcer asks
for a DS change (``SUBMIT_DS``/``WITHDRAW_DS``), the program receives the complete DS RRset the
parent should serve from now on, in zone-file format on stdin, one record a line (no records at
all: the zone should go insecure). The environment is scrubbed (:data:`HOOK_ENVIRONMENT`) and
holds ``SIGNWIRE_ZONE``. Whether the
parent acted is learned afterwards from the parental agents or from the operator.

The command runs as an argument vector, never through a shell, so no zone data is ever parsed as
shell syntax; a configured string is split with :func:`shlex.split`. It has a time limit, after
which its whole process group is killed. A failure raises :class:`DsSubmitError` with the exit
status and the end of what it wrote on stderr.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from signwire.errors import SignwireError
from signwire.parent.agents import DsRdata, ds_text, ds_wire, zone_name

SUBMIT_TIMEOUT = 60.0  # seconds; a registrar API can be slow, but not for ever
TAIL_LINES = 10
TAIL_CHARS = 2000


class DsSubmitError(SignwireError):
    """The submission command could not be run, failed, or ran too long."""

    def __init__(
        self,
        message: str,
        *,
        argv: Sequence[str],
        returncode: int | None = None,
        stderr: str = "",
    ) -> None:
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class SubmitResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def command_argv(command: str | Sequence[str]) -> tuple[str, ...]:
    """The argument vector of a configured command: a list as is, a string split as a shell
    would split words (quotes, backslashes), but without any expansion."""
    if isinstance(command, str):
        try:
            argv = shlex.split(command)
        except ValueError as e:
            raise DsSubmitError(f"ds-submit-command {command!r}: {e}", argv=[command]) from e
    else:
        argv = list(command)
    if not argv or not all(isinstance(a, str) and a for a in argv):
        raise DsSubmitError(f"ds-submit-command {command!r} is empty", argv=argv)
    return tuple(argv)


# What a hook may see of signwire's environment: enough to find programs, speak the locale and
# write temporary files. Everything else stays behind, an HSM PIN given with --hsm-pin-env
# first of all: a registrar script has no business with it.
HOOK_ENVIRONMENT = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")


def scrubbed_environment() -> dict[str, str]:
    """The environment a hook starts with (before ``SIGNWIRE_*`` is added)."""
    return {k: v for k, v in os.environ.items() if k in HOOK_ENVIRONMENT}


def ds_rrset_text(zone: bytes | str, records: Iterable[DsRdata], ttl: int) -> str:
    """The DS RRset in zone-file format, one record a line, in a stable order."""
    owner = zone_name(zone).to_text()
    wires = sorted({ds_wire(rd) for rd in records})
    return "".join(f"{owner} {ttl} IN DS {ds_text(rd)}\n" for rd in wires)


def submit_ds(
    command: str | Sequence[str],
    zone: bytes | str,
    records: Iterable[DsRdata],
    *,
    ttl: int,
    timeout: float = SUBMIT_TIMEOUT,
    env: Mapping[str, str] | None = None,
) -> SubmitResult:
    """Run the submission command with the zone's DS RRset on stdin; raise if it fails."""
    extra = {"SIGNWIRE_ZONE": zone_name(zone).to_text()}
    if env:
        extra.update(env)
    return run_command(
        command_argv(command), ds_rrset_text(zone, records, ttl), timeout=timeout, env=extra
    )


def run_command(
    argv: Sequence[str],
    stdin_text: str,
    *,
    timeout: float = SUBMIT_TIMEOUT,
    env: Mapping[str, str] | None = None,
    what: str = "ds-submit-command",
) -> SubmitResult:
    """Run ``argv`` with ``stdin_text`` on stdin, capturing stdout and stderr; exit 0 or raise.
    ``what`` names the hook in messages (the daemon's ``on-publish`` runs here too)."""
    shown = shlex.join(argv)
    child_env = scrubbed_environment()
    if env:
        child_env.update(env)
    try:
        # A session of its own, so a timeout can kill what the command started as well.
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env,
            start_new_session=True,
        )
    except OSError as e:
        raise DsSubmitError(
            f"cannot run {what} {shown}: {e.strerror or e}", argv=argv
        ) from e
    try:
        out, err = proc.communicate(stdin_text.encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        stderr = err.decode("utf-8", "replace")
        raise DsSubmitError(
            f"{what} {shown} did not finish within {timeout:g} s and was killed"
            + _tail_suffix(stderr),
            argv=argv,
            returncode=proc.returncode,
            stderr=stderr,
        ) from None
    stdout = out.decode("utf-8", "replace")
    stderr = err.decode("utf-8", "replace")
    code = proc.returncode
    if code != 0:
        if code < 0:
            status = f"was killed by signal {-code} ({_signal_name(-code)})"
        else:
            status = f"failed with exit status {code}"
        raise DsSubmitError(
            f"{what} {shown} {status}" + _tail_suffix(stderr),
            argv=argv,
            returncode=code,
            stderr=stderr,
        )
    return SubmitResult(tuple(argv), code, stdout, stderr)


def stderr_tail(text: str) -> str:
    """The last lines of a program's stderr, short enough for one log message."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    tail = "\n".join(lines[-TAIL_LINES:])
    if len(tail) > TAIL_CHARS:
        tail = "…" + tail[-TAIL_CHARS:]
    return tail


def _tail_suffix(stderr: str) -> str:
    tail = stderr_tail(stderr)
    return f"; stderr: {tail}" if tail else "; nothing on stderr"


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    # It may have finished between the timeout and the kill.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown signal"
