"""The verifier's lean path: a verdict on a whole signed zone at the speed of the cryptography.

``lean_verdict`` runs every check of :func:`signwire.verify.zone_verifier.verify_contents` on the
records as :mod:`~signwire.verify.lean_reader` keeps them, and either vouches for the zone (no
error and no warning: the report is empty) or raises :class:`Doubt`, and the full verifier reads
and checks the zone again to say what is wrong, with the findings the tests pin. Being wrong in
the cautious direction only costs time; the tests run both paths on every zone they make and
require the lean path never to vouch for a zone the full one faults.

What makes it fast: names are compared as text (absolute, lowercased) and ordered by a key of
their labels right to left (RFC 4034 §6.1); only RRsets that carry signatures are turned into
wire form; public keys are decoded once; NSEC3 owners are compared as base32hex text, whose
order is the order of the hashes (RFC 4648 §7); and the signatures, most of the work, are
checked by forked workers, each over a contiguous run of names (:mod:`~signwire.verify.workers`).
"""

from __future__ import annotations

import binascii
import hashlib
import re
import struct
from binascii import a2b_base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.ttl
from dns.rdtypes.ANY.DNSKEY import DNSKEY as DnskeyRdata

from signwire.verify.anchors import TrustAnchor, anchors_for, match_anchors
from signwire.verify.lean_reader import (
    RRSIG,
    SINGLETONS,
    SOA,
    LeanZone,
    Record,
    check_records,
)
from signwire.verify.lean_wire import (
    Codec,
    Doubt,
    Verifier,
    key_tag,
    label_count,
    make_verifier,
    name_wire,
    sig_time,
)
from signwire.verify.report import Counts
from signwire.verify.workers import split_work

NS = int(dns.rdatatype.NS)
DS = int(dns.rdatatype.DS)
CNAME = int(dns.rdatatype.CNAME)
DNAME = int(dns.rdatatype.DNAME)
DNSKEY = int(dns.rdatatype.DNSKEY)
NSEC = int(dns.rdatatype.NSEC)
NSEC3 = int(dns.rdatatype.NSEC3)
NSEC3PARAM = int(dns.rdatatype.NSEC3PARAM)
# Types that do not make a name exist in the unsigned zone (RFC 4035 §2.3, RFC 5155 §7.1).
_NOT_DATA = frozenset({NSEC, NSEC3, RRSIG})
ZONE_FLAG = 0x0100
SEP_FLAG = 0x0001
REVOKE_FLAG = 0x0080
OPT_OUT = 0x01

# Below this many lines, forking costs more than it saves.
PARALLEL_MIN = 4000
# Names whose records a worker of :func:`indexed_verdict` reads again at a time.
_CHUNK = 2000


def sort_key(name: str) -> str:
    """RFC 4034 §6.1 order as plain string order: labels right to left, joined by NUL."""
    return "\x00".join(reversed(name[:-1].split(".")))


def parent_of(name: str) -> str:
    return name.split(".", 1)[1] or "."


@dataclass
class Keys:
    by_tag: dict[tuple[int, int], list[Verifier]] = field(default_factory=dict)
    sep_tags: set[tuple[int, int]] = field(default_factory=set)
    algorithms: set[int] = field(default_factory=set)


@dataclass
class Shape:
    """What each name is, as :func:`signwire.verify.structure.classify` decides it."""

    order: list[str]
    """Every owner name, canonical order."""
    types: dict[str, frozenset[int]]
    """Types at each name, RRSIG included."""
    delegations: set[str] = field(default_factory=set)
    occluded: set[str] = field(default_factory=set)
    authoritative: list[str] = field(default_factory=list)
    ents: list[str] = field(default_factory=list)
    opt_out_optional: set[str] = field(default_factory=set)


@dataclass
class Verdict:
    counts: Counts
    denial: str
    dnskey_signers: set[tuple[int, int]]


def lean_verdict(
    zone: LeanZone,
    *,
    now: int,
    warn_horizon: int,
    anchors: list[TrustAnchor] | None,
    workers: int = 2,
) -> Verdict:
    """Vouch for ``zone`` (return the counts) or raise :class:`Doubt`
    (:func:`signwire.verify.sweep.sweep_verdict` on its text)."""
    from signwire.verify.sweep import sweep_verdict

    return sweep_verdict(
        zone.text,
        zone.origin,
        now=now,
        warn_horizon=warn_horizon,
        anchors=anchors,
        workers=workers,
        parallel_min=PARALLEL_MIN,
    )


