"""A zone whose keys are on a real SoftHSM2 token, taken insecure under a policy: once no cache
can hold any record of the keys, they are destroyed on the token (the store's clean-up path)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import softhsm
from signwire.keystore.store import open_store
from signwire.storage.state import StateStore
from signwire.zones import names

_MISSING = softhsm.missing()
pytestmark = [
    pytest.mark.interop,
    pytest.mark.requires(_MISSING),
]

NOW = 1_790_000_000
HOUR, DAY = 3600, 86400
ZONE = textwrap.dedent(
    """\
    $ORIGIN example.test.
    $TTL 3600
    @    SOA ns1 hostmaster 1 3600 900 604800 1800
    @    NS  ns1
    ns1  A   192.0.2.1
    """
)
POLICY = textwrap.dedent(
    """\
    [policy.quick]
    dnskey-ttl = "1h"
    max-zone-ttl = "1h"
    parent-ds-ttl = "1h"
    zsk-lifetime = "unlimited"

    [policy.quick-insecure]
    based-on = "quick"
    keys = "none"
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
    (tmp_path / "p.toml").write_text(POLICY)
    yield made
    pkcs11_token.close_all()


def test_going_insecure_destroys_the_keys_on_the_token(token, tmp_path, signwire) -> None:
    state = tmp_path / "state"

    def sign(policy: str, at: int, *extra: object) -> str:
        done = signwire(
            "sign",
            tmp_path / "z.zone",
            "--origin",
            "example.test.",
            "--policy",
            policy,
            "--policy-file",
            tmp_path / "p.toml",
            "--state",
            state,
            "-o",
            tmp_path / "z.signed",
            "--now",
            str(at),
            "-j",
            "1",
            *extra,
        )
        assert done.code == 0, done.err
        return done.err

    hsm = (
        "--hsm-module",
        token.module,
        "--hsm-token",
        token.label,
        "--hsm-pin-file",
        tmp_path / "pin",
    )
    sign("quick", NOW, *hsm)
    assert "the parent should now publish its DS" in sign("quick", NOW + DAY)
    store = StateStore(state)
    origin = names.from_text("example.test.", None)
    on_token = open_store(store.key_store("example.test.")).keys_for(origin)
    assert len(on_token) == 2

    ksk = next(k for k in store.key_states("example.test.") if k.role.value == "ksk")
    assert "the parent should now remove its DS" in sign("quick-insecure", NOW + 2 * DAY)
    done = signwire(
        "key",
        "ds-gone",
        "example.test.",
        str(ksk.tag),
        "--state",
        state,
        "--now",
        str(NOW + 2 * DAY + HOUR),
    )
    assert done.code == 0, done.err
    sign("quick-insecure", NOW + 2 * DAY + HOUR)
    assert "UNSIGNED" in sign("quick-insecure", NOW + 2 * DAY + 5 * HOUR)
    assert "retiring it from the key store" in sign("quick-insecure", NOW + 3 * DAY)

    # A fresh session on the token: the key objects are gone.
    from signwire.keystore import pkcs11_token

    pkcs11_token.close_all()
    assert open_store(store.key_store("example.test.")).keys_for(origin) == []
