"""The real peers of a signer in the wire, on loopback: a PowerDNS hidden primary (or a
journaling knotd, for real IXFR in), BIND 9 secondaries, Unbound validating through them, and
``signwire serve`` itself with a generated configuration (and, optionally, a policy file).

Each class runs one program in the foreground, with its configuration and logs in a folder of
its own, on a free port; :class:`Lab` starts them in order and stops every one it started (SIGTERM,
then SIGKILL after :data:`STOP_TIMEOUT`, always by the process id of the child it started), also
when the test failed. Every wait is a bounded poll. Traffic stays on 127.0.0.0/8: PowerDNS's
security poll is off, Unbound's root hints name a loopback address and it sends only from
loopback.

Addresses: PowerDNS, signwire and strangers get addresses of a 127.x.y.0/24 block of this
process (:data:`NET`), so that an ACL or a "from an unlisted address" test means something.
BIND listens only on addresses configured on an interface (it scans them; 127.0.0.13 is not one
even though Linux routes all of 127/8 to ``lo``), so the BIND secondaries run on 127.0.0.1, each
on its own port, without touching the machine's interfaces; Unbound stubs to them there.

Findings while building this (Debian 12: PowerDNS 4.7, BIND 9.18, Unbound 1.17):

* PowerDNS serves a zone signed elsewhere only with ``gsqlite3-dnssec=yes`` and the zone's
  ``PRESIGNED`` metadata; without it the RRSIG rows are not served. ``xfr-cycle-interval`` is
  also how often a primary looks for changed serials and NOTIFYs on its own, so it is set far
  out: a test decides when a NOTIFY goes (``pdns_control notify``), and a test that wants none
  gets none.
* BIND clamps the SOA refresh and retry of a secondary zone to ``min-refresh-time`` (300 s) and
  ``min-retry-time`` (500 s) unless told otherwise; they are set to 1 s here.
* BIND 9.18 logs ``requesting IXFR`` whenever it has a copy, whatever comes back; what it
  *received* is said only at debug level 3 (``got incremental response`` / ``got
  nonincremental response``, from the xfrin module), so the secondaries run with ``-d 3`` and
  :meth:`BindSecondary.transfers` reads those lines. PowerDNS, which keeps no journal, gets
  ``nonincremental`` for its answers to IXFR.
"""

from __future__ import annotations

import base64
import contextlib
import grp
import os
import pwd
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar

import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.tsigkeyring

from interop.live_dns import free_port
from interop.verifiers import find_program, missing_programs, require_program

STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
START_TIMEOUT = 30.0
QUERY_TIMEOUT = 2.0
BIND_HOST = "127.0.0.1"
# A /24 of loopback of our own per process, so parallel runs (xdist) do not share addresses.
NET = f"127.{200 + os.getpid() % 50}.{os.getpid() // 50 % 250 + 1}"
PDNS_SCHEMA = Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")

T = TypeVar("T")


def missing() -> str | None:
    """Why the peers cannot run here (for the ``requires`` mark), or None."""
    why = missing_programs("pdns_server", "pdnsutil", "pdns_control", "named", "unbound",
                           "unbound-control")
    if why is None and not PDNS_SCHEMA.exists():
        why = "the PowerDNS SQLite schema is missing (Debian package pdns-backend-sqlite3)"
    if why:
        why += " (Debian packages: pdns-server pdns-backend-sqlite3 bind9 unbound)"
    return why


