"""The state layer under the faults an operator meets: lost or restored state, two writers,
crashes between steps, leftovers, hostile permissions, secrets in hooks, symlinked outputs.

Each test here failed before the state layer was reworked (issue: "State, keys and files an
operator can trust"). ``signwire`` runs the command line in this process; where only a real
process shows the behaviour (``os._exit`` at the end, signals), ``run_cli_subprocess`` does.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path

import dns.rdatatype
import dns.zone
import pytest

from signwire.keystore.file_store import FileKeyStore
from signwire.parent.submit import run_command
from signwire.policy.model import KeyRole
from signwire.storage import files
from signwire.storage.lock import StateLock
from signwire.storage.state import StateStore
from signwire.zones import names

NOW = 1_790_000_000
ORIGIN = "example.test."
ZONE = textwrap.dedent(
    """\
    $ORIGIN example.test.
    $TTL 3600
    @    SOA ns1 hostmaster 1 3600 900 604800 1800
    @    NS  ns1
    ns1  A   192.0.2.1
    www  A   192.0.2.2
    """
)
POLICY = textwrap.dedent(
    """\
    [policy.quick]
    algorithm = "ED25519"
    denial = "nsec"
    dnskey-ttl = "1h"
    max-zone-ttl = "1h"
    parent-ds-ttl = "1h"
    zsk-lifetime = "30d"
    ksk-lifetime = "unlimited"
    serial = "increment"
    """
)


@pytest.fixture
def d(tmp_path: Path) -> Path:
    (tmp_path / "z.zone").write_text(ZONE)
    (tmp_path / "p.toml").write_text(POLICY)
    return tmp_path


def sign_args(d: Path, now: int = NOW, *extra: object) -> list[object]:
    return [
        "sign", d / "z.zone", "--origin", ORIGIN, "--policy", "quick",
        "--policy-file", d / "p.toml", "--state", d / "state", "-o", d / "z.signed",
        "--now", str(now), *extra,
    ]  # fmt: skip


def published(path: Path) -> tuple[int, set[int]]:
    """(SOA serial, DNSKEY tags) of a signed file."""
    zone = dns.zone.from_file(str(path), ORIGIN, relativize=False)
    soa = zone.find_rdataset(ORIGIN, "SOA")[0]
    dnskeys = zone.get_rdataset(ORIGIN, dns.rdatatype.DNSKEY) or []
    return soa.serial, {dns.dnssec.key_id(k) for k in dnskeys}


def key_files(d: Path) -> list[str]:
    return sorted(p.name for p in (d / "state" / "keys" / "example.test").glob("K*.private"))


def state_tags(d: Path) -> set[int]:
    with StateStore(d / "state", create=False) as s:
        return {k.tag for k in s.key_states(ORIGIN) if k.tag is not None}


# --- the state file holds everything, and a lost state does not re-key the zone ----------------


def test_state_file_alone_holds_the_state_after_a_run(d, run_cli_subprocess):
    # A real process: signwire leaves with os._exit, which skips SQLite's own checkpoint.
    result = run_cli_subprocess(*sign_args(d))
    assert result.code == 0, result.err
    wal = d / "state" / "state.sqlite-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    copy = d / "copy"
    copy.mkdir(mode=0o700)
    shutil.copy(d / "state" / "state.sqlite", copy / "state.sqlite")
    with StateStore(copy, create=False) as s:
        assert s.zone(ORIGIN) is not None and len(s.key_states(ORIGIN)) == 2


@pytest.mark.parametrize("damage", ["deleted", "emptied"])
def test_a_lost_state_is_refused_not_rekeyed(d, signwire, damage):
    code, _, err = signwire(*sign_args(d))
    assert code == 0, err
    before_keys, before_file = key_files(d), (d / "z.signed").read_bytes()
    for name in ("state.sqlite", "state.sqlite-wal", "state.sqlite-shm"):
        path = d / "state" / name
        if path.exists():
            path.unlink() if damage == "deleted" else path.write_bytes(b"")
    code, _, err = signwire(*sign_args(d, NOW + 3600))
    assert code == 3, err
    assert "signed before" in err and "holds keys for it" in err and "z.signed" in err
    assert key_files(d) == before_keys  # no new key was made
    assert (d / "z.signed").read_bytes() == before_file  # nothing published


def test_the_previous_output_alone_is_evidence(d, signwire):
    code, _, err = signwire(*sign_args(d))
    assert code == 0, err
    shutil.rmtree(d / "state")  # keys gone with it: only the signed output remains
    code, _, err = signwire(*sign_args(d, NOW + 60))
    assert code == 3 and "holds a signed version" in err, err
    assert not (d / "state" / "keys").exists() or key_files(d) == []


def test_start_afresh_sets_the_old_keys_aside(d, signwire):
    code, _, err = signwire(*sign_args(d))
    assert code == 0, err
    old = key_files(d)
    (d / "state" / "state.sqlite").unlink()
    code, _, err = signwire(*sign_args(d, NOW + 60, "--start-afresh"))
    assert code == 0, err
    assert "set aside" in err
    assert not set(old) & set(key_files(d))
    aside = sorted(p.name for p in (d / "state/keys/example.test/unrecorded").glob("*.private"))
    assert aside == old


def test_a_mistyped_state_is_an_error_for_key_commands(d, signwire):
    code, _, err = signwire("key", "list", "--state", d / "no-such-state")
    assert code == 3 and "no signwire state here" in err
    assert not (d / "no-such-state").exists()


# --- the published file and the state agree at every instant ------------------------------------


class Crash(BaseException):
    """Stands for a SIGKILL: nothing of signwire's own cleanup runs for it."""


