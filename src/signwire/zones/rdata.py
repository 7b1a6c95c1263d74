"""RDATA between presentation format and wire format, fast for the common types.

A signer of a million-delegation zone converts millions of RDATA; a ``dns.rdata.Rdata`` object
per record would cost more than the signing. This module keeps RDATA as uncompressed wire
``bytes`` (names in the case written) and converts them with hand-written code for the types
that fill real zones; every other type goes through dnspython, which stays the reference (the
tests compare each fast path with it byte for byte).

* :func:`from_text` / :func:`from_tokens`: wire RDATA from presentation format (RFC 1035 §5.1,
  RFC 3597 ``\\# len hex`` for any type). Fast: A, AAAA, NS, CNAME, DNAME, PTR, MX, TXT, SOA,
  DS, CDS, SRV. Errors are :class:`ValueError` carrying dnspython's reason: when a fast path
  refuses its input, dnspython parses the same text and either accepts it or says why not.
* :func:`to_text`: presentation format with absolute names that BIND, ldns and Knot all read.
  Types outside the set those three parse are written in RFC 3597 generic form, and
  :func:`type_to_text` names them ``TYPEnnn`` to match.
* :func:`canonical`: canonical RDATA for signing (RFC 4034 §6.2 as amended by RFC 6840 §5.1).
* :func:`embedded_names`: the names the zone checks follow (glue, CNAME targets).
* :func:`split_line`: the master-file lexer (quotes, escapes, parentheses, comments) shared
  with the zone-file reader.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import socket
import struct
import time
from collections.abc import Callable

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.ttl

from signwire.zones import base32hex, names

A, NS, MD, MF, CNAME, SOA, MB, MG, MR = 1, 2, 3, 4, 5, 6, 7, 8, 9
PTR, MINFO, MX, TXT, RP, AFSDB, RT, AAAA, PX, SRV, NAPTR, KX, A6, DNAME = (
    12, 14, 15, 16, 17, 18, 21, 28, 26, 33, 35, 36, 38, 39,
)  # fmt: skip
DS, RRSIG, NSEC, DNSKEY, NSEC3, NSEC3PARAM, CDS, CDNSKEY = 43, 46, 47, 48, 50, 51, 59, 60

_MAX_U32 = 0xFFFFFFFF


class _Fallback(Exception):
    """A fast path met input it does not handle; dnspython decides instead."""


class _Generic(Exception):
    """The RDATA has an empty field that its own presentation format cannot show."""


# --- type mnemonics --------------------------------------------------------------------------

# Types whose mnemonic and presentation format BIND 9.18, ldns 1.8 and Knot 3.2 all accept
# (checked by the interop test). Anything else is written as TYPEnnn with generic RDATA.
PORTABLE_TYPES = frozenset(
    {
        1, 2, 5, 6, 12, 13, 15, 16, 17, 18, 25, 28, 29, 33, 35, 36, 37, 39, 42, 43, 44,
        45, 46, 47, 48, 49, 50, 51, 52, 53, 59, 60, 61, 62, 63, 64, 65, 99, 104, 105, 106,
        107, 108, 109, 256, 257,
    }
)  # fmt: skip


def _mnemonic(rdtype: int) -> str:
    return dns.rdatatype.to_text(dns.rdatatype.RdataType.make(rdtype))


_TYPE_BY_NAME: dict[str, int] = {t.name.replace("_", "-"): int(t) for t in dns.rdatatype.RdataType}


def type_from_text(text: str) -> int:
    """Type code of a mnemonic or ``TYPEnnn`` (case-insensitive); ValueError if unknown."""
    code = _TYPE_BY_NAME.get(text)
    if code is None:
        code = _TYPE_BY_NAME.get(text.upper())
        if code is None:
            if text[:4].upper() == "TYPE" and text[4:].isascii() and text[4:].isdigit():
                code = int(text[4:])
                if code > 0xFFFF:
                    raise ValueError(f"type code {text!r} out of range")
            else:
                raise ValueError(f"unknown type {text!r}")
    return code


@functools.cache
def type_to_text(rdtype: int) -> str:
    """Mnemonic if every common parser knows it, else ``TYPEnnn`` (RFC 3597 §5)."""
    return _mnemonic(rdtype) if rdtype in PORTABLE_TYPES else f"TYPE{rdtype}"


# --- lexer -----------------------------------------------------------------------------------

# A token is everything up to white space, a comment or a parenthesis; quoted strings and
# escapes may make up all or part of it. Tokens keep what they were written as (a word and a
# quoted string with no space between, as in SVCB's ``alpn="h2"``, stay one token) so that
# joining tokens with spaces gives text that means the same to dnspython.
_TOKEN = re.compile(
    r"[ \t\r\n]+|(;[^\n]*)|(\()|(\))"
    r'|((?:"(?:[^"\\\n]|\\[^\n])*"|[^ \t\r\n;()"\\]|\\[^\n])+)'
    r'|(")|(\\)',
    re.S,
)
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_ESCAPED = re.compile(r"\\.", re.S)


def has_quote(tok: str) -> bool:
    """Whether a raw token holds an unescaped ``"`` (a quoted string, or part of one)."""
    return '"' in tok and '"' in _ESCAPED.sub("", tok)


