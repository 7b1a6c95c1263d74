"""The state database: zones, their keys' states, and a log of what happened.

SQLite from the standard library, in WAL mode with full fsync, every change in one transaction,
so a crash at any instant leaves either the old state or the new one, never a mix. Key states
are stored as the enforcer's own JSON (``KeyState.to_dict``), one row per key, so the schema
does not have to follow every field the enforcer keeps.

:meth:`StateStore.close` checkpoints the write-ahead log into ``state.sqlite``: after every run
that one file holds the whole state, so a backup of it alone is complete (``signwire state
backup`` is still the right way: it takes the key files too).

Two tables keep what a crash could otherwise make ambiguous:

* ``publications``: a signed file saved in the same transaction as the state it goes with, but
  not yet renamed into place (the temporary file's name and inode). The next run finishes the
  rename (:func:`signwire.storage.files.finish_interrupted_rename`), so what is published and
  what the state says always agree.
* ``key_history``: every key the state ever recorded. A key in the key store that is neither in
  the state nor in the history was made by a run that never saved: it was never published, and
  can be set aside.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from signwire.errors import SignwireError
from signwire.keys.keystate import KeyState
from signwire.storage.files import check_private_directory

SCHEMA_VERSION = 3

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
CREATE TABLE IF NOT EXISTS publications (
    -- a signed file whose state is saved but whose rename into place may not have happened
    zone TEXT PRIMARY KEY,
    serial INTEGER NOT NULL,
    target TEXT NOT NULL,
    temp TEXT NOT NULL,
    inode INTEGER NOT NULL,
    at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS key_history (
    zone TEXT NOT NULL,
    algorithm INTEGER NOT NULL,
    tag INTEGER NOT NULL,
    key_id TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    retired_at INTEGER,
    PRIMARY KEY (zone, algorithm, tag)
);
CREATE TABLE IF NOT EXISTS added_zones (
    -- zones added at run time (`signwire zone add`), served again after a restart
    name TEXT PRIMARY KEY,          -- presentation format, lowercase, with the trailing dot
    config TEXT NOT NULL,           -- the zone's [[zone]] table as JSON (absolute paths)
    added_at INTEGER NOT NULL
);
"""


_ZONE_COLUMNS = "name, policy, policy_file, key_store, last_serial, next_event_at, updated_at"


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """Which key store holds a zone's keys, without secrets (the PIN is never stored: only the
    file or environment variable to read it from), so that later commands reopen the same one."""

    kind: str  # "files" or "pkcs11"
    directory: str | None = None  # files
    module: str | None = None  # pkcs11: the module's path
    token: str | None = None  # pkcs11: the token's label
    pin_file: str | None = None
    pin_env: str | None = None

    @classmethod
    def files(cls, directory: str | Path) -> StoreConfig:
        return cls("files", directory=str(Path(directory).resolve()))

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v is not None}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> StoreConfig:
        return cls(**json.loads(text))


class StateError(SignwireError):
    """The state directory cannot be used (unreadable, newer schema, locked too long)."""


STATE_FILE = "state.sqlite"


