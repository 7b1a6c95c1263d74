"""Files signwire writes, and the folders it trusts to hold keys and state.

Writing a file others read (a signed zone a name server loads) happens in two phases, so that a
caller can put a step between "the content is safely on disk" and "readers see it":

1. :class:`PendingFile` writes to a temporary file beside the target and fsyncs it. Nothing a
   reader looks at has changed yet.
2. :meth:`PendingFile.publish` renames it over the target and syncs the folder.

``sign --policy`` saves the state between the two (with the temporary file's name, so a crash
right after the save is finished by the next run), which is what keeps the published file and the
state in agreement at every instant.

The target is the file a symlink points to, not the link: the temporary file is made in the
target's folder and renamed over the target, so the link stays a link and every reader of the
target sees the new zone. A file that exists keeps its mode and group; a new one follows the
umask, like any file a program creates.

Temporary names carry the writer's process id (``.NAME.PID.RANDOM.tmp``), so a later run can
tell the leftovers of a killed writer (:func:`remove_stale_temps`) from a file another running
process is still writing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from signwire.errors import SignwireError

_BUFFER = 1 << 20


class UnsafeDirectoryError(SignwireError):
    """A folder that others could write to was asked to hold keys or state."""


def target_of(path: str | os.PathLike[str]) -> Path:
    """The file that writing ``path`` must replace: the end of a symlink chain, if any."""
    return Path(os.path.realpath(path))


def temp_name(final: Path) -> Path:
    return final.with_name(f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _temp_pattern(final: Path) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(final.name)}\.(\d+)\.[0-9a-f]{{8}}\.tmp")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def stale_temps(path: str | os.PathLike[str]) -> list[Path]:
    """Temporary files of ``path``'s writers whose process is gone (killed mid-write)."""
    final = target_of(path)
    pattern = _temp_pattern(final)
    try:
        entries = os.listdir(final.parent)
    except OSError:
        return []
    found = []
    for entry in entries:
        m = pattern.fullmatch(entry)
        if m and not _alive(int(m.group(1))):
            found.append(final.parent / entry)
    return sorted(found)


def remove_stale_temps(path: str | os.PathLike[str]) -> list[Path]:
    """Remove what :func:`stale_temps` finds; returns the files removed."""
    removed = []
    for leftover in stale_temps(path):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
            removed.append(leftover)
    return removed


def sync_directory(folder: Path) -> None:
    """Make renames in ``folder`` durable: a rename is on disk only once its folder is."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PendingFile:
    """A text file written beside its target and made visible only by :meth:`publish`."""

    def __init__(self, path: str | os.PathLike[str], encoding: str = "latin-1") -> None:
        self.target = target_of(path)
        self.temp = temp_name(self.target)
        try:
            existing: os.stat_result | None = os.stat(self.target)
        except FileNotFoundError:
            existing = None
        # 0o666 and the umask decide a new file's mode, as for any file a program creates.
        fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        try:
            if existing is not None and stat.S_ISREG(existing.st_mode):
                os.fchmod(fd, stat.S_IMODE(existing.st_mode))
                with contextlib.suppress(PermissionError):  # not a member of that group
                    os.fchown(fd, -1, existing.st_gid)
            self.file: TextIO = os.fdopen(
                fd, "w", encoding=encoding, newline="\n", buffering=_BUFFER
            )
        except BaseException:
            os.close(fd)
            self.discard()
            raise
        self.inode = os.fstat(self.file.fileno()).st_ino

    def finish(self) -> None:
        """Flush the content to disk; the target is unchanged still."""
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()

    def publish(self) -> None:
        """Rename the finished file over the target (the moment readers see it)."""
        os.replace(self.temp, self.target)
        sync_directory(self.target.parent)

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            if not self.file.closed:
                self.file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.temp)

    def __repr__(self) -> str:
        return f"PendingFile({str(self.target)!r})"


@contextlib.contextmanager
def atomic_text(path: str | os.PathLike[str]) -> Iterator[TextIO]:
    """Write ``path`` atomically in one go: the content is published when the block ends
    without an exception, and discarded otherwise."""
    pending = PendingFile(path)
    try:
        yield pending.file
        pending.finish()
        pending.publish()
    except BaseException:
        pending.discard()
        raise


def finish_interrupted_rename(temp: Path, target: Path, inode: int) -> str:
    """Complete a publication that a crash cut between "state saved" and "file renamed".

    Returns what was found: ``"renamed"`` (the temp file was still there and is now in place),
    ``"done"`` (the rename had already happened), or ``"lost"`` (neither file is the one that
    was written: someone removed or replaced it)."""
    with contextlib.suppress(FileNotFoundError):
        if os.stat(temp).st_ino == inode:
            os.replace(temp, target)
            sync_directory(target.parent)
            return "renamed"
    with contextlib.suppress(FileNotFoundError):
        if os.stat(target).st_ino == inode:
            return "done"
    return "lost"


def check_private_directory(path: str | os.PathLike[str], what: str) -> None:
    """Refuse a folder for keys or state that someone else could write to.

    A key pair planted in a world-writable key folder would be published and its DS offered to
    the parent; a state planted in a world-writable state folder could roll the zone's keys.
    Like ssh with its key files, signwire refuses such a folder (and a folder on the way to it
    that others may write without the sticky bit, since its entries could be swapped) rather
    than trust what is in it. Group write is the operator's choice (a key folder shared with
    BIND's group) and is accepted.
    """
    folder = Path(os.path.realpath(path))
    for parent in folder.parents:
        try:
            pst = os.stat(parent)
        except OSError:
            continue
        pmode = stat.S_IMODE(pst.st_mode)
        if pmode & stat.S_IWOTH and not pmode & stat.S_ISVTX:
            raise UnsafeDirectoryError(
                f"{folder}: the {what} lies in {parent}, which every user may write without "
                f"the sticky bit (mode {pmode:04o}), so the {what} itself could be replaced. "
                f"Fix it with: chmod o-w {parent}"
            )
    try:
        st = os.stat(folder)
    except FileNotFoundError:
        return  # not made yet: signwire creates it owner-only
    except OSError as e:
        raise UnsafeDirectoryError(f"{folder}: cannot inspect the {what}: {e.strerror}") from None
    mode = stat.S_IMODE(st.st_mode)
    if mode & stat.S_IWOTH:
        raise UnsafeDirectoryError(
            f"{folder}: the {what} is writable by every user (mode {mode:04o}); anyone could "
            f"plant keys or state there. Fix it with: chmod o-w {folder}"
        )
    if st.st_uid not in (os.geteuid(), 0):
        raise UnsafeDirectoryError(
            f"{folder}: the {what} belongs to uid {st.st_uid}, not to this user "
            f"({os.geteuid()}) or root; signwire trusts only folders it or root owns"
        )


def is_readable_directory(path: Path) -> bool:
    """True when the folder's entries can be listed (False: it exists but cannot be read)."""
    try:
        with os.scandir(path):
            return True
    except PermissionError:
        return False
    except OSError as e:
        if e.errno in (errno.EACCES, errno.EPERM):
            return False
        raise