def wait_for(check: Callable[[], T | None], timeout: float, what: str,
             context: Callable[[], str] = lambda: "", interval: float = 0.1) -> T:
    """Poll ``check`` until it returns something other than None/False; fail naming ``what``.
    DNS timeouts and socket errors count as "not yet"."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = check()
            if value is not None and value is not False:
                return value
            last = value
        except (dns.exception.DNSException, OSError) as e:
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {last!r})\n"
                                 f"{context()}")
        time.sleep(interval)


def ask(address: str, port: int, name: str, rdtype: str, *, dnssec: bool = True,
        recursion: bool = False, timeout: float = QUERY_TIMEOUT) -> dns.message.Message:
    """One query over UDP (TCP when truncated)."""
    q = dns.message.make_query(name, rdtype, want_dnssec=dnssec, use_edns=0, payload=1232)
    if not recursion:
        q.flags &= ~dns.flags.RD
    answer, _ = dns.query.udp_with_fallback(q, address, port=port, timeout=timeout)
    return answer


def soa_serial(address: str, port: int, zone: str) -> int | None:
    """The serial an authoritative server serves for ``zone``, or None (not loaded, refused)."""
    r = ask(address, port, zone, "SOA", dnssec=False, timeout=0.5)
    if r.rcode() != dns.rcode.NOERROR or not r.flags & dns.flags.AA:
        return None
    for rrset in r.answer:
        if rrset.rdtype == dns.rdatatype.SOA:
            return int(rrset[0].serial)
    return None


@dataclass(frozen=True)
class TsigKey:
    name: str  # absolute, "xfr-key."
    secret: str  # base64
    algorithm: str = "hmac-sha256"

    @property
    def bare(self) -> str:
        return self.name.rstrip(".")

    def keyring(self) -> dict[dns.name.Name, dns.tsig.Key]:
        return dns.tsigkeyring.from_text({self.name: (self.algorithm, self.secret)})

    @staticmethod
    def make(name: str = "xfr-key.", seed: bytes | None = None) -> TsigKey:
        raw = seed if seed is not None else os.urandom(32)
        return TsigKey(name, base64.b64encode(raw).decode())


class Peer:
    """A program in the foreground, its output in ``<workdir>/<name>.log``."""

    name = "peer"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / f"{self.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def spawn(self, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        assert not self.running, f"{self.name} is already running"
        self._close_log()
        self._log = open(self.log_path, "ab")  # noqa: SIM115 -- closed in stop()
        self.proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            cwd=self.workdir,
        )
        return self.proc

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return f"--- {self.log_path} (last {lines} lines)\n" + "\n".join(
            self.log_text().splitlines()[-lines:])

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}\n"
                                 f"{self.log_tail()}")

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT; the exit status. Safe to call twice."""
        proc = self.proc
        code = None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(STOP_TIMEOUT)
            code = proc.returncode
        self._close_log()
        return code

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


# --- PowerDNS, the hidden primary -------------------------------------------------------------


class PowerDnsPrimary(Peer):
    """pdns_server (gsqlite3) on ``address``: zones loaded with pdnsutil, transfers only with
    ``key`` (``allow-axfr-ips`` empty: the key is the only way in), NOTIFY to ``also_notify``
    only when a test asks for it."""

    name = "pdns"

    def __init__(self, workdir: Path, address: str, key: TsigKey) -> None:
        super().__init__(workdir)
        self.pdns_server = require_program("pdns_server")
        self.pdnsutil = require_program("pdnsutil")
        self.pdns_control = require_program("pdns_control")
        self.address = address
        self.port = free_port(address)
        self.key = key
        self.db = workdir / "pdns.sqlite3"
        with contextlib.closing(sqlite3.connect(self.db)) as conn:
            conn.executescript(PDNS_SCHEMA.read_text())
            conn.commit()
        (workdir / "pdns.conf").write_text(
            "launch=gsqlite3\n"
            f"gsqlite3-database={self.db}\n"
            "gsqlite3-dnssec=yes\n"  # needed to serve a PRESIGNED zone's RRSIGs
            f"local-address={address}\n"
            f"local-port={self.port}\n"
            f"query-local-address={address}\n"
            f"socket-dir={workdir}\n"
            "daemon=no\nguardian=no\nsetuid=\nsetgid=\n"
            "primary=yes\nwebserver=no\napi=no\ndisable-syslog=yes\n"
            "loglevel=6\n"
            "security-poll-suffix=\n"  # no status query to the Internet
            "allow-axfr-ips=\n"  # only the TSIG key opens a transfer
            "only-notify=\n"  # NOTIFY only to ALSO-NOTIFY, never to the NS names
            "xfr-cycle-interval=3600\n"  # no NOTIFY of its own for a changed serial
            "cache-ttl=0\nquery-cache-ttl=0\nnegquery-cache-ttl=0\n"
            "zone-cache-refresh-interval=0\n"
            "distributor-threads=1\nreceiver-threads=1\n"
        )
        self.util("import-tsig-key", key.bare, key.algorithm, key.secret)

    def util(self, *args: str) -> str:
        done = subprocess.run(
            [self.pdnsutil, f"--config-dir={self.workdir}", *args],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False,
        )
        assert done.returncode == 0, f"pdnsutil {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done.stdout

    def add_zone(self, origin: str, text: str, *, also_notify: Sequence[tuple[str, int]] = (),
                 presigned: bool = False) -> None:
        path = self.workdir / f"{origin}zone"
        path.write_text(text)
        self.util("load-zone", origin, str(path))
        self.util("activate-tsig-key", origin, self.key.bare, "primary")
        if presigned:
            self.util("set-meta", origin, "PRESIGNED", "1")
        if also_notify:
            self.util("set-meta", origin, "ALSO-NOTIFY",
                      *(f"{addr}:{port}" for addr, port in also_notify))

    def start(self) -> None:
        self.spawn([self.pdns_server, f"--config-dir={self.workdir}"])

    def wait_ready(self, zone: str) -> None:
        def ready() -> bool:
            self.check_alive()
            return soa_serial(self.address, self.port, zone) is not None

        wait_for(ready, START_TIMEOUT, f"PowerDNS serving {zone}", self.log_tail)

    def serial(self, zone: str) -> int | None:
        return soa_serial(self.address, self.port, zone)

    def set_rrset(self, zone: str, name: str, rtype: str, ttl: int, *contents: str) -> None:
        """Replace an RRset (``name`` relative to the zone, ``@`` for the apex)."""
        self.util("replace-rrset", zone, name, rtype, str(ttl), *contents)

    def increase_serial(self, zone: str) -> int:
        self.util("increase-serial", zone)
        serial = wait_for(lambda: self.serial(zone), 10, f"PowerDNS serial of {zone}")
        return serial

    def sql(self, statement: str, *params: object) -> None:
        """Change the records behind pdnsutil's back, for data it would refuse to load."""
        with contextlib.closing(sqlite3.connect(self.db)) as conn:
            conn.execute(statement, params)
            conn.commit()

    def domain_id(self, zone: str) -> int:
        with contextlib.closing(sqlite3.connect(self.db)) as conn:
            row = conn.execute("SELECT id FROM domains WHERE name = ?",
                               (zone.rstrip("."),)).fetchone()
        assert row is not None, f"{zone} is not in PowerDNS's database"
        return int(row[0])

    def notify(self, zone: str) -> None:
        """NOTIFY now, to the zone's ALSO-NOTIFY addresses."""
        done = subprocess.run(
            [self.pdns_control, f"--config-dir={self.workdir}", f"--socket-dir={self.workdir}",
             "notify", zone],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30, check=False,
        )
        assert done.returncode == 0, f"pdns_control notify {zone}: {done.stdout}{done.stderr}"


