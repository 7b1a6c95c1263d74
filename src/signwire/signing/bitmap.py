"""Type bitmaps of NSEC and NSEC3 records (RFC 4034 §4.1.2, RFC 5155 §3.2.1).

Most names of a big zone carry the same few types, so bitmaps are cached by their type set.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=4096)
def type_bitmap(types: frozenset[int]) -> bytes:
    windows: dict[int, bytearray] = {}
    for t in sorted(types):
        window, low = divmod(t, 256)
        bits = windows.setdefault(window, bytearray(32))
        bits[low // 8] |= 0x80 >> (low % 8)
    out = bytearray()
    for window in sorted(windows):
        bits = windows[window]
        length = 32
        while length and not bits[length - 1]:
            length -= 1
        out += bytes((window, length)) + bits[:length]
    return bytes(out)
