"""The lean path's zone-file reader: owner, type, TTL and RDATA text, nothing built.

Signed zones are mostly records nobody signs (NS and glue at delegations) and records checked
once (RRSIG, NSEC, NSEC3); building a dnspython object for each costs more than checking them.
This reader keeps every record as ``(type, ttl, rdata text)`` under its owner's name (absolute,
lowercased, no escapes), and leaves to the checks the conversion of what they need to wire form.

It reads the layouts that signwire, BIND (``dnssec-signzone``: owners left out on continuation
lines, records across lines in parentheses), Knot (no class) and ldns write. Anything it does not
handle raises :class:`~signwire.verify.lean_wire.Doubt`, and the full reader
(:mod:`signwire.verify.zone_reader`) reads the file instead: ``$INCLUDE``, ``$GENERATE``, an
``$ORIGIN`` other than the zone's, escapes in owner names, a quoted string across lines, and
every oddity the full reader reports (names outside the zone, duplicate records, TTLs that differ
inside an RRset, a second SOA/CNAME/DNAME/NSEC at one name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import dns.exception
import dns.rdatatype
import dns.ttl

from signwire.verify.lean_wire import Doubt

RRSIG = int(dns.rdatatype.RRSIG)
SOA = int(dns.rdatatype.SOA)
# RFC 2181 §10.1, RFC 6672, RFC 4034: one record of these per name (dnspython's singletons).
SINGLETONS = frozenset(
    int(t) for t in range(300) if dns.rdatatype.is_singleton(dns.rdatatype.RdataType.make(t))
)

_SPECIAL = re.compile(r'[\\"();]')
_SCAN = re.compile(r'\\.|["();]')

Record = tuple[int, int, str]
"""(type, TTL, RDATA text) of one record; an RRSIG's text starts with the type it covers."""


@dataclass
class LeanZone:
    origin: str
    """The apex, absolute and lowercased (``example.com.``)."""
    nodes: dict[str, list[Record]] = field(default_factory=dict)
    """Every owner name (absolute, lowercased) with its records, in file order."""
    types: dict[str, int] = field(default_factory=dict)
    """Type mnemonics seen, for the checks' conversions."""

    def type_number(self, word: str) -> int:
        rdtype = self.types.get(word)
        if rdtype is None:
            try:
                rdtype = int(dns.rdatatype.from_text(word))
            except dns.exception.DNSException:
                raise Doubt(f"unknown type {word!r}") from None
            self.types[word] = rdtype
        return rdtype


def read_lean(text: str, origin: str) -> LeanZone:
    """Read zone-file text; :class:`Doubt` when the full reader must read it instead."""
    origin = origin.lower()
    if not origin.endswith("."):
        origin += "."
    zone = LeanZone(origin)
    _Reader(zone).read(text)
    _check_rrsets(zone)
    return zone


