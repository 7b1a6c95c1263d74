"""Real DNS servers on loopback for live tests: knotd serving zone files, Unbound validating.

* :class:`Knot` runs ``knotd`` in the foreground on ``127.0.0.1:<free port>`` serving zone files
  from one folder (``<folder>/<zone without dot>.zone``), reloaded on demand with
  ``knotc -b zone-reload`` (``-b``: wait until the reload is done). Only the mandatory checks run,
  no journal and no signing of its own: Knot serves exactly the file it was given.
* :class:`Unbound` runs ``unbound -d`` on another free port as a validating resolver whose only
  trust anchor is given by the test, with a ``stub-zone`` per zone pointing at Knot. Referrals
  carry no port, so the child zone needs a stub of its own; Unbound still asks the parent's stub
  for the child's DS (the iterator takes DS from the parent side of a zone cut).
* :class:`Querier` sends queries with the DO bit through Unbound at a steady rate from a thread
  and keeps every answer, so a test can count SERVFAILs and answers without AD afterwards.
* Zone facts read with dnspython, never with signwire: DS lines in a command's output, the key
  tags of a signed zone's DNSKEY RRset, a trust anchor for Unbound.

Both servers answer only on loopback; Unbound also *sends* only from 127.0.0.1
(``outgoing-interface``), so even a stray lookup of the root could not leave the machine. The
pytest fixtures :func:`knot_factory` and :func:`unbound_factory` stop every server they started
at teardown, also when the test failed; a server that ignores the polite stop is killed, by the
process id of the child this module started.

Findings while building this (Knot 3.2.6, Unbound 1.17.1, Debian 12):

* Unbound's built-in RFC 6761 zone for ``test.`` answers NXDOMAIN unless ``local-zone: "test."
  nodefault``; it never queries 127.0.0.0/8 unless ``do-not-query-localhost: no``.
* ``ede: yes`` makes Unbound put the reason of a SERVFAIL (RFC 8914 extended error, e.g.
  "signature expired") into the answer itself; ``val-log-level: 2`` logs it too.
* The control socket path must fit in a ``sockaddr_un`` (107 bytes), which pytest's tmp_path may
  not; it goes into a short folder under ``/tmp`` instead.
"""

from __future__ import annotations

import functools
import grp
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import dns.dnssec
import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.zone
import pytest

from interop.verifiers import find_program, require_program

HOST = "127.0.0.1"
START_TIMEOUT = 15.0  # seconds for a server to answer its first query
STOP_TIMEOUT = 10.0
QUERY_TIMEOUT = 3.0  # one query through Unbound; a slower answer is recorded as TIMEOUT

SEP = 1  # the DNSKEY flags bit of key-signing keys (RFC 4034 §2.1.1)


def require(name: str) -> str:
    """Path of a server program; if missing, the test is skipped, or failed under CI."""
    return require_program(name)


def free_port(host: str = HOST) -> int:
    """A port free for both UDP and TCP on ``host`` right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue
                return port
    raise RuntimeError(f"no free UDP+TCP port on {host}")


def query(
    name: str,
    rdtype: str,
    port: int,
    *,
    host: str = HOST,
    dnssec: bool = True,
    recursion: bool = True,
    timeout: float = QUERY_TIMEOUT,
) -> dns.message.Message:
    """One UDP query (falling back to TCP when truncated)."""
    q = dns.message.make_query(name, rdtype, want_dnssec=dnssec, use_edns=0, payload=1232)
    if not recursion:
        q.flags &= ~dns.flags.RD
    response, _ = dns.query.udp_with_fallback(q, host, port=port, timeout=timeout)
    return response


def extended_errors(response: dns.message.Message) -> list[str]:
    """RFC 8914 extended errors of an answer, as ``"code: text"``."""
    out = []
    for opt in response.options:
        if isinstance(opt, dns.edns.EDEOption):
            out.append(f"{opt.code.value} {opt.code.name}: {opt.text or ''}".rstrip(": "))
    return out


class NotReady(Exception):
    """A server answered, but not yet with what it will serve."""


def _wait_for_answer(
    probe: Callable[[], object],
    proc: subprocess.Popen[bytes],
    what: str,
    log_tail: Callable[[], str],
) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{what} exited with status {proc.returncode} while starting:\n{log_tail()}"
            )
        try:
            probe()
            return
        except (dns.exception.DNSException, OSError, NotReady) as e:
            last = e
            time.sleep(0.1)
    raise RuntimeError(
        f"{what} did not answer within {START_TIMEOUT:.0f}s: {last}\n{log_tail()}"
    )


class _Server:
    """A foreground child process with its output in a log file."""

    name = "server"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.log_path = workdir / f"{self.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def _spawn(self, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        log = open(self.log_path, "ab")  # noqa: SIM115 -- closed in stop()
        self._log = log
        self.proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            cwd=self.workdir,
        )
        return self.proc

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self, last: int = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-last:])

    def _polite_stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()

    def stop(self) -> None:
        """Stop the server; kill it if it does not go in time. Safe to call twice."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                self._polite_stop()
            except Exception:
                proc.terminate()  # the polite way failed; do not wait STOP_TIMEOUT for nothing
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_TIMEOUT)
        log = self._log
        if log is not None:
            log.close()
            self._log = None


