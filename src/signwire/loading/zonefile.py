"""Zone file reader (RFC 1035 §5 master files), fast enough for a million delegations.

    read_zonefile(path, origin, *, default_ttl=None) -> ParsedZone

The records come back in file order as plain tuples ``(owner, rdtype, ttl, rdata, line)``
(:mod:`signwire.zones.records`), owner and RDATA in uncompressed wire form and the case written.

Syntax: ``$ORIGIN``, ``$TTL`` (RFC 2308 §4), ``$INCLUDE file [origin]`` (the path is relative
to the including file's folder; the including file's origin and owner are restored after it),
a blank owner meaning the previous owner, ``@``, TTL and class in either order, BIND TTL units
(``1h30m``, ``1d``, ``1w``), records spread over lines by parentheses, quoted strings with
escapes, comments, relative names and RFC 3597 ``\\#`` RDATA. The class must be IN or
absent. ``$GENERATE`` is read as BIND reads it (:mod:`signwire.loading.generate`). The file
is read as latin-1, so every byte of a name or string reaches the wire unchanged (non-ASCII
is never IDNA-encoded).

A name means what its text says, whatever came before: ``www.@`` is the label ``@`` under
``www``'s parent (only a lone ``@`` is the origin), ``www..`` is an error (empty label), as
BIND, ldns and dnspython read them; the caches below only ever save work.

Refused with file and line, as BIND refuses them: RDATA longer than 65,535 octets. Read with
a warning (:attr:`ParsedZone.warnings`): a TTL of 2^31 or more, which RFC 2181 §8 says to
treat as 0 and BIND sets to 0 (so does this reader); an NS record at a wildcard owner
(``*.x NS``). BIND refuses the latter ("invalid NS owner name (wildcard)"); signwire signs it
as the delegation it is (RFC 4592 §4.2 discourages it but does not forbid it) and says so.
An RRset too big for any DNS message is warned about too (:mod:`signwire.zones.rrset_size`:
the reader measures those that hold a record over 16,000 octets, the snapshot the others).

TTL of a record written without one: ``$TTL`` if set (``default_ttl`` acts as a ``$TTL`` at
the top of the file), else the last TTL written in the file (RFC 1035 §5.1). When neither
exists, an SOA takes its own MINIMUM field as RFC 1035 zones did, and that MINIMUM then acts
as a ``$TTL`` (BIND 9: "no TTL specified; using SOA MINTTL instead"); any other record is an
error.

Speed: most lines of a big zone hold no parenthesis, quote or backslash, so they are split
with ``str.split`` and never reach the general lexer; owners and the RDATA of the
single-name types (NS, CNAME, DNAME, PTR) are cached, which also makes records of one owner
(and equal NS targets) share one ``bytes`` object. Errors raise :class:`ZoneDataError` with
the file and the line where the record starts (a lexing error names its own line).
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from signwire.errors import ZoneDataError
from signwire.loading import generate
from signwire.zones import names, rdata, rrset_size
from signwire.zones.records import ParsedZone, Record

_SOA = 6
_NAME_TYPES = frozenset({2, 5, 12, 39})  # NS, CNAME, PTR, DNAME: one name, often repeated
_META_TYPES = frozenset({0, 41, 249, 250, 251, 252, 253, 254, 255})
_OTHER_CLASSES = frozenset({"CH", "CHAOS", "HS", "HESIOD", "CS", "CSNET", "NONE", "ANY"})
_MAX_INCLUDE_DEPTH = 20
_CACHE_LIMIT = 200_000
_CHUNK = 1 << 18  # characters of lines read at a time (a dirty line slows only its chunk)
_MAX_TTL = 0x7FFFFFFF  # RFC 2181 §8: a TTL with the top bit set is treated as 0

# Lines that str.split cannot lex: parentheses, quotes, escapes, and characters str.split
# would take for white space although a zone file does not (\x0b, \x0c, \x1c-\x1f, and the
# non-ASCII \x85 and \xa0: any non-ASCII line takes the general lexer).
_SPECIAL_ASCII = '()"\\\x0b\x0c\x1c\x1d\x1e\x1f'
_SPECIAL = re.compile(r'[()"\\\x0b\x0c\x1c-\x1f\x80-\xff]')


def _clean(text: str) -> bool:
    """No line of ``text`` needs the general lexer (a chunk at C speed: no regex scan)."""
    return text.isascii() and not any(c in text for c in _SPECIAL_ASCII)


@dataclass(slots=True)
class _State:
    """What carries across $INCLUDE boundaries."""

    records: list[Record]
    dollar_ttl: int | None
    last_ttl: int | None
    warnings: list[str]
    # (owner, type, file, line) of each record of more than LARGE_RDATA octets: its RRset
    # may be too big for a message, which read_zonefile measures at the end.
    large: list[tuple[bytes, int, str, int]] = field(default_factory=list)


def read_zonefile(
    path: str | os.PathLike[str], origin: bytes, *, default_ttl: int | None = None
) -> ParsedZone:
    """Read a master file; ``origin`` is the wire-form origin that relative names complete."""
    spath = os.fspath(path)
    state = _State(records=[], dollar_ttl=default_ttl, last_ttl=None, warnings=[])
    _read(spath, origin, state, 0)
    if state.large:
        state.warnings += _oversized_rrsets(state.records, state.large)
    return ParsedZone(origin=origin, path=spath, records=state.records, warnings=state.warnings)


def _oversized_rrsets(records: list[Record], large: list[tuple[bytes, int, str, int]]) -> list[str]:
    """Warnings for the RRsets that hold a large record and cannot fit in a message.

    One pass over the zone, paid only by zones with records of more than
    ``rrset_size.LARGE_RDATA`` octets; RRsets of smaller records are measured by the checks.
    """
    where: dict[tuple[bytes, int], str] = {}
    for owner, rdtype, path, line in large:
        where.setdefault((owner.lower(), rdtype), f"{path}:{line}")
    candidates = [r for r in records if (r[0].lower(), r[1]) in where]
    return [
        f"{where[(owner.lower(), rdtype)]}: {rrset_size.describe(owner, rdtype, count, size)}"
        for owner, rdtype, count, size in rrset_size.oversized(candidates)
    ]


def _read(
    path: str,
    origin: bytes,
    state: _State,
    depth: int,
    where: str | None = None,
    where_line: int | None = None,
) -> None:
    try:
        # newline="\n": split lines on LF only; a stray CR stays in the line (white space).
        f = open(path, encoding="latin-1", newline="\n")  # noqa: SIM115 - closed below
    except OSError as e:
        what = "$INCLUDE file" if where else "zone file"
        raise ZoneDataError(
            f"cannot read {what} {path!r}: {e.strerror or e}",
            path=where or path,
            line=where_line,
        ) from None
    with f:
        _parse(f.readlines, path, origin, state, depth)


def _gather(
    first: str,
    lineno: int,
    lines: Iterator[tuple[int, str]],
    chunk: list[str],
    end: int,
    readlines: Callable[[int], list[str]],
    path: str,
) -> list[str]:
    """Tokens of a record that needs the full lexer, joining lines while a '(' is open.

    ``lines`` enumerates ``chunk``, whose last line number is ``end``; when the record runs
    past it, the next chunk of the file is appended to ``chunk`` (a list iterator sees the
    appended items as long as it was never exhausted).
    """
    try:
        tokens, depth = rdata.split_line(first, 0)
    except ValueError as e:
        raise ZoneDataError(str(e), path=path, line=lineno) from None
    current = lineno
    while depth:
        if current >= end:
            more = readlines(_CHUNK)
            if not more:
                raise ZoneDataError(
                    f"unbalanced parenthesis: '(' opened on line {lineno} is never closed",
                    path=path,
                    line=lineno,
                )
            chunk += more
            end += len(more)
        current, line = next(lines)
        try:
            more_tokens, depth = rdata.split_line(line, depth)
        except ValueError as e:
            raise ZoneDataError(str(e), path=path, line=current) from None
        tokens += more_tokens
    return tokens


def _ttl_value(tok: str, path: str, line: int) -> int:
    """The TTL as written (up to 2^32 - 1); callers pass it through :func:`_limit_ttl`."""
    try:
        return rdata.parse_ttl(tok)
    except ValueError as e:
        raise ZoneDataError(f"bad TTL {tok!r}: {e}", path=path, line=line) from None


def _limit_ttl(ttl: int, what: str, path: str, line: int, warnings: list[str]) -> int:
    if ttl > _MAX_TTL:
        warnings.append(
            f"{path}:{line}: TTL {what} is 2^31 or more; read as 0 (RFC 2181 §8, as BIND does)"
        )
        return 0
    return ttl


def _wildcard_ns(owner: bytes, path: str, line: int, warnings: list[str]) -> None:
    warnings.append(
        f"{path}:{line}: NS record at the wildcard {names.to_text(owner)}: it delegates the"
        " name '*' only, and resolvers do not synthesise referrals from it (RFC 4592 §4.2)"
    )


def _header(
    tokens: list[str],
    i: int,
    path: str,
    line: int,
    ttl_cache: dict[str, int],
    type_cache: dict[str, int],
    warnings: list[str],
) -> tuple[int, int, int]:
    """``[TTL] [class] type`` in either order from ``tokens[i]``: (ttl or -1, next index, type).

    The general form of what the reader's loop does inline for the usual spellings; it also
    produces every error message about these fields, and adds what it learnt to the caches.
    """
    ttl = -1
    seen_class = False
    n = len(tokens)
    while True:
        if i >= n:
            raise ZoneDataError("record has no type", path=path, line=line)
        tok = tokens[i]
        upper = tok.upper()
        if "0" <= tok[0] <= "9":
            if ttl >= 0:
                raise ZoneDataError(f"second TTL {tok!r} in record", path=path, line=line)
            ttl = _ttl_value(tok, path, line)
            if ttl > _MAX_TTL:
                # Kept out of the cache, so that every record using it is warned about.
                ttl = _limit_ttl(ttl, tok, path, line, warnings)
            elif len(ttl_cache) < 1000:
                ttl_cache[tok] = ttl
        elif upper in ("IN", "CLASS1") and not seen_class:
            seen_class = True
        elif upper in _OTHER_CLASSES or (upper.startswith("CLASS") and upper[5:].isdigit()):
            raise ZoneDataError(f"class {tok} is not supported (only IN)", path=path, line=line)
        else:
            break
        i += 1
    try:
        code = rdata.type_from_text(tok)
    except ValueError:
        raise ZoneDataError(f"unknown type {tok!r}", path=path, line=line) from None
    if code in _META_TYPES:
        raise ZoneDataError(f"type {tok} cannot appear in a zone", path=path, line=line)
    if len(type_cache) < 1000:
        type_cache[tok] = code
    return ttl, i + 1, code


_LENGTH = [bytes((i,)) for i in range(64)]


def _new_name(text: str, origin: bytes, cache: dict[str, bytes]) -> bytes:
    """Wire form of a name not in ``cache`` (text -> wire under ``origin``), added to it.

    A shortcut for escape-free names: one label is one concatenation, and a name whose parent
    is cached (``ns1.example`` after ``example``) reuses the parent's wire form. Anything
    else, and every error, goes through :func:`names.from_text`. ValueError if bad.
    """
    wire = None
    if rdata.has_quote(text):
        raise ValueError("a name cannot hold a quoted string")
    if "\\" not in text and text != "@" and text != ".":
        dot = text.find(".")
        if dot < 0:
            if len(text) < 64:
                wire = _LENGTH[len(text)] + text.encode("latin-1") + origin
        elif 0 < dot < 64:
            # "@" and "." mean the origin and the root only standing alone: as the tail of
            # a name they are a label "@" and an empty label, so their cached wire forms
            # must not be reused here.
            tail = text[dot + 1 :]
            parent = cache.get(tail) if tail != "@" and tail != "." else None
            if parent is not None:
                wire = _LENGTH[dot] + text[:dot].encode("latin-1") + parent
            else:
                wire = _dotted(text, origin)
        if wire is not None and len(wire) > 255:
            wire = None
    if wire is None:
        wire = names.from_text(text, origin)
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[text] = wire
    return wire


def _dotted(text: str, origin: bytes) -> bytes | None:
    if text[-1] == ".":
        parts = text[:-1].encode("latin-1").split(b".")
        tail = names.ROOT
    else:
        parts = text.encode("latin-1").split(b".")
        tail = origin
    for part in parts:
        if not 0 < len(part) < 64:
            return None
    return b"".join([_LENGTH[len(part)] + part for part in parts]) + tail


def _name_value(text: str, origin: bytes, path: str, line: int) -> bytes:
    """A name in a directive, or a ZoneDataError saying why it is bad."""
    try:
        if rdata.has_quote(text):
            raise ValueError("a name cannot hold a quoted string")
        return names.from_text(text, origin)
    except ValueError as e:
        raise ZoneDataError(f"bad name {text!r}: {e}", path=path, line=line) from None


def _parse(
    readlines: Callable[[int], list[str]], path: str, origin: bytes, state: _State, depth: int
) -> None:
    # One long loop on purpose: this is the hot path for multi-million-record files, and
    # locals plus inline common cases are what make it fast in CPython. The file is read in
    # chunks of lines; a chunk with no character the fast path cannot lex (the usual case in
    # a big zone) skips the per-line check altogether.
    append = state.records.append
    special = _SPECIAL.search
    dollar_ttl = state.dollar_ttl
    last_ttl = state.last_ttl
    owner = b""
    owner_text = ""
    wild = False  # the owner's first label is "*"
    warnings = state.warnings
    large = state.large
    large_rdata = rrset_size.LARGE_RDATA
    name_cache: dict[str, bytes] = {}  # owners and NS/CNAME/PTR/DNAME targets, this origin
    ttl_cache: dict[str, int] = {}
    type_cache: dict[str, int] = {}
    from_tokens = rdata.from_tokens
    name_types = _NAME_TYPES
    inet_pton = socket.inet_pton
    af_inet, af_inet6 = socket.AF_INET, socket.AF_INET6
    cache_limit = _CACHE_LIMIT
    max_label = min(63, 254 - len(origin))  # longest one-label owner that fits
    base = 1

    while chunk := readlines(_CHUNK):
        dirty = not _clean("".join(chunk))
        lines = enumerate(chunk, base)
        for lineno, line in lines:
            if dirty and special(line) is not None:
                end = base + len(chunk) - 1
                tokens = _gather(line, lineno, lines, chunk, end, readlines, path)
            else:
                if ";" in line:
                    line = line[: line.index(";")]
                tokens = line.split()
            if not tokens:
                continue
            tok = tokens[0]
            first = line[0]
            if first == " " or first == "\t":
                if not owner:
                    raise ZoneDataError("record has no owner name", path=path, line=lineno)
                i = 0
            elif tok[0] == "$":
                if dirty and tok.upper() == "$GENERATE" and _has_parenthesis(line):
                    # BIND reads $GENERATE from one line; its rdata is one (quoted) token.
                    raise ZoneDataError("$GENERATE cannot use parentheses", path=path, line=lineno)
                state.dollar_ttl, state.last_ttl = dollar_ttl, last_ttl
                new_origin = _directive(tokens, path, lineno, origin, state, depth)
                dollar_ttl, last_ttl = state.dollar_ttl, state.last_ttl
                if new_origin != origin:
                    origin = new_origin
                    max_label = min(63, 254 - len(origin))
                    name_cache.clear()
                    owner_text = ""
                continue
            else:
                if tok != owner_text:
                    cached = name_cache.get(tok)
                    if (
                        cached is None
                        and not dirty
                        and len(tok) <= max_label
                        and "." not in tok
                        and tok != "@"
                    ):
                        # The usual new owner: one label below the origin, no escapes.
                        cached = _LENGTH[len(tok)] + tok.encode("latin-1") + origin
                        if len(name_cache) >= cache_limit:
                            name_cache.clear()
                        name_cache[tok] = cached
                    if cached is None:
                        try:
                            cached = _new_name(tok, origin, name_cache)
                        except ValueError as e:
                            raise ZoneDataError(
                                f"bad name {tok!r}: {e}", path=path, line=lineno
                            ) from None
                    owner = cached
                    owner_text = tok
                    wild = cached[0] == 1 and cached[1] == 42
                i = 1

            # [TTL] [IN] type and [IN] [TTL] type inline; anything else through _header.
            start = i
            n = len(tokens)
            try:
                tok = tokens[i]
                if "0" <= tok[0] <= "9":
                    ttl = ttl_cache[tok]
                    i += 1
                    tok = tokens[i]
                else:
                    ttl = -1
                if tok == "IN" or tok == "in":
                    i += 1
                    tok = tokens[i]
                    if ttl < 0 and "0" <= tok[0] <= "9":
                        ttl = ttl_cache[tok]
                        i += 1
                        tok = tokens[i]
                rdtype = type_cache[tok]
                i += 1
            except (IndexError, KeyError):
                # Not seen before or not the usual spelling: the general path parses it (or
                # says what is wrong) and teaches the caches.
                ttl, i, rdtype = _header(
                    tokens, start, path, lineno, ttl_cache, type_cache, warnings
                )

            if n == i + 1:
                tok = tokens[i]
                if rdtype in name_types and tok != "\\#":
                    cached = name_cache.get(tok)
                    if cached is None:
                        try:
                            cached = _new_name(tok, origin, name_cache)
                        except ValueError:
                            cached = _rdata_value(rdtype, tokens[i:], origin, path, lineno)
                    wire = cached
                elif rdtype == 1 or rdtype == 28:
                    try:
                        wire = inet_pton(af_inet if rdtype == 1 else af_inet6, tok)
                    except (OSError, ValueError):
                        wire = _rdata_value(rdtype, tokens[i:], origin, path, lineno)
                else:
                    wire = _rdata_value(rdtype, tokens[i:], origin, path, lineno)
                    if len(wire) > large_rdata:
                        large.append((owner, rdtype, path, lineno))
            else:
                try:
                    wire = from_tokens(rdtype, tokens[i:], origin)
                except ValueError:
                    wire = _rdata_value(rdtype, tokens[i:], origin, path, lineno)
                if len(wire) > large_rdata:
                    large.append((owner, rdtype, path, lineno))

            if ttl < 0:
                if dollar_ttl is not None:
                    ttl = dollar_ttl
                elif last_ttl is not None:
                    ttl = last_ttl
                elif rdtype == _SOA:
                    # RFC 1035 zones had no $TTL; the SOA MINIMUM was the default TTL then.
                    # As in BIND, it acts as a $TTL from here on, not as a last TTL.
                    ttl = int.from_bytes(wire[-4:], "big")
                    ttl = _limit_ttl(ttl, f"{ttl} (SOA MINIMUM)", path, lineno, warnings)
                    dollar_ttl = ttl
                else:
                    raise ZoneDataError(
                        "no TTL specified (no $TTL and no earlier TTL)", path=path, line=lineno
                    )
            else:
                last_ttl = ttl
            if wild and rdtype == 2:
                _wildcard_ns(owner, path, lineno, warnings)
            append((owner, rdtype, ttl, wire, lineno))
        base += len(chunk)

    state.dollar_ttl, state.last_ttl = dollar_ttl, last_ttl


def _rdata_value(rdtype: int, tokens: list[str], origin: bytes, path: str, line: int) -> bytes:
    try:
        return rdata.from_tokens(rdtype, tokens, origin)
    except ValueError as e:
        text = " ".join(tokens)
        if len(text) > 80:
            text = text[:80] + "…"
        raise ZoneDataError(
            f"bad {rdata.type_to_text(rdtype)} rdata {text!r}: {e}", path=path, line=line
        ) from None


def _directive(
    tokens: list[str], path: str, line: int, origin: bytes, state: _State, depth: int
) -> bytes:
    """Apply a $-directive; returns the origin that holds after it."""
    word = tokens[0].upper()
    args = tokens[1:]
    if word == "$ORIGIN":
        if len(args) != 1:
            raise ZoneDataError("$ORIGIN takes one name", path=path, line=line)
        return _name_value(args[0], origin, path, line)
    if word == "$TTL":
        if len(args) != 1:
            raise ZoneDataError("$TTL takes one TTL", path=path, line=line)
        ttl = _ttl_value(args[0], path, line)
        state.dollar_ttl = _limit_ttl(ttl, args[0], path, line, state.warnings)
        return origin
    if word == "$INCLUDE":
        if not 1 <= len(args) <= 2:
            raise ZoneDataError("$INCLUDE takes a file name and an optional origin",
                                path=path, line=line)  # fmt: skip
        if depth >= _MAX_INCLUDE_DEPTH:
            raise ZoneDataError(
                f"$INCLUDE nested more than {_MAX_INCLUDE_DEPTH} deep (a loop?)",
                path=path,
                line=line,
            )
        try:
            name = rdata.unescape(args[0]).decode("latin-1")
        except ValueError as e:
            raise ZoneDataError(f"bad $INCLUDE file name: {e}", path=path, line=line) from None
        inc_origin = _name_value(args[1], origin, path, line) if len(args) == 2 else origin
        inc_path = os.path.join(os.path.dirname(path), name)
        _read(inc_path, inc_origin, state, depth + 1, where=path, where_line=line)
        return origin  # RFC 1035 §5.1: an $INCLUDE does not change the parent's origin
    if word == "$GENERATE":
        _generate(tokens, path, line, origin, state)
        return origin
    raise ZoneDataError(f"unknown directive {tokens[0]}", path=path, line=line)


_BARE = re.compile(r'\\.|"(?:[^"\\]|\\.)*"|;.*', re.S)


def _has_parenthesis(line: str) -> bool:
    """A '(' or ')' outside quoted strings, escapes and the comment."""
    if "(" not in line and ")" not in line:
        return False
    bare = _BARE.sub("", line)
    return "(" in bare or ")" in bare


def _generate(tokens: list[str], path: str, line: int, origin: bytes, state: _State) -> None:
    """``$GENERATE range lhs [ttl] [class] type rhs``, read as BIND reads it.

    As in BIND, ``rhs`` is one token: RDATA of several fields is written as one quoted
    string (``"10 mx$"``), in which ``\\"`` stands for a quote and other escapes are kept
    for the RDATA reader. The TTL is the one written, else ``$TTL``, else the last TTL
    written; a written TTL then carries on as the last one. Each record gets the line of
    the ``$GENERATE``. Template syntax and BIND's corners: :mod:`signwire.loading.generate`.
    """
    if len(tokens) < 5:
        raise ZoneDataError(
            "$GENERATE takes a range, an owner, [TTL] [class], a type and rdata",
            path=path,
            line=line,
        )
    warnings = state.warnings
    ttl, i, rdtype = _header(tokens, 3, path, line, {}, {}, warnings)
    if len(tokens) != i + 1:
        raise ZoneDataError(
            '$GENERATE takes its rdata as one token: quote rdata of several fields ("10 mail$")',
            path=path,
            line=line,
        )
    lhs, rhs = tokens[2], tokens[i]
    try:
        if rdata.is_quoted(rhs):
            # BIND's lexer hands on a quoted token without its quotes, \" as a bare quote
            # and every other escape as written.
            rhs = rhs[1:-1].replace('\\"', '"')
        elif rdata.has_quote(rhs) or rdata.has_quote(lhs):
            raise ValueError("a quoted string must be the whole owner or rdata token")
        values = generate.parse_range(tokens[1])
        lhs_t = generate.compile_template(lhs)
        rhs_t = generate.compile_template(rhs)
    except ValueError as e:
        raise ZoneDataError(f"$GENERATE: {e}", path=path, line=line) from None
    if ttl < 0:
        if state.dollar_ttl is not None:
            ttl = state.dollar_ttl
        elif state.last_ttl is not None:
            ttl = state.last_ttl
        else:
            raise ZoneDataError(
                "no TTL specified (no $TTL and no earlier TTL)", path=path, line=line
            )
    else:
        state.last_ttl = ttl

    append = state.records.append
    owners: dict[str, bytes] = {}  # records of one owner share its bytes, as elsewhere
    for value in values:
        try:
            owner_text = lhs_t.expand(value)
            rdata_text = rhs_t.expand(value)
        except ValueError as e:
            raise ZoneDataError(f"$GENERATE: {e}", path=path, line=line) from None
        owner = owners.get(owner_text)
        if owner is None:
            try:
                owner = names.from_text(owner_text, origin)
            except ValueError as e:
                raise ZoneDataError(
                    f"$GENERATE: bad name {owner_text!r}: {e}", path=path, line=line
                ) from None
            if len(owners) < 1000:
                owners[owner_text] = owner
        try:
            wire = rdata.from_text(rdtype, rdata_text, origin)
        except ValueError as e:
            text = rdata_text if len(rdata_text) <= 80 else rdata_text[:80] + "…"
            raise ZoneDataError(
                f"$GENERATE: bad {rdata.type_to_text(rdtype)} rdata {text!r}: {e}",
                path=path,
                line=line,
            ) from None
        if rdtype == 2 and owner[0] == 1 and owner[1] == 42:
            _wildcard_ns(owner, path, line, warnings)
        if len(wire) > rrset_size.LARGE_RDATA:
            state.large.append((owner, rdtype, path, line))
        append((owner, rdtype, ttl, wire, line))
