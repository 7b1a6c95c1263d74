"""Transfers in from a real PowerDNS primary, over a plain TCP socket on loopback.

A PowerDNS Authoritative (gsqlite3 backend) in the foreground serves ``example.test.`` (a few
types) and ``big.test.`` (enough records for its AXFR to span many messages), both open to
transfers only with a TSIG key. The test moves the bytes; signwire's sans-I/O client
(:mod:`signwire.loading.xfr_in`) reads them, and the refresh machine
(:mod:`signwire.loading.refresh`) decides what to do next, as the daemon will.

What PowerDNS 4.7 does, and what is checked here: AXFR signed message by message; IXFR over
TCP answered with the whole zone in AXFR form (it keeps no journal); IXFR from its current
serial answered with its SOA alone; a transfer without the key or with another secret refused
with NOTAUTH; NOTIFY sent signed with the zone's transfer key and no SOA in it.

The server is started by a fixture and stopped at teardown by the process id of the child it
started (killed if it ignores SIGTERM). Its security-status poll (a DNS query to the Internet)
is switched off.
"""

from __future__ import annotations

import base64
import contextlib
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import dns.zone
import pytest

from interop.test_parent_agents import free_port
from interop.verifiers import find_program
from signwire.loading.notify_in import notify_answer, read_notify
from signwire.loading.refresh import (
    AcceptNotify,
    Primary,
    RefreshConfig,
    SendSoaQuery,
    SoaAnswer,
    SoaTimers,
    StartTransfer,
    TimerFired,
    TransferDone,
    initial_state,
    step,
)
from signwire.loading.xfr_in import (
    Diffs,
    FullZone,
    TcpFramer,
    TransferError,
    UpToDate,
    XfrClient,
    make_query,
)

PDNS = find_program("pdns_server")
PDNSUTIL = find_program("pdnsutil")
PDNS_CONTROL = find_program("pdns_control")
SCHEMA = Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")


def _missing() -> str | None:
    if PDNS is None or PDNSUTIL is None or PDNS_CONTROL is None or not SCHEMA.exists():
        return (
            "PowerDNS is not installed (Debian packages pdns-server and pdns-backend-sqlite3; "
            "install them with policy-rc.d forbidding service starts)"
        )
    return None


pytestmark = [pytest.mark.interop, pytest.mark.requires(_missing())]

ADDRESS = "127.0.0.71"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
IO_TIMEOUT = 10.0
KEY_NAME = "xfr-key."
SECRET = b"0123456789abcdef0123456789abcdef"
KEY = dns.tsig.Key(KEY_NAME, SECRET, "hmac-sha256")
BIG_NAMES = 3000

EXAMPLE = """\
$ORIGIN example.test.
$TTL 3600
@ IN SOA ns1.example.test. hostmaster.example.test. 2026120101 7200 900 1209600 300
@ IN NS ns1
@ IN NS ns2.example.net.
@ IN MX 10 mail
@ IN TXT "v=spf1 -all"
ns1 IN A 192.0.2.1
ns1 IN AAAA 2001:db8::1
mail IN A 192.0.2.25
www IN CNAME @
_sip._tcp IN SRV 10 60 5060 sip
sub IN NS ns.sub
ns.sub IN A 192.0.2.53
"""


def big_zone() -> str:
    lines = [
        "$ORIGIN big.test.",
        "$TTL 3600",
        "@ IN SOA ns1.big.test. h.big.test. 7 7200 900 1209600 300",
        "@ IN NS ns1",
        "ns1 IN A 192.0.2.1",
    ]
    for i in range(BIG_NAMES):
        lines.append(f"d{i} IN NS ns1.d{i}")
        lines.append(f"ns1.d{i} IN A 192.0.2.{i % 250}")
        lines.append(f't{i} IN TXT "text {i}"')
    return "\n".join(lines) + "\n"


