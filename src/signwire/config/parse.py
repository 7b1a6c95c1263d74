"""The daemon's configuration file (TOML) read into :mod:`signwire.config.model` values.

``signwire serve --config FILE`` reads one file like this (every key shown; relative paths
are taken from the file's folder)::

    [server]
    listen = ["127.0.0.1:5353", "[::1]:5353"]  # UDP and TCP on each; default ["127.0.0.1:53"]
    state = "state"                 # state directory: keys, key states, signed versions, lock
    control = "state/control.sock"  # the local control socket (mode 0600); this is the default
    # metrics = "127.0.0.1:9153"    # serve Prometheus metrics at http://ADDRESS/metrics (off
                                    # unless set; port 9153 when left out)
    log-format = "text"             # or "json": one JSON object per line on stderr
                                    # (`signwire serve --log-format` wins over this)
    # on-publish = ["/usr/local/bin/published"]  # the zones' default on-publish (below)
    on-publish-timeout = 60         # seconds before an on-publish command is killed

    [tsig.xfr-key]                  # a TSIG key; the table's name is the key's name
    algorithm = "hmac-sha256"       # hmac-sha224/256/384/512 (default hmac-sha256)
    secret = "base64..."            # or: secret-file = "xfr.key" (the base64 alone, a BIND
                                    # `key` clause or a Knot `key:` section); never both

    [remote.hidden-primary]         # a primary or a secondary
    addresses = ["127.0.0.11:53"]   # address[:port], [v6]:port; port 53 when left out
    key = "xfr-key"                 # optional: TSIG for SOA queries, transfers, NOTIFY
    notify-unsigned = false         # true: take this primary's NOTIFY without the key (from
                                    # its addresses only; what it triggers is still signed)

    [acl.secondaries]               # who may transfer (AXFR/IXFR); default: nobody
    networks = ["127.0.0.0/8"]      # addresses or networks ("addresses" is accepted too)
    key = "xfr-key"                 # optional: transfers must also be signed with it

    [[zone]]
    name = "example.com."
    file = "example.com.zone"       # a zone-file source (re-read on `signwire zone reload`)
    # primaries = ["hidden-primary"]  # or: transfer it in (exactly one of file / primaries)
    policy = "default"              # a built-in policy or one from policy-file
    # policy-file = "policies.toml"
    notify = ["bind-secondaries"]   # remotes told of each new signed version
    allow-transfer = ["secondaries"]  # ACLs; all of one zone's ACLs name the same key (or none)
    # output = "example.com.zone.signed"  # also write each signed version here, atomically
    expire-stops-serving = false    # true: RFC 1035 behaviour, stop at SOA expire (off:
                                    # keep serving, report the zone stale)
    answer-queries = true           # false: answer only SOA and transfers (hidden signer)
    min-refresh = 60                # lower bounds on the primary's SOA refresh, retry and
    min-retry = 10                  # expire timers, in seconds (defaults shown); lower them
    min-expire = 3600               # only to watch expiry in a lab
    # on-publish = ["/usr/local/bin/push", "--fast"]  # run after each new version is served
                                    # (and written to output): an argument list, never a shell
                                    # string; [] turns the [server] default off for this zone
    # on-publish-timeout = 60

Running it (the daemon stays in the foreground and logs one line per event to stderr)::

    signwire serve --config signwire.toml        # SIGTERM/SIGINT: clean stop; SIGHUP: re-read
    signwire status --config signwire.toml [--json]
    signwire zone list --config signwire.toml
    signwire zone reload|retransfer|notify|resign example.com. --config signwire.toml
    signwire zone add example.net. --primaries hidden-primary --notify bind-secondaries \
        --allow-transfer secondaries --config signwire.toml   # or --file PATH; --policy P
    signwire zone remove example.net. [--forget-keys] --config signwire.toml

Zones added with ``zone add`` are served at once and kept in the state (table
``added_zones``), so they come back after a restart; they are checked like the file's own
zones (remotes, ACLs and policy must exist). A zone both in this file and added: the file's
settings win, the log says so, and ``zone remove`` drops only the added copy. ``zone
remove`` stops serving an added zone (a zone of this file is removed by editing the file);
its keys stay in the key store, ready for a later ``zone add``, unless ``--forget-keys``
retires them (moved to ``retired/``, never deleted). With no daemon running, ``zone
add|remove`` edit the state directly.

``on-publish``: after each new signed version is served (and written to ``output``, when
set) the command runs in the background with a scrubbed environment (as the policy's
``ds-submit-command``: PATH, HOME, locale, TMPDIR) plus ``SIGNWIRE_ZONE``,
``SIGNWIRE_SERIAL`` and ``SIGNWIRE_OUTPUT`` (only with ``output``); its exit status is
logged, a failure or a timeout never holds back serving. Runs of one zone follow each other
in order; at most four run at once. A stopping daemon does not wait for one still running.

``metrics``: per zone ``signwire_zone_signed_serial``, ``..._input_serial``,
``..._upstream_expires_in_seconds``, ``..._stale``, ``..._signature_expiry_earliest_timestamp``,
``..._refresh_success_timestamp``, counters of transfers in and out and of verification
failures, a histogram of signing time, and per secondary
``signwire_secondary_last_transfer_serial``.

The commands find the daemon through ``[server] control`` (or ``--control PATH``); with no
daemon running, ``status`` reads the state directory. The daemon holds the state directory's
lock for its whole life, so ``signwire sign --policy`` and ``signwire key`` on the same state
wait for it to stop. ``signwire status --json`` lists, per zone, the served serial, the
upstream refresh state (``upstream.expires_in``; ``state`` is ``fresh``, ``stale`` or
``no copy``), the earliest signature expiry, each secondary's last transfer and NOTIFY answer,
and the DS of each key-signing key (for a resolver's trust anchor).

Every problem is reported at once, in one :class:`ConfigError` naming the file and the key:
``signwire.toml: zone 'example.com.': allow-transfer: no acl named 'x'``. Secrets are never
quoted in a message.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from signwire.config.model import (
    Acl,
    Config,
    ConfigError,
    Endpoint,
    Remote,
    ServerConfig,
    Tsig,
    ZoneConfig,
)
from signwire.policy.agents import (
    REFUSED_TSIG_ALGORITHMS,
    TSIG_ALGORITHMS,
    decode_secret,
    parse_address,
)
from signwire.zones import names

_TOP = frozenset({"server", "tsig", "remote", "acl", "zone"})
_SERVER = frozenset({
    "listen", "state", "control", "on-publish", "on-publish-timeout", "metrics", "log-format",
})
_TSIG = frozenset({"algorithm", "secret", "secret-file"})
_REMOTE = frozenset({"addresses", "key", "notify-unsigned"})
_ACL = frozenset({"addresses", "networks", "key"})
_ZONE = frozenset({
    "name", "file", "primaries", "policy", "policy-file", "notify", "allow-transfer", "output",
    "expire-stops-serving", "answer-queries", "min-refresh", "min-retry", "min-expire",
    "on-publish", "on-publish-timeout",
})
LOG_FORMATS = ("text", "json")
METRICS_PORT = 9153
_BOUNDS = (("min-refresh", 60), ("min-retry", 10), ("min-expire", 3600))


def load_config(path: str | Path) -> Config:
    """Read and check the file; :class:`ConfigError` for anything that cannot work."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{source}: cannot be read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{source}: is not UTF-8 text") from None
    return parse_config(text, source=source)