def test_a_crash_between_save_and_rename_is_finished_by_the_next_run(d, signwire, monkeypatch):
    code, _, err = signwire(*sign_args(d))
    assert code == 0, err
    first = published(d / "z.signed")

    def crash(self: files.PendingFile) -> None:
        raise Crash

    monkeypatch.setattr(files.PendingFile, "publish", crash)
    with pytest.raises(Crash):
        signwire(*sign_args(d, NOW + 86400))
    monkeypatch.undo()
    assert published(d / "z.signed") == first  # not renamed yet
    with StateStore(d / "state", create=False) as s:
        saved_serial = s.zone(ORIGIN).last_serial
        assert [p.serial for p in s.publications()] == [saved_serial]
    temp = Path(StateStore(d / "state").publications()[0].temp)
    content = temp.read_bytes()

    code, _, err = signwire("key", "list", "--state", d / "state")  # a reader changes nothing
    assert code == 0 and temp.exists()
    code, _, err = signwire(*sign_args(d, NOW + 86400 + 60))
    assert code == 0, err
    assert f"published serial {saved_serial}" in err
    # The saved version went out as it was written; then this run's own version followed.
    serial, tags = published(d / "z.signed")
    assert serial == saved_serial + 1 and tags <= state_tags(d) | tags
    with StateStore(d / "state", create=False) as s:
        assert s.publications() == [] and s.zone(ORIGIN).last_serial == serial
        assert any(f"published serial {saved_serial}" in m for _, m in s.log(ORIGIN))
    assert content  # the recovered file was the one written before the crash


def test_a_failed_save_publishes_nothing_and_leaves_no_key(d, signwire, monkeypatch):
    code, _, err = signwire(*sign_args(d))
    assert code == 0, err
    before = (d / "z.signed").read_bytes()
    keys_before = key_files(d)
    from signwire.storage.state import StateError

    def locked(*args: object, **kwargs: object) -> None:
        raise StateError("state not saved: database is locked")

    monkeypatch.setattr(StateStore, "save", locked)
    # Roll the ZSK so that this run creates a key before it fails to save.
    code, _, err = signwire("key", "roll", ORIGIN, "zsk", "--state", d / "state")
    assert code == 0, err
    code, _, err = signwire(*sign_args(d, NOW + 60))
    assert code == 3 and "database is locked" in err
    assert "never published: moved to" in err
    assert (d / "z.signed").read_bytes() == before
    assert key_files(d) == keys_before
    assert not list(d.glob(".z.signed.*.tmp"))


