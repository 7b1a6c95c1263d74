"""The verifier harness itself: each outside verifier accepts good zones and rejects broken ones.

A green interop test means something only if the tool would have gone red on a bad zone. The
zones here are made by ldns (``ldns-keygen`` + ``ldns-signzone``), not by signwire, so this file
tests the harness and the flags it passes, independently of the signer under test.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import dns.name
import pytest

from interop.verifiers import (
    VerifierResult,
    dnssec_verify,
    kzonecheck,
    kzonecheck_complaints,
    ldns_verify_zone,
    rejections,
    require_program,
)

pytestmark = pytest.mark.interop

ORIGIN = "example.test."
DAY = 86400

ZONE = """\
$ORIGIN example.test.
$TTL 3600
@        IN SOA ns1 hostmaster 2026010101 7200 3600 1209600 300
@        NS    ns1
@        NS    ns2.example.net.
@        MX    10 mail
ns1      A     192.0.2.1
mail     A     192.0.2.2
www      A     192.0.2.10
WWW      AAAA  2001:db8::10
*.wild   TXT   "wildcard"
a.b.c    A     192.0.2.11
sub      NS    ns.sub
ns.sub   A     192.0.2.53
sub      DS    12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
insecure NS    ns.example.net.
a\\.b     TXT   "escaped dot"
"""

DNAME_EXTRA = """\
dn       DNAME target.example.net.
x.dn     A     192.0.2.77
"""

Verifier = Callable[[Path], VerifierResult]

VERIFIERS: dict[str, Verifier] = {
    "ldns-verify-zone": ldns_verify_zone,
    "dnssec-verify": lambda p: dnssec_verify(p, ORIGIN),
    "kzonecheck": lambda p: kzonecheck(p, ORIGIN),
}


def _stamp(epoch: int) -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(epoch))


class Lab:
    """ldns keys and zones in one folder, made on demand and kept for the module."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        keygen = require_program("ldns-keygen")
        self.signzone = require_program("ldns-signzone")
        self.keys = [
            self._run([keygen, "-a", "ECDSAP256SHA256", "-k", ORIGIN]).strip(),
            self._run([keygen, "-a", "ECDSAP256SHA256", ORIGIN]).strip(),
        ]
        self._cache: dict[str, Path] = {}

    def _run(self, argv: list[str]) -> str:
        proc = subprocess.run(
            argv, cwd=self.folder, capture_output=True, text=True, timeout=120, check=False
        )
        assert proc.returncode == 0, f"{argv}: {proc.stderr}"
        return proc.stdout

    def signed(
        self,
        name: str,
        *,
        flags: tuple[str, ...] = (),
        extra: str = "",
        inception: int | None = None,
        expiration: int | None = None,
    ) -> Path:
        if name in self._cache:
            return self._cache[name]
        now = int(time.time())
        unsigned = self.folder / f"{name}.in"
        unsigned.write_text(ZONE + extra)
        out = self.folder / f"{name}.signed"
        self._run(
            [
                self.signzone,
                *flags,
                "-i",
                _stamp(inception if inception is not None else now - 3600),
                "-e",
                _stamp(expiration if expiration is not None else now + 30 * DAY),
                "-o",
                ORIGIN,
                "-f",
                str(out),
                str(unsigned),
                *self.keys,
            ]
        )
        self._cache[name] = out
        return out

    def edited(self, source: Path, name: str, edit: Callable[[list[str]], list[str]]) -> Path:
        lines = source.read_text().splitlines()
        changed = edit(lines)
        assert changed != lines, f"the edit {name} changed nothing"
        out = self.folder / f"{name}.signed"
        out.write_text("\n".join(changed) + "\n")
        return out


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    return Lab(tmp_path_factory.mktemp("verifier-lab"))


def _fields(line: str) -> list[str]:
    return line.split()


def _is(line: str, owner: str, rrtype: str) -> bool:
    f = _fields(line)
    return len(f) >= 4 and f[0].lower() == owner.lower() and f[3] == rrtype


def _change_data(lines: list[str]) -> list[str]:
    return [
        line.replace("192.0.2.10", "192.0.2.99") if _is(line, "www.example.test.", "A") else line
        for line in lines
    ]


def _drop_first(rrtype: str) -> Callable[[list[str]], list[str]]:
    """Remove the first record of ``rrtype`` that is not at the apex (a link inside the chain)."""

    def edit(lines: list[str]) -> list[str]:
        for i, line in enumerate(lines):
            f = _fields(line)
            if len(f) > 4 and f[3] == rrtype and f[0].lower() != ORIGIN:
                return lines[:i] + lines[i + 1 :]
        return lines

    return edit


def _drop_signature(owner: str, covered: str) -> Callable[[list[str]], list[str]]:
    def edit(lines: list[str]) -> list[str]:
        return [
            line
            for line in lines
            if not (_is(line, owner, "RRSIG") and _fields(line)[4] == covered)
        ]

    return edit