class _Reader:
    def __init__(self, zone: LeanZone) -> None:
        self.zone = zone
        self.origin = zone.origin
        self.suffix = "." + zone.origin if zone.origin != "." else "."
        self.default_ttl: int | None = None
        self.last_ttl: int | None = None
        self.owner: str | None = None
        self.records: list[Record] = []
        self.names: dict[str, str] = {}

    def read(self, text: str) -> None:
        depth = 0
        parts: list[str] = []
        indented = False
        tricky = False
        special = _SPECIAL.search
        types = self.zone.types
        nodes = self.zone.nodes
        last_word = ""
        for line in text.split("\n"):
            if depth == 0 and not special(line):
                # The common line, as signers write it: "owner TTL IN TYPE RDATA".
                w = line.split(None, 4)
                if len(w) == 5 and w[2] == "IN" and w[1].isdigit() and line[0] not in " \t$":
                    rdtype = types.get(w[3])
                    if rdtype is not None:
                        if w[0] is not last_word and w[0] != last_word:
                            last_word = w[0]
                            owner = self._name(last_word)
                            if owner != self.owner:
                                recs = nodes.get(owner)
                                if recs is None:
                                    recs = nodes[owner] = []
                                self.owner, self.records = owner, recs
                        ttl = int(w[1])
                        self.last_ttl = ttl
                        self.records.append((rdtype, ttl, w[4]))
                        continue
                last_word = ""
                self._record(line, line[:1] in (" ", "\t"), False)
                continue
            last_word = ""
            if depth == 0 or special(line):
                content, delta, escaped = _scan(line)
            else:
                content, delta, escaped = line, 0, False
            if depth == 0:
                parts = [content]
                indented = line[:1] in (" ", "\t")
                tricky = escaped
            else:
                parts.append(content)
                tricky = tricky or escaped
            depth += delta
            if depth < 0:
                raise Doubt("unbalanced parentheses")
            if depth == 0:
                self._record(parts[0] if len(parts) == 1 else " ".join(parts), indented, tricky)
        if depth:
            raise Doubt("unbalanced parentheses at the end")

    def _name(self, word: str) -> str:
        name = self.names.get(word)
        if name is None:
            if "\\" in word or not word.isascii():
                raise Doubt("escaped or non-ASCII owner name")
            low = word.lower()
            if low == "@":
                name = self.origin
            elif low.endswith("."):
                name = low
            else:
                name = low + self.suffix
            if name != self.origin and not name.endswith(self.suffix) and self.origin != ".":
                raise Doubt(f"name outside the zone: {word}")
            if ".." in name or (name.startswith(".") and name != "."):
                raise Doubt(f"bad name {word!r}")
            self.names[word] = name
        return name

    def _record(self, text: str, indented: bool, tricky: bool) -> None:
        words = text.split()
        if not words:
            return
        if not indented:
            first = words[0]
            if first[0] == "$":
                self._directive(first.upper(), words[1:])
                return
            owner = self._name(first)
            if owner != self.owner:
                recs = self.zone.nodes.get(owner)
                if recs is None:
                    recs = self.zone.nodes[owner] = []
                self.owner, self.records = owner, recs
            pos = 1
        elif self.owner is None:
            raise Doubt("record with no owner")
        else:
            pos = 0
        ttl: int | None = None
        n = len(words)
        # [TTL] [class] [TTL] type, in either order (RFC 1035 §5.1)
        for _ in range(2):
            if pos >= n:
                raise Doubt("record with no type")
            word = words[pos]
            if word[0].isdigit():
                if ttl is not None:
                    raise Doubt("two TTLs")
                ttl = int(word) if word.isdigit() else _ttl(word)
                pos += 1
            elif word == "IN" or word.upper() == "IN":
                pos += 1
            else:
                break
        if pos >= n:
            raise Doubt("record with no type")
        rdtype = self.zone.type_number(words[pos])
        if ttl is None:
            ttl = self.default_ttl if self.default_ttl is not None else self.last_ttl
            if ttl is None:
                raise Doubt("record with no TTL")
        else:
            self.last_ttl = ttl
        if tricky:
            # Quotes or escapes: whitespace inside them matters; cut the text after the type.
            at = [m.end() for m in re.finditer(r"\S+", text)][pos]
            rdata = text[at:].strip()
        else:
            rdata = " ".join(words[pos + 1 :])
        self.records.append((rdtype, ttl, rdata))

    def _directive(self, word: str, args: list[str]) -> None:
        if word == "$ORIGIN" and len(args) == 1 and args[0].lower() == self.origin:
            return
        if word == "$TTL" and len(args) == 1:
            self.default_ttl = _ttl(args[0])
            return
        raise Doubt(f"directive {word} is left to the full reader")


def _ttl(word: str) -> int:
    try:
        return int(dns.ttl.from_text(word))
    except dns.exception.DNSException:
        raise Doubt(f"bad TTL {word!r}") from None


def _scan(line: str) -> tuple[str, int, bool]:
    """The line without its comment and parentheses, the change in depth, and whether it holds
    quotes or escapes."""
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
        raise Doubt("a quoted string across lines")
    return "".join(chars[:end]), delta, tricky


def _check_rrsets(zone: LeanZone) -> None:
    """What the full reader reports while reading: duplicates, TTLs that differ in an RRset,
    a second record of a singleton type."""
    for owner, recs in zone.nodes.items():
        if len(recs) < 2:
            continue
        ttls: dict[int, int] = {}
        data = 0
        for rdtype, ttl, _ in recs:
            if rdtype != RRSIG:
                data += 1
                if ttls.setdefault(rdtype, ttl) != ttl:
                    raise Doubt(f"{owner}: TTLs differ inside an RRset")
        if len(set(recs)) != len(recs):
            raise Doubt(f"{owner}: duplicate record")
        if data == len(ttls):
            continue  # one record a type: nothing can repeat
        # Names compare without case: "NS A.example." repeats "NS a.example.".
        texts = [(t, d.lower()) for t, _, d in recs if t != RRSIG]
        if len(set(texts)) != len(texts):
            raise Doubt(f"{owner}: duplicate record")
        for t in SINGLETONS.intersection(ttls):
            if sum(1 for x, _ in texts if x == t) > 1:
                raise Doubt(f"{owner}: a second record of a singleton type")