def indexed_verdict(
    zone: LeanZone,
    *,
    now: int,
    warn_horizon: int,
    anchors: list[TrustAnchor] | None,
    workers: int = 2,
) -> Verdict:
    """Vouch for ``zone`` (return the counts) or raise :class:`Doubt`, from an index of the
    whole zone: for files whose owners' lines are not all together (Knot writes the signatures
    after all the data), where :func:`signwire.verify.sweep.sweep_verdict` cannot work."""
    origin = zone.origin
    shape = classify(zone)
    if origin not in zone.nodes:
        raise Doubt("nothing at the apex")
    apex = zone.records(origin)
    codec = Codec(origin, dns.name.from_text(origin), zone.type_number)
    _check_apex(shape, origin)
    keys = load_keys(codec, apex)
    check_placement(shape, origin)
    ttl = denial_ttl(apex)
    counts = Counts()
    denial: list[str] = []

    # The DNSKEY RRset first (its signers decide trust), then everything else in parallel.
    signers, n = check_signed_rrset(codec, keys, origin, apex, DNSKEY, now, warn_horizon)
    if not n:
        raise Doubt("the DNSKEY RRset is not signed")
    counts.rrsets_checked += 1
    counts.signatures_checked += n
    _check_trust(zone, codec, keys, signers, anchors)
    order = shape.order

    def run(start: int, end: int) -> tuple[int, int]:
        rrsets = sigs = 0
        occluded = shape.occluded
        delegations = shape.delegations
        for chunk in range(start, end, _CHUNK):
            names = order[chunk : min(end, chunk + _CHUNK)]
            for name, recs in zone.records_of(names):
                types = shape.types[name]
                if len(recs) > len(types):
                    first, second = recs[0], recs[1]
                    # The common case without a call: one type has two records, the first two
                    # (a delegation's NS records), with one TTL and different data.
                    if (
                        len(recs) - len(types) != 1
                        or first[0] != second[0]
                        or first[1] != second[1]
                        or first[2].lower() == second[2].lower()
                        or first[0] in SINGLETONS
                    ):
                        check_records(name, recs)
                if name in occluded:
                    if RRSIG in types:
                        raise Doubt(f"{name}: signature below a zone cut or DNAME")
                    continue
                if name in delegations and RRSIG not in types and DS not in types:
                    continue  # an insecure delegation: nothing here is signed
                r, s = check_name(zone, shape, codec, keys, name, recs, now, warn_horizon)
                rrsets += r
                sigs += s
        return rrsets, sigs

    def chain() -> None:
        denial.append(_check_denial(zone, shape, codec, counts, ttl))

    # The denial chain is checked here while the workers check the signatures.
    parts = split_work(run, len(order), workers if len(order) >= PARALLEL_MIN else 1, chain)
    for rrsets, sigs in parts:
        counts.rrsets_checked += rrsets
        counts.signatures_checked += sigs
    return Verdict(counts, denial[0], signers)


# --- structure --------------------------------------------------------------------------------


def classify(zone: LeanZone) -> Shape:
    types = {name: node.types for name, node in zone.nodes.items()}
    return shape_of(zone.origin, sorted(zone.nodes, key=sort_key), types)


def shape_of(origin: str, order: list[str], types: dict[str, frozenset[int]]) -> Shape:
    """What each name is, from the types at every name and their canonical ``order``."""
    shape = Shape(order, types)
    occluded = shape.occluded.add
    delegation = shape.delegations.add
    authoritative = shape.authoritative.append
    # What matters of a set of types, worked out once per distinct set (a zone has few).
    kinds: dict[frozenset[int], int] = {}
    suffix = ""
    cut_is_apex = False
    for name in order:
        node = types[name]
        kind = kinds.get(node)
        if kind is None:
            kind = kinds[node] = _kind(node)
        if suffix:
            if name.endswith(suffix):
                if not (cut_is_apex and kind & _NSEC3_ONLY and parent_of(name) == origin):
                    occluded(name)
                    continue
            else:
                suffix = ""
        if kind & _HAS_NS and name != origin:
            delegation(name)
            suffix = "." + name
            cut_is_apex = False
            authoritative(name)
            continue
        if kind & _HAS_DNAME:
            suffix = "." + name if name != "." else "."
            cut_is_apex = name == origin
        if kind & _HAS_DATA or name == origin:
            authoritative(name)
    _ents(origin, shape)
    return shape