def test_ctrl_c_during_signing_says_nothing_was_published(d, signwire, monkeypatch):
    code, _, err = signwire(*sign_args(d))
    assert code == 0, err
    before = (d / "z.signed").read_bytes()
    import signwire.cli.sign_cmd as sign_cmd

    def interrupted(*args: object, **kwargs: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(sign_cmd, "write_plan", interrupted)
    code, _, err = signwire(*sign_args(d, NOW + 60))
    assert code == 130
    assert "nothing was published, the state is unchanged" in err
    assert (d / "z.signed").read_bytes() == before
    assert not list(d.glob(".z.signed.*.tmp"))


def test_sigterm_mid_signing_leaves_no_temp_file(tmp_path, run_cli_subprocess):
    lines = [
        "$ORIGIN example.test.",
        "$TTL 3600",
        "@ SOA ns1 h 1 3600 900 604800 1800",
        "@ NS ns1",
        "ns1 A 192.0.2.1",
    ]
    lines += [f"h{i} A 192.0.2.{i % 250 + 1}" for i in range(20_000)]
    (tmp_path / "z.zone").write_text("\n".join(lines) + "\n")
    keys = tmp_path / "keys"
    args = [sys.executable, "-m", "signwire", "sign", str(tmp_path / "z.zone"), "--origin",
            ORIGIN, "--keys", str(keys), "--algorithm", "ED25519", "-o",
            str(tmp_path / "z.signed"), "-j", "2"]  # fmt: skip
    assert subprocess.run(args, capture_output=True, check=False).returncode == 0
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".z.signed.*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert list(tmp_path.glob(".z.signed.*.tmp")), "the run never started writing"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted; nothing was published" in err
    assert not list(tmp_path.glob(".z.signed.*.tmp"))


def test_stale_temp_files_of_dead_writers_are_removed(d, signwire):
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = d / f".z.signed.{dead.pid}.0123abcd.tmp"
    stale.write_text("half a zone")
    mine_alive = d / f".z.signed.{os.getpid()}.0123abcd.tmp"  # a live writer's file stays
    mine_alive.write_text("being written")
    code, _, err = signwire(*sign_args(d))
    assert code == 0, err
    assert not stale.exists() and mine_alive.exists()
    assert f"removed {stale}" in err


def test_keys_made_by_a_killed_run_are_set_aside(d, signwire):
    code, _, err = signwire(*sign_args(d))
    assert code == 0, err
    folder = d / "state" / "keys" / "example.test"
    orphan = FileKeyStore(folder).create(names.from_text(ORIGIN, None), 15, KeyRole.ZSK, NOW)
    code, _, err = signwire(*sign_args(d, NOW + 60))
    assert code == 0, err
    assert f"key {orphan.key_tag}" in err and "not in the state" in err
    assert orphan.key_tag not in {int(n.split("+")[2][:5]) for n in key_files(d)}
    assert list((folder / "unrecorded").glob(f"*{orphan.key_tag:05d}.private"))
    assert orphan.key_tag not in published(d / "z.signed")[1]


def test_half_written_key_of_a_killed_run_is_set_aside(d, signwire):
    """SIGKILL between writing a new key's .private and its .key (or between moving an old
    key's two files) leaves a lone .private: the store never reads it, so only tidying at the
    next start can take it out of the zone's key folder (found by the SIGKILL walk)."""
    code, _, err = signwire(*sign_args(d))
    assert code == 0, err
    folder = d / "state" / "keys" / "example.test"
    half = FileKeyStore(folder).create(names.from_text(ORIGIN, None), 15, KeyRole.ZSK, NOW)
    key_file = next(folder.glob(f"K*+{half.key_tag:05d}.key"))
    key_file.unlink()
    code, _, err = signwire(*sign_args(d, NOW + 60))
    assert code == 0, err
    assert "has no .key file" in err
    assert not list(folder.glob(f"K*+{half.key_tag:05d}.private"))
    assert list((folder / "unrecorded").glob(f"K*+{half.key_tag:05d}.private"))


# --- one writer --------------------------------------------------------------------------------


def test_a_second_writer_waits_then_fails_naming_the_holder(d, signwire):
    (d / "state").mkdir(mode=0o700)
    with StateLock(d / "state"):
        started = time.monotonic()
        code, _, err = signwire(*sign_args(d), "--lock-wait", "0.3")
        waited = time.monotonic() - started
        assert code == 3 and "in use by another signwire" in err and f"pid {os.getpid()}" in err
        assert waited >= 0.3
        code, _, err = signwire("key", "roll", ORIGIN, "zsk", "--state", d / "state",
                                "--lock-wait", "0")  # fmt: skip
        assert code == 3 and "in use" in err
    assert not (d / "z.signed").exists()
    code, _, err = signwire(*sign_args(d))
    assert code == 0, err


def test_two_runs_at_once_make_one_set_of_keys(d):
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "signwire", *map(str, sign_args(d)), "--lock-wait", "60"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(2)
    ]  # fmt: skip
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert sum(err.count("created KSK") for _, err in results) == 1
    assert len(key_files(d)) == 2 and state_tags(d) == published(d / "z.signed")[1]