# --- Knot, a primary that answers IXFR from a journal -------------------------------------


class KnotPrimary(Peer):
    """knotd on ``address`` serving ``zone`` from a file, with a journal of the differences
    between reloads (``zonefile-load: difference``), so its answer to IXFR is a real diff;
    transfers with ``key`` only; NOTIFY, signed, from ``address`` to whoever :meth:`start` names.
    """

    name = "knotd"

    def __init__(self, workdir: Path, address: str, zone: str, key: TsigKey) -> None:
        super().__init__(workdir)
        self.knotd = require_program("knotd")
        self.knotc = require_program("knotc")
        self.address = address
        self.port = free_port(address)
        self.zone = zone
        self.key = key
        self.config = workdir / "knot.conf"
        self.zone_file = workdir / f"{zone}zone"
        # sockaddr_un holds 107 bytes; pytest's tmp_path may be deeper than that.
        self._sock_dir = Path(tempfile.mkdtemp(prefix="sw-kn-"))

    def start(self, text: str, notify: tuple[str, int]) -> None:
        user = f"{pwd.getpwuid(os.getuid()).pw_name}:{grp.getgrgid(os.getgid()).gr_name}"
        (self.workdir / "db").mkdir(exist_ok=True)  # knotd does not create it
        self.zone_file.write_text(text)
        self.config.write_text(f"""server:
    rundir: "{self.workdir}"
    listen: {self.address}@{self.port}
    user: {user}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "{self.workdir}/db"
control:
    listen: "{self._sock_dir}/knot.sock"
log:
  - target: stderr
    any: info
key:
  - id: {self.key.name}
    algorithm: {self.key.algorithm}
    secret: {self.key.secret}
remote:
  - id: signer
    address: {notify[0]}@{notify[1]}
    via: {self.address}
    key: {self.key.name}
acl:
  - id: keyed-transfer
    address: 127.0.0.0/8
    key: {self.key.name}
    action: transfer
template:
  - id: default
    storage: "{self.workdir}"
    file: "%s.zone"
    zonefile-sync: -1
    journal-content: changes
    zonefile-load: difference
    semantic-checks: off
zone:
  - domain: {self.zone}
    notify: signer
    acl: keyed-transfer
""")
        self.spawn([self.knotd, "-c", str(self.config)])

        def serving() -> bool:
            self.check_alive()
            return soa_serial(self.address, self.port, self.zone) is not None

        wait_for(serving, START_TIMEOUT, f"knotd serving {self.zone}", self.log_tail)

    def load(self, text: str) -> int:
        """A new version of the zone file, reloaded (journaled as a diff, NOTIFY sent)."""
        self.zone_file.write_text(text)
        done = subprocess.run([self.knotc, "-c", str(self.config), "-b", "zone-reload",
                               self.zone], capture_output=True, text=True, timeout=60,
                              check=False)
        assert done.returncode == 0, f"knotc zone-reload: {done.stdout}{done.stderr}"
        serial = int(text.split(" SOA ", 1)[1].split()[2])
        wait_for(lambda: soa_serial(self.address, self.port, self.zone) == serial, 15,
                 f"knotd serving serial {serial}", self.log_tail)
        return serial

    def outgoing(self) -> list[str]:
        """Knot's log lines for the transfers it served ("IXFR, outgoing" / "AXFR, outgoing")
        that started."""
        return [line for line in self.log_text().splitlines()
                if "XFR, outgoing" in line and "started" in line]

    def stop(self) -> int | None:
        code = super().stop()
        shutil.rmtree(self._sock_dir, ignore_errors=True)
        return code


