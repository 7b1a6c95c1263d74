"""The local control socket: one JSON object per line each way, over a Unix socket.

The daemon listens (:class:`signwire.runtime.control_server.ControlServer`, which answers
each line with :func:`answer_line`); ``signwire status`` and ``signwire zone ...`` connect
(:func:`request`). Who may use it is decided by file permissions: the socket is made
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

import json
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

log = logging.getLogger("signwire")

MAX_LINE = 1 << 20


class ControlError(Exception):
    """No daemon answered on the control socket (or it answered nonsense)."""


def answer_line(line: bytes, handler: Callable[[dict[str, Any]], dict[str, Any]]) -> bytes:
    """The answer line to one request line (the server side, without the socket): a request
    that is not one JSON object is a bad request; a handler that fails is reported, and logged
    with its traceback (a bug of ours, not of the request)."""
    try:
        try:
            request = json.loads(line)
        except RecursionError:
            # JSON nested deeper than the interpreter's recursion limit ("[[[..."): json
            # gives up with RecursionError; it is a bad request like others.
            raise ValueError("nested too deeply") from None
        if not isinstance(request, dict):
            raise ValueError("not an object")
        answer = handler(request)
    except ValueError as e:
        answer = {"ok": False, "error": f"bad request: {e}"}
    except Exception as e:
        log.exception("control request failed")
        answer = {"ok": False, "error": f"failed: {e}"}
    return json.dumps(answer).encode() + b"\n"


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