class Knot(_Server):
    """knotd serving ``zones`` from ``zone_dir/<zone>.zone`` (the files must exist at start)."""

    name = "knotd"

    def __init__(self, workdir: Path, zone_dir: Path, zones: Sequence[str]) -> None:
        super().__init__(workdir)
        self.knotd_path = require("knotd")
        self.knotc_path = require("knotc")
        self.zone_dir = zone_dir
        self.zones = [z if z.endswith(".") else z + "." for z in zones]
        self.port = free_port()
        self._sock_dir: Path | None = None
        self.config = workdir / "knot.conf"

    def zone_file(self, zone: str) -> Path:
        return self.zone_dir / f"{zone.rstrip('.')}.zone"

    def write_config(self) -> None:
        (self.workdir / "db").mkdir(exist_ok=True)
        # The control socket's path must fit in sockaddr_un; tmp_path may be too deep.
        if self._sock_dir is None:
            self._sock_dir = Path(tempfile.mkdtemp(prefix="swknot"))
        zones = "\n".join(f"  - domain: {z}" for z in self.zones)
        self.config.write_text(
            f"""\
server:
    rundir: "{self.workdir}"
    listen: {HOST}@{self.port}
    user: {self._user()}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "{self.workdir / 'db'}"
control:
    listen: "{self._sock_dir / 'knot.sock'}"
log:
  - target: stderr
    any: info
template:
  - id: default
    storage: "{self.zone_dir}"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
zone:
{zones}
"""
        )

    @staticmethod
    def _user() -> str:
        # Knot wants names; whoever runs the tests keeps their own identity.
        return f"{pwd.getpwuid(os.getuid()).pw_name}:{grp.getgrgid(os.getgid()).gr_name}"

    def start(self) -> None:
        self.write_config()
        proc = self._spawn([self.knotd_path, "-c", str(self.config)])
        for zone in self.zones:
            _wait_for_answer(
                functools.partial(self._soa, zone), proc, f"knotd ({self.log_path})", self.log_text
            )

    def _soa(self, zone: str) -> int:
        r = query(zone, "SOA", self.port, dnssec=False, recursion=False, timeout=0.25)
        if r.rcode() != dns.rcode.NOERROR or not r.answer:
            raise NotReady(f"{zone} SOA: {dns.rcode.to_text(r.rcode())}")
        return int(r.answer[0][0].serial)

    def served_serial(self, zone: str) -> int:
        return self._soa(zone)

    def knotc(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.knotc_path, "-c", str(self.config), "-t", "30", *args],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False,
        )

    def reload(self, zone: str, expect_serial: int | None = None) -> None:
        """Reload ``zone`` from its file and wait until Knot serves it (``expect_serial`` if
        given: a reload Knot refused leaves the old version served, which must not pass)."""
        done = self.knotc("-b", "zone-reload", zone)
        if done.returncode != 0:
            raise RuntimeError(
                f"knotc zone-reload {zone} failed ({done.returncode}): "
                f"{done.stdout}{done.stderr}\n{self.log_text(20)}"
            )
        if expect_serial is None:
            return
        deadline = time.monotonic() + START_TIMEOUT
        serial = self.served_serial(zone)
        while serial != expect_serial:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"knotd still serves {zone} serial {serial}, not {expect_serial}\n"
                    f"{self.log_text(20)}"
                )
            time.sleep(0.05)
            serial = self.served_serial(zone)

    def _polite_stop(self) -> None:
        if self.knotc("stop").returncode != 0:
            super()._polite_stop()

    def stop(self) -> None:
        super().stop()
        if self._sock_dir is not None:
            shutil.rmtree(self._sock_dir, ignore_errors=True)
            self._sock_dir = None


