"""The daemon's configuration: the shipped example reads, and every mistake names file and key."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from signwire.config.model import ConfigError, Endpoint
from signwire.config.parse import load_config, parse_config, parse_endpoint

ROOT = Path(__file__).resolve().parents[2]
SECRET = "RFTvNORtEQ8EHFDVhcqh48B1uqKCQqPqE1NBIeCf0dE="

BASE = f"""
[server]
listen = ["127.0.0.1:5353", "[::1]:5354"]
state = "/tmp/sw-state"

[tsig.xfr]
secret = "{SECRET}"

[remote.primary]
addresses = ["127.0.0.11", "127.0.0.12:5300"]
key = "xfr"

[remote.secondaries]
addresses = ["127.0.0.13:53"]

[acl.sec]
networks = ["127.0.0.0/8"]
addresses = ["::1"]
key = "xfr"

[[zone]]
name = "Example.COM"
primaries = ["primary"]
notify = ["secondaries"]
allow-transfer = ["sec"]
"""


def test_shipped_example_reads() -> None:
    config = load_config(ROOT / "examples" / "signwire.toml")
    assert config.server.listen == (Endpoint("127.0.0.1", 5353),)
    state = ROOT / "examples" / "example-keys" / "daemon-state"  # git ignores example-keys/
    assert config.server.state == state
    assert config.server.control == state / "control.sock"
    (zone,) = config.zones
    assert zone.name == "example.com."
    assert zone.file == ROOT / "examples" / "example.com.zone"
    assert zone.policy == "default"
    assert config.acls["loopback-with-key"].key == "example-xfr."


def test_full_config() -> None:
    config = parse_config(BASE, source="/etc/signwire/signwire.toml")
    assert config.server.listen[1] == Endpoint("::1", 5354)
    assert config.tsig["xfr."].algorithm == "hmac-sha256"
    assert config.remotes["primary"].addresses == (
        Endpoint("127.0.0.11", 53), Endpoint("127.0.0.12", 5300))
    assert config.remotes["primary"].key == "xfr."
    assert config.remotes["primary"].notify_unsigned is False
    lax = parse_config(BASE.replace('key = "xfr"\n\n[remote.secondaries]',
                                    'key = "xfr"\nnotify-unsigned = true\n\n[remote.secondaries]'))
    assert lax.remotes["primary"].notify_unsigned is True
    assert config.acls["sec"].networks == (
        ipaddress.ip_network("::1/128"), ipaddress.ip_network("127.0.0.0/8"))
    zone = config.zone("example.com")
    assert zone is not None and zone.file is None and zone.primaries == ("primary",)
    assert zone.expire_stops_serving is False and zone.answer_queries is True
    assert (zone.min_refresh, zone.min_retry, zone.min_expire) == (60, 10, 3600)
    lab = parse_config(BASE.replace('name = "Example.COM"',
                                    'name = "Example.COM"\nmin-expire = 5\nmin-retry = 1'))
    assert lab.zones[0].min_expire == 5 and lab.zones[0].min_retry == 1


def test_secret_never_in_repr_or_errors() -> None:
    config = parse_config(BASE)
    assert SECRET not in repr(config)
    bad = BASE.replace(SECRET, "c2hvcnQ=")  # too short
    with pytest.raises(ConfigError) as e:
        parse_config(bad, source="x.toml")
    assert "c2hvcnQ" not in str(e.value)
    assert "x.toml: tsig 'xfr': secret is 5 octets" in str(e.value)


def test_secret_file_forms(tmp_path: Path) -> None:
    (tmp_path / "plain.key").write_text(SECRET + "\n")
    (tmp_path / "bind.key").write_text(
        f'key "xfr" {{\n\talgorithm hmac-sha256;\n\tsecret "{SECRET}";\n}};\n')
    (tmp_path / "knot.key").write_text(
        f"key:\n  - id: xfr\n    algorithm: hmac-sha256\n    secret: {SECRET}\n")
    for name in ("plain.key", "bind.key", "knot.key"):
        text = BASE.replace(f'secret = "{SECRET}"', f'secret-file = "{name}"')
        path = tmp_path / "c.toml"
        path.write_text(text)
        config = load_config(path)
        assert len(config.tsig["xfr."].secret) == 32, name


@pytest.mark.parametrize("change, message", [
    (("[server]", "[server]\nbogus = 1"), "x.toml: server: unknown key(s) 'bogus'"),
    (('state = "/tmp/sw-state"', ""), "x.toml: server: state: needs the state directory"),
    (('"127.0.0.1:5353"', '"localhost:53"'), "server: listen: 'localhost:53' is not an address"),
    (('key = "xfr"\n\n[remote.secondaries]', 'key = "nokey"\n\n[remote.secondaries]'),
     "remote 'primary': key: no tsig key named 'nokey'"),
    (('primaries = ["primary"]', 'primaries = ["primary"]\nfile = "z"'),
     "zone 'example.com.': needs exactly one source"),
    (('primaries = ["primary"]', ""), "zone 'example.com.': needs exactly one source"),
    (('notify = ["secondaries"]', 'notify = ["nobody"]'),
     "zone 'example.com.': notify: no remote named 'nobody'"),
    (('allow-transfer = ["sec"]', 'allow-transfer = ["x"]'),
     "zone 'example.com.': allow-transfer: no acl named 'x'"),
    (('networks = ["127.0.0.0/8"]', 'networks = ["127.0.0.300/8"]'),
     "acl 'sec': networks: '127.0.0.300/8' is not an address"),
    (("[tsig.xfr]", '[tsig.xfr]\nalgorithm = "hmac-md5"'), "must not be used any more"),
    (('name = "Example.COM"', 'name = "Example.COM"\nexpire-stops-serving = "yes"'),
     "expire-stops-serving: must be true or false"),
    (('name = "Example.COM"', 'name = "Example.COM"\nmin-expire = 0'),
     "zone 'example.com.': min-expire: must be a number of seconds, at least 1"),
])
def test_mistakes_name_file_and_key(change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in BASE
    with pytest.raises(ConfigError) as e:
        parse_config(BASE.replace(old, new, 1), source="x.toml")
    assert message in str(e.value)


def test_two_mistakes_reported_together() -> None:
    text = BASE.replace('notify = ["secondaries"]', 'notify = ["a"]').replace(
        'allow-transfer = ["sec"]', 'allow-transfer = ["b"]')
    with pytest.raises(ConfigError) as e:
        parse_config(text, source="x.toml")
    assert "'a'" in str(e.value) and "'b'" in str(e.value)


def test_zone_twice_and_bad_toml() -> None:
    with pytest.raises(ConfigError, match="configured twice"):
        parse_config(BASE + '\n[[zone]]\nname = "example.com."\nprimaries = ["primary"]\n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_config("[server", source="x.toml")


def test_endpoints() -> None:
    assert parse_endpoint("192.0.2.1") == Endpoint("192.0.2.1", 53)
    assert parse_endpoint("2001:db8::1") == Endpoint("2001:db8::1", 53)
    assert parse_endpoint("[2001:db8::1]:5353") == Endpoint("2001:db8::1", 5353)
    assert parse_endpoint("192.0.2.1:0") is None
    assert parse_endpoint("[2001:db8::1]x") is None


def test_serve_check(tmp_path: Path) -> None:
    from signwire.cli.main import main

    assert main(["serve", "--config", str(ROOT / "examples" / "signwire.toml"), "--check"]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text('[server]\nstate = "s"\n[[zone]]\nname = "a."\nfile = "f"\npolicy = "nope"\n')
    assert main(["serve", "--config", str(bad), "--check"]) == 2
