"""The last good signed version of each zone, kept in the state directory so that a restarted
daemon serves at once, without signing again.

One file per zone, ``<state>/versions/<zone>.version``, written to a temporary file, fsynced
and renamed over the previous one (so a reader finds the old file or the new one, never half
of one). It holds a JSON header (serial, which keys signed it, the signing options it was
made with, anything else the daemon wants back) and the records of two versions: the signed
one that is served and the unsigned one it was made from (the next incremental step, or an
IXFR from the primary, applies to that), then the journal of signed diffs that IXFR answers
come from. The refresh state of the zone's primaries (the
expiry clock) is a small file of its own beside it.

Record form: owner length (1 octet), owner, type (2), TTL (4), RDATA length (2), RDATA; a
4-octet count before each list of records. The journal: a count of diffs, then per diff its
two SOAs, its deletions and its additions, each such a list.

Writing the whole zone for every change costs in proportion to the zone (1.3 s at 100k
names), and nothing is served before it is saved. So a change is saved as an *entry* appended
to ``<zone>.journal`` (and fsynced) beside the last full save: the header of the change, its
signed diff and its unsigned diff, in proportion to the change. A :class:`Saver` decides
which: an entry when the change follows what is on disk, a full save (which starts a new,
empty journal) otherwise. After ``max_entries`` entries, or when the journal grows past a
fraction of the full save, a compaction (a full save) is due: the daemon runs it after the
change is served and announced, not before. Loading reads the full save and replays the
journal's entries.

The journal belongs to one full save: both carry the same random 16-octet token (a journal
left over from an older full save, by a kill between the rename and the removal, is
ignored). Each entry is its length (4 octets), a CRC-32 of that length and the payload (4),
then the payload; an entry cut short or damaged by a kill ends the journal there (it was
never served: serving waits for the fsync), and the next append writes over it.
"""

from __future__ import annotations

import json
import os
import secrets
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signwire.errors import SignwireError
from signwire.storage.files import sync_directory, temp_name
from signwire.zones.diff import Diff, DiffError, apply, diff
from signwire.zones.version import RR, ZoneVersion

_MAGIC_V1 = b"SWVERS1\n"  # no token: older files, read but not written
_MAGIC = b"SWVERS2\n"
_JOURNAL_MAGIC = b"SWJRNL1\n"
_TOKEN = 16
_ENTRY_HEAD = struct.Struct("!II")  # payload length, CRC-32 of the length and the payload
_COUNT = struct.Struct("!I")
_FIXED = struct.Struct("!HIH")


class VersionFileError(SignwireError):
    """A saved version that cannot be read back (the daemon then signs the zone again)."""


@dataclass(slots=True)
class OnDisk:
    """What a zone's files hold, for the next append: the full save's token and size, the
    journal's valid length and entries, and the two versions the files restore to."""

    token: bytes
    full_size: int
    journal_size: int  # 0: no journal file (or none of this token)
    entries: int
    signed: ZoneVersion
    unsigned: ZoneVersion


@dataclass(slots=True)
class SavedZone:
    signed: ZoneVersion
    unsigned: ZoneVersion
    meta: dict[str, Any] = field(default_factory=dict)
    journal: list[Diff] = field(default_factory=list)  # signed diffs up to ``signed``
    on_disk: OnDisk | None = None  # set by load(): what the files held


def _folder(state: Path) -> Path:
    return state / "versions"


def path_for(state: str | os.PathLike[str], zone: str) -> Path:
    # Zone names are lowercase text with a trailing dot; "/" cannot be in one unescaped, but
    # an escaped label could hold anything, so anything odd is spelled out.
    safe = "".join(c if c.isalnum() or c in "-._" else f"%{ord(c):02x}" for c in zone.rstrip("."))
    return _folder(Path(state)) / f"{safe or 'root'}.version"


def journal_path(state: str | os.PathLike[str], zone: str) -> Path:
    return path_for(state, zone).with_suffix(".journal")


def _encode(version: ZoneVersion) -> bytes:
    return _encode_records(version.records())


def _encode_records(records: Iterable[RR]) -> bytes:
    out = [b""]
    count = 0
    for owner, rdtype, ttl, rdata in records:
        out.append(bytes((len(owner),)) + owner + _FIXED.pack(rdtype, ttl, len(rdata)) + rdata)
        count += 1
    out[0] = _COUNT.pack(count)
    return b"".join(out)


