"""Zones added and removed at run time (``signwire zone add|remove``), shared by the daemon
and the command line.

A zone is given as the ``[[zone]]`` table it would have in the configuration file (paths made
absolute), checked by :func:`signwire.config.parse.parse_zone` against the configuration's
remotes, ACLs and [server] defaults, and its policy read as the daemon will read it. The state
keeps the table (``added_zones``); the daemon reads it back at every start. With no daemon,
:func:`add_offline` and :func:`remove_offline` edit the state under its lock.

Removing a zone never destroys key material: its keys stay in the key store (ready for a
later ``zone add``) unless ``forget_keys``, which retires them as the key store retires any
key (files moved to ``retired/``) and drops the zone's key states from the state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from signwire.config.model import Config, ConfigError, ZoneConfig
from signwire.config.parse import parse_zone
from signwire.errors import SignwireError
from signwire.keystore.store import open_store
from signwire.policy.model import PolicyError
from signwire.policy.parse import load_policy
from signwire.signing.options import from_policy
from signwire.storage import versions
from signwire.storage.lock import StateLock
from signwire.storage.state import StateStore
from signwire.zones import names


class ZoneRequestError(SignwireError):
    """A zone that cannot be added or removed; the message says why."""


def zone_name(text: str) -> str:
    """Lowercase, absolute: the form zones are known by."""
    text = text.strip().lower()
    return text if text.endswith(".") else text + "."


def zone_table(
    name: str,
    *,
    file: str | Path | None = None,
    primaries: Sequence[str] = (),
    policy: str | None = None,
    policy_file: str | Path | None = None,
    notify: Sequence[str] = (),
    allow_transfer: Sequence[str] = (),
    output: str | Path | None = None,
) -> dict[str, Any]:
    """The ``[[zone]]`` table for these options; relative paths are taken from the current
    folder (the operator's), since the daemon has no file to take them from."""
    table: dict[str, Any] = {"name": name}
    for key, value in (("file", file), ("policy-file", policy_file), ("output", output)):
        if value is not None:
            table[key] = str(Path(value).absolute())
    for key, values in (
        ("primaries", primaries),
        ("notify", notify),
        ("allow-transfer", allow_transfer),
    ):
        if values:
            table[key] = list(values)
    if policy is not None:
        table["policy"] = policy
    return table


def check_zone(config: Config, table: dict[str, Any], source: str = "zone add") -> ZoneConfig:
    """The zone, checked as the file's zones are, its policy included; ZoneRequestError."""
    try:
        zone = parse_zone(table, config, source=source)
        from_policy(load_policy(zone.policy, zone.policy_file))
    except (ConfigError, PolicyError) as e:
        raise ZoneRequestError(str(e)) from None
    return zone


def added_zones(
    config: Config, state: StateStore
) -> tuple[list[tuple[ZoneConfig, dict[str, Any]]], list[str]]:
    """The zones the state holds as added, each checked against today's configuration, and
    a message for each one left out (shadowed by the file, or no longer valid)."""
    zones: list[tuple[ZoneConfig, dict[str, Any]]] = []
    messages: list[str] = []
    for name, table, _at in state.added_zones():
        if config.zone(name) is not None:
            messages.append(
                f"{name}: in the configuration file and added at run time: the "
                "configuration file wins (its settings are used)"
            )
            continue
        try:
            zones.append((check_zone(config, table, source=f"added zone {name}"), table))
        except ZoneRequestError as e:
            messages.append(f"{name}: added at run time but not served: {e}")
    return zones, messages


def forget_keys(state: StateStore, name: str) -> list[str]:
    """Retire every key of the zone in its key store (moved aside, never deleted) and drop
    its saved versions; what was done, one line each. Call before the state forgets it."""
    done = []
    store = open_store(state.key_store(name))
    origin = names.from_text(name, None)
    for key in store.keys_for(origin):
        store.retire(key)
        done.append(f"{name}: key {key.key_tag} (algorithm {key.algorithm}) retired "
                    f"from {store.where}")
    saved = versions.path_for(state.directory, name)
    for path in (saved, saved.with_suffix(".refresh"), saved.with_suffix(".journal")):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return done


def add_offline(config: Config, table: dict[str, Any], now: int, *, lock_wait: float = 0
                ) -> ZoneConfig:
    """Add a zone in the state directory while no daemon runs: the next start serves it."""
    zone = check_zone(config, table)
    if config.zone(zone.name) is not None:
        raise ZoneRequestError(f"{zone.name} is in the configuration file already")
    with _locked(config, lock_wait) as state:
        if any(n == zone.name for n, _t, _a in state.added_zones()):
            raise ZoneRequestError(f"{zone.name} was added already")
        state.add_zone(zone.name, table, now)
    return zone


def remove_offline(config: Config, name: str, now: int, *, forget: bool = False,
                   lock_wait: float = 0) -> list[str]:
    """Remove an added zone from the state directory while no daemon runs."""
    name = zone_name(name)
    in_file = config.zone(name) is not None
    with _locked(config, lock_wait) as state:
        if not any(n == name for n, _t, _a in state.added_zones()):
            if in_file:
                raise ZoneRequestError(
                    f"{name} is in the configuration file {config.source}: remove it there "
                    "(and restart the daemon)"
                )
            raise ZoneRequestError(f"{name} is not a zone added at run time")
        if in_file:
            # Only the copy added at run time goes; the file's zone keeps its keys.
            state.remove_added_zone(name, now)
            return []
        done = forget_keys(state, name) if forget else []
        state.remove_added_zone(name, now, forget=forget)
    return done


@contextlib.contextmanager
def _locked(config: Config, wait: float) -> Iterator[StateStore]:
    folder = config.server.state
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = StateLock(folder, wait=wait)
    lock.acquire()
    try:
        with StateStore(folder) as state:
            yield state
    finally:
        lock.release()
