"""Backups of a state directory that can be restored: the database and the key files together.

A copy of ``state.sqlite`` made with ``cp`` while SQLite holds part of the state in its
write-ahead log, or without the key files, restores into a state that has lost keys or names
keys the store no longer has. A backup here is one tar file (mode 0600: it holds private keys):

* ``state.sqlite``: a consistent copy made with SQLite's online backup API;
* ``keys/...``: every file of the state's key folders (active, retired and set-aside keys);
* ``signwire-backup.json``: what it holds (zones, serials, key counts, zones whose keys are on
  an HSM and must be backed up with the HSM's own tools).

Restoring never deletes key material: key files are added where missing (a file of the same
name with other content is a conflict, and the restore stops before changing anything), and
the state it replaces is kept beside it as ``state.sqlite.before-restore``. Keys that the
restored state does not know are set aside by the next signing, with a warning.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from signwire.storage.files import PendingFile, sync_directory
from signwire.storage.state import SCHEMA_VERSION, STATE_FILE, StateError, StateStore

MANIFEST = "signwire-backup.json"
FORMAT = 1


@dataclass(frozen=True, slots=True)
class BackupSummary:
    zones: list[dict[str, object]]
    key_files: int
    hsm_zones: list[str]


def backup(state: StateStore, output: str | os.PathLike[str], now: int) -> BackupSummary:
    """Write a backup of ``state`` (whose directory the caller holds locked) to ``output``."""
    directory = state.directory
    with tempfile.TemporaryDirectory(prefix="signwire-backup-") as scratch:
        copy = Path(scratch) / STATE_FILE
        target = sqlite3.connect(copy)
        try:
            state.db.backup(target)
        finally:
            target.close()
        zones: list[dict[str, object]] = [
            {"name": z.name, "policy": z.policy, "serial": z.last_serial,
             "keys": len(state.key_states(z.name))}
            for z in state.zones()
        ]
        hsm = [z.name for z in state.zones() if state.key_store(z.name).kind != "files"]
        key_files = sorted(p for p in (directory / "keys").rglob("*") if p.is_file())
        manifest = {"format": FORMAT, "schema": SCHEMA_VERSION, "created": now,
                    "zones": zones, "key_files": len(key_files), "hsm_zones": hsm}
        pending = PendingFile(output)
        try:
            os.fchmod(pending.file.fileno(), 0o600)  # private keys inside, whatever the umask
            pending.file.close()
            with tarfile.open(pending.temp, "w") as tar:
                data = json.dumps(manifest, indent=2, sort_keys=True).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(data), now, 0o600
                tar.addfile(info, io.BytesIO(data))
                tar.add(copy, arcname=STATE_FILE, recursive=False)
                for path in key_files:
                    tar.add(path, arcname=str(path.relative_to(directory)), recursive=False)
            with open(pending.temp, "rb+") as f:
                os.fsync(f.fileno())
            pending.publish()
        except BaseException:
            pending.discard()
            raise
    return BackupSummary(zones, len(key_files), hsm)


def restore(
    archive: str | os.PathLike[str], directory: str | os.PathLike[str], *, force: bool
) -> BackupSummary:
    """Restore ``archive`` into ``directory`` (locked by the caller)."""
    directory = Path(directory)
    try:
        tar = tarfile.open(archive, "r")  # noqa: SIM115 (closed by the with below)
    except (OSError, tarfile.TarError) as e:
        raise StateError(f"{archive}: not a signwire backup: {e}") from None
    with tar, tempfile.TemporaryDirectory(prefix=".restore-", dir=directory) as scratch:
        members = _checked_members(tar, archive)
        tar.extractall(scratch, members=members, filter="data")
        root = Path(scratch)
        try:
            manifest = json.loads((root / MANIFEST).read_text())
        except (OSError, ValueError) as e:
            raise StateError(f"{archive}: no readable {MANIFEST}: {e}") from None
        if manifest.get("format") != FORMAT or int(manifest.get("schema", 0)) > SCHEMA_VERSION:
            raise StateError(
                f"{archive}: backup format {manifest.get('format')}, schema "
                f"{manifest.get('schema')}: made by a newer signwire; upgrade first"
            )
        _check_database(root / STATE_FILE, archive)
        current = directory / STATE_FILE
        if current.exists() and not force and _has_zones(current):
            raise StateError(
                f"{directory} already holds a state with zones; restoring replaces it. "
                f"Give --force to restore anyway (the current one is kept as "
                f"{STATE_FILE}.before-restore)"
            )
        new_keys = _key_files_to_add(root, directory, archive)
        # Nothing has changed so far; from here on every step adds, none deletes.
        for relative in new_keys:
            destination = directory / relative
            destination.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.copy2(root / relative, destination)
            os.chmod(destination, (root / relative).stat().st_mode & 0o777)
        if current.exists():
            os.replace(current, directory / f"{STATE_FILE}.before-restore")
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(directory / (STATE_FILE + suffix))
        os.replace(root / STATE_FILE, current)
        sync_directory(directory)
    return BackupSummary(manifest["zones"], len(new_keys), manifest.get("hsm_zones", []))


def _checked_members(tar: tarfile.TarFile, archive: object) -> list[tarfile.TarInfo]:
    out = []
    for m in tar.getmembers():
        path = PurePosixPath(m.name)
        allowed = m.name in (MANIFEST, STATE_FILE) or (
            path.parts[:1] == ("keys",) and ".." not in path.parts and not path.is_absolute()
        )
        if not allowed or not (m.isfile() or m.isdir()):
            raise StateError(f"{archive}: unexpected entry {m.name!r}: not a signwire backup")
        out.append(m)
    return out


def _check_database(path: Path, archive: object) -> None:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            ok = db.execute("PRAGMA integrity_check").fetchone()
        finally:
            db.close()
    except sqlite3.Error as e:
        raise StateError(f"{archive}: the state in it cannot be read: {e}") from None
    if not ok or ok[0] != "ok":
        raise StateError(f"{archive}: the state in it is damaged ({ok})")


def _has_zones(path: Path) -> bool:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return bool(db.execute("SELECT 1 FROM zones LIMIT 1").fetchone())
        finally:
            db.close()
    except sqlite3.Error:
        return False


def _key_files_to_add(root: Path, directory: Path, archive: object) -> list[Path]:
    """Key files of the backup that the directory lacks; stops at one that differs."""
    out = []
    for path in sorted((root / "keys").rglob("*")) if (root / "keys").is_dir() else []:
        if not path.is_file():
            continue
        relative = path.relative_to(root)
        present = directory / relative
        if present.exists():
            if present.read_bytes() != path.read_bytes():
                raise StateError(
                    f"{archive}: {relative} differs from the file of that name in "
                    f"{directory}; nothing was restored (move one of them aside first)"
                )
            continue
        out.append(relative)
    return out