def _encode_journal(journal: list[Diff]) -> bytes:
    parts = [_COUNT.pack(len(journal))]
    for d in journal:
        parts.append(_encode_records([d.old_soa, d.new_soa]))
        parts.append(_encode_records(d.deleted))
        parts.append(_encode_records(d.added))
    return b"".join(parts)


def _decode_journal(data: bytes, pos: int) -> tuple[list[Diff], int]:
    (n,) = _COUNT.unpack_from(data, pos)
    pos += 4
    out = []
    for _ in range(n):
        soas, pos = _decode(data, pos)
        deleted, pos = _decode(data, pos)
        added, pos = _decode(data, pos)
        if len(soas) != 2:
            raise ValueError("a journal entry without its two SOAs")
        out.append(Diff(soas[0], soas[1], tuple(deleted), tuple(added)))
    return out, pos


def _decode(data: bytes, pos: int) -> tuple[list[RR], int]:
    (count,) = _COUNT.unpack_from(data, pos)
    pos += 4
    records: list[RR] = []
    last_owner = b""
    for _ in range(count):
        n = data[pos]
        owner = data[pos + 1: pos + 1 + n]
        if owner == last_owner:
            owner = last_owner  # one bytes object per owner, as the readers make them
        last_owner = owner
        pos += 1 + n
        rdtype, ttl, rdlen = _FIXED.unpack_from(data, pos)
        pos += 8
        records.append((owner, rdtype, ttl, data[pos: pos + rdlen]))
        pos += rdlen
    return records, pos


def save(state: str | os.PathLike[str], zone: str, saved: SavedZone) -> Path:
    """A full save (the journal that followed the previous one is dropped)."""
    return _save_full(state, zone, saved)[0]


def _save_full(state: str | os.PathLike[str], zone: str, saved: SavedZone
               ) -> tuple[Path, OnDisk]:
    target = path_for(state, zone)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    header = json.dumps(saved.meta, sort_keys=True).encode()
    token = secrets.token_bytes(_TOKEN)
    blob = b"".join((
        _MAGIC, token, _COUNT.pack(len(header)), header, _encode(saved.signed),
        _encode(saved.unsigned), _encode_journal(saved.journal),
    ))
    _write_new(target, blob)
    # The old journal is another token's now: ignored if a kill leaves it, removed here.
    journal_path(state, zone).unlink(missing_ok=True)
    return target, OnDisk(token, len(blob), 0, 0, saved.signed, saved.unsigned)


def _write_new(target: Path, blob: bytes) -> None:
    """``blob`` as the file ``target``, whole or not at all (temporary file, fsync, rename,
    fsync of the folder)."""
    temp = temp_name(target)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    sync_directory(target.parent)


def _encode_diff(d: Diff) -> bytes:
    return b"".join((_encode_records([d.old_soa, d.new_soa]), _encode_records(d.deleted),
                     _encode_records(d.added)))


def _decode_diff(data: bytes, pos: int) -> tuple[Diff, int]:
    soas, pos = _decode(data, pos)
    deleted, pos = _decode(data, pos)
    added, pos = _decode(data, pos)
    if len(soas) != 2:
        raise ValueError("a diff without its two SOAs")
    return Diff(soas[0], soas[1], tuple(deleted), tuple(added)), pos


def _entry(meta: dict[str, Any], signed: Diff, unsigned: Diff) -> bytes:
    header = json.dumps(meta, sort_keys=True).encode()
    payload = b"".join((_COUNT.pack(len(header)), header, _encode_diff(signed),
                        _encode_diff(unsigned)))
    size = _COUNT.pack(len(payload))
    return _ENTRY_HEAD.pack(len(payload), zlib.crc32(payload, zlib.crc32(size))) + payload


def _entries(data: bytes) -> Iterator[tuple[int, dict[str, Any], Diff, Diff]]:
    """The whole entries of a journal's bytes after its header: (end offset, meta, signed
    diff, unsigned diff). Stops at the first entry cut short or failing its CRC."""
    pos = len(_JOURNAL_MAGIC) + _TOKEN
    while pos + _ENTRY_HEAD.size <= len(data):
        size, crc = _ENTRY_HEAD.unpack_from(data, pos)
        start = pos + _ENTRY_HEAD.size
        payload = data[start: start + size]
        if len(payload) != size or zlib.crc32(payload, zlib.crc32(_COUNT.pack(size))) != crc:
            return
        (n,) = _COUNT.unpack_from(payload, 0)
        meta = json.loads(payload[4: 4 + n])
        signed, p = _decode_diff(payload, 4 + n)
        unsigned, p = _decode_diff(payload, p)
        if p != size:
            raise ValueError("a journal entry with trailing data")
        pos = start + size
        yield pos, meta if isinstance(meta, dict) else {}, signed, unsigned


