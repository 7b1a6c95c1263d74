"""The enforcer on its own schedule inside the daemon, with the parent in the loop: under a
policy whose waits are seconds, the new KSK's DS is asked for, the daemon sees it at the
policy's parental agent (a small server in the test), and the key moves on by itself."""

from __future__ import annotations

import signal
import socket
import threading
import time
from pathlib import Path

import dns.dnssec
import dns.flags
import dns.message
import dns.query
import dns.rdatatype
import dns.rrset
from tests.runtime.test_serve import ADDRESS, SOA_PORT, Daemon, free_port

ZONE = "example.com."
TEXT = """\
$TTL 2
@    IN SOA ns1 hostmaster 1 3600 600 86400 1
@    IN NS  ns1
ns1  IN A   192.0.2.1
"""


class ParentAgent:
    """Answers DS questions for the zone with the DS of the signer's current KSK."""

    def __init__(self, signer_port: int) -> None:
        self.signer_port = signer_port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ADDRESS, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.asked = 0
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _ds(self) -> dns.rrset.RRset:
        q = dns.message.make_query(ZONE, "DNSKEY")
        keys = dns.query.udp(q, ADDRESS, port=self.signer_port, timeout=2).answer[0]
        ds = dns.rrset.RRset(dns.name.from_text(ZONE), dns.rdataclass.IN, dns.rdatatype.DS)
        for key in keys:
            if key.flags == 257:
                ds.add(dns.dnssec.make_ds(ZONE, key, "SHA256"), 2)
        return ds

    def _run(self) -> None:
        while not self._stop:
            try:
                wire, peer = self.sock.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            query = dns.message.from_wire(wire)
            reply = dns.message.make_response(query)
            reply.flags |= dns.flags.AA
            if query.question[0].rdtype == dns.rdatatype.DS:
                self.asked += 1
                try:
                    reply.answer.append(self._ds())
                except Exception:
                    reply.set_rcode(dns.rcode.SERVFAIL)
            self.sock.sendto(reply.to_wire(), peer)

    def close(self) -> None:
        self._stop = True
        self.thread.join()
        self.sock.close()


def test_ds_seen_at_the_parent_moves_the_ksk_on(tmp_path: Path) -> None:
    port = free_port()
    SOA_PORT[:] = [port]
    agent = ParentAgent(port)
    (tmp_path / "z.zone").write_text(TEXT)
    (tmp_path / "fast.toml").write_text(f"""
[policy.fast]
algorithm = "ECDSAP256SHA256"
keys = "ksk+zsk"
ksk-lifetime = "unlimited"
zsk-lifetime = "unlimited"
dnskey-ttl = 2
max-zone-ttl = 2
parent-ds-ttl = 2
zone-propagation-delay = 1
parent-propagation-delay = 1
publish-safety = 1
retire-safety = 1
soa-expire = "1h"
soa-negative-ttl = 1
signature-validity = "1d"
signature-refresh = "12h"
signature-jitter = "1h"
signature-inception-offset = "1h"
dnskey-signature-validity = "1d"
parental-agents = ["{ADDRESS}:{agent.port}"]
""")
    (tmp_path / "signwire.toml").write_text(f"""
[server]
listen = ["{ADDRESS}:{port}"]
state = "state"
[[zone]]
name = "{ZONE}"
file = "z.zone"
policy = "fast"
policy-file = "fast.toml"
""")
    daemon = Daemon(tmp_path)
    try:
        daemon.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if "ds rumoured -> omnipresent" in daemon.log.read_text():
                break
            time.sleep(0.2)
        log = daemon.log.read_text()
        assert "DS seen at every parental agent" in log, log[-3000:]
        assert "ds rumoured -> omnipresent" in log, log[-3000:]
        assert agent.asked >= 1
    finally:
        if daemon.proc is not None and daemon.proc.poll() is None:
            daemon.stop(signal.SIGTERM)
        agent.close()
