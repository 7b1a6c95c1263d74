"""signwire.keystore.file_store: reading a folder of key pairs, creating keys safely."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from signwire.errors import KeyStoreError
from signwire.keystore import bindfile as B
from signwire.keystore import crypto as A_crypto
from signwire.keystore import file_store
from signwire.keystore import signers as A_signers
from signwire.keystore.file_store import FileKeyStore
from signwire.policy import algorithms as A
from signwire.policy.model import KeyRole
from signwire.zones import names

ORIGIN = names.from_text("example.com.", None)
OTHER = names.from_text("example.net.", None)
NOW = 1_700_000_000
SMALL_BITS = {A.RSASHA256: 1024, A.RSASHA512: 1024}


@pytest.fixture
def store(tmp_path: Path) -> FileKeyStore:
    return FileKeyStore(tmp_path / "keys")


@pytest.fixture
def umask_zero() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def write_key(
    folder: Path, origin: bytes, algorithm: int, flags: int, key: A_crypto.PrivateKey | None = None
) -> B.DnskeyLine:
    """A pair written the plain way, the way another tool might leave it."""
    key = key or A_crypto.generate(algorithm, SMALL_BITS.get(algorithm))
    line = B.DnskeyLine(
        origin, None, flags, 3, algorithm, A_crypto.public_key_field(algorithm, key)
    )
    folder.mkdir(parents=True, exist_ok=True)
    stem = B.file_stem(origin, algorithm, line.key_tag)
    (folder / f"{stem}.key").write_text(B.format_key_text(line))
    private = folder / f"{stem}.private"
    private.write_text(B.format_private_text(algorithm, key))
    private.chmod(0o600)
    return line


# --- create + read back ------------------------------------------------------------------------


@pytest.mark.parametrize("alg", sorted(A.ALGORITHMS), ids=A.mnemonic)
def test_create_and_read_back(store: FileKeyStore, alg: int) -> None:
    made = store.create(ORIGIN, alg, KeyRole.CSK, NOW, SMALL_BITS.get(alg))
    assert (made.origin, made.algorithm, made.flags, made.role) == (ORIGIN, alg, 257, KeyRole.CSK)
    assert made.key_tag == A.key_tag(made.dnskey_rdata)
    assert made.source == f"{B.file_stem(ORIGIN, alg, made.key_tag)}.private"
    keys = store.keys_for(ORIGIN)
    assert keys == [made]
    data = b"to be signed"
    assert A_crypto.verify(alg, made.public_key, data, A_signers.load_signer(keys[0].signer)(data))
    pair = B.read_pair(store.directory / made.source.replace(".private", ".key"))
    assert pair.private.version == "v1.3"
    created = B.format_timestamp(NOW)
    assert list(pair.private.metadata) == [
        ("Created", created),
        ("Publish", created),
        ("Activate", created),
    ]


def test_permissions(store: FileKeyStore, umask_zero: None) -> None:
    made = store.create(ORIGIN, 13, KeyRole.ZSK, NOW)
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    private = store.directory / made.source
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(private.with_suffix(".key").stat().st_mode) == 0o644
    assert sorted(p.name for p in store.directory.iterdir()) == sorted(
        [made.source, made.source.replace(".private", ".key")]
    )  # no temporary file left behind


def test_private_file_is_never_wider_than_0600(
    store: FileKeyStore, umask_zero: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mode is set by open() itself: there is no instant with a readable private key."""
    seen: list[tuple[str, int, int]] = []
    real_open = os.open

    def spy(path: str | os.PathLike[str], flags: int, mode: int = 0o777, **kw: object) -> int:
        fd = real_open(path, flags, mode, **kw)  # type: ignore[arg-type]
        if flags & os.O_CREAT:
            seen.append((os.fspath(path), mode, stat.S_IMODE(os.fstat(fd).st_mode)))
        return fd

    monkeypatch.setattr(file_store.os, "open", spy)
    store.create(ORIGIN, 15, KeyRole.KSK, NOW)
    private = [s for s in seen if ".private." in s[0]]
    assert len(private) == 1
    assert private[0][1:] == (0o600, 0o600)
    assert all(s[2] & 0o077 == 0 or ".key." in s[0] for s in seen)


