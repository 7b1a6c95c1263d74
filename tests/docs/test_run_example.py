"""The README's first command, run as written: it signs the example offline, then serves it.

``scripts/run-example.sh`` ends in ``signwire serve`` on the embedded default
(``examples/signwire.toml``, 127.0.0.1 port 5353). The README promises that a DNSSEC SOA query
and a keyed AXFR answer at once; this test asks both (and an AXFR without the key, which must
be refused), then stops the daemon with SIGTERM and expects a clean exit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import tomllib
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rdatatype
import dns.tsigkeyring
import dns.xfr
import dns.zone
import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "examples" / "signwire.toml"
ZONE = "example.com."
START_TIMEOUT = 600  # a fresh venv install plus two signings on a busy machine


def _listen() -> tuple[str, int]:
    address, port = tomllib.loads(CONFIG.read_text())["server"]["listen"][0].rsplit(":", 1)
    return address, int(port)


def _soa(address: str, port: int) -> dns.message.Message | None:
    query = dns.message.make_query(ZONE, "SOA", want_dnssec=True)
    try:
        return dns.query.udp(query, address, port=port, timeout=1)
    except (dns.exception.Timeout, OSError):
        return None


@pytest.mark.slow
def test_run_example_signs_then_serves_the_zone() -> None:
    address, port = _listen()
    assert _soa(address, port) is None, f"something already answers on {address}:{port}"
    proc = subprocess.Popen(
        ["bash", "scripts/run-example.sh"], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT
        answer = _soa(address, port)
        while answer is None or not answer.answer:
            assert proc.poll() is None, f"run-example.sh exited {proc.returncode}"
            assert time.monotonic() < deadline, "the daemon did not answer in time"
            time.sleep(0.5)
            answer = _soa(address, port)
        types = {rrset.rdtype for rrset in answer.answer}
        assert types == {dns.rdatatype.SOA, dns.rdatatype.RRSIG}, answer

        tsig = tomllib.loads(CONFIG.read_text())["tsig"]
        (name, key), = tsig.items()
        keyring = dns.tsigkeyring.from_text({name: (key["algorithm"], key["secret"])})
        zone = dns.zone.Zone(ZONE)
        query, _ = dns.xfr.make_query(zone, keyring=keyring, keyname=name)
        dns.query.inbound_xfr(address, zone, query, port=port, timeout=30)
        got = {rds.rdtype for _, node in zone.items() for rds in node.rdatasets}
        assert {dns.rdatatype.DNSKEY, dns.rdatatype.RRSIG, dns.rdatatype.NSEC3} <= got

        unkeyed = dns.zone.Zone(ZONE)
        with pytest.raises(dns.xfr.TransferError):
            dns.query.inbound_xfr(address, unkeyed, port=port, timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, err = proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    assert (ROOT / "example.com.zone.signed").exists()
