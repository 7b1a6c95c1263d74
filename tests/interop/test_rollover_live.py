"""Key rollovers under real programs: zero SERVFAILs through a validating Unbound.

A parent zone ``test.`` and its child ``example.test.`` are both served by knotd; Unbound
validates them from one trust anchor, the parent's DS. The parent is signed by plain
``signwire sign`` with a CSK of its own and re-signed whenever the child's DS set must change
(that is the parent "publishing the DS"). The child is signed again and again, in real time, by
``signwire sign --policy`` with a policy from ``fast_policy.toml`` (TTLs of 1-2 s, every wait of
a rollover a few seconds), while a querier asks Unbound, with the DO bit, for an existing name, a
nonexistent one, the DNSKEY RRset and a wildcard-expanded name. The loop acts as an operator
would: it publishes at the parent the DS set ``signwire key ds`` asks for and then confirms it
with ``key ds-seen`` / ``key ds-gone``, and starts the KSK rollover with ``key roll``.

Each live test walks the first signing (insecure to secure), and then two ZSK rollovers and a
double-KSK rollover, or a double-DS rollover. It asserts that no answer was a SERVFAIL, a timeout
or incomplete, and that every answer carried AD from the moment caches must have seen the first
DS (answers cached as insecure just before may lack AD until their TTL runs out). On failure it
prints the timeline of key events next to the bad answers, with Unbound's reasons (extended DNS
errors and its log) and ``signwire key list``; every run also leaves it in ``timeline.txt`` and
each served child version in ``history/``.

The ``test_harness_*`` tests check the harness with the keys-folder signer: a correctly signed
child validates, an insecure one answers without AD, and expired signatures, a DS for a missing
key and a ZSK swapped without pre-publication all give SERVFAILs, so a green live test means
something.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dns.flags
import dns.rdatatype
import dns.zone
import pytest

from conftest import CliResult, CliRunner
from interop.live_dns import (  # noqa: F401 -- knot_factory, unbound_factory: fixtures
    SEP,
    Knot,
    Observation,
    Probe,
    Querier,
    Unbound,
    dnskey_tags,
    ds_tag,
    knot_factory,
    parse_ds_lines,
    trust_anchor,
    unbound_factory,
)

pytestmark = pytest.mark.interop

CHILD = "example.test."
PARENT = "test."
HERE = Path(__file__).parent
FAST_POLICY = HERE / "fast_policy.toml"
DS_TTL = 2  # the parent's TTL for the child's DS; fast_policy.toml's parent-ds-ttl
CHILD_TTL = 2  # every TTL in the child; fast_policy.toml's max-zone-ttl and dnskey-ttl
PARENT_NEGATIVE_TTL = 1  # the parent's SOA minimum: how long "no DS here" is cached
ZONE_PROPAGATION_DELAY = 3  # fast_policy.toml's zone-propagation-delay

CHILD_ZONE = """\
$ORIGIN example.test.
$TTL 2
@        IN SOA ns hostmaster 1 60 30 3600 1
@        NS    ns
ns       A     127.0.0.1
www      A     192.0.2.10
www      TXT   "hello from the child"
mail     A     192.0.2.25
@        MX    10 mail
*.wild   A     192.0.2.99
*.wild   TXT   "wildcard"
"""

PARENT_ZONE = """\
$ORIGIN test.
$TTL 60
@        IN SOA ns hostmaster {serial} 60 30 3600 1
@        NS    ns
ns       A     127.0.0.1
other    A     192.0.2.1
example  {ds_ttl} NS ns.example
ns.example {ds_ttl} A 127.0.0.1
{ds}"""

PROBES = (
    Probe("www.example.test.", "A"),
    Probe("nosuch.example.test.", "A", rcode="NXDOMAIN", want_answer=False),
    Probe("example.test.", "DNSKEY"),
    Probe("anything.wild.example.test.", "TXT"),
)


class Parent:
    """The parent zone ``test.``, signed by plain ``signwire sign`` with a CSK that never changes
    (so Unbound's trust anchor stays valid) and re-signed for each new DS set of the child."""

    def __init__(self, workdir: Path, served: Path, run: CliRunner) -> None:
        self.workdir = workdir
        self.served = served
        self.run = run
        self.keys = workdir / "parent-keys"
        self.unsigned = workdir / "test.zone"
        self.serial = 0
        self.ds: list[str] = []

    @property
    def signed(self) -> Path:
        return self.served / "test.zone"

    def publish(self, ds: Sequence[str]) -> int:
        """Write and sign the parent with ``ds`` as the child's DS RRset; return the serial.
        The caller reloads the server."""
        self.serial += 1
        self.ds = list(ds)
        lines = "".join(f"example {DS_TTL} DS {d}\n" for d in self.ds)
        self.unsigned.write_text(PARENT_ZONE.format(serial=self.serial, ds_ttl=DS_TTL, ds=lines))
        done = self.run(
            "sign", self.unsigned, "--origin", PARENT, "--keys", self.keys, "--csk", "--nsec",
            "--validity", "30d", "-o", self.signed, "-q", "-j", "1",
        )
        assert done.code == 0, f"signing the parent failed ({done.code}):\n{done.err}"
        return self.serial


@dataclass
class Lab:
    """Knot serving parent and child, Unbound validating from the parent's DS, a querier."""

    workdir: Path
    served: Path
    parent: Parent
    knot: Knot
    unbound: Unbound
    timeline: list[tuple[float, str]] = field(default_factory=list)
    t0: float = field(default_factory=time.time)

    def note(self, what: str) -> None:
        self.timeline.append((time.time(), what))

    def reload(self, zone: str, serial: int | None = None) -> None:
        self.knot.reload(zone, expect_serial=serial)

    def child_serial(self) -> int:
        zone = dns.zone.from_file(str(self.served / "example.test.zone"), origin=CHILD)
        soa = zone.get_rdataset("@", dns.rdatatype.SOA)
        assert soa is not None
        return int(soa[0].serial)

    def report(self, observations: Sequence[Observation], *, bad: Sequence[Observation]) -> str:
        events = [(t, f"EVENT {w}") for t, w in self.timeline]
        answers = [(o.at, f"ANSWER {o.describe(self.t0)[10:].lstrip()}") for o in bad]
        lines = [f"+{t - self.t0:7.2f}s {w}" for t, w in sorted(events + answers)]
        return (
            f"{len(bad)} bad answers out of {len(observations)}\n"
            + "\n".join(lines)
            + f"\n--- unbound log (last lines) ---\n{self.unbound.log_text(80)}"
            + f"\n--- knotd log (last lines) ---\n{self.knot.log_text(30)}"
        )


LabFactory = Callable[..., Lab]


@pytest.fixture
def lab(
    tmp_path: Path,
    run_cli_subprocess: CliRunner,
    knot_factory: Callable[[Path, Sequence[str]], Knot],  # noqa: F811
    unbound_factory: Callable[..., Unbound],  # noqa: F811
) -> LabFactory:
    """``lab(child_text)``: serves ``child_text`` (already signed or not) as the child, the parent
    with the DS set in ``lab.parent.ds`` (empty: an insecure delegation), and starts Unbound."""

    def make(child_text: str, ds: Sequence[str] = ()) -> Lab:
        served = tmp_path / "served"
        served.mkdir(exist_ok=True)
        (served / "example.test.zone").write_text(child_text)
        parent = Parent(tmp_path, served, run_cli_subprocess)
        parent.publish(ds)
        knot = knot_factory(served, [PARENT, CHILD])
        unbound = unbound_factory(
            [trust_anchor(parent.signed, PARENT)], {PARENT: knot.port, CHILD: knot.port}
        )
        return Lab(tmp_path, served, parent, knot, unbound)

    return make


def sign_with_keys(run: CliRunner, tmp_path: Path, *extra: str) -> tuple[str, list[str]]:
    """The child signed by the keys-folder signer: (signed text, DS rdata for the parent)."""
    unsigned = tmp_path / "child.zone"
    unsigned.write_text(CHILD_ZONE)
    out = tmp_path / "child.signed"
    done: CliResult = run(
        "sign", unsigned, "--origin", CHILD, "--keys", tmp_path / "child-keys", "--nsec3",
        "-o", out, "-j", "1", *extra,
    )
    assert done.code == 0, done.err
    ds = parse_ds_lines(done.err, CHILD)
    assert ds, f"no DS printed:\n{done.err}"
    return out.read_text(), ds


def ask_all(querier: Querier) -> list[Observation]:
    return [querier.ask(p) for p in PROBES]


# --- the harness: validating and failing ----------------------------------------------------------


@pytest.mark.slow
def test_harness_validates_a_signed_child(
    tmp_path: Path, run_cli_subprocess: CliRunner, lab: LabFactory
) -> None:
    signed, ds = sign_with_keys(run_cli_subprocess, tmp_path)
    world = lab(signed, ds)
    answers = ask_all(Querier(world.unbound, PROBES))
    described = "\n".join(o.describe(world.t0) for o in answers)
    assert all(not o.failed and o.ad for o in answers), (
        f"{described}\n{world.unbound.log_text(40)}"
    )
    # The zone is really reached through the chain: the NXDOMAIN carries its denial proof.
    r = world.unbound.query("nosuch.example.test.", "A")
    assert any(rrset.rdtype == dns.rdatatype.NSEC3 for rrset in r.authority), r.to_text()


@pytest.mark.slow
def test_harness_sees_an_insecure_child_without_ad(
    tmp_path: Path, run_cli_subprocess: CliRunner, lab: LabFactory
) -> None:
    """No DS at the parent: answers come back, proven insecure (no AD), and never SERVFAIL."""
    world = lab(CHILD_ZONE)
    answers = ask_all(Querier(world.unbound, PROBES))
    described = "\n".join(o.describe(world.t0) for o in answers)
    assert not any(o.ad for o in answers), described
    # An unsigned zone has no DNSKEY (NODATA); everything else is answered as when signed.
    assert all(
        (o.rcode == "NOERROR" and not o.has_answer) if o.probe.rdtype == "DNSKEY" else not o.failed
        for o in answers
    ), described
    # ...while the parent itself is secure.
    r = world.unbound.query("other.test.", "A")
    assert r.rcode() == 0 and r.flags & dns.flags.AD, r.to_text()


@pytest.mark.slow
def test_harness_stops_its_servers(
    tmp_path: Path, run_cli_subprocess: CliRunner, lab: LabFactory
) -> None:
    """What teardown relies on: stop() ends both servers (and is safe to repeat)."""
    world = lab(CHILD_ZONE)
    servers = [world.knot, world.unbound]
    assert all(s.running for s in servers)
    for server in servers:
        server.stop()
        server.stop()
    assert not any(s.running for s in servers)
    assert all(s.proc is not None and s.proc.returncode is not None for s in servers)
    assert "stopping server" in world.knot.log_text()  # knotc stop worked, no kill needed
    assert "service stopped" in world.unbound.log_text()


@pytest.mark.slow
def test_harness_catches_expired_signatures(
    tmp_path: Path, run_cli_subprocess: CliRunner, lab: LabFactory
) -> None:
    """A child whose signatures expired a week ago: Unbound answers SERVFAIL, and says why."""
    week_ago = int(time.time()) - 7 * 86400
    signed, ds = sign_with_keys(
        run_cli_subprocess, tmp_path, "--now", str(week_ago - 86400), "--validity", "2d",
        "--jitter", "0",
    )
    world = lab(signed, ds)
    answers = ask_all(Querier(world.unbound, PROBES))
    described = "\n".join(o.describe(world.t0) for o in answers)
    assert all(o.servfail and o.failed for o in answers), described
    assert any("expired" in o.detail.lower() for o in answers), described
    assert re.search(r"validation failure <.*example\.test\..*expired", world.unbound.log_text()), (
        world.unbound.log_text()
    )


@pytest.mark.slow
def test_harness_catches_a_child_key_missing_from_the_ds(
    tmp_path: Path, run_cli_subprocess: CliRunner, lab: LabFactory
) -> None:
    """The parent's DS names a key the child does not have: SERVFAIL (a broken chain)."""
    signed, ds = sign_with_keys(run_cli_subprocess, tmp_path)
    tag, alg, dtype, digest = ds[0].split()
    wrong = f"{(int(tag) + 1) % 65536} {alg} {dtype} {'0' * len(digest)}"
    world = lab(signed, [wrong])
    answers = ask_all(Querier(world.unbound, PROBES))
    described = "\n".join(o.describe(world.t0) for o in answers)
    assert all(o.servfail for o in answers), described


@pytest.mark.slow
def test_harness_catches_a_naive_zsk_swap_live(
    tmp_path: Path, run_cli_subprocess: CliRunner, lab: LabFactory
) -> None:
    """The live loop's failure mode, provoked: the ZSK is replaced in one step (no
    pre-publication) while Unbound holds the old DNSKEY RRset for 30 s. The querier must record
    SERVFAILs, or a clean live run would prove nothing."""
    signed, ds = sign_with_keys(run_cli_subprocess, tmp_path, "--dnskey-ttl", "30")
    world = lab(signed, ds)
    querier = Querier(world.unbound, PROBES)
    assert all(o.ad for o in ask_all(querier)), world.unbound.log_text()  # DNSKEY now cached

    # A folder with the same KSK and a brand-new ZSK: sign once in a fresh folder (new KSK and
    # ZSK), then put the old KSK in place of the new one.
    swapped = tmp_path / "swapped-keys"
    run_cli_subprocess(
        "sign", tmp_path / "child.zone", "--origin", CHILD, "--keys", swapped, "-o",
        tmp_path / "throwaway.signed", "-q", "-j", "1",
    )
    for f in swapped.glob("K*.key"):
        if " 257 " in f.read_text():
            f.unlink()
            f.with_suffix(".private").unlink()
    for f in (tmp_path / "child-keys").glob("K*.key"):
        if " 257 " in f.read_text():
            for part in (f, f.with_suffix(".private")):
                (swapped / part.name).write_bytes(part.read_bytes())
    out = world.served / "example.test.zone"
    done = run_cli_subprocess(
        "sign", tmp_path / "child.zone", "--origin", CHILD, "--keys", swapped, "--nsec3",
        "--dnskey-ttl", "30", "--serial", "increment", "-o", out, "-q", "-j", "1",
    )
    assert done.code == 0, done.err
    world.reload(CHILD, world.child_serial())
    querier.start()
    try:
        deadline = time.monotonic() + 4 * CHILD_TTL + 2  # cached answers expire in CHILD_TTL
        while time.monotonic() < deadline and not any(o.servfail for o in querier.snapshot()):
            time.sleep(0.1)
    finally:
        querier.stop()
    seen = querier.snapshot()
    servfails = [o for o in seen if o.servfail]
    assert servfails, "\n".join(o.describe(world.t0) for o in seen)
    # ...each with Unbound's reason, which a failing live run prints.
    assert all(o.detail for o in servfails), "\n".join(o.describe(world.t0) for o in servfails)


# --- the live rollovers ---------------------------------------------------------------------------

DEADLINE = 150.0  # seconds of real time for the whole walk; it needs about 60
CADENCE = 0.5  # seconds between the starts of two signing runs
SETTLE = 6.0  # seconds of querying after the last rollover: every cache turns over twice


@dataclass
class KeyTracker:
    """The child's DNSKEY RRset as knotd serves it, version after version: which keys came and
    which left, per role (SEP bit set: KSK)."""

    served: dict[int, int] = field(default_factory=dict)  # tag -> flags
    retired: dict[str, list[int]] = field(default_factory=lambda: {"KSK": [], "ZSK": []})
    seen: dict[str, list[int]] = field(default_factory=lambda: {"KSK": [], "ZSK": []})

    @staticmethod
    def role(flags: int) -> str:
        return "KSK" if flags & SEP else "ZSK"

    def update(self, now_served: dict[int, int]) -> list[str]:
        changes = []
        for tag, flags in sorted(now_served.items()):
            if tag not in self.served:
                self.seen[self.role(flags)].append(tag)
                changes.append(f"DNSKEY {self.role(flags)} {tag} now served")
        for tag, flags in sorted(self.served.items()):
            if tag not in now_served:
                self.retired[self.role(flags)].append(tag)
                changes.append(f"DNSKEY {self.role(flags)} {tag} no longer served")
        self.served = dict(now_served)
        return changes

    def current(self, role: str) -> set[int]:
        return {t for t, f in self.served.items() if self.role(f) == role}


class ChildSigner:
    """``signwire sign --policy`` for the child and the operator's ``signwire key`` commands,
    every run noted in the lab's timeline. Signing and the commands that change the state run as
    cron and an operator would run them, in a process of their own; ``key ds``, asked after every
    signing, runs in this process (``quick``) to keep the loop short."""

    def __init__(self, world: Lab, run: CliRunner, quick: CliRunner, policy: str) -> None:
        self.world = world
        self.run = run
        self.quick = quick
        self.policy = policy
        self.unsigned = world.workdir / "child.zone"
        self.unsigned.write_text(CHILD_ZONE)
        self.state = world.workdir / "state"
        self.out = world.served / "example.test.zone"
        self.history = world.workdir / "history"
        self.history.mkdir()
        self._last_next = ""
        self.runs = 0
        self.started = 0.0
        self.latencies: list[float] = []

    def sign(self) -> None:
        self.started = time.time()
        done = self.run(
            "sign", self.unsigned, "--origin", CHILD, "--policy", self.policy,
            "--policy-file", FAST_POLICY, "--state", self.state, "-o", self.out, "-j", "1",
        )
        self.runs += 1
        for line in done.err.splitlines():
            if line.startswith("signed "):
                continue
            if line.startswith("next key event"):
                if line == self._last_next:
                    continue
                self._last_next = line
            self.world.note(f"sign: {line}")
        assert done.code == 0, f"signwire sign --policy failed ({done.code}):\n{done.err}\n" + (
            self.world.report([], bad=[])
        )

    def key(self, *args: str | Path) -> CliResult:
        done = self.run("key", *args, "--state", self.state)
        shown = " ".join(str(a) for a in args)
        said = f"{done.out.strip()} {done.err.strip()}".strip()
        self.world.note(f"signwire key {shown} -> exit {done.code}: {said}")
        return done

    def wanted_ds(self) -> list[str]:
        done = self.quick("key", "ds", CHILD, "--state", self.state)
        assert done.code == 0, f"signwire key ds failed ({done.code}):\n{done.err}"
        return sorted(parse_ds_lines(done.out, CHILD))

    def key_list(self) -> str:
        done = self.run(
            "key", "list", CHILD, "--state", self.state, "--policy-file", FAST_POLICY
        )
        return done.out + done.err


def publish_child(world: Lab, signer: ChildSigner, tracker: KeyTracker, last: bytes) -> bytes:
    """Serve the child's new version (if it changed) and note DNSKEY set changes."""
    text = signer.out.read_bytes()
    if text == last:
        return last
    serial = world.child_serial()
    (signer.history / f"{serial:06d}.zone").write_bytes(text)
    world.reload(CHILD, serial)
    # The enforcer read the clock in whole seconds after signing started; the policy's
    # zone-propagation-delay must cover from then until knotd serves, plus a second for Unbound's
    # whole-second TTLs, or a failure would be the test's fault, not signwire's.
    latency = time.time() - int(signer.started)
    signer.latencies.append(latency)
    warning = ""
    if latency + 1 > ZONE_PROPAGATION_DELAY:
        warning = f" (WARNING: zone-propagation-delay {ZONE_PROPAGATION_DELAY}s is too short)"
    world.note(f"knotd serves {CHILD} serial {serial}, {latency:.2f}s after the clock{warning}")
    for change in tracker.update(dnskey_tags(signer.out, CHILD)):
        world.note(change)
    return text


def follow_ds(world: Lab, signer: ChildSigner) -> float | None:
    """Make the parent publish the DS set signwire asks for, then tell signwire what the parent
    now serves. Returns when the parent started serving a DS set with additions, if it did."""
    wanted = signer.wanted_ds()
    if wanted == sorted(world.parent.ds):
        return None
    added = sorted(set(wanted) - set(world.parent.ds))
    removed = sorted(set(world.parent.ds) - set(wanted))
    serial = world.parent.publish(wanted)
    world.reload(PARENT, serial)
    served_at = time.time()
    world.note(
        f"parent serial {serial} serves DS {[ds_tag(d) for d in wanted]} "
        f"(added {[ds_tag(d) for d in added]}, removed {[ds_tag(d) for d in removed]})"
    )
    for ds in added:
        done = signer.key("ds-seen", CHILD, str(ds_tag(ds)))
        assert done.code == 0, world.report([], bad=[])
    for ds in removed:
        done = signer.key("ds-gone", CHILD, str(ds_tag(ds)))
        assert done.code == 0, world.report([], bad=[])
    return served_at if added else None


# After the parent first serves a DS, Unbound may still use its cached proof that there was none
# (the parent's negative TTL) and then serve data it cached as insecure until that data's TTL
# runs out, plus a second for Unbound's whole-second clock on each.
SECURE_AFTER_DS = PARENT_NEGATIVE_TTL + 1 + CHILD_TTL + 1


def judge(
    observations: Sequence[Observation], secure_from: float | None
) -> list[Observation]:
    """The bad answers. Until ``secure_from`` the child may be insecure (no AD) and its DNSKEY
    may be missing (NODATA); from then on every answer must be complete and carry AD. A SERVFAIL,
    a wrong rcode or a timeout is bad at any time."""
    bad = []
    for o in observations:
        secure = secure_from is not None and o.at >= secure_from
        incomplete = o.probe.want_answer and not o.has_answer
        # An unsigned child has no DNSKEY: NODATA is fine until it must be secure.
        tolerated = not secure and o.probe.rdtype == "DNSKEY"
        if o.rcode != o.probe.rcode or (incomplete and not tolerated) or (secure and not o.ad):
            bad.append(o)
    return bad


@pytest.mark.slow
@pytest.mark.parametrize(
    ("policy", "zsk_rolls", "ksk_rolls"),
    [
        pytest.param("fast", 2, 1, id="double-ksk"),  # ZSKs roll by lifetime, KSK on command
        pytest.param("fast-double-ds", 0, 1, id="double-ds"),
    ],
)
def test_rollovers_through_a_validating_unbound(
    run_cli_subprocess: CliRunner,
    signwire: CliRunner,
    lab: LabFactory,
    policy: str,
    zsk_rolls: int,
    ksk_rolls: int,
) -> None:
    """First signing (insecure to secure), then ``zsk_rolls`` ZSK rollovers and ``ksk_rolls`` KSK
    rollovers (the first started by ``signwire key roll`` once the zone is secure and, when ZSKs
    roll, the first ZSK rollover is done), with zero SERVFAILs."""
    world = lab(CHILD_ZONE)  # unsigned child, no DS at the parent: insecure
    world.note(
        f"knotd on {world.knot.port}, unbound on {world.unbound.port}; child unsigned; "
        f"policy {policy}"
    )
    signer = ChildSigner(world, run_cli_subprocess, signwire, policy)
    tracker = KeyTracker()
    querier = Querier(world.unbound, PROBES)
    querier.start()
    first_ds_at: float | None = None
    ksk_roll_at: float | None = None
    done_at: float | None = None
    last = b""
    loop_times: list[float] = []
    try:
        time.sleep(1.0)  # some answers from the insecure child first
        start = time.monotonic()
        while True:
            began = time.monotonic()
            if began - start > DEADLINE:
                secure_from = first_ds_at + SECURE_AFTER_DS if first_ds_at else None
                seen = querier.snapshot()
                pytest.fail(
                    f"rollovers not done after {DEADLINE:.0f}s: retired {tracker.retired}\n"
                    + world.report(seen, bad=judge(seen, secure_from))
                    + "\n--- signwire key list ---\n" + signer.key_list()
                )
            signer.sign()
            last = publish_child(world, signer, tracker, last)
            served_at = follow_ds(world, signer)
            if first_ds_at is None and served_at is not None:
                first_ds_at = served_at
            secure = first_ds_at is not None and time.time() > first_ds_at + SECURE_AFTER_DS
            if (
                ksk_roll_at is None
                and secure
                and len(tracker.retired["ZSK"]) >= min(1, zsk_rolls)
            ):
                rolled = signer.key("roll", CHILD, "ksk")
                assert rolled.code == 0, world.report([], bad=[])
                ksk_roll_at = time.time()
            finished = (
                len(tracker.retired["ZSK"]) >= zsk_rolls
                and len(tracker.retired["KSK"]) >= ksk_rolls
                and {ds_tag(d) for d in world.parent.ds} == tracker.current("KSK")
            )
            if finished and done_at is None:
                done_at = time.monotonic()
                world.note("all rollovers done; querying on while caches turn over")
            loop_times.append(time.monotonic() - began)
            if done_at is not None and time.monotonic() - done_at > SETTLE:
                break
            time.sleep(max(0.0, CADENCE - (time.monotonic() - began)))
    finally:
        querier.stop()

    observations = querier.snapshot()
    assert first_ds_at is not None, "the parent never published a DS"
    secure_from = first_ds_at + SECURE_AFTER_DS
    bad = judge(observations, secure_from)
    world.timeline.append(
        (secure_from, f"from here on every answer must carry AD (DS served + {SECURE_AFTER_DS}s)")
    )
    report = world.report(observations, bad=bad) + "\n--- signwire key list ---\n" + (
        signer.key_list()
    )
    (world.workdir / "timeline.txt").write_text(report)
    servfails = [o for o in observations if o.servfail]
    assert not servfails and not bad, report
    # The harness saw what it had to: insecure answers first, then AD on every probe, asked
    # many times while the keys rolled.
    assert any(not o.ad for o in observations if o.at < first_ds_at), report
    for probe in PROBES:
        asked = [o for o in observations if o.probe == probe and o.at >= secure_from]
        assert len(asked) > 20, f"{probe} asked only {len(asked)} times while secure\n{report}"
        assert all(o.ad for o in asked), report
    assert ksk_roll_at is not None
    transition = [o for o in observations if first_ds_at <= o.at < secure_from and not o.ad]
    print(
        f"\nlive rollovers: {len(observations)} answers, {len(servfails)} SERVFAIL, "
        f"{len(bad)} bad; DS served at +{first_ds_at - world.t0:.1f}s, "
        f"{len(transition)} cached-insecure answers after it; ZSKs retired "
        f"{tracker.retired['ZSK']}, KSKs retired {tracker.retired['KSK']}; {signer.runs} "
        f"signing runs, loop {min(loop_times):.2f}-{max(loop_times):.2f}s "
        f"(mean {sum(loop_times) / len(loop_times):.2f}s), signing to served at most "
        f"{max(signer.latencies):.2f}s; {time.time() - world.t0:.0f}s in all"
    )
