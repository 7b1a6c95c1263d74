"""The file key store: a folder of BIND-format key pairs, shared with BIND and ldns tools.

``FileKeyStore(directory)`` reads every ``K<zone>+<alg>+<tag>.key``/``.private`` pair in one
folder (:mod:`signwire.keystore.bindfile` does the format) and creates new ones.

Reading (:meth:`FileKeyStore.scan`, :meth:`FileKeyStore.keys_for`):

* A pair belongs to a zone when the owner of the DNSKEY in its ``.key`` file is the zone's
  name (case-insensitive); the file name is only a hint. Other zones' keys are ignored.
* Roles come from the flags (RFC 4034 §2.1.1): 256 is a ZSK; 257 (SEP) is a KSK when the zone
  also has a non-SEP key of the same algorithm, otherwise a CSK.
* Keys with the REVOKE bit (RFC 5011) and DNSKEYs without the zone-key bit are not signing
  keys: they are skipped, and each skip is reported as a *note*. :meth:`scan` returns the notes
  with the keys; :meth:`keys_for` returns only the keys and sends the notes to the
  ``signwire.keystore.file_store`` logger (warning level).
* The result is sorted by (algorithm, role, key tag) so every run sees the same order.
* BIND's timing fields are kept in the files and not acted on: key states are the enforcer's.

Writing (:meth:`FileKeyStore.create`) is crash-safe and never exposes a private key:

* each file is written to a temporary name in the same folder, created with mode 0600 (the
  ``.private``) or 0644 (the ``.key``) by ``open(O_CREAT | O_EXCL)``, fsynced, then given its
  final name with ``link()``, which fails instead of replacing an existing file: a key file is
  never overwritten, even by a concurrent writer. The folder is fsynced after the renames;
* the ``.private`` is placed first, so a reader never sees a ``.key`` whose private half is
  missing because of us;
* a new key whose tag (or its tag once revoked) equals that of any key of the zone is thrown
  away and generated again (RFC 4034 appendix B tags are not unique; validators and tools
  pick keys by tag).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from signwire.errors import KeyStoreError
from signwire.keystore import bindfile, crypto
from signwire.keystore.bindfile import FLAG_REVOKE, FLAG_SEP, FLAG_ZONE, DnskeyLine
from signwire.keystore.model import ZoneKey
from signwire.policy import algorithms
from signwire.policy.model import KeyRole
from signwire.storage.files import (
    UnsafeDirectoryError,
    check_private_directory,
    is_readable_directory,
)
from signwire.zones import names

log = logging.getLogger(__name__)

_MAX_FILE_NAME = 255  # NAME_MAX of the usual Linux file systems
_MAX_ATTEMPTS = 64  # a collision is ~1/65536 per existing key; 64 misses means something else


@dataclass(frozen=True, slots=True)
class KeyScan:
    """What a folder holds for one zone: usable keys, and why other key files were skipped."""

    keys: list[ZoneKey] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tags: frozenset[int] = frozenset()  # every tag in use by the zone, revoked forms included

    def logged_keys(self) -> list[ZoneKey]:
        """The keys, after logging each note as a warning (what ``keys_for`` returns)."""
        for note in self.notes:
            log.warning("%s", note)
        return self.keys


class FileKeyStore:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @property
    def where(self) -> str:
        return str(self.directory)

    def retire(self, key: ZoneKey) -> None:
        """Move the key's files to ``retired/``: out of use, still there for forensics."""
        self._move(key, "retired")

    def set_aside(self, key: ZoneKey) -> str:
        """Move the key's files to ``unrecorded/``: out of the zone's keys, kept in case an
        operator knows better (a state restored from a backup older than the key)."""
        return str(self._move(key, "unrecorded"))

    def set_aside_incomplete(self, origin: bytes) -> list[str]:
        """Move private key files that have no ``.key`` beside them to ``unrecorded/``.

        A run killed between writing a new key's two files (or between moving an old key's
        two files away) leaves one. The store reads keys through their ``.key`` file, so such a
        key was never used nor published; it is kept, not deleted, like any unrecorded key."""
        zone = names.lower(origin)
        if not self.directory.is_dir():
            return []
        out = []
        for private_path in sorted(self.directory.glob("K*.private")):
            stem = bindfile.parse_file_stem(private_path.name)
            if stem is None or private_path.with_suffix(".key").exists():
                continue
            try:
                if names.lower(names.from_text(stem[0], None)) != zone:
                    continue
            except ValueError:
                continue
            target = self.directory / "unrecorded"
            try:
                target.mkdir(mode=0o700, exist_ok=True)
                os.replace(private_path, target / private_path.name)
                self._sync_directory()
            except OSError as exc:
                raise KeyStoreError(f"{private_path}: cannot move: {exc}") from None
            out.append(
                f"warning: {private_path.name} has no .key file (a run was stopped while "
                f"writing or moving that key; it was never published); moved to {target}"
            )
        return out

    def _move(self, key: ZoneKey, folder: str) -> Path:
        stem = bindfile.file_stem(key.origin, key.algorithm, key.key_tag)
        target = self.directory / folder
        try:
            target.mkdir(mode=0o700, exist_ok=True)
            # The .key first: from then on no scan sees the pair, even if we stop halfway.
            for suffix in (".key", ".private"):
                path = self.directory / (stem + suffix)
                if path.exists():
                    os.replace(path, target / path.name)
            self._sync_directory()
        except OSError as exc:
            raise KeyStoreError(f"{self.directory}: cannot move key {stem}: {exc}") from None
        return target

    # --- reading ------------------------------------------------------------------------------

    def keys_for(self, origin: bytes) -> list[ZoneKey]:
        """The zone's signing keys, sorted by (algorithm, role, key tag); notes are logged."""
        return self.scan(origin).logged_keys()

    def scan(self, origin: bytes) -> KeyScan:
        """The zone's signing keys plus notes about key files of the zone that were skipped."""
        zone = names.lower(origin)
        notes: list[str] = []
        if not self.directory.is_dir():
            return KeyScan()  # no folder yet: no keys (create() makes it)
        self._check_folder()
        pairs: list[bindfile.KeyPair] = []
        tags: set[int] = set()
        for key_path in sorted(self.directory.glob("K*.key")):
            stem = bindfile.parse_file_stem(key_path.name)
            if stem is None:
                continue
            try:
                dnskey = bindfile.read_key(key_path)
            except KeyStoreError:
                if _names_other_zone(stem[0], zone):
                    continue  # another zone's broken file is that zone's problem
                raise
            if names.lower(dnskey.owner) != zone:
                continue
            tags.update(_tag_forms(dnskey))
            if dnskey.flags & FLAG_REVOKE:
                notes.append(f"{key_path.name}: skipped, key {dnskey.key_tag} is revoked")
                continue
            if not dnskey.flags & FLAG_ZONE:
                notes.append(f"{key_path.name}: skipped, flags {dnskey.flags} lack the zone bit")
                continue
            pair = bindfile.read_pair(key_path, dnskey)
            mode = pair.private_path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                notes.append(
                    f"{pair.private_path.name}: readable by others (mode"
                    f" {stat.S_IMODE(mode):04o}); should be 0600"
                )
            pairs.append(pair)
        non_sep = {p.dnskey.algorithm for p in pairs if not p.dnskey.flags & FLAG_SEP}
        keys: list[ZoneKey] = []
        for pair in pairs:
            dnskey = pair.dnskey
            if not dnskey.flags & FLAG_SEP:
                role = KeyRole.ZSK
            elif dnskey.algorithm in non_sep:
                role = KeyRole.KSK
            else:
                role = KeyRole.CSK
            keys.append(
                _zone_key(origin, dnskey, pair.private.private_key, role, pair.private_path)
            )
        keys.sort(key=lambda k: (k.algorithm, k.role, k.key_tag))
        return KeyScan(keys, notes, frozenset(tags))

    # --- writing ------------------------------------------------------------------------------

    def create(
        self,
        origin: bytes,
        algorithm: int,
        role: KeyRole,
        now: int,
        bits: int | None = None,
    ) -> ZoneKey:
        """Generate a key for the zone, store the pair, and return it.

        The files carry BIND's ``Created``, ``Publish`` and ``Activate`` times, all ``now``, as
        ``dnssec-keygen`` writes them, so BIND's and ldns's signers use the key as it is.
        """
        try:
            bits = algorithms.check_bits(algorithm, bits)
        except ValueError as exc:
            raise KeyStoreError(str(exc)) from None
        flags = FLAG_ZONE | (FLAG_SEP if role in (KeyRole.KSK, KeyRole.CSK) else 0)
        self._make_directory()
        timing = [("Created", now), ("Publish", now), ("Activate", now)]
        metadata = [(name, bindfile.format_timestamp(t)) for name, t in timing]
        taken = set(self.scan(origin).tags)
        for _ in range(_MAX_ATTEMPTS):
            private_key = crypto.generate(algorithm, bits)
            public = crypto.public_key_field(algorithm, private_key)
            dnskey = DnskeyLine(origin, None, flags, 3, algorithm, public)
            if _tag_forms(dnskey) & taken:
                continue
            stem = bindfile.file_stem(origin, algorithm, dnskey.key_tag)
            if len(os.fsencode(stem + ".private")) > _MAX_FILE_NAME:
                raise KeyStoreError(
                    f"{names.to_text(origin)}: the zone name is too long for key files in "
                    f"BIND's naming (K<zone>+<alg>+<tag>.private would be over "
                    f"{_MAX_FILE_NAME} octets); keep this zone's keys on an HSM (--hsm-module)"
                )
            private_path = self.directory / f"{stem}.private"
            key_path = self.directory / f"{stem}.key"
            private_text = bindfile.format_private_text(algorithm, private_key, metadata)
            if not self._place(private_path, private_text, 0o600):
                taken.update(_tag_forms(dnskey))  # a leftover file of that name: pick another
                continue
            key_text = bindfile.format_key_text(dnskey, timing)
            try:
                placed = self._place(key_path, key_text, 0o644)
            except BaseException:
                private_path.unlink(missing_ok=True)
                raise
            if not placed:
                private_path.unlink(missing_ok=True)
                taken.update(_tag_forms(dnskey))
                continue
            self._sync_directory()
            return _zone_key(origin, dnskey, private_key, role, private_path)
        raise KeyStoreError(
            f"{self.directory}: could not find a free key tag for {names.to_text(origin)}"
            f" after {_MAX_ATTEMPTS} keys"
        )

    def _make_directory(self) -> None:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise KeyStoreError(f"{self.directory}: cannot create key directory: {exc}") from None
        self._check_folder()

    def _check_folder(self) -> None:
        """Refuse a folder others could plant keys in, and say so when it cannot be read
        (rather than report its keys as missing)."""
        try:
            check_private_directory(self.directory, "key folder")
        except UnsafeDirectoryError as exc:
            raise KeyStoreError(str(exc)) from None
        if not is_readable_directory(self.directory):
            raise KeyStoreError(
                f"{self.directory}: the key folder exists but cannot be read (permission "
                "denied): run signwire as a user that may read it"
            )

    def _place(self, final: Path, text: str, mode: int) -> bool:
        """Write ``final`` atomically with ``mode`` from birth; False if it already exists."""
        # Not named after the key: a zone name near 255 octets already makes the key's own
        # file name long, and the temporary one must still fit the file system's limit.
        temp = final.with_name(f".new-{secrets.token_hex(6)}{final.suffix}.tmp")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        except OSError as exc:
            raise KeyStoreError(f"{temp}: cannot create: {exc.strerror}") from None
        try:
            try:
                if mode == 0o600:
                    # Exactly owner-only whatever the umask; the .key keeps umask's choice.
                    os.fchmod(fd, mode)
                view = memoryview(text.encode("ascii"))
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(temp, final)
            except FileExistsError:
                return False
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                    raise
                # No hard links here (some network and FUSE file systems): fall back to a
                # rename after checking, which can only race with another writer.
                if final.exists():
                    return False
                os.rename(temp, final)
            return True
        except OSError as exc:
            raise KeyStoreError(f"{final}: cannot write: {exc.strerror}") from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()

    def _sync_directory(self) -> None:
        """Make the new names durable: a rename is only on disk once its folder is synced."""
        try:
            fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise KeyStoreError(f"{self.directory}: cannot sync: {exc.strerror}") from None


def _tag_forms(dnskey: DnskeyLine) -> set[int]:
    """The key's tag with and without the REVOKE bit: revoking a key changes its tag."""
    base = dnskey.rdata
    other = (dnskey.flags ^ FLAG_REVOKE).to_bytes(2, "big") + base[2:]
    return {algorithms.key_tag(base), algorithms.key_tag(other)}


def _names_other_zone(zone_text: str, zone: bytes) -> bool:
    try:
        return names.lower(names.from_text(zone_text, None)) != zone
    except ValueError:
        return False


def _zone_key(
    origin: bytes,
    dnskey: DnskeyLine,
    private_key: crypto.PrivateKey,
    role: KeyRole,
    private_path: Path,
) -> ZoneKey:
    return ZoneKey(
        origin=origin,
        algorithm=dnskey.algorithm,
        flags=dnskey.flags,
        public_key=dnskey.public_key,
        key_tag=dnskey.key_tag,
        role=role,
        signer=crypto.signer_spec(dnskey.algorithm, private_key),
        source=private_path.name,
    )
