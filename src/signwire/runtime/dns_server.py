"""The authoritative server's sockets: UDP and TCP on each configured address.

Every message goes to one handler (``wire, peer address, tcp -> answers``); the handler is the
daemon's, which answers NOTIFY itself and everything else with the pure responder. Whatever a
handler raises is logged and the message dropped: a malformed packet never stops the server.
TCP connections carry any number of length-prefixed messages (RFC 7766) and are closed after
``idle`` seconds without one. Transfers are answered from a worker thread (the responder is
pure and the versions it reads never change), so a big AXFR does not hold other queries up.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Callable

from signwire.config.model import Endpoint

log = logging.getLogger("signwire")

Handler = Callable[[bytes, str, bool], list[bytes]]

TCP_IDLE = 30.0


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
    def __init__(self, listen: tuple[Endpoint, ...], handler: Handler) -> None:
        self.listen = listen
        self.handler = handler
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
                try:
                    if is_transfer(wire):
                        # A big zone's AXFR takes a while to build; queries go on meanwhile.
                        answers = await asyncio.to_thread(self.handler, wire, peer, True)
                    else:
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
