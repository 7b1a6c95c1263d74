"""TSIG on the DS question to parental agents: the key from the policy, its secret file, and
what is done with replies that are not signed as they must be.

A small UDP responder on 127.0.0.1 plays the agent: it answers every question with a DS RRset,
unsigned, signed with the right key, or signed with another secret. Only a reply signed with
the key the question was signed with is used. (The real server, knotd, is in
tests/interop/test_parent_agents_tsig.py.)
"""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
from pathlib import Path

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig
import pytest

from signwire.parent.agents import Answer, QueryError
from signwire.parent.query import TsigSetupError, ask_agents, tsig_key
from signwire.policy.model import ParentalAgent, TsigKey

SECRET_B64 = "c2lnbndpcmUtdGVzdC1zZWNyZXQtMzItb2N0ZXRzISE="
SECRET = base64.b64decode(SECRET_B64)
KEY = TsigKey("parent-key.", "hmac-sha256", SECRET)
DS = "12345 13 2 " + "ab" * 32


class Responder:
    """Answers each DS question on a loopback UDP port, in a thread, the way ``mode`` says:
    "unsigned", "signed" (with the question's key) or "forged" (same name, another secret)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def serve(self) -> None:
        ring = {dns.name.from_text(KEY.name): dns.tsig.Key(KEY.name, SECRET)}
        forged = dns.tsig.Key(KEY.name, b"f" * 32)
        while not self.stop.is_set():
            try:
                wire, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(wire, keyring=ring)
            reply = dns.message.make_response(query)
            reply.flags |= dns.flags.AA
            reply.answer.append(dns.rrset.from_text(query.question[0].name, 3600, "IN", "DS", DS))
            if self.mode == "unsigned":
                reply.keyring = None
                reply.tsig = None
            elif self.mode == "forged":
                reply.use_tsig(forged, original_id=query.id)
                reply.request_mac = query.mac
            self.sock.sendto(reply.to_wire(), peer)

    def __enter__(self) -> Responder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


def ask(port: int, key: TsigKey | None) -> object:
    agent = ParentalAgent("127.0.0.1", port, key)
    return asyncio.run(ask_agents("example.test.", [agent], timeout=1.0, tries=1))[agent]


def test_a_signed_reply_with_the_same_key_is_used() -> None:
    with Responder("signed") as server:
        result = ask(server.port, KEY)
    assert isinstance(result, Answer) and result.response.had_tsig
    assert result.response.answer[0].rdtype == dns.rdatatype.DS


@pytest.mark.parametrize(
    ("mode", "words"),
    [
        ("unsigned", "TSIG key parent-key.: the reply is not signed; it is not trusted"),
        ("forged", "TSIG key parent-key. refused: the reply's signature does not verify"),
    ],
)
def test_a_reply_not_signed_with_the_key_is_not_used(mode: str, words: str) -> None:
    with Responder(mode) as server:
        result = ask(server.port, KEY)
    assert isinstance(result, QueryError), result
    assert result.reason.startswith(words)
    assert SECRET_B64 not in result.reason


def test_without_a_key_an_unsigned_reply_is_fine() -> None:
    with Responder("unsigned") as server:
        assert isinstance(ask(server.port, None), Answer)


@pytest.mark.parametrize(
    "text",
    [
        SECRET_B64 + "\n",  # the secret alone
        f'key "parent-key" {{\n\talgorithm hmac-sha256;\n\tsecret "{SECRET_B64}";\n}};\n',
        f"key:\n  - id: parent-key.\n    algorithm: hmac-sha256\n    secret: {SECRET_B64}\n",
    ],
    ids=["bare", "bind", "knot"],
)
def test_secret_files_in_the_usual_formats(tmp_path: Path, text: str) -> None:
    path = tmp_path / "parent.key"
    path.write_text(text)
    key = tsig_key(TsigKey("parent-key.", "hmac-sha384", None, str(path)))
    assert key.secret == SECRET
    assert key.name == dns.name.from_text("parent-key.")
    assert key.algorithm == dns.tsig.HMAC_SHA384


def test_a_bad_secret_file_names_the_file_not_the_secret(tmp_path: Path) -> None:
    path = tmp_path / "short.key"
    path.write_text('secret "c2hvcnQ=";\n')
    with pytest.raises(TsigSetupError) as info:
        tsig_key(TsigKey("k.", "hmac-sha256", None, str(path)))
    assert str(info.value).startswith(f"TSIG key k.: the secret in {path} is 5 octets")
    assert "c2hvcnQ" not in str(info.value)
    with pytest.raises(TsigSetupError, match="cannot read secret-file"):
        tsig_key(TsigKey("k.", "hmac-sha256", None, str(tmp_path / "missing.key")))
