"""Reading a signed zone file into :class:`ZoneContents` for the verifier (RFC 1035 §5).

The verifier must not share the signer's reader (``signwire.loading``), so it reads zone files
with dnspython. ``dns.zone.from_file`` is correct but slow on signed zones (its character-level
tokenizer costs about 0.3 ms a record), so the layout signers write, one record per line,
possibly continued with parentheses, is split here with ``str`` methods: the types that fill
signed zones (RRSIG, NSEC, NSEC3, A, AAAA, NS) are built directly from their fields with
dnspython's rdata classes, every other RDATA, and anything those builders refuse, goes to
``dns.rdata.from_text``. Anything unusual (``$INCLUDE``, ``$GENERATE``, escapes in owner names,
a quoted string across lines) sends the whole file through ``dns.zone.from_text`` instead; the
tests check that both paths give the same contents.

Unlike a loader, the fast path keeps what a zone should not have and reports it rather than
dropping it: names outside the zone, duplicate records, a second SOA/CNAME/NSEC at one name,
and RRsets whose records disagree on TTL. (dnspython's own reader, on the fallback path, drops
out-of-zone names and data beside a CNAME silently.)
"""

from __future__ import annotations

import base64
import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import dns.dnssectypes
import dns.exception
import dns.name
import dns.node
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.ttl
import dns.zone
from dns.rdtypes.ANY.NS import NS
from dns.rdtypes.ANY.NSEC import NSEC
from dns.rdtypes.ANY.NSEC3 import NSEC3
from dns.rdtypes.ANY.RRSIG import RRSIG
from dns.rdtypes.ANY.SOA import SOA
from dns.rdtypes.IN.A import A
from dns.rdtypes.IN.AAAA import AAAA
from dns.rdtypes.rrsigbase import sigtime_to_posixtime
from dns.rdtypes.util import Bitmap

from signwire.errors import ZoneDataError
from signwire.verify.report import ProblemLog, type_text

_IN = dns.rdataclass.IN
_RRSIG = dns.rdatatype.RRSIG
_SOA = dns.rdatatype.SOA

# Characters that need more than whitespace splitting: escapes, quotes, parentheses, comments.
_SPECIAL = re.compile(r'[\\"();]')
_SCAN = re.compile(r'\\.|["();]')
_WHERE = re.compile(r"^(?P<path>.*?):(?P<line>\d+): (?P<msg>.*)$", re.DOTALL)


@dataclass
class Signatures:
    """The RRSIG records at one owner name that cover one type."""

    ttl: int
    rrsigs: list[RRSIG] = field(default_factory=list)


