"""The daemon saves a one-record change as a journal entry, not by writing the whole zone
again, and a SIGKILL after it restarts serving that change at once (full save + journal)."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

from tests.runtime.test_serve import (
    ADDRESS,
    ROOT,
    SECRET,
    SOA_PORT,
    ZONE,
    Daemon,
    free_port,
    query,
    soa_serial,
)


def answered(port: int, name: str) -> bool:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if query(port, name, "A").answer:
            return True
        time.sleep(0.1)
    return False


def test_changes_are_journaled_and_restored_after_sigkill(tmp_path: Path) -> None:
    zone_file = tmp_path / "example.com.zone"
    shutil.copy(ROOT / "examples" / "example.com.zone", zone_file)
    # Big enough that a one-record change is a small part of it.
    with open(zone_file, "a") as f:
        f.writelines(f"bulk{i} IN A 10.0.{i // 256}.{i % 256}\n" for i in range(2000))
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
    saved = tmp_path / "state" / "versions" / "example.com.version"
    journal = saved.with_suffix(".journal")
    daemon = Daemon(tmp_path)
    try:
        daemon.start()
        assert answered(port, "bulk1999." + ZONE)
        full = saved.stat()
        input_serial = 2026112801
        for n in range(3):
            input_serial += 1
            text = zone_file.read_text()
            text = text.replace(f"{input_serial - 1} ; serial", f"{input_serial} ; serial")
            zone_file.write_text(text + f"n{n} IN A 192.0.2.{n + 1}\n")
            reload = daemon.signwire("zone", "reload", ZONE)
            assert reload.returncode == 0, reload.stderr
            assert answered(port, f"n{n}." + ZONE), daemon.log.read_text()[-3000:]
        served = soa_serial(port)
        # The full save was not written again; each change added an entry of its own size.
        after = saved.stat()
        assert (after.st_ino, after.st_mtime_ns, after.st_size) == (
            full.st_ino, full.st_mtime_ns, full.st_size)
        assert 0 < journal.stat().st_size < 3 * 4000 < full.st_size // 10
        daemon.stop(signal.SIGKILL)
        assert daemon.start() < 15
        assert soa_serial(port) == served
        assert query(port, "n2." + ZONE, "A").answer
    finally:
        if daemon.proc is not None and daemon.proc.poll() is None:
            daemon.stop(signal.SIGTERM)
