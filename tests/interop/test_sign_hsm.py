"""``signwire sign`` with keys on a real SoftHSM2 token, offline and under a policy.

The signed zone must satisfy the outside verifiers, and the state must remember the token
(never the PIN) so that later runs and ``key`` commands find the keys again.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import softhsm
from interop.verifiers import ldns_verify_zone
from signwire.storage.state import StateStore

_MISSING = softhsm.missing()
pytestmark = [
    pytest.mark.interop,
    pytest.mark.requires(_MISSING),
]

ZONE = textwrap.dedent(
    """\
    $ORIGIN example.test.
    $TTL 3600
    @    SOA ns1 hostmaster 1 3600 900 604800 1800
    @    NS  ns1
    ns1  A   192.0.2.1
    www  A   192.0.2.80
    sub  NS  ns.sub
    ns.sub A 192.0.2.53
    """
)


@pytest.fixture
def token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[softhsm.SoftHsmToken]:
    from signwire.keystore import pkcs11_token

    monkeypatch.setenv("SOFTHSM2_CONF", str(tmp_path / "softhsm2.conf"))
    made = softhsm.make_token(tmp_path / "hsm")
    (tmp_path / "pin").write_text(made.pin + "\n")
    (tmp_path / "pin").chmod(0o600)
    (tmp_path / "z.zone").write_text(ZONE)
    yield made
    pkcs11_token.close_all()


def _hsm(token: softhsm.SoftHsmToken, tmp_path: Path) -> list[str]:
    return [
        "--hsm-module",
        token.module,
        "--hsm-token",
        token.label,
        "--hsm-pin-file",
        str(tmp_path / "pin"),
    ]


def test_offline_signing_with_token_keys(token, tmp_path, run_cli_subprocess):
    out = tmp_path / "z.signed"
    result = run_cli_subprocess(
        "sign",
        tmp_path / "z.zone",
        "--origin",
        "example.test.",
        *_hsm(token, tmp_path),
        "-o",
        out,
        "--jobs",
        "2",
    )
    assert result.code == 0, result.err
    assert "created KSK" in result.err and token.label in result.err
    assert ldns_verify_zone(out).ok
    # a second run finds the same keys on the token instead of making new ones
    again = run_cli_subprocess(
        "sign", tmp_path / "z.zone", "--origin", "example.test.", *_hsm(token, tmp_path), "-o", out
    )
    assert again.code == 0 and "created" not in again.err
    assert ldns_verify_zone(out).ok


def test_policy_signing_remembers_the_token_but_not_the_pin(token, tmp_path, signwire):
    state = tmp_path / "state"
    common = [
        "sign",
        tmp_path / "z.zone",
        "--origin",
        "example.test.",
        "--policy",
        "default",
        "--state",
        state,
        "-o",
        tmp_path / "z.signed",
    ]
    code, _, err = signwire(*common, *_hsm(token, tmp_path), "--now", "1790000000")
    assert code == 0, err
    row = StateStore(state).zone("example.test.")
    assert row is not None and row.key_store is not None
    assert '"kind": "pkcs11"' in row.key_store and token.pin not in row.key_store
    # later runs need no HSM options: the state says where the keys are
    code, _, err = signwire(*common, "--now", "1790097200")
    assert code == 0, err
    assert "the parent should now publish its DS" in err
    code, out, err = signwire("key", "ds", "example.test.", "--state", state)
    assert code == 0 and "IN DS" in out, err


def test_missing_pin_is_a_usage_error(token, tmp_path, signwire):
    code, _, err = signwire(
        "sign",
        tmp_path / "z.zone",
        "--origin",
        "example.test.",
        "--hsm-module",
        token.module,
        "--hsm-token",
        token.label,
    )
    assert code == 2 and "PIN" in err