class PowerDns:
    """One pdns_server in the foreground on ``ADDRESS:port`` with a SQLite database."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sw-pdns-"))
        self.port = free_port(ADDRESS)
        self.notify_port = free_port(ADDRESS)
        self.log = self.dir / "pdns.log"
        self.proc: subprocess.Popen[bytes] | None = None
        db = self.dir / "pdns.sqlite3"
        with contextlib.closing(sqlite3.connect(db)) as conn:
            conn.executescript(SCHEMA.read_text())
            conn.commit()
        (self.dir / "pdns.conf").write_text(
            "launch=gsqlite3\n"
            f"gsqlite3-database={db}\n"
            "gsqlite3-dnssec=no\n"
            f"local-address={ADDRESS}\n"
            f"local-port={self.port}\n"
            f"query-local-address={ADDRESS}\n"
            f"socket-dir={self.dir}\n"
            "daemon=no\nguardian=no\nsetuid=\nsetgid=\n"
            "primary=yes\nwebserver=no\napi=no\ndisable-syslog=yes\n"
            "security-poll-suffix=\n"  # no status query to the Internet
            "allow-axfr-ips=\n"  # the TSIG key is the only way to a transfer
            "only-notify=\n"  # NOTIFY only to ALSO-NOTIFY, not to the NS names
            "cache-ttl=0\nquery-cache-ttl=0\nnegquery-cache-ttl=0\n"
            "zone-cache-refresh-interval=0\n"
        )

    def util(self, *args: str, stdin: str | None = None) -> str:
        assert PDNSUTIL is not None
        done = subprocess.run(
            [PDNSUTIL, f"--config-dir={self.dir}", *args],
            input=stdin, capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 0, f"pdnsutil {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done.stdout

    def load(self, origin: str, text: str) -> None:
        path = self.dir / f"{origin}zone"
        path.write_text(text)
        self.util("load-zone", origin, str(path))
        self.util("set-meta", origin, "TSIG-ALLOW-AXFR", KEY_NAME)

    def start(self) -> None:
        assert PDNS is not None
        self.util("import-tsig-key", KEY_NAME, "hmac-sha256", base64.b64encode(SECRET).decode())
        self.load("example.test.", EXAMPLE)
        self.load("big.test.", big_zone())
        self.load("change.test.", EXAMPLE.replace("example.test.", "change.test."))
        self.util("set-meta", "example.test.", "ALSO-NOTIFY", f"{ADDRESS}:{self.notify_port}")
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [PDNS, f"--config-dir={self.dir}"], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT
        query = dns.message.make_query("example.test.", dns.rdatatype.SOA)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                raise RuntimeError(f"pdns_server exited with {code}:\n{self.logs()}")
            with contextlib.suppress(dns.exception.Timeout, OSError):
                reply = dns.query.udp(query, ADDRESS, timeout=0.2, port=self.port)
                if reply.flags & dns.flags.AA:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"pdns_server did not answer within {START_TIMEOUT} s:\n{self.logs()}")

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


@pytest.fixture(scope="module")
def pdns() -> Iterator[PowerDns]:
    server = PowerDns()
    try:
        server.start()
        yield server
    finally:
        server.stop()


def transfer(
    server: PowerDns, zone: str, serial: int | None, key: dns.tsig.Key | None = KEY
) -> tuple[FullZone | Diffs | UpToDate, int]:
    """One transfer over a fresh TCP connection: the result and the number of messages."""
    origin = dns.name.from_text(zone).to_wire()
    query = make_query(origin, serial=serial, msg_id=4242, now=int(time.time()), key=key)
    client = XfrClient(origin, query, peer=f"{ADDRESS}:{server.port}", key=key)
    framer = TcpFramer()
    with socket.create_connection((ADDRESS, server.port), timeout=IO_TIMEOUT) as sock:
        sock.sendall(len(query.wire).to_bytes(2, "big") + query.wire)
        while client.result is None:
            data = sock.recv(65536)
            if not data:
                return client.end_of_stream(), client.messages
            for wire in framer.feed(data):
                client.feed(wire, int(time.time()))
    return client.result, client.messages


def as_text(records: list[tuple[bytes, int, int, bytes, int]]) -> set[tuple[str, str, int, str]]:
    out = set()
    for owner, rtype, ttl, rdata, _line in records:
        rd = dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.RdataType(rtype), rdata, 0,
                                 len(rdata))
        name = dns.name.from_wire(owner, 0)[0]
        out.add((name.to_text().lower(), dns.rdatatype.to_text(rd.rdtype), ttl,
                 rd.to_text().lower()))
    return out


def zone_text_records(origin: str, text: str) -> set[tuple[str, str, int, str]]:
    z = dns.zone.from_text(text, origin, relativize=False)
    return {
        (name.to_text().lower(), dns.rdatatype.to_text(rds.rdtype), rds.ttl, rd.to_text().lower())
        for name, rds in z.iterate_rdatasets()
        for rd in rds
    }


def test_axfr_with_tsig_gives_the_zone(pdns):
    result, _ = transfer(pdns, "example.test.", None)
    assert isinstance(result, FullZone) and result.serial == 2026120101
    assert result.records[0][1] == dns.rdatatype.SOA
    assert as_text(result.records) == zone_text_records("example.test.", EXAMPLE)


def test_big_axfr_spans_many_signed_messages(pdns):
    result, messages = transfer(pdns, "big.test.", None)
    assert isinstance(result, FullZone)
    assert len(result.records) == 3 + 3 * BIG_NAMES
    assert messages > 1, "the transfer should need several messages"
    assert as_text(result.records) == zone_text_records("big.test.", big_zone())


def test_ixfr_is_answered_with_the_whole_zone(pdns):
    result, _ = transfer(pdns, "example.test.", 2026120100)
    assert isinstance(result, FullZone) and result.serial == 2026120101
    assert as_text(result.records) == zone_text_records("example.test.", EXAMPLE)


def test_ixfr_after_a_change_at_the_primary_gets_the_new_version(pdns):
    before, _ = transfer(pdns, "change.test.", None)
    assert isinstance(before, FullZone)
    pdns.util("replace-rrset", "change.test.", "new", "A", "300", "192.0.2.99")
    pdns.util("increase-serial", "change.test.")
    after, _ = transfer(pdns, "change.test.", before.serial)
    assert isinstance(after, FullZone) and after.serial == before.serial + 1
    added = as_text(after.records) - as_text(before.records)
    assert ("new.change.test.", "A", 300, "192.0.2.99") in added
    assert {r[1] for r in added} == {"A", "SOA"}


def test_ixfr_from_the_current_serial_is_up_to_date(pdns):
    result, messages = transfer(pdns, "example.test.", 2026120101)
    assert result == UpToDate(2026120101) and messages == 1


@pytest.mark.parametrize(
    "key", [None, dns.tsig.Key(KEY_NAME, b"another secret of thirty-two b..", "hmac-sha256")],
    ids=["unsigned", "wrong-secret"],
)
def test_transfer_without_the_right_key_is_refused(pdns, key):
    with pytest.raises(TransferError, match="NOTAUTH") as e:
        transfer(pdns, "example.test.", None, key=key)
    assert ADDRESS in str(e.value) and "example.test." in str(e.value)


def test_refresh_machine_drives_a_first_load_and_a_notify(pdns):
    """The refresh machine against the real primary: first load, then PowerDNS's own NOTIFY
    (signed with the transfer key) is read, accepted and leads to an SOA query."""
    primary = Primary(ADDRESS, pdns.port)
    config = RefreshConfig("example.test.", (primary,), tsig_key=KEY_NAME)
    now = int(time.time())
    out = step(config, initial_state(now), TimerFired(), now)
    assert out.actions == [StartTransfer(primary, None)]
    result, _ = transfer(pdns, "example.test.", None)
    assert isinstance(result, FullZone)
    soa = next(dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.SOA, r[3], 0, len(r[3]))
               for r in result.records if r[1] == dns.rdatatype.SOA)
    timers = SoaTimers(soa.refresh, soa.retry, soa.expire)
    state = step(config, out.state, TransferDone(primary, result.serial, timers), now).state
    assert state.serial == 2026120101 and state.next_check == now + 7200

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind((ADDRESS, pdns.notify_port))
        listener.settimeout(IO_TIMEOUT)
        assert PDNS_CONTROL is not None
        subprocess.run(
            [PDNS_CONTROL, f"--config-dir={pdns.dir}", f"--socket-dir={pdns.dir}", "notify",
             "example.test."],
            check=True, capture_output=True, timeout=30,
        )
        wire, (peer, port) = listener.recvfrom(65535)
        now = int(time.time())
        notify = read_notify(wire, {KEY_NAME: KEY}, now)
        assert notify.zone == "example.test." and notify.tsig_key == KEY_NAME
        out = step(config, state, notify.event(peer), now)
        assert out.actions[:2] == [AcceptNotify(peer), SendSoaQuery(primary)]
        listener.sendto(notify_answer(notify, refused=False, now=now), (peer, port))

    reply = dns.query.tcp(dns.message.make_query("example.test.", dns.rdatatype.SOA), ADDRESS,
                          port=pdns.port, timeout=IO_TIMEOUT)
    serial = reply.answer[0][0].serial
    out = step(config, out.state, SoaAnswer(primary, serial, timers), now)
    assert out.state.last_success == now and out.state.serial == 2026120101
    assert not any(isinstance(a, StartTransfer) for a in out.actions)