def parse_config(text: str, *, source: str = "<config>") -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: not valid TOML: {e}") from None
    return _Parser(source).config(data)


def parse_zone(table: Mapping[str, Any], config: Config, *, source: str = "zone add") -> ZoneConfig:
    """One ``[[zone]]`` table given at run time (``signwire zone add``, or a zone added before
    and kept in the state), checked against ``config``'s remotes, ACLs and [server] defaults
    exactly as the file's own zones are. Paths must be absolute (there is no file to be
    relative to). :class:`ConfigError` names every problem."""
    parser = _Parser(f"<{source}>")
    parser.defaults = config.server
    zone = parser.zone(1, table, config.remotes, config.acls)
    if zone is not None:
        for key in ("file", "policy-file", "output"):
            value = table.get(key)
            if isinstance(value, str) and value and not Path(value).is_absolute():
                parser.fail(f"zone {zone.name!r}: {key}", "must be an absolute path")
    if parser.problems or zone is None:
        raise ConfigError(f"{source}: " + "; ".join(parser.problems or ["not a zone"]))
    return zone


def parse_endpoint(text: str, default_port: int = 53) -> Endpoint | None:
    """``192.0.2.1``, ``192.0.2.1:5353``, ``2001:db8::1`` or ``[2001:db8::1]:5353``: the
    address forms parental agents take, read by the same function."""
    found = parse_address(text, default_port)
    return None if found is None else Endpoint(found.address, found.port)


