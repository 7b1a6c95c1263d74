"""The pure parts of the daemon's operator features: on-publish, metrics and log-format in the
configuration, zones given at run time (checked as the file's are), the state table that keeps
them (and its migration), the JSON log lines and the metric families."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from signwire.config.model import ConfigError
from signwire.config.parse import parse_config, parse_zone
from signwire.control.metrics import ZoneCollector, ZoneCounters
from signwire.control.zones import ZoneRequestError, check_zone, zone_table
from signwire.runtime.logformat import JsonFormatter, TextFormatter
from signwire.storage.state import SCHEMA_VERSION, StateStore

BASE = """
[server]
state = "/tmp/state"
{server}

[remote.primary]
addresses = ["192.0.2.1"]

[acl.secondaries]
networks = ["192.0.2.0/24"]

[[zone]]
name = "a.test."
file = "a.zone"
{zone}
"""


def config(server: str = "", zone: str = ""):  # type: ignore[no-untyped-def]
    return parse_config(BASE.format(server=server, zone=zone), source="t.toml")


def test_on_publish_is_an_argument_list_with_a_server_default() -> None:
    c = config('on-publish = ["/bin/hook", "x"]\non-publish-timeout = 5')
    (zone,) = c.zones
    assert zone.on_publish == ("/bin/hook", "x") and zone.on_publish_timeout == 5.0
    assert config('on-publish = ["/bin/hook"]', "on-publish = []").zones[0].on_publish == ()
    assert config(zone='on-publish = ["/bin/own"]').zones[0].on_publish == ("/bin/own",)
    assert config().zones[0].on_publish == ()
    with pytest.raises(ConfigError, match=r"on-publish: must be a list.*no shell"):
        config(zone='on-publish = "/bin/hook arg"')
    with pytest.raises(ConfigError, match="on-publish-timeout"):
        config("on-publish-timeout = 0")


def test_metrics_and_log_format() -> None:
    assert config().server.metrics is None and config().server.log_format == "text"
    server = config('metrics = "127.0.0.1"\nlog-format = "json"').server
    assert str(server.metrics) == "127.0.0.1:9153" and server.log_format == "json"
    with pytest.raises(ConfigError, match="log-format: must be one of text, json"):
        config('log-format = "xml"')
    with pytest.raises(ConfigError, match="server: metrics"):
        config('metrics = "nowhere"')


def test_zones_given_at_run_time_are_checked_as_the_files_are() -> None:
    c = config()
    zone = parse_zone(zone_table("b.test", primaries=["primary"], allow_transfer=["secondaries"]),
                      c)
    assert zone.name == "b.test." and zone.primaries == ("primary",)
    with pytest.raises(ConfigError, match="no remote named 'nope'"):
        parse_zone(zone_table("b.test", primaries=["nope"]), c)
    with pytest.raises(ConfigError, match="no acl named 'x'"):
        parse_zone(zone_table("b.test", file="/z", allow_transfer=["x"]), c)
    with pytest.raises(ConfigError, match="must be an absolute path"):
        parse_zone({"name": "b.test.", "file": "relative.zone"}, c)
    with pytest.raises(ZoneRequestError, match="no-such-policy"):
        check_zone(c, zone_table("b.test", file="/z", policy="no-such-policy"))
    assert zone_table("b.", file="rel")["file"] == str(Path("rel").absolute())


def test_state_keeps_added_zones_and_upgrades_from_schema_2(tmp_path: Path) -> None:
    with StateStore(tmp_path) as state:
        state.add_zone("b.test.", {"name": "b.test.", "file": "/z"}, 10)
    db = sqlite3.connect(tmp_path / "state.sqlite")
    with db:
        db.execute("DROP TABLE added_zones")
        db.execute("UPDATE meta SET value='2' WHERE name='schema'")
    db.close()
    with StateStore(tmp_path) as state:
        assert state.added_zones() == []
        state.add_zone("b.test.", {"name": "b.test.", "file": "/z"}, 10)
        assert state.added_zones() == [("b.test.", {"name": "b.test.", "file": "/z"}, 10)]
        assert state.remove_added_zone("b.test.", 20) is True
        assert state.remove_added_zone("b.test.", 20) is False
        assert [m for _at, m in state.log("b.test.")][-1] == "removed"
    db = sqlite3.connect(tmp_path / "state.sqlite")
    assert db.execute("SELECT value FROM meta WHERE name='schema'").fetchone() == (
        str(SCHEMA_VERSION),)
    db.close()


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("signwire", logging.INFO, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


def test_json_log_lines_name_the_zone_and_hide_secrets() -> None:
    secret = b"0123456789abcdef0123456789abcdef"
    f = JsonFormatter([secret])
    line = json.loads(f.format(_record("%s: signed serial %d", "Example.COM.", 7)))
    assert line["zone"] == "example.com." and line["message"] == "Example.COM.: signed serial 7"
    assert line["level"] == "info" and line["time"].endswith("Z")
    assert "zone" not in json.loads(f.format(_record("serving 1 zone(s) on 127.0.0.1:53")))
    line = json.loads(f.format(_record("hook done", zone="b.", fields={"exit_status": 3})))
    assert line["zone"] == "b." and line["exit_status"] == 3
    import base64

    leak = _record("oops %s %s", base64.b64encode(secret).decode(), secret.hex())
    assert "<secret> <secret>" in f.format(leak)
    assert "<secret>" in TextFormatter([secret], "%(message)s").format(leak)


def test_metric_families_from_status_and_counters() -> None:
    counters = ZoneCounters()
    counters.transfer_in("IXFR")
    counters.transfer_out("AXFR")
    counters.verification_failures = 2
    counters.signed(0.3)
    counters.signed(100.0)
    status = {"zone": "a.test.", "served_serial": 5, "input_serial": 4, "serving": True,
              "state": "stale", "earliest_signature_expiry": 1000,
              "upstream": {"expires_in": -30, "last_success": 900},
              "secondaries": {"192.0.2.9": {"serial": 5}, "192.0.2.8": {}}}
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ZoneCollector(lambda: [(status, counters)]))
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for fam in text_string_to_metric_families(generate_latest(registry).decode())
               for s in fam.samples}
    z = (("zone", "a.test."),)
    assert samples[("signwire_zone_stale", z)] == 1
    assert samples[("signwire_zone_upstream_expires_in_seconds", z)] == -30
    assert samples[("signwire_zone_transfers_in_total", (("kind", "IXFR"), *z))] == 1
    assert samples[("signwire_zone_verification_failures_total", z)] == 2
    assert samples[("signwire_zone_signing_seconds_bucket", (("le", "0.5"), *z))] == 1
    assert samples[("signwire_zone_signing_seconds_bucket", (("le", "+Inf"), *z))] == 2
    assert samples[("signwire_zone_signing_seconds_count", z)] == 2
    assert samples[("signwire_secondary_last_transfer_serial",
                    (("secondary", "192.0.2.9"), *z))] == 5
    assert not any(k[0] == "signwire_secondary_last_transfer_serial"
                   and ("secondary", "192.0.2.8") in k[1] for k in samples)
