"""Benchmark (not a test): ``signwire serve`` against ``knotd`` doing the same job in the wire.

For each signer in turn, on the same generated zone and machine, all on loopback::

    knotd primary --NOTIFY/IXFR--> signer --NOTIFY/IXFR--> two BIND 9 secondaries

where the signer is ``signwire serve`` or ``knotd`` with automatic signing, under the same
policy (ECDSAP256SHA256 KSK + ZSK, NSEC, 30-day signatures, no CDS; see bench/daemon_peers.py).
Transfers and NOTIFYs are signed with one TSIG key (hmac-sha256) on every hop, because the test
suite's BIND and signwire classes, reused here from ``tests/interop/peers.py``, always use one.

Measured per signer:

1. **first sign**: the signer started with the zone already at the primary, until it answers
   SOA with an RRSIG and the DNSKEY RRset (AXFR in, full signing); then until both secondaries
   serve that serial; the signer's process tree RSS/PSS (``bench/measure.py``'s way) and CPU.
2. **one-record change**: ``--changes`` times, a new name with an A record is committed at the
   primary (``knotc zone-begin/zone-set/zone-commit``; the clock starts just before
   ``zone-commit``, which makes Knot bump the serial and NOTIFY); both secondaries are polled
   every ``--poll`` seconds with dnspython (UDP, DO bit) until each answers the A record with
   its RRSIG. Median and worst; the signer's CPU per change.
3. **IXFR size**: after each change, an IXFR from the signer's previous serial is asked of the
   signer over TCP (TSIG-signed, from 127.0.0.1, like the secondaries) and the octets of its
   DNS messages counted (the 2-octet TCP length prefixes left out).
4. **many zones** (``--zones``, 10,000 by default; 0 skips it): that many small zones (12
   records each) read from zone files by one daemon; time until every zone's SOA is answered
   with an RRSIG, RSS and PSS then, and the CPU the tree uses in ``--idle`` seconds after that.

It prints each figure as it goes, a Markdown table with signwire, Knot and the ratio
signwire/Knot at the end, and the run's total time. Everything runs in /tmp/signwire-bench-*
(removed at the end unless ``--keep``); every process started is stopped by its own pid, also
on Ctrl-C, SIGTERM or an error.

    .venv/bin/python bench/daemon.py                       # 100k names, 10,000 zones
    .venv/bin/python bench/daemon.py --names 100000 1000000 --zones 10000 --json out.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset

from daemon_peers import SIGNWIRE_POLICY, KnotSigner, SignwireZones
from interop import peers
from interop.peers import (
    NET,
    BindSecondary,
    KnotPrimary,
    Peer,
    Signwire,
    TsigKey,
    free_port,
)
from measure import tree_memory

BENCH = Path(__file__).resolve().parent
SIGNERS = ("signwire", "knot")
TICK = os.sysconf("SC_CLK_TCK")


# --- process figures ------------------------------------------------------------------------


def _stat(pid: int) -> list[bytes] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    return data[data.rindex(b")") + 2 :].split()


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) of ``root``, its live descendants and its reaped children."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[bytes]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None:
            stats[int(entry)] = st
            children.setdefault(int(st[1]), []).append(int(entry))
    if root not in stats:
        return 0.0
    ticks = int(stats[root][13]) + int(stats[root][14])  # cutime, cstime: reaped children
    todo = [root]
    while todo:
        pid = todo.pop()
        ticks += int(stats[pid][11]) + int(stats[pid][12])  # utime, stime
        todo.extend(children.get(pid, ()))
    return ticks / TICK


def memory_mib(pid: int) -> tuple[float, float]:
    rss, pss, _ = tree_memory(pid)
    return rss / 1024, pss / 1024


# --- DNS probes -----------------------------------------------------------------------------


def query(
    address: str,
    port: int,
    name: str,
    rdtype: str,
    timeout: float = 0.5,
) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype, want_dnssec=True, use_edns=0, payload=1232)
    q.flags &= ~dns.flags.RD
    answer, _ = dns.query.udp_with_fallback(q, address, port=port, timeout=timeout)
    return answer


def types_in(answer: dns.message.Message, name: str) -> set[tuple[int, int]]:
    """(type, covered type) of the answer section's RRsets at ``name``."""
    owner = dns.name.from_text(name)
    return {(r.rdtype, r.covers) for r in answer.answer if r.name == owner}


