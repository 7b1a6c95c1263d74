"""The daemon's log on stderr: text (the default) or one JSON object per line.

``signwire serve --log-format json`` (or ``[server] log-format = "json"``) writes objects
such as::

    {"time": "2026-12-02T09:43:18.123Z", "level": "info", "zone": "example.com.",
     "message": "example.com.: signed serial 7 (full, 12 signatures made) in 0.010 s"}

``zone`` is there when the line is about one zone: given by the caller
(``extra={"zone": ...}``) or read from the message, which names the zone first by the
daemon's custom (``"example.com.: ..."``). Structured values a caller passes as
``extra={"fields": {...}}`` are added as keys of their own; a traceback goes in
``exception``.

Whatever the format, the base64 and hex forms of every configured TSIG secret are replaced by
``<secret>`` in each line before it is written: secrets are kept out of messages in the first
place, and this is the net under that.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import Any

_ZONE_FIRST = re.compile(r"((?:[A-Za-z0-9_*-]+\.)+)(?::| )")
_RESERVED = ("time", "level", "zone", "message", "exception")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(message)s"


def _secret_forms(secrets: Iterable[bytes]) -> list[str]:
    forms: set[str] = set()
    for secret in secrets:
        if len(secret) >= 8:
            forms.update((base64.b64encode(secret).decode(), secret.hex(), secret.hex().upper()))
    return sorted(forms, key=len, reverse=True)


class _Redacting(logging.Formatter):
    def __init__(self, secrets: Iterable[bytes], fmt: str | None = None) -> None:
        super().__init__(fmt)
        self.secrets = _secret_forms(secrets)

    def redact(self, text: str) -> str:
        for form in self.secrets:
            if form in text:
                text = text.replace(form, "<secret>")
        return text


class TextFormatter(_Redacting):
    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JsonFormatter(_Redacting):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
        }
        zone = getattr(record, "zone", None)
        if not isinstance(zone, str):
            found = _ZONE_FIRST.match(message)
            zone = found.group(1).lower() if found else None
        if zone:
            out["zone"] = zone
        out["message"] = message
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                out[key if key not in _RESERVED else f"field_{key}"] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return self.redact(json.dumps(out, default=str, ensure_ascii=False))


def setup(log_format: str, secrets: Iterable[bytes] = (), level: int = logging.INFO) -> None:
    """Send the log to stderr in ``log_format`` ("text" or "json"), replacing any handler."""
    handler = logging.StreamHandler(sys.stderr)
    formatter: logging.Formatter = (
        JsonFormatter(secrets) if log_format == "json" else TextFormatter(secrets, TEXT_FORMAT)
    )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
