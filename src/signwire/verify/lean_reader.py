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
names outside the zone. What the full reader reports while reading one name (duplicates, TTLs
that differ inside an RRset, a second SOA/CNAME/DNAME/NSEC) is :func:`check_records`'s job,
which the checks run in their workers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import dns.exception
import dns.rdatatype
import dns.ttl

from signwire.verify.lean_wire import Doubt
from signwire.verify.zone_reader import scan_line

RRSIG = int(dns.rdatatype.RRSIG)
SOA = int(dns.rdatatype.SOA)
# RFC 2181 §10.1, RFC 6672, RFC 4034: one record of these per name (dnspython's singletons).
SINGLETONS = frozenset(
    int(t) for t in range(300) if dns.rdatatype.is_singleton(dns.rdatatype.RdataType.make(t))
)

_SPECIAL = re.compile(r'[\\"();]')

Record = tuple[int, int, str]
"""(type, TTL, RDATA text) of one record; an RRSIG's text starts with the type it covers."""


# Types the checks need the records of in the main process, at every name.
_KEPT = frozenset({int(dns.rdatatype.NSEC), int(dns.rdatatype.NSEC3)})


class Node:
    """One owner name as the main process keeps it: its types, where its lines are, and its
    NSEC/NSEC3 records (the chain checks need them; the rest is read again where needed)."""

    __slots__ = ("denial", "spans", "types")

    def __init__(self, start: int) -> None:
        self.types: frozenset[int] = frozenset()
        self.spans: list[int] = [start, start]
        """Start and end offsets in the text of each run of lines of this owner."""
        self.denial: list[Record] = []


@dataclass
class LeanZone:
    origin: str
    """The apex, absolute and lowercased (``example.com.``)."""
    text: str = ""
    nodes: dict[str, Node] = field(default_factory=dict)
    """Every owner name (absolute, lowercased), in file order."""
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

    def records(self, name: str) -> list[Record]:
        """Every record of ``name``, read again from its lines."""
        spans = self.nodes[name].spans
        reader = _Reader(self, keep=True)
        for i in range(0, len(spans), 2):
            reader.read(self.text, spans[i], spans[i + 1])
        if set(reader.kept) != {name}:
            raise Doubt(f"{name}: its lines do not read back alone")
        return reader.kept[name]

    def records_of(self, names: list[str]) -> Iterator[tuple[str, list[Record]]]:
        """``(name, records)`` for each of ``names``, in that order, reading their lines again.

        Files are written in canonical order, so the lines of a run of names in that order are
        mostly one stretch of text: read it once. Otherwise, name by name.
        """
        spans = [self.nodes[n].spans for n in names]
        if not spans:
            return
        begin = min(s[0] for s in spans)
        finish = max(s[-1] for s in spans)
        size = sum(s[i + 1] - s[i] for s in spans for i in range(0, len(s), 2))
        if finish - begin > 2 * size + 4096:
            for name in names:
                yield name, self.records(name)
            return
        reader = _Reader(self, keep=True)
        reader.read(self.text, begin, finish)
        kept = reader.kept
        for name, node_spans in zip(names, spans, strict=True):
            recs = kept.get(name)
            if len(node_spans) > 2 or recs is None:
                recs = self.records(name)  # lines elsewhere too
            yield name, recs


def read_lean(text: str, origin: str) -> LeanZone:
    """Index zone-file text; :class:`Doubt` when the full reader must read it instead."""
    origin = origin.lower()
    if not origin.endswith("."):
        origin += "."
    zone = LeanZone(origin, text)
    _Reader(zone, keep=False).read(text, 0, len(text))
    return zone


Sink = Callable[[str, list[Record]], None]
"""Takes each run of lines of one owner, as its records, when the reader leaves it."""

# Lines are split this many characters at a time: a range of a large file is never held as
# one list of lines.
_BLOCK = 1 << 20


