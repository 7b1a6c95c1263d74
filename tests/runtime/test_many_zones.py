"""Many zones in one daemon: one timer schedule drives them all, and each is signed and
served."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rdatatype
from tests.runtime.test_serve import ADDRESS, SOA_PORT, ZONE, Daemon, free_port

ZONES = 25
TEXT = """\
$TTL 300
@    IN SOA ns1 hostmaster 1 3600 600 86400 60
@    IN NS  ns1
ns1  IN A   192.0.2.1
www  IN A   192.0.2.{n}
"""


def test_many_zones_signed_and_served(tmp_path: Path) -> None:
    port = free_port()
    SOA_PORT[:] = [port]
    blocks = []
    for n in range(ZONES):
        (tmp_path / f"z{n}.zone").write_text(TEXT.format(n=n + 1))
        blocks.append(f'[[zone]]\nname = "z{n}.test."\nfile = "z{n}.zone"\n')
    # The fixture helper waits for example.com.; serve it too.
    (tmp_path / "example.com.zone").write_text(TEXT.format(n=200))
    blocks.append(f'[[zone]]\nname = "{ZONE}"\nfile = "example.com.zone"\n')
    (tmp_path / "signwire.toml").write_text(
        f'[server]\nlisten = ["{ADDRESS}:{port}"]\nstate = "state"\n\n' + "\n".join(blocks))
    daemon = Daemon(tmp_path)
    started = time.monotonic()
    try:
        daemon.start()
        pending = {f"z{n}.test." for n in range(ZONES)}
        deadline = time.monotonic() + 120
        while pending and time.monotonic() < deadline:
            for name in sorted(pending):
                q = dns.message.make_query("www." + name, "A", want_dnssec=True)
                q.flags &= ~dns.flags.RD
                answer = dns.query.udp(q, ADDRESS, port=port, timeout=2)
                if any(r.rdtype == dns.rdatatype.RRSIG for r in answer.answer):
                    pending.discard(name)
            time.sleep(0.1)
        took = time.monotonic() - started
        assert not pending, f"not served signed after {took:.0f} s: {sorted(pending)}"
        print(f"{ZONES + 1} zones signed and served {took:.1f} s after start")
        status = daemon.signwire("zone", "list")
        assert status.stdout.count(".test.") == ZONES
    finally:
        if daemon.proc is not None and daemon.proc.poll() is None:
            assert daemon.stop(signal.SIGTERM) == 0


def test_a_big_zone_is_signed_by_the_signature_workers(tmp_path: Path) -> None:
    """Above WORKERS_FROM_RECORDS a first signing hands its signatures to worker processes;
    the version they make is verified like any other before it is served."""
    port = free_port()
    SOA_PORT[:] = [port]
    hosts = "".join(f"h{i} IN A 192.0.2.{i % 250 + 1}\n" for i in range(6000))
    (tmp_path / "example.com.zone").write_text(TEXT.format(n=200) + hosts)
    (tmp_path / "signwire.toml").write_text(
        f'[server]\nlisten = ["{ADDRESS}:{port}"]\nstate = "state"\n\n'
        f'[[zone]]\nname = "{ZONE}"\nfile = "example.com.zone"\n')
    daemon = Daemon(tmp_path)
    try:
        daemon.start()
        q = dns.message.make_query("h5999." + ZONE, "A", want_dnssec=True)
        q.flags &= ~dns.flags.RD
        answer = dns.query.udp(q, ADDRESS, port=port, timeout=2)
        assert any(r.rdtype == dns.rdatatype.RRSIG for r in answer.answer), answer
        log = daemon.log.read_text()
        assert "signature workers started" in log, log
        assert "verified serial" in log and "failed verification" not in log, log
    finally:
        if daemon.proc is not None and daemon.proc.poll() is None:
            assert daemon.stop(signal.SIGTERM) == 0


def test_a_zone_under_the_insecure_policy_is_served_unsigned(tmp_path: Path) -> None:
    port = free_port()
    SOA_PORT[:] = [port]
    (tmp_path / "example.com.zone").write_text(TEXT.format(n=200))
    (tmp_path / "signwire.toml").write_text(
        f'[server]\nlisten = ["{ADDRESS}:{port}"]\nstate = "state"\n\n'
        f'[[zone]]\nname = "{ZONE}"\nfile = "example.com.zone"\npolicy = "insecure"\n')
    daemon = Daemon(tmp_path)
    try:
        daemon.start()
        for name, rdtype in (("www." + ZONE, "A"), (ZONE, "DNSKEY"), ("nx." + ZONE, "A")):
            q = dns.message.make_query(name, rdtype, want_dnssec=True)
            q.flags &= ~dns.flags.RD
            answer = dns.query.udp(q, ADDRESS, port=port, timeout=2)
            records = [r.rdtype for r in (*answer.answer, *answer.authority)]
            assert not {dns.rdatatype.RRSIG, dns.rdatatype.NSEC, dns.rdatatype.DNSKEY} & set(
                records), answer
        assert "published serial" in daemon.log.read_text()
    finally:
        if daemon.proc is not None and daemon.proc.poll() is None:
            assert daemon.stop(signal.SIGTERM) == 0
