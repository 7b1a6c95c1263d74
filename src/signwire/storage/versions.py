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
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signwire.errors import SignwireError
from signwire.storage.files import sync_directory, temp_name
from signwire.zones.diff import Diff
from signwire.zones.version import RR, ZoneVersion

_MAGIC = b"SWVERS1\n"
_COUNT = struct.Struct("!I")
_FIXED = struct.Struct("!HIH")


class VersionFileError(SignwireError):
    """A saved version that cannot be read back (the daemon then signs the zone again)."""


@dataclass(slots=True)
class SavedZone:
    signed: ZoneVersion
    unsigned: ZoneVersion
    meta: dict[str, Any] = field(default_factory=dict)
    journal: list[Diff] = field(default_factory=list)  # signed diffs up to ``signed``


def _folder(state: Path) -> Path:
    return state / "versions"


def path_for(state: str | os.PathLike[str], zone: str) -> Path:
    # Zone names are lowercase text with a trailing dot; "/" cannot be in one unescaped, but
    # an escaped label could hold anything, so anything odd is spelled out.
    safe = "".join(c if c.isalnum() or c in "-._" else f"%{ord(c):02x}" for c in zone.rstrip("."))
    return _folder(Path(state)) / f"{safe or 'root'}.version"


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
    target = path_for(state, zone)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    header = json.dumps(saved.meta, sort_keys=True).encode()
    blob = b"".join((
        _MAGIC, _COUNT.pack(len(header)), header, _encode(saved.signed), _encode(saved.unsigned),
        _encode_journal(saved.journal),
    ))
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
    return target


def load(state: str | os.PathLike[str], zone: str, origin: bytes) -> SavedZone | None:
    """The saved zone, or None when there is none; VersionFileError when it is damaged."""
    path = path_for(state, zone)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise VersionFileError(f"{path}: cannot be read: {e.strerror or e}") from None
    try:
        if not data.startswith(_MAGIC):
            raise ValueError("not a saved version")
        pos = len(_MAGIC)
        (n,) = _COUNT.unpack_from(data, pos)
        meta = json.loads(data[pos + 4: pos + 4 + n])
        pos += 4 + n
        signed, pos = _decode(data, pos)
        unsigned, pos = _decode(data, pos)
        journal: list[Diff] = []
        if pos < len(data):
            journal, pos = _decode_journal(data, pos)
        if pos != len(data):
            raise ValueError("trailing data")
        return SavedZone(
            ZoneVersion.from_records(origin, signed),
            ZoneVersion.from_records(origin, unsigned),
            meta if isinstance(meta, dict) else {},
            journal,
        )
    except (ValueError, IndexError, struct.error, SignwireError) as e:
        raise VersionFileError(f"{path}: damaged ({e}); the zone is signed again") from None


def read_meta(state: str | os.PathLike[str], zone: str) -> dict[str, Any] | None:
    """The header of a saved zone alone (for a status while no daemon runs), or None."""
    path = path_for(state, zone)
    try:
        with open(path, "rb") as f:
            head = f.read(len(_MAGIC) + 4)
            if len(head) < len(_MAGIC) + 4 or not head.startswith(_MAGIC):
                return None
            (n,) = _COUNT.unpack_from(head, len(_MAGIC))
            meta = json.loads(f.read(n))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


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