def is_quoted(tok: str) -> bool:
    """Whether a raw token is exactly one quoted string."""
    return tok[:1] == '"' and _QUOTED.fullmatch(tok) is not None


def split_line(line: str, depth: int = 0) -> tuple[list[str], int]:
    """Tokens of one physical line, and the parenthesis depth after it.

    Tokens are raw: quoted strings keep their quotes and escapes stay unprocessed, so joining
    tokens with spaces gives text that means the same. Raises ValueError for an unterminated
    quote, a ``)`` with no ``(`` or a backslash that ends the line.
    """
    tokens: list[str] = []
    pos = 0
    end = len(line)
    match = _TOKEN.match
    while pos < end:
        m = match(line, pos)
        if m is None:  # pragma: no cover - the pattern matches every character
            raise ValueError(f"cannot read {line[pos:]!r}")
        kind = m.lastindex
        if kind == 4:
            tokens.append(m.group(kind))
        elif kind == 1:
            break
        elif kind == 2:
            depth += 1
        elif kind == 3:
            if depth == 0:
                raise ValueError("unbalanced parenthesis: ')' without '('")
            depth -= 1
        elif kind == 5:
            raise ValueError("unterminated quoted string")
        elif kind == 6:
            raise ValueError("backslash at the end of the line")
        pos = m.end()
    return tokens, depth


def _tokens(text: str) -> list[str]:
    if '"' in text or "\\" in text or "(" in text or ")" in text or ";" in text:
        return split_line(text, 0)[0]
    return text.split()


# --- helpers for the fast paths --------------------------------------------------------------


def _uint(tok: str, limit: int) -> int:
    if tok.isdigit() and tok.isascii():
        v = int(tok)
        if v <= limit:
            return v
    raise _Fallback


def parse_ttl(tok: str) -> int:
    """A TTL in seconds: digits or BIND units (``1h30m``, ``1d``, ``1w``); ValueError if bad."""
    if tok.isascii() and tok.isdigit():
        v = int(tok)
        if v <= _MAX_U32:
            return v
    try:
        return int(dns.ttl.from_text(tok))
    except dns.exception.DNSException as e:
        raise ValueError(str(e) or "bad TTL") from None


def _name(tok: str, origin: bytes) -> bytes:
    if has_quote(tok):
        raise _Fallback
    return names.from_text(tok, origin)


