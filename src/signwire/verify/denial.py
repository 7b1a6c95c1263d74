"""What NSEC and NSEC3 records share: type bitmaps and the denial TTL.

* Type bitmaps (RFC 4034 §4.1.2, RFC 5155 §3.2.1): window blocks of up to 32 octets, one bit per
  type, most significant bit first. They are decoded here independently of the signer.
* TTL (RFC 9077 §3, updating RFC 4034 §4 and RFC 5155 §3): the lesser of the SOA TTL and the SOA
  MINIMUM field. Validators do not reject a different TTL, so a mismatch is a warning.
"""

from __future__ import annotations

from collections.abc import Iterable

import dns.name
from dns.rdtypes.ANY.SOA import SOA

from signwire.verify.report import ProblemLog, type_text


def bitmap_types(windows: Iterable[tuple[int, bytes]]) -> set[int]:
    types: set[int] = set()
    for window, bitmap in windows:
        base = window * 256
        for i, octet in enumerate(bitmap):
            if not octet:
                continue
            for bit in range(8):
                if octet & (0x80 >> bit):
                    types.add(base + i * 8 + bit)
    return types


def format_types(types: Iterable[int]) -> str:
    names = [type_text(t) for t in sorted(types)]
    return " ".join(names) if names else "(empty)"


def compare_bitmap(
    log: ProblemLog,
    owner: dns.name.Name,
    rdtype: str,
    present: set[int],
    expected: set[int],
    *,
    subject: str = "",
) -> None:
    """Log an error when a bitmap differs from the types that should be listed."""
    if present == expected:
        return
    missing = expected - present
    extra = present - expected
    detail = []
    if missing:
        detail.append(f"missing {format_types(missing)}")
    if extra:
        detail.append(f"lists absent {format_types(extra)}")
    about = f" for {subject}" if subject else ""
    log.error(
        owner,
        rdtype,
        f"type bitmap{about} is {format_types(present)}, expected {format_types(expected)} "
        f"({'; '.join(detail)})",
    )


def denial_ttl(soa_ttl: int, soa: SOA) -> int:
    """RFC 9077 §3: min(SOA TTL, SOA MINIMUM)."""
    return min(soa_ttl, soa.minimum)


def check_denial_ttl(
    log: ProblemLog, owner: dns.name.Name, rdtype: str, ttl: int, expected: int | None
) -> None:
    if expected is not None and ttl != expected:
        log.warning(
            owner,
            rdtype,
            f"TTL {ttl} should be {expected}, the lesser of the SOA TTL and SOA MINIMUM "
            "(RFC 9077 §3)",
        )