# --- BIND 9, the public secondaries ---------------------------------------------------------


@dataclass(frozen=True)
class Transfer:
    """One zone transfer as BIND logged it."""

    kind: str  # "IXFR" or "AXFR"
    line: str
    records: int | None = None  # from BIND's "Transfer completed" line that follows
    octets: int | None = None


_COMPLETED = re.compile(r"Transfer completed: \d+ messages, (?P<records>\d+) records, "
                        r"(?P<octets>\d+) bytes")


class BindSecondary(Peer):
    """named as a secondary of ``primary`` (address, port) for ``zone``, transfers signed with
    ``key``, on 127.0.0.1 and a port of its own."""

    name = "named"

    def __init__(self, workdir: Path, zone: str, primary: tuple[str, int], key: TsigKey) -> None:
        super().__init__(workdir)
        self.named = require_program("named")
        self.zone = zone
        self.primary = primary
        self.key = key
        self.address = BIND_HOST
        self.port = free_port(BIND_HOST)
        self.config = workdir / "named.conf"

    def write_config(self) -> None:
        w = self.workdir
        addr, port = self.primary
        self.config.write_text(f"""\
options {{
    directory "{w}";
    pid-file "{w}/named.pid";
    session-keyfile "{w}/session.key";
    managed-keys-directory "{w}";
    listen-on port {self.port} {{ {self.address}; }};
    listen-on-v6 {{ none; }};
    query-source address {self.address};
    transfer-source {self.address};
    notify-source {self.address};
    recursion no;
    dnssec-validation no;
    notify no;
    min-refresh-time 1;
    min-retry-time 1;
    allow-query {{ 127.0.0.0/8; }};
}};
controls {{ }};
key "{self.key.bare}" {{ algorithm {self.key.algorithm}; secret "{self.key.secret}"; }};
zone "{self.zone.rstrip('.')}" {{
    type secondary;
    primaries {{ {addr} port {port} key "{self.key.bare}"; }};
    file "{self.zone.rstrip('.')}.db";
    masterfile-format text;
    allow-notify {{ 127.0.0.0/8; }};
}};
""")

    def start(self) -> None:
        self.write_config()
        checkconf = find_program("named-checkconf")
        if checkconf is not None:
            done = subprocess.run([checkconf, str(self.config)], capture_output=True, text=True,
                                  timeout=60, check=False)
            assert done.returncode == 0, f"named-checkconf: {done.stdout}{done.stderr}"
        # -d 3: the xfrin lines that tell IXFR from AXFR are debug level 3.
        self.spawn([self.named, "-g", "-d", "3", "-n", "1", "-c", str(self.config)])

        def listening() -> bool:
            self.check_alive()
            ask(self.address, self.port, self.zone, "SOA", timeout=0.3)
            return True

        wait_for(listening, START_TIMEOUT, f"named on port {self.port}", self.log_tail)

    def serial(self) -> int | None:
        return soa_serial(self.address, self.port, self.zone)

    def wait_serial(self, serial: int, timeout: float = 30.0) -> None:
        def there() -> bool:
            self.check_alive()
            return self.serial() == serial

        wait_for(there, timeout, f"BIND :{self.port} serving {self.zone} serial {serial}",
                 self.log_tail)

    def ask(self, name: str, rdtype: str) -> dns.message.Message:
        return ask(self.address, self.port, name, rdtype)

    def transfers(self) -> list[Transfer]:
        """The transfers received so far, in order, by the xfrin debug line naming their kind."""
        out: list[Transfer] = []
        for line in self.log_text().splitlines():
            if "got incremental response" in line:
                out.append(Transfer("IXFR", line))
            elif "got nonincremental response" in line:
                out.append(Transfer("AXFR", line))
            elif out and out[-1].records is None and (m := _COMPLETED.search(line)):
                out[-1] = Transfer(out[-1].kind, out[-1].line, int(m["records"]),
                                   int(m["octets"]))
        return out