def signed_serial(address: str, port: int, zone: str) -> int | None:
    """The serial the server answers with, if the SOA comes signed and the DNSKEY RRset is
    served; else None."""
    try:
        soa = query(address, port, zone, "SOA")
        if soa.rcode() != dns.rcode.NOERROR or (
            dns.rdatatype.RRSIG,
            dns.rdatatype.SOA,
        ) not in types_in(soa, zone):
            return None
        keys = query(address, port, zone, "DNSKEY")
    except (dns.exception.DNSException, OSError):
        return None
    if (dns.rdatatype.DNSKEY, dns.rdatatype.NONE) not in types_in(keys, zone):
        return None
    return next(int(r[0].serial) for r in soa.answer if r.rdtype == dns.rdatatype.SOA)


def serves_signed(address: str, port: int, name: str, value: str) -> bool:
    """The server answers ``name`` A with ``value`` and an RRSIG over it."""
    try:
        answer = query(address, port, name, "A", timeout=0.2)
    except (dns.exception.DNSException, OSError):
        return False
    a = [r for r in answer.answer if r.rdtype == dns.rdatatype.A]
    return (
        bool(a)
        and value in {rd.to_text() for rd in a[0]}
        and (dns.rdatatype.RRSIG, dns.rdatatype.A) in types_in(answer, name)
    )


def serial_of(address: str, port: int, zone: str) -> int | None:
    try:
        answer = query(address, port, zone, "SOA")
    except (dns.exception.DNSException, OSError):
        return None
    for r in answer.answer:
        if r.rdtype == dns.rdatatype.SOA:
            return int(r[0].serial)
    return None


