"""The authoritative server's sockets: UDP and TCP on each configured address.

Every message goes to one handler (``wire, peer address, tcp -> answers``); the handler is the
daemon's, which answers NOTIFY itself and everything else with the pure responder. Whatever a
handler raises is logged and the message dropped: a malformed packet never stops the server.
TCP connections carry any number of length-prefixed messages (RFC 7766) and are closed after
``idle`` seconds without one.

Transfers (AXFR/IXFR over TCP) go to the transfer handler, which gives the messages one at a
time (``wire, peer, tcp -> iterator of answers``). They are made in a worker thread (the
responder is pure and the versions it reads never change), a few at a time, so a big AXFR does
not hold other queries up; each batch is written as soon as it is made, and the next batch is
made while the connection drains the last one: the first message of a 1M-name zone leaves in
milliseconds, not after the whole transfer is built (a secondary gives up on a transfer whose
first message takes longer than its timeout: 30 s for BIND), and at most about two batches
wait in memory for a slow client. When the client goes away the iterator is closed and no
more messages are made.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from itertools import islice

from signwire.config.model import Endpoint

log = logging.getLogger("signwire")

Handler = Callable[[bytes, str, bool], list[bytes]]
TransferHandler = Callable[[bytes, str, bool], Iterator[bytes]]

TCP_IDLE = 30.0
# Messages of a transfer made per trip to the worker thread: the first alone (out at once),
# then a few (up to ~500 KB at 64 KiB each), so that thread hand-offs cost nothing that
# matters and the memory held for a slow client stays small.
FIRST_BATCH = 1
BATCH = 8


def is_transfer(wire: bytes) -> bool:
    """An AXFR or IXFR query (standard opcode, QR clear)."""
    if len(wire) < 12 or wire[2] & 0xF8:
        return False
    pos = 12
    while pos < len(wire) and wire[pos]:
        if wire[pos] & 0xC0:
            return False
        pos += wire[pos] + 1
    qtype = int.from_bytes(wire[pos + 1:pos + 3], "big")
    return qtype in (251, 252)


class _Producer:
    """A transfer's iterator, advanced in a worker thread a batch at a time and closed from
    the event loop. Closing while a batch is being made leaves the close to that batch's
    end (a generator cannot be closed while it runs in another thread)."""

    def __init__(self, messages: Iterator[bytes]) -> None:
        self._messages = messages
        self._lock = threading.Lock()
        self._busy = False
        self._closed = False

    def batch(self, n: int) -> list[bytes]:
        """The next ``n`` messages (fewer at the end; none once closed)."""
        with self._lock:
            if self._closed:
                return []
            self._busy = True
        try:
            return list(islice(self._messages, n))
        finally:
            with self._lock:
                self._busy = False
                closed = self._closed
            if closed:
                self._close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._busy:
                return
        self._close()

    def _close(self) -> None:
        close = getattr(self._messages, "close", None)
        if close is not None:
            close()


def _lists_as_transfers(handler: Handler) -> TransferHandler:
    def transfer(wire: bytes, peer: str, tcp: bool) -> Iterator[bytes]:
        yield from handler(wire, peer, tcp)
    return transfer


class _UdpServer(asyncio.DatagramProtocol):
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        peer = str(addr[0])
        try:
            answers = self.handler(data, peer, False)
        except Exception:
            log.exception("query from %s dropped: the handler failed", peer)
            return
        assert self.transport is not None
        for answer in answers[:1]:  # one datagram answers one datagram
            self.transport.sendto(answer, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP socket: %s", exc)


class DnsServer:
    def __init__(self, listen: tuple[Endpoint, ...], handler: Handler,
                 transfers: TransferHandler | None = None) -> None:
        """``transfers`` answers AXFR/IXFR over TCP; without it, ``handler`` does (its whole
        list made before the first message is written)."""
        self.listen = listen
        self.handler = handler
        self.transfers = transfers or _lists_as_transfers(handler)
        self._udp: list[asyncio.DatagramTransport] = []
        self._tcp: list[asyncio.Server] = []
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for ep in self.listen:
            family = socket.AF_INET6 if ":" in ep.address else socket.AF_INET
            try:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _UdpServer(self.handler), local_addr=(ep.address, ep.port),
                    family=family)
                self._udp.append(transport)
                server = await asyncio.start_server(
                    self._connection, host=ep.address, port=ep.port, family=family,
                    reuse_address=True)
            except OSError as e:
                raise OSError(e.errno, f"cannot listen on {ep}: {e.strerror}") from None
            self._tcp.append(server)

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        peername = writer.get_extra_info("peername")
        peer = str(peername[0]) if peername else "?"
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readexactly(2), TCP_IDLE)
                    (n,) = struct.unpack("!H", head)
                    wire = await asyncio.wait_for(reader.readexactly(n), TCP_IDLE)
                except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                    return
                if is_transfer(wire):
                    if not await self._transfer(wire, peer, writer):
                        return
                    continue
                try:
                    answers = self.handler(wire, peer, True)
                except Exception:
                    log.exception("TCP query from %s dropped: the handler failed", peer)
                    return
                for answer in answers:
                    writer.write(struct.pack("!H", len(answer)) + answer)
                await writer.drain()
        except (ConnectionError, OSError):
            return
        finally:
            writer.close()
            if task is not None:
                self._connections.discard(task)

    async def _transfer(self, wire: bytes, peer: str, writer: asyncio.StreamWriter) -> bool:
        """Write a transfer's messages as they are made; False when the connection is to be
        closed (the client went away, or the handler failed)."""
        loop = asyncio.get_running_loop()
        producer = _Producer(self.transfers(wire, peer, True))
        pending: asyncio.Future[list[bytes]] | None = loop.run_in_executor(
            None, producer.batch, FIRST_BATCH)
        try:
            while pending is not None:
                try:
                    messages = await pending
                except Exception:
                    pending = None
                    log.exception("TCP transfer to %s stopped: the handler failed", peer)
                    return False
                # The next batch is made while this one is written and drained.
                pending = loop.run_in_executor(None, producer.batch, BATCH) if (
                    messages) else None
                for message in messages:
                    if writer.is_closing():
                        return False  # the client went away: stop, and write no more
                    writer.write(struct.pack("!H", len(message)) + message)
                await writer.drain()  # flow control: a slow client slows the making
                await asyncio.sleep(0)  # the loop serves others between batches
            return not writer.is_closing()
        finally:
            producer.close()
            if pending is not None:
                # A batch may still be under way in its thread; its result is not wanted.
                pending.add_done_callback(_ignore_result)

    async def close(self) -> None:
        for t in self._udp:
            t.close()
        for s in self._tcp:
            s.close()
        for task in list(self._connections):
            task.cancel()
        for s in self._tcp:
            await s.wait_closed()
        self._udp.clear()
        self._tcp.clear()


def _ignore_result(future: asyncio.Future[list[bytes]]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved, so that asyncio does not log it as never seen
