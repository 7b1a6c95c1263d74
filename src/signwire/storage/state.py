"""The state database: zones, their keys' states, and a log of what happened.

SQLite from the standard library, in WAL mode, every change in one transaction, so a crash at
any instant leaves either the old state or the new one, never a mix. Key states are stored as
the enforcer's own JSON (``KeyState.to_dict``), one row per key, so the schema does not have to
follow every field the enforcer keeps.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from signwire.errors import SignwireError
from signwire.keys.keystate import KeyState
from signwire.keys.store import StoreConfig

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS zones (
    name TEXT PRIMARY KEY,          -- presentation format, lowercase, with the trailing dot
    policy TEXT,
    policy_file TEXT,               -- where the policy was read from (NULL: built in)
    key_store TEXT,                 -- StoreConfig as JSON: where the keys are (never a PIN)
    last_serial INTEGER,            -- the serial signwire published last
    next_event_at INTEGER,          -- when the enforcer wants to run again
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS keys (
    zone TEXT NOT NULL REFERENCES zones(name),
    key_id TEXT NOT NULL,
    state TEXT NOT NULL,            -- KeyState.to_dict() as JSON
    PRIMARY KEY (zone, key_id)
);
CREATE TABLE IF NOT EXISTS pending (
    -- what the operator or a DS check reported, applied by the next enforcer run that also
    -- publishes (applying it alone could move records that no signed version shows yet)
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    zone TEXT NOT NULL,
    kind TEXT NOT NULL,             -- ds-seen, ds-gone(-checked), roll, compromised
    arg TEXT NOT NULL,              -- key id, or role for roll
    at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    zone TEXT NOT NULL,
    at INTEGER NOT NULL,
    message TEXT NOT NULL
);
"""


_ZONE_COLUMNS = "name, policy, policy_file, key_store, last_serial, next_event_at, updated_at"


class StateError(SignwireError):
    """The state directory cannot be used (unreadable, newer schema, locked too long)."""


@dataclass(frozen=True, slots=True)
class ZoneRow:
    name: str
    policy: str | None
    policy_file: str | None
    key_store: str | None
    last_serial: int | None
    next_event_at: int | None
    updated_at: int


class StateStore:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.directory / "state.sqlite", timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            with self.db:
                self.db.executescript(_SCHEMA)
                row = self.db.execute("SELECT value FROM meta WHERE name='schema'").fetchone()
                if row is None:
                    self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                elif int(row[0]) > SCHEMA_VERSION:
                    raise StateError(
                        f"{self.directory}: state schema {row[0]} is newer than this signwire"
                        f" understands ({SCHEMA_VERSION}); upgrade signwire"
                    )
        except (OSError, sqlite3.Error) as e:
            raise StateError(f"{self.directory}: cannot open the state database: {e}") from None

    def close(self) -> None:
        self.db.close()

    def keys_folder(self, zone: str) -> Path:
        return self.directory / "keys" / zone.rstrip(".").lower()

    def key_store(self, zone: str) -> StoreConfig:
        """Where the zone's keys are: as the state remembers it, else the files default."""
        row = self.zone(zone)
        if row is not None and row.key_store:
            return StoreConfig.from_json(row.key_store)
        return StoreConfig.files(self.keys_folder(zone))

    def zone(self, name: str) -> ZoneRow | None:
        row = self.db.execute(
            f"SELECT {_ZONE_COLUMNS} FROM zones WHERE name=?",
            (name,),
        ).fetchone()
        return ZoneRow(*row) if row else None

    def zones(self) -> list[ZoneRow]:
        rows = self.db.execute(
            f"SELECT {_ZONE_COLUMNS} FROM zones ORDER BY name"
        ).fetchall()
        return [ZoneRow(*r) for r in rows]

    def key_states(self, zone: str) -> list[KeyState]:
        rows = self.db.execute(
            "SELECT state FROM keys WHERE zone=? ORDER BY key_id", (zone,)
        ).fetchall()
        return [KeyState.from_dict(json.loads(r[0])) for r in rows]

    def pending(self, zone: str) -> list[tuple[int, str, str, int]]:
        """(id, kind, arg, at) of reports not yet applied, oldest first."""
        rows = self.db.execute(
            "SELECT id, kind, arg, at FROM pending WHERE zone=? ORDER BY id", (zone,)
        ).fetchall()
        return [(int(i), str(k), str(a), int(t)) for i, k, a, t in rows]

    def add_pending(self, zone: str, kind: str, arg: str, at: int) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO pending (zone, kind, arg, at) VALUES (?, ?, ?, ?)",
                (zone, kind, arg, at),
            )
            db.execute(
                "INSERT INTO log (zone, at, message) VALUES (?, ?, ?)",
                (zone, at, f"reported: {kind} {arg} (applied at the next signing)"),
            )

    def log(self, zone: str, limit: int = 50) -> list[tuple[int, str]]:
        rows = self.db.execute(
            "SELECT at, message FROM log WHERE zone=? ORDER BY id DESC LIMIT ?", (zone, limit)
        ).fetchall()
        return [(int(at), str(m)) for at, m in reversed(rows)]

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            with self.db:
                yield self.db
        except sqlite3.Error as e:
            raise StateError(f"{self.directory}: state not saved: {e}") from None

    def save(
        self,
        zone: str,
        *,
        now: int,
        keys: Sequence[KeyState],
        policy: str | None,
        next_event_at: int | None,
        policy_file: str | None = None,
        key_store: StoreConfig | None = None,
        serial: int | None = None,
        messages: Sequence[str] = (),
        applied: Sequence[int] = (),
    ) -> None:
        """Replace the zone's key states, drop the pending reports that were applied, and
        record what happened: all or nothing."""
        with self.transaction() as db:
            db.executemany("DELETE FROM pending WHERE id=?", [(i,) for i in applied])
            db.execute(
                "INSERT INTO zones (name, policy, policy_file, key_store, last_serial,"
                " next_event_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO"
                " UPDATE SET policy=excluded.policy, policy_file=excluded.policy_file,"
                " key_store=excluded.key_store,"
                " last_serial=COALESCE(excluded.last_serial, zones.last_serial),"
                " next_event_at=excluded.next_event_at, updated_at=excluded.updated_at",
                (
                    zone,
                    policy,
                    policy_file,
                    key_store.to_json() if key_store else None,
                    serial,
                    next_event_at,
                    now,
                ),
            )
            db.execute("DELETE FROM keys WHERE zone=?", (zone,))
            db.executemany(
                "INSERT INTO keys (zone, key_id, state) VALUES (?, ?, ?)",
                [(zone, k.key_id, json.dumps(k.to_dict(), sort_keys=True)) for k in keys],
            )
            db.executemany(
                "INSERT INTO log (zone, at, message) VALUES (?, ?, ?)",
                [(zone, now, m) for m in messages],
            )
