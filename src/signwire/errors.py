"""The exception tree shared by every stage.

Every error the project raises on purpose derives from :class:`SignwireError`, so the command
line can turn it into one clear message and a documented exit code instead of a traceback.
Messages are lowercase and say *what* and *where* (file and line, zone, key).
"""

from __future__ import annotations


class SignwireError(Exception):
    """Root of all errors signwire raises deliberately."""


class ZoneDataError(SignwireError):
    """The zone's content (or its file) is not a valid zone to sign.

    ``path`` and ``line`` locate the offending record when known, so the message reads like a
    compiler's: ``example.com.zone:12: CNAME beside other data at www.example.com.``
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        self.path = path
        self.line = line
        self.reason = message
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line else f"{path}: "
        elif line:
            where = f"line {line}: "
        super().__init__(where + message)


class KeyStoreError(SignwireError):
    """A key could not be read, created, imported or used."""


class SigningError(SignwireError):
    """Signing could not be completed (the zone was valid, something else went wrong)."""


class UsageError(SignwireError):
    """The operator asked for something contradictory (options that do not go together)."""