class Saver:
    """The saves of one zone, one at a time and in order (the daemon's write lock): a change
    that follows what is on disk is appended to the journal, anything else is a full save.

    ``max_entries`` and ``max_fraction`` (of the full save's size) bound the journal: past
    either, :attr:`compaction_due` says so, and :meth:`compact` writes a full save (the
    daemon calls it once the change is served); at four times the bounds the next save is a
    full one whatever happens. So a restart replays little and the files stay near the
    zone's size. A save that fails leaves the disk unknown: the next one is full."""

    def __init__(self, state: str | os.PathLike[str], zone: str, *, max_entries: int = 256,
                 max_fraction: float = 0.25) -> None:
        self.state = state
        self.zone = zone
        self.max_entries = max_entries
        self.max_fraction = max_fraction
        self.on_disk: OnDisk | None = None
        self.written = 0  # octets the last save wrote

    def adopt(self, loaded: SavedZone | None) -> None:
        """Go on from what :func:`load` found."""
        self.on_disk = None if loaded is None else loaded.on_disk

    @property
    def compaction_due(self) -> bool:
        disk = self.on_disk
        return disk is not None and (
            disk.entries >= self.max_entries
            or disk.journal_size > disk.full_size * self.max_fraction
        )

    def compact(self, saved: SavedZone) -> bool:
        """A full save of ``saved`` when it is what the files hold and a compaction is due
        (False: nothing to do; a later version came, or the disk is not known)."""
        disk = self.on_disk
        if disk is None or disk.signed is not saved.signed or not self.compaction_due:
            return False
        self.on_disk = None
        _, self.on_disk = _save_full(self.state, self.zone, saved)
        self.written = self.on_disk.full_size
        return True

    def save(self, saved: SavedZone, signed_diff: Diff | None) -> Path:
        """Save ``saved``; ``signed_diff`` leads to its signed version from the one saved
        before (None: not known, a full save)."""
        disk, self.on_disk = self.on_disk, None
        entry = None if disk is None else self._entry(disk, saved, signed_diff)
        if entry is None or disk is None:
            path, self.on_disk = _save_full(self.state, self.zone, saved)
            self.written = self.on_disk.full_size
            return path
        journal = journal_path(self.state, self.zone)
        if disk.journal_size == 0:
            _write_new(journal, _JOURNAL_MAGIC + disk.token + entry)
            size = len(_JOURNAL_MAGIC) + _TOKEN + len(entry)
        else:
            fd = os.open(journal, os.O_WRONLY | os.O_CLOEXEC)
            try:
                # Whatever a kill left after the last whole entry is written over.
                os.ftruncate(fd, disk.journal_size)
                os.pwrite(fd, entry, disk.journal_size)
                os.fsync(fd)
            finally:
                os.close(fd)
            size = disk.journal_size + len(entry)
        self.written = len(entry)
        self.on_disk = OnDisk(disk.token, disk.full_size, size, disk.entries + 1,
                              saved.signed, saved.unsigned)
        return journal

    def _entry(self, disk: OnDisk, saved: SavedZone, signed_diff: Diff | None) -> bytes | None:
        if (
            signed_diff is None
            or disk.entries >= 4 * self.max_entries
            or signed_diff.from_serial != disk.signed.serial
            or signed_diff.new_soa[2:] != saved.signed.soa[2:]
            or disk.signed.soa[2:] != signed_diff.old_soa[2:]
        ):
            return None
        if saved.unsigned is disk.unsigned:
            unsigned_diff = Diff(disk.unsigned.soa, disk.unsigned.soa, (), ())
        else:
            try:
                unsigned_diff = diff(disk.unsigned, saved.unsigned)
            except DiffError:
                return None
        entry = _entry(saved.meta, signed_diff, unsigned_diff)
        if disk.journal_size + len(entry) > disk.full_size * self.max_fraction * 4:
            return None
        return entry


