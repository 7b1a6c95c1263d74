"""The local control socket: one JSON object per line each way, over a Unix socket.

The daemon listens (:class:`ControlServer`); ``signwire status`` and ``signwire zone ...``
connect (:func:`request`). Who may use it is decided by file permissions: the socket is made
with mode 0600 (owner only) in a folder of the daemon's. Requests: ``{"command": "status"}``,
``{"command": "zone-list"}``, ``{"command": "zone-reload", "zone": "example.com."}``,
``zone-retransfer``, ``zone-notify``, ``zone-resign``, and the operator's reports for the
enforcer while the daemon holds the state: ``{"command": "key-report", "zone": ...,
"kind": "ds-seen"|"ds-gone"|"compromised", "tag": 12345}`` or ``"kind": "roll", "role":
"ksk"``; zones at run time: ``{"command": "zone-add", "table": {...}}`` (the zone's
``[[zone]]`` table, absolute paths) and ``{"command": "zone-remove", "zone": ...,
"forget_keys": false}`` (:mod:`signwire.control.zones`). Answers carry ``"ok": true`` or
``"ok": false`` with an ``"error"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("signwire")

MAX_LINE = 1 << 20


class ControlError(Exception):
    """No daemon answered on the control socket (or it answered nonsense)."""


class ControlServer:
    def __init__(self, path: Path, handler: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.path = path
        self.handler = handler
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            # A socket left by a daemon that was killed: the state lock (held by now) proves
            # that no other daemon uses it.
            if self.path.is_socket():
                self.path.unlink()
        old = os.umask(0o177)  # the socket is born 0600: no window where others may connect
        try:
            self._server = await asyncio.start_unix_server(
                self._client, path=str(self.path), limit=MAX_LINE)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                try:
                    try:
                        request = json.loads(line)
                    except RecursionError:
                        # JSON nested deeper than the interpreter's recursion limit ("[[[..."):
                        # json gives up with RecursionError; it is a bad request like others.
                        raise ValueError("nested too deeply") from None
                    if not isinstance(request, dict):
                        raise ValueError("not an object")
                    answer = self.handler(request)
                except ValueError as e:
                    answer = {"ok": False, "error": f"bad request: {e}"}
                except Exception as e:
                    log.exception("control request failed")
                    answer = {"ok": False, "error": f"failed: {e}"}
                writer.write(json.dumps(answer).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            return
        finally:
            writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(OSError):
            self.path.unlink()


def request(path: str | os.PathLike[str], message: dict[str, Any],
            timeout: float = 30.0) -> dict[str, Any]:
    """Send one request to the daemon and return its answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(os.fspath(path))
            s.sendall(json.dumps(message).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except FileNotFoundError:
        raise ControlError(f"{os.fspath(path)}: no daemon runs here (no control socket)") from None
    except OSError as e:
        raise ControlError(f"{os.fspath(path)}: {e.strerror or e}") from None
    try:
        answer = json.loads(data)
    except ValueError:
        raise ControlError(f"{os.fspath(path)}: the daemon's answer is not JSON") from None
    if not isinstance(answer, dict):
        raise ControlError(f"{os.fspath(path)}: the daemon's answer is not an object")
    return answer
