"""SOA serial numbers: RFC 1982 arithmetic and the rules for the outgoing serial.

Serials live on a circle of 2**32: "greater" means "less than half the circle ahead". The
outgoing serial must never go backwards in that sense, or secondaries stop transferring.
"""

from __future__ import annotations

import enum
import time

_HALF = 2**31
_MOD = 2**32


class SerialRule(enum.StrEnum):
    KEEP = "keep"  # publish the unsigned zone's serial unchanged
    INCREMENT = "increment"  # unsigned serial + 1
    UNIXTIME = "unixtime"  # seconds since the epoch, or +1 if that would not move forward
    DATECOUNTER = "datecounter"  # YYYYMMDDnn, or +1 when today's counter space is used up


def add(serial: int, n: int) -> int:
    """RFC 1982 §3.1 addition; ``n`` must be below 2**31."""
    if not 0 <= n < _HALF:
        raise ValueError("serial increment must be in [0, 2**31)")
    return (serial + n) % _MOD


def gt(a: int, b: int) -> bool:
    """RFC 1982 §3.2: ``a`` is greater than ``b`` (pairs exactly half apart: False)."""
    return a != b and ((a < b and b - a > _HALF) or (a > b and a - b < _HALF))


def next_serial(rule: SerialRule, current: int, now: int, previous: int | None = None) -> int:
    """The serial to publish for a new signed version.

    ``current`` is the unsigned zone's serial, ``previous`` the serial signwire published last
    (when known). For every rule except ``keep`` the result is greater than ``previous``, so a
    new signed version is always picked up by the secondaries.
    """
    if rule is SerialRule.KEEP:
        return current
    floor = current if previous is None or gt(current, previous) else previous
    if rule is SerialRule.INCREMENT:
        return add(floor, 1)
    if rule is SerialRule.UNIXTIME:
        candidate = now % _MOD
    else:
        day = time.strftime("%Y%m%d", time.gmtime(now))
        candidate = int(day) * 100
    if gt(candidate, floor):
        return candidate
    return add(floor, 1)
