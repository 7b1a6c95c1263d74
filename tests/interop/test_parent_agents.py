"""Parental agents for real: knotd instances on loopback serve the parent zone ``test.``.

Two agents on two 127.x addresses serve different versions of ``test.`` (one holds DS records the
other does not yet have), a third address has nothing listening, and signwire's
:func:`~signwire.parent.query.check_parent` asks them over the network exactly as
``signwire key check-ds`` does. The cases: DS on every agent (seen), on none (gone, by NODATA
and by NXDOMAIN), on one only (undecided), an agent down (undecided), a DS RRset too big for UDP
(asked again over TCP), a DS TTL above the policy's, a server that only serves the child zone or
does not serve the zone at all, and a parent that publishes and then withdraws a DS while we
watch (reloads of the running server).

Every server is started in a fixture and stopped at teardown by the process id of the child the
fixture started (killed if it ignores SIGTERM); waits are bounded polls of the port.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rdatatype
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from interop.live_dns import free_port
from interop.verifiers import find_program, missing_programs
from signwire.keys.plan import DsGone, DsSeen
from signwire.parent.agents import Answer, Observation, QueryError, ds_text, expected_ds
from signwire.parent.query import ask_agents, check_parent, describe
from signwire.policy.model import ParentalAgent

KNOTD = find_program("knotd")
KNOTC = find_program("knotc")
pytestmark = [
    pytest.mark.interop,
    pytest.mark.requires(missing_programs("knotd", "knotc")),
]

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
QUERY_TIMEOUT = 1.0
# A /24 of loopback of our own per process, so parallel runs (xdist, other suites) do not collide.
NET = f"127.{53 + os.getpid() % 150}.{os.getpid() // 150 % 250 + 1}"


def make_dnskey(seed: int) -> bytes:
    """A real ECDSA P-256 KSK's DNSKEY RDATA (the key itself is thrown away)."""
    key = ec.derive_private_key(seed + 1, ec.SECP256R1())
    return dns.dnssec.make_dnskey(key.public_key(), 13, flags=257).to_digestable()


def ds_for(zone: str, seed: int, digests: Sequence[int] = (2,)) -> tuple[bytes, ...]:
    return expected_ds(zone, make_dnskey(seed), digests)


OLD = ds_for("example.test.", 1)
NEW = ds_for("example.test.", 2)
OTHER = ds_for("other.test.", 3)
BIG = [ds_for("big.test.", 100 + i, (4,))[0] for i in range(24)]  # ~2.4 kB: over 1232
TTLDS = ds_for("ttl.test.", 4)


def parent_zone(serial: int, children: dict[str, Sequence[tuple[int, bytes]]]) -> str:
    """The zone ``test.``: one delegation per child, with its DS records (TTL, RDATA)."""
    lines = [
        "$ORIGIN test.",
        "$TTL 300",
        f"@ SOA ns.test. hostmaster.test. {serial} 3600 600 86400 60",
        "@ NS ns.test.",
        "ns A 192.0.2.53",
    ]
    for child, ds in children.items():
        lines.append(f"{child} NS ns.{child}")
        lines.append(f"ns.{child} A 192.0.2.54")
        lines.extend(f"{child} {ttl} DS {ds_text(rd)}" for ttl, rd in ds)
    return "\n".join(lines) + "\n"


def with_ttl(ttl: int, records: Sequence[bytes]) -> list[tuple[int, bytes]]:
    return [(ttl, rd) for rd in records]


