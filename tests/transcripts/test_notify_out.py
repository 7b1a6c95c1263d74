"""NOTIFY out, as transcripts with a hand-moved clock: what signwire sends to its secondaries,
how it retries, and which answers end the retries.

The secondaries' side is signwire's own NOTIFY-in code (read the request, check its TSIG,
answer), which takes the time as an argument too, so nothing here reads the system clock; the
plain answers are built with dnspython.
"""

from __future__ import annotations

import itertools
import struct

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.tsig
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import FIXED_NOW
from signwire.loading.notify_in import notify_answer, read_notify
from signwire.publication.notify_out import (
    Answered,
    GaveUp,
    Ignored,
    NotifyOut,
    NotifyPolicy,
    Secondary,
)
from signwire.runtime.clock import ManualClock
from signwire.zones.names import from_text

ORIGIN = from_text("example.test.", None)
KEY = dns.tsig.Key("notify-key.", b"0123456789abcdef0123456789abcdef", "hmac-sha256")
OTHER = dns.tsig.Key("notify-key.", b"another secret of thirty-two b..", "hmac-sha256")
KEYS = {"notify-key.": KEY}
S1 = Secondary("127.0.0.13", 5301)
S2 = Secondary("::1", 5302)


def soa(serial: int) -> tuple[bytes, int, int, bytes]:
    rdata = (from_text("ns1", ORIGIN) + from_text("h", ORIGIN)
             + struct.pack("!IIIII", serial, 7200, 900, 1209600, 300))
    return (ORIGIN, 6, 3600, rdata)


def machine(key: dns.tsig.Key | None = None, **policy: int) -> NotifyOut:
    counter = itertools.count(100)
    return NotifyOut(ORIGIN, [S1, S2, S1], ids=lambda: next(counter), key=key,
                     policy=NotifyPolicy(**policy))


def answer(wire: bytes, now: int, *, refused: bool = False) -> bytes:
    """The secondary's answer, by signwire's NOTIFY-in side (signed when the NOTIFY was)."""
    return notify_answer(read_notify(wire, KEYS, now), refused=refused, now=now)


def test_a_new_serial_notifies_each_secondary_once(manual_clock: ManualClock) -> None:
    now = manual_clock.now()
    out = machine(KEY).new_serial(soa(2026010102), now)
    assert [s.secondary for s in out.sends] == [S1, S2]  # the duplicate S1 is notified once
    for send in out.sends:
        request = read_notify(send.wire, KEYS, now)
        assert request.zone == "example.test." and request.serial == 2026010102
        assert request.tsig_key == "notify-key." and request.tsig_error is None
        assert request.request.flags & dns.flags.AA
    assert out.wake_at == now + 2 and not out.reports


def test_retries_back_off_then_give_up(manual_clock: ManualClock) -> None:
    m = machine(first_retry=2, max_interval=10, max_attempts=5)
    out = m.new_serial(soa(7), manual_clock.now())
    ids = {dns.message.from_wire(s.wire).id for s in out.sends}
    sent_at = [manual_clock.now()]
    gave_up: list[GaveUp] = []
    while out.wake_at is not None:
        assert not m.tick(out.wake_at - 1).sends  # nothing before it is due
        manual_clock.set(out.wake_at)
        out = m.tick(manual_clock.now())
        if out.sends:
            sent_at.append(manual_clock.now())
            assert len(out.sends) == 2
            # A retransmission keeps the ID, so a late answer to an earlier one still counts.
            assert {dns.message.from_wire(s.wire).id for s in out.sends} == ids
        gave_up += [r for r in out.reports if isinstance(r, GaveUp)]
    gaps = [b - a for a, b in itertools.pairwise(sent_at)]
    assert gaps == [2, 4, 8, 10]
    assert sorted((g.secondary.port, g.attempts, g.serial) for g in gave_up) == [
        (5301, 5, 7), (5302, 5, 7)]
    assert m.pending == {}


def test_a_matching_answer_stops_the_retries(manual_clock: ManualClock) -> None:
    now = manual_clock.now()
    m = machine(KEY)
    out = m.new_serial(soa(9), now)
    first = out.sends[0]
    manual_clock.advance(1)
    got = m.response(answer(first.wire, manual_clock.now()), S1, manual_clock.now())
    assert got.reports == [Answered(S1, 9, 0, 1)]
    assert m.pending == {S2: 9}
    manual_clock.advance(1)
    again = m.tick(manual_clock.now())
    assert [s.secondary for s in again.sends] == [S2]


