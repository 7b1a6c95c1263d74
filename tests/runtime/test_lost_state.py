"""A state directory whose database was lost but whose keys remain: the daemon refuses to
re-key the zone (it was signed before), says so, keeps serving what it saved, and retries."""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

from tests.runtime.test_serve import (
    ADDRESS,
    ROOT,
    SOA_PORT,
    ZONE,
    Daemon,
    free_port,
    soa_serial,
)


def test_lost_database_is_refused_and_the_saved_version_still_served(tmp_path: Path) -> None:
    shutil.copy(ROOT / "examples" / "example.com.zone", tmp_path / "example.com.zone")
    port = free_port()
    SOA_PORT[:] = [port]
    (tmp_path / "signwire.toml").write_text(f"""
[server]
listen = ["{ADDRESS}:{port}"]
state = "state"
[[zone]]
name = "{ZONE}"
file = "example.com.zone"
""")
    daemon = Daemon(tmp_path)
    try:
        daemon.start()
        serial = soa_serial(port)
        assert daemon.stop(signal.SIGTERM) == 0
        for db in (tmp_path / "state").glob("state.sqlite*"):
            db.unlink()
        daemon.start()
        assert soa_serial(port) == serial
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "signed before" not in daemon.log.read_text():
            time.sleep(0.1)
        assert "signed before" in daemon.log.read_text()
        status = json.loads(daemon.signwire("status", "--json").stdout)
        (zone,) = status["zones"]
        assert "signed before" in zone["last_error"]
        assert zone["retry_at"] is not None and zone["next_event"] is not None
        assert zone["serving"] is True and zone["served_serial"] == serial
    finally:
        if daemon.proc is not None and daemon.proc.poll() is None:
            daemon.stop(signal.SIGTERM)