def poll(
    check: Callable[[], Any],
    timeout: float,
    what: str,
    interval: float,
    alive: Callable[[], None] = lambda: None,
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        alive()
        time.sleep(interval)


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise EOFError("the server closed the connection during the transfer")
        out += chunk
    return out


@dataclass
class Xfr:
    kind: str  # "IXFR" (incremental), "AXFR" (whole zone in IXFR's answer), "none" (up to date)
    octets: int  # DNS messages, without the TCP length prefixes
    messages: int
    records: int


def ixfr(address: str, port: int, zone: str, serial: int, key: TsigKey) -> Xfr:
    """IXFR from ``serial`` over TCP, TSIG-signed, from 127.0.0.1; what came back (RFC 1995)."""
    q = dns.message.make_query(zone, dns.rdatatype.IXFR, use_edns=False)
    q.authority.append(dns.rrset.from_text(zone, 0, "IN", "SOA", f". . {serial} 0 0 0 0"))
    q.use_tsig(key.keyring(), keyname=key.name)
    wire = q.to_wire()
    origin = dns.name.from_text(zone)
    octets = messages = records = 0
    ctx = None
    new_serial: int | None = None
    kind = ""
    expect_delete_soa = True  # the next SOA opens a deletion set (or, if new, ends)
    with socket.create_connection(
        (address, port), timeout=30, source_address=("127.0.0.1", 0)
    ) as sock:
        sock.sendall(struct.pack("!H", len(wire)) + wire)
        done = False
        while not done:
            (length,) = struct.unpack("!H", _read_exactly(sock, 2))
            data = _read_exactly(sock, length)
            octets += length
            messages += 1
            r = dns.message.from_wire(
                data,
                keyring=q.keyring,
                request_mac=q.mac,
                xfr=True,
                origin=origin,
                tsig_ctx=ctx,
                multi=True,
                one_rr_per_rrset=True,
            )
            ctx = r.tsig_ctx
            if r.rcode() != dns.rcode.NOERROR:
                raise RuntimeError(f"IXFR answered {dns.rcode.to_text(r.rcode())}")
            for rrset in r.answer:
                records += 1
                is_soa = rrset.rdtype == dns.rdatatype.SOA
                if new_serial is None:
                    new_serial = int(rrset[0].serial)
                    if new_serial == serial:
                        kind, done = "none", True
                    continue
                if not kind:
                    kind = "IXFR" if is_soa else "AXFR"
                if not is_soa:
                    continue
                if kind == "AXFR":
                    done = True
                elif expect_delete_soa:
                    if int(rrset[0].serial) == new_serial:
                        done = True
                    else:
                        expect_delete_soa = False
                else:
                    expect_delete_soa = True
            if new_serial is not None and not r.answer and not done:
                raise RuntimeError("empty message in the middle of the transfer")
    return Xfr(kind, octets, messages, records)


# --- the set-up -----------------------------------------------------------------------------


@dataclass
class ChainResult:
    signer: str
    names: int
    records: int
    first_sign_s: float = 0.0
    first_sign_cpu_s: float = 0.0
    secondaries_first_s: float = 0.0
    rss_mib: float = 0.0
    pss_mib: float = 0.0
    changes_s: list[float] = field(default_factory=list)
    signer_served_s: list[float] = field(default_factory=list)
    commit_s: list[float] = field(default_factory=list)
    cpu_per_change_s: float = 0.0
    ixfr: list[dict[str, Any]] = field(default_factory=list)
    rss_after_changes_mib: float = 0.0
    pss_after_changes_mib: float = 0.0


@dataclass
class ManyResult:
    signer: str
    zones: int
    all_signed_s: float = 0.0
    cpu_s: float = 0.0
    rss_mib: float = 0.0
    pss_mib: float = 0.0
    idle_s: float = 0.0
    idle_cpu_s: float = 0.0


class Run:
    """Everything one run starts, so that all of it is stopped at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: list[Peer] = []

    def start(self, peer: Peer, start: Callable[[], object]) -> None:
        self.started.append(peer)
        start()

    def stop_all(self) -> None:
        for peer in reversed(self.started):
            with contextlib.suppress(Exception):
                peer.stop()
        self.started.clear()


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def knotc(primary: KnotPrimary, *args: str) -> None:
    done = subprocess.run(
        [primary.knotc, "-c", str(primary.config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0 or "error" in done.stdout.lower():
        raise RuntimeError(f"knotc {' '.join(args)}: {done.stdout}{done.stderr}")


def chain(
    kind: str,
    zone_file: Path,
    origin: str,
    names: int,
    records: int,
    run: Run,
    args: argparse.Namespace,
) -> ChainResult:
    """primary -> ``kind`` signer -> two BIND secondaries: first sign, then the changes."""
    work = run.root / f"{kind}-{names}"
    key = TsigKey.make()
    res = ChainResult(kind, names, records)
    signer_addr = NET + ".12"
    signer_port = free_port(signer_addr)
    primary = KnotPrimary(work / "primary", NET + ".11", origin, key)
    secondaries = [
        BindSecondary(work / f"bind{i}", origin, (signer_addr, signer_port), key) for i in (1, 2)
    ]
    targets = [(s.address, s.port) for s in secondaries]
    signer: Peer
    if kind == "signwire":
        signer = Signwire(
            work / "signwire",
            signer_addr,
            origin,
            (primary.address, primary.port),
            key,
            targets,
            port=signer_port,
            policy=SIGNWIRE_POLICY,
        )
    else:
        signer = KnotSigner(
            work / "knot",
            signer_addr,
            signer_port,
            key,
            [origin],
            primary=(primary.address, primary.port),
            secondaries=targets,
            threads=args.knot_threads,
        )
    t = time.monotonic()
    run.start(primary, lambda: primary.start(zone_file.read_text(), (signer_addr, signer_port)))
    say(f"{kind}: primary serving {origin} ({names:,} names) after {time.monotonic() - t:.1f} s")
    for s in secondaries:
        run.start(s, s.start)

    # 1. First AXFR in and full signing.
    if isinstance(signer, KnotSigner):
        signer.check()  # knotc conf-check, not timed
    t0 = time.monotonic()
    run.start(signer, lambda: signer.start(wait=False) if kind == "signwire" else signer.start())
    assert signer.proc is not None
    pid = signer.proc.pid
    serial = poll(
        lambda: signed_serial(signer_addr, signer_port, origin),
        args.timeout,
        f"{kind} serving {origin} signed",
        0.05,
        signer.check_alive,
    )
    res.first_sign_s = time.monotonic() - t0
    res.first_sign_cpu_s = tree_cpu(pid)
    say(
        f"{kind}: first AXFR + full signing: {res.first_sign_s:.2f} s "
        f"(CPU {res.first_sign_cpu_s:.1f} s), serial {serial}"
    )
    for s in secondaries:
        poll(
            lambda s=s: serial_of(s.address, s.port, origin) == serial,
            args.timeout,
            f"BIND :{s.port} at serial {serial}",
            0.05,
            s.check_alive,
        )
    res.secondaries_first_s = time.monotonic() - t0
    res.rss_mib, res.pss_mib = memory_mib(pid)
    say(
        f"{kind}: both secondaries at {serial} after {res.secondaries_first_s:.2f} s; "
        f"signer RSS {res.rss_mib:.0f} MiB, PSS {res.pss_mib:.0f} MiB"
    )

    # 2 and 3. One-record changes; the IXFR of each.
    cpu_before = tree_cpu(pid)
    cpu_in_ixfr = 0.0
    for n in range(args.changes):
        name = f"bench-change-{n}.{origin}"
        value = f"192.0.2.{n % 250 + 1}"
        before = poll(
            lambda: serial_of(signer_addr, signer_port, origin), 10, f"{kind} serial", 0.05
        )
        knotc(primary, "zone-begin", origin)
        knotc(primary, "zone-set", origin, name, "300", "A", value)
        t0 = time.monotonic()
        knotc(primary, "zone-commit", origin)
        res.commit_s.append(time.monotonic() - t0)
        done: dict[str, float] = {}
        deadline = t0 + args.timeout
        servers = {"signer": (signer_addr, signer_port)}
        servers.update({f"bind{i}": (s.address, s.port) for i, s in enumerate(secondaries, 1)})
        while len(done) < len(servers):
            for label, (addr, port) in servers.items():
                if label not in done and serves_signed(addr, port, name, value):
                    done[label] = time.monotonic() - t0
            if len(done) == len(servers):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{kind}: change {n} not served signed by "
                    f"{sorted(set(servers) - set(done))} in {args.timeout} s"
                )
            signer.check_alive()
            time.sleep(args.poll)
        both = max(done["bind1"], done["bind2"])
        res.changes_s.append(both)
        res.signer_served_s.append(done["signer"])
        c0 = tree_cpu(pid)
        x = ixfr(signer_addr, signer_port, origin, before, key)
        cpu_in_ixfr += tree_cpu(pid) - c0
        res.ixfr.append(asdict(x))
        say(
            f"{kind}: change {n + 1}/{args.changes}: signer {done['signer']:.3f} s, both "
            f"secondaries {both:.3f} s (commit {res.commit_s[-1]:.3f} s); IXFR {before}->: "
            f"{x.kind}, {x.records} records, {x.octets} octets in {x.messages} messages"
        )
        time.sleep(args.pause)
    changes = max(args.changes, 1)
    res.cpu_per_change_s = (tree_cpu(pid) - cpu_before - cpu_in_ixfr) / changes
    res.rss_after_changes_mib, res.pss_after_changes_mib = memory_mib(pid)
    run.stop_all()
    return res


def small_zone(origin: str, i: int) -> str:
    return f"""\
$ORIGIN {origin}
$TTL 3600
@     SOA  ns1 hostmaster 2026120201 3600 600 1209600 300
@     NS   ns1
@     NS   ns2
@     MX   10 mail
@     A    192.0.2.{i % 250 + 1}
@     TXT  "v=spf1 mx -all"
ns1   A    192.0.2.1
ns2   A    198.51.100.2
mail  A    192.0.2.25
www   A    192.0.2.80
www   AAAA 2001:db8::80
ftp   CNAME www
"""


def wait_all_signed(
    address: str, port: int, zones: list[str], timeout: float, alive: Callable[[], None]
) -> None:
    """Until every zone's SOA comes back with an RRSIG: queries in batches over one UDP
    socket, zones already seen signed are not asked again."""
    pending = set(zones)
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        # Loopback answers take well under a millisecond: 0.1 s of silence means the rest of
        # the batch goes unanswered for now (a server still loading may not answer at all),
        # so one pass over 10,000 zones takes seconds even then, and the figure is that exact.
        sock.settimeout(0.1)
        while pending:
            for chunk_start in range(0, len(pending), 200):
                chunk = sorted(pending)[chunk_start : chunk_start + 200]
                ids = {}
                for z in chunk:
                    q = dns.message.make_query(z, "SOA", want_dnssec=True, use_edns=0, payload=1232)
                    q.id = random.randrange(65536)
                    ids[q.id] = z
                    sock.sendto(q.to_wire(), (address, port))
                while ids:
                    try:
                        data = sock.recv(65535)
                    except TimeoutError:
                        break
                    try:
                        r = dns.message.from_wire(data)
                    except dns.exception.DNSException:  # malformed: not yet
                        continue
                    z = ids.pop(r.id, None)
                    if (
                        z is not None
                        and r.rcode() == dns.rcode.NOERROR
                        and (dns.rdatatype.RRSIG, dns.rdatatype.SOA) in types_in(r, z)
                    ):
                        pending.discard(z)
            if pending:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{len(pending)} zones not signed in {timeout:.0f} s")
                alive()
                time.sleep(0.05)


def many(
    kind: str, zone_dir: Path, zones: list[str], run: Run, args: argparse.Namespace
) -> ManyResult:
    work = run.root / f"{kind}-zones"
    address = NET + ".13"
    port = free_port(address)
    signer: Peer
    if kind == "signwire":
        signer = SignwireZones(work, address, port, zones, zone_dir)
    else:
        signer = KnotSigner(
            work, address, port, TsigKey.make(), zones, zone_dir=zone_dir, threads=args.knot_threads
        )
    if isinstance(signer, KnotSigner):
        signer.check()  # knotc conf-check, not timed
    res = ManyResult(kind, len(zones))
    t0 = time.monotonic()
    run.start(signer, signer.start)  # type: ignore[attr-defined]
    assert signer.proc is not None
    pid = signer.proc.pid
    wait_all_signed(address, port, zones, args.timeout, signer.check_alive)
    res.all_signed_s = time.monotonic() - t0
    res.cpu_s = tree_cpu(pid)
    res.rss_mib, res.pss_mib = memory_mib(pid)
    say(
        f"{kind}: {len(zones):,} zones signed and served after {res.all_signed_s:.1f} s "
        f"(CPU {res.cpu_s:.1f} s); RSS {res.rss_mib:.0f} MiB, PSS {res.pss_mib:.0f} MiB"
    )
    c0 = tree_cpu(pid)
    time.sleep(args.idle)
    res.idle_s = args.idle
    res.idle_cpu_s = tree_cpu(pid) - c0
    say(f"{kind}: idle CPU over {args.idle:.0f} s: {res.idle_cpu_s:.2f} s")
    run.stop_all()
    return res


# --- the report -----------------------------------------------------------------------------


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.2f}"


def fmt(v: float | None, digits: int) -> str:
    return "–" if v is None else f"{v:,.{digits}f}"


def table(chains: dict[tuple[str, int], ChainResult], manys: dict[str, ManyResult]) -> str:
    rows: list[tuple[str, float | None, float | None, int]] = []
    for n in sorted({k[1] for k in chains}):
        sw, kn = chains.get(("signwire", n)), chains.get(("knot", n))

        def get(r: ChainResult | None, f: Callable[[ChainResult], float]) -> float | None:
            return None if r is None else f(r)

        label = f"{n:,} names"
        c = len((sw or kn).changes_s)  # type: ignore[union-attr]
        rows += [
            (
                f"{label}: one-record change → both secondaries signed, median of {c} (s)",
                get(sw, lambda r: statistics.median(r.changes_s)),
                get(kn, lambda r: statistics.median(r.changes_s)),
                3,
            ),
            (
                f"{label}: the same, worst of {c} (s)",
                get(sw, lambda r: max(r.changes_s)),
                get(kn, lambda r: max(r.changes_s)),
                3,
            ),
            (
                f"{label}: the same, served signed by the signer itself, median (s)",
                get(sw, lambda r: statistics.median(r.signer_served_s)),
                get(kn, lambda r: statistics.median(r.signer_served_s)),
                3,
            ),
            (
                f"{label}: signer CPU per change (s)",
                get(sw, lambda r: r.cpu_per_change_s),
                get(kn, lambda r: r.cpu_per_change_s),
                3,
            ),
            (
                f"{label}: IXFR of one change, median (octets)",
                get(sw, lambda r: statistics.median(x["octets"] for x in r.ixfr)),
                get(kn, lambda r: statistics.median(x["octets"] for x in r.ixfr)),
                0,
            ),
            (
                f"{label}: IXFR of one change, median (records)",
                get(sw, lambda r: statistics.median(x["records"] for x in r.ixfr)),
                get(kn, lambda r: statistics.median(x["records"] for x in r.ixfr)),
                0,
            ),
            (
                f"{label}: first AXFR in + full signing (s)",
                get(sw, lambda r: r.first_sign_s),
                get(kn, lambda r: r.first_sign_s),
                2,
            ),
            (
                f"{label}: CPU of the signer until then (s)",
                get(sw, lambda r: r.first_sign_cpu_s),
                get(kn, lambda r: r.first_sign_cpu_s),
                1,
            ),
            (
                f"{label}: … until both secondaries serve it (s)",
                get(sw, lambda r: r.secondaries_first_s),
                get(kn, lambda r: r.secondaries_first_s),
                2,
            ),
            (
                f"{label}: signer RSS serving it (MiB)",
                get(sw, lambda r: r.rss_mib),
                get(kn, lambda r: r.rss_mib),
                0,
            ),
            (
                f"{label}: signer PSS serving it (MiB)",
                get(sw, lambda r: r.pss_mib),
                get(kn, lambda r: r.pss_mib),
                0,
            ),
            (
                f"{label}: signer RSS after the changes (MiB)",
                get(sw, lambda r: r.rss_after_changes_mib),
                get(kn, lambda r: r.rss_after_changes_mib),
                0,
            ),
        ]
    if manys:
        sw_m, kn_m = manys.get("signwire"), manys.get("knot")
        z = (sw_m or kn_m).zones  # type: ignore[union-attr]

        def mget(r: ManyResult | None, f: Callable[[ManyResult], float]) -> float | None:
            return None if r is None else f(r)

        idle = (sw_m or kn_m).idle_s  # type: ignore[union-attr]
        rows += [
            (
                f"{z:,} small zones: all signed and served (s)",
                mget(sw_m, lambda r: r.all_signed_s),
                mget(kn_m, lambda r: r.all_signed_s),
                1,
            ),
            (
                f"{z:,} small zones: CPU until then (s)",
                mget(sw_m, lambda r: r.cpu_s),
                mget(kn_m, lambda r: r.cpu_s),
                1,
            ),
            (
                f"{z:,} small zones: RSS (MiB)",
                mget(sw_m, lambda r: r.rss_mib),
                mget(kn_m, lambda r: r.rss_mib),
                0,
            ),
            (
                f"{z:,} small zones: PSS (MiB)",
                mget(sw_m, lambda r: r.pss_mib),
                mget(kn_m, lambda r: r.pss_mib),
                0,
            ),
            (
                f"{z:,} small zones: idle CPU over {idle:.0f} s (s)",
                mget(sw_m, lambda r: r.idle_cpu_s),
                mget(kn_m, lambda r: r.idle_cpu_s),
                2,
            ),
        ]
    out = ["| figure | signwire | knotd | signwire/knot |", "|---|---|---|---|"]
    for label, a, b, digits in rows:
        out.append(f"| {label} | {fmt(a, digits)} | {fmt(b, digits)} | {ratio(a, b)} |")
    return "\n".join(out)


# --- main -----------------------------------------------------------------------------------


def generate(names: int, path: Path, args: argparse.Namespace) -> int:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "genzone.py"),
            "tld",
            "--names",
            str(names),
            "--ds-share",
            str(args.ds_share),
            "--seed",
            str(args.seed),
            "-o",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=3600,
        check=True,
    )
    records = sum(1 for line in path.open() if line.strip() and not line.startswith(("$", ";")))
    say(
        f"generated {path.name}: {records:,} records ({done.stderr.strip().splitlines()[-1]})"
        if done.stderr.strip()
        else f"generated {path.name}: {records:,} records"
    )
    return records


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--names",
        type=int,
        nargs="+",
        default=[100_000],
        help="delegations of the TLD-like zone, one chain per size (default 100000;"
        " 1000000 takes many minutes and several GB; 0: skip)",
    )
    p.add_argument("--changes", type=int, default=20, help="one-record changes (default 20)")
    p.add_argument(
        "--zones",
        type=int,
        default=10_000,
        help="small zones in one daemon (default 10000; 0: skip)",
    )
    p.add_argument(
        "--idle",
        type=float,
        default=30.0,
        help="seconds of idle CPU measured after the small zones (default 30)",
    )
    p.add_argument("--signers", default="signwire,knot", help="signwire,knot (default both)")
    p.add_argument(
        "--poll",
        type=float,
        default=0.005,
        help="seconds between polls of the secondaries (default 0.005)",
    )
    p.add_argument(
        "--pause",
        type=float,
        default=0.5,
        help="seconds between one change being served and the next (default 0.5)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        help="longest wait for any one step, in seconds (default 3600)",
    )
    p.add_argument(
        "--knot-threads",
        type=int,
        default=2,
        help="knotd's signing-threads and background-workers (default 2)",
    )
    p.add_argument("--ds-share", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", type=Path, help="write every figure here")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = p.parse_args(argv)
    kinds = [k.strip() for k in args.signers.split(",") if k.strip()]
    if not kinds or set(kinds) - set(SIGNERS):
        p.error(f"--signers: from {', '.join(SIGNERS)}")
    peers.START_TIMEOUT = args.timeout  # the primary loading a 1M-name zone takes a while

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminate)
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="signwire-bench-", dir="/tmp"))
    run = Run(root)
    commit = subprocess.run(
        ["git", "-C", str(BENCH), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(BENCH), "status", "--porcelain", "--", "../src"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    say(
        f"bench/daemon.py {' '.join(sys.argv[1:])}; commit {commit}"
        f"{' (src/ has uncommitted changes)' if dirty else ''}; {platform.node()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; scratch {root}"
    )
    chains: dict[tuple[str, int], ChainResult] = {}
    manys: dict[str, ManyResult] = {}
    try:
        for names in [n for n in args.names if n > 0]:
            zone_file = root / f"tld{names}.zone"
            records = generate(names, zone_file, args)
            for kind in kinds:
                t = time.monotonic()
                chains[(kind, names)] = chain(kind, zone_file, "tld.", names, records, run, args)
                say(
                    f"{kind}, {names:,} names: done in {time.monotonic() - t:.0f} s; "
                    f"load average {os.getloadavg()[0]:.2f}"
                )
            zone_file.unlink()
        if args.zones:
            zone_dir = root / "zones"
            zone_dir.mkdir()
            zones = [f"z{i:05d}.bench." for i in range(args.zones)]
            for i, z in enumerate(zones):
                (zone_dir / f"{z}zone").write_text(small_zone(z, i))
            for kind in kinds:
                t = time.monotonic()
                manys[kind] = many(kind, zone_dir, zones, run, args)
                say(
                    f"{kind}, {args.zones:,} zones: done in {time.monotonic() - t:.0f} s; "
                    f"load average {os.getloadavg()[0]:.2f}"
                )
    except BaseException as e:
        say(f"stopped: {type(e).__name__}: {e}")
        for peer in run.started:
            print(peer.log_tail(30), file=sys.stderr)
        raise
    finally:
        run.stop_all()
        if args.keep:
            say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
        if chains or manys:
            print()
            print(table(chains, manys))
            print()
        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        "chains": [asdict(r) for r in chains.values()],
                        "zones": [asdict(r) for r in manys.values()],
                    },
                    indent=1,
                )
            )
        say(f"total time {time.monotonic() - started:.0f} s; load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