# --- Unbound, the validating resolver --------------------------------------------------------


class UnboundResolver(Peer):
    """unbound validating with ``anchor`` (a DS or DNSKEY line) as its only trust anchor,
    resolving ``zone`` only through ``stubs`` (address, port), flushed on demand."""

    name = "unbound"

    def __init__(self, workdir: Path, zone: str, anchor: str,
                 stubs: Sequence[tuple[str, int]],
                 other_stubs: dict[str, tuple[str, int]] | None = None) -> None:
        """``other_stubs``: more zones (a parent) and the one server each is asked at."""
        super().__init__(workdir)
        self.other_stubs = dict(other_stubs or {})
        self.unbound = require_program("unbound")
        self.unbound_control = require_program("unbound-control")
        self.zone = zone
        self.anchor = anchor
        self.stubs = list(stubs)
        self.address = NET + ".53"
        self.port = free_port(self.address)
        self.config = workdir / "unbound.conf"
        # sockaddr_un holds 107 bytes; pytest's tmp_path may be deeper than that.
        self._sock_dir = Path(tempfile.mkdtemp(prefix="sw-ub-"))

    def write_config(self) -> None:
        w = self.workdir
        tld = self.zone.rstrip(".").rsplit(".", 1)[-1]
        stub_addrs = "\n".join(f"    stub-addr: {a}@{p}" for a, p in self.stubs)
        (w / "root.hints").write_text(". 3600000 NS a.root.\na.root. 3600000 A 127.0.0.254\n")
        self.config.write_text(f"""\
server:
    interface: {self.address}
    port: {self.port}
    outgoing-interface: {self.address}
    do-ip6: no
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "{w}"
    pidfile: "{w}/unbound.pid"
    root-hints: "{w}/root.hints"
    use-syslog: no
    logfile: ""
    verbosity: 1
    val-log-level: 2
    ede: yes
    num-threads: 1
    so-reuseport: no
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    module-config: "validator iterator"
    local-zone: "{tld}." nodefault
    trust-anchor: "{self.anchor}"
    cache-max-negative-ttl: 1
    val-bogus-ttl: 1
    infra-host-ttl: 5
    prefetch: no
    serve-expired: no
remote-control:
    control-enable: yes
    control-use-cert: no
    control-interface: "{self._sock_dir}/ctl.sock"
stub-zone:
    name: "{self.zone}"
    stub-prime: no
{stub_addrs}
{"".join(f'stub-zone:{chr(10)}    name: "{z}"{chr(10)}    stub-prime: no{chr(10)}'
         f'    stub-addr: {a}@{p}{chr(10)}' for z, (a, p) in self.other_stubs.items())}""")

    def start(self) -> None:
        self.write_config()
        self.spawn([self.unbound, "-d", "-c", str(self.config)])

        def answering() -> bool:
            self.check_alive()
            ask(self.address, self.port, self.zone, "SOA", recursion=True, timeout=0.5)
            return True

        wait_for(answering, START_TIMEOUT, f"unbound on {self.address}:{self.port}",
                 self.log_tail)

    def flush(self) -> None:
        for args in (("flush_zone", self.zone), ("flush_bogus",), ("flush_infra", "all"),
                     ("flush_requestlist",)):
            done = subprocess.run([self.unbound_control, "-c", str(self.config), *args],
                                  capture_output=True, text=True, timeout=30, check=False)
            assert done.returncode == 0, f"unbound-control {args}: {done.stdout}{done.stderr}"

    def resolve(self, name: str, rdtype: str, *, fresh: bool = True) -> dns.message.Message:
        """The validated answer (``fresh``: from the secondaries, not from the cache)."""
        if fresh:
            self.flush()
        return ask(self.address, self.port, name, rdtype, recursion=True, timeout=5.0)

    def stop(self) -> int | None:
        code = super().stop()
        shutil.rmtree(self._sock_dir, ignore_errors=True)
        return code


