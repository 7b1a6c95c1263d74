"""Hypothesis strategies for random but valid zone files, as the text an operator would write.

:func:`zones` draws a zone for ``example.test.`` with the corners a signer gets wrong: owner names
in upper and lower case and with escapes (``\\.``, ``\\032``, ``\\\\``, ``\\DDD``), digits and
``_`` labels, wildcards, deep names whose ancestors are empty non-terminals, CNAMEs (alone at
their name), delegations with in-zone glue, out-of-zone and in-zone-but-outside-the-cut name
servers, sometimes a DS, occluded data below a cut, DNAMEs with or without occluded data below,
duplicate records, and now and then an RRset too big for one DNS message (RFC 1035 master file
syntax is varied too: relative, absolute and blank owners, TTL and class in either order,
lower-case mnemonics, an SOA split over lines in parentheses).

Everything drawn is valid: a tree of names is built first and names that would break a rule
(data below a cut other than the occluded data drawn on purpose, a second kind at one name) are
dropped, so a failing signer or verifier is never the fault of the input.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

ORIGIN = "example.test."
ORIGIN_LABELS = (b"example", b"test")
SOA_SERIAL = 2026010101

Name = tuple[bytes, ...]  # labels left to right, relative to the origin; () is the apex

_PLAIN = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
# Plain characters dominate so that most labels look ordinary; the specials still come often.
_LABEL_BYTES = [bytes((c,)) for c in _PLAIN] * 3 + [b".", b" ", b"\\", b'"', b"\xff", b"("]
_SPECIAL_IN_NAMES = frozenset(b'."\\();@$ ')
_TTLS = (300, 3600, 86400)


def render_label(label: bytes, style: int) -> str:
    """Presentation form of one label (RFC 1035 §5.1); ``style`` picks among valid escapes."""
    out = []
    for i, c in enumerate(label):
        if c == 0x2A and len(label) == 1:
            out.append("*")
        elif c in _SPECIAL_IN_NAMES:
            # Either \X or \DDD is valid for a special character.
            out.append(f"\\{c:03d}" if (style + i) % 3 == 0 else "\\" + chr(c))
        elif not 0x21 <= c <= 0x7E:
            out.append(f"\\{c:03d}")
        elif style % 7 == 3 and chr(c).isalpha():
            out.append(f"\\{c:03d}")  # a plain letter written as \DDD is still that letter
        else:
            out.append(chr(c))
    return "".join(out)


def render_txt_string(data: bytes) -> str:
    out = ['"']
    for c in data:
        if c in (0x22, 0x5C):
            out.append("\\" + chr(c))
        elif 0x20 <= c <= 0x7E:
            out.append(chr(c))
        else:
            out.append(f"\\{c:03d}")
    out.append('"')
    return "".join(out)


def lower(name: Name) -> Name:
    return tuple(label.lower() for label in name)


def is_below(name: Name, ancestor: Name) -> bool:
    """``name`` is strictly below ``ancestor`` (case-insensitively)."""
    return len(name) > len(ancestor) and lower(name[len(name) - len(ancestor) :]) == lower(ancestor)


def absolute_text(name: Name, origin_case: str = ORIGIN) -> str:
    labels = [render_label(label, 1) for label in name]
    return ".".join([*labels, origin_case]) if labels else origin_case


@dataclass
class Rec:
    rrtype: str
    rdata: str
    ttl: int | None  # None: take $TTL


@dataclass
class Node:
    name: Name
    kind: str  # apex, data, cname, wildcard, delegation, dname, glue, occluded
    records: list[Rec] = field(default_factory=list)


@dataclass(frozen=True)
class ZoneCase:
    """A drawn zone: its text and what a test needs to know about it."""

    origin: str
    text: str
    names: tuple[str, ...]  # owner names, absolute presentation form
    dname_occlusion: tuple[str, ...]  # DNAME owners with data below them (Knot refuses those)
    delegations: int
    wildcards: int


labels_st = st.lists(st.sampled_from(_LABEL_BYTES), min_size=1, max_size=6).map(b"".join)


def _names(min_depth: int, max_depth: int) -> st.SearchStrategy[Name]:
    return st.lists(labels_st, min_size=min_depth, max_size=max_depth).map(tuple)


@st.composite
def _addresses(draw: st.DrawFn, v6: bool) -> list[str]:
    hosts = draw(st.lists(st.integers(1, 254), min_size=1, max_size=3, unique=True))
    return [f"2001:db8::{h:x}" if v6 else f"192.0.2.{h}" for h in hosts]


@st.composite
def _txt(draw: st.DrawFn) -> str:
    strings = draw(
        st.lists(
            st.binary(max_size=40)
            | st.sampled_from([b"", b'quote " inside', b"back\\slash", b"semi;colon", b"\x00\xff"]),
            min_size=1,
            max_size=3,
        )
    )
    return " ".join(render_txt_string(s) for s in strings)


@st.composite
def _data_records(draw: st.DrawFn, *, wildcard: bool) -> list[Rec]:
    kinds = ["A", "AAAA", "TXT", "MX"] if wildcard else ["A", "AAAA", "TXT", "MX", "SRV"]
    chosen = draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=3, unique=True))
    recs: list[Rec] = []
    for rrtype in chosen:
        ttl = draw(st.none() | st.sampled_from(_TTLS))
        if rrtype in ("A", "AAAA"):
            rdatas = draw(_addresses(rrtype == "AAAA"))
            if draw(st.integers(0, 9)) == 0:
                rdatas.append(rdatas[0])  # a duplicate record, which the signer must drop
        elif rrtype == "TXT":
            rdatas = draw(st.lists(_txt(), min_size=1, max_size=2, unique=True))
        elif rrtype == "MX":
            target = draw(st.sampled_from(["mail.example.net.", "ns1", "ns1.EXAMPLE.test."]))
            rdatas = [f"{draw(st.integers(0, 100))} {target}"]
        else:
            port = draw(st.integers(1, 65535))
            rdatas = [f"0 5 {port} {draw(st.sampled_from(['ns1', 'srv.example.net.']))}"]
        recs.extend(Rec(rrtype, rdata, ttl) for rdata in rdatas)
    return recs


@st.composite
def _delegation(draw: st.DrawFn, cut: Name) -> list[Node]:
    ns_ttl = draw(st.sampled_from(_TTLS))
    nodes = [Node(cut, "delegation")]
    styles = draw(
        st.lists(
            st.sampled_from(["glue-below", "glue-at-cut", "in-zone", "out-of-zone"]),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    for style in styles:
        if style == "glue-below":
            glue_name = (b"ns", *cut)
            nodes[0].records.append(Rec("NS", absolute_text(glue_name), ns_ttl))
            glue = Node(glue_name, "glue")
            for v6 in draw(st.sampled_from([(False,), (True,), (False, True)])):
                glue.records.extend(
                    Rec("AAAA" if v6 else "A", a, 3600) for a in draw(_addresses(v6))
                )
            nodes.append(glue)
        elif style == "glue-at-cut":
            nodes[0].records.append(Rec("NS", absolute_text(cut), ns_ttl))
            nodes[0].records.append(Rec("A", "192.0.2.250", 3600))
        elif style == "in-zone":
            nodes[0].records.append(Rec("NS", "ns1." + ORIGIN, ns_ttl))
        else:
            nodes[0].records.append(Rec("NS", "ns.example.net.", ns_ttl))
    if draw(st.booleans()):
        tag = draw(st.integers(0, 65535))
        algorithm = draw(st.sampled_from([8, 13, 15]))
        digest = draw(st.binary(min_size=32, max_size=32)).hex()
        nodes[0].records.append(Rec("DS", f"{tag} {algorithm} 2 {digest}", ns_ttl))
    nodes.extend(draw(_occluded(cut)))
    return nodes


@st.composite
def _occluded(draw: st.DrawFn, cut: Name) -> list[Node]:
    tails = draw(st.lists(_names(1, 2), max_size=2))
    return [
        Node((*tail, *cut), "occluded", [Rec("TXT", '"occluded"', None)])
        for tail in tails
        if lower(tail)[-1:] != (b"ns",)  # keep clear of the glue names
    ]


@st.composite
def _subtree(draw: st.DrawFn) -> list[Node]:
    kind = draw(
        st.sampled_from(["data", "data", "deep", "cname", "wildcard", "delegation", "dname"])
    )
    if kind == "data":
        name = draw(_names(1, 3))
        return [Node(name, "data", draw(_data_records(wildcard=False)))]
    if kind == "deep":
        name = draw(_names(3, 5))
        return [Node(name, "data", draw(_data_records(wildcard=False)))]
    if kind == "cname":
        name = draw(_names(1, 2))
        target = draw(st.sampled_from(["ns1", "www.example.net.", "nowhere", "@"]))
        return [Node(name, "cname", [Rec("CNAME", target, draw(st.sampled_from(_TTLS)))])]
    if kind == "wildcard":
        parent = draw(_names(0, 2))
        return [Node((b"*", *parent), "wildcard", draw(_data_records(wildcard=True)))]
    if kind == "delegation":
        return draw(_delegation(draw(_names(1, 2))))
    name = draw(_names(1, 2))
    nodes = [Node(name, "dname", [Rec("DNAME", "target.example.net.", 3600)])]
    nodes.extend(draw(_occluded(name)))
    return nodes


def _keep_valid(candidates: list[list[Node]]) -> list[Node]:
    """Drop subtrees that would make the zone invalid or ambiguous."""
    taken: set[Name] = {(), (b"ns1",)}
    cuts: list[Name] = []
    kept: list[Node] = []
    # Shallow subtrees first, so that a cut is known before anything drawn below it.
    for group in sorted(candidates, key=lambda g: len(g[0].name)):
        names = [lower(n.name) for n in group]
        if len(set(names)) != len(names) or any(n in taken for n in names):
            continue
        head = group[0].name
        if any(is_below(head, cut) or lower(head) == lower(cut) for cut in cuts):
            continue
        # A new cut must not swallow names that are already in the zone.
        if group[0].kind in ("delegation", "dname") and any(is_below(t, head) for t in taken):
            continue
        taken.update(names)
        if group[0].kind in ("delegation", "dname"):
            cuts.append(head)
        kept.extend(group)
    return kept


@st.composite
def zones(draw: st.DrawFn, *, max_subtrees: int = 12) -> ZoneCase:
    """A random valid zone file for :data:`ORIGIN`."""
    apex = Node((), "apex")
    apex.records.append(Rec("NS", "ns1", 3600))
    if draw(st.booleans()):
        apex.records.append(Rec("NS", "ns2.example.net.", 3600))
    if draw(st.booleans()):
        apex.records.append(Rec("MX", "10 ns1", None))
    ns1 = Node((b"ns1",), "data", [Rec("A", "192.0.2.1", None)])
    subtrees = draw(st.lists(_subtree(), min_size=1, max_size=max_subtrees))
    nodes = [apex, ns1, *_keep_valid(subtrees)]
    if draw(st.integers(0, 7)) == 0 and all(lower(n.name) != (b"big",) for n in nodes):
        # An RRset of ~45 KB: more than any UDP message, less than the 64 KiB limit of a TCP
        # message (over that, BIND cannot even load the zone and Knot cannot validate it).
        big = Node((b"big",), "data")
        big.records = [
            Rec("TXT", render_txt_string(b"%04d" % i + b"x" * 216), 600) for i in range(200)
        ]
        nodes.append(big)

    order = draw(st.permutations(range(len(nodes) - 1)))
    nodes = [nodes[0]] + [nodes[1 + i] for i in order]
    text = draw(_render(nodes))
    dname_occ = tuple(
        absolute_text(n.name)
        for n in nodes
        if n.kind == "dname" and any(is_below(m.name, n.name) for m in nodes)
    )
    return ZoneCase(
        origin=ORIGIN,
        text=text,
        names=tuple(absolute_text(n.name) for n in nodes),
        dname_occlusion=dname_occ,
        delegations=sum(1 for n in nodes if n.kind == "delegation"),
        wildcards=sum(1 for n in nodes if n.kind == "wildcard"),
    )


@st.composite
def _render(draw: st.DrawFn, nodes: list[Node]) -> str:
    lines: list[str] = []
    with_origin = draw(st.booleans())
    if with_origin:
        lines.append(f"$ORIGIN {ORIGIN}")
    lines.append("$TTL 3600")
    if draw(st.booleans()):
        lines += [
            "@ IN SOA ns1.example.test. hostmaster.example.test. (",
            f"        {SOA_SERIAL} ; serial",
            "        7200 3600 1209600 300 ) ; refresh retry expire minimum",
        ]
    else:
        lines.append(f"example.test. 3600 IN SOA ns1 hostmaster {SOA_SERIAL} 7200 3600 1209600 300")
    for node in nodes:
        style = draw(st.integers(0, 20))
        for i, rec in enumerate(node.records):
            labels = node.name
            if style == 11 and i % 2:
                labels = tuple(lb.swapcase() for lb in labels)  # same name, other case
            if i > 0 and style % 2 == 0:
                owner = ""  # a blank owner repeats the previous one
            elif not labels:
                owner = "@"
            elif style % 3 == 0:
                origin_case = "EXAMPLE.Test." if style % 5 == 0 else ORIGIN
                owner = ".".join([render_label(lb, style) for lb in labels] + [origin_case])
            else:
                owner = ".".join(render_label(lb, style) for lb in labels)
            rrtype = rec.rrtype.lower() if style == 7 else rec.rrtype
            klass = "" if style % 4 == 1 else ("in" if style == 7 else "IN")
            ttl = "" if rec.ttl is None else str(rec.ttl)
            fields = [klass, ttl] if style % 4 == 2 else [ttl, klass]
            rest = " ".join(x for x in [*fields, rrtype, rec.rdata] if x)
            lines.append(f"{owner} {rest}" if owner else f"\t{rest}")
    return "\n".join(lines) + "\n"