def test_existing_folder_is_used(tmp_path: Path) -> None:
    folder = tmp_path / "k"
    folder.mkdir(mode=0o750)
    made = FileKeyStore(folder).create(ORIGIN, 15, KeyRole.ZSK, NOW)
    assert (folder / made.source).exists()


def test_bad_bits_and_algorithm(store: FileKeyStore) -> None:
    with pytest.raises(KeyStoreError, match="1024 to 4096"):
        store.create(ORIGIN, 8, KeyRole.ZSK, NOW, bits=100)
    with pytest.raises(KeyStoreError, match="unsupported DNSSEC algorithm 5"):
        store.create(ORIGIN, 5, KeyRole.ZSK, NOW)
    assert not store.directory.exists()


# --- roles, order, zones ------------------------------------------------------------------------


def test_roles(store: FileKeyStore) -> None:
    ksk = store.create(ORIGIN, 13, KeyRole.KSK, NOW)
    zsk = store.create(ORIGIN, 13, KeyRole.ZSK, NOW)
    csk = store.create(ORIGIN, 15, KeyRole.KSK, NOW)  # no ZSK of algorithm 15: a CSK
    zsk8 = store.create(ORIGIN, 8, KeyRole.ZSK, NOW, 1024)
    keys = store.keys_for(ORIGIN)
    assert [(k.algorithm, k.role, k.key_tag) for k in keys] == [
        (8, KeyRole.ZSK, zsk8.key_tag),
        (13, KeyRole.KSK, ksk.key_tag),
        (13, KeyRole.ZSK, zsk.key_tag),
        (15, KeyRole.CSK, csk.key_tag),
    ]
    assert keys[1].signs_keys and not keys[1].signs_zone
    assert keys[3].signs_keys and keys[3].signs_zone


def test_order_is_by_algorithm_role_tag(store: FileKeyStore) -> None:
    for _ in range(4):
        store.create(ORIGIN, 15, KeyRole.ZSK, NOW)
        store.create(ORIGIN, 15, KeyRole.KSK, NOW)
    keys = store.keys_for(ORIGIN)
    assert len(keys) == 8
    assert keys == sorted(keys, key=lambda k: (k.algorithm, k.role, k.key_tag))
    assert [k.role for k in keys] == [KeyRole.KSK] * 4 + [KeyRole.ZSK] * 4
    assert store.keys_for(ORIGIN) == keys


def test_other_zones_ignored_and_case_insensitive(store: FileKeyStore) -> None:
    mine = write_key(store.directory, names.from_text("EXAMPLE.com.", None), 15, 257)
    write_key(store.directory, OTHER, 15, 257)
    write_key(store.directory, names.from_text("sub.example.com.", None), 13, 256)
    keys = store.keys_for(names.from_text("Example.Com.", None))
    assert [k.key_tag for k in keys] == [mine.key_tag]
    assert keys[0].origin == names.from_text("Example.Com.", None)
    assert len(store.keys_for(OTHER)) == 1


def test_owner_decides_not_the_file_name(store: FileKeyStore) -> None:
    line = write_key(store.directory, OTHER, 15, 256)
    old = store.directory / B.file_stem(OTHER, 15, line.key_tag)
    new = store.directory / B.file_stem(ORIGIN, 15, line.key_tag)
    for suffix in (".key", ".private"):
        old.with_name(old.name + suffix).rename(new.with_name(new.name + suffix))
    assert store.keys_for(ORIGIN) == []
    assert [k.key_tag for k in store.keys_for(OTHER)] == [line.key_tag]