def unescape(tok: str) -> bytes:
    """The bytes of a character-string token (RFC 1035 §5.1): quotes dropped, escapes applied.

    ValueError for a token that is not one plain word or one quoted string (``"a"b``).
    """
    if tok[0] == '"':
        if not _QUOTED.fullmatch(tok):
            raise ValueError(f"not one character-string: {tok}")
        tok = tok[1:-1]
    elif has_quote(tok):
        raise ValueError(f"not one character-string: {tok}")
    if "\\" not in tok:
        return tok.encode("latin-1")
    out = bytearray()
    i = 0
    n = len(tok)
    while i < n:
        c = tok[i]
        if c == "\\":
            d = tok[i + 1 : i + 4]
            if d[:1].isdigit():
                if len(d) != 3 or not (d.isascii() and d.isdigit()) or int(d) > 255:
                    raise ValueError(f"bad escape in {tok!r}")
                out.append(int(d))
                i += 4
                continue
            c = tok[i + 1]
            i += 1
        out.append(ord(c))
        i += 1
    return bytes(out)


# --- presentation -> wire --------------------------------------------------------------------


# A wrong number of tokens makes a TypeError (one-token types) or _Fallback; either way
# dnspython then decides.
def _p_a(t: list[str], origin: bytes) -> bytes:
    return socket.inet_pton(socket.AF_INET, *t)


def _p_aaaa(t: list[str], origin: bytes) -> bytes:
    return socket.inet_pton(socket.AF_INET6, *t)


def _p_name(t: list[str], origin: bytes) -> bytes:
    (tok,) = t
    return _name(tok, origin)


def _p_mx(t: list[str], origin: bytes) -> bytes:
    if len(t) != 2:
        raise _Fallback
    return _uint(t[0], 0xFFFF).to_bytes(2, "big") + _name(t[1], origin)


def _p_srv(t: list[str], origin: bytes) -> bytes:
    if len(t) != 4:
        raise _Fallback
    return struct.pack(
        "!HHH", _uint(t[0], 0xFFFF), _uint(t[1], 0xFFFF), _uint(t[2], 0xFFFF)
    ) + _name(t[3], origin)


def _p_soa(t: list[str], origin: bytes) -> bytes:
    if len(t) != 7:
        raise _Fallback
    timers = struct.pack("!IIII", *map(parse_ttl, t[3:]))  # dnspython reads them as TTLs
    return (
        _name(t[0], origin)
        + _name(t[1], origin)
        + _uint(t[2], _MAX_U32).to_bytes(4, "big")
        + timers
    )


def _p_txt(t: list[str], origin: bytes) -> bytes:
    if not t:
        raise _Fallback
    parts = []
    for tok in t:
        s = unescape(tok)
        if len(s) > 255:
            raise _Fallback
        parts.append(len(s).to_bytes(1, "big") + s)
    return b"".join(parts)


_DS_DIGEST_LENGTH = {1: 20, 2: 32, 3: 32, 4: 48}


def _p_ds(t: list[str], origin: bytes) -> bytes:
    if len(t) < 4:
        raise _Fallback
    digest_type = _uint(t[2], 0xFF)
    digest = binascii.unhexlify("".join(t[3:]))
    want = _DS_DIGEST_LENGTH.get(digest_type)
    if digest_type == 0 or (want is not None and len(digest) != want):
        raise _Fallback
    return struct.pack("!HBB", _uint(t[0], 0xFFFF), _uint(t[1], 0xFF), digest_type) + digest


_PARSERS: dict[int, Callable[[list[str], bytes], bytes]] = {
    A: _p_a, AAAA: _p_aaaa, NS: _p_name, CNAME: _p_name, DNAME: _p_name, PTR: _p_name,
    MX: _p_mx, SRV: _p_srv, SOA: _p_soa, TXT: _p_txt, DS: _p_ds, CDS: _p_ds,
}  # fmt: skip

_ORIGINS: dict[bytes, dns.name.Name] = {}
_HIGH_OR_ESCAPE = re.compile(r"\\.|[\x80-\xff]", re.S)