# --- hostile folders, secrets, output files -------------------------------------------------------


def test_world_writable_state_or_key_folders_are_refused(d, signwire):
    (d / "state").mkdir()
    os.chmod(d / "state", 0o777)
    code, _, err = signwire(*sign_args(d))
    assert code == 3 and "writable by every user" in err and "chmod o-w" in err
    keys = d / "keys"
    keys.mkdir()
    os.chmod(keys, 0o777)
    code, _, err = signwire("sign", d / "z.zone", "--origin", ORIGIN, "--keys", keys)
    assert code == 3 and "writable by every user" in err
    assert not list(keys.iterdir())


def test_a_folder_on_the_way_writable_by_all_is_refused(tmp_path):
    os.chmod(tmp_path, 0o777)
    with pytest.raises(files.UnsafeDirectoryError, match="without the sticky bit"):
        files.check_private_directory(tmp_path / "state", "state directory")
    os.chmod(tmp_path, 0o1777)  # like /tmp: fine
    (tmp_path / "state").mkdir(mode=0o700)
    files.check_private_directory(tmp_path / "state", "state directory")


def test_an_unreadable_key_folder_is_named_as_such(d, signwire, monkeypatch):
    code, _, err = signwire(*sign_args(d))
    assert code == 0, err
    # Tests run as root, for whom no folder is unreadable: make the listing fail instead.
    monkeypatch.setattr("signwire.keystore.file_store.is_readable_directory", lambda p: False)
    code, _, err = signwire(*sign_args(d, NOW + 60))
    assert code == 3 and "cannot be read" in err and "restore it from a backup" not in err


def test_hooks_get_a_scrubbed_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_HSM_PIN", "1234")
    dump = tmp_path / "env.txt"
    script = f"import os; open({str(dump)!r}, 'w').write('\\n'.join(sorted(os.environ)))"
    run_command([sys.executable, "-c", script], "", env={"SIGNWIRE_ZONE": ORIGIN})
    seen = dump.read_text().split("\n")
    assert "MY_HSM_PIN" not in seen and "SIGNWIRE_ZONE" in seen and "PATH" in seen


def test_output_through_a_symlink_replaces_the_target(d, signwire):
    real = d / "served" / "z.db"
    real.parent.mkdir()
    real.write_text("old\n")
    os.chmod(real, 0o640)
    os.chown(real, -1, 4)  # another group (adm on Debian): it must stay
    (d / "z.signed").symlink_to(real)
    code, _, err = signwire(*sign_args(d))
    assert code == 0, err
    assert (d / "z.signed").is_symlink() and os.readlink(d / "z.signed") == str(real)
    st = real.stat()
    assert published(real)[0] == 2
    assert stat.S_IMODE(st.st_mode) == 0o640 and st.st_gid == 4
    assert not list(real.parent.glob(".z.db.*.tmp"))