_HAS_NS, _HAS_DNAME, _HAS_DATA, _NSEC3_ONLY = 1, 2, 4, 8


def _kind(node: frozenset[int]) -> int:
    data = node - _NOT_DATA
    return (
        (_HAS_NS if NS in node else 0)
        | (_HAS_DNAME if DNAME in node else 0)
        | (_HAS_DATA if data else 0)
        | (_NSEC3_ONLY if NSEC3 in node and not data else 0)
    )


def _ents(origin: str, shape: Shape) -> None:
    existing = set(shape.authoritative)
    ents: set[str] = set()
    needed: set[str] = set()
    types = shape.types
    delegations = shape.delegations
    optional = shape.opt_out_optional.add
    # A name whose first dot starts the origin is a child of the apex: nothing in between.
    tail = len(origin) + 1 if origin != "." else 1
    for name in shape.authoritative:
        insecure = name in delegations and DS not in types[name]
        if insecure:
            optional(name)
        if name == origin or name.find(".") == len(name) - tail:
            continue
        parent = parent_of(name)
        while parent != origin and parent not in existing:
            if parent in ents and (insecure or parent in needed):
                break  # the rest of the way up is known already
            ents.add(parent)
            if not insecure:
                needed.add(parent)
            parent = parent_of(parent)
    shape.ents = sorted(ents, key=sort_key)
    shape.opt_out_optional |= ents - needed


def _check_apex(shape: Shape, origin: str) -> None:
    node = shape.types.get(origin, frozenset())
    if SOA not in node or NS not in node or DNSKEY not in node:
        raise Doubt("the apex lacks SOA, NS or DNSKEY")


def check_placement(shape: Shape, origin: str) -> None:
    """SOA only at the apex, DS only at delegations, CNAME alone (with its DNSSEC records)."""
    suspect = {
        node
        for node in set(shape.types.values())
        if SOA in node or DS in node or (CNAME in node and node - _CNAME_BESIDE)
    }
    if not suspect:
        return
    for name, node in shape.types.items():
        if node not in suspect or name in shape.occluded:
            continue
        if SOA in node and name != origin:
            raise Doubt(f"{name}: SOA outside the apex")
        if DS in node and (name == origin or name not in shape.delegations):
            raise Doubt(f"{name}: DS not at a delegation")
        if CNAME in node and node - _CNAME_BESIDE:
            raise Doubt(f"{name}: CNAME beside other data")


_CNAME_BESIDE = frozenset({CNAME, NSEC, NSEC3, RRSIG})


def denial_ttl(apex: list[Record]) -> int:
    soa = [r for r in apex if r[0] == SOA]
    if len(soa) != 1:
        raise Doubt("not one SOA")
    fields = soa[0][2].split()
    try:
        minimum = int(fields[6]) if fields[6].isdigit() else int(dns.ttl.from_text(fields[6]))
    except (IndexError, ValueError, dns.exception.DNSException):
        raise Doubt("SOA MINIMUM unreadable") from None
    return min(soa[0][1], minimum)


# --- keys and trust ---------------------------------------------------------------------------


def load_keys(codec: Codec, apex: list[Record]) -> Keys:
    keys = Keys()
    for rdtype, _, text in apex:
        if rdtype != DNSKEY:
            continue
        wire = codec.wire(DNSKEY, text)
        flags, protocol, algorithm = struct.unpack("!HBB", wire[:4])
        if not flags & ZONE_FLAG or protocol != 3:
            continue
        if algorithm == 1:
            raise Doubt("RSAMD5 keys are left to the full verifier")
        tag = (algorithm, key_tag(wire))
        keys.by_tag.setdefault(tag, []).append(make_verifier(algorithm, wire[4:]))
        if flags & SEP_FLAG:
            keys.sep_tags.add(tag)
        if not flags & REVOKE_FLAG:
            keys.algorithms.add(algorithm)
    if not keys.algorithms:
        raise Doubt("no usable zone key")
    return keys