class Unbound(_Server):
    """A validating Unbound trusting only ``trust_anchors`` (``"test. DS 1234 13 2 ab…"``) and
    resolving ``stubs`` (zone → port on 127.0.0.1) through stub zones."""

    name = "unbound"

    def __init__(
        self,
        workdir: Path,
        trust_anchors: Sequence[str],
        stubs: dict[str, int],
        extra: Sequence[str] = (),
    ) -> None:
        super().__init__(workdir)
        self.unbound_path = require("unbound")
        self.trust_anchors = list(trust_anchors)
        self.stubs = dict(stubs)
        self.extra = list(extra)
        self.port = free_port()
        self.config = workdir / "unbound.conf"

    def write_config(self) -> None:
        anchors = "\n".join(f'    trust-anchor: "{a}"' for a in self.trust_anchors)
        extra = "\n".join(f"    {line}" for line in self.extra)
        local_zones = "\n".join(
            f'    local-zone: "{z}" nodefault' for z in self.stubs if z.count(".") == 1
        )
        stubs = "\n".join(
            f'stub-zone:\n    name: "{z}"\n    stub-addr: {HOST}@{p}' for z, p in self.stubs.items()
        )
        self.config.write_text(
            f"""\
server:
    interface: {HOST}
    port: {self.port}
    outgoing-interface: {HOST}
    do-ip6: no
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "{self.workdir}"
    pidfile: "{self.workdir / 'unbound.pid'}"
    use-syslog: no
    logfile: ""
    log-time-ascii: yes
    verbosity: 1
    val-log-level: 2
    ede: yes
    num-threads: 1
    so-reuseport: no
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    module-config: "validator iterator"
{local_zones}
{anchors}
{extra}
remote-control:
    control-enable: no
{stubs}
"""
        )

    def check_config(self) -> None:
        checkconf = find_program("unbound-checkconf")
        if checkconf is None:
            return
        done = subprocess.run(
            [checkconf, str(self.config)], capture_output=True, text=True, timeout=60, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"unbound-checkconf: {done.stdout}{done.stderr}")

    def start(self, probe_name: str = "test.") -> None:
        self.write_config()
        self.check_config()
        proc = self._spawn([self.unbound_path, "-d", "-c", str(self.config)])
        _wait_for_answer(
            lambda: query(probe_name, "SOA", self.port, timeout=0.25), proc,
            f"unbound ({self.log_path})", self.log_text,
        )

    def query(self, name: str, rdtype: str, timeout: float = QUERY_TIMEOUT) -> dns.message.Message:
        return query(name, rdtype, self.port, timeout=timeout)


# --- zone facts ------------------------------------------------------------------------------

_DS_LINE = re.compile(
    r"(?P<owner>\S+)\s+(?:\d+\s+)?(?:IN\s+)?(?:\d+\s+)?DS\s+"
    r"(?P<tag>\d+)\s+(?P<alg>\d+)\s+(?P<dtype>\d+)\s+(?P<digest>[0-9A-Fa-f][0-9A-Fa-f ]*)$",
    re.IGNORECASE,
)


def parse_ds_lines(text: str, owner: str) -> list[str]:
    """The DS rdata (``"tag alg digest-type HEX"``, digest upper case) in lines such as
    ``example.test. 3600 IN DS 4321 13 2 ab12…`` or ``DS for the parent: example.test. IN DS …``."""
    out = []
    for line in text.splitlines():
        m = _DS_LINE.search(line.split(";", 1)[0].strip())
        if m is None or m["owner"].lower() != owner.lower():
            continue
        digest = m["digest"].replace(" ", "").upper()
        out.append(f"{int(m['tag'])} {int(m['alg'])} {int(m['dtype'])} {digest}")
    return out


def ds_tag(ds: str) -> int:
    return int(ds.split()[0])


def dnskey_tags(zone_file: Path, origin: str) -> dict[int, int]:
    """Key tag → DNSKEY flags of the zone's apex DNSKEY RRset in a signed zone file."""
    zone = dns.zone.from_file(str(zone_file), origin=origin, relativize=False)
    rdataset = zone.get_rdataset(origin, dns.rdatatype.DNSKEY)
    if rdataset is None:
        return {}
    return {dns.dnssec.key_id(rr): rr.flags for rr in rdataset}


