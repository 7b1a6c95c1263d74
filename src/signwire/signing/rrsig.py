"""RRSIG records (RFC 4034 §3): the data to sign, timing, and the record itself.

The signature covers the RRSIG RDATA without its signature field, followed by every record of
the RRset in canonical form: lowercased owner, type, class, original TTL, RDATA in canonical
form, records ordered by their canonical RDATA, duplicates removed (RFC 4034 §3.1.8.1, §6.3).
"""

from __future__ import annotations

import base64
import struct
import time
import zlib
from dataclasses import dataclass

from signwire.zones import rdata as rdata_codec

CLASS_IN = 1
_RR_HEAD = struct.Struct("!HHIH")
_SIG_HEAD = struct.Struct("!HBBIIIH")


@dataclass(frozen=True, slots=True)
class SigTiming:
    """Inception, and expiration before jitter, for one signing run."""

    inception: int
    expiration: int
    jitter: int

    def expiration_for(self, owner_lower: bytes, rdtype: int) -> int:
        # Deterministic per RRset: the same zone signed at the same `now` gives the same file,
        # and re-signing leaves each RRset's place in the refresh schedule where it was.
        if not self.jitter:
            return self.expiration
        spread = zlib.crc32(owner_lower + rdtype.to_bytes(2, "big")) % (self.jitter + 1)
        return self.expiration - spread


def rrset_data(owner_lower: bytes, rdtype: int, ttl: int, rdatas: list[bytes]) -> bytes:
    """The canonical wire form of an RRset, as it follows the RRSIG fields in the signed data."""
    canonical = rdata_codec.canonical
    if len(rdatas) == 1:
        c = canonical(rdtype, rdatas[0])
        return owner_lower + _RR_HEAD.pack(rdtype, CLASS_IN, ttl, len(c)) + c
    forms = sorted({canonical(rdtype, r) for r in rdatas})
    head = owner_lower
    return b"".join([head + _RR_HEAD.pack(rdtype, CLASS_IN, ttl, len(c)) + c for c in forms])


def sig_fields(
    rdtype: int,
    algorithm: int,
    labels: int,
    ttl: int,
    expiration: int,
    inception: int,
    key_tag: int,
    signer_lower: bytes,
) -> bytes:
    """RRSIG RDATA up to (not including) the signature."""
    return (
        _SIG_HEAD.pack(rdtype, algorithm, labels, ttl, expiration, inception, key_tag)
        + signer_lower
    )


_day_text: dict[int, str] = {}
_HOURS = [f"{h:02d}" for h in range(24)]
_MINUTES_SECONDS = [f"{m:02d}{s:02d}" for m in range(60) for s in range(60)]


def time_text(when: int) -> str:
    """YYYYMMDDHHMMSS (RFC 4034 §3.2). Jittered expirations are nearly all different
    seconds but fall on a few days, so only the date goes through strftime (and is cached)."""
    day, second = divmod(when, 86400)
    date = _day_text.get(day)
    if date is None:
        if len(_day_text) > 10_000:
            _day_text.clear()
        date = _day_text[day] = time.strftime("%Y%m%d", time.gmtime(day * 86400))
    hour, rest = divmod(second, 3600)
    return date + _HOURS[hour] + _MINUTES_SECONDS[rest]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
