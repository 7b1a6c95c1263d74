"""The daemon's operator features, with a real ``signwire serve`` on loopback high ports:
zones added and removed at run time (and kept in the state), the on-publish command,
Prometheus metrics over HTTP, and JSON logs that never carry a TSIG secret.

One daemon for the module (its keys are made once); the tests run in order and build on each
other, as in ``test_serve.py``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.tsigkeyring
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.fake_primary import FakePrimary

from interop.live_dns import free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "c2lnbndpcmUgdGVzdCBzZWNyZXQsIG5ldmVyIGxvZ2dlZCE="
KEYRING = dns.tsigkeyring.from_text({"xfr-key.": ("hmac-sha256", SECRET)})
WRONG = dns.tsigkeyring.from_text(
    {"xfr-key.": ("hmac-sha256", "d3JvbmcgLS0gbm90IHRoZSBzZWNyZXQgYXQgYWxs")})
ADDRESS = "127.0.0.1"
ZONE, ADDED, OFFLINE = "example.com.", "added.test.", "offline.test."
FROM_PRIMARY = "primary.test."

HOOK = """\
import json, os, sys
env = os.environ
record = {k: env.get(k) for k in ("SIGNWIRE_ZONE", "SIGNWIRE_SERIAL", "SIGNWIRE_OUTPUT")}
record["leaked"] = "SIGNWIRE_TEST_PIN" in env
output = env.get("SIGNWIRE_OUTPUT")
if output:
    soa = next(line for line in open(output) if " IN SOA " in line)
    record["output_serial"] = soa.split()[6]
with open(sys.argv[1], "a") as f:
    f.write(json.dumps(record) + "\\n")
"""


def small_zone(name: str, serial: int = 1) -> str:
    return (f"$ORIGIN {name}\n$TTL 300\n@ IN SOA ns1 hostmaster {serial} 7200 3600 1209600 300\n"
            "  IN NS ns1\nns1 IN A 192.0.2.1\nwww IN A 192.0.2.80\n")


class Daemon:
    def __init__(self, folder: Path, port: int, metrics_port: int) -> None:
        self.primary = FakePrimary(ADDRESS, FROM_PRIMARY, KEYRING, "xfr-key.",
                                   small_zone(FROM_PRIMARY, 5))
        self.folder = folder
        self.port = port
        self.metrics_port = metrics_port
        self.config = folder / "signwire.toml"
        self.log = folder / "daemon.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ, SIGNWIRE_TEST_PIN="1234")  # a hook must not see it
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "signwire", "serve", "--config", str(self.config),
                 "--log-format", "json"],
                stdout=log, stderr=log, cwd=self.folder, env=env,
            )
        assert wait_for(lambda: serial_of(self.port, ZONE) is not None, 60), self.log.read_text()

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()

    def signwire(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "signwire", *args, "--config", str(self.config)],
            capture_output=True, text=True, timeout=60, cwd=self.folder,
        )

    def log_records(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]


def wait_for(check: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def serial_of(port: int, zone: str) -> int | None:
    """The served SOA serial, or None when the zone is not answered (REFUSED, no answer)."""
    q = dns.message.make_query(zone, "SOA")
    q.flags &= ~dns.flags.RD
    try:
        answer = dns.query.udp(q, ADDRESS, port=port, timeout=0.5)
    except (dns.exception.Timeout, OSError):
        return None
    if answer.rcode() != dns.rcode.NOERROR or not answer.answer:
        return None
    return int(answer.answer[0][0].serial)


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://{ADDRESS}:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def hook_records(folder: Path) -> list[dict[str, object]]:
    path = folder / "published.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    folder = tmp_path_factory.mktemp("extras")
    shutil.copy(ROOT / "examples" / "example.com.zone", folder / "example.com.zone")
    (folder / "hook.py").write_text(HOOK)
    for name in (ADDED, OFFLINE):
        (folder / f"{name}zone").write_text(small_zone(name))
    d = Daemon(folder, free_port(), free_port())
    fail = json.dumps([sys.executable, "-c", "import sys; sys.exit(3)"])
    hook = json.dumps([sys.executable, str(folder / "hook.py"), str(folder / "published.jsonl")])
    d.config.write_text(f"""
