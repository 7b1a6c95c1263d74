"""Zones signed by ldns-signzone (keys from ldns-keygen) through ``signwire verify``.

The clean zones, NSEC and NSEC3 (with and without opt-out), verify; a changed record, a removed
denial record, signatures made with past dates, an RRSIG added to glue and a wrong type bitmap
each make the command exit 1 with a message naming the owner and the problem.
"""

from __future__ import annotations

import argparse
import io
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import dns.name
import pytest
from test_verify_support import NOW, UNSIGNED, nsec3_digest, nsec3_label, same_contents

from interop.verifiers import missing_programs
from signwire.cli import verify_cmd
from signwire.verify.zone_reader import _read_with_dnspython, read_zone_text

pytestmark = [
    pytest.mark.interop,
    pytest.mark.requires(missing_programs("ldns-signzone", "ldns-keygen")),
]

Keys = tuple[Path, str, str]
Mutation = Callable[[list[str]], list[str]]
INCEPTION = "20251231230000"
EXPIRATION = "20260131000000"


def _ldns(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        list(args), cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def ldns_keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    where = tmp_path_factory.mktemp("ldns-keys")
    ksk = _ldns("ldns-keygen", "-a", "ECDSAP256SHA256", "-k", "example.test.", cwd=where)
    zsk = _ldns("ldns-keygen", "-a", "ECDSAP256SHA256", "example.test.", cwd=where)
    (where / "example.test.zone").write_text(UNSIGNED)
    return where, ksk, zsk


def _sign(
    ldns_keys: Keys,
    out: Path,
    *extra: str,
    inception: str = INCEPTION,
    expiration: str = EXPIRATION,
) -> list[str]:
    where, ksk, zsk = ldns_keys
    _ldns(
        "ldns-signzone",
        *extra,
        "-i",
        inception,
        "-e",
        expiration,
        "-o",
        "example.test.",
        "-f",
        str(out),
        "example.test.zone",
        ksk,
        zsk,
        cwd=where,
    )
    return out.read_text().splitlines()


def _verify(path: Path, *extra: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="signwire")
    verify_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["verify", str(path), "--origin", "example.test.", *extra])
    out, err = io.StringIO(), io.StringIO()
    code = verify_cmd.run(args, now=NOW, out=out, err=err)
    assert err.getvalue() == ""
    return code, out.getvalue()


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def _fields(line: str) -> list[str]:
    return line.split()


def _is(line: str, owner: str, rdtype: str, covered: str | None = None) -> bool:
    f = _fields(line)
    if len(f) < 5 or f[0].lower() != owner.lower() or f[3] != rdtype:
        return False
    return covered is None or f[4] == covered


def _www_nsec3(iterations: int = 0) -> str:
    digest = nsec3_digest(dns.name.from_text("www.example.test."), iterations)
    return nsec3_label(digest).decode() + ".example.test."


NSEC3 = ("-n", "-t", "0")


@pytest.mark.parametrize(
    ("extra", "denial"),
    [((), "NSEC"), (NSEC3, "NSEC3"), ((*NSEC3, "-p"), "NSEC3")],
    ids=["nsec", "nsec3", "nsec3-opt-out"],
)
def test_clean_ldns_zones_verify(
    ldns_keys: Keys, tmp_path: Path, extra: tuple[str, ...], denial: str
) -> None:
    lines = _sign(ldns_keys, tmp_path / "signed", *extra)
    code, out = _verify(_write(tmp_path / "signed", lines))
    assert code == 0, out
    assert "error:" not in out
    assert f" {denial} records checked" in out


def test_ldns_nsec3_with_iterations_and_salt_warns(ldns_keys: Keys, tmp_path: Path) -> None:
    lines = _sign(ldns_keys, tmp_path / "signed", "-n", "-t", "5", "-s", "abcd")
    code, out = _verify(_write(tmp_path / "signed", lines))
    assert code == 0, out
    assert "warning: example.test. NSEC3PARAM: 5 additional hash iterations; RFC 9276" in out
    assert "warning: example.test. NSEC3PARAM: a salt is set" in out


