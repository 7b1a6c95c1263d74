"""Every console block of the operator's guide, run as written.

A ``$`` line is a command (run by bash in a scratch folder holding the example zone); the lines
under it are text its output must contain; ``# exit N`` says the command must exit with N.
Blocks run in order in one folder, so later steps see what earlier ones made.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from interop.verifiers import unavailable

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "guide.md"
BLOCK = re.compile(r"```console\n(.*?)```", re.DOTALL)
EXIT = re.compile(r"\s+#\s*exit\s+(\d+)\s*$")


def _steps(text: str) -> list[tuple[str, int, list[str]]]:
    steps: list[tuple[str, int, list[str]]] = []
    for block in BLOCK.findall(text):
        for line in block.splitlines():
            if line.startswith("$ "):
                command = line[2:]
                expected = 0
                m = EXIT.search(command)
                if m:
                    expected = int(m.group(1))
                    command = command[: m.start()]
                steps.append((command, expected, []))
            elif line.strip():
                steps[-1][2].append(line.strip())
    return steps


def _tools_missing(steps: list[tuple[str, int, list[str]]]) -> list[str]:
    wanted = {"ldns-verify-zone", "dnssec-verify", "kzonecheck", "dnssec-dsfromkey"}
    used = {w for cmd, _, _ in steps for w in cmd.split() if w in wanted}
    return sorted(t for t in used if shutil.which(t) is None)


def test_the_guide_runs_as_written(tmp_path):
    steps = _steps(GUIDE.read_text())
    assert len(steps) >= 8, "the guide lost its commands"
    missing = _tools_missing(steps)
    if missing:
        unavailable(f"not installed: {', '.join(missing)} (scripts/setup-tests.sh installs them)")
    shutil.copy(ROOT / "examples" / "example.com.zone", tmp_path)
    shutil.copy(ROOT / "examples" / "signwire.toml", tmp_path)
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    for command, expected, output in steps:
        done = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=120, check=False,
        )
        said = done.stdout + done.stderr
        assert done.returncode == expected, f"{command!r} exited {done.returncode}:\n{said}"
        for line in output:
            assert line in said, f"{command!r} did not print {line!r}; it printed:\n{said}"
    signed = (tmp_path / "example.com.zone.signed").read_text()
    assert "NSEC3PARAM" in signed