def test_key_without_private(store: FileKeyStore) -> None:
    line = write_key(store.directory, ORIGIN, 13, 256)
    stem = B.file_stem(ORIGIN, 13, line.key_tag)
    (store.directory / f"{stem}.private").unlink()
    with pytest.raises(KeyStoreError) as info:
        store.keys_for(ORIGIN)
    assert f"{stem}.key" in str(info.value)
    assert f"no matching private key file {stem}.private" in str(info.value)
    assert store.keys_for(OTHER) == []  # another zone is not affected


def test_broken_key_files(store: FileKeyStore) -> None:
    write_key(store.directory, ORIGIN, 15, 257)
    (store.directory / "Kexample.net.+015+00001.key").write_text("garbage\n")
    assert len(store.keys_for(ORIGIN)) == 1  # another zone's broken file is not ours to judge
    (store.directory / "Kexample.com.+015+00002.key").write_text("garbage\n")
    with pytest.raises(KeyStoreError, match=r"Kexample\.com\.\+015\+00002\.key: bad owner name"):
        store.keys_for(ORIGIN)


def test_unrelated_files_are_ignored(store: FileKeyStore) -> None:
    write_key(store.directory, ORIGIN, 15, 257)
    (store.directory / "README.key").write_text("not a key\n")
    (store.directory / "Kexample.com.+015+00002.ds").write_text("example.com. DS 1 15 2 00\n")
    assert len(store.keys_for(ORIGIN)) == 1


def test_revoked_and_non_zone_keys_are_noted(
    store: FileKeyStore, caplog: pytest.LogCaptureFixture
) -> None:
    good = write_key(store.directory, ORIGIN, 13, 257)
    revoked = write_key(store.directory, ORIGIN, 13, 257 | 0x80)
    write_key(store.directory, ORIGIN, 13, 0)
    scan = store.scan(ORIGIN)
    assert [k.key_tag for k in scan.keys] == [good.key_tag]
    assert scan.keys[0].role is KeyRole.CSK  # the revoked SEP key does not make it a KSK
    assert any(f"key {revoked.key_tag} is revoked" in n for n in scan.notes)
    assert any("lack the zone bit" in n for n in scan.notes)
    assert len(scan.notes) == 2
    with caplog.at_level(logging.WARNING, logger="signwire.keystore.file_store"):
        keys = store.keys_for(ORIGIN)
    assert keys == scan.keys
    assert [r.getMessage() for r in caplog.records] == scan.notes


def test_loose_private_permissions_are_noted(store: FileKeyStore) -> None:
    line = write_key(store.directory, ORIGIN, 15, 256)
    private = store.directory / f"{B.file_stem(ORIGIN, 15, line.key_tag)}.private"
    private.chmod(0o644)
    scan = store.scan(ORIGIN)
    assert len(scan.keys) == 1
    assert scan.notes == [f"{private.name}: readable by others (mode 0644); should be 0600"]


def test_missing_folder_and_empty_zone(store: FileKeyStore) -> None:
    assert store.scan(ORIGIN) == file_store.KeyScan([], [], frozenset())
    store.directory.mkdir()
    write_key(store.directory, OTHER, 15, 257)
    assert store.scan(ORIGIN) == file_store.KeyScan([], [], frozenset())


# --- key tag collisions ------------------------------------------------------------------------


def _feed(monkeypatch: pytest.MonkeyPatch, keys: list[A_crypto.PrivateKey]) -> list[int]:
    """Make create() draw the given keys first, then fresh ones; count the draws."""
    calls: list[int] = []
    real = A_crypto.generate

    def fake(algorithm: int, bits: int | None = None) -> A_crypto.PrivateKey:
        calls.append(algorithm)
        return keys.pop(0) if keys else real(algorithm, bits)

    monkeypatch.setattr(file_store.crypto, "generate", fake)
    return calls


