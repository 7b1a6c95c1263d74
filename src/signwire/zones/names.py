"""Domain names as uncompressed wire bytes, and their canonical order (RFC 4034 §6.1).

The signer handles millions of names, so it does not build a ``dns.name.Name`` for each: a name
is the ``bytes`` of its uncompressed wire form, in the case it was written (``b"\\x03www\\x07
Example\\x03com\\x00"``). Everything the signer needs is derived from those bytes:

* :func:`canonical_key` gives a ``bytes`` sort key whose plain byte order *is* the canonical
  DNS order: labels right to left, ASCII case folded, shorter label strings first. Sorting a
  list of keys with ``sorted()`` therefore sorts names as a validator expects the NSEC chain.
* :func:`to_text` and :func:`from_text` convert to and from the zone-file presentation format,
  including ``\\DDD`` and ``\\X`` escapes (RFC 1035 §5.1).

dnspython remains the reference: the tests compare every function here with ``dns.name``.
"""

from __future__ import annotations

import re

from signwire.errors import ZoneDataError

ROOT = b"\x00"

# Characters that must be escaped in presentation format (RFC 1035 §5.1 and what BIND and
# dnspython escape); other bytes outside 0x21-0x7E (space included) are written as \DDD,
# exactly as dnspython writes them.
_SPECIAL = frozenset(b'."\\();@$')
_DIGITS = "0123456789"
_SAFE = frozenset(b for b in range(0x21, 0x7F) if b not in _SPECIAL)


def labels(wire: bytes) -> list[bytes]:
    """The labels of a wire name, left to right, without the root label."""
    out = []
    i = 0
    n = wire[0]
    while n:
        out.append(wire[i + 1 : i + 1 + n])
        i += n + 1
        n = wire[i]
    return out


def from_labels(parts: list[bytes]) -> bytes:
    return b"".join(bytes((len(p),)) + p for p in parts) + ROOT


def label_count(wire: bytes) -> int:
    """Labels excluding the root: the RRSIG "Labels" field before the wildcard rule."""
    count = 0
    i = 0
    n = wire[0]
    while n:
        count += 1
        i += n + 1
        n = wire[i]
    return count


def rrsig_labels(wire: bytes) -> int:
    """The RRSIG Labels field (RFC 4034 §3.1.3): a leading ``*`` label does not count."""
    count = label_count(wire)
    if wire[:2] == b"\x01*":
        count -= 1
    return count


def lower(wire: bytes) -> bytes:
    """The canonical (lowercase) form of a wire name (RFC 4034 §6.2).

    ``bytes.lower`` folds only ASCII A-Z, which is exactly DNS case-insensitivity; the length
    octets are all below 64, so they are never changed.
    """
    return wire.lower()


def _escape_key_label(label: bytes) -> bytes:
    # Keep the key unambiguous when a label itself holds the separator byte: 0x00 and 0x01
    # become two-byte sequences that still sort below every other byte value, so byte order of
    # keys stays the canonical order.
    if b"\x00" in label or b"\x01" in label:
        return label.replace(b"\x01", b"\x01\x02").replace(b"\x00", b"\x01\x01")
    return label


def canonical_key(wire: bytes) -> bytes:
    """A sort key whose byte order is the canonical DNS name order (RFC 4034 §6.1).

    The key is the lowercased labels from right to left, joined by ``0x00``. A name sorts
    directly before its descendants, and all descendants of a name follow it contiguously,
    which the zone model relies on to find zone cuts in one pass.
    """
    w = wire.lower()
    parts = []
    i = 0
    n = w[0]
    while n:  # labels() inlined: this runs once per name of every zone loaded
        parts.append(w[i + 1 : i + 1 + n])
        i += n + 1
        n = w[i]
    parts.reverse()
    key = b"\x00".join(parts)
    # One scan of the joined key finds the rare label that holds 0x00 or 0x01: a clean key has
    # exactly one 0x00 per separator and no 0x01.
    if b"\x01" in key or key.count(0) != len(parts) - 1:
        return b"\x00".join([_escape_key_label(p) for p in parts])
    return key


def is_subdomain(key: bytes, parent_key: bytes) -> bool:
    """Whether the name with ``key`` is ``parent_key``'s name or below it (keys, not wire)."""
    if not parent_key:
        return True
    return key.startswith(parent_key) and (len(key) == len(parent_key) or key[len(parent_key)] == 0)


