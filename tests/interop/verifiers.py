"""The outside zone verifiers: ldns, BIND and Knot, run on a signed zone file.

``ldns-verify-zone``, ``dnssec-verify`` and ``kzonecheck`` all check a whole signed zone offline
and, unlike ``delv``, ``unbound-host``, ``dnsviz`` or ``zonemaster-cli``, report failure in their
exit code, so a :class:`VerifierResult` is decided by the exit code alone; the output is kept for
the assertion message.

Flags, from the tools' manuals and checked on Debian 12 (ldns 1.8.3, BIND 9.18, Knot 3.2):

* ``ldns-verify-zone FILE``: takes the origin from the SOA; ``-t YYYYMMDDhhmmss`` sets the
  validation time. It checks NSEC3 opt-out correctly despite what its help text says.
* ``dnssec-verify -x -o ORIGIN FILE``: ``-o`` is needed, or the file name is taken as the origin.
  ``-x`` says the DNSKEY RRset needs only KSK signatures (signwire, like every signer that splits
  KSK and ZSK, does not sign DNSKEY with the ZSK). It validates at the current time; it has no
  option to change it.
* ``kzonecheck -d on -o ORIGIN FILE``: without ``-d on`` it checks DNSSEC only when the SOA has an
  RRSIG, so an unsigned zone would pass. ``-t EPOCH`` sets the validation time. Knot refuses any
  record below a DNAME ("child record exists under DNAME", a mandatory check in Knot, although
  RFC 6672 only calls such data occluded): :func:`kzonecheck_complaints` lets a test check that
  this is the *only* thing Knot objects to.

Each function stops the calling test, naming the package to install, only when its program is
not installed (``scripts/setup-tests.sh`` installs them all).

Missing programs and modules, everywhere in the tests, go through :func:`unavailable`: it skips
the test on a developer's machine and *fails* it when ``CI`` is set (``.ci/run`` sets
``CI=true``). CI installs everything, so a missing program there is a broken set-up, and a suite
that passes with the interop tests skipped would claim checks it never made. Module-wide needs
use the ``requires`` mark (``pytest.mark.requires(missing_programs("knotd"))``, or any "why
not" string or None), which ``tests/conftest.py`` hands to :func:`unavailable` at set-up.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

# Program -> the Debian package that provides it (checked with dpkg -S on Debian 12).
PACKAGES = {
    "ldns-verify-zone": "ldnsutils",
    "ldns-signzone": "ldnsutils",
    "ldns-keygen": "ldnsutils",
    "dnssec-verify": "bind9-utils",
    "dnssec-signzone": "bind9-utils",
    "dnssec-keygen": "bind9-utils",
    "kzonecheck": "knot-dnssecutils",
    "kzonesign": "knot-dnssecutils",
    "keymgr": "knot",
    "knotd": "knot",
    "knotc": "knot",
    "unbound": "unbound",
    "named-checkzone": "bind9-utils",
    "dnssec-dsfromkey": "bind9-utils",
    "ldns-read-zone": "ldnsutils",
    "softhsm2-util": "softhsm2",
}

# The values of CI that mean "not CI"; anything else (true, 1, yes, a CI system's name) is CI.
_NOT_CI = ("", "0", "false", "no")

TIMEOUT = 300  # seconds; a verifier on a test zone takes well under one


@dataclass(frozen=True)
class VerifierResult:
    ok: bool
    command: tuple[str, ...]
    output: str
    returncode: int

    def describe(self) -> str:
        """A paragraph for an assertion message."""
        verdict = "accepted" if self.ok else f"REJECTED (exit {self.returncode})"
        return f"$ {' '.join(self.command)}\n{verdict}\n{self.output.rstrip()}"


def find_program(name: str) -> str | None:
    """Path of ``name``; also looks in the sbin folders, which a non-root PATH may lack."""
    found = shutil.which(name)
    if found:
        return found
    for folder in ("/usr/sbin", "/sbin", "/usr/local/sbin"):
        candidate = os.path.join(folder, name)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def in_ci() -> bool:
    """Whether ``CI`` is set to a true value; read on every call, so tests can change it."""
    return os.environ.get("CI", "").strip().lower() not in _NOT_CI


def unavailable(reason: str) -> NoReturn:
    """Stop the calling test because something it needs is missing: skip it, or under CI fail it."""
    if in_ci():
        pytest.fail(f"{reason} [CI is set: a missing requirement fails the test]", pytrace=False)
    pytest.skip(reason)


def _not_installed(name: str) -> str:
    package = PACKAGES.get(name, "?")
    return (
        f"{name} is not installed (Debian package {package}; "
        "scripts/setup-tests.sh installs it when run as root)"
    )


def missing_programs(*names: str) -> str | None:
    """Why the programs cannot be used here (for the ``requires`` mark), or None: all found."""
    absent = [name for name in names if find_program(name) is None]
    return "; ".join(_not_installed(name) for name in absent) or None


def require_program(name: str) -> str:
    """The program's path; if it is missing, :func:`unavailable` stops the calling test."""
    path = find_program(name)
    if path is None:
        unavailable(_not_installed(name))
    return path