def test_an_answer_to_an_earlier_send_counts(manual_clock: ManualClock) -> None:
    m = machine(KEY)
    first = m.new_serial(soa(9), manual_clock.now()).sends[0]
    manual_clock.advance(2)
    m.tick(manual_clock.now())  # retransmitted, signed anew
    got = m.response(answer(first.wire, manual_clock.now()), S1, manual_clock.now())
    assert got.reports == [Answered(S1, 9, 0, 2)]


def test_a_refusal_ends_the_retries_and_is_reported(manual_clock: ManualClock) -> None:
    m = machine(KEY)
    sends = m.new_serial(soa(9), manual_clock.now()).sends
    got = m.response(answer(sends[1].wire, manual_clock.now(), refused=True), S2,
                     manual_clock.now())
    assert got.reports == [Answered(S2, 9, dns.rcode.REFUSED, 1)]


def test_answers_that_do_not_match_are_ignored(manual_clock: ManualClock) -> None:
    now = manual_clock.now()
    m = machine()
    wire = m.new_serial(soa(9), now).sends[0].wire
    good = dns.message.make_response(dns.message.from_wire(wire))
    query_opcode = dns.message.make_response(dns.message.from_wire(wire))
    query_opcode.set_opcode(dns.opcode.QUERY)
    wrong_id = dns.message.make_response(dns.message.from_wire(wire))
    wrong_id.id ^= 1
    wrong_zone = dns.message.make_response(dns.message.make_query("other.test.", "SOA"))
    wrong_zone.set_opcode(dns.opcode.NOTIFY)
    wrong_zone.id = good.id
    cases = [
        (good.to_wire(), Secondary("127.0.0.99", 5301), "not from a secondary"),
        (good.to_wire(), Secondary("127.0.0.13", 53), "not from a secondary"),
        (wire, S1, "not a response"),
        (query_opcode.to_wire(), S1, "opcode 0"),
        (wrong_id.to_wire(), S1, "message ID"),
        (wrong_zone.to_wire(), S1, "not example.test."),
        (b"\x00", S1, "shorter than a DNS header"),
    ]
    for data, peer, reason in cases:
        got = m.response(data, peer, now)
        assert len(got.reports) == 1 and isinstance(got.reports[0], Ignored)
        assert reason in got.reports[0].reason
    assert set(m.pending) == {S1, S2}
    # The same answer from the right address and port is taken; IPv6 written another way too.
    assert isinstance(m.response(good.to_wire(), S1, now).reports[0], Answered)
    wire2 = next(iter(m.new_serial(soa(10), now).sends[1:])).wire
    reply = dns.message.make_response(dns.message.from_wire(wire2)).to_wire()
    assert isinstance(m.response(reply, Secondary("0:0::1", 5302), now).reports[0], Answered)


def test_with_a_key_unsigned_or_badly_signed_answers_are_ignored(
        manual_clock: ManualClock) -> None:
    now = manual_clock.now()
    m = machine(KEY)
    wire = m.new_serial(soa(9), now).sends[0].wire
    plain = dns.message.make_response(dns.message.from_wire(wire, keyring=False))
    plain.tsig = None
    got = m.response(plain.to_wire(), S1, now)
    assert isinstance(got.reports[0], Ignored) and "unsigned" in got.reports[0].reason
    forged = notify_answer(read_notify(wire, {"notify-key.": OTHER}, now), refused=False,
                           now=now)
    got = m.response(forged, S1, now)
    assert isinstance(got.reports[0], Ignored)
    assert S1 in m.pending


def test_a_newer_serial_replaces_the_pending_one(manual_clock: ManualClock) -> None:
    now = manual_clock.now()
    m = machine()
    old = m.new_serial(soa(9), now).sends[0].wire
    new = m.new_serial(soa(10), now).sends[0].wire
    assert dns.message.from_wire(old).id != dns.message.from_wire(new).id
    late = dns.message.make_response(dns.message.from_wire(old)).to_wire()
    assert isinstance(m.response(late, S1, now).reports[0], Ignored)
    assert m.pending == {S1: 10, S2: 10}


def test_policy_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="retry policy"):
        NotifyPolicy(first_retry=0)


@given(st.binary(max_size=120))
def test_any_datagram_is_answered_or_ignored_never_raises(data: bytes) -> None:
    m = machine(KEY)
    m.new_serial(soa(9), FIXED_NOW)
    reports = m.response(data, S1, FIXED_NOW).reports
    assert len(reports) == 1 and isinstance(reports[0], Ignored | Answered)
