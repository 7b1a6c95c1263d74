"""Parental agents asked with TSIG (RFC 8945), against a real knotd that knows one key.

knotd serves the parent zone ``test.`` with a ``key:`` section and an ACL granting queries to
that key, so it verifies signed questions and signs its answers. With the right key signwire
gets a signed answer (and checks its signature); with the right name and another secret knotd
says BADSIG, with an unknown name BADKEY; each is reported for that agent by key name, and the
secret appears nowhere. The whole path is also run as an operator would, ``signwire key
check-ds`` on a zone signed under a policy whose agent has a ``secret-file`` in the format
``keymgr -t`` prints.

Knot answers unsigned questions too (its ``query`` ACL action only adds keyed access), so
"requires TSIG" is shown from our side: an answer to a signed question must come back signed
with the same key or it is not used (tests/unit/test_parent_tsig.py, with a server that
answers unsigned).
"""

from __future__ import annotations

import asyncio
import base64
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from interop.test_parent_agents import (
    NET,
    QUERY_TIMEOUT,
    KnotAgent,
    parent_zone,
    with_ttl,
)
from interop.verifiers import missing_programs
from signwire.parent.agents import Answer, QueryError
from signwire.parent.query import ask_agents, check_parent
from signwire.policy.model import ParentalAgent, TsigKey

pytestmark = [
    pytest.mark.interop,
    pytest.mark.requires(missing_programs("knotd", "knotc")),
]

KEY_NAME = "parent-key."
SECRET_B64 = "c2lnbndpcmUtdGVzdC1zZWNyZXQtMzItb2N0ZXRzISE="
SECRET = base64.b64decode(SECRET_B64)
WRONG = base64.b64encode(b"another-secret-of-32-octets-here").decode()


class TsigKnotAgent(KnotAgent):
    """A knotd that knows ``KEY_NAME`` and grants it queries on every zone it serves."""

    def __init__(self, address: str, zones: dict[str, str]) -> None:
        super().__init__(address, zones)
        text = self.conf.read_text()
        keyed = (
            f"key:\n  - id: {KEY_NAME}\n    algorithm: hmac-sha256\n    secret: {SECRET_B64}\n"
            f"acl:\n  - id: keyed-query\n    key: {KEY_NAME}\n    action: query\n"
        )
        text = text.replace("template:\n", keyed + "template:\n", 1)
        text = text.replace("  - domain: test.\n", "  - domain: test.\n    acl: keyed-query\n")
        self.conf.write_text(text)


@pytest.fixture(scope="module")
def keyed_agent() -> Iterator[TsigKnotAgent]:
    agent = TsigKnotAgent(f"{NET}.7", {"test.": parent_zone(1, {"example": []})})
    agent.start()
    try:
        yield agent
    finally:
        agent.stop()


def with_key(agent: TsigKnotAgent, key: TsigKey | None) -> ParentalAgent:
    return ParentalAgent(agent.address, agent.port, key)


def test_the_right_key_gets_a_signed_answer(keyed_agent: TsigKnotAgent) -> None:
    agent = with_key(keyed_agent, TsigKey(KEY_NAME, "hmac-sha256", SECRET))
    result = asyncio.run(ask_agents("example.test.", [agent], timeout=QUERY_TIMEOUT, tries=1))
    answer = result[agent]
    assert isinstance(answer, Answer), answer
    assert answer.response.had_tsig  # signed by knotd, and verified by dnspython
    obs = check_parent("example.test.", {"k": [b"unused"]}, [agent], timeout=QUERY_TIMEOUT, tries=1)
    assert obs.gone == {"k"} and obs.problems == ()


@pytest.mark.parametrize(
    ("key", "words"),
    [
        (
            TsigKey(KEY_NAME, "hmac-sha256", base64.b64decode(WRONG)),
            "refused: the agent's secret for it is another one (BADSIG)",
        ),
        (
            TsigKey("stranger.", "hmac-sha256", SECRET),
            "refused: the agent does not know this key name and algorithm (BADKEY)",
        ),
        (
            TsigKey(KEY_NAME, "hmac-sha512", SECRET),
            "refused: the agent does not know this key name and algorithm (BADKEY)",
        ),
    ],
)
def test_a_wrong_key_is_a_clear_error_naming_the_agent(
    keyed_agent: TsigKnotAgent, key: TsigKey, words: str
) -> None:
    agent = with_key(keyed_agent, key)
    obs = check_parent("example.test.", {"k": [b"x"]}, [agent], timeout=QUERY_TIMEOUT, tries=1)
    assert obs.seen == set() and obs.gone == set()
    (line,) = obs.problems
    assert line == (
        f"parental agent {keyed_agent.address}:{keyed_agent.port}: no usable answer "
        f"(TSIG key {key.name} {words})"
    )
    assert SECRET_B64 not in line and WRONG not in line