def parent(wire: bytes) -> bytes:
    """The name with its leftmost label removed (the root's parent is the root)."""
    if wire == ROOT:
        return ROOT
    return wire[wire[0] + 1 :]


# Bytes a label may hold and still be written as is; 0x00 stands for the separators of the
# joined labels in to_text's fast path.
_PLAIN = re.compile(b"[^\\x00" + b"".join(re.escape(bytes([c])) for c in sorted(_SAFE)) + b"]")


def to_text(wire: bytes) -> str:
    """Presentation format of a wire name, absolute (with the trailing dot)."""
    if wire == ROOT:
        return "."
    parts = labels(wire)
    joined = b"\x00".join(parts)
    # Fast path for the usual name: one regex scan instead of a check per byte. The count
    # catches a label that itself holds 0x00, which the joined form would hide.
    if _PLAIN.search(joined) is None and joined.count(0) == len(parts) - 1:
        return joined.replace(b"\x00", b".").decode("ascii") + "."
    out = []
    for label in parts:
        if all(b in _SAFE for b in label):
            out.append(label.decode("ascii"))
        else:
            out.append(_escape_label(label))
    return ".".join(out) + "."


def _escape_label(label: bytes) -> str:
    chars = []
    for b in label:
        if b in _SAFE:
            chars.append(chr(b))
        elif b in _SPECIAL:
            chars.append("\\" + chr(b))
        else:
            chars.append(f"\\{b:03d}")
    return "".join(chars)


def from_text(text: str, origin: bytes | None) -> bytes:
    """Wire form of a presentation-format name; relative names are completed with ``origin``.

    ``text`` is a str whose code points are byte values (zone files are read as latin-1 so
    that any byte round-trips). Raises :class:`ValueError` with a short reason on a bad name;
    the zone reader adds file and line.
    """
    if text == "@":
        if origin is None:
            raise ValueError("'@' used with no origin")
        return origin
    if text == ".":
        return ROOT
    if "\\" in text:
        parts, absolute = _split_escaped(text)
    else:
        absolute = text.endswith(".")
        body = text[:-1] if absolute else text
        try:
            parts = [p.encode("latin-1") for p in body.split(".")]
        except UnicodeEncodeError:
            raise ValueError(f"name {text!r} has characters that are not bytes") from None
    for p in parts:
        if not p:
            raise ValueError(f"empty label in name {text!r}")
        if len(p) > 63:
            raise ValueError(f"label longer than 63 octets in name {text!r}")
    wire = b"".join(bytes((len(p),)) + p for p in parts)
    if absolute:
        wire += ROOT
    else:
        if origin is None:
            raise ValueError(f"relative name {text!r} with no origin")
        wire += origin
    if len(wire) > 255:
        raise ValueError(f"name {text!r} is longer than 255 octets")
    return wire


def _split_escaped(text: str) -> tuple[list[bytes], bool]:
    # Escapes as dnspython and BIND read them: \DDD is one byte (exactly three decimal
    # digits, at most 255), \X is X itself, an unescaped dot ends a label.
    parts: list[bytes] = []
    cur = bytearray()
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            if i + 1 >= n:
                raise ValueError(f"name {text!r} ends in a lone backslash")
            c = text[i + 1]
            if c in _DIGITS:
                digits = text[i + 1 : i + 4]
                if len(digits) != 3 or not all(d in _DIGITS for d in digits):
                    raise ValueError(f"bad escape \\{digits} in name {text!r}")
                value = int(digits)
                if value > 255:
                    raise ValueError(f"escape \\{digits} is not a byte in {text!r}")
                cur.append(value)
                i += 4
                continue
            i += 2
        elif c == ".":
            if not cur:
                raise ValueError(f"empty label in name {text!r}")
            parts.append(bytes(cur))
            cur = bytearray()
            i += 1
            continue
        else:
            i += 1
        if ord(c) > 255:
            raise ValueError(f"name {text!r} has characters that are not bytes")
        cur.append(ord(c))
    # A name whose text ends in an unescaped dot is absolute: nothing follows the last dot.
    absolute = not cur
    if cur:
        parts.append(bytes(cur))
    return parts, absolute


def check_text(text: str, origin: bytes | None, *, path: str, line: int) -> bytes:
    """:func:`from_text` with a :class:`ZoneDataError` that says where the bad name is."""
    try:
        return from_text(text, origin)
    except ValueError as e:
        raise ZoneDataError(str(e), path=path, line=line) from None
