"""``[server] metrics``: the Prometheus text exposition at ``http://ADDRESS:PORT/metrics``.

A minimal HTTP/1.0 server on the daemon's own event loop (no thread): each scrape renders
the registry on the loop's thread, so the collector reads the zones while nothing changes
them. One request per connection; anything but ``GET``/``HEAD`` of ``/metrics`` (or ``/``)
gets a 404 or 405. The metric names are in :mod:`signwire.control.metrics`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from signwire.config.model import Endpoint

log = logging.getLogger("signwire")

_READ_TIMEOUT = 10.0
_MAX_HEADERS = 100


class MetricsServer:
    def __init__(self, endpoint: Endpoint, registry: CollectorRegistry) -> None:
        self.endpoint = endpoint
        self.registry = registry
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._client, self.endpoint.address, self.endpoint.port, limit=8192
        )

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), _READ_TIMEOUT)
            for _ in range(_MAX_HEADERS):
                line = await asyncio.wait_for(reader.readline(), _READ_TIMEOUT)
                if line in (b"\r\n", b"\n", b""):
                    break
            parts = request.split()
            method = parts[0] if parts else b""
            path = parts[1].split(b"?")[0] if len(parts) > 1 else b""
            if method not in (b"GET", b"HEAD"):
                status, kind, body = "405 Method Not Allowed", "text/plain", b"GET only\n"
            elif path not in (b"/metrics", b"/"):
                status, kind, body = "404 Not Found", "text/plain", b"see /metrics\n"
            else:
                status, kind, body = "200 OK", CONTENT_TYPE_LATEST, generate_latest(self.registry)
            head = (
                f"HTTP/1.0 {status}\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode()
            writer.write(head if method == b"HEAD" else head + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        except Exception:  # a bug in a collector must not stop the daemon
            log.exception("metrics request failed")
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