def read_secret_file(path: Path) -> bytes:
    """The secret of a key file: base64 alone, a BIND ``key`` clause or a Knot ``key:``
    section. ValueError says what is wrong, never quoting the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot be read: {getattr(e, 'strerror', None) or e}") from None
    match = re.search(r'secret\s*[:]?\s*"?([A-Za-z0-9+/=]+)"?', text)
    return decode_secret(match.group(1) if match else text.strip())


def _absolute_name(text: str) -> str:
    wire = names.from_text(text if text.endswith(".") else text + ".", None)
    return names.to_text(names.lower(wire))


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.base = Path(source).resolve().parent if not source.startswith("<") else Path.cwd()
        self.problems: list[str] = []
        self.defaults: ServerConfig | None = None  # for the zones' on-publish

    def fail(self, where: str, why: str) -> None:
        self.problems.append(f"{where}: {why}")

    def path(self, value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else self.base / p

    def unknown(self, where: str, table: Mapping[str, Any], known: frozenset[str]) -> None:
        extra = sorted(set(table) - known)
        if extra:
            self.fail(where, f"unknown key(s) {', '.join(map(repr, extra))} "
                             f"(known: {', '.join(sorted(known))})")

    def table(self, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, Mapping):
            self.fail(key, "must be a table")
            return {}
        return value

    def strings(self, where: str, value: Any) -> list[str]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(where, "must be a list of strings")
            return []
        return list(value)

    def command(self, where: str, value: Any) -> tuple[str, ...]:
        """An argument vector: a list of non-empty strings, never one string for a shell."""
        if isinstance(value, str):
            self.fail(where, 'must be a list: ["/path/to/program", "argument", ...] (no shell)')
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(where, "must be a list of non-empty strings (program, arguments)")
            return ()
        return tuple(value)

    def seconds(self, where: str, value: Any, default: float) -> float:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            self.fail(where, "must be a number of seconds above 0")
            return default
        return float(value)

    def config(self, data: Mapping[str, Any]) -> Config:
        self.unknown("top level", data, _TOP)
        server = self.server(self.table(data, "server"))
        self.defaults = server
        tsig = {}
        for name, table in self.table(data, "tsig").items():
            key = self.tsig(name, table)
            if key is not None:
                tsig[key.name] = key
        remotes = {}
        for name, table in self.table(data, "remote").items():
            remote = self.remote(name, table, tsig)
            if remote is not None:
                remotes[name] = remote
        acls = {}
        for name, table in self.table(data, "acl").items():
            acl = self.acl(name, table, tsig)
            if acl is not None:
                acls[name] = acl
        zones_value = data.get("zone", [])
        zones: list[ZoneConfig] = []
        if not isinstance(zones_value, list):
            self.fail("zone", "must be an array of tables ([[zone]])")
            zones_value = []
        seen: set[str] = set()
        for n, table in enumerate(zones_value, 1):
            zone = self.zone(n, table, remotes, acls)
            if zone is None:
                continue
            if zone.name in seen:
                self.fail(f"zone {zone.name!r}", "configured twice")
            seen.add(zone.name)
            zones.append(zone)
        if self.problems:
            raise ConfigError(f"{self.source}: " + f"\n{self.source}: ".join(self.problems))
        assert server is not None
        return Config(self.source, server, tsig, remotes, acls, tuple(zones))

    def server(self, table: Mapping[str, Any]) -> ServerConfig | None:
        self.unknown("server", table, _SERVER)
        listen: list[Endpoint] = []
        for text in self.strings("server: listen", table.get("listen", ["127.0.0.1:53"])):
            ep = parse_endpoint(text)
            if ep is None:
                self.fail("server: listen", f"{text!r} is not an address with an optional port")
            else:
                listen.append(ep)
        if not listen:
            self.fail("server: listen", "needs at least one address")
        state = table.get("state")
        if not isinstance(state, str) or not state:
            self.fail("server: state", 'needs the state directory (state = "/var/lib/signwire")')
            return None
        state_path = self.path(state)
        control = table.get("control", str(state_path / "control.sock"))
        if not isinstance(control, str) or not control:
            self.fail("server: control", "must be a file name")
            return None
        on_publish = self.command("server: on-publish", table.get("on-publish", []))
        timeout = self.seconds("server: on-publish-timeout", table.get("on-publish-timeout"), 60.0)
        metrics = None
        metrics_text = table.get("metrics")
        if metrics_text is not None:
            metrics = parse_endpoint(metrics_text, METRICS_PORT) if isinstance(
                metrics_text, str) else None
            if metrics is None:
                self.fail("server: metrics", f"{metrics_text!r} is not an address with an "
                                             "optional port (\"127.0.0.1:9153\")")
        log_format = table.get("log-format", "text")
        if log_format not in LOG_FORMATS:
            self.fail("server: log-format", f"must be one of {', '.join(LOG_FORMATS)}")
            log_format = "text"
        return ServerConfig(tuple(listen), state_path, self.path(control), on_publish, timeout,
                            metrics, log_format)

    def tsig(self, name: str, table: Any) -> Tsig | None:
        where = f"tsig {name!r}"
        if not isinstance(table, Mapping):
            self.fail(where, "must be a table")
            return None
        self.unknown(where, table, _TSIG)
        try:
            key_name = _absolute_name(name)
        except ValueError as e:
            self.fail(where, f"not a valid key name: {e}")
            return None
        algorithm = table.get("algorithm", "hmac-sha256")
        algorithm = algorithm.strip().lower().rstrip(".") if isinstance(algorithm, str) else ""
        if algorithm in REFUSED_TSIG_ALGORITHMS:
            self.fail(where, f"algorithm {algorithm} must not be used any more (RFC 8945 §6)")
            return None
        if algorithm not in TSIG_ALGORITHMS:
            self.fail(where, f"algorithm must be one of {', '.join(TSIG_ALGORITHMS)}")
            return None
        secret, secret_file = table.get("secret"), table.get("secret-file")
        if (secret is None) == (secret_file is None):
            self.fail(where, "needs exactly one of secret (base64) and secret-file")
            return None
        try:
            if secret is not None:
                value = decode_secret(secret)
            elif not isinstance(secret_file, str):
                raise ValueError("must be a file name")
            else:
                value = read_secret_file(self.path(secret_file))
        except ValueError as e:
            self.fail(where, f"{'secret' if secret is not None else 'secret-file'} {e}")
            return None
        return Tsig(key_name, algorithm, value)

    def key_ref(self, where: str, value: Any, tsig: Mapping[str, Tsig]) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(f"{where}: key", "must be the name of a [tsig.NAME] table")
            return None
        try:
            name = _absolute_name(value)
        except ValueError:
            name = value
        if name not in tsig:
            self.fail(f"{where}: key", f"no tsig key named {value!r}")
            return None
        return name

    def remote(self, name: str, table: Any, tsig: Mapping[str, Tsig]) -> Remote | None:
        where = f"remote {name!r}"
        if not isinstance(table, Mapping):
            self.fail(where, "must be a table")
            return None
        self.unknown(where, table, _REMOTE)
        addresses = []
        for text in self.strings(f"{where}: addresses", table.get("addresses", [])):
            ep = parse_endpoint(text)
            if ep is None:
                self.fail(f"{where}: addresses", f"{text!r} is not an IP address with an "
                                                 "optional port")
            else:
                addresses.append(ep)
        if not addresses:
            self.fail(f"{where}: addresses", "needs at least one address")
        unsigned = table.get("notify-unsigned", False)
        if not isinstance(unsigned, bool):
            self.fail(f"{where}: notify-unsigned", "must be true or false")
            unsigned = False
        return Remote(name, tuple(addresses), self.key_ref(where, table.get("key"), tsig),
                      unsigned)

    def acl(self, name: str, table: Any, tsig: Mapping[str, Tsig]) -> Acl | None:
        where = f"acl {name!r}"
        if not isinstance(table, Mapping):
            self.fail(where, "must be a table")
            return None
        self.unknown(where, table, _ACL)
        networks = []
        for key in ("addresses", "networks"):
            for text in self.strings(f"{where}: {key}", table.get(key, [])):
                try:
                    networks.append(ipaddress.ip_network(text.strip(), strict=False))
                except ValueError:
                    self.fail(f"{where}: {key}", f"{text!r} is not an address or a network")
        if not networks:
            self.fail(where, "needs networks (or addresses) to allow")
        return Acl(name, tuple(networks), self.key_ref(where, table.get("key"), tsig))

    def zone(
        self, n: int, table: Any, remotes: Mapping[str, Remote], acls: Mapping[str, Acl]
    ) -> ZoneConfig | None:
        where = f"zone {n}"
        if not isinstance(table, Mapping):
            self.fail(where, "must be a table")
            return None
        name_text = table.get("name")
        if not isinstance(name_text, str) or not name_text:
            self.fail(where, 'needs name = "example.com."')
            return None
        try:
            name = _absolute_name(name_text)
        except ValueError as e:
            self.fail(where, f"name {name_text!r}: {e}")
            return None
        where = f"zone {name!r}"
        self.unknown(where, table, _ZONE)
        file_value = table.get("file")
        primaries = self.strings(f"{where}: primaries", table.get("primaries", []))
        if (file_value is None) == (not primaries):
            self.fail(where, "needs exactly one source: file = PATH or primaries = [REMOTE, ...]")
        if file_value is not None and not isinstance(file_value, str):
            self.fail(f"{where}: file", "must be a file name")
            file_value = None
        for p in primaries:
            if p not in remotes:
                self.fail(f"{where}: primaries", f"no remote named {p!r}")
        keys = {remotes[p].key for p in primaries if p in remotes}
        if len(keys) > 1:
            self.fail(f"{where}: primaries", "all primaries of a zone use the same TSIG key")
        notify = self.strings(f"{where}: notify", table.get("notify", []))
        for r in notify:
            if r not in remotes:
                self.fail(f"{where}: notify", f"no remote named {r!r}")
        allow = self.strings(f"{where}: allow-transfer", table.get("allow-transfer", []))
        for a in allow:
            if a not in acls:
                self.fail(f"{where}: allow-transfer", f"no acl named {a!r}")
        acl_keys = {acls[a].key for a in allow if a in acls}
        if len(acl_keys) > 1:
            self.fail(f"{where}: allow-transfer", "the ACLs of one zone must name the same key "
                                                  "(or none)")
        policy = table.get("policy", "default")
        if not isinstance(policy, str) or not policy:
            self.fail(f"{where}: policy", "must be a policy name")
            policy = "default"
        policy_file = table.get("policy-file")
        output = table.get("output")
        for key, value in (("policy-file", policy_file), ("output", output)):
            if value is not None and (not isinstance(value, str) or not value):
                self.fail(f"{where}: {key}", "must be a file name")
        flags = {}
        for key, default in (("expire-stops-serving", False), ("answer-queries", True)):
            value = table.get(key, default)
            if not isinstance(value, bool):
                self.fail(f"{where}: {key}", "must be true or false")
                value = default
            flags[key] = value
        bounds: dict[str, int] = {}
        for key, seconds in _BOUNDS:
            number = table.get(key, seconds)
            if isinstance(number, bool) or not isinstance(number, int) or number < 1:
                self.fail(f"{where}: {key}", "must be a number of seconds, at least 1")
                number = seconds
            bounds[key] = number
        defaults = self.defaults
        on_publish = (self.command(f"{where}: on-publish", table["on-publish"])
                      if "on-publish" in table else defaults.on_publish if defaults else ())
        timeout = self.seconds(f"{where}: on-publish-timeout", table.get("on-publish-timeout"),
                               defaults.on_publish_timeout if defaults else 60.0)
        return ZoneConfig(
            name=name,
            file=self.path(file_value) if isinstance(file_value, str) else None,
            primaries=tuple(primaries),
            policy=policy,
            policy_file=self.path(policy_file) if isinstance(policy_file, str) and policy_file
            else None,
            notify=tuple(notify),
            allow_transfer=tuple(allow),
            output=self.path(output) if isinstance(output, str) and output else None,
            expire_stops_serving=flags["expire-stops-serving"],
            answer_queries=flags["answer-queries"],
            min_refresh=bounds["min-refresh"],
            min_retry=bounds["min-retry"],
            min_expire=bounds["min-expire"],
            on_publish=on_publish,
            on_publish_timeout=timeout,
        )