class KnotAgent:
    """One knotd in the foreground on ``address:port`` serving zone files from its folder."""

    def __init__(self, address: str, zones: dict[str, str]) -> None:
        # The control socket path must fit in sockaddr_un (107 bytes): a short folder in /tmp.
        self.dir = Path(tempfile.mkdtemp(prefix="sw-pa-"))
        self.address = address
        self.port = free_port(address)
        self.agent = ParentalAgent(address, self.port)
        self.conf = self.dir / "knot.conf"
        self.log = self.dir / "knotd.log"
        self.proc: subprocess.Popen[bytes] | None = None
        for origin, text in zones.items():
            self.write_zone(origin, text)
        user = f"{pwd.getpwuid(os.getuid()).pw_name}:{grp.getgrgid(os.getgid()).gr_name}"
        zone_list = "".join(f"  - domain: {origin}\n" for origin in zones)
        self.conf.write_text(
            f"server:\n"
            f'  rundir: "{self.dir}"\n'
            f"  listen: [{address}@{self.port}]\n"
            f"  user: {user}\n"
            f"database:\n"
            f'  storage: "{self.dir}/db"\n'
            f"log:\n"
            f"  - target: stderr\n"
            f"    any: info\n"
            f"template:\n"
            f"  - id: default\n"
            f'    storage: "{self.dir}"\n'
            f'    file: "%s.zone"\n'
            f"    zonefile-sync: -1\n"
            f"    journal-content: none\n"
            f"zone:\n{zone_list}"
        )
        self.first_zone = next(iter(zones))

    def write_zone(self, origin: str, text: str) -> None:
        (self.dir / f"{origin.rstrip('.')}.zone").write_text(text)

    def start(self) -> None:
        assert KNOTD is not None
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [KNOTD, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT
        query = dns.message.make_query(self.first_zone, dns.rdatatype.SOA)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"knotd exited with {self.proc.returncode}:\n{self.logs()}")
            with contextlib.suppress(dns.exception.Timeout, OSError):
                reply = dns.query.udp(query, self.address, timeout=0.2, port=self.port)
                if reply.flags & dns.flags.AA:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"knotd did not answer within {START_TIMEOUT} s:\n{self.logs()}")

    def reload(self, origin: str, text: str) -> None:
        """Put a new version of the zone in place and wait until knotd has loaded it."""
        assert KNOTC is not None
        self.write_zone(origin, text)
        done = subprocess.run(
            [KNOTC, "-c", str(self.conf), "-b", "zone-reload", origin],
            capture_output=True,
            text=True,
            timeout=STOP_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)
        shutil.rmtree(self.dir, ignore_errors=True)

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextlib.contextmanager
def running(*agents: KnotAgent) -> Iterator[None]:
    try:
        for agent in agents:
            agent.start()
        yield
    finally:
        for agent in agents:
            agent.stop()


# Agent 1 has the parent's newest version: other.test. got its DS there, agent 2 lags behind.
VERSION_1 = parent_zone(
    2,
    {
        "example": with_ttl(3600, [*OLD, *NEW]),
        "other": with_ttl(3600, OTHER),
        "nods": [],
        "big": with_ttl(3600, BIG),
        "ttl": with_ttl(86400, TTLDS),
    },
)
VERSION_2 = parent_zone(
    1,
    {
        "example": with_ttl(3600, [*OLD, *NEW]),
        "other": [],
        "nods": [],
        "big": with_ttl(3600, BIG),
        "ttl": with_ttl(86400, TTLDS),
    },
)
CHILD_ONLY = """$ORIGIN child.other.
$TTL 300
@ SOA ns.child.other. hostmaster.child.other. 1 3600 600 86400 60
@ NS ns.child.other.
ns A 192.0.2.55
"""


@pytest.fixture(scope="module")
def agents() -> Iterator[tuple[ParentalAgent, ParentalAgent, ParentalAgent]]:
    one = KnotAgent(f"{NET}.1", {"test.": VERSION_1})
    # Agent 2 also serves a zone whose parent it does not serve, for the misconfiguration case.
    two = KnotAgent(f"{NET}.2", {"test.": VERSION_2, "child.other.": CHILD_ONLY})
    down = ParentalAgent(f"{NET}.3", free_port(f"{NET}.3"))  # nothing listens there
    with running(one, two):
        yield one.agent, two.agent, down


def check(
    zone: str,
    expected: dict[str, Sequence[bytes]],
    agents: Sequence[ParentalAgent],
    parent_ds_ttl: int | None = None,
) -> Observation:
    return check_parent(
        zone, expected, agents, parent_ds_ttl=parent_ds_ttl, timeout=QUERY_TIMEOUT, tries=1
    )


def test_seen_when_every_agent_serves_the_ds(agents):
    one, two, _ = agents
    obs = check("example.test.", {"old": OLD, "new": NEW}, [one, two], parent_ds_ttl=3600)
    assert obs.seen == {"old", "new"}
    assert obs.gone == set()
    assert obs.unanimous
    assert obs.problems == ()
    assert obs.ds_ttl == 3600
    assert obs.events() == [DsSeen("new"), DsSeen("old")]


def test_gone_when_no_agent_serves_it(agents):
    one, two, _ = agents
    nods = check("nods.test.", {"k": ds_for("nods.test.", 5)}, [one, two])  # NODATA
    assert (nods.seen, nods.gone, nods.problems) == (set(), {"k"}, ())
    nothing = check("nosuch.test.", {"k": ds_for("nosuch.test.", 6)}, [one, two])  # NXDOMAIN
    assert (nothing.seen, nothing.gone, nothing.problems) == (set(), {"k"}, ())
    assert nothing.events() == [DsGone("k")]


def test_an_agent_lagging_behind_leaves_the_key_undecided(agents):
    one, two, _ = agents
    obs = check("other.test.", {"other": OTHER}, [one, two])
    assert obs.seen == set() and obs.gone == set()
    assert not obs.unanimous
    (line,) = obs.problems
    assert f"DS at {one.address}:{one.port}, not at {two.address}:{two.port}" in line