def test_an_unreadable_secret_file_is_reported_for_that_agent(
    keyed_agent: TsigKnotAgent, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.key"
    agent = with_key(keyed_agent, TsigKey(KEY_NAME, "hmac-sha256", None, str(missing)))
    result = asyncio.run(ask_agents("example.test.", [agent], timeout=QUERY_TIMEOUT, tries=1))
    error = result[agent]
    assert isinstance(error, QueryError)
    assert error.reason.startswith(f"TSIG key {KEY_NAME}: cannot read secret-file {missing}: ")


ZONE = textwrap.dedent(
    """\
    $ORIGIN example.test.
    $TTL 300
    @    SOA ns1 hostmaster 1 3600 900 604800 300
    @    NS  ns1
    ns1  A   192.0.2.1
    """
)


def test_key_check_ds_with_a_secret_file(
    keyed_agent: TsigKnotAgent, tmp_path: Path, signwire
) -> None:
    """The operator's path: a policy whose agent has a secret-file (keymgr -t format, relative
    to the policy file), `signwire key check-ds`, the DS seen; then a wrong secret."""
    (tmp_path / "z.zone").write_text(ZONE)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "parent.key").write_text(
        f"key:\n  - id: {KEY_NAME}\n    algorithm: hmac-sha256\n    secret: {SECRET_B64}\n"
    )
    (tmp_path / "wrong.key").write_text(WRONG + "\n")
    policy = tmp_path / "p.toml"

    def write_policy(secret_file: str) -> None:
        policy.write_text(
            textwrap.dedent(
                f"""\
                [policy.keyed]
                algorithm = "ED25519"
                denial = "nsec"
                dnskey-ttl = "5m"
                max-zone-ttl = "5m"
                soa-negative-ttl = "5m"
                parent-ds-ttl = "1h"


                [[policy.keyed.parental-agents]]
                address = "{keyed_agent.address}"
                port = {keyed_agent.port}
                tsig = {{ name = "{KEY_NAME}", secret-file = "{secret_file}" }}
                """
            )
        )

    write_policy("secrets/parent.key")
    state = tmp_path / "state"
    now = 1_790_000_000
    for at in (now, now + 86400):  # the second run requests the DS
        done = signwire(
            "sign",
            tmp_path / "z.zone",
            "--origin",
            "example.test.",
            "--policy",
            "keyed",
            "--policy-file",
            policy,
            "--state",
            state,
            "-o",
            tmp_path / "z.signed",
            "--now",
            str(at),
            "-j",
            "1",
        )
        assert done.code == 0, done.err
    shown = signwire("key", "ds", "example.test.", "--state", state)
    (ds_line,) = shown.out.splitlines()
    tag = ds_line.split()[3]
    keyed_agent.reload("test.", parent_zone(2, {"example": with_ttl(3600, [_ds(ds_line)])}))

    seen = signwire("key", "check-ds", "example.test.", "--state", state, "--policy-file", policy)
    assert seen.code == 0, seen.err
    assert f"example.test. key {tag}: DS seen at every parental agent" in seen.out

    write_policy(str(tmp_path / "wrong.key"))
    refused = signwire(
        "key", "check-ds", "example.test.", "--state", state, "--policy-file", policy
    )
    assert refused.code == 0, refused.err
    said = refused.out + refused.err
    assert (
        f"parental agent {keyed_agent.address}:{keyed_agent.port}: no usable answer "
        f"(TSIG key {KEY_NAME} refused: the agent's secret for it is another one (BADSIG))"
    ) in said
    assert f"key {tag}: undecided" in said
    logged = signwire("key", "list", "example.test.", "--state", state, "--policy-file", policy)
    for text in (seen.out, seen.err, said, logged.out, policy.read_text()):
        assert SECRET_B64 not in text and WRONG not in text


def _ds(line: str) -> bytes:
    """DS RDATA from ``example.test. IN DS 1234 15 2 ABCD…``."""
    tag, alg, digest_type, digest = line.split()[3:7]
    return int(tag).to_bytes(2, "big") + bytes((int(alg), int(digest_type))) + bytes.fromhex(digest)
