"""``signwire sign`` options: legal values are honoured as given, unusable ones are usage errors.

A value of 0 is a value: ``--dnskey-ttl 0`` is a legal TTL (RFC 2181 §8) and must reach the
DNSKEY RRset, and ``--validity 0`` is a signature that is never valid, refused rather than
silently read as the 14-day default. RRSIG times are 32-bit serial numbers (RFC 4034 §3.1.5):
a validity plus inception offset of 2^31 s or more would wrap, and so would signing at a time
whose expiration passes 2106; both are refused with exit 2 and a message, never a traceback.
"""

from __future__ import annotations

import calendar
import time
from pathlib import Path

import pytest

from conftest import FIXED_NOW, CliRunner

ORIGIN = "example.test."
ZONE = """\
$ORIGIN example.test.
$TTL 3600
@ IN SOA ns1 hostmaster 2026010101 7200 3600 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.1
www IN A 192.0.2.10
"""
LIMIT = 2**31 - 1  # the longest span between inception and expiration


@pytest.fixture
def zone(tmp_path: Path) -> Path:
    path = tmp_path / "z.zone"
    path.write_text(ZONE)
    return path


def _sign(signwire: CliRunner, zone: Path, *options: str) -> tuple[int, str, Path]:
    out = zone.parent / "z.signed"
    result = signwire(
        "sign", zone, "--origin", ORIGIN, "--keys", zone.parent / "keys", "-o", out,
        "--now", str(FIXED_NOW), *options,
    )  # fmt: skip
    assert "Traceback" not in result.err
    return result.code, result.err, out


def _rows(path: Path, rdtype: str) -> list[list[str]]:
    rows = [line.split("\t") for line in path.read_text().splitlines() if "\t" in line]
    return [r for r in rows if len(r) == 5 and r[3] == rdtype]


def _sig_times(path: Path) -> list[tuple[int, int]]:
    """(inception, expiration) of every RRSIG, in epoch seconds."""

    def epoch(text: str) -> int:
        return calendar.timegm(time.strptime(text, "%Y%m%d%H%M%S"))

    return [(epoch(r[4].split()[5]), epoch(r[4].split()[4])) for r in _rows(path, "RRSIG")]


def _verifies(signwire: CliRunner, path: Path, now: int = FIXED_NOW) -> None:
    result = signwire("verify", path, "--origin", ORIGIN, "--now", str(now))
    assert result.code == 0, result.out + result.err


def test_dnskey_ttl_zero_is_honoured(signwire: CliRunner, zone: Path) -> None:
    code, err, out = _sign(signwire, zone, "--dnskey-ttl", "0")
    assert code == 0, err
    dnskeys = _rows(out, "DNSKEY")
    assert dnskeys and {r[1] for r in dnskeys} == {"0"}
    # and the RRSIG over them says the same original TTL
    assert {r[4].split()[3] for r in _rows(out, "RRSIG") if r[4].startswith("DNSKEY")} == {"0"}
    _verifies(signwire, out)


def test_dnskey_ttl_zero_overrides_the_inputs(signwire: CliRunner, zone: Path) -> None:
    key = "@ 600 IN DNSKEY 257 3 13 " + "A" * 86 + "=="
    zone.write_text(ZONE + key + "\n")
    code, err, out = _sign(signwire, zone, "--dnskey-ttl", "0", "--strip-dnssec")
    assert code == 0, err
    assert {r[1] for r in _rows(out, "DNSKEY")} == {"0"}


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--validity", "0", "validity must be positive"),
        ("--validity", "0s", "validity must be positive"),
        ("--validity", "30000d", "below 2^31 seconds"),
        ("--validity", str(LIMIT), "below 2^31 seconds"),  # plus the default offset of 1h
        ("--validity", "100y", "below 2^31 seconds"),
        ("--inception-offset", str(LIMIT), "below 2^31 seconds"),
        ("--jitter", "14d", "jitter"),
        ("--dnskey-ttl", str(2**31), "DNSKEY TTL"),
        ("--iterations", "-1", "iterations"),
        ("--iterations", "65536", "iterations"),
        ("--jobs", "0", "--jobs"),
        ("--jobs", "-3", "--jobs"),
    ],
)
def test_unusable_values_are_usage_errors(
    signwire: CliRunner, zone: Path, option: str, value: str, message: str
) -> None:
    extra = ("--nsec3",) if option == "--iterations" else ()
    code, err, out = _sign(signwire, zone, option, value, *extra)
    assert code == 2, f"exit {code}\n{err}"
    assert message in err
    assert not out.exists()
    assert not (zone.parent / "keys").exists(), "keys were made for a run that could not sign"


def test_longest_span_is_accepted_and_verifies(signwire: CliRunner, zone: Path) -> None:
    validity = LIMIT - 3600  # with the default inception offset of 1 h: exactly 2^31 - 1
    code, err, out = _sign(signwire, zone, "--validity", str(validity), "--jitter", "0")
    assert code == 0, err
    spans = {exp - inc for inc, exp in _sig_times(out)}
    assert max(spans) == LIMIT
    _verifies(signwire, out)


def test_one_second_validity_is_legal(signwire: CliRunner, zone: Path) -> None:
    code, err, out = _sign(signwire, zone, "--validity", "1", "--inception-offset", "0")
    assert code == 0, err
    assert {exp - inc for inc, exp in _sig_times(out)} == {1}
    _verifies(signwire, out)


def test_zero_inception_offset_and_jitter_are_honoured(signwire: CliRunner, zone: Path) -> None:
    code, err, out = _sign(
        signwire, zone, "--validity", "1d", "--inception-offset", "0", "--jitter", "0"
    )
    assert code == 0, err
    assert set(_sig_times(out)) == {(FIXED_NOW, FIXED_NOW + 86400)}


@pytest.mark.parametrize("now", [2**32 - 86400, 2**32 + 5])
def test_expiration_past_32_bit_time_is_a_usage_error(
    signwire: CliRunner, zone: Path, now: int
) -> None:
    out = zone.parent / "z.signed"
    result = signwire(
        "sign", zone, "--origin", ORIGIN, "--keys", zone.parent / "keys", "-o", out,
        "--now", str(now),
    )  # fmt: skip
    assert result.code == 2, f"exit {result.code}\n{result.err}"
    assert "32-bit time" in result.err
    assert not out.exists()


def test_inception_before_1970_is_a_usage_error(signwire: CliRunner, zone: Path) -> None:
    out = zone.parent / "z.signed"
    result = signwire(
        "sign", zone, "--origin", ORIGIN, "--keys", zone.parent / "keys", "-o", out,
        "--now", "60", "--inception-offset", "1h",
    )  # fmt: skip
    assert result.code == 2, result.err
    assert "32-bit time" in result.err


def test_nsec3_iterations_and_salt_given_as_zero_and_empty(signwire: CliRunner, zone: Path) -> None:
    code, err, out = _sign(signwire, zone, "--nsec3", "--iterations", "0", "--salt", "-")
    assert code == 0, err
    assert [r[4] for r in _rows(out, "NSEC3PARAM")] == ["1 0 0 -"]
    _verifies(signwire, out)