def test_tag_collision_regenerates(store: FileKeyStore, monkeypatch: pytest.MonkeyPatch) -> None:
    key = A_crypto.generate(15)
    existing = write_key(store.directory, ORIGIN, 15, 256, key)
    calls = _feed(monkeypatch, [key])
    made = store.create(ORIGIN, 15, KeyRole.ZSK, NOW)
    assert len(calls) == 2
    assert made.key_tag != existing.key_tag
    assert len(store.keys_for(ORIGIN)) == 2


def test_tag_collision_across_algorithms_and_with_revoked_form(
    store: FileKeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = A_crypto.generate(13)
    revoked = write_key(store.directory, ORIGIN, 13, 257 | 0x80, key)
    # The same key unrevoked has the tag the revoked one had before it was revoked.
    calls = _feed(monkeypatch, [key])
    made = store.create(ORIGIN, 13, KeyRole.KSK, NOW)
    assert len(calls) == 2
    assert made.public_key != revoked.public_key
    # A tag used by another algorithm is avoided too (the check ignores the algorithm).
    other_alg = write_key(store.directory, ORIGIN, 15, 256)
    assert other_alg.key_tag in store.scan(ORIGIN).tags


def test_other_zone_same_tag_is_fine(store: FileKeyStore, monkeypatch: pytest.MonkeyPatch) -> None:
    key = A_crypto.generate(15)
    write_key(store.directory, OTHER, 15, 256, key)
    calls = _feed(monkeypatch, [key])
    made = store.create(ORIGIN, 15, KeyRole.ZSK, NOW)
    assert len(calls) == 1
    assert made.public_key == A_crypto.public_key_field(15, key)


def test_existing_file_is_never_overwritten(
    store: FileKeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = A_crypto.generate(15)
    tag = A.key_tag(b"\x01\x00\x03\x0f" + A_crypto.public_key_field(15, key))
    store.directory.mkdir(parents=True)
    stray = store.directory / f"{B.file_stem(ORIGIN, 15, tag)}.private"
    stray.write_text("left over by something else\n")
    calls = _feed(monkeypatch, [key])
    made = store.create(ORIGIN, 15, KeyRole.ZSK, NOW)
    assert len(calls) == 2
    assert made.key_tag != tag
    assert stray.read_text() == "left over by something else\n"
    assert not list(store.directory.glob(".*"))


def test_gives_up_after_many_collisions(
    store: FileKeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = A_crypto.generate(15)
    write_key(store.directory, ORIGIN, 15, 256, key)
    monkeypatch.setattr(file_store.crypto, "generate", lambda alg, bits=None: key)
    with pytest.raises(KeyStoreError, match="could not find a free key tag"):
        store.create(ORIGIN, 15, KeyRole.ZSK, NOW)


def test_failed_key_write_removes_the_private(
    store: FileKeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_link = os.link

    def link(src: str, dst: str) -> None:
        if str(dst).endswith(".key"):
            raise PermissionError(13, "Permission denied")
        real_link(src, dst)

    monkeypatch.setattr(file_store.os, "link", link)
    with pytest.raises(KeyStoreError, match="cannot write"):
        store.create(ORIGIN, 15, KeyRole.ZSK, NOW)
    assert list(store.directory.iterdir()) == []


def test_long_zone_names_get_keys_or_a_clear_refusal(tmp_path):
    # 230 octets of name: the key's file name fits in 255, its temporary name must too.
    long_zone = ".".join(["a" * 56] * 4) + ".test."
    store = FileKeyStore(tmp_path)
    key = store.create(names.from_text(long_zone, None), 13, KeyRole.KSK, 1_790_000_000)
    assert store.keys_for(names.from_text(long_zone, None))[0].key_tag == key.key_tag
    longer = ".".join(["b" * 60] * 4) + ".test."  # 250 octets: no file name can hold it
    with pytest.raises(KeyStoreError, match="too long for key files"):
        store.create(names.from_text(longer, None), 13, KeyRole.KSK, 1_790_000_000)
    assert not list(tmp_path.iterdir()) or all("bbbb" not in p.name for p in tmp_path.iterdir())
