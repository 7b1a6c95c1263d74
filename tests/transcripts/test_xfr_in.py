"""Zone transfers in, as transcripts: the primary's messages (built with dnspython, as a real
server sends them) go into signwire's transfer client, and what comes out is checked against
the records dnspython put in. No socket: the client is fed bytes.
"""

from __future__ import annotations

import time

import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signwire.loading.xfr_in import (
    AXFR,
    IXFR,
    Diffs,
    FullZone,
    TcpFramer,
    TransferError,
    UpToDate,
    XfrClient,
    make_query,
)
from signwire.zones.diff import apply
from signwire.zones.version import ZoneVersion
from transcripts.primary import (
    ORIGIN,
    answer,
    axfr_stream,
    expected,
    ixfr_stream,
    parsed,
    soa_of,
    zone,
)

KEYNAME = dns.name.from_text("xfr-key.")
KEY = dns.tsig.Key(KEYNAME, b"0123456789abcdef0123456789abcdef", "hmac-sha256")
OTHER = dns.tsig.Key(KEYNAME, b"another secret of thirty-two b..", "hmac-sha256")
KEYRING = {KEYNAME: KEY}
ORIGIN_WIRE = ORIGIN.to_wire()
PEER = "127.0.0.11"


def _lower(record):
    owner, rtype, ttl, rdata, line = record
    return owner.lower(), rtype, ttl, rdata.lower() if rtype in (2, 6, 15, 5) else rdata, line


def now() -> int:
    # dnspython signs the primary's messages with the real clock, so the check uses it too.
    return int(time.time())


def run(
    messages: list[bytes], query, key=None
) -> FullZone | Diffs | UpToDate:
    client = XfrClient(ORIGIN_WIRE, query, peer=PEER, key=key)
    result = None
    for wire in messages:
        result = client.feed(wire, now())
    assert result is not None
    assert client.end_of_stream() is result
    return result


def axfr_query(key=KEY):
    return make_query(ORIGIN_WIRE, serial=None, msg_id=4711, now=now(), key=key)


def ixfr_query(serial: int, key=KEY):
    return make_query(ORIGIN_WIRE, serial=serial, msg_id=815, now=now(), key=key)


# --- queries -------------------------------------------------------------------------------


def test_axfr_query_is_signed_and_verifies_at_the_primary():
    q = axfr_query()
    msg = dns.message.from_wire(q.wire, keyring=KEYRING)  # raises when the MAC is wrong
    assert msg.had_tsig and q.request_mac == msg.mac
    assert msg.question[0].name == ORIGIN and msg.question[0].rdtype == dns.rdatatype.AXFR
    assert msg.id == 4711 and not msg.authority and q.rdtype == AXFR


def test_ixfr_query_carries_our_serial_in_the_authority_section():
    q = ixfr_query(2026120101, key=None)
    msg = dns.message.from_wire(q.wire)
    assert msg.question[0].rdtype == dns.rdatatype.IXFR and q.rdtype == IXFR
    assert msg.authority[0].name == ORIGIN and msg.authority[0][0].serial == 2026120101
    assert not msg.had_tsig and q.request_mac == b""


def test_query_signed_with_another_secret_is_refused_by_the_primary():
    q = make_query(ORIGIN_WIRE, serial=None, msg_id=1, now=now(), key=OTHER)
    with pytest.raises(dns.tsig.BadSignature):
        dns.message.from_wire(q.wire, keyring=KEYRING)


# --- AXFR ----------------------------------------------------------------------------------