def _strip_dnssec(lines: list[str]) -> list[str]:
    dnssec = {"RRSIG", "NSEC", "NSEC3", "NSEC3PARAM", "DNSKEY"}
    return [line for line in lines if len(_fields(line)) < 4 or _fields(line)[3] not in dnssec]


def _swap_key_tag(lines: list[str]) -> list[str]:
    """Claim an RRSIG was made by a key the zone does not publish."""
    out = list(lines)
    for i, line in enumerate(out):
        if _is(line, "www.example.test.", "RRSIG"):
            f = _fields(line)
            f[10] = str((int(f[10]) + 1) % 65536)
            out[i] = "\t".join(f)
            break
    return out


# name -> (denial flags of the source zone, edit)
BROKEN: dict[str, tuple[tuple[str, ...], Callable[[list[str]], list[str]]]] = {
    "changed-record": ((), _change_data),
    "removed-nsec": ((), _drop_first("NSEC")),
    "removed-nsec3": (("-n",), _drop_first("NSEC3")),
    "removed-rrsig": ((), _drop_signature("www.example.test.", "A")),
    "removed-dnskey-rrsig": ((), _drop_signature(ORIGIN, "DNSKEY")),
    "unknown-signing-key": ((), _swap_key_tag),
    "unsigned": ((), _strip_dnssec),
}

GOOD = {
    "nsec": (),
    "nsec3": ("-n",),
    "nsec3-optout": ("-n", "-p"),
    "nsec3-salted": ("-n", "-t", "5", "-s", "ab12"),
}


@pytest.mark.parametrize("tool", sorted(VERIFIERS))
@pytest.mark.parametrize("mode", sorted(GOOD))
def test_accepts_a_good_zone(lab: Lab, mode: str, tool: str) -> None:
    result = VERIFIERS[tool](lab.signed(f"good-{mode}", flags=GOOD[mode]))
    assert result.ok, result.describe()


@pytest.mark.parametrize("tool", sorted(VERIFIERS))
@pytest.mark.parametrize("breakage", sorted(BROKEN))
def test_rejects_a_broken_zone(lab: Lab, breakage: str, tool: str) -> None:
    flags, edit = BROKEN[breakage]
    source = lab.signed("good-" + ("nsec3" if flags else "nsec"), flags=flags)
    broken = lab.edited(source, breakage, edit)
    result = VERIFIERS[tool](broken)
    assert not result.ok, f"{tool} accepted a zone with {breakage}:\n{result.describe()}"


@pytest.mark.parametrize("tool", sorted(VERIFIERS))
def test_rejects_expired_signatures(lab: Lab, tool: str) -> None:
    now = int(time.time())
    zone = lab.signed("expired", inception=now - 60 * DAY, expiration=now - 30 * DAY)
    result = VERIFIERS[tool](zone)
    assert not result.ok, result.describe()


@pytest.mark.parametrize("tool", sorted(VERIFIERS))
def test_rejects_signatures_not_yet_valid(lab: Lab, tool: str) -> None:
    now = int(time.time())
    zone = lab.signed("future", inception=now + 10 * DAY, expiration=now + 40 * DAY)
    result = VERIFIERS[tool](zone)
    assert not result.ok, result.describe()


def test_validation_time_is_passed_to_ldns_and_knot(lab: Lab) -> None:
    """The ``now`` argument really moves the tools' clocks (both ways)."""
    now = int(time.time())
    zone = lab.signed("future", inception=now + 10 * DAY, expiration=now + 40 * DAY)
    inside = now + 20 * DAY
    assert ldns_verify_zone(zone, now=inside).ok
    assert kzonecheck(zone, ORIGIN, now=inside).ok
    good = lab.signed("good-nsec")
    after = now + 60 * DAY
    assert not ldns_verify_zone(good, now=after).ok
    assert not kzonecheck(good, ORIGIN, now=after).ok


def test_origin_is_passed_to_bind_and_knot(lab: Lab) -> None:
    """Both take the origin from ``-o`` (else from the file name): a wrong one must fail."""
    zone = lab.signed("good-nsec")
    assert dnssec_verify(zone, ORIGIN).ok
    assert kzonecheck(zone, ORIGIN).ok
    assert not dnssec_verify(zone, "wrong.test.").ok
    assert not kzonecheck(zone, "wrong.test.").ok


def test_occluded_data_below_a_dname(lab: Lab) -> None:
    """ldns and BIND accept unsigned data below a DNAME; Knot objects to it and nothing else."""
    zone = lab.signed("dname", extra=DNAME_EXTRA)
    assert ldns_verify_zone(zone).ok, rejections([ldns_verify_zone(zone)])
    assert dnssec_verify(zone, ORIGIN).ok, rejections([dnssec_verify(zone, ORIGIN)])
    knot = kzonecheck(zone, ORIGIN)
    assert not knot.ok
    complaints = kzonecheck_complaints(knot)
    assert complaints, knot.output
    dname = dns.name.from_text("dn." + ORIGIN)
    for owner, _problem in complaints:
        assert dns.name.from_text(owner).is_subdomain(dname), knot.output