def _check_trust(
    zone: LeanZone,
    codec: Codec,
    keys: Keys,
    signers: set[tuple[int, int]],
    anchors: list[TrustAnchor] | None,
) -> None:
    check_trust(zone.records(zone.origin), codec, keys, signers, anchors)


def check_trust(
    apex: list[Record],
    codec: Codec,
    keys: Keys,
    signers: set[tuple[int, int]],
    anchors: list[TrustAnchor] | None,
) -> None:
    """The DNSKEY RRset is signed by an anchored key, or without anchors by a SEP key."""
    if anchors is None:
        if signers and not signers & keys.sep_tags:
            raise Doubt("the DNSKEY RRset is signed only by keys without the SEP flag")
        return
    relevant = anchors_for(codec.origin_name, anchors)
    if not relevant:
        raise Doubt("no trust anchor for the zone")
    rdatas = [
        dns.rdata.from_text("IN", "DNSKEY", text, codec.origin_name)
        for rdtype, _, text in apex
        if rdtype == DNSKEY
    ]
    rds = dns.rdataset.Rdataset(dns.rdataclass.IN, dns.rdatatype.DNSKEY)
    for rd in rdatas:
        rds.add(rd)
    match = match_anchors(codec.origin_name, rds, relevant)
    if match.unchecked or not match.keys:
        raise Doubt("the trust anchors match no key, or cannot all be checked")
    anchored = {
        (int(k.algorithm), key_tag(k.to_digestable()))
        for k in match.keys
        if isinstance(k, DnskeyRdata)
    }
    if not signers & anchored:
        raise Doubt("no valid DNSKEY signature by an anchored key")


# --- signatures -------------------------------------------------------------------------------


_COVERS_CACHE: dict[str, int] = {}


def covered_type(zone: LeanZone, text: str) -> int:
    word = text.split(None, 1)[0]
    rdtype = _COVERS_CACHE.get(word)
    if rdtype is None:
        rdtype = _COVERS_CACHE[word] = zone.type_number(word)
    return rdtype


def check_name(
    zone: LeanZone,
    shape: Shape,
    codec: Codec,
    keys: Keys,
    name: str,
    recs: list[Record],
    now: int,
    warn_horizon: int,
) -> tuple[int, int]:
    """Check the signatures at one authoritative (or NSEC3-owner) name: (RRsets, RRSIGs)."""
    data: dict[int, list[str]] = {}
    sigs: dict[int, list[tuple[int, str]]] = {}
    ttls: dict[int, int] = {}
    for t, ttl, text in recs:
        if t == RRSIG:
            covered = covered_type(zone, text)
            found = sigs.get(covered)
            if found is None:
                sigs[covered] = [(ttl, text)]
            else:
                found.append((ttl, text))
        else:
            rdatas = data.get(t)
            if rdatas is None:
                data[t] = [text]
                ttls[t] = ttl
            else:
                rdatas.append(text)
    signed = [t for t in data if t in (DS, NSEC)] if name in shape.delegations else list(data)
    if len(sigs) > len(signed) or any(t not in sigs for t in signed):
        raise Doubt(f"{name}: an RRSIG missing, or over a type absent or not to be signed")
    count = 0
    for rdtype in signed:
        if rdtype == DNSKEY and name == zone.origin:
            continue  # checked first, apart
        count += len(
            check_rrset(
                codec,
                keys,
                name,
                rdtype,
                ttls[rdtype],
                data[rdtype],
                sigs[rdtype],
                now,
                warn_horizon,
            )
        )
    apex_keys = 1 if name == zone.origin and DNSKEY in data else 0
    return len(signed) - apex_keys, count