@dataclass(frozen=True)
class Verdict:
    """What a validating resolver said about one name."""

    rcode: str
    ad: bool
    rdata: frozenset[str]  # the answer's records of the asked type, as text
    detail: str  # extended errors

    @property
    def secure(self) -> bool:
        return self.rcode in ("NOERROR", "NXDOMAIN") and self.ad


def verdict(answer: dns.message.Message, rdtype: str) -> Verdict:
    wanted = dns.rdatatype.from_text(rdtype)
    rdata = frozenset(rd.to_text() for rrset in answer.answer if rrset.rdtype == wanted
                      for rd in rrset)
    details = "; ".join(f"{o.code.name}: {o.text or ''}" for o in answer.options
                        if hasattr(o, "code") and hasattr(o, "text"))
    return Verdict(dns.rcode.to_text(answer.rcode()), bool(answer.flags & dns.flags.AD), rdata,
                   details)


def ds_anchor(zone: str, dnskey_answer: dns.message.Message) -> str:
    """``"zone. DS tag alg 2 HEX"`` of the zone's first key-signing DNSKEY, computed here with
    dnspython from what a secondary serves (what a parent would publish)."""
    owner = dns.name.from_text(zone)
    for rrset in dnskey_answer.answer:
        if rrset.rdtype != dns.rdatatype.DNSKEY:
            continue
        for key in rrset:
            if key.flags & 1:  # SEP
                ds = dns.dnssec.make_ds(owner, key, "SHA256")
                return f"{zone} DS {ds.to_text()}"
    raise AssertionError(f"no KSK in the DNSKEY answer:\n{dnskey_answer}")


# --- signwire serve ------------------------------------------------------------------------


class Signwire(Peer):
    """``python -m signwire serve --config FILE`` with a generated configuration: ``zone``
    transferred from ``primary`` (address, port) with ``key``, served on ``address`` to the
    ACL's networks (signed with ``key``), NOTIFY to ``secondaries``."""

    name = "signwire"

    def __init__(self, workdir: Path, address: str, zone: str, primary: tuple[str, int],
                 key: TsigKey, secondaries: Sequence[tuple[str, int]], *,
                 transfer_networks: Sequence[str] = ("127.0.0.1/32",),
                 min_timers: tuple[int, int, int] | None = None,
                 port: int | None = None, soa_expire: int | None = None,
                 policy: str | None = None) -> None:
        super().__init__(workdir)
        self.address = address
        self.port = port if port is not None else free_port(address)
        self.zone = zone
        self.primary = primary
        self.key = key
        self.secondaries = list(secondaries)
        self.transfer_networks = list(transfer_networks)
        self.min_timers = min_timers
        self.soa_expire = soa_expire
        self.policy = policy  # the body of a [policy.lab] table, or None: the default
        self.config = workdir / "signwire.toml"

    def write_config(self) -> None:
        nets = ", ".join(f'"{n}"' for n in self.transfer_networks)
        secondaries = ", ".join(f'"{a}:{p}"' for a, p in self.secondaries)
        timers = ""
        if self.min_timers is not None:
            refresh, retry, expire = self.min_timers
            timers = f"min-refresh = {refresh}\nmin-retry = {retry}\nmin-expire = {expire}\n"
        if self.soa_expire is not None or self.policy is not None:
            # soa_expire: the expire the secondaries get, short, so a secondary cut off from
            # signwire (or told to expire with it) would go dark within the test.
            body = self.policy or f"soa-expire = {self.soa_expire}\n"
            (self.workdir / "policies.toml").write_text(f"[policy.lab]\n{body}")
            timers += 'policy = "lab"\npolicy-file = "policies.toml"\n'
        (self.workdir / "xfr.key").write_text(self.key.secret + "\n")
        (self.workdir / "xfr.key").chmod(0o600)
        self.config.write_text(f"""\
[server]
listen = ["{self.address}:{self.port}"]
state = "state"

[tsig.{self.key.bare}]
algorithm = "{self.key.algorithm}"
secret-file = "xfr.key"

[remote.hidden-primary]
addresses = ["{self.primary[0]}:{self.primary[1]}"]
key = "{self.key.bare}"

[remote.secondaries]
addresses = [{secondaries}]

[acl.secondaries]
networks = [{nets}]
key = "{self.key.bare}"

[[zone]]
name = "{self.zone}"
primaries = ["hidden-primary"]
notify = ["secondaries"]
allow-transfer = ["secondaries"]
{timers}""")

    def start(self, *, wait: bool = True) -> float:
        """Start; with ``wait``, return the seconds until it answered the zone's SOA."""
        if not self.config.exists():
            self.write_config()
        started = time.monotonic()
        self.spawn([sys.executable, "-m", "signwire", "serve", "--config", str(self.config)])
        if wait:
            self.wait_serving()
        return time.monotonic() - started

    def wait_serving(self, timeout: float = START_TIMEOUT) -> int:
        def serving() -> int | None:
            self.check_alive()
            return self.serial()

        return wait_for(serving, timeout, f"signwire serving {self.zone}", self.log_tail,
                        interval=0.02)

    def serial(self) -> int | None:
        return soa_serial(self.address, self.port, self.zone)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "signwire", *args, "--config", str(self.config)],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
            cwd=self.workdir, check=False,
        )

    def status(self) -> str:
        done = self.cli("status")
        assert done.returncode == 0, f"signwire status: {done.stdout}{done.stderr}"
        return done.stdout