[server]
listen = ["{ADDRESS}:{d.port}"]
state = "state"
metrics = "{ADDRESS}:{d.metrics_port}"
on-publish = {fail}   # the default: a command that fails (added zones get it)

[tsig.xfr-key]
secret = "{SECRET}"

[remote.primary]
addresses = ["{ADDRESS}:{d.primary.port}"]
key = "xfr-key"

[acl.secondaries]
networks = ["127.0.0.0/8"]
key = "xfr-key"

[[zone]]
name = "{ZONE}"
file = "example.com.zone"
allow-transfer = ["secondaries"]
output = "example.com.zone.signed"
on-publish = {hook}
""")
    d.start()
    try:
        yield d
    finally:
        if d.proc is not None and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()
        d.primary.close()


def test_on_publish_runs_after_serving_and_writing(daemon: Daemon) -> None:
    serial = serial_of(daemon.port, ZONE)
    assert wait_for(lambda: hook_records(daemon.folder), 20), daemon.log.read_text()
    (record,) = hook_records(daemon.folder)
    assert record == {
        "SIGNWIRE_ZONE": ZONE,
        "SIGNWIRE_SERIAL": str(serial),
        "SIGNWIRE_OUTPUT": str(daemon.folder / "example.com.zone.signed"),
        "leaked": False,  # the environment is scrubbed
        "output_serial": str(serial),  # the file was written before the command ran
    }
    # A new version: the command runs again, for it.
    text = (daemon.folder / "example.com.zone").read_text()
    (daemon.folder / "example.com.zone").write_text(
        text.replace("2026112801 ; serial", "2026112802 ; serial") + "new IN A 192.0.2.7\n")
    assert daemon.signwire("zone", "reload", ZONE).returncode == 0
    assert wait_for(lambda: len(hook_records(daemon.folder)) == 2, 30), daemon.log.read_text()
    assert hook_records(daemon.folder)[1]["SIGNWIRE_SERIAL"] == str(serial_of(daemon.port, ZONE))
    done = [r for r in daemon.log_records() if r.get("hook") == "on-publish"]
    assert done and done[-1]["exit_status"] == 0 and done[-1]["zone"] == ZONE


def test_zone_add_serves_at_once_and_a_failing_hook_does_not_stop_it(daemon: Daemon) -> None:
    zone_file = str(daemon.folder / f"{ADDED}zone")
    added = daemon.signwire("zone", "add", ADDED, "--file", zone_file,
                            "--allow-transfer", "secondaries")
    assert added.returncode == 0, added.stderr
    assert wait_for(lambda: serial_of(daemon.port, ADDED) is not None, 30), daemon.log.read_text()
    listing = daemon.signwire("zone", "list")
    assert f"{ADDED}\tserial" in listing.stdout and listing.stdout.count("\tadded") == 1
    assert f"{ZONE}\tserial" in listing.stdout and "\tconfig" in listing.stdout
    # The [server] default on-publish fails (exit 3): logged with its status, zone served.
    assert wait_for(lambda: any(r.get("zone") == ADDED and r.get("exit_status") == 3
                                for r in daemon.log_records()), 20), daemon.log.read_text()
    assert serial_of(daemon.port, ADDED) is not None
    # SIGHUP re-reads the file: the added zone is not a change of the file's zone list.
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "SIGHUP: configuration read" in daemon.log.read_text(), 20)
    assert "need a restart" not in daemon.log.read_text()
    assert serial_of(daemon.port, ADDED) is not None
    # Names the configuration does not know are refused, with the configuration's words.
    for extra, why in ((["--primary", "nosuch"], "no remote named 'nosuch'"),
                       (["--file", zone_file, "--allow-transfer", "nobody"], "no acl named"),
                       (["--file", zone_file, "--policy", "nosuch-policy"], "nosuch-policy")):
        refused = daemon.signwire("zone", "add", "other.test.", *extra)
        assert refused.returncode == 3 and why in refused.stderr, refused.stderr
    again = daemon.signwire("zone", "add", ZONE, "--file", zone_file)
    assert again.returncode == 3 and "configuration file" in again.stderr
    removed = daemon.signwire("zone", "remove", ZONE)
    assert removed.returncode == 3 and "configuration file" in removed.stderr
    assert serial_of(daemon.port, ZONE) is not None


def test_metrics_over_http(daemon: Daemon) -> None:
    port = daemon.port
    serial = serial_of(port, ZONE)
    for name in (ZONE, ADDED):
        q = dns.message.make_query(name, "AXFR")
        q.use_tsig(KEYRING, keyname="xfr-key.")
        assert dns.query.tcp(q, ADDRESS, port=port, timeout=10).rcode() == dns.rcode.NOERROR
    m = scrape(daemon.metrics_port)
    z = (("zone", ZONE),)
    assert m[("signwire_zone_signed_serial", z)] == serial
    assert m[("signwire_zone_input_serial", z)] == 2026112802  # the file's, after the reload
    assert m[("signwire_zone_serving", z)] == 1 and m[("signwire_zone_stale", z)] == 0
    assert m[("signwire_zone_signature_expiry_earliest_timestamp_seconds", z)] > time.time()
    assert m[("signwire_zone_transfers_out_total", (("kind", "AXFR"), *z))] >= 1
    assert m[("signwire_zone_verification_failures_total", z)] == 0
    assert m[("signwire_zone_signing_seconds_count", z)] >= 2  # first signing and the reload
    assert m[("signwire_secondary_last_transfer_serial", (("secondary", ADDRESS), *z))] == serial
    assert m[("signwire_zone_signed_serial", (("zone", ADDED),))] == serial_of(port, ADDED)
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"http://{ADDRESS}:{daemon.metrics_port}/nothing", timeout=5)


def test_zone_added_from_a_primary_and_its_upstream_metrics(daemon: Daemon) -> None:
    added = daemon.signwire("zone", "add", FROM_PRIMARY, "--primary", "primary",
                            "--allow-transfer", "secondaries")
    assert added.returncode == 0, added.stderr
    assert wait_for(lambda: serial_of(daemon.port, FROM_PRIMARY) is not None, 30), (
        daemon.log.read_text())
    z = (("zone", FROM_PRIMARY),)
    m = scrape(daemon.metrics_port)
    assert m[("signwire_zone_input_serial", z)] == 5
    assert m[("signwire_zone_transfers_in_total", (("kind", "AXFR"), *z))] == 1
    assert 0 < m[("signwire_zone_upstream_expires_in_seconds", z)] <= 1209600
    assert time.time() - 60 < m[("signwire_zone_refresh_success_timestamp_seconds", z)]
    assert m[("signwire_zone_stale", z)] == 0
    # A new serial at the primary, fetched at the operator's word: counted again.
    daemon.primary.set_zone(small_zone(FROM_PRIMARY, 6))
    assert daemon.signwire("zone", "reload", FROM_PRIMARY).returncode == 0

    def fetched() -> bool:
        return scrape(daemon.metrics_port).get(("signwire_zone_input_serial", z)) == 6

    assert wait_for(fetched, 30), daemon.log.read_text()
    m = scrape(daemon.metrics_port)
    assert sum(v for (name, labels), v in m.items()
               if name == "signwire_zone_transfers_in_total" and labels[-1] == z[0]) == 2
    assert daemon.signwire("zone", "remove", FROM_PRIMARY).returncode == 0
    assert ("signwire_zone_input_serial", z) not in scrape(daemon.metrics_port)


def test_added_zone_survives_a_restart_and_config_wins(daemon: Daemon) -> None:
    assert daemon.stop() == 0
    # Offline: added to the state directly (under the lock); the next start serves it.
    offline = daemon.signwire("zone", "add", OFFLINE, "--file",
                              str(daemon.folder / f"{OFFLINE}zone"))
    assert offline.returncode == 0 and "next start" in offline.stdout, offline.stderr
    # A zone both in the file and in the state: the file wins, and the log says so.
    from signwire.storage.state import StateStore

    with StateStore(daemon.folder / "state") as state:
        state.add_zone(ZONE, {"name": ZONE, "file": "/nonexistent"}, 0)
    listing = daemon.signwire("zone", "list")
    assert f"{OFFLINE}\tserial None" in listing.stdout, listing
    status = daemon.signwire("status", "--json")  # from the state directory
    listed = {z["zone"]: z for z in json.loads(status.stdout)["zones"]}
    assert set(listed) == {ZONE, ADDED, OFFLINE}, status.stderr
    assert listed[ADDED]["served_serial"] is not None  # its last version, saved
    daemon.start()
    assert wait_for(lambda: serial_of(daemon.port, ADDED) is not None, 30), daemon.log.read_text()
    assert wait_for(lambda: serial_of(daemon.port, OFFLINE) is not None, 30), (
        daemon.log.read_text())
    assert any("configuration file wins" in str(r["message"]) for r in daemon.log_records())
    # zone remove drops the added copy only: the file's zone stays served.
    dropped = daemon.signwire("zone", "remove", ZONE)
    assert dropped.returncode == 0 and "stays served" in dropped.stdout, dropped.stderr
    assert serial_of(daemon.port, ZONE) is not None
    again = daemon.signwire("zone", "remove", ZONE)
    assert again.returncode == 3 and "configuration file" in again.stderr


def test_zone_remove_stops_serving_and_keeps_keys_unless_told(daemon: Daemon) -> None:
    keys = daemon.folder / "state" / "keys"
    kept = sorted(p.name for p in (keys / ADDED.rstrip(".")).glob("*.private"))
    assert kept, "the added zone has keys"
    removed = daemon.signwire("zone", "remove", ADDED)
    assert removed.returncode == 0, removed.stderr
    assert serial_of(daemon.port, ADDED) is None  # at once
    assert sorted(p.name for p in (keys / ADDED.rstrip(".")).glob("*.private")) == kept
    forgot = daemon.signwire("zone", "remove", OFFLINE, "--forget-keys")
    assert forgot.returncode == 0 and "retired" in forgot.stdout, forgot.stderr
    assert serial_of(daemon.port, OFFLINE) is None
    folder = keys / OFFLINE.rstrip(".")
    assert not list(folder.glob("*.private"))
    assert len(list((folder / "retired").glob("*.private"))) >= 1  # set aside, not deleted
    listing = daemon.signwire("zone", "list").stdout
    assert ADDED not in listing and OFFLINE not in listing
    assert daemon.stop() == 0
    daemon.start()
    time.sleep(1)
    assert serial_of(daemon.port, ADDED) is None and serial_of(daemon.port, OFFLINE) is None


def test_json_log_lines_and_no_secret(daemon: Daemon) -> None:
    # Transfers signed with a wrong secret under the right name: refused, and logged or not,
    # neither secret may show.
    q = dns.message.make_query(ZONE, "AXFR")
    q.use_tsig(WRONG, keyname="xfr-key.")
    try:
        answer = dns.query.tcp(q, ADDRESS, port=daemon.port, timeout=5)
        assert answer.rcode() != dns.rcode.NOERROR or not answer.answer
    except dns.exception.DNSException:
        pass  # refused with a TSIG error dnspython raises
    status = daemon.signwire("status", "--json")
    assert status.returncode == 0 and SECRET not in status.stdout
    # A zone whose on-publish command takes 30 s (the table as the control socket takes it): it is
    # served all the same, and SIGTERM does not wait for the command.
    from signwire.control.protocol import request

    slow = {"name": "slow.test.", "file": str(daemon.folder / f"{ADDED}zone"),
            "on-publish": [sys.executable, "-c", "import time; time.sleep(30)"]}
    (daemon.folder / f"{ADDED}zone").write_text(small_zone("slow.test."))
    answer = request(daemon.folder / "state" / "control.sock",
                     {"command": "zone-add", "table": slow})
    assert answer["ok"] is True, answer
    assert wait_for(lambda: serial_of(daemon.port, "slow.test.") is not None, 30)
    time.sleep(0.5)  # the command has started
    started = time.monotonic()
    assert daemon.stop() == 0
    assert time.monotonic() - started < 10, "SIGTERM waited for the on-publish command"
    text = daemon.log.read_text()
    records = daemon.log_records()  # every line is one JSON object
    assert len(records) == len(text.splitlines())
    for r in records:
        assert {"time", "level", "message"} <= r.keys()
        assert str(r["time"]).endswith("Z")
    assert any(r.get("zone") == ZONE and "signed serial" in str(r["message"]) for r in records)
    assert SECRET not in text and base64.b64decode(SECRET).hex() not in text
    assert "Traceback" not in text