def test_a_new_output_follows_the_umask(d, run_cli_subprocess):
    old = os.umask(0o077)
    try:
        result = run_cli_subprocess(*sign_args(d))
    finally:
        os.umask(old)
    assert result.code == 0, result.err
    assert stat.S_IMODE((d / "z.signed").stat().st_mode) == 0o600


# --- durations past 32-bit DNS time ------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ('signature-validity = "69y"', "too long"),
        ('signature-validity = "100y"', "too long"),
        ("signature-validity = 1000000000000", "too long"),
        ("soa-expire = 4294967296", "too long"),
        ('signature-validity = "68y"\nsignature-inception-offset = "1000d"\n'
         'signature-refresh = "60y"\ndnskey-signature-validity = "68y"', "below 2^31"),
    ],
)  # fmt: skip
def test_spans_that_wrap_dns_time_are_refused(d, signwire, setting, words):
    (d / "p.toml").write_text(POLICY + setting + "\n")
    code, _, err = signwire("policy", "check", "quick", "--policy-file", d / "p.toml")
    assert code == 1 and words in err, err
    code, _, err = signwire(*sign_args(d))
    assert code == 2 and words in err, err
    assert not (d / "state" / "keys").exists() or key_files(d) == []


# --- backup and restore ----------------------------------------------------------------------


def test_backup_and_restore_bring_back_keys_and_serial(d, signwire):
    code, _, err = signwire(*sign_args(d))
    assert code == 0, err
    serial, tags = published(d / "z.signed")
    code, out, err = signwire("state", "backup", d / "b.tar", "--state", d / "state")
    assert code == 0 and "1 zone(s)" in out, err
    assert stat.S_IMODE((d / "b.tar").stat().st_mode) == 0o600
    shutil.rmtree(d / "state")
    code, out, err = signwire("state", "restore", d / "b.tar", "--state", d / "state")
    assert code == 0 and f"serial {serial}" in out, err
    code, _, err = signwire(*sign_args(d, NOW + 60))
    assert code == 0 and "created" not in err, err
    assert published(d / "z.signed") == (serial + 1, tags)


def test_restore_does_not_replace_a_state_with_zones_unless_forced(d, signwire):
    code, _, err = signwire(*sign_args(d))
    assert code == 0, err
    signwire("state", "backup", d / "b.tar", "--state", d / "state")
    code, _, err = signwire("state", "restore", d / "b.tar", "--state", d / "state")
    assert code == 3 and "--force" in err
    code, _, err = signwire("state", "restore", d / "b.tar", "--state", d / "state", "--force")
    assert code == 0, err
    assert (d / "state" / "state.sqlite.before-restore").exists()


def test_restore_refuses_an_archive_with_foreign_paths(d, signwire):
    evil = d / "evil.tar"
    (d / "payload").write_text("x")
    with tarfile.open(evil, "w") as tar:
        tar.add(d / "payload", arcname="../../etc/evil")
    code, _, err = signwire("state", "restore", evil, "--state", d / "state")
    assert code == 3 and "not a signwire backup" in err
    assert not (d.parent.parent / "etc" / "evil").exists()


def test_schema_one_states_are_upgraded_with_their_history(d, signwire):
    code, _, err = signwire(*sign_args(d))
    assert code == 0, err
    db = sqlite3.connect(d / "state" / "state.sqlite")
    with db:
        db.execute("DROP TABLE key_history")
        db.execute("DROP TABLE publications")
        db.execute("UPDATE meta SET value='1' WHERE name='schema'")
    db.close()
    with StateStore(d / "state") as s:
        assert len(s.recorded_keys(ORIGIN)) == 2
    code, _, err = signwire(*sign_args(d, NOW + 60))
    assert code == 0 and "not in the state" not in err, err