def _escape_high(m: re.Match[str]) -> str:
    s = m.group()
    if s[-1] < "\x80":
        return s
    return f"\\{ord(s[-1]):03d}"


def _dns_origin(origin: bytes) -> dns.name.Name:
    name = _ORIGINS.get(origin)
    if name is None:
        name = dns.name.Name([*names.labels(origin), b""])
        if len(_ORIGINS) > 1000:
            _ORIGINS.clear()
        _ORIGINS[origin] = name
    return name


def _generic_from_text(rdtype: int, text: str, origin: bytes) -> bytes:
    if not text.isascii():
        # Zone files are bytes: write non-ASCII as \DDD so dnspython keeps the byte instead
        # of applying IDNA or UTF-8 to it.
        text = _HIGH_OR_ESCAPE.sub(_escape_high, text)
    try:
        rd = dns.rdata.from_text(
            dns.rdataclass.IN,
            dns.rdatatype.RdataType.make(rdtype),
            text,
            origin=_dns_origin(origin),
            relativize=False,
        )
        return rd.to_wire() or b""
    except Exception as e:  # dnspython raises many kinds; all mean "bad rdata"
        raise ValueError(_reason(e)) from None


def _reason(e: Exception) -> str:
    text = str(e)
    if not text or text == "None":
        text = type(e).__name__
    return text


MAX_RDATA = 0xFFFF  # RDLENGTH is 16 bits (RFC 1035 §3.2.1)


def from_tokens(rdtype: int, tokens: list[str], origin: bytes) -> bytes:
    """Wire RDATA from raw tokens as :func:`split_line` makes them.

    ValueError also for RDATA longer than :data:`MAX_RDATA`: no RR can carry it.
    """
    parser = _PARSERS.get(rdtype)
    wire = None
    if parser is not None and tokens and tokens[0] != "\\#":
        try:
            wire = parser(tokens, origin)
        except (_Fallback, ValueError, OSError, IndexError, TypeError):
            wire = None  # dnspython decides, below
    if wire is None:
        wire = _generic_from_text(rdtype, " ".join(tokens), origin)
    if len(wire) > MAX_RDATA:
        raise ValueError(f"rdata is {len(wire)} octets, more than the {MAX_RDATA} an RR can hold")
    return wire


def from_text(rdtype: int, text: str, origin: bytes) -> bytes:
    """Wire RDATA from the rdata part of a zone-file line; ValueError with a reason if bad.

    ``text`` is everything after the type. Relative names are completed with ``origin``
    (wire form); names keep their case.
    """
    try:
        tokens = _tokens(text)
    except ValueError:
        return _generic_from_text(rdtype, text, origin)  # dnspython says what is wrong
    return from_tokens(rdtype, tokens, origin)


# --- wire -> presentation --------------------------------------------------------------------


def name_end(wire: bytes, pos: int) -> int:
    """Index just past the uncompressed name that starts at ``pos`` (IndexError if cut)."""
    n = wire[pos]
    while n:
        if n > 63:
            raise ValueError("compressed or bad label in rdata")
        pos += n + 1
        n = wire[pos]
    return pos + 1


def _name_at(wire: bytes, pos: int) -> tuple[str, int]:
    end = name_end(wire, pos)
    return names.to_text(wire[pos:end]), end


_TXT_CHARS = [
    ("\\" + chr(b)) if b in b'"\\' else chr(b) if 0x20 <= b < 0x7F else f"\\{b:03d}"
    for b in range(256)
]


def _char_strings(wire: bytes, pos: int) -> list[str]:
    out = []
    n = len(wire)
    chars = _TXT_CHARS
    while pos < n:
        ln = wire[pos]
        end = pos + 1 + ln
        if end > n:
            raise ValueError("character-string runs past the rdata")
        out.append('"' + "".join([chars[b] for b in wire[pos + 1 : end]]) + '"')
        pos = end
    return out


