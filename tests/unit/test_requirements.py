"""The tests' own rule for missing programs: skip on a developer's machine, fail under CI.

CI (``.ci/run``, ``CI=true``) installs every outside program, so there a missing one means the
set-up broke; a skip would let the suite pass without the checks it claims. These tests drive
:mod:`interop.verifiers` with a PATH that holds nothing, and the ``requires`` mark through a
real pytest run with this suite's conftest as a plugin.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from interop import verifiers

TESTS = Path(__file__).resolve().parents[1]
ABSENT = "signwire-test-no-such-program"  # in no PATH folder and in no sbin folder


@pytest.fixture
def empty_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


@pytest.mark.parametrize("value", ["true", "1", "yes", "TRUE"])
def test_a_missing_program_fails_the_test_under_ci(
    value: str, empty_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="CI is set") as failed:
        verifiers.require_program(ABSENT)
    assert ABSENT in str(failed.value)


@pytest.mark.parametrize("value", [None, "", "0", "false", "no"])
def test_a_missing_program_skips_the_test_outside_ci(
    value: str | None, empty_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception, match=ABSENT):
        verifiers.require_program(ABSENT)


def test_the_reason_names_the_debian_package(
    empty_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    assert "ldnsutils" in (verifiers.missing_programs("ldns-read-zone") or "")
    with pytest.raises(pytest.fail.Exception, match="knot-dnssecutils"):
        verifiers.require_program("kzonecheck")


def test_a_present_program_is_returned_under_ci(
    empty_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = empty_path / ABSENT
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    monkeypatch.setenv("CI", "true")
    assert verifiers.require_program(ABSENT) == str(program)
    assert verifiers.missing_programs(ABSENT) is None


def test_missing_programs_names_only_the_absent_ones(
    empty_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (empty_path / "present").write_text("#!/bin/sh\n")
    (empty_path / "present").chmod(0o755)
    reason = verifiers.missing_programs("present", ABSENT)
    assert reason is not None
    assert ABSENT in reason and "present " not in reason


def test_a_missing_module_fails_under_ci_and_skips_outside(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no such module"):
        verifiers.require_module("signwire_test_no_such_module", "no such module")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="no such module"):
        verifiers.require_module("signwire_test_no_such_module", "no such module")
    assert verifiers.require_module("json", "the standard library").__name__ == "json"


MARKED = textwrap.dedent(
    """\
    import pytest

    @pytest.mark.requires("frobnicator is not installed")
    def test_needs_a_missing_program():
        pass

    @pytest.mark.requires(None)
    def test_needs_nothing_missing():
        pass
    """
)


def _run_pytest(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    """A separate pytest on one file, with this suite's conftest loaded as a plugin."""
    (tmp_path / "test_marked.py").write_text(MARKED)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    env["HYPOTHESIS_PROFILE"] = "dev"
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider",
         "--strict-markers", "-rA", "-q", "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_requires_mark_fails_under_ci(tmp_path: Path) -> None:
    done = _run_pytest(tmp_path, "true")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 passed, 1 error" in done.stdout, done.stdout
    assert "frobnicator is not installed" in done.stdout, done.stdout
    assert "skipped" not in done.stdout, done.stdout


def test_the_requires_mark_skips_outside_ci(tmp_path: Path) -> None:
    done = _run_pytest(tmp_path, None)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 1 skipped" in done.stdout, done.stdout
    assert "frobnicator is not installed" in done.stdout, done.stdout
