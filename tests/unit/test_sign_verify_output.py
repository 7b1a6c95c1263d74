"""``signwire sign`` verifies the file it wrote before renaming it into place.

The output is tampered with after it is written and before the rename (``PendingFile.finish``
is where the content is complete on disk): the run must fail with the verifier's exit code,
say what failed, and leave the previous output, the state and the key store as they were.
``--no-verify`` skips the check, as ``dnssec-signzone -P`` does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from signwire.pipeline import offline
from signwire.storage import files
from signwire.storage.state import StateStore
from signwire.verify import Problem, Severity, VerifyReport
from unit.test_state_safety import NOW, ORIGIN, POLICY, ZONE
from unit.test_state_safety import sign_args as policy_args


@pytest.fixture
def d(tmp_path: Path) -> Path:
    (tmp_path / "z.zone").write_text(ZONE)
    (tmp_path / "p.toml").write_text(POLICY)
    return tmp_path


def keys_args(d: Path, now: int, *extra: object) -> list[object]:
    return [
        "sign", d / "z.zone", "--origin", ORIGIN, "--keys", d / "keys", "--algorithm",
        "ED25519", "-o", d / "z.signed", "--now", str(now), *extra,
    ]  # fmt: skip


def tamper_before_rename(monkeypatch: pytest.MonkeyPatch) -> None:
    """Change one signed record's data once the file is complete, before it is renamed."""
    finish = files.PendingFile.finish

    def tampered(self: files.PendingFile) -> None:
        finish(self)
        text = self.temp.read_text(encoding="latin-1")
        assert "192.0.2.2" in text
        with open(self.temp, "w", encoding="latin-1") as f:  # same file, same inode
            f.write(text.replace("192.0.2.2", "192.0.2.99"))

    monkeypatch.setattr(files.PendingFile, "finish", tampered)


def state_snapshot(d: Path) -> tuple[object, ...]:
    with StateStore(d / "state", create=False) as s:
        row = s.zone(ORIGIN)
        assert row is not None
        keys = sorted((k.key_id, k.tag, str(k)) for k in s.key_states(ORIGIN))
        return row.last_serial, keys, s.publications()


def key_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("K*.private"))


def test_a_tampered_output_leaves_old_file_and_state(d, signwire, monkeypatch):
    code, _, err = signwire(*policy_args(d, NOW))
    assert code == 0, err
    assert "verified" in err
    before_file = (d / "z.signed").read_bytes()
    before_state = state_snapshot(d)
    keydir = d / "state" / "keys" / "example.test"
    before_keys = key_files(keydir)
    # A ZSK roll: this run makes a key, which must not outlive the failed run.
    code, _, err = signwire("key", "roll", ORIGIN, "zsk", "--state", d / "state")
    assert code == 0, err

    tamper_before_rename(monkeypatch)
    code, _, err = signwire(*policy_args(d, NOW + 86400))
    assert code == 1, err
    assert "failed verification" in err and "www.example.test." in err, err
    assert "nothing was written to" in err and "the state is unchanged" in err, err
    assert (d / "z.signed").read_bytes() == before_file
    after_last_serial, after_keys, publications = state_snapshot(d)
    assert (after_last_serial, after_keys, publications) == before_state
    assert key_files(keydir) == before_keys  # the new key was set aside
    assert "never published: moved to" in err
    assert not list(d.glob(".z.signed.*.tmp"))

    monkeypatch.undo()
    code, _, err = signwire(*policy_args(d, NOW + 86400))
    assert code == 0, err  # the roll is still pending and goes through now


def test_a_tampered_output_with_explicit_keys(d, signwire, monkeypatch):
    code, _, err = signwire(*keys_args(d, NOW))
    assert code == 0, err
    before = (d / "z.signed").read_bytes()
    tamper_before_rename(monkeypatch)
    code, _, err = signwire(*keys_args(d, NOW + 60))
    assert code == 1 and "failed verification" in err, err
    assert (d / "z.signed").read_bytes() == before
    assert not list(d.glob(".z.signed.*.tmp"))


def test_no_verify_skips_the_check(d, signwire, monkeypatch):
    tamper_before_rename(monkeypatch)
    code, _, err = signwire(*keys_args(d, NOW, "--no-verify"))
    assert code == 0, err
    assert "not verified" in err
    assert "192.0.2.99" in (d / "z.signed").read_text()  # what it wrote went out unchecked


def test_standard_output_is_verified_before_it_is_written(d, signwire, monkeypatch, capsys):
    code, out, err = signwire(*keys_args(d, NOW)[:-4], "-o", "-", "--now", str(NOW))
    assert code == 0, err
    assert "\tRRSIG\t" in out and "verified" in err

    def failing(path: str, origin: str, *, now: int) -> VerifyReport:
        return VerifyReport(origin, [Problem(Severity.ERROR, origin, "SOA", "made up")])

    monkeypatch.setattr(offline, "verify_zone", failing)
    code, out, err = signwire(*keys_args(d, NOW)[:-4], "-o", "-", "--now", str(NOW))
    assert code == 1 and "failed verification" in err and "standard output" in err, err
    assert out == ""