def _bitmap_text(wire: bytes, pos: int) -> list[str]:
    out = []
    n = len(wire)
    while pos < n:
        window, length = wire[pos], wire[pos + 1]
        if not 0 < length <= 32 or pos + 2 + length > n:
            raise ValueError("bad type bitmap")
        base = window * 256
        for i, byte in enumerate(wire[pos + 2 : pos + 2 + length]):
            if byte:
                for j in range(8):
                    if byte & (0x80 >> j):
                        out.append(type_to_text(base + i * 8 + j))
        pos += 2 + length
    return out


def _sigtime(t: int) -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(t))


def _b64(data: bytes) -> str:
    if not data:
        raise _Generic
    return base64.b64encode(data).decode("ascii")


def _hexsalt(data: bytes) -> str:
    return data.hex().upper() if data else "-"


def _t_name(w: bytes) -> str:
    text, end = _name_at(w, 0)
    if end != len(w):
        raise _Fallback
    return text


def _t_a(w: bytes) -> str:
    if len(w) != 4:
        raise _Fallback
    return f"{w[0]}.{w[1]}.{w[2]}.{w[3]}"


def _t_aaaa(w: bytes) -> str:
    if len(w) != 16:
        raise _Fallback
    return socket.inet_ntop(socket.AF_INET6, w)


def _t_mx(w: bytes) -> str:
    text, end = _name_at(w, 2)
    if end != len(w):
        raise _Fallback
    return f"{int.from_bytes(w[:2], 'big')} {text}"


def _t_srv(w: bytes) -> str:
    text, end = _name_at(w, 6)
    if end != len(w):
        raise _Fallback
    prio, weight, port = struct.unpack_from("!HHH", w)
    return f"{prio} {weight} {port} {text}"


def _t_soa(w: bytes) -> str:
    mname, pos = _name_at(w, 0)
    rname, pos = _name_at(w, pos)
    if len(w) - pos != 20:
        raise _Fallback
    serial, refresh, retry, expire, minimum = struct.unpack_from("!IIIII", w, pos)
    return f"{mname} {rname} {serial} {refresh} {retry} {expire} {minimum}"


def _t_txt(w: bytes) -> str:
    strings = _char_strings(w, 0)
    if not strings:
        raise _Fallback
    return " ".join(strings)


def _t_ds(w: bytes) -> str:
    tag, alg, dtype = struct.unpack_from("!HBB", w)
    if len(w) == 4:
        raise _Generic
    return f"{tag} {alg} {dtype} {w[4:].hex().upper()}"


def _t_dnskey(w: bytes) -> str:
    flags, proto, alg = struct.unpack_from("!HBB", w)
    return f"{flags} {proto} {alg} {_b64(w[4:])}"


def _t_rrsig(w: bytes) -> str:
    covered, alg, labels, ottl, expire, incept, tag = struct.unpack_from("!HBBIIIH", w)
    signer, pos = _name_at(w, 18)
    return (
        f"{type_to_text(covered)} {alg} {labels} {ottl} {_sigtime(expire)} {_sigtime(incept)}"
        f" {tag} {signer} {_b64(w[pos:])}"
    )


def _t_nsec(w: bytes) -> str:
    nxt, pos = _name_at(w, 0)
    return " ".join([nxt, *_bitmap_text(w, pos)])


def _t_nsec3(w: bytes) -> str:
    alg, flags, iters, slen = struct.unpack_from("!BBHB", w)
    salt = w[5 : 5 + slen]
    hlen = w[5 + slen]
    pos = 6 + slen
    digest = w[pos : pos + hlen]
    if len(salt) != slen or len(digest) != hlen:
        raise _Fallback
    if not hlen:
        raise _Generic
    nxt = base32hex.encode(digest)
    return " ".join([f"{alg} {flags} {iters} {_hexsalt(salt)} {nxt}", *_bitmap_text(w, pos + hlen)])