def test_an_agent_that_is_down_leaves_every_key_undecided(agents):
    one, two, down = agents
    obs = check("example.test.", {"old": OLD, "new": NEW}, [one, two, down])
    assert obs.seen == set() and obs.gone == set()
    assert not obs.unanimous
    (line,) = obs.problems
    assert line.startswith(f"parental agent {down.address}:{down.port}: no usable answer (")
    assert "connection refused" in line or "no answer within" in line


def test_a_ds_rrset_too_big_for_udp_is_fetched_over_tcp(agents):
    one, two, _ = agents
    answers = asyncio.run(ask_agents("big.test.", [one, two], timeout=QUERY_TIMEOUT, tries=1))
    for result in answers.values():
        assert isinstance(result, Answer)
        assert result.tcp
        assert len(result.response.answer[0]) == len(BIG)
    assert all("over TCP" in line for line in describe(answers))
    obs = check("big.test.", {"k": [BIG[7]]}, [one, two])
    assert obs.seen == {"k"}
    assert len(obs.unknown_ds) == len(BIG) - 1  # the other 23 belong to no key we know


def test_a_longer_ds_ttl_at_the_parent_is_reported(agents):
    one, two, _ = agents
    obs = check("ttl.test.", {"k": TTLDS}, [one, two], parent_ds_ttl=3600)
    assert obs.seen == {"k"}
    assert obs.ds_ttl == 86400
    assert obs.problems[0].startswith("parent serves DS TTL 86400, policy assumes 3600")


def test_servers_of_the_wrong_zone_are_not_believed(agents):
    one, two, _ = agents
    expected = {"k": ds_for("child.other.", 7)}
    child_side = check("child.other.", expected, [two])  # NODATA from the child zone itself
    assert child_side.gone == set()
    assert "from zone child.other., not from a parent" in child_side.problems[0]
    elsewhere = check("child.other.", expected, [one])  # serves neither
    assert elsewhere.gone == set()
    assert "answered REFUSED" in elsewhere.problems[0]


def test_a_parent_publishing_then_withdrawing_the_ds():
    base: dict[str, Sequence[tuple[int, bytes]]] = {"nods": []}
    one = KnotAgent(f"{NET}.4", {"test.": parent_zone(1, {**base, "example": []})})
    two = KnotAgent(f"{NET}.5", {"test.": parent_zone(1, {**base, "example": []})})
    expected = {"new": NEW}
    with running(one, two):
        pair = [one.agent, two.agent]
        assert check("example.test.", expected, pair).gone == {"new"}
        one.reload("test.", parent_zone(2, {**base, "example": with_ttl(60, NEW)}))
        halfway = check("example.test.", expected, pair)
        assert (halfway.seen, halfway.gone) == (set(), set())  # agent two still lags
        two.reload("test.", parent_zone(2, {**base, "example": with_ttl(60, NEW)}))
        published = check("example.test.", expected, pair, parent_ds_ttl=3600)
        assert published.events() == [DsSeen("new")]
        assert published.ds_ttl == 60
        for agent in (one, two):
            agent.reload("test.", parent_zone(3, {**base, "example": []}))
        assert check("example.test.", expected, pair).events() == [DsGone("new")]


def test_timeouts_are_reported_per_try(agents):
    # A UDP port that swallows datagrams: a bound socket that never answers.
    _, _, down = agents
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind((down.address, 0))
        mute = ParentalAgent(down.address, int(silent.getsockname()[1]))
        answers = asyncio.run(ask_agents("example.test.", [mute], timeout=0.2, tries=2))
    result = answers[mute]
    assert isinstance(result, QueryError)
    assert result.reason == "no answer within 0.2 s (2 tries)"


def test_a_ds_at_the_agents_is_evidence_the_zone_was_signed_before(agents, tmp_path):
    """A zone the state does not know, whose parent serves a DS for it: starting it afresh
    would break the chain of trust, so sign --policy must refuse (the state may be lost)."""
    import dataclasses

    from signwire.keystore.file_store import FileKeyStore
    from signwire.pipeline.key_step import signed_before
    from signwire.policy.parse import default_policy
    from signwire.zones import names

    one, two, _ = agents
    policy = default_policy()
    policy = dataclasses.replace(
        policy, parent=dataclasses.replace(policy.parent, parental_agents=(one, two))
    )
    store = FileKeyStore(tmp_path / "keys")  # empty: the keys went with the state
    evidence = signed_before(policy, names.from_text("example.test.", None), store, None)
    assert len(evidence) == 1 and "parental agents serve a DS" in evidence[0]
    assert signed_before(policy, names.from_text("nowhere.test.", None), store, None) == []
