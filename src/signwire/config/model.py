"""The daemon's configuration as frozen values (read by :mod:`signwire.config.parse`).

TSIG secrets are kept out of every ``repr`` so that no log line or status output can carry
one by accident.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from signwire.errors import SignwireError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigError(SignwireError):
    """A configuration that cannot be used; the message names the file and each key at fault."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    address: str  # an IPv4 or IPv6 literal
    port: int

    def __str__(self) -> str:
        return f"[{self.address}]:{self.port}" if ":" in self.address else (
            f"{self.address}:{self.port}")


@dataclass(frozen=True, slots=True)
class Tsig:
    name: str  # lowercase, absolute ("xfr-key.")
    algorithm: str  # "hmac-sha256", ...
    secret: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Remote:
    """A primary or a secondary: where it is and the TSIG key spoken with it."""

    name: str
    addresses: tuple[Endpoint, ...]
    key: str | None = None  # a key name of Config.tsig
    # As a primary: accept its NOTIFY unsigned (some primaries never sign NOTIFY); the SOA
    # query and the transfer that follow are still signed with the key.
    notify_unsigned: bool = False


@dataclass(frozen=True, slots=True)
class Acl:
    """Who may transfer a zone: these networks, and the key when one is named."""

    name: str
    networks: tuple[Network, ...]
    key: str | None = None


@dataclass(frozen=True, slots=True)
class ZoneConfig:
    name: str  # lowercase, absolute
    file: Path | None  # the zone-file source, or None with primaries
    primaries: tuple[str, ...]  # remote names
    policy: str = "default"
    policy_file: Path | None = None
    notify: tuple[str, ...] = ()  # remote names
    allow_transfer: tuple[str, ...] = ()  # acl names
    output: Path | None = None  # an optional signed zone file, written atomically
    expire_stops_serving: bool = False
    answer_queries: bool = True
    # Bounds on the primary's SOA timers (seconds): a typo at the primary cannot make us poll
    # every second or never; tests and labs lower them to see expiry in seconds.
    min_refresh: int = 60
    min_retry: int = 10
    min_expire: int = 3600
    # A command (argument vector, no shell) run after each new version is served and written;
    # the zone's own or the [server] default; () for none.
    on_publish: tuple[str, ...] = ()
    on_publish_timeout: float = 60.0


@dataclass(frozen=True, slots=True)
class ServerConfig:
    listen: tuple[Endpoint, ...]
    state: Path
    control: Path
    on_publish: tuple[str, ...] = ()  # the zones' default
    on_publish_timeout: float = 60.0
    metrics: Endpoint | None = None  # where /metrics is served (Prometheus); None: off
    log_format: str = "text"  # or "json": one object per line


@dataclass(frozen=True, slots=True)
class Config:
    source: str
    server: ServerConfig
    tsig: dict[str, Tsig]  # by key name
    remotes: dict[str, Remote]
    acls: dict[str, Acl]
    zones: tuple[ZoneConfig, ...]

    def zone(self, name: str) -> ZoneConfig | None:
        key = name.lower() if name.endswith(".") else name.lower() + "."
        return next((z for z in self.zones if z.name == key), None)