def check_signed_rrset(
    codec: Codec,
    keys: Keys,
    owner: str,
    recs: list[Record],
    rdtype: int,
    now: int,
    warn_horizon: int,
) -> tuple[set[tuple[int, int]], int]:
    """Check one RRset of a node's records: the (algorithm, key tag) of its signatures and
    their number."""
    rdatas = [text for t, _, text in recs if t == rdtype]
    ttl = next(ttl for t, ttl, _ in recs if t == rdtype)
    words = _words(rdtype)
    rrsigs = [
        (ttl, text) for t, ttl, text in recs if t == RRSIG and text.split(None, 1)[0] in words
    ]
    if not rrsigs:
        raise Doubt(f"{owner}: RRset {rdtype} has no RRSIG")
    good = check_rrset(codec, keys, owner, rdtype, ttl, rdatas, rrsigs, now, warn_horizon)
    return set(good), len(good)


def check_rrset(
    codec: Codec,
    keys: Keys,
    owner: str,
    rdtype: int,
    ttl: int,
    rdatas: list[str],
    rrsigs: list[tuple[int, str]],
    now: int,
    warn_horizon: int,
) -> list[tuple[int, int]]:
    """Check one RRset's RRSIGs (RFC 4035 §5.3.1, RFC 6840 §5.11): the (algorithm, key tag)
    of each, all valid; :class:`Doubt` at the first doubt."""
    owner_wire = name_wire(owner)
    labels = label_count(owner)
    good: list[tuple[int, int]] = []
    tail: bytes | None = None
    seen_sigs: set[bytes] = set()
    origin = codec.origin
    for rttl, text in rrsigs:
        f = text.split()
        if len(f) < 9 or rttl != ttl:
            raise Doubt(f"{owner}: RRSIG TTL or fields")
        try:
            algorithm, sig_labels, original_ttl, key = int(f[1]), int(f[2]), int(f[3]), int(f[6])
            expiration, inception = sig_time(f[4]), sig_time(f[5])
            signature = a2b_base64(f[8] if len(f) == 9 else "".join(f[8:]), strict_mode=True)
        except (ValueError, binascii.Error):
            raise Doubt(f"{owner}: RRSIG unreadable") from None
        if f[7] != origin and codec.absolute(f[7].lower()) != origin:
            raise Doubt(f"{owner}: RRSIG signer is not the zone")
        if sig_labels != labels or original_ttl != ttl:
            raise Doubt(f"{owner}: RRSIG Labels or Original TTL")
        # RFC 4034 §3.1.5 serial arithmetic: inception <= now <= expiration, the whole period
        # under 2^31 seconds, and not within the warning horizon of the expiration. (Equal to
        # 2^31 is undefined in RFC 1982: doubted, and the full check decides.)
        since = (now - inception) & 0xFFFFFFFF
        left = (expiration - now) & 0xFFFFFFFF
        if since + left >= 0x80000000 or left < warn_horizon:
            raise Doubt(f"{owner}: RRSIG validity period")
        if len(rrsigs) > 1:
            if signature in seen_sigs:
                raise Doubt(f"{owner}: duplicate RRSIG")
            seen_sigs.add(signature)
        verifiers = keys.by_tag.get((algorithm, key))
        if verifiers is None:
            raise Doubt(f"{owner}: RRSIG by a key not in the DNSKEY RRset")
        if tail is None:
            tail = _rrset_wire(codec, owner_wire, rdtype, original_ttl, rdatas)
        data = (
            _RRSIG_HEAD(
                rdtype,
                algorithm,
                sig_labels,
                original_ttl,
                expiration & 0xFFFFFFFF,
                inception & 0xFFFFFFFF,
                key,
            )
            + codec.origin_wire
            + tail
        )
        if len(verifiers) == 1:
            valid = verifiers[0](signature, data)
        else:
            valid = any(verify(signature, data) for verify in verifiers)
        if not valid:
            raise Doubt(f"{owner}: RRSIG does not verify")
        good.append((algorithm, key))
    if len(keys.algorithms) > 1 or len(good) > 1:
        if not keys.algorithms <= {alg for alg, _ in good}:
            raise Doubt(f"{owner}: not signed with every DNSKEY algorithm")
    elif good[0][0] not in keys.algorithms:
        raise Doubt(f"{owner}: not signed with the DNSKEY algorithm")
    return good


_RRSIG_HEAD = struct.Struct("!HBBIIIH").pack
_LENGTH = struct.Struct("!H").pack
_WORDS: dict[int, frozenset[str]] = {}


