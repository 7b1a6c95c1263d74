"""NOTIFY in, as transcripts: a primary's NOTIFY (built with dnspython) goes through
signwire's reader and the refresh machine, and the answer that comes out is read back with
dnspython, TSIG included."""

from __future__ import annotations

import time

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signwire.loading.notify_in import NotifyError, notify_answer, read_notify
from signwire.loading.refresh import (
    AcceptNotify,
    Primary,
    RefreshConfig,
    RefreshState,
    RefuseNotify,
    SendSoaQuery,
    SoaTimers,
    TimerFired,
    TransferDone,
    initial_state,
    step,
)

KEYNAME = dns.name.from_text("xfr-key.")
KEY = dns.tsig.Key(KEYNAME, b"0123456789abcdef0123456789abcdef", "hmac-sha256")
OTHER = dns.tsig.Key(KEYNAME, b"another secret of thirty-two b..", "hmac-sha256")
UNKNOWN = dns.tsig.Key("who.", b"0123456789abcdef0123456789abcdef", "hmac-sha256")
KEYS = {"xfr-key.": KEY}
PRIMARY = Primary("127.0.0.11")
CONFIG = RefreshConfig("example.com.", (PRIMARY,), tsig_key="xfr-key.")


def notify(serial: int | None = 2026010102, key: dns.tsig.Key | None = KEY) -> dns.message.Message:
    msg = dns.message.make_query("Example.COM.", dns.rdatatype.SOA)
    msg.set_opcode(dns.opcode.NOTIFY)
    msg.flags |= dns.flags.AA
    if serial is not None:
        msg.answer.append(dns.rrset.from_text(
            "example.com.", 3600, "IN", "SOA", f"ns1.example.com. h.example.com. {serial} 1 1 1 1"
        ))
    if key is not None:
        msg.use_tsig(key)
    msg.to_wire()  # signs it, so .mac is the request MAC
    return msg


def loaded_state(now: int) -> RefreshState:
    """A zone that holds serial 2026010101, transferred from the primary at ``now``."""
    first = step(CONFIG, initial_state(now), TimerFired(), now).state
    done = TransferDone(PRIMARY, 2026010101, SoaTimers(3600, 600, 86400))
    return step(CONFIG, first, done, now).state


def test_signed_notify_is_accepted_answered_signed_and_starts_an_soa_query():
    now = int(time.time())
    request = notify()
    n = read_notify(request.wire, KEYS, now)
    assert (n.zone, n.serial) == ("example.com.", 2026010102)
    assert (n.tsig_key, n.tsig_error) == ("xfr-key.", None)
    out = step(CONFIG, loaded_state(now), n.event(PRIMARY.address), now + 1)
    assert out.actions[:2] == [AcceptNotify(PRIMARY.address), SendSoaQuery(PRIMARY)]
    reply = dns.message.from_wire(
        notify_answer(n, refused=False, now=now), keyring={KEYNAME: KEY}, request_mac=request.mac
    )
    assert reply.rcode() == dns.rcode.NOERROR and reply.opcode() == dns.opcode.NOTIFY
    assert reply.flags & dns.flags.QR and reply.flags & dns.flags.AA and reply.had_tsig
    assert reply.id == request.id and reply.question == request.question


def test_notify_signed_with_another_secret_is_refused_with_badsig():
    now = int(time.time())
    request = notify(key=OTHER)
    n = read_notify(request.wire, KEYS, now)
    assert n.tsig_key is None and n.tsig_error.startswith("BADSIG")
    out = step(CONFIG, loaded_state(now), n.event(PRIMARY.address), now)
    assert isinstance(out.actions[0], RefuseNotify) and "TSIG check failed: BADSIG" in (
        out.actions[0].reason
    )
    assert not any(isinstance(a, SendSoaQuery) for a in out.actions)
    reply = dns.message.from_wire(notify_answer(n, refused=True, now=now), keyring=False)
    assert reply.rcode() == dns.rcode.NOTAUTH and reply.tsig_error == dns.rcode.BADSIG
    with pytest.raises(dns.tsig.PeerBadSignature):
        dns.message.from_wire(
            notify_answer(n, refused=True, now=now), keyring={KEYNAME: OTHER},
            request_mac=request.mac,
        )


def test_notify_with_an_unknown_key_is_badkey():
    now = int(time.time())
    n = read_notify(notify(key=UNKNOWN).wire, KEYS, now)
    assert n.tsig_error == "BADKEY: unknown key who." and n.tsig_key is None
    reply = dns.message.from_wire(notify_answer(n, refused=True, now=now), keyring=False)
    assert reply.tsig_error == dns.rcode.BADKEY


def test_notify_signed_too_long_ago_is_badtime():
    now = int(time.time())
    n = read_notify(notify().wire, KEYS, now + 1000)
    assert n.tsig_error.startswith("BADTIME")


def test_unsigned_notify_is_refused_when_a_key_is_configured_and_answered_refused():
    now = int(time.time())
    n = read_notify(notify(key=None).wire, KEYS, now)
    assert n.tsig_key is None and n.tsig_error is None
    out = step(CONFIG, loaded_state(now), n.event(PRIMARY.address), now)
    reason = "not signed (TSIG key xfr-key. required)"
    assert out.actions[0] == RefuseNotify(PRIMARY.address, reason)
    reply = dns.message.from_wire(notify_answer(n, refused=True, now=now))
    assert reply.rcode() == dns.rcode.REFUSED and not reply.had_tsig


def test_notify_from_another_address_is_refused():
    now = int(time.time())
    n = read_notify(notify().wire, KEYS, now)
    out = step(CONFIG, loaded_state(now), n.event("127.0.0.99"), now)
    assert out.actions[0] == RefuseNotify("127.0.0.99", "not a configured primary")


def test_notify_without_soa_has_no_serial():
    n = read_notify(notify(serial=None, key=None).wire, {}, 0)
    assert n.serial is None


@pytest.mark.parametrize("kind", ["query", "response", "junk"])
def test_what_is_not_a_notify_request_is_an_error(kind):
    if kind == "junk":
        wire = b"\x00\x01\x02"
    elif kind == "query":
        wire = dns.message.make_query("example.com.", "SOA").to_wire()
    else:
        msg = notify(key=None)
        wire = dns.message.make_response(msg).to_wire()
    with pytest.raises(NotifyError):
        read_notify(wire, KEYS, 0)


_SIGNED = notify().to_wire()


@settings(max_examples=300, deadline=None)
@given(
    edits=st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 255)), max_size=5),
    cut=st.one_of(st.none(), st.integers(0, 1000)),
)
def test_damaged_notify_reads_or_raises_notify_error(edits, cut):
    damaged = bytearray(_SIGNED)
    for at, value in edits:
        damaged[at % len(damaged)] = value
    if cut is not None:
        damaged = damaged[: cut % (len(damaged) + 1)]
    try:
        n = read_notify(bytes(damaged), KEYS, int(time.time()))
    except NotifyError:
        return
    notify_answer(n, refused=n.tsig_key is None, now=0)