@dataclass
class ZoneContents:
    """Every RRset of one zone file, by owner name and type, and the RRSIGs beside them.

    RRSIGs are kept apart, by the type they cover, as plain lists: they are checked one by one,
    and keeping them out of ``Rdataset`` (which hashes every record's wire form to keep a set)
    halves the cost of reading a signed zone.
    """

    origin: dns.name.Name
    nodes: dict[dns.name.Name, dict[int, dns.rdataset.Rdataset]] = field(default_factory=dict)
    sigs: dict[dns.name.Name, dict[int, Signatures]] = field(default_factory=dict)
    log: ProblemLog = field(default_factory=ProblemLog)
    """Problems found while reading (out-of-zone names, duplicates, TTL mismatches)."""
    _last: tuple[dns.name.Name | None, dict[int, dns.rdataset.Rdataset]] = (None, {})

    def add(self, name: dns.name.Name, ttl: int, rd: dns.rdata.Rdata) -> None:
        last_name, node = self._last
        if name is not last_name:
            if not name.is_subdomain(self.origin):
                self.log.error(name, _type_text(rd), "record outside the zone")
                return
            found = self.nodes.get(name)
            if found is None:
                found = self.nodes[name] = {}
            node = found
            self._last = (name, node)
        if rd.rdtype == _RRSIG:
            self._add_rrsig(name, ttl, cast(RRSIG, rd))
            return
        rds = node.get(rd.rdtype)
        if rds is None:
            rds = node[rd.rdtype] = dns.rdataset.Rdataset(_IN, rd.rdtype, dns.rdatatype.NONE, ttl)
        elif ttl != rds.ttl:
            # RFC 2181 §5.2: the records of an RRset must share one TTL. Keep the lowest, as a
            # resolver would, so the RRSIG Original TTL check sees the effective value.
            self.log.warning(
                name,
                _type_text(rd),
                f"records of the RRset have different TTLs ({rds.ttl} and {ttl}, RFC 2181 §5.2)",
            )
            rds.update_ttl(ttl)
        before = len(rds)
        if before and dns.rdatatype.is_singleton(rd.rdtype) and rd not in rds:
            # Rdataset.add would silently replace it (SOA, CNAME, DNAME, NSEC allow one).
            self.log.error(name, _type_text(rd), "more than one record of this type at the name")
            return
        rds.add(rd)
        if len(rds) == before:
            self.log.warning(name, _type_text(rd), "duplicate record")

    def _add_rrsig(self, name: dns.name.Name, ttl: int, rd: RRSIG) -> None:
        by_type = self.sigs.get(name)
        if by_type is None:
            by_type = self.sigs[name] = {}
        sigs = by_type.get(rd.type_covered)
        if sigs is None:
            sigs = by_type[rd.type_covered] = Signatures(ttl)
        elif ttl != sigs.ttl:
            sigs.ttl = min(ttl, sigs.ttl)
        if any(rd.signature == other.signature for other in sigs.rrsigs):
            self.log.warning(name, _type_text(rd), "duplicate record")
            return
        sigs.rrsigs.append(rd)

    def rdataset(self, name: dns.name.Name, rdtype: int) -> dns.rdataset.Rdataset | None:
        node = self.nodes.get(name)
        return None if node is None else node.get(rdtype)


def _type_text(rd: dns.rdata.Rdata) -> str:
    if rd.rdtype == _RRSIG:
        return f"RRSIG {type_text(rd.covers())}"
    return type_text(rd.rdtype)


class _Fallback(Exception):
    """The fast path met syntax it leaves to dnspython's full zone-file reader."""


def read_zone_file(path: str, origin: dns.name.Name | str) -> ZoneContents:
    """Read ``path``; raise :class:`ZoneDataError` (with file and line) if it is not a zone."""
    return read_zone_text(load_zone_text(path), origin, path=path)