@pytest.mark.parametrize("per_message", [1, 3, 100])
def test_axfr_over_several_messages_gives_every_record_uncompressed(per_message):
    z = zone(2026120101)
    stream = axfr_stream(z)
    q = axfr_query()
    messages = answer(q.wire, stream, per_message=per_message, keyring=KEYRING)
    assert len(messages) == -(-len(stream) // per_message)
    result = run(messages, q, KEY)
    assert isinstance(result, FullZone)
    assert result.serial == 2026120101
    assert result.records == parsed(messages)[:-1]  # the closing SOA is not repeated
    # The same records as put in, up to the case a compressed name inherits.
    assert [_lower(r) for r in result.records] == [_lower(r) for r in expected(stream[:-1])]
    assert (b"\x05Upper\x04Case" + ORIGIN_WIRE) in {r[0] for r in result.records}


def test_axfr_without_tsig():
    stream = axfr_stream(zone(7))
    q = axfr_query(key=None)
    messages = answer(q.wire, stream)
    result = run(messages, q)
    assert isinstance(result, FullZone) and result.records == parsed(messages)[:-1]


def test_records_of_one_owner_share_one_bytes_object():
    q = axfr_query(key=None)
    result = run(answer(q.wire, axfr_stream(zone(7)), per_message=100), q)
    assert isinstance(result, FullZone)
    apex = [r[0] for r in result.records if r[0] == ORIGIN_WIRE]
    assert len(apex) >= 5 and all(o is apex[0] for o in apex)


def test_unsigned_messages_in_the_middle_are_covered_by_the_next_signature():
    stream = axfr_stream(zone(9))
    q = axfr_query()
    messages = answer(
        q.wire, stream, per_message=2, keyring=KEYRING, unsigned=lambda i: i in (1, 2)
    )
    assert isinstance(run(messages, q, KEY), FullZone)


def test_altered_unsigned_message_is_caught_by_the_next_signed_one():
    stream = axfr_stream(zone(9))
    q = axfr_query()
    messages = answer(q.wire, stream, per_message=2, keyring=KEYRING, unsigned=lambda i: i == 1)
    tampered = bytearray(messages[1])
    tampered[2] ^= 0x04  # the AA flag: the message still parses, only the digest can tell
    messages[1] = bytes(tampered)
    with pytest.raises(TransferError, match="TSIG check failed on message 3"):
        run(messages, q, KEY)


def test_last_message_without_tsig_is_refused():
    stream = axfr_stream(zone(9))
    q = axfr_query()
    messages = answer(q.wire, stream, per_message=3, keyring=KEYRING)
    last = len(messages) - 1
    messages = answer(q.wire, stream, per_message=3, keyring=KEYRING, unsigned=lambda i: i == last)
    with pytest.raises(TransferError, match="last message is not signed"):
        run(messages, q, KEY)


def test_first_message_without_tsig_is_refused():
    stream = axfr_stream(zone(9))
    q = axfr_query()
    messages = answer(q.wire, stream, per_message=3, keyring=KEYRING, unsigned=lambda i: i == 0)
    with pytest.raises(TransferError, match="first message is not signed"):
        run(messages, q, KEY)


def test_tsig_with_the_wrong_secret_is_refused_naming_zone_peer_and_key():
    stream = axfr_stream(zone(9))
    q = axfr_query()
    messages = answer(q.wire, stream, keyring=KEYRING, sign_key=OTHER)
    with pytest.raises(TransferError) as e:
        run(messages, q, KEY)
    text = str(e.value)
    assert "example.com." in text and PEER in text and "xfr-key." in text
    assert "TSIG check failed on message 1" in text


def test_signed_answer_when_no_key_is_configured_is_refused():
    stream = axfr_stream(zone(9))
    q = axfr_query()
    messages = answer(q.wire, stream, keyring=KEYRING)
    unsigned_query = axfr_query(key=None)
    client = XfrClient(ORIGIN_WIRE, unsigned_query, peer=PEER)
    with pytest.raises(TransferError, match="no key is configured"):
        client.feed(messages[0], now())


def test_stale_tsig_time_is_refused():
    stream = axfr_stream(zone(9))
    q = axfr_query()
    messages = answer(q.wire, stream, keyring=KEYRING)
    client = XfrClient(ORIGIN_WIRE, q, peer=PEER, key=KEY)
    with pytest.raises(TransferError, match="more than the fudge"):
        client.feed(messages[0], now() + 3600)


def test_primary_refusing_our_key_says_so():
    q = axfr_query()
    msg = dns.message.from_wire(q.wire, keyring=KEYRING)
    r = dns.message.make_response(msg, tsig_error=dns.rcode.BADKEY)
    r.set_rcode(dns.rcode.NOTAUTH)
    client = XfrClient(ORIGIN_WIRE, q, peer=PEER, key=KEY)
    with pytest.raises(TransferError, match="BADKEY"):
        client.feed(r.to_wire(), now())


def test_refused_transfer_names_the_rcode():
    q = axfr_query(key=None)
    messages = answer(q.wire, [], rcode=dns.rcode.REFUSED)
    client = XfrClient(ORIGIN_WIRE, q, peer=PEER)
    with pytest.raises(TransferError, match="REFUSED"):
        client.feed(messages[0], now())


def test_truncated_stream_is_refused():
    stream = axfr_stream(zone(9))
    q = axfr_query()
    messages = answer(q.wire, stream, per_message=3, keyring=KEYRING)
    client = XfrClient(ORIGIN_WIRE, q, peer=PEER, key=KEY)
    for wire in messages[:-1]:
        assert client.feed(wire, now()) is None
    with pytest.raises(TransferError, match=r"ended before the closing SOA \(after \d+ messages"):
        client.end_of_stream()


def test_message_cut_short_is_refused():
    q = axfr_query(key=None)
    messages = answer(q.wire, axfr_stream(zone(9)), per_message=100)
    client = XfrClient(ORIGIN_WIRE, q, peer=PEER)
    with pytest.raises(TransferError, match="malformed message 1"):
        client.feed(messages[0][:-7], now())


def test_record_outside_the_zone_is_refused_naming_it():
    z = zone(9)
    extra = dns.rrset.from_text("www.example.net.", 300, "IN", "A", "192.0.2.9")
    stream = axfr_stream(z)
    stream.insert(3, extra)
    q = axfr_query()
    with pytest.raises(TransferError, match=r"outside the zone: www\.example\.net\. type A"):
        run(answer(q.wire, stream, keyring=KEYRING), q, KEY)


def test_name_that_merely_ends_in_the_origins_bytes_is_outside():
    # One label "ab\x07example" followed by "com.": its wire form ends in the origin's bytes.
    tricky = dns.name.Name([b"ab\x07example", b"com", b""])
    assert tricky.to_wire().endswith(ORIGIN_WIRE) and not tricky.is_subdomain(ORIGIN)
    stream = axfr_stream(zone(9))
    stream.insert(2, dns.rrset.from_text(tricky, 300, "IN", "A", "192.0.2.9"))
    q = axfr_query(key=None)
    with pytest.raises(TransferError, match="outside the zone"):
        run(answer(q.wire, stream), q)


def test_axfr_closing_with_another_serial_is_a_soa_mismatch():
    stream = axfr_stream(zone(9))
    stream[-1] = soa_of(zone(10))
    q = axfr_query()
    with pytest.raises(TransferError, match=r"SOA mismatch: .* serial 9 and closes with 10"):
        run(answer(q.wire, stream, keyring=KEYRING), q, KEY)


def test_answer_not_starting_with_the_soa_is_refused():
    stream = axfr_stream(zone(9))[1:]
    q = axfr_query(key=None)
    with pytest.raises(TransferError, match="does not start with the zone's SOA"):
        run(answer(q.wire, stream), q)


def test_records_after_the_closing_soa_are_refused():
    stream = axfr_stream(zone(9))
    stream.append(stream[1])
    q = axfr_query(key=None)
    with pytest.raises(TransferError, match="after the closing SOA"):
        run(answer(q.wire, stream, per_message=100), q)


def test_message_after_completion_is_refused():
    q = axfr_query(key=None)
    messages = answer(q.wire, axfr_stream(zone(9)), per_message=100)
    client = XfrClient(ORIGIN_WIRE, q, peer=PEER)
    assert client.feed(messages[0], now()) is not None
    with pytest.raises(TransferError, match="after the transfer was complete"):
        client.feed(messages[0], now())


def test_answer_with_another_message_id_is_refused():
    q = axfr_query(key=None)
    other = make_query(ORIGIN_WIRE, serial=None, msg_id=4712, now=now())
    messages = answer(other.wire, axfr_stream(zone(9)))
    with pytest.raises(TransferError, match="message ID 4712"):
        XfrClient(ORIGIN_WIRE, q, peer=PEER).feed(messages[0], now())


# --- IXFR ----------------------------------------------------------------------------------

V1 = ""
V2 = "new IN A 192.0.2.100\n"
V3 = "new IN A 192.0.2.101\nnew2 IN TXT \"x\"\n"


def test_ixfr_incremental_two_steps():
    z1, z2, z3 = zone(2026120101, V1), zone(2026120102, V2), zone(2026120103, V3)
    stream = ixfr_stream([(z1, z2), (z2, z3)])
    q = ixfr_query(2026120101)
    result = run(answer(q.wire, stream, per_message=2, keyring=KEYRING), q, KEY)
    assert isinstance(result, Diffs)
    assert (result.from_serial, result.to_serial) == (2026120101, 2026120103)
    assert [(s.from_serial, s.to_serial) for s in result.steps] == [
        (2026120101, 2026120102), (2026120102, 2026120103)
    ]
    first, second = result.steps
    soa1, soa2, soa3 = (expected([soa_of(z)])[0] for z in (z1, z2, z3))
    a100 = expected([dns.rrset.from_text("new.example.com.", 3600, "IN", "A", "192.0.2.100")])[0]
    a101 = expected([dns.rrset.from_text("new.example.com.", 3600, "IN", "A", "192.0.2.101")])[0]
    txt = expected([dns.rrset.from_text("new2.example.com.", 3600, "IN", "TXT", '"x"')])[0]
    assert first.deleted == [soa1] and first.added == [soa2, a100]
    assert second.deleted == [soa2, a100] and sorted(second.added) == sorted([soa3, a101, txt])


def test_ixfr_steps_applied_to_the_old_version_give_the_new_one():
    z1, z2, z3 = zone(2026120101, V1), zone(2026120102, V2), zone(2026120103, V3)
    q = axfr_query(key=None)
    first = run(answer(q.wire, axfr_stream(z1)), q)
    last = run(answer(q.wire, axfr_stream(z3)), q)
    assert isinstance(first, FullZone) and isinstance(last, FullZone)
    q = ixfr_query(2026120101, key=None)
    diffs = run(answer(q.wire, ixfr_stream([(z1, z2), (z2, z3)])), q)
    assert isinstance(diffs, Diffs)
    version = ZoneVersion.from_records(ORIGIN_WIRE, first.records)
    for s in diffs.steps:
        version = apply(version, s.to_diff())
    assert version.serial == 2026120103
    assert version == ZoneVersion.from_records(ORIGIN_WIRE, last.records)


def test_ixfr_answered_with_the_whole_zone():
    # PowerDNS answers IXFR over TCP in AXFR form (it keeps no journal).
    z = zone(2026120105, V3)
    stream = axfr_stream(z)
    q = ixfr_query(2026120101)
    messages = answer(q.wire, stream, per_message=5, keyring=KEYRING)
    result = run(messages, q, KEY)
    assert isinstance(result, FullZone) and result.serial == 2026120105
    assert result.records == parsed(messages)[:-1]


def test_ixfr_up_to_date_is_one_soa():
    z = zone(2026120101)
    q = ixfr_query(2026120101)
    result = run(answer(q.wire, [soa_of(z)], keyring=KEYRING), q, KEY)
    assert result == UpToDate(2026120101)


def test_ixfr_from_an_older_primary_is_refused():
    q = ixfr_query(2026120101, key=None)
    with pytest.raises(TransferError, match="older than ours"):
        run(answer(q.wire, [soa_of(zone(2026110101))]), q)


def test_ixfr_that_does_not_chain_is_refused():
    z1, z2, z3, z4 = (zone(s, v) for s, v in ((1, V1), (2, V2), (3, V3), (4, V2)))
    stream = ixfr_stream([(z1, z2), (z3, z4)])  # 1 -> 2, then 3 -> 4: the step 2 -> 3 is missing
    q = ixfr_query(1)
    chain = "does not chain: a step ended at 2, the next starts at 3"
    with pytest.raises(TransferError, match=chain):
        run(answer(q.wire, stream, keyring=KEYRING), q, KEY)


def test_ixfr_not_starting_at_our_serial_is_refused():
    z2, z3 = zone(2, V2), zone(3, V3)
    q = ixfr_query(1)
    with pytest.raises(TransferError, match="does not start at our serial 1 but at 2"):
        run(answer(q.wire, ixfr_stream([(z2, z3)]), keyring=KEYRING), q, KEY)


def test_ixfr_closing_early_is_refused():
    z1, z2, z3 = zone(1, V1), zone(2, V2), zone(3, V3)
    stream = ixfr_stream([(z1, z2), (z2, z3)])
    # Drop the last step's additions and the closing SOA: the stream stops in the middle.
    cut = len(stream) - 3
    q = ixfr_query(1)
    client = XfrClient(ORIGIN_WIRE, q, peer=PEER, key=KEY)
    for wire in answer(q.wire, stream[:cut], keyring=KEYRING):
        assert client.feed(wire, now()) is None
    with pytest.raises(TransferError, match="ended before the closing SOA"):
        client.end_of_stream()


def test_ixfr_step_going_backwards_is_refused():
    z1, z0 = zone(5, V1), zone(4, V2)
    stream = [soa_of(zone(6)), soa_of(z1), soa_of(z0), soa_of(zone(6))]
    q = ixfr_query(5, key=None)
    with pytest.raises(TransferError, match="not newer"):
        run(answer(q.wire, stream), q)


# --- framing -------------------------------------------------------------------------------


def test_tcp_framer_reassembles_messages_split_anywhere():
    q = axfr_query(key=None)
    messages = answer(q.wire, axfr_stream(zone(9)), per_message=3)
    stream = b"".join(len(m).to_bytes(2, "big") + m for m in messages)
    framer = TcpFramer()
    got = []
    for i in range(0, len(stream), 7):
        got.extend(framer.feed(stream[i : i + 7]))
    assert got == messages and framer.pending == 0
    framer.feed(stream[:5])
    assert framer.pending == 5


# --- damaged messages ----------------------------------------------------------------------

_FUZZ_QUERY = make_query(ORIGIN_WIRE, serial=1, msg_id=99, now=0)
_FUZZ_STREAMS = [
    answer(_FUZZ_QUERY.wire, axfr_stream(zone(2026010101)), per_message=6),
    answer(_FUZZ_QUERY.wire, ixfr_stream([(zone(1, V1), zone(2, V2)), (zone(2, V2), zone(3, V3))]),
           per_message=3),
]


@settings(max_examples=400, deadline=None)
@given(
    which=st.integers(0, len(_FUZZ_STREAMS) - 1),
    index=st.integers(0, 5),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
    cut=st.one_of(st.none(), st.integers(0, 10_000)),
)
def test_damaged_messages_raise_transfer_error_or_nothing(which, index, edits, cut):
    """Whatever the bytes, the client answers or raises its own error, never anything else."""
    messages = _FUZZ_STREAMS[which]
    index %= len(messages)
    client = XfrClient(ORIGIN_WIRE, _FUZZ_QUERY, peer=PEER)
    for wire in messages[:index]:
        client.feed(wire, 0)
    damaged = bytearray(messages[index])
    for at, value in edits:
        damaged[at % len(damaged)] = value
    if cut is not None:
        damaged = damaged[: cut % (len(damaged) + 1)]
    try:
        client.feed(bytes(damaged), 0)
        for wire in messages[index + 1 :]:
            client.feed(wire, 0)
        client.end_of_stream()
    except TransferError:
        pass
