"""``signwire serve`` in a subprocess on 127.0.0.x high ports, checked with dnspython.

One daemon per test module run (signing keys are made once), with its own state directory and
a small UDP listener standing in for a secondary that receives NOTIFY.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsigkeyring
import pytest

from interop.live_dns import free_port  # the runtime tests take it from here

ROOT = Path(__file__).resolve().parents[2]
SECRET = "RFTvNORtEQ8EHFDVhcqh48B1uqKCQqPqE1NBIeCf0dE="
KEYRING = dns.tsigkeyring.from_text({"xfr-key.": ("hmac-sha256", SECRET)})
ZONE = "example.com."
ADDRESS = "127.0.0.1"


class NotifyListener:
    """A secondary's NOTIFY socket: records (zone, serial) and acknowledges each NOTIFY."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ADDRESS, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received: list[tuple[str, int | None]] = []
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                data, addr = self.sock.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            msg = dns.message.from_wire(data)
            if msg.opcode() != dns.opcode.NOTIFY:
                continue
            serial = None
            for rrset in msg.answer:
                if rrset.rdtype == dns.rdatatype.SOA:
                    serial = rrset[0].serial
            self.received.append((msg.question[0].name.to_text(), serial))
            reply = dns.message.make_response(msg)
            self.sock.sendto(reply.to_wire(), addr)

    def wait_for(self, serial: int, timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (ZONE, serial) in self.received:
                return True
            time.sleep(0.1)
        return False

    def close(self) -> None:
        self._stop = True
        self.thread.join()
        self.sock.close()


class Daemon:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.config = folder / "signwire.toml"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = folder / "daemon.log"

    def start(self) -> float:
        """Start and wait until it answers SOA; the seconds that took."""
        started = time.monotonic()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "signwire", "serve", "--config", str(self.config)],
                stdout=log, stderr=log, cwd=self.folder,
            )
        deadline = started + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                answer = query(SOA_PORT[0], ZONE, "SOA", timeout=0.5)
                if answer.rcode() == dns.rcode.NOERROR and answer.answer:
                    return time.monotonic() - started
            except (dns.exception.Timeout, OSError):
                pass
            time.sleep(0.05)
        raise AssertionError("the daemon did not answer: " + self.log.read_text())

    def signwire(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "signwire", *args, "--config", str(self.config)],
            capture_output=True, text=True, timeout=60, cwd=self.folder,
        )

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


SOA_PORT: list[int] = []
IXFR_FROM: list[int] = []  # a serial the journal reaches back to


def ixfr_serials(port: int, since: int) -> list[int]:
    """The SOA serials of an IXFR answer from ``since``, in order (IXFR form: new, old, ...)."""
    q = dns.message.make_query(ZONE, "IXFR")
    q.authority = [dns.rrset.from_text(ZONE, 0, "IN", "SOA", f". . {since} 0 0 0 0")]
    q.use_tsig(KEYRING, keyname="xfr-key.")
    answer = dns.query.tcp(q, ADDRESS, port=port, timeout=10, one_rr_per_rrset=True)
    return [r[0].serial for r in answer.answer if r.rdtype == dns.rdatatype.SOA]


def query(port: int, name: str, rdtype: str, *, dnssec: bool = False,
          timeout: float = 3.0) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype, want_dnssec=dnssec)
    q.flags &= ~dns.flags.RD
    return dns.query.udp(q, ADDRESS, port=port, timeout=timeout)


def soa_serial(port: int) -> int:
    answer = query(port, ZONE, "SOA")
    return int(answer.answer[0][0].serial)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, NotifyListener]]:
    folder = tmp_path_factory.mktemp("serve")
    shutil.copy(ROOT / "examples" / "example.com.zone", folder / "example.com.zone")
    port = free_port()
    SOA_PORT[:] = [port]
    listener = NotifyListener()
    (folder / "xfr.key").write_text(f'key "xfr-key" {{ algorithm hmac-sha256; '
                                    f'secret "{SECRET}"; }};\n')
    (folder / "signwire.toml").write_text(f"""
[server]
listen = ["{ADDRESS}:{port}"]
state = "state"

[tsig.xfr-key]
secret-file = "xfr.key"

[remote.secondary]
addresses = ["{ADDRESS}:{listener.port}"]

[acl.secondaries]
networks = ["127.0.0.0/8"]
key = "xfr-key"

[[zone]]
name = "{ZONE}"
file = "example.com.zone"
notify = ["secondary"]
allow-transfer = ["secondaries"]
output = "example.com.zone.signed"
""")
    daemon = Daemon(folder)
    daemon.start()
    try:
        yield daemon, listener
    finally:
        if daemon.proc is not None and daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.proc.wait()
        listener.close()


