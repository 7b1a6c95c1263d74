"""SIGKILL at random instants while changes are being signed: after each restart the daemon
answers at once, its serial never goes back, and its AXFR is a zone that verifies."""

from __future__ import annotations

import random
import shutil
import signal
import time
from pathlib import Path

import dns.query
import dns.zone
from tests.runtime.test_serve import (
    ADDRESS,
    KEYRING,
    ROOT,
    SECRET,
    SOA_PORT,
    ZONE,
    Daemon,
    free_port,
    soa_serial,
)

from signwire.verify.zone_verifier import verify_text


def axfr_text(port: int) -> str:
    messages = dns.query.xfr(ADDRESS, ZONE, port=port, keyring=KEYRING, keyname="xfr-key.",
                             timeout=10, relativize=False)
    zone = dns.zone.from_xfr(messages, relativize=False)
    return zone.to_text(relativize=False)


def test_sigkill_during_changes(tmp_path: Path) -> None:
    shutil.copy(ROOT / "examples" / "example.com.zone", tmp_path / "example.com.zone")
    port = free_port()
    SOA_PORT[:] = [port]
    (tmp_path / "signwire.toml").write_text(f"""
[server]
listen = ["{ADDRESS}:{port}"]
state = "state"
[tsig.xfr-key]
secret = "{SECRET}"
[acl.all]
networks = ["127.0.0.0/8"]
key = "xfr-key"
[[zone]]
name = "{ZONE}"
file = "example.com.zone"
allow-transfer = ["all"]
""")
    daemon = Daemon(tmp_path)
    rng = random.Random(11)
    zone_file = tmp_path / "example.com.zone"
    try:
        daemon.start()
        last = soa_serial(port)
        input_serial = 2026112801
        for n in range(6):
            input_serial += 1
            text = zone_file.read_text()
            text = text.replace(f"{input_serial - 1} ; serial", f"{input_serial} ; serial")
            zone_file.write_text(text + f"n{n} IN A 192.0.2.{n + 1}\n")
            reload = daemon.signwire("zone", "reload", ZONE)
            assert reload.returncode == 0, reload.stderr
            time.sleep(rng.uniform(0, 0.4))
            daemon.stop(signal.SIGKILL)
            took = daemon.start()
            assert took < 15
            serial = soa_serial(port)
            assert serial >= last, f"serial went back from {last} to {serial}"
            last = serial
            report = verify_text(axfr_text(port), ZONE, now=int(time.time()))
            assert report.ok, [str(p) for p in report.errors]
        # After the last restart the last change is taken in.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            answer = dns.query.udp(dns.message.make_query("n5." + ZONE, "A"), ADDRESS,
                                   port=port, timeout=2)
            if answer.answer:
                break
            time.sleep(0.2)
        assert answer.answer, daemon.log.read_text()[-3000:]
    finally:
        if daemon.proc is not None and daemon.proc.poll() is None:
            daemon.stop(signal.SIGTERM)