class _Reader:
    """Reads lines of zone text. With ``keep``, every record of every owner goes to ``kept``,
    or with a ``sink`` too, each owner's run of records to the sink (and nothing is kept);
    without, the owners go to the zone's index (types, line spans, NSEC/NSEC3 records)."""

    def __init__(self, zone: LeanZone, *, keep: bool, sink: Sink | None = None) -> None:
        self.zone = zone
        self.keep = keep or sink is not None
        self.sink = sink
        self.kept: dict[str, list[Record]] = {}
        self.origin = zone.origin
        self.suffix = "." + zone.origin if zone.origin != "." else "."
        self.owner: str | None = None
        self.node: Node | None = None
        self.node_types: set[int] = set()
        self.records: list[Record] = []
        self.names: dict[str, str] = {}
        self.interned: dict[frozenset[int], frozenset[int]] = {}

    def read(self, text: str, begin: int, finish: int) -> None:
        depth = 0
        parts: list[str] = []
        indented = False
        tricky = False
        special = _SPECIAL.search
        types = self.zone.types
        last_word = ""
        pos = begin
        start = begin
        keep = self.keep
        kept_types = _KEPT
        for lines in _blocks(text, begin, finish):
            for line in lines:
                here = pos
                pos += len(line) + 1
                if depth == 0 and not (
                    # Five scans in C beat one regular expression on lines that have none.
                    ";" in line or "(" in line or '"' in line or "\\" in line or ")" in line
                ):
                    # The common line, as signers write it: "owner TTL IN TYPE RDATA".
                    w = line.split(None, 4)
                    if len(w) < 4 or not w[1].isdigit() or line[0] in " \t$":
                        rdtype = None
                    elif w[2] == "IN":
                        rdtype = types.get(w[3]) if len(w) == 5 else None
                    else:
                        # Knot leaves the class out: "owner TTL TYPE RDATA".
                        rdtype = types.get(w[2])
                        if rdtype is not None:
                            w = line.split(None, 3)
                            w.insert(2, "IN")
                            if len(w) != 5:
                                rdtype = None
                    if rdtype is not None:
                        if w[0] is not last_word and w[0] != last_word:
                            last_word = w[0]
                            self._owner(self._name(last_word), here)
                        if keep or rdtype in kept_types or self.owner == self.origin:
                            self.records.append((rdtype, int(w[1]), w[4]))
                        if not keep:
                            self.node_types.add(rdtype)
                        continue
                    last_word = ""
                    self._record(line, line[:1] in (" ", "\t"), False, here)
                    continue
                last_word = ""
                if depth == 0 or special(line):
                    content, delta, escaped = _scan(line)
                else:
                    content, delta, escaped = line, 0, False
                if depth == 0:
                    parts = [content]
                    start = here
                    indented = line[:1] in (" ", "\t")
                    tricky = escaped
                else:
                    parts.append(content)
                    tricky = tricky or escaped
                depth += delta
                if depth < 0:
                    raise Doubt("unbalanced parentheses")
                if depth == 0:
                    joined = parts[0] if len(parts) == 1 else " ".join(parts)
                    self._record(joined, indented, tricky, start)
        if depth:
            raise Doubt("unbalanced parentheses at the end")
        self._owner(None, min(pos - 1, finish))

    def _owner(self, owner: str | None, at: int) -> None:
        """Close the lines of the current owner at offset ``at``; open ``owner``'s."""
        if owner == self.owner:
            return
        node = self.node
        if node is not None:
            node.spans[-1] = at
            if not self.keep:
                types = frozenset(self.node_types) | node.types
                node.types = self.interned.setdefault(types, types)
        sink = self.sink
        if sink is not None:
            if self.owner is not None:
                sink(self.owner, self.records)
            self.owner, self.records = owner, []
            return
        if owner is None:
            self.owner, self.node = None, None
            return
        if self.keep:
            recs = self.kept.get(owner)
            if recs is None:
                recs = self.kept[owner] = []
            self.owner, self.records = owner, recs
            self.node = None
            return
        found = self.zone.nodes.get(owner)
        if found is None:
            found = self.zone.nodes[owner] = Node(at)
        else:
            found.spans += [at, at]  # the owner again, after other names
        self.owner, self.node, self.records = owner, found, found.denial
        self.node_types = set()

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
            if self.sink is None:  # a sink's owners come once each: no use remembering
                self.names[word] = name
        return name

    def _record(self, text: str, indented: bool, tricky: bool, at: int) -> None:
        words = text.split()
        if not words:
            return
        if not indented:
            first = words[0]
            if first[0] == "$":
                self._directive(first.upper(), words[1:])
                return
            self._owner(self._name(first), at)
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
            # Signers write every TTL; the full reader knows the rules for files that do not.
            raise Doubt("record with no TTL of its own")
        if not self.keep:
            self.node_types.add(rdtype)
            if rdtype not in _KEPT and self.owner != self.origin:
                return
        if tricky:
            # Quotes or escapes: whitespace inside them matters; cut the text after the type.
            cut = [m.end() for m in re.finditer(r"\S+", text)][pos]
            rdata = text[cut:].strip()
        else:
            rdata = " ".join(words[pos + 1 :])
        self.records.append((rdtype, ttl, rdata))

    def _directive(self, word: str, args: list[str]) -> None:
        if word == "$ORIGIN" and len(args) == 1 and args[0].lower() == self.origin:
            return
        if word == "$TTL" and len(args) == 1:
            _ttl(args[0])  # every record has a TTL of its own here
            return
        raise Doubt(f"directive {word} is left to the full reader")


def _blocks(text: str, begin: int, finish: int) -> Iterator[list[str]]:
    """The lines of ``text[begin:finish]``, about ``_BLOCK`` characters of them at a time."""
    while True:
        end = text.find("\n", begin + _BLOCK, finish)
        if end < 0:
            yield text[begin:finish].split("\n")
            return
        yield text[begin:end].split("\n")
        begin = end + 1


def read_runs(zone: LeanZone, begin: int, finish: int, sink: Sink) -> None:
    """Give ``sink`` the records of each run of lines of one owner in ``zone.text[begin:finish]``
    (which starts at a line that names its owner, outside parentheses), in file order."""
    _Reader(zone, keep=True, sink=sink).read(zone.text, begin, finish)


def _ttl(word: str) -> int:
    try:
        return int(dns.ttl.from_text(word))
    except dns.exception.DNSException:
        raise Doubt(f"bad TTL {word!r}") from None


def _scan(line: str) -> tuple[str, int, bool]:
    """The line without its comment and parentheses, the change in depth, and whether it holds
    quotes or escapes (the full reader's scan: both must split lines alike)."""
    scanned = scan_line(line)
    if scanned is None:
        raise Doubt("a quoted string across lines")
    return scanned


def check_records(owner: str, recs: list[Record]) -> None:
    """What the full reader reports while reading one name: duplicate records, TTLs that
    differ inside an RRset, a second record of a singleton type (the checks call this for every
    name with more records than types)."""
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
        return  # one record a type: nothing can repeat
    # Names compare without case: "NS A.example." repeats "NS a.example.".
    texts = [(t, d.lower()) for t, _, d in recs if t != RRSIG]
    if len(set(texts)) != len(texts):
        raise Doubt(f"{owner}: duplicate record")
    for t in SINGLETONS.intersection(ttls):
        if sum(1 for x, _ in texts if x == t) > 1:
            raise Doubt(f"{owner}: a second record of a singleton type")