def require_module(name: str, reason: str) -> ModuleType:
    """The imported module; if it cannot be imported, :func:`unavailable` stops the test."""
    try:
        return importlib.import_module(name)
    except ImportError:
        unavailable(reason)


def require(missing: str | None) -> None:
    """Stop the calling test through :func:`unavailable` when ``missing`` says why it cannot run."""
    if missing:
        unavailable(missing)


def run_verifier(argv: Sequence[str], *, cwd: str | Path | None = None) -> VerifierResult:
    program = require_program(argv[0])
    command = (program, *argv[1:])
    proc = subprocess.run(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        timeout=TIMEOUT,
        cwd=cwd,
        check=False,
    )
    return VerifierResult(proc.returncode == 0, (argv[0], *argv[1:]), proc.stdout, proc.returncode)


def _ldns_time(epoch: int) -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(epoch))


def ldns_verify_zone(path: str | Path, *, now: int | None = None) -> VerifierResult:
    """ldns's whole-zone check: signatures, NSEC/NSEC3 chain, at ``now`` when given."""
    argv = ["ldns-verify-zone"]
    if now is not None:
        argv += ["-t", _ldns_time(now)]
    argv.append(str(path))
    return run_verifier(argv)


def dnssec_verify(path: str | Path, origin: str) -> VerifierResult:
    """BIND's whole-zone check (always at the current time)."""
    return run_verifier(["dnssec-verify", "-x", "-o", origin, str(path)])


def kzonecheck(path: str | Path, origin: str, *, now: int | None = None) -> VerifierResult:
    """Knot's semantic and DNSSEC checks, DNSSEC forced on."""
    argv = ["kzonecheck", "-d", "on", "-o", origin]
    if now is not None:
        argv += ["-t", str(now)]
    argv.append(str(path))
    return run_verifier(argv)


def all_verifiers(path: str | Path, origin: str) -> list[VerifierResult]:
    """The three verifiers on one file, at the current time."""
    return [ldns_verify_zone(path), dnssec_verify(path, origin), kzonecheck(path, origin)]


def rejections(results: Sequence[VerifierResult]) -> str:
    """Empty when every verifier accepted; otherwise what each rejecting one said."""
    return "\n\n".join(r.describe() for r in results if not r.ok)


_KNOT_PROBLEM = re.compile(r"^\[(?P<owner>[^\]]*)\]\s+(?P<problem>.+?)\s*$")


def kzonecheck_complaints(result: VerifierResult) -> list[tuple[str, str]]:
    """(owner, problem) for each problem Knot listed, e.g. ``("x.dn.example.", "missing NSEC")``."""
    out = []
    for line in result.output.splitlines():
        m = _KNOT_PROBLEM.match(line)
        if m:
            out.append((m.group("owner"), m.group("problem")))
    return out