def trust_anchor(signed_zone: Path, origin: str) -> str:
    """``ORIGIN DS …`` for a signed zone's key-signing key, as Unbound's ``trust-anchor:``
    wants it."""
    zone = dns.zone.from_file(str(signed_zone), origin=origin, relativize=False)
    keys = zone.get_rdataset(origin, dns.rdatatype.DNSKEY)
    assert keys is not None, f"{signed_zone} has no DNSKEY"
    sep = [k for k in keys if k.flags & SEP]
    assert sep, f"{signed_zone} has no key with the SEP bit"
    ds = dns.dnssec.make_ds(dns.name.from_text(origin), sep[0], "SHA256")
    return f"{origin} DS {ds.to_text()}"


@dataclass(frozen=True)
class Probe:
    """One question the querier keeps asking, and the answer it expects when all is well."""

    name: str
    rdtype: str
    rcode: str = "NOERROR"  # "NOERROR" or "NXDOMAIN"
    want_answer: bool = True  # an answer RRset of rdtype (False: NODATA or NXDOMAIN)


@dataclass(frozen=True)
class Observation:
    at: float  # time.time()
    probe: Probe
    rcode: str  # rcode text, or "TIMEOUT"/"ERROR"
    ad: bool
    has_answer: bool
    detail: str  # extended errors, or the exception

    @property
    def servfail(self) -> bool:
        return self.rcode == "SERVFAIL"

    @property
    def failed(self) -> bool:
        """SERVFAIL, no answer at all, or not the answer this probe expects."""
        return (
            self.rcode != self.probe.rcode
            or (self.probe.want_answer and not self.has_answer)
        )

    def describe(self, t0: float) -> str:
        ad = "AD" if self.ad else "no-AD"
        extra = f" [{self.detail}]" if self.detail else ""
        asked = f"{self.probe.name} {self.probe.rdtype}"
        return f"+{self.at - t0:7.2f}s {asked}: {self.rcode} {ad}{extra}"


@dataclass
class Querier:
    """Asks every probe through ``resolver`` in turn, ``interval`` seconds apart, in a thread."""

    resolver: Unbound
    probes: Sequence[Probe]
    interval: float = 0.05
    observations: list[Observation] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def ask(self, probe: Probe) -> Observation:
        at = time.time()
        try:
            r = self.resolver.query(probe.name, probe.rdtype)
        except dns.exception.Timeout:
            return Observation(at, probe, "TIMEOUT", False, False, "no answer in time")
        except (dns.exception.DNSException, OSError) as e:
            return Observation(at, probe, "ERROR", False, False, f"{type(e).__name__}: {e}")
        wanted = dns.rdatatype.from_text(probe.rdtype)
        has = any(rr.rdtype == wanted for rr in r.answer)
        ad = bool(r.flags & dns.flags.AD)
        return Observation(
            at, probe, dns.rcode.to_text(r.rcode()), ad, has, "; ".join(extended_errors(r))
        )

    def _run(self) -> None:
        while not self._stop.is_set():
            for probe in self.probes:
                obs = self.ask(probe)
                with self._lock:
                    self.observations.append(obs)
                if self._stop.wait(self.interval):
                    return

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="querier", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(QUERY_TIMEOUT * 3)

    def snapshot(self) -> list[Observation]:
        with self._lock:
            return list(self.observations)


@pytest.fixture
def knot_factory(tmp_path: Path) -> Iterator[Callable[[Path, Sequence[str]], Knot]]:
    """``knot_factory(zone_dir, zones) -> Knot``, started; stopped at teardown."""
    started: list[Knot] = []

    def make(zone_dir: Path, zones: Sequence[str]) -> Knot:
        workdir = tmp_path / f"knot{len(started)}"
        workdir.mkdir()
        server = Knot(workdir, zone_dir, zones)
        started.append(server)
        server.start()
        return server

    try:
        yield make
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def unbound_factory(tmp_path: Path) -> Iterator[Callable[..., Unbound]]:
    """``unbound_factory(trust_anchors, stubs, extra=()) -> Unbound``, started; stopped at
    teardown."""
    started: list[Unbound] = []

    def make(
        trust_anchors: Sequence[str], stubs: dict[str, int], extra: Sequence[str] = ()
    ) -> Unbound:
        workdir = tmp_path / f"unbound{len(started)}"
        workdir.mkdir()
        server = Unbound(workdir, trust_anchors, stubs, extra)
        started.append(server)
        server.start(probe_name=next(iter(stubs)))
        return server

    try:
        yield make
    finally:
        for server in started:
            server.stop()