def _words(rdtype: int) -> frozenset[str]:
    """The spellings of a type an RRSIG's Type Covered may use."""
    words = _WORDS.get(rdtype)
    if words is None:
        text = dns.rdatatype.to_text(dns.rdatatype.RdataType.make(rdtype))
        words = _WORDS[rdtype] = frozenset({text, text.lower(), f"TYPE{rdtype}", f"type{rdtype}"})
    return words


def _rrset_wire(
    codec: Codec, owner_wire: bytes, rdtype: int, ttl: int, rdatas: Sequence[str]
) -> bytes:
    """RFC 4034 §3.1.8.1: the RRs in canonical form and order (RFC 4034 §6.3)."""
    head = owner_wire + struct.pack("!HHI", rdtype, 1, ttl)
    if len(rdatas) == 1:
        wire = codec.wire(rdtype, rdatas[0])
        return head + _LENGTH(len(wire)) + wire
    wires = sorted({codec.wire(rdtype, text) for text in rdatas})
    if len(wires) != len(rdatas):
        raise Doubt("duplicate records in an RRset")
    return b"".join(head + struct.pack("!H", len(w)) + w for w in wires)


# --- denial of existence ----------------------------------------------------------------------


def _check_denial(zone: LeanZone, shape: Shape, codec: Codec, counts: Counts, ttl: int) -> str:
    with_nsec = [n for n in shape.order if NSEC in shape.types[n]]
    with_nsec3 = [n for n in shape.order if NSEC3 in shape.types[n]]
    has_param = NSEC3PARAM in shape.types[zone.origin]
    if with_nsec and (with_nsec3 or has_param):
        raise Doubt("both NSEC and NSEC3")
    if with_nsec:
        _check_nsec(zone, shape, codec, counts, ttl, with_nsec)
        return "NSEC"
    if with_nsec3 and has_param:
        _check_nsec3(zone, shape, codec, counts, ttl, with_nsec3)
        return "NSEC3"
    raise Doubt("no complete denial chain")


def _one(zone: LeanZone, name: str, rdtype: int) -> Record:
    found = [r for r in zone.nodes[name].denial if r[0] == rdtype]
    if len(found) != 1:
        raise Doubt(f"{name}: not exactly one record of type {rdtype}")
    return found[0]


def _nsec_types(shape: Shape, name: str) -> frozenset[int]:
    node = shape.types[name]
    if name in shape.delegations:
        return node & {NS, DS}
    return node - _NOT_DATA


def _check_nsec(
    zone: LeanZone,
    shape: Shape,
    codec: Codec,
    counts: Counts,
    ttl: int,
    with_nsec: list[str],
) -> None:
    chain = shape.authoritative
    if with_nsec != chain:
        raise Doubt("NSEC records and authoritative names differ")
    bitmaps: dict[str, frozenset[int]] = {}
    last = len(chain) - 1
    for i, name in enumerate(chain):
        _, rttl, text = _one(zone, name, NSEC)
        counts.nsec_records += 1
        if rttl != ttl:
            raise Doubt(f"{name}: NSEC TTL")
        f = text.split(None, 1)
        nxt = chain[i + 1] if i < last else chain[0]
        if not f or (f[0] != nxt and codec.absolute(f[0].lower()) != nxt):
            raise Doubt(f"{name}: NSEC next name")
        words = f[1] if len(f) == 2 else ""
        types = bitmaps.get(words)
        if types is None:
            types = bitmaps[words] = frozenset(zone.type_number(w) for w in words.split())
        if types != _nsec_types(shape, name) | _NSEC_ALWAYS:
            raise Doubt(f"{name}: NSEC type bitmap")


_NSEC_ALWAYS = frozenset({RRSIG, NSEC})


def nsec3_hash(name: str, salt: bytes, iterations: int) -> bytes:
    """RFC 5155 §5 hash of a name."""
    digest = hashlib.sha1(name_wire(name) + salt).digest()
    for _ in range(iterations):
        digest = hashlib.sha1(digest + salt).digest()
    return digest


