"""SIGKILL ``signwire sign --policy`` at random instants through a zone's life, and count damage.

A zone of a few thousand names walks its first signing, DS hand-off, ZSK rollovers (every 20 s
of policy time, tests/interop/fast_policy.toml) and a KSK rollover (started with ``key roll``).
Policy time moves 10 s a round. Each round:

1. the parent is emulated at once: every DS that ``key ds`` prints is reported seen, every DS
   that left the list is reported gone;
2. a ``sign --policy`` process is started and SIGKILLed after a random delay (a delay past the
   end of the run counts as no kill);
3. the state and the published file are checked: they agree, or the state names the finished
   file whose rename the kill prevented;
4. a clean run follows, and everything is checked again, strictly.

Counted over the whole walk, all of which must be zero: keys lost (a key in the state without
its files), serial regressions, serials published twice with different content, temporary
files left, unrecorded keys left in the key folder, state and published file disagreeing after
a clean run. The final zone must pass an outside verifier.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import dns.dnssec
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from conftest import CliRunner
from interop.verifiers import ldns_verify_zone
from signwire.storage.state import StateStore

pytestmark = pytest.mark.slow

ORIGIN = "example.test."
POLICY_FILE = Path(__file__).resolve().parents[1] / "interop" / "fast_policy.toml"
START = 1_790_000_000
STEP = 10  # policy seconds a round
NAMES = 2_000
KILLS = 100  # landed kills wanted
MAX_ROUNDS = 260
KSK_ROLL_ROUND = 30
SEED = 20261202


def _zone_text() -> str:
    lines = [f"$ORIGIN {ORIGIN}", "$TTL 3600", "@ SOA ns1 hostmaster 1 3600 900 604800 1800",
             "@ NS ns1", "ns1 A 192.0.2.1"]  # fmt: skip
    for i in range(NAMES):
        if i % 10 == 0:
            lines.append(f"d{i} NS ns1.d{i}")
            lines.append(f"ns1.d{i} A 198.51.100.{i % 250 + 1}")
        else:
            lines.append(f"h{i} A 192.0.2.{i % 250 + 1}")
    return "\n".join(lines) + "\n"


@dataclass
class Apex:
    serial: int
    tags: frozenset[int]
    digest: str


def read_apex(path: Path) -> Apex | None:
    """Serial and DNSKEY tags of a signed file (its apex comes first), and its digest."""
    if not path.exists():
        return None
    data = path.read_bytes()
    serial = None
    tags = set()
    for line in data.decode("latin-1").splitlines():
        if line.startswith(";"):
            continue
        fields = line.split("\t")
        if fields[0] != ORIGIN:
            break
        if fields[3] == "SOA":
            serial = int(fields[4].split()[2])
        elif fields[3] == "DNSKEY":
            rd = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DNSKEY, fields[4])
            tags.add(dns.dnssec.key_id(rd))  # type: ignore[arg-type]
    assert serial is not None, f"{path}: no SOA at the apex"
    return Apex(serial, frozenset(tags), hashlib.sha256(data).hexdigest())


@dataclass
class Tally:
    kills: int = 0
    runs_finished_before_kill: int = 0
    recovered_renames: int = 0
    damage: Counter[str] = field(default_factory=Counter)
    serials: dict[int, str] = field(default_factory=dict)
    highest: int = 0

    def saw(self, apex: Apex | None, when: str) -> None:
        if apex is None:
            return
        if apex.serial < self.highest:
            self.damage[f"serial regression ({when}: {apex.serial} < {self.highest})"] += 1
        self.highest = max(self.highest, apex.serial)
        known = self.serials.setdefault(apex.serial, apex.digest)
        if known != apex.digest:
            self.damage[f"serial {apex.serial} published twice with different content"] += 1


class Walk:
    def __init__(self, d: Path, signwire: CliRunner) -> None:
        self.d = d
        self.signwire = signwire
        self.keys = d / "state" / "keys" / "example.test"
        self.parent: set[int] = set()

    def args(self, now: int) -> list[str]:
        return ["sign", str(self.d / "z.zone"), "--origin", ORIGIN, "--policy", "fast",
                "--policy-file", str(POLICY_FILE), "--state", str(self.d / "state"),
                "-o", str(self.d / "z.signed"), "--now", str(now), "-q"]  # fmt: skip

    def state(self) -> tuple[int | None, set[int], list[str]]:
        """(serial, key tags, temp files of pending publications) as the state says."""
        path = self.d / "state" / "state.sqlite"
        if not path.exists():
            return None, set(), []
        with StateStore(self.d / "state", create=False) as s:
            row = s.zone(ORIGIN)
            tags = {k.tag for k in s.key_states(ORIGIN) if k.tag is not None}
            return (row.last_serial if row else None), tags, [p.temp for p in s.publications()]

    def key_files(self) -> set[int]:
        return {int(p.name.split("+")[2].split(".")[0]) for p in self.keys.glob("K*.private")}

    def check(self, tally: Tally, *, clean: bool, when: str) -> None:
        apex = read_apex(self.d / "z.signed")
        tally.saw(apex, when)
        serial, tags, pending = self.state()
        lost = tags - self.key_files()
        if lost:
            tally.damage[f"keys lost {sorted(lost)} ({when})"] += 1
        if not clean:
            disagree = serial is not None and (apex is None or apex.serial != serial)
            if disagree and not (pending and Path(pending[0]).exists()):
                tally.damage[f"state serial {serial} but file {apex} ({when})"] += 1
            return
        temps = list(self.d.glob(".z.signed.*.tmp"))
        if temps:
            tally.damage[f"temporary files left ({when})"] += 1
        unrecorded = self.key_files() - tags
        if unrecorded:
            tally.damage[f"unrecorded keys left {sorted(unrecorded)} ({when})"] += 1
        if apex is None or apex.serial != serial or pending or not apex.tags <= tags:
            tally.damage[f"state and file disagree ({when}: {apex}, {serial}, {tags})"] += 1

    def parent_follows(self, now: int) -> None:
        code, out, err = self.signwire("key", "ds", ORIGIN, "--state", self.d / "state")
        assert code == 0, err
        now_served = {int(line.split()[3]) for line in out.splitlines() if " DS " in line}
        for tag in sorted(now_served - self.parent):
            code, _, err = self.signwire(
                "key", "ds-seen", ORIGIN, str(tag), "--state", self.d / "state", "--now", str(now)
            )
            assert code == 0, err
        for tag in sorted(self.parent - now_served):
            code, _, err = self.signwire(
                "key", "ds-gone", ORIGIN, str(tag), "--state", self.d / "state", "--now", str(now)
            )
            assert code == 0, err
        self.parent = now_served


def test_sigkill_at_random_instants_loses_nothing(tmp_path: Path, signwire: CliRunner) -> None:
    (tmp_path / "z.zone").write_text(_zone_text())
    walk = Walk(tmp_path, signwire)
    rng = random.Random(SEED)
    tally = Tally()
    env = dict(os.environ)
    command = [sys.executable, "-m", "signwire"]

    # One timed run first (the first signing, not killed) to size the kill window.
    started = time.monotonic()
    first = subprocess.run([*command, *walk.args(START)], capture_output=True, text=True,
                           env=env, check=False)  # fmt: skip
    typical = time.monotonic() - started
    assert first.returncode == 0, first.stderr
    walk.check(tally, clean=True, when="first signing")

    events = Counter[str]()
    rounds = 0
    while tally.kills < KILLS and rounds < MAX_ROUNDS:
        rounds += 1
        now = START + rounds * STEP
        walk.parent_follows(now)
        if rounds == KSK_ROLL_ROUND:
            code, _, err = signwire("key", "roll", ORIGIN, "ksk", "--state", tmp_path / "state")
            assert code == 0, err
        proc = subprocess.Popen([*command, *walk.args(now)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=env)  # fmt: skip
        time.sleep(rng.uniform(0.0, typical * 1.1))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            tally.kills += 1
        else:
            tally.runs_finished_before_kill += 1
        _, err = proc.communicate(timeout=120)
        assert proc.returncode in (0, -signal.SIGKILL), err.decode(errors="replace")
        walk.check(tally, clean=False, when=f"after the kill in round {rounds}")

        code, _, err = signwire(*walk.args(now + 5)[:-1])
        assert code == 0, f"round {rounds}: {err}"
        tally.recovered_renames += err.count("published serial")
        for word in ("retiring", "not in the state", "never published"):
            events[word] += err.count(word)
        walk.check(tally, clean=True, when=f"after the clean run of round {rounds}")

    with StateStore(tmp_path / "state", create=False) as s:
        keys_made = len(s.recorded_keys(ORIGIN))
    report = (
        f"{keys_made} keys made and recorded, {tally.kills} kills in {rounds} rounds "
        f"(typical run {typical:.2f} s; "
        f"{tally.runs_finished_before_kill} runs ended before their kill), "
        f"{tally.recovered_renames} interrupted publications finished, "
        f"{len(tally.serials)} serials published, events {dict(events)}, "
        f"damage {dict(tally.damage) or 'none'}"
    )
    print(report)
    assert tally.kills >= KILLS, report
    assert not tally.damage, report
    # The walk went through rollovers (first KSK and ZSK, then at least three ZSKs and a KSK
    # more), or it proved little.
    assert keys_made >= 6, report
    # Signed at policy time, so checked at policy time (the signatures live a day).
    result = ldns_verify_zone(tmp_path / "z.signed", now=START + rounds * STEP + 5)
    assert result.ok, result
