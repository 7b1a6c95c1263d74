"""Transfers over TCP are written as they are made (the DNS server, in-process).

A 1M-name zone's AXFR is thousands of messages: built whole before the first byte was written,
it took longer than BIND's 30 s wait for a first message, and the secondaries never loaded
the zone. Here the transfer handlers are instrumented generators that wait, after a message,
for the client to have done something: the checks are on the order of events, never on how
long anything took (the timeouts only keep a failure from hanging).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import pytest

from interop.live_dns import free_port
from signwire.config.model import Endpoint
from signwire.loading import xfr_in
from signwire.publication.responder import (
    Limits,
    ServedZone,
    TransferAborted,
    respond,
    respond_stream,
    zone_map,
)
from signwire.runtime.dns_server import DnsServer
from signwire.zones.version import ZoneVersion

ADDRESS = "127.0.0.1"


def wire_of(x: dns.name.Name | dns.rdata.Rdata) -> bytes:
    out = x.to_wire()
    assert out is not None
    return out


ORIGIN = dns.name.from_text("stream.test.")
ORIGIN_WIRE = wire_of(ORIGIN)
KEY_NAME = "xfr-key."
KEY = dns.tsig.Key(KEY_NAME, "c2lnbndpcmUgdGVzdCBrZXkgZm9yIHRyYW5zZmVycyE=")
KEYS = {KEY_NAME: KEY}
ACL = (ipaddress.ip_network("127.0.0.0/8"),)
NAMES = 60_000
WAIT = 30.0  # only so that a failure does not hang: every check is on the order of events

SOA_WIRE = wire_of(dns.rdata.from_text(
    "IN", "SOA", "ns1.stream.test. hostmaster.stream.test. 7 7200 3600 1209600 600"))


def records(names: int, *, big_at: int | None = None) -> list[tuple[bytes, int, int, bytes]]:
    def wire(rdtype: str, text: str) -> bytes:
        return wire_of(dns.rdata.from_text("IN", rdtype, text))

    out: list[tuple[bytes, int, int, bytes]] = [
        (ORIGIN_WIRE, dns.rdatatype.SOA, 3600, SOA_WIRE),
        (ORIGIN_WIRE, dns.rdatatype.NS, 3600, wire("NS", "ns1.stream.test.")),
    ]
    for i in range(names):
        owner = wire_of(dns.name.from_text(f"h{i:06d}", ORIGIN))
        out.append((owner, dns.rdatatype.A, 3600, struct.pack("!I", 0x0A000000 + i)))
        text = f'"name {i} of the streamed zone"'
        if i == big_at:
            text = " ".join(['"' + "x" * 250 + '"'] * 3)  # 750 octets: more than a message
        out.append((owner, dns.rdatatype.TXT, 3600, wire("TXT", text)))
    return out


@pytest.fixture(scope="module")
def big_zone() -> ZoneVersion:
    return ZoneVersion.from_records(ORIGIN_WIRE, records(NAMES))


def serve(zone: ZoneVersion) -> dict[bytes, ServedZone]:
    return zone_map([ServedZone(zone, transfer_acl=ACL, transfer_key=KEY_NAME)])


def axfr_query(now: int) -> xfr_in.Query:
    return xfr_in.make_query(ORIGIN_WIRE, serial=None, msg_id=4242, now=now, key=KEY)


def soa_answer(wire: bytes, peer: str, tcp: bool) -> list[bytes]:
    """The ordinary-query handler of the fake servers: a bare NOERROR answer."""
    q = dns.message.from_wire(wire)
    return [dns.message.make_response(q).to_wire()]


def run_server(transfers: Callable[[bytes, str, bool], Iterator[bytes]],
               client: Callable[[int], object]) -> None:
    """Start a DnsServer with ``transfers`` on a free port, run ``client(port)``, close."""

    async def main() -> None:
        port = free_port(ADDRESS)
        server = DnsServer((Endpoint(ADDRESS, port),), soa_answer, transfers)
        await server.start()
        try:
            await asyncio.wait_for(client(port), WAIT * 2)  # type: ignore[arg-type]
        finally:
            await server.close()

    asyncio.run(main())


async def read_message(reader: asyncio.StreamReader) -> bytes:
    (n,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), WAIT))
    return await asyncio.wait_for(reader.readexactly(n), WAIT)


def udp_query(port: int) -> dns.message.Message:
    q = dns.message.make_query(ORIGIN, "SOA")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(WAIT)
        s.sendto(q.to_wire(), (ADDRESS, port))
        data, _ = s.recvfrom(65535)
    return dns.message.from_wire(data)


# --- the responder ------------------------------------------------------------------------------


def test_respond_stream_gives_respond_s_messages_signed_in_one_chain(
        big_zone: ZoneVersion) -> None:
    now = int(time.time())
    zones = serve(big_zone)
    query = axfr_query(now)
    whole = respond(query.wire, ADDRESS, zones, KEYS, now, tcp=True)
    streamed = list(respond_stream(query.wire, ADDRESS, zones, KEYS, now, tcp=True))
    assert len(whole) > 20 and streamed == whole
    # Not a transfer, refused, or no answer at all: the same too.
    soa = dns.message.make_query(ORIGIN, "SOA").to_wire()
    for wire, tcp in ((soa, False), (query.wire, False), (b"\x00", True)):
        assert list(respond_stream(wire, ADDRESS, zones, KEYS, now, tcp=tcp)) == respond(
            wire, ADDRESS, zones, KEYS, now, tcp=tcp)


def test_a_record_too_big_after_the_first_message_aborts_the_stream() -> None:
    zone = ZoneVersion.from_records(ORIGIN_WIRE, records(200, big_at=150))
    now = int(time.time())
    zones = serve(zone)
    query = axfr_query(now)
    limits = Limits(tcp_message=700)
    (servfail,) = respond(query.wire, ADDRESS, zones, KEYS, now, tcp=True, limits=limits)
    assert dns.message.from_wire(servfail, keyring=False).rcode() == dns.rcode.SERVFAIL
    stream = respond_stream(query.wire, ADDRESS, zones, KEYS, now, tcp=True, limits=limits)
    assert next(stream) != servfail  # the transfer's first message went out...
    with pytest.raises(TransferAborted) as caught:
        list(stream)  # ...and then no message can carry the big record
    assert caught.value.answer == servfail


# --- the server ---------------------------------------------------------------------------------


def test_the_first_message_reaches_the_client_before_the_rest_is_made(
        big_zone: ZoneVersion) -> None:
    now = int(time.time())
    zones = serve(big_zone)
    query = axfr_query(now)
    first_read = threading.Event()
    made: list[int] = []
    waited: list[bool] = []

    def transfers(wire: bytes, peer: str, tcp: bool) -> Iterator[bytes]:
        for message in respond_stream(wire, peer, zones, KEYS, now, tcp=tcp):
            made.append(len(message))
            yield message
            if len(made) == 1:
                # Message 2 is not made before the client has read message 1.
                waited.append(first_read.wait(WAIT))

    received: list[bytes] = []

    async def client(port: int) -> None:
        reader, writer = await asyncio.open_connection(ADDRESS, port)
        writer.write(struct.pack("!H", len(query.wire)) + query.wire)
        received.append(await read_message(reader))
        assert len(made) == 1
        first_read.set()
        xfr = xfr_in.XfrClient(ORIGIN_WIRE, query, peer=ADDRESS, key=KEY)
        result = xfr.feed(received[0], now)
        while result is None:
            received.append(await read_message(reader))
            result = xfr.feed(received[-1], now)
        assert isinstance(result, xfr_in.FullZone)
        assert ZoneVersion.from_records(ORIGIN_WIRE, result.records) == big_zone
        writer.close()

    run_server(transfers, client)
    assert waited == [True], "the server made message 2 before the client had message 1"
    assert len(received) == len(made) > 20
    assert received == respond(query.wire, ADDRESS, zones, KEYS, now, tcp=True)


ENDLESS = 2500  # "endless": more than any socket buffers hold, and yet a bounded test


def endless(size: int, made: list[int], closed: threading.Event,
            gate: threading.Event | None = None) -> Iterator[bytes]:
    """A transfer of ``size``-octet messages (the server does not read them) that goes on
    until it is closed (or ENDLESS messages were made); ``closed`` is set when the generator
    is closed. With ``gate``: it waits after its first message until the gate opens."""
    try:
        while len(made) < ENDLESS:
            made.append(size)
            yield struct.pack("!H", 4242) + bytes(size - 2)
            if gate is not None and len(made) == 1:
                gate.wait(WAIT)
    finally:
        closed.set()


async def wait_for(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def test_a_client_that_goes_away_stops_the_transfer_quietly(
        caplog: pytest.LogCaptureFixture) -> None:
    made: list[int] = []
    closed = threading.Event()
    query = axfr_query(0)
    answered: list[int] = []

    async def client(port: int) -> None:
        reader, writer = await asyncio.open_connection(ADDRESS, port)
        writer.write(struct.pack("!H", len(query.wire)) + query.wire)
        await read_message(reader)
        # Reset, with unread messages waiting: the server's next writes fail.
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.close()
        assert await wait_for(closed.is_set), "the server still makes messages"
        # The server goes on serving.
        answered.append((await asyncio.to_thread(udp_query, port)).rcode())

    with caplog.at_level(logging.DEBUG):
        run_server(lambda wire, peer, tcp: endless(60_000, made, closed), client)
    assert answered == [dns.rcode.NOERROR]
    assert len(made) < 1000  # what the sockets held when the reset came, and a batch or two
    sends = [r for r in caplog.records if "socket.send() raised exception" in r.getMessage()]
    assert not sends, f"{len(sends)} writes to a closed connection"


def test_a_slow_client_holds_the_making_back() -> None:
    made: list[int] = []
    closed = threading.Event()
    query = axfr_query(0)
    counts: list[int] = []

    async def client(port: int) -> None:
        reader, writer = await asyncio.open_connection(ADDRESS, port)
        writer.write(struct.pack("!H", len(query.wire)) + query.wire)
        await read_message(reader)
        # Read nothing more: the server fills the sockets' buffers, then waits.
        last = -1
        while len(made) != last:
            last = len(made)
            await asyncio.sleep(0.5)
            assert len(made) < 2000, "the server buffers whatever is made"
        counts.append(last)
        writer.close()
        assert await wait_for(closed.is_set)

    run_server(lambda wire, peer, tcp: endless(60_000, made, closed), client)
    assert counts and counts[0] < 2000


def test_queries_are_answered_while_a_transfer_is_under_way() -> None:
    made: list[int] = []
    closed = threading.Event()
    answered = threading.Event()
    query = axfr_query(0)
    rcodes: list[int] = []

    async def client(port: int) -> None:
        reader, writer = await asyncio.open_connection(ADDRESS, port)
        writer.write(struct.pack("!H", len(query.wire)) + query.wire)
        await read_message(reader)
        # The transfer is under way (and waits for this): UDP, and TCP on a second connection.
        rcodes.append((await asyncio.to_thread(udp_query, port)).rcode())
        reader2, writer2 = await asyncio.open_connection(ADDRESS, port)
        soa = dns.message.make_query(ORIGIN, "SOA").to_wire()
        writer2.write(struct.pack("!H", len(soa)) + soa)
        rcodes.append(dns.message.from_wire(await read_message(reader2)).rcode())
        writer2.close()
        assert len(made) == 1 and not closed.is_set()
        answered.set()
        for _ in range(50):
            await read_message(reader)
        writer.close()
        assert await wait_for(closed.is_set)

    run_server(lambda wire, peer, tcp: endless(30_000, made, closed, answered), client)
    assert rcodes == [dns.rcode.NOERROR, dns.rcode.NOERROR]