def _check_nsec3(
    zone: LeanZone,
    shape: Shape,
    codec: Codec,
    counts: Counts,
    ttl: int,
    with_nsec3: list[str],
) -> None:
    origin = zone.origin
    _, _, param_text = _one(zone, origin, NSEC3PARAM)
    if param_text.split() != ["1", "0", "0", "-"]:
        # Iterations or a salt draw an RFC 9276 warning; other values are errors.
        raise Doubt("NSEC3PARAM other than 1 0 0 -")
    suffix = "." + origin if origin != "." else "."
    entries: dict[bytes, tuple[int, frozenset[int]]] = {}
    nexts: dict[bytes, bytes] = {}
    bitmaps: dict[str, frozenset[int]] = {}
    for name in with_nsec3:
        _, rttl, text = _one(zone, name, NSEC3)
        counts.nsec3_records += 1
        label = name[: -len(suffix)]
        if rttl != ttl or not name.endswith(suffix) or "." in label:
            raise Doubt(f"{name}: NSEC3 owner or TTL")
        f = text.split(None, 5)
        if len(f) < 5 or f[0] != "1" or f[2] != "0" or f[3] != "-" or f[1] not in ("0", "1"):
            raise Doubt(f"{name}: NSEC3 parameters or flags")
        words = f[5] if len(f) == 6 else ""
        types = bitmaps.get(words)
        if types is None:
            types = bitmaps[words] = frozenset(zone.type_number(w) for w in words.split())
        digest = b32_digest(label)
        entries[digest] = (int(f[1]), types)
        nexts[digest] = b32_digest(f[4].lower())
    order = sorted(entries)
    for i, digest in enumerate(order):
        if nexts[digest] != order[(i + 1) % len(order)]:
            raise Doubt("NSEC3 next hashed owner")
    if len({flags for flags, _ in entries.values()}) > 1:
        raise Doubt("Opt-Out on some NSEC3 records only")
    opt_out = bool(order) and bool(entries[order[0]][0] & OPT_OUT)
    ents = set(shape.ents)
    optional = shape.opt_out_optional if opt_out else set()
    hashed: set[bytes] = set()
    # Names an opt-out chain may leave out are hashed only if some NSEC3 is still unexplained
    # (a signer may give them NSEC3 records anyway).
    required = [n for n in [*shape.authoritative, *shape.ents] if n not in optional]
    used = _match_nsec3(shape, entries, ents, required, hashed, optional=False)
    if used < len(entries):
        extra = [n for n in [*shape.authoritative, *shape.ents] if n in optional]
        used += _match_nsec3(shape, entries, ents, extra, hashed, optional=True)
    if used != len(entries):
        raise Doubt("NSEC3 records for names that need none")


def _match_nsec3(
    shape: Shape,
    entries: dict[bytes, tuple[int, frozenset[int]]],
    ents: set[str],
    names: list[str],
    hashed: set[bytes],
    *,
    optional: bool,
    known: Mapping[str, bytes] | None = None,
) -> int:
    """Check the NSEC3 of each name: how many NSEC3 records they account for. ``known``:
    hashes already computed (by the workers of the one-pass path)."""
    used = 0
    for name in names:
        h = known.get(name) if known is not None else None
        if h is None:
            h = nsec3_hash(name, b"", 0)
        if h in hashed:
            raise Doubt(f"{name}: NSEC3 hash collision")
        hashed.add(h)
        entry = entries.get(h)
        if entry is None:
            if optional:
                continue
            raise Doubt(f"{name}: no NSEC3")
        used += 1
        if name in ents:
            expected: frozenset[int] = frozenset()
        elif name in shape.delegations:
            expected = _SECURE_CUT if DS in shape.types[name] else _INSECURE_CUT
        else:
            data = shape.types[name] - _NOT_DATA
            expected = data | {RRSIG} if data else data
        if entry[1] != expected:
            raise Doubt(f"{name}: NSEC3 type bitmap")
    return used


_SECURE_CUT = frozenset({NS, DS, RRSIG})
_INSECURE_CUT = frozenset({NS})


def b32_digest(text: str) -> bytes:
    """A SHA-1 hash from its base32hex text (digits 0-9 a-v are Python's base 32)."""
    if _B32HEX_SHA1(text) is None:
        raise Doubt(f"{text!r} is not a base32hex SHA-1 hash")
    return int(text, 32).to_bytes(20, "big")


_B32HEX_SHA1 = re.compile("[0-9a-v]{32}").fullmatch
