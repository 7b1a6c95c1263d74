"""Durations as operators write them: ``3600``, ``90m``, ``1h30m``, ``14d``, ``2w``, ``P14D``;
and instants as signwire prints them for operators (UTC, to the second)."""

from __future__ import annotations

import re
import time

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_COMPACT = re.compile(r"(\d+)([smhdwy])", re.IGNORECASE)
_ISO = re.compile(
    r"P(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?",
    re.IGNORECASE,
)


def parse_duration(text: str) -> int:
    """Seconds in ``text``; raises ValueError with the accepted forms on anything else."""
    s = text.strip()
    if s.isdigit():
        return int(s)
    if s[:1] in "pP":
        m = _ISO.fullmatch(s)
        if m and any(m.groupdict().values()):
            g = {k: int(v) if v else 0 for k, v in m.groupdict().items()}
            # A month is taken as 31 days, as BIND does for its ISO 8601 durations.
            return (
                g["y"] * 365 * 86400
                + g["mo"] * 31 * 86400
                + g["w"] * 7 * 86400
                + g["d"] * 86400
                + g["h"] * 3600
                + g["m"] * 60
                + g["s"]
            )
    elif s and _COMPACT.sub("", s) == "":
        return sum(int(n) * _UNITS[u.lower()] for n, u in _COMPACT.findall(s))
    raise ValueError(f"{text!r} is not a duration (examples: 3600, 90m, 1h30m, 14d, 2w, P14D)")


def format_duration(seconds: int) -> str:
    """The shortest compact form (``1209600`` → ``2w``), for messages and timelines."""
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            parts.append(f"{n}{unit}")
    return "".join(parts)


def format_instant(at: int) -> str:
    """``2027-01-10 00:00:00Z``: an epoch second in UTC, as key lists and timelines show it."""
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(at))