# --- the whole chain -----------------------------------------------------------------------


ZONE = "example.test."


def zone_text(serial: int, timers: tuple[int, int, int] = (3600, 600, 1209600),
              extra: str = "") -> str:
    refresh, retry, expire = timers
    return f"""\
$ORIGIN {ZONE}
$TTL 5
@      SOA  ns1.{ZONE} hostmaster.{ZONE} {serial} {refresh} {retry} {expire} 5
@      NS   ns1.{ZONE}
@      NS   ns2.{ZONE}
@      MX   10 mail.{ZONE}
ns1    A    192.0.2.1
ns2    A    192.0.2.2
mail   A    192.0.2.25
www    A    192.0.2.80
sub    NS   ns.sub.{ZONE}
ns.sub A    192.0.2.53
{extra}"""


def add_secondary(lab: Lab, key: TsigKey) -> BindSecondary:
    """One more BIND secondary of the lab's signwire, transfers signed with ``key``, started."""
    s = BindSecondary(lab.root / f"bind{len(lab.started) + 1}", ZONE,
                      (lab.signwire.address, lab.signwire.port), key)
    lab.run(s, s.start)
    return s


class Lab:
    """PowerDNS → signwire → two BIND secondaries → one Unbound per secondary (so that each
    secondary is validated on its own). Everything started is stopped by :meth:`close`."""

    def __init__(self, root: Path, *, timers: tuple[int, int, int] = (3600, 600, 1209600),
                 min_timers: tuple[int, int, int] | None = None, also_notify: bool = True,
                 serial: int = 2026120201, primary: tuple[str, int] | None = None,
                 key: TsigKey | None = None, extra: str = "",
                 secondary_expire: int | None = None, policy: str | None = None) -> None:
        """``primary``: signwire's primary is that (address, port), not PowerDNS, which is then
        left unstarted (for data PowerDNS will not serve)."""
        self.root = root
        self.key = key if key is not None else TsigKey.make()
        self.started: list[Peer] = []
        self.pdns = PowerDnsPrimary(root / "pdns", NET + ".11", self.key)
        # Ports are fixed before anything starts, so each configuration can name the others.
        signwire_address = NET + ".12"
        signwire_port = free_port(signwire_address)
        self.secondaries = [
            BindSecondary(root / f"bind{i}", ZONE, (signwire_address, signwire_port), self.key)
            for i in (1, 2)
        ]
        self.use_pdns = primary is None
        self.signwire = Signwire(
            root / "signwire", signwire_address, ZONE,
            primary if primary is not None else (self.pdns.address, self.pdns.port),
            self.key, [(s.address, s.port) for s in self.secondaries], min_timers=min_timers,
            port=signwire_port, soa_expire=secondary_expire, policy=policy,
        )
        self.timers = timers
        self.pdns.add_zone(
            ZONE, zone_text(serial, timers, extra),
            also_notify=[(signwire_address, signwire_port)] if also_notify else (),
        )
        self.resolvers: list[UnboundResolver] = []

    def run(self, peer: Peer, start: Callable[[], object]) -> None:
        self.started.append(peer)
        start()

    def start(self, anchor: str | None = None,
              other_stubs: dict[str, tuple[str, int]] | None = None) -> int:
        """Start the chain; the serial both secondaries serve (and validate) first. The
        resolvers trust ``anchor`` (default: the zone's own DS) and also resolve
        ``other_stubs`` (a parent zone, say)."""
        if self.use_pdns:
            self.run(self.pdns, self.pdns.start)
            self.pdns.wait_ready(ZONE)
        for s in self.secondaries:
            self.run(s, s.start)
        self.run(self.signwire, self.signwire.start)
        serial = self.signwire.wait_serving()
        for s in self.secondaries:
            s.wait_serial(serial)
        if anchor is None:
            anchor = ds_anchor(ZONE, self.secondaries[0].ask(ZONE, "DNSKEY"))
        for i, s in enumerate(self.secondaries, 1):
            resolver = UnboundResolver(self.root / f"unbound{i}", ZONE, anchor,
                                       [(s.address, s.port)], other_stubs)
            self.resolvers.append(resolver)
            self.run(resolver, resolver.start)
        return serial

    def verdicts(self, name: str, rdtype: str) -> list[Verdict]:
        """One validated answer per secondary."""
        return [verdict(r.resolve(name, rdtype), rdtype) for r in self.resolvers]

    def pdns_answer(self, name: str, rdtype: str) -> dns.message.Message:
        return ask(self.pdns.address, self.pdns.port, name, rdtype)

    def logs(self) -> str:
        return "\n".join(p.log_tail(25) for p in self.started)

    def close(self) -> None:
        for peer in reversed(self.started):
            with contextlib.suppress(Exception):
                peer.stop()