def test_soa_and_dnssec_answers(served: tuple[Daemon, NotifyListener]) -> None:
    port = SOA_PORT[0]
    answer = query(port, ZONE, "SOA", dnssec=True)
    assert answer.flags & dns.flags.AA
    types = {r.rdtype for r in answer.answer}
    assert types == {dns.rdatatype.SOA, dns.rdatatype.RRSIG}
    keys = query(port, ZONE, "DNSKEY", dnssec=True)
    assert len(next(r for r in keys.answer if r.rdtype == dns.rdatatype.DNSKEY)) == 2
    missing = query(port, "nothere.example.com.", "A", dnssec=True)
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert any(r.rdtype in (dns.rdatatype.NSEC, dns.rdatatype.NSEC3) for r in missing.authority)
    # A name we are not authoritative for is refused.
    assert query(port, "example.org.", "SOA").rcode() == dns.rcode.REFUSED


def test_axfr_needs_the_key(served: tuple[Daemon, NotifyListener]) -> None:
    port = SOA_PORT[0]
    q = dns.message.make_query(ZONE, "AXFR")
    unsigned = dns.query.tcp(q, ADDRESS, port=port, timeout=5)
    assert unsigned.rcode() == dns.rcode.REFUSED
    q = dns.message.make_query(ZONE, "AXFR")
    q.use_tsig(KEYRING, keyname="xfr-key.")
    records = []
    for message in dns.query.xfr(ADDRESS, ZONE, port=port, keyring=KEYRING,
                                 keyname="xfr-key.", timeout=10):
        records.extend(message.answer)
    types = {r.rdtype for r in records}
    assert {dns.rdatatype.SOA, dns.rdatatype.DNSKEY, dns.rdatatype.RRSIG,
            dns.rdatatype.NSEC3PARAM} <= types


def test_malformed_packets_do_not_stop_the_server(served: tuple[Daemon, NotifyListener]) -> None:
    port = SOA_PORT[0]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for junk in (b"", b"\x00", b"\x12\x34" + b"\xff" * 30, os.urandom(200)):
            s.sendto(junk, (ADDRESS, port))
    with socket.create_connection((ADDRESS, port), timeout=5) as t:
        t.sendall(b"\x00\x05\x01\x02\x03\x04\x05")
    assert soa_serial(port) > 0


def test_notify_out_after_first_publication(served: tuple[Daemon, NotifyListener]) -> None:
    _daemon, listener = served
    assert listener.wait_for(soa_serial(SOA_PORT[0]))


def test_reload_changed_file_gives_ixfr_and_notify(
    served: tuple[Daemon, NotifyListener],
) -> None:
    daemon, listener = served
    port = SOA_PORT[0]
    before = soa_serial(port)
    zone_file = daemon.folder / "example.com.zone"
    text = zone_file.read_text().replace("2026112801 ; serial", "2026112901 ; serial")
    zone_file.write_text(text + "added   IN A    192.0.2.111\n")
    done = daemon.signwire("zone", "reload", ZONE)
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and soa_serial(port) == before:
        time.sleep(0.1)
    after = soa_serial(port)
    assert after != before
    assert query(port, "added.example.com.", "A").answer[0][0].address == "192.0.2.111"
    # IXFR from the previous serial: the diff, not the whole zone.
    q = dns.message.make_query(ZONE, "IXFR")
    q.authority = [dns.rrset.from_text(ZONE, 0, "IN", "SOA", f". . {before} 0 0 0 0")]
    q.use_tsig(KEYRING, keyname="xfr-key.")
    ixfr = dns.query.tcp(q, ADDRESS, port=port, timeout=10, one_rr_per_rrset=True)
    ixfr_answer = ixfr.answer
    serials = [r[0].serial for r in ixfr_answer if r.rdtype == dns.rdatatype.SOA]
    assert serials[:2] == [after, before], serials
    IXFR_FROM[:] = [before]
    n_records = sum(len(r) for r in ixfr_answer)
    assert n_records < 40, f"an IXFR for one new name carries {n_records} records"
    assert listener.wait_for(after)
    status = daemon.signwire("status", "--json")
    assert status.returncode == 0, status.stderr
    (zone,) = json.loads(status.stdout)["zones"]
    assert zone["served_serial"] == after and zone["serving"] is True
    seen = zone["secondaries"][ADDRESS]
    assert seen["last_transfer"] == "IXFR" and seen["notified_serial"] == after
    assert seen["octets"] < 3000, "the IXFR of a one-name change is small"
    assert SECRET not in status.stdout
    (ds,) = zone["ds"]
    assert ds.startswith(f"{ZONE} IN DS ") and " 13 2 " in ds
    # The operator's DS report reaches the enforcer through the daemon (it holds the state).
    from signwire.control.protocol import request

    control = daemon.folder / "state" / "control.sock"
    ksk_tag = int(ds.split()[3])
    answer = request(control, {"command": "key-report", "zone": ZONE, "kind": "ds-seen",
                               "tag": ksk_tag})
    assert answer["ok"] is True and answer["key"].startswith("ksk-")
    assert request(control, {"command": "key-report", "zone": ZONE, "kind": "ds-seen",
                             "tag": 1})["ok"] is False
    listing = daemon.signwire("zone", "list")
    assert f"{ZONE}\tserial {after}" in listing.stdout
    assert (daemon.folder / "example.com.zone.signed").read_text().count("RRSIG") > 10