def load_zone_text(path: str) -> str:
    """The text of a zone file; :class:`ZoneDataError` if it cannot be read or is binary."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ZoneDataError(f"cannot read the zone file: {e.strerror}", path=path) from None
    if b"\0" in data:
        raise ZoneDataError("not a text zone file (it holds NUL bytes)", path=path)
    return decode_zone_bytes(data)


def _escape_undecodable(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    bad = error.object[error.start : error.end]
    return "".join(f"\\{b:03d}" for b in bad), error.end


codecs.register_error("signwire-zone-escape", _escape_undecodable)


def decode_zone_bytes(data: bytes) -> str:
    """Zone-file bytes as text, each byte that is not UTF-8 written as its ``\\DDD`` escape.

    A zone file is octets (RFC 1035 §5.1): BIND, Knot and ldns read a raw octet in a TXT string
    or a label as that octet, and so does this reader; ``\\DDD`` is how they write it back.
    """
    return data.decode("utf-8", errors="signwire-zone-escape")


# BIND writes NID and L64 locators (RFC 6742) with leading zeros dropped from each 16-bit group
# (``14:4fff:ff20:ee64``); dnspython takes only four hex digits a group.
_LOCATOR = re.compile(
    r"(?i)(\b(?:NID|L64)\s+\d+\s+)([0-9a-f]{1,4}):([0-9a-f]{1,4}):([0-9a-f]{1,4}):([0-9a-f]{1,4})\b"
)
_HAS_LOCATOR = re.compile(r"(?i)\b(?:NID|L64)\b")


def _pad_locators(text: str) -> str:
    if not _HAS_LOCATOR.search(text):
        return text
    lines = text.split("\n")
    for i, line in enumerate(lines):
        # A quoted string may hold these words as data: such lines are left alone.
        if '"' not in line and _HAS_LOCATOR.search(line):
            lines[i] = _LOCATOR.sub(
                lambda m: m[1] + ":".join(g.zfill(4) for g in m.groups()[1:]), line
            )
    return "\n".join(lines)


def read_zone_text(text: str, origin: dns.name.Name | str, *, path: str = "<text>") -> ZoneContents:
    """Parse zone-file text; relative names are completed with ``origin``."""
    if isinstance(origin, str):
        origin = dns.name.from_text(origin)
    text = _pad_locators(text)
    try:
        return _FastReader(text, origin, path).read()
    except _Fallback:
        return _read_with_dnspython(text, origin, path)


def _read_with_dnspython(text: str, origin: dns.name.Name, path: str) -> ZoneContents:
    try:
        zone = dns.zone.from_text(
            text,
            origin,
            relativize=False,
            check_origin=False,
            filename=path,
            allow_include=True,
        )
    except dns.exception.SyntaxError as e:
        raise _where(str(e), path) from None
    except dns.exception.DNSException as e:
        raise ZoneDataError(str(e), path=path) from None
    contents = ZoneContents(origin)
    for name, node in zone.nodes.items():
        assert isinstance(node, dns.node.Node)
        for rds in node.rdatasets:
            for rd in rds:
                contents.add(name, rds.ttl, rd)
    return contents


def _where(message: str, path: str) -> ZoneDataError:
    m = _WHERE.match(message)
    if m is None:
        return ZoneDataError(message, path=path)
    return ZoneDataError(m["msg"], path=m["path"], line=int(m["line"]))


class _FastReader:
    def __init__(self, text: str, origin: dns.name.Name, path: str) -> None:
        self.text = text
        self.contents = ZoneContents(origin)
        self.path = path
        self.current_origin = origin
        self.last_name: dns.name.Name | None = None
        self.default_ttl: int | None = None
        self.default_ttl_from_soa = False
        self.last_ttl: int | None = None
        self.names: dict[str, dns.name.Name] = {}
        """Names already parsed under the current origin (signed zones repeat owners)."""
        self.types: dict[str, dns.rdatatype.RdataType] = {}
        # Direct constructors for the types that fill signed zones; the rest, and anything these
        # refuse, go through dns.rdata.from_text.
        self._builders: dict[int, Callable[[list[str], int], dns.rdata.Rdata]] = {
            _RRSIG: self._rrsig,
            dns.rdatatype.NSEC: self._nsec,
            dns.rdatatype.NSEC3: self._nsec3,
            dns.rdatatype.A: _a,
            dns.rdatatype.AAAA: _aaaa,
            dns.rdatatype.NS: self._ns,
        }

    def read(self) -> ZoneContents:
        depth = 0
        parts: list[str] = []
        start = 1
        indented = False
        tricky = False
        for lineno, line in enumerate(self.text.splitlines(), 1):
            if _SPECIAL.search(line):
                content, delta, escaped = _scan(line)
            else:
                content, delta, escaped = line, 0, False
            if depth == 0:
                parts = [content]
                start = lineno
                indented = line[:1] in (" ", "\t")
                tricky = escaped
            else:
                parts.append(content)
                tricky = tricky or escaped
            depth += delta
            if depth < 0:
                raise ZoneDataError("unbalanced parentheses", path=self.path, line=lineno)
            if depth == 0:
                text = parts[0] if len(parts) == 1 else " ".join(parts)
                self._record(text, indented, tricky, start)
        if depth:
            raise ZoneDataError("unbalanced parentheses at end of file", path=self.path, line=start)
        return self.contents

    def _name(self, text: str, line: int) -> dns.name.Name:
        name = self.names.get(text)
        if name is None:
            try:
                name = dns.name.from_text(text, self.current_origin)
            except dns.exception.DNSException as e:
                raise ZoneDataError(f"bad name {text!r}: {e}", path=self.path, line=line) from None
            origin = self.contents.origin
            if len(name) == len(origin) and name == origin:
                name = origin  # one object for the apex: later comparisons hit ``is`` first
            self.names[text] = name
        return name

    def _type(self, word: str, line: int) -> dns.rdatatype.RdataType:
        rdtype = self.types.get(word)
        if rdtype is None:
            if "\\" in word:
                raise _Fallback
            try:
                rdtype = dns.rdatatype.from_text(word)
            except dns.exception.DNSException:
                raise ZoneDataError(f"unknown type {word!r}", path=self.path, line=line) from None
            self.types[word] = rdtype
        return rdtype

    def _record(self, text: str, indented: bool, tricky: bool, line: int) -> None:
        words = text.split()
        if not words:
            return
        pos = 0
        if not indented:
            word = words[0]
            if word.startswith("$"):
                self._directive(word.upper(), words[1:], line)
                return
            if "\\" in word:
                raise _Fallback
            self.last_name = self._name(word, line)
            pos = 1
        if self.last_name is None:
            raise ZoneDataError("record with no owner name", path=self.path, line=line)
        name = self.last_name
        ttl, pos = self._header(words, pos, line)
        if pos >= len(words):
            raise ZoneDataError("record has no type", path=self.path, line=line)
        rdtype = self._type(words[pos], line)
        rd: dns.rdata.Rdata | None = None
        if tricky:
            # Quotes or escapes: whitespace inside them matters, so cut the original text after
            # the type word instead of re-joining the split words.
            at = [m.end() for m in re.finditer(r"\S+", text)][pos]
            rdata_text = text[at:]
        else:
            build = self._builders.get(rdtype)
            if build is not None:
                try:
                    rd = build(words[pos + 1 :], line)
                except (
                    ValueError,
                    KeyError,
                    IndexError,
                    ZoneDataError,
                    dns.exception.DNSException,
                ):
                    rd = None  # dnspython parses it again below and says what is wrong
            rdata_text = " ".join(words[pos + 1 :])
        if rd is None:
            try:
                rd = dns.rdata.from_text(
                    _IN, rdtype, rdata_text, self.current_origin, relativize=False
                )
            except Exception as e:  # dnspython raises ValueError etc. as well as its own errors
                raise ZoneDataError(
                    f"bad {type_text(rdtype)} record: {e}", path=self.path, line=line
                ) from None
        if rdtype == _SOA and self.default_ttl is None:
            # Pre-RFC 2308 files with no $TTL take the default from the SOA MINIMUM, as
            # dnspython and BIND do.
            self.default_ttl = int(cast(SOA, rd).minimum)
            self.default_ttl_from_soa = True
            if ttl is None:
                ttl = self._implicit_ttl()
        if ttl is None:
            raise ZoneDataError("missing TTL and no $TTL default", path=self.path, line=line)
        self.contents.add(name, ttl, rd)

    def _header(self, words: list[str], pos: int, line: int) -> tuple[int | None, int]:
        """[TTL] [class] [TTL] before the type, in either order, as RFC 1035 §5.1 allows."""
        ttl: int | None = None
        n = len(words)
        if pos < n and words[pos][:1].isdigit():
            ttl = self._ttl(words[pos], line)
            pos += 1
        if pos < n:
            word = words[pos]
            if word == "IN" or word.upper() == "IN":
                pos += 1
            elif not word[:1].isdigit():
                try:
                    rdclass = dns.rdataclass.from_text(word)
                except dns.rdataclass.UnknownRdataclass:
                    rdclass = None
                if rdclass is not None:
                    raise ZoneDataError(f"class {word} is not IN", path=self.path, line=line)
        if ttl is None and pos < n and words[pos][:1].isdigit():
            ttl = self._ttl(words[pos], line)
            pos += 1
        if ttl is None:
            ttl = self._implicit_ttl()
        else:
            self.last_ttl = ttl
        return ttl, pos

    def _ttl(self, word: str, line: int) -> int:
        if word.isdigit() and len(word) < 10:
            return int(word)
        try:
            return dns.ttl.from_text(word)
        except dns.exception.DNSException as e:
            raise ZoneDataError(f"bad TTL {word!r}: {e}", path=self.path, line=line) from None

    def _implicit_ttl(self) -> int | None:
        # RFC 2308 §4 and RFC 1035 §5.1, in dnspython's order: $TTL wins, else the last TTL
        # stated, else the SOA MINIMUM.
        if self.last_ttl is not None and (self.default_ttl is None or self.default_ttl_from_soa):
            return self.last_ttl
        return self.default_ttl

    def _directive(self, word: str, args: list[str], line: int) -> None:
        if word == "$ORIGIN" and len(args) == 1 and "\\" not in args[0]:
            origin = self._name(args[0], line)
            if origin != self.current_origin:
                self.current_origin = origin
                self.names = {}
            return
        if word == "$TTL" and len(args) == 1:
            self.default_ttl = self._ttl(args[0], line)
            self.default_ttl_from_soa = False
            return
        # $INCLUDE, $GENERATE and anything odd: dnspython's reader knows them.
        raise _Fallback

    def _rrsig(self, f: list[str], line: int) -> dns.rdata.Rdata:
        if len(f) < 9:
            raise ValueError("short RRSIG")
        return RRSIG(  # type: ignore[no-untyped-call]
            _IN,
            _RRSIG,
            self._type(f[0], line),
            dns.dnssectypes.Algorithm.make(int(f[1]) if f[1].isdigit() else f[1]),
            int(f[2]),
            self._ttl(f[3], line),
            sigtime_to_posixtime(f[4]),  # type: ignore[no-untyped-call]
            sigtime_to_posixtime(f[5]),  # type: ignore[no-untyped-call]
            int(f[6]),
            self._name(f[7], line),
            base64.b64decode("".join(f[8:]).encode(), validate=True),
        )

    def _nsec(self, f: list[str], line: int) -> dns.rdata.Rdata:
        types = sorted({self._type(t, line) for t in f[1:]})
        windows = Bitmap.from_rdtypes(types).windows
        return NSEC(_IN, dns.rdatatype.NSEC, self._name(f[0], line), windows)  # type: ignore[no-untyped-call]

    def _nsec3(self, f: list[str], line: int) -> dns.rdata.Rdata:
        digest = f[4].upper()
        if len(digest) != 32:  # SHA-1 only; other lengths need dnspython's padding rules
            raise ValueError("not a SHA-1 hash")
        salt = b"" if f[3] == "-" else bytes.fromhex(f[3])
        types = sorted({self._type(t, line) for t in f[5:]})
        return NSEC3(  # type: ignore[no-untyped-call]
            _IN,
            dns.rdatatype.NSEC3,
            int(f[0]),
            int(f[1]),
            int(f[2]),
            salt,
            base64.b32hexdecode(digest),
            Bitmap.from_rdtypes(types).windows,
        )

    def _ns(self, f: list[str], line: int) -> dns.rdata.Rdata:
        if len(f) != 1:
            raise ValueError("NS takes one name")
        return NS(_IN, dns.rdatatype.NS, self._name(f[0], line))  # type: ignore[no-untyped-call]


def _a(f: list[str], line: int) -> dns.rdata.Rdata:
    if len(f) != 1:
        raise ValueError("A takes one address")
    return A(_IN, dns.rdatatype.A, f[0])  # type: ignore[no-untyped-call]


def _aaaa(f: list[str], line: int) -> dns.rdata.Rdata:
    if len(f) != 1:
        raise ValueError("AAAA takes one address")
    return AAAA(_IN, dns.rdatatype.AAAA, f[0])  # type: ignore[no-untyped-call]


def _scan(line: str) -> tuple[str, int, bool]:
    scanned = scan_line(line)
    if scanned is None:
        raise _Fallback  # a quoted string running onto the next line
    return scanned


def scan_line(line: str) -> tuple[str, int, bool] | None:
    """Strip a comment and count parentheses outside quotes.

    Returns the content (parentheses blanked), the change in nesting depth, and whether the line
    holds quotes or escapes (then its RDATA must go through dnspython's tokenizer); None when a
    quoted string runs onto the next line.
    """
    in_quote = False
    delta = 0
    tricky = False
    chars = list(line)
    end = len(line)
    for m in _SCAN.finditer(line):
        c = m.group()
        if c.startswith("\\"):
            tricky = True
            continue
        if c == '"':
            in_quote = not in_quote
            tricky = True
            continue
        if in_quote:
            continue
        if c == ";":
            end = m.start()
            break
        delta += 1 if c == "(" else -1
        chars[m.start()] = " "
    if in_quote:
        return None
    return "".join(chars[:end]), delta, tricky