def lab_factory(tmp_path: Path) -> Iterator[Callable[..., Lab]]:
    """For a fixture: yields ``make(**options) -> Lab`` (not started); closes every lab made
    when resumed, also after a failure."""
    labs: list[Lab] = []

    def make(**options: object) -> Lab:
        lab = Lab(tmp_path / f"lab{len(labs)}", **options)  # type: ignore[arg-type]
        labs.append(lab)
        return lab

    try:
        yield make
    finally:
        for lab in labs:
            lab.close()


def sign_offline(workdir: Path, zone: str, text: str) -> tuple[str, str]:
    """``signwire sign`` a zone file: the signed text, and its DS line (``zone. DS ...``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / f"{zone}zone"
    source.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "signwire", "sign", str(source), "--origin", zone, "--keys",
         str(workdir / "keys"), "-o", str(workdir / "signed.zone")],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, f"signwire sign: {done.stdout}{done.stderr}"
    m = re.search(r"(\S+)\s+(?:\d+\s+)?IN\s+DS\s+(\d+ \d+ \d+ [0-9A-Fa-f]+)",
                  done.stdout + done.stderr)
    assert m is not None, f"no DS in the output of signwire sign:\n{done.stdout}{done.stderr}"
    return (workdir / "signed.zone").read_text(), f"{zone} DS {m.group(2)}"


def send_notify(to: tuple[str, int], zone: str, serial: int, *, source: str,
                key: TsigKey | None) -> dns.message.Message | None:
    """A NOTIFY from ``source`` (signed with ``key`` when given); the answer, or None."""
    msg = dns.message.make_query(zone, dns.rdatatype.SOA)
    msg.flags = dns.flags.AA  # before the opcode: both live in the flags word
    msg.set_opcode(dns.opcode.NOTIFY)
    msg.answer.append(dns.rrset.from_text(zone, 5, "IN", "SOA",
                                          f"ns1.{zone} h.{zone} {serial} 1 1 1 1"))
    if key is not None:
        msg.use_tsig(key.keyring(), keyname=key.name)
    try:
        return dns.query.udp(msg, to[0], port=to[1], timeout=3, source=source,
                             ignore_unexpected=True)
    except dns.exception.Timeout:
        return None
    except (dns.message.UnknownTSIGKey, dns.tsig.PeerError):
        return None  # answered with a TSIG error we cannot verify: not accepted
