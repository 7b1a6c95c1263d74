"""``signwire sign --policy --state`` and ``signwire key``: keys follow the enforcer, states
survive in the state directory, and nothing is saved unless the signed zone was written."""

from __future__ import annotations

import sqlite3
import sys
import textwrap

import pytest

from signwire.storage.state import StateError, StateStore

NOW = 1_790_000_000
ZONE = textwrap.dedent(
    """\
    $ORIGIN example.test.
    $TTL 3600
    @    SOA ns1 hostmaster 1 3600 900 604800 1800
    @    NS  ns1
    ns1  A   192.0.2.1
    """
)


@pytest.fixture
def setup(tmp_path):
    (tmp_path / "z.zone").write_text(ZONE)
    submit_log = tmp_path / "submitted.txt"
    recorder = tmp_path / "record.py"
    recorder.write_text(f"import sys\nopen({str(submit_log)!r}, 'a').write(sys.stdin.read())\n")
    (tmp_path / "p.toml").write_text(
        textwrap.dedent(f"""\
        [policy.quick]
        algorithm = "ED25519"
        denial = "nsec"
        dnskey-ttl = "1h"
        max-zone-ttl = "1h"
        parent-ds-ttl = "1h"
        zsk-lifetime = "30d"
        ksk-lifetime = "unlimited"
        ds-submit-command = "{sys.executable} {recorder}"
        """)
    )
    return tmp_path


def _sign(signwire, d, now=NOW, *extra):
    return signwire(
        "sign",
        d / "z.zone",
        "--origin",
        "example.test.",
        "--policy",
        "quick",
        "--policy-file",
        d / "p.toml",
        "--state",
        d / "state",
        "-o",
        d / "z.signed",
        "--now",
        str(now),
        *extra,
    )


def test_first_signing_creates_keys_and_saves_states(setup, signwire):
    code, _, err = _sign(signwire, setup)
    assert code == 0, err
    assert "created KSK" in err and "created ZSK" in err and "next key event:" in err
    store = StateStore(setup / "state")
    keys = store.key_states("example.test.")
    assert sorted(k.role.value for k in keys) == ["ksk", "zsk"]
    assert all(k.tag for k in keys)
    assert store.zone("example.test.").policy == "quick"
    assert len(list((setup / "state" / "keys" / "example.test").glob("K*.private"))) == 2
    code, out, _ = signwire(
        "key",
        "list",
        "--state",
        setup / "state",
        "--policy-file",
        setup / "p.toml",
        "--now",
        str(NOW),
    )
    assert code == 0
    assert "KSK" in out and "ZSK" in out and "dnskey=rumoured" in out


def test_a_failed_write_saves_nothing(setup, signwire):
    code, _, err = signwire(
        "sign",
        setup / "z.zone",
        "--origin",
        "example.test.",
        "--policy",
        "quick",
        "--policy-file",
        setup / "p.toml",
        "--state",
        setup / "state",
        "-o",
        setup / "no" / "such" / "dir" / "z.signed",
        "--now",
        str(NOW),
    )
    assert code == 3, err
    assert StateStore(setup / "state").key_states("example.test.") == []


def test_a_bad_zone_creates_no_keys(setup, signwire):
    (setup / "z.zone").write_text(ZONE + "www CNAME a\nwww A 192.0.2.2\n")
    code, _, err = _sign(signwire, setup)
    assert code == 1 and "CNAME beside other data" in err
    assert not (setup / "state" / "keys").exists() or not list(
        (setup / "state" / "keys").rglob("K*")
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--nsec3"], "the policy decides"), (["--keys", "k"], "the policy decides")],
)
def test_offline_options_are_refused_with_a_policy(setup, signwire, extra, message):
    code, _, err = _sign(signwire, setup, NOW, *extra)
    assert code == 2 and message in err


def test_policy_needs_state_and_a_known_name(setup, signwire):
    code, _, err = signwire(
        "sign",
        setup / "z.zone",
        "--origin",
        "example.test.",
        "--policy",
        "quick",
        "--policy-file",
        setup / "p.toml",
    )
    assert code == 2 and "--state" in err
    code, _, err = signwire(
        "sign",
        setup / "z.zone",
        "--origin",
        "example.test.",
        "--policy",
        "nope",
        "--policy-file",
        setup / "p.toml",
        "--state",
        setup / "s",
    )
    assert code == 2 and "nope" in err


def test_ds_is_submitted_then_confirmed_by_the_operator(setup, signwire):
    assert _sign(signwire, setup)[0] == 0
    # A day later the DNSKEYs are everywhere: the signer asks the parent for the DS.
    code, _, err = _sign(signwire, setup, NOW + 86400)
    assert code == 0, err
    assert "the parent should now publish its DS" in err
    submitted = (setup / "submitted.txt").read_text()
    assert "IN DS" in submitted and "example.test." in submitted
    ksk = next(
        k for k in StateStore(setup / "state").key_states("example.test.") if k.role.value == "ksk"
    )
    assert ksk.ds.state.value == "rumoured"

    code, out, _ = signwire(
        "key",
        "ds-seen",
        "example.test.",
        str(ksk.tag),
        "--state",
        setup / "state",
        "--now",
        str(NOW + 2 * 86400),
    )
    assert code == 0 and "recorded" in out
    assert StateStore(setup / "state").pending("example.test.")
    assert _sign(signwire, setup, NOW + 2 * 86400)[0] == 0
    store = StateStore(setup / "state")
    assert not store.pending("example.test.")  # applied, and gone from the queue
    ksk = next(k for k in store.key_states("example.test.") if k.role.value == "ksk")
    assert ksk.ds_seen_at == NOW + 2 * 86400


def test_unknown_tag_is_a_clear_error(setup, signwire):
    assert _sign(signwire, setup)[0] == 0
    code, _, err = signwire("key", "ds-seen", "example.test.", "1", "--state", setup / "state")
    assert code == 3 and "no key with tag 1" in err


def test_state_from_a_newer_signwire_is_refused(tmp_path):
    StateStore(tmp_path).close()
    db = sqlite3.connect(tmp_path / "state.sqlite")
    with db:
        db.execute("UPDATE meta SET value='99' WHERE name='schema'")
    db.close()
    with pytest.raises(StateError, match="newer"):
        StateStore(tmp_path)