def test_key_reports_go_to_the_running_daemon(served: tuple[Daemon, NotifyListener]) -> None:
    """The daemon holds the state's lock: a key report is handed over its control socket
    (and the daemon's own checks answer), while reading commands need no lock."""
    daemon, _ = served
    state = str(daemon.folder / "state")
    listed = subprocess.run([sys.executable, "-m", "signwire", "key", "list", "--state", state],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and "KSK" in listed.stdout, listed.stderr
    report = subprocess.run(
        [sys.executable, "-m", "signwire", "key", "ds-seen", ZONE, "1", "--state", state],
        capture_output=True, text=True, timeout=60,
    )
    assert report.returncode == 3, report
    assert "the daemon refused the report" in report.stderr and "no key with tag 1" in report.stderr


def _bump_and_reload(daemon: Daemon, port: int) -> int:
    """A new serial in the zone file, reloaded and served; the serial before it."""
    before = soa_serial(port)
    zone_file = daemon.folder / "example.com.zone"
    text = zone_file.read_text()
    serial = int(re.search(r"(\d+) ; serial", text).group(1))  # type: ignore[union-attr]
    zone_file.write_text(text.replace(f"{serial} ; serial", f"{serial + 1} ; serial"))
    assert daemon.signwire("zone", "reload", ZONE).returncode == 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and soa_serial(port) == before:
        time.sleep(0.1)
    assert soa_serial(port) != before
    return before


def test_sigkill_then_restart_serves_at_once_with_the_same_serial(
    served: tuple[Daemon, NotifyListener],
) -> None:
    daemon, listener = served
    port = SOA_PORT[0]
    if not IXFR_FROM:  # the reload test ran in another worker process: make a change here
        IXFR_FROM[:] = [_bump_and_reload(daemon, port)]
    serial = soa_serial(port)
    daemon.stop(signal.SIGKILL)
    notified = len(listener.received)
    took = daemon.start()
    assert soa_serial(port) == serial
    assert took < 10, f"{took:.1f} s before the restarted daemon answered"
    log = daemon.log.read_text()
    assert f"restored signed serial {serial}" in log
    # The journal came back too: a secondary still gets the change as a diff.
    assert ixfr_serials(port, IXFR_FROM[0])[:2] == [serial, IXFR_FROM[0]]
    # The secondaries hear of the restored serial again: a SIGKILL between their NOTIFY answer
    # and their transfer would otherwise leave them waiting for their SOA retry timer.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (ZONE, serial) not in listener.received[notified:]:
        time.sleep(0.05)
    assert (ZONE, serial) in listener.received[notified:], listener.received
    # No new signing after the restart: the restored version is what was published last.
    tail = log[log.rindex("restored signed serial"):]
    assert "(full," not in tail


def test_sighup_rereads_config_and_zone(served: tuple[Daemon, NotifyListener]) -> None:
    daemon, _ = served
    port = SOA_PORT[0]
    before = soa_serial(port)
    zone_file = daemon.folder / "example.com.zone"
    # Whatever serial the file has now (the reload test may have run in this process or not).
    text = zone_file.read_text()
    serial = int(re.search(r"(\d+) ; serial", text).group(1))  # type: ignore[union-attr]
    zone_file.write_text(text.replace(f"{serial} ; serial", f"{serial + 1} ; serial"))
    # Transfers now only from another address: the new ACL applies at once.
    config = daemon.config.read_text()
    daemon.config.write_text(config.replace('networks = ["127.0.0.0/8"]',
                                            'networks = ["127.0.0.2/32"]'))
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and soa_serial(port) == before:
        time.sleep(0.1)
    assert soa_serial(port) != before
    assert "SIGHUP: configuration read" in daemon.log.read_text()
    q = dns.message.make_query(ZONE, "AXFR")
    q.use_tsig(KEYRING, keyname="xfr-key.")
    assert dns.query.tcp(q, ADDRESS, port=port, timeout=5).rcode() == dns.rcode.REFUSED


def test_sigterm_stops_cleanly(served: tuple[Daemon, NotifyListener]) -> None:
    daemon, _ = served
    soa_serial_seen = [soa_serial(SOA_PORT[0])]
    assert daemon.stop(signal.SIGTERM) == 0
    assert not (daemon.folder / "state" / "control.sock").exists()
    assert "stopping" in daemon.log.read_text()
    assert "Traceback" not in daemon.log.read_text()
    # With no daemon, status reads the state directory.
    offline = daemon.signwire("status", "--json")
    assert offline.returncode == 0, offline.stderr
    (zone,) = json.loads(offline.stdout)["zones"]
    assert zone["state"] == "daemon not running" and zone["served_serial"] == soa_serial_seen[0]
