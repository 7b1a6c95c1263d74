"""NOTIFY out over UDP: one socket for every zone, moving the datagrams that
:class:`~signwire.publication.notify_out.NotifyOut` asks for and handing back the answers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from signwire.publication.notify_out import Secondary

log = logging.getLogger("signwire")


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, on_answer: Callable[[bytes, Secondary], None]) -> None:
        self.on_answer = on_answer

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        host, port = str(addr[0]), int(addr[1])
        try:
            self.on_answer(data, Secondary(host, port))
        except Exception:  # a bad datagram must not stop NOTIFY for every zone
            log.exception("NOTIFY answer from %s:%s could not be handled", host, port)

    def error_received(self, exc: Exception) -> None:
        log.warning("NOTIFY socket: %s", exc)


class NotifySender:
    """Sends from one local address (v4 and v6 each get a socket when needed)."""

    def __init__(self, on_answer: Callable[[bytes, Secondary], None], source4: str = "0.0.0.0",
                 source6: str = "::") -> None:
        self._on_answer = on_answer
        self._sources = {4: source4, 6: source6}
        self._transports: dict[int, asyncio.DatagramTransport] = {}

    async def _transport(self, family: int) -> asyncio.DatagramTransport:
        transport = self._transports.get(family)
        if transport is None:
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Protocol(self._on_answer), local_addr=(self._sources[family], 0))
            self._transports[family] = transport
        return transport

    async def send(self, secondary: Secondary, wire: bytes) -> None:
        family = 6 if ":" in secondary.address else 4
        try:
            transport = await self._transport(family)
            transport.sendto(wire, (secondary.address, secondary.port))
        except OSError as e:
            log.warning("NOTIFY to %s not sent: %s", secondary, e.strerror or e)

    def close(self) -> None:
        for t in self._transports.values():
            t.close()
        self._transports.clear()