@dataclass(frozen=True, slots=True)
class Publication:
    """A signed file saved with its state but perhaps not yet renamed into place."""

    zone: str
    serial: int
    target: str
    temp: str
    inode: int
    at: int


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
    """The state directory's database. ``create=False`` (every command but the ones that
    start zones) refuses a folder without a state instead of making an empty one, so a
    mistyped ``--state`` is an error, not a state with no zones."""

    def __init__(self, directory: str | Path, *, create: bool = True) -> None:
        self.directory = Path(directory)
        check_private_directory(self.directory, "state directory")
        path = self.directory / STATE_FILE
        if not create and not path.is_file():
            raise StateError(
                f"{self.directory}: no signwire state here (no {STATE_FILE}); check --state"
            )
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            # Key states are the zone's lifeline: a commit is on disk before signwire goes on.
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            with self.db:
                row = self._schema_row()
                if row is not None and int(row[0]) > SCHEMA_VERSION:
                    raise StateError(
                        f"{self.directory}: state schema {row[0]} is newer than this signwire"
                        f" understands ({SCHEMA_VERSION}); upgrade signwire"
                    )
                self.db.executescript(_SCHEMA)
                if row is None:
                    self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                elif int(row[0]) < SCHEMA_VERSION:
                    self._upgrade()
        except (OSError, sqlite3.Error) as e:
            raise StateError(f"{self.directory}: cannot open the state database: {e}") from None

    def _schema_row(self) -> tuple[str] | None:
        has_meta = self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'"
        ).fetchone()
        if not has_meta:
            return None
        row = self.db.execute("SELECT value FROM meta WHERE name='schema'").fetchone()
        return (str(row[0]),) if row else None

    def _upgrade(self) -> None:
        """Schema 1 → 2: the history starts with the keys the state holds now. 2 → 3: the
        table of zones added at run time, made empty by the schema script itself."""
        (found,) = self._schema_row() or ("1",)
        if int(found) < 2:
            self._history_from_keys()
        self.db.execute("UPDATE meta SET value=? WHERE name='schema'", (str(SCHEMA_VERSION),))

    def _history_from_keys(self) -> None:
        for zone, state in self.db.execute("SELECT zone, state FROM keys").fetchall():
            key = KeyState.from_dict(json.loads(state))
            if key.tag is not None:
                self.db.execute(
                    "INSERT OR IGNORE INTO key_history VALUES (?, ?, ?, ?, ?, NULL)",
                    (zone, key.algorithm, key.tag, key.key_id, key.created_at or 0),
                )

    def close(self) -> None:
        """Fold the write-ahead log into ``state.sqlite`` and close: after this the one file
        holds everything (signwire leaves with ``os._exit``, which would skip SQLite's own
        checkpoint at close)."""
        try:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass  # another reader holds the log open; its own close checkpoints it
        finally:
            self.db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        rows = self.db.execute(f"SELECT {_ZONE_COLUMNS} FROM zones ORDER BY name").fetchall()
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
        publication: Publication | None = None,
    ) -> None:
        """Replace the zone's key states, drop the pending reports that were applied, record
        what happened, and (with ``publication``) the signed file that goes with these states:
        all or nothing."""
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
            db.executemany(
                "INSERT OR IGNORE INTO key_history VALUES (?, ?, ?, ?, ?, NULL)",
                [(zone, k.algorithm, k.tag, k.key_id, now) for k in keys if k.tag is not None],
            )
            current = [(k.algorithm, k.tag) for k in keys if k.tag is not None]
            gone = [
                (a, t)
                for a, t in db.execute(
                    "SELECT algorithm, tag FROM key_history WHERE zone=? AND retired_at IS NULL",
                    (zone,),
                ).fetchall()
                if (a, t) not in current
            ]
            db.executemany(
                "UPDATE key_history SET retired_at=? WHERE zone=? AND algorithm=? AND tag=?",
                [(now, zone, a, t) for a, t in gone],
            )
            if publication is not None:
                db.execute(
                    "INSERT OR REPLACE INTO publications VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        zone,
                        publication.serial,
                        publication.target,
                        publication.temp,
                        publication.inode,
                        publication.at,
                    ),
                )

    def publications(self) -> list[Publication]:
        """Signed files saved with their state whose rename may not have happened."""
        rows = self.db.execute(
            "SELECT zone, serial, target, temp, inode, at FROM publications ORDER BY zone"
        ).fetchall()
        return [Publication(*r) for r in rows]

    def publication_done(self, zone: str, *, message: str | None = None, at: int = 0) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM publications WHERE zone=?", (zone,))
            if message:
                db.execute(
                    "INSERT INTO log (zone, at, message) VALUES (?, ?, ?)", (zone, at, message)
                )

    def recorded_keys(self, zone: str) -> set[tuple[int, int]]:
        """(algorithm, tag) of every key this state ever recorded for the zone."""
        rows = self.db.execute(
            "SELECT algorithm, tag FROM key_history WHERE zone=?", (zone,)
        ).fetchall()
        return {(int(a), int(t)) for a, t in rows}

    def add_log(self, zone: str, at: int, message: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO log (zone, at, message) VALUES (?, ?, ?)", (zone, at, message))

    # --- zones added at run time ----------------------------------------------------------

    def added_zones(self) -> list[tuple[str, dict[str, Any], int]]:
        """(name, [[zone]] table, added at) of each zone added at run time, by name."""
        rows = self.db.execute(
            "SELECT name, config, added_at FROM added_zones ORDER BY name"
        ).fetchall()
        return [(str(n), dict(json.loads(c)), int(t)) for n, c, t in rows]

    def add_zone(self, name: str, table: dict[str, Any], at: int) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO added_zones (name, config, added_at) VALUES (?, ?, ?)",
                (name, json.dumps(table, sort_keys=True), at),
            )
            db.execute(
                "INSERT INTO log (zone, at, message) VALUES (?, ?, ?)",
                (name, at, "added at run time"),
            )

    def remove_added_zone(self, name: str, at: int, *, forget: bool = False) -> bool:
        """Drop an added zone (False: it was not one). ``forget``: its key states and pending
        reports go too (the key files are the caller's: retire them first); the key history
        stays, so keys of this zone found later are known as once recorded."""
        with self.transaction() as db:
            gone = db.execute("DELETE FROM added_zones WHERE name=?", (name,)).rowcount
            if gone and forget:
                db.execute("DELETE FROM keys WHERE zone=?", (name,))
                db.execute("DELETE FROM pending WHERE zone=?", (name,))
                db.execute("DELETE FROM zones WHERE name=?", (name,))
                db.execute(
                    "UPDATE key_history SET retired_at=? WHERE zone=? AND retired_at IS NULL",
                    (at, name),
                )
            if gone:
                db.execute(
                    "INSERT INTO log (zone, at, message) VALUES (?, ?, ?)",
                    (name, at, "removed" + (", keys forgotten" if forget else "")),
                )
        return bool(gone)