def _t_nsec3param(w: bytes) -> str:
    alg, flags, iters, slen = struct.unpack_from("!BBHB", w)
    if len(w) != 5 + slen:
        raise _Fallback
    return f"{alg} {flags} {iters} {_hexsalt(w[5:])}"


_FORMATTERS: dict[int, Callable[[bytes], str]] = {
    A: _t_a, AAAA: _t_aaaa, NS: _t_name, CNAME: _t_name, DNAME: _t_name, PTR: _t_name,
    MX: _t_mx, SRV: _t_srv, SOA: _t_soa, TXT: _t_txt, DS: _t_ds, CDS: _t_ds,
    DNSKEY: _t_dnskey, CDNSKEY: _t_dnskey, RRSIG: _t_rrsig, NSEC: _t_nsec, NSEC3: _t_nsec3,
    NSEC3PARAM: _t_nsec3param,
}  # fmt: skip


def to_text(rdtype: int, wire: bytes) -> str:
    """Presentation format of wire RDATA, names absolute; ValueError if the wire is bad.

    Types outside :data:`PORTABLE_TYPES` come out in generic form (``\\# len hex``), as do
    RDATA the usual format cannot express (an empty DS digest or DNSKEY key).
    """
    fmt = _FORMATTERS.get(rdtype)
    if fmt is not None:
        try:
            return fmt(wire)
        except _Generic:
            return _generic_text(wire)
        except (_Fallback, ValueError, IndexError, struct.error):
            pass
    if rdtype in PORTABLE_TYPES:
        try:
            rd = dns.rdata.from_wire(
                dns.rdataclass.IN, dns.rdatatype.RdataType.make(rdtype), wire, 0, len(wire)
            )
        except Exception as e:  # dnspython's wire parsers raise many kinds
            raise ValueError(f"bad {type_to_text(rdtype)} rdata: {_reason(e)}") from None
        return str(rd.to_text(chunksize=0))  # base64 and hex unbroken: ldns wants that
    return _generic_text(wire)


def _generic_text(wire: bytes) -> str:
    return f"\\# {len(wire)} {wire.hex().upper()}" if wire else "\\# 0"


# --- canonical form and embedded names -------------------------------------------------------

_WHOLE_NAMES = frozenset({NS, MD, MF, CNAME, MB, MG, MR, PTR, DNAME, MINFO, RP})
_PREF_THEN_NAMES = frozenset({MX, AFSDB, RT, KX, PX})


def canonical(rdtype: int, wire: bytes) -> bytes:
    """Canonical RDATA (RFC 4034 §6.2, RFC 6840 §5.1): embedded names of the listed types
    lowercased; every other type, NSEC's next name included, unchanged."""
    if rdtype in _WHOLE_NAMES:
        return wire.lower()
    if rdtype in _PREF_THEN_NAMES:
        return wire[:2] + wire[2:].lower()
    if rdtype == SRV:
        return wire[:6] + wire[6:].lower()
    if rdtype == SOA:
        end = name_end(wire, name_end(wire, 0))
        return wire[:end].lower() + wire[end:]
    if rdtype == RRSIG:
        end = name_end(wire, 18)
        return wire[:18] + wire[18:end].lower() + wire[end:]
    if rdtype == NAPTR:
        pos = 4
        for _ in range(3):
            pos += 1 + wire[pos]
        return wire[:pos] + wire[pos:].lower()
    if rdtype == A6:
        pos = 1 + (128 - wire[0] + 7) // 8
        return wire[:pos] + wire[pos:].lower()
    return wire


def embedded_names(rdtype: int, wire: bytes) -> list[bytes]:
    """Names the zone checks follow: NS target, CNAME/DNAME target, MX exchange, SRV target."""
    if rdtype in (NS, CNAME, DNAME):
        return [wire]
    if rdtype == MX:
        return [wire[2:]]
    if rdtype == SRV:
        return [wire[6:]]
    return []
