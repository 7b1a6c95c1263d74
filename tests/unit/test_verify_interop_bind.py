"""Zones signed by BIND's dnssec-signzone, whose default output spreads records over several
lines with parentheses and comments: the verifier reads them (both reader paths agree), accepts
the clean zones and rejects a changed record."""

from __future__ import annotations

import argparse
import io
import subprocess
from pathlib import Path

import dns.name
import pytest
from test_verify_support import NOW, UNSIGNED, same_contents

from interop.verifiers import missing_programs
from signwire.cli import verify_cmd
from signwire.verify.zone_reader import _read_with_dnspython, read_zone_file

pytestmark = [
    pytest.mark.interop,
    pytest.mark.requires(missing_programs("dnssec-signzone", "dnssec-keygen")),
]


def _bind(*args: str, cwd: Path) -> None:
    result = subprocess.run(
        list(args), cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def bind_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("bind")
    (where / "example.test.zone").write_text(UNSIGNED)
    _bind("dnssec-keygen", "-q", "-a", "ECDSAP256SHA256", "-f", "KSK", "example.test.", cwd=where)
    _bind("dnssec-keygen", "-q", "-a", "ECDSAP256SHA256", "example.test.", cwd=where)
    return where


def _sign(where: Path, out: str, *extra: str) -> Path:
    # -P: BIND's own post-signing check would judge the 2026-01 dates by the machine's clock
    _bind(
        "dnssec-signzone",
        "-q",
        "-P",
        "-S",
        "-K",
        ".",
        *extra,
        "-o",
        "example.test.",
        "-f",
        out,
        "-s",
        "20251231000000",
        "-e",
        "20260131000000",
        "example.test.zone",
        cwd=where,
    )
    return where / out


def _verify(path: Path) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="signwire")
    verify_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["verify", str(path), "--origin", "example.test."])
    out = io.StringIO()
    return verify_cmd.run(args, now=NOW, out=out, err=io.StringIO()), out.getvalue()


@pytest.mark.parametrize(
    ("extra", "denial"), [((), "NSEC"), (("-3", "-"), "NSEC3")], ids=["nsec", "nsec3"]
)
def test_bind_signed_zones(bind_dir: Path, extra: tuple[str, ...], denial: str) -> None:
    path = _sign(bind_dir, f"signed-{denial}", *extra)
    text = path.read_text()
    assert "RRSIG\tSOA 13 2 3600 (" in text  # the multi-line layout is what is under test
    origin = dns.name.from_text("example.test.")
    same_contents(read_zone_file(str(path), origin), _read_with_dnspython(text, origin, "x"))
    code, out = _verify(path)
    assert code == 0, out
    assert f" {denial} records checked; 0 errors, 0 warnings" in out

    changed = bind_dir / f"changed-{denial}"
    changed.write_text(text.replace("192.0.2.4", "192.0.2.44"))
    code, out = _verify(changed)
    assert code == 1
    assert "error: www.example.test. A: RRSIG A" in out
    assert "does not verify" in out
