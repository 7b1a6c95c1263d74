"""``signwire sign`` on input that is not a valid zone: a clear error and nothing written.

Each case is one of the input errors of the signing issue. For each: exit code 1 (bad zone
data; 2 for a missing input file, a usage error), a message that names the file, the line and
the problem, and no output: not created when absent, left byte for byte when it existed, no
temporary file left beside it, and no keys made for a zone that was never signed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import CliRunner

ORIGIN = "example.test."

HEAD = [
    "$ORIGIN example.test.",  # line 1
    "$TTL 3600",  # line 2
    "@ IN SOA ns1 hostmaster 2026010101 7200 3600 1209600 300",  # line 3
    "@ IN NS ns1",  # line 4
    "ns1 IN A 192.0.2.1",  # line 5
    "www IN A 192.0.2.10",  # line 6
]


@dataclass(frozen=True)
class Case:
    lines: list[str]
    bad_lines: frozenset[int]  # lines the message may point at; empty: no line applies
    problem: str  # regex, case-insensitive, that the message must match


def _with(*extra: str) -> list[str]:
    return HEAD + list(extra)


_SIG = "SOA 13 2 3600 20260201000000 20260101000000 12345 example.test. AAAA"

CASES: dict[str, Case] = {
    "no-soa": Case(
        ["$ORIGIN example.test.", "$TTL 3600", "@ IN NS ns1", "ns1 IN A 192.0.2.1"],
        frozenset(),
        r"no SOA",
    ),
    "two-soas": Case(
        _with("@ IN SOA ns2 hostmaster 2026010102 7200 3600 1209600 300"),
        frozenset({7}),
        r"(second|two|more than one|multiple) SOA",
    ),
    "cname-beside-data": Case(
        _with("www IN CNAME ns1"), frozenset({6, 7}), r"CNAME (beside|and|with) other data"
    ),
    "outside-origin": Case(
        _with("host.example.net. IN A 192.0.2.20"),
        frozenset({7}),
        r"outside|out of zone|not (in|under|below) (the )?zone",
    ),
    "ttls-differ-in-rrset": Case(
        _with("www 300 IN A 192.0.2.11"), frozenset({6, 7}), r"TTL.*differ|differ.*TTL"
    ),
    "rrsig-in-input": Case(_with(f"@ IN RRSIG {_SIG}"), frozenset({7}), r"--strip-dnssec"),
    "nsec-in-input": Case(
        _with("www IN NSEC example.test. A RRSIG NSEC"), frozenset({7}), r"--strip-dnssec"
    ),
    "nsec3-in-input": Case(
        _with(
            "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom IN NSEC3 1 0 0 - 2vptu5timamqttgl4luu9kg21e0aor3s A"
        ),
        frozenset({7}),
        r"--strip-dnssec",
    ),
    "nsec3param-in-input": Case(
        _with("@ IN NSEC3PARAM 1 0 0 -"), frozenset({7}), r"--strip-dnssec"
    ),
    "ds-at-apex": Case(
        _with("@ IN DS 12345 13 2 " + "ab" * 32), frozenset({7}), r"DS .*apex|apex.*DS"
    ),
    "dnskey-below-apex": Case(
        _with("www IN DNSKEY 257 3 13 " + "A" * 88),
        frozenset({7}),
        r"DNSKEY .*not (at )?the (zone )?apex|DNSKEY.*apex",
    ),
    "bad-ttl": Case(_with("mail 3x00 IN A 192.0.2.30"), frozenset({7}), r"TTL|3x00"),
}


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(params=[False, True], ids=["no-output-before", "output-existed"])
def output(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "signed.zone"
    if request.param:
        out.write_text("; an earlier signed zone that must survive a failed run\n")
        os.chmod(out, 0o644)
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_invalid_zone_is_refused_and_nothing_is_written(
    name: str, output: Path, tmp_path: Path, signwire: CliRunner
) -> None:
    case = CASES[name]
    zone = tmp_path / f"{name}.zone"
    zone.write_text("\n".join(case.lines) + "\n")
    keys = tmp_path / "keys"
    keys.mkdir()
    before = _listing(output.parent)

    result = signwire("sign", zone, "--origin", ORIGIN, "--keys", keys, "-o", output)

    assert result.code == 1, f"exit {result.code}\n{result.err}"
    message = result.err
    assert str(zone) in message, f"message does not name the file:\n{message}"
    assert re.search(case.problem, message, re.IGNORECASE), f"problem not named:\n{message}"
    if case.bad_lines:
        cited = {int(n) for n in re.findall(re.escape(str(zone)) + r":(\d+):", message)}
        assert cited & case.bad_lines, f"expected line {sorted(case.bad_lines)}:\n{message}"
    assert result.out == "", "nothing goes to stdout on failure"
    assert _listing(output.parent) == before, "the output folder changed"
    assert not any(keys.iterdir()), "keys were made for a zone that was not signed"


def test_missing_input_file_is_a_usage_error(
    output: Path, tmp_path: Path, signwire: CliRunner
) -> None:
    zone = tmp_path / "no-such.zone"
    before = _listing(output.parent)
    result = signwire("sign", zone, "--origin", ORIGIN, "--keys", tmp_path, "-o", output)
    assert result.code == 2, f"exit {result.code}\n{result.err}"
    assert str(zone) in result.err
    assert re.search(r"no such file|not found|does not exist|cannot (open|read)", result.err, re.I)
    assert _listing(output.parent) == before


def test_every_problem_is_reported_in_one_run(tmp_path: Path, signwire: CliRunner) -> None:
    """An operator fixing a file wants all its errors at once, each with its line."""
    zone = tmp_path / "two-problems.zone"
    zone.write_text(
        "\n".join(_with("www IN CNAME ns1", "host.example.net. IN A 192.0.2.20")) + "\n"
    )
    out = tmp_path / "signed.zone"
    result = signwire("sign", zone, "--origin", ORIGIN, "--keys", tmp_path / "k", "-o", out)
    assert result.code == 1
    cited = {int(n) for n in re.findall(re.escape(str(zone)) + r":(\d+):", result.err)}
    assert {8} <= cited and cited & {6, 7}, result.err
    assert not out.exists()