def test_anchor_from_ldns_ds_file(ldns_keys: Keys, tmp_path: Path) -> None:
    where, ksk, zsk = ldns_keys
    lines = _sign(ldns_keys, tmp_path / "signed", *NSEC3)
    path = _write(tmp_path / "signed", lines)
    assert _verify(path, "--anchor", str(where / f"{ksk}.ds"))[0] == 0
    assert _verify(path, "--anchor", str(where / f"{ksk}.key"))[0] == 0
    code, out = _verify(path, "--anchor", str(where / f"{zsk}.key"))
    assert code == 1
    assert "no valid RRSIG by a key matching the trust anchors" in out


def _change_www_address(lines: list[str]) -> list[str]:
    return [
        line.replace("192.0.2.4", "192.0.2.99") if _is(line, "www.example.test.", "A") else line
        for line in lines
    ]


def _drop_www_denial(lines: list[str]) -> list[str]:
    owners = {"www.example.test.", _www_nsec3()}
    return [
        line
        for line in lines
        if not (
            _fields(line)[:1]
            and _fields(line)[0].lower() in owners
            and (
                _fields(line)[3] in ("NSEC", "NSEC3") or _fields(line)[4:5] in (["NSEC"], ["NSEC3"])
            )
        )
    ]


def _sign_glue(lines: list[str]) -> list[str]:
    # an RRSIG made for ns1's A, put on the glue ns.sub: signed glue, whatever its bits
    sig = next(line for line in lines if _is(line, "ns1.example.test.", "RRSIG", "A"))
    return [*lines, sig.replace("ns1.example.test.", "ns.sub.example.test.", 1)]


def _drop_aaaa_from_bitmap(lines: list[str]) -> list[str]:
    owners = {"www.example.test.", _www_nsec3()}
    out = []
    for line in lines:
        f = _fields(line)
        if f[:1] and f[0].lower() in owners and f[3] in ("NSEC", "NSEC3"):
            line = re.sub(r"\sAAAA\b", "", line)
        out.append(line)
    return out


MUTATIONS: list[tuple[str, Mutation, str, str]] = [
    ("changed-record", _change_www_address, "error: www.example.test. A:", "does not verify"),
    ("removed-denial", _drop_www_denial, "error: www.example.test. NSEC", "no NSEC"),
    ("signed-glue", _sign_glue, "error: ns.sub.example.test. A:", "must not be signed"),
    ("wrong-bitmap", _drop_aaaa_from_bitmap, "error: www.example.test. NSEC", "missing AAAA"),
]


@pytest.mark.parametrize(("extra"), [(), NSEC3], ids=["nsec", "nsec3"])
@pytest.mark.parametrize(
    ("mutate", "where", "what"),
    [pytest.param(m, w, x, id=name) for name, m, w, x in MUTATIONS],
)
def test_mutated_ldns_zones_fail(
    ldns_keys: Keys,
    tmp_path: Path,
    extra: tuple[str, ...],
    mutate: Mutation,
    where: str,
    what: str,
) -> None:
    lines = _sign(ldns_keys, tmp_path / "signed", *extra)
    mutated = mutate(lines)
    assert mutated != lines
    code, out = _verify(_write(tmp_path / "mutated", mutated))
    assert code == 1, out
    assert any(line.startswith(where) and what in line for line in out.splitlines()), out


@pytest.mark.parametrize(("extra"), [(), NSEC3], ids=["nsec", "nsec3"])
def test_ldns_zone_signed_with_past_dates_fails(
    ldns_keys: Keys, tmp_path: Path, extra: tuple[str, ...]
) -> None:
    lines = _sign(
        ldns_keys, tmp_path / "old", *extra, inception="20251101000000", expiration="20251201000000"
    )
    code, out = _verify(_write(tmp_path / "old", lines))
    assert code == 1
    assert re.search(r"^error: www\.example\.test\. A: RRSIG A .*expired at 2025-12-01", out, re.M)
    assert re.search(r"^error: example\.test\. DNSKEY: RRSIG DNSKEY .*expired", out, re.M)


@pytest.mark.parametrize(("extra"), [(), NSEC3], ids=["nsec", "nsec3"])
def test_fast_reader_agrees_with_dnspython_on_ldns_output(
    ldns_keys: Keys, tmp_path: Path, extra: tuple[str, ...]
) -> None:
    text = "\n".join(_sign(ldns_keys, tmp_path / "signed", *extra)) + "\n"
    origin = dns.name.from_text("example.test.")
    same_contents(read_zone_text(text, origin), _read_with_dnspython(text, origin, "<text>"))