def load(state: str | os.PathLike[str], zone: str, origin: bytes) -> SavedZone | None:
    """The saved zone (the full save and the journal's entries replayed), or None when there
    is none; VersionFileError when it is damaged."""
    path = path_for(state, zone)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise VersionFileError(f"{path}: cannot be read: {e.strerror or e}") from None
    try:
        token = None
        if data.startswith(_MAGIC):
            token = data[len(_MAGIC): len(_MAGIC) + _TOKEN]
            pos = len(_MAGIC) + _TOKEN
        elif data.startswith(_MAGIC_V1):
            pos = len(_MAGIC_V1)
        else:
            raise ValueError("not a saved version")
        (n,) = _COUNT.unpack_from(data, pos)
        meta = json.loads(data[pos + 4: pos + 4 + n])
        pos += 4 + n
        signed_records, pos = _decode(data, pos)
        unsigned_records, pos = _decode(data, pos)
        journal: list[Diff] = []
        if pos < len(data):
            journal, pos = _decode_journal(data, pos)
        if pos != len(data):
            raise ValueError("trailing data")
        signed = ZoneVersion.from_records(origin, signed_records)
        unsigned = ZoneVersion.from_records(origin, unsigned_records)
        meta = meta if isinstance(meta, dict) else {}
    except (ValueError, IndexError, struct.error, SignwireError) as e:
        raise VersionFileError(f"{path}: damaged ({e}); the zone is signed again") from None
    on_disk = None
    if token is not None:
        on_disk = OnDisk(token, len(data), 0, 0, signed, unsigned)
        jpath = journal_path(state, zone)
        try:
            jdata = jpath.read_bytes()
        except FileNotFoundError:
            jdata = b""
        except OSError as e:
            raise VersionFileError(f"{jpath}: cannot be read: {e.strerror or e}") from None
        if jdata[: len(_JOURNAL_MAGIC) + _TOKEN] == _JOURNAL_MAGIC + token:
            end = len(_JOURNAL_MAGIC) + _TOKEN
            entries = 0
            try:
                for entry_end, entry_meta, signed_diff, unsigned_diff in _entries(jdata):
                    end = entry_end
                    signed = apply(signed, signed_diff)
                    unsigned = apply(unsigned, unsigned_diff)
                    meta = entry_meta
                    journal.append(signed_diff)
                    entries += 1
            except (ValueError, IndexError, struct.error, SignwireError) as e:
                raise VersionFileError(
                    f"{jpath}: damaged ({e}); the zone is signed again") from None
            on_disk = OnDisk(token, len(data), end, entries, signed, unsigned)
    return SavedZone(signed, unsigned, meta, journal, on_disk)


def read_meta(state: str | os.PathLike[str], zone: str) -> dict[str, Any] | None:
    """The header of a saved zone alone (for a status while no daemon runs), or None."""
    path = path_for(state, zone)
    try:
        with open(path, "rb") as f:
            head = f.read(len(_MAGIC) + _TOKEN + 4)
            if head.startswith(_MAGIC):
                at = len(_MAGIC) + _TOKEN
            elif head.startswith(_MAGIC_V1):
                at = len(_MAGIC_V1)
            else:
                return None
            (n,) = _COUNT.unpack_from(head, at)
            f.seek(at + 4)
            meta = json.loads(f.read(n))
    except (OSError, ValueError, struct.error):
        return None
    if not isinstance(meta, dict):
        return None
    header: dict[str, Any] = meta
    # The newest header is the journal's last whole entry's, when it has any.
    saved_token = head[len(_MAGIC): len(_MAGIC) + _TOKEN] if head.startswith(_MAGIC) else None
    try:
        jdata = journal_path(state, zone).read_bytes()
    except OSError:
        return header
    if saved_token is not None and jdata[: len(_JOURNAL_MAGIC) + _TOKEN] == (
        _JOURNAL_MAGIC + saved_token
    ):
        try:
            for _, entry_meta, _, _ in _entries(jdata):
                header = entry_meta
        except (ValueError, IndexError, struct.error, SignwireError):
            pass
    return header


def save_refresh(state: str | os.PathLike[str], zone: str, data: dict[str, Any]) -> None:
    """The refresh state of a zone's primaries (small, written at every change that matters:
    the expiry clock must survive a restart), beside the version file."""
    path = path_for(state, zone).with_suffix(".refresh")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temp = temp_name(path)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(json.dumps(data, sort_keys=True).encode())
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def load_refresh(state: str | os.PathLike[str], zone: str) -> dict[str, Any] | None:
    path = path_for(state, zone).with_suffix(".refresh")
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def saved_zones(state: str | os.PathLike[str]) -> Iterator[Path]:
    folder = _folder(Path(state))
    if folder.is_dir():
        yield from sorted(folder.glob("*.version"))
