"""The daemon's message handler (NOTIFY in, everything else to the responder) answers or
drops mangled messages; it never raises, and a zone's state survives them."""

from __future__ import annotations

import random
from pathlib import Path

import dns.message
import dns.opcode
import dns.rdatatype
import dns.tsigkeyring

from signwire.runtime.daemon import Daemon

SECRET = "RFTvNORtEQ8EHFDVhcqh48B1uqKCQqPqE1NBIeCf0dE="


def seeds() -> list[bytes]:
    out = []
    keyring = dns.tsigkeyring.from_text({"k.": ("hmac-sha256", SECRET)})
    for opcode in (dns.opcode.QUERY, dns.opcode.NOTIFY):
        for rdtype in ("SOA", "AXFR", "IXFR", "A"):
            q = dns.message.make_query("example.net.", rdtype, want_dnssec=True)
            q.set_opcode(opcode)
            out.append(q.to_wire())
            q.use_tsig(keyring, keyname="k.")
            out.append(q.to_wire())
    return out


def test_mangled_messages_never_raise(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text(f"""
[server]
listen = ["127.0.0.1:5399"]
state = "state"
[tsig.k]
secret = "{SECRET}"
[remote.p]
addresses = ["127.0.0.1:5398"]
key = "k"
[[zone]]
name = "example.net."
primaries = ["p"]
""")
    daemon = Daemon(str(tmp_path / "c.toml"), clock=lambda: 1_800_000_000)
    daemon._build_keyring()
    zr = daemon._make_zone(daemon.config.zones[0], 1_800_000_000)
    daemon.zones[zr.config.name] = zr
    daemon._spawn = lambda coro: coro.close()  # type: ignore[method-assign]
    rng = random.Random(7)
    answered = 0
    for _ in range(1500):
        wire = bytearray(rng.choice(seeds()))
        for _ in range(rng.randint(1, 6)):
            what = rng.random()
            i = rng.randrange(len(wire))
            if what < 0.5:
                wire[i] = rng.randrange(256)
            elif what < 0.75:
                del wire[i:i + rng.randint(1, 8)]
            else:
                wire[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            if not wire:
                break
        for tcp in (False, True):
            answers = daemon.handle_message(bytes(wire), "127.0.0.1", tcp)
            answered += bool(answers)
            for answer in answers:
                assert len(answer) >= 12
    assert answered > 500
    assert zr.state.refresh is not None  # the zone's machine is still whole
