"""What each name of a zone is: apex, delegation, occluded, empty non-terminal (RFC 4035 §2.2).

The verifier needs, before any signature or chain check, the answer a validator's view of the
zone implies for every owner name:

* names at or below a zone cut (a non-apex NS RRset) other than the cut itself, and names below
  a DNAME owner (RFC 6672 §2.3), are *occluded*: not authoritative, never signed, never in a
  denial chain (glue is the common case);
* a delegation point is authoritative only for DS and the denial record (RFC 4035 §2.2: NS is
  not signed there);
* *empty non-terminals* are names with no data but with authoritative descendants; NSEC skips
  them, NSEC3 must cover them (RFC 5155 §7.1).

Canonical order (RFC 4034 §6.1) is computed here with its own key (labels right to left,
lowercased, compared as unsigned octet strings) rather than taken from the signer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import dns.name
import dns.rdatatype

from signwire.verify.zone_reader import ZoneContents

NS = dns.rdatatype.NS
DS = dns.rdatatype.DS
DNAME = dns.rdatatype.DNAME
NSEC = dns.rdatatype.NSEC
NSEC3 = dns.rdatatype.NSEC3
RRSIG = dns.rdatatype.RRSIG

# Types that are not "data" for deciding whether a name exists (RFC 4035 §2.3, RFC 5155 §7.1):
# a name that only holds denial records is not a name of the unsigned zone.
_DENIAL = frozenset({NSEC, NSEC3})


def canonical_key(name: dns.name.Name) -> tuple[bytes, ...]:
    """Sort key whose tuple order is the RFC 4034 §6.1 canonical order of names."""
    return tuple(label.lower() for label in reversed(name.labels))


@dataclass
class ZoneShape:
    origin: dns.name.Name
    delegations: set[dns.name.Name] = field(default_factory=set)
    """Non-apex names holding an NS RRset (zone cuts)."""
    occluded: dict[dns.name.Name, dns.name.Name] = field(default_factory=dict)
    """Names below a zone cut or a DNAME, mapped to that cut or DNAME owner."""
    authoritative: list[dns.name.Name] = field(default_factory=list)
    """Names that hold authoritative data or are delegation points, in canonical order."""
    empty_non_terminals: list[dns.name.Name] = field(default_factory=list)
    """Names with no data but with authoritative descendants, in canonical order."""
    opt_out_optional: set[dns.name.Name] = field(default_factory=set)
    """Insecure delegations, and empty non-terminals with only those below them: the names an
    opt-out NSEC3 chain may leave out (RFC 5155 §6, §7.1)."""

    def is_delegation(self, name: dns.name.Name) -> bool:
        return name in self.delegations

    def is_occluded(self, name: dns.name.Name) -> bool:
        return name in self.occluded


def data_types(node: Mapping[int, object]) -> set[int]:
    """The types at a name that make it exist in the unsigned zone."""
    return {t for t in node if t not in _DENIAL}


def classify(contents: ZoneContents) -> ZoneShape:
    origin = contents.origin
    shape = ZoneShape(origin)
    names = set(contents.nodes) | set(contents.sigs)
    ordered = sorted(names, key=canonical_key)
    cut: dns.name.Name | None = None
    authoritative: list[dns.name.Name] = []
    for name in ordered:
        node = contents.nodes.get(name, {})
        if cut is not None:
            if not name.is_subdomain(cut):
                cut = None
            elif not (cut == origin and _is_nsec3_owner(name, node, origin)):
                shape.occluded[name] = cut
                continue
        if NS in node and name != origin:
            shape.delegations.add(name)
            cut = name
            authoritative.append(name)
            continue
        if DNAME in node:
            # The DNAME owner keeps its own data; only the names below it are occluded.
            cut = name
        if data_types(node) or name is origin or name == origin:
            authoritative.append(name)
    shape.authoritative = authoritative
    _empty_non_terminals(contents, shape)
    return shape


def _is_nsec3_owner(name: dns.name.Name, node: Mapping[int, object], origin: dns.name.Name) -> bool:
    """An NSEC3 owner of the zone: one label below the apex, holding nothing but NSEC3.

    A DNAME at the apex occludes every name below it (RFC 6672 §2.3) except these: they are the
    zone's own denial records, which ldns, BIND and Knot accept beside an apex DNAME.
    """
    return NSEC3 in node and not data_types(node) and name.parent() == origin


def _empty_non_terminals(contents: ZoneContents, shape: ZoneShape) -> None:
    origin = shape.origin
    existing = set(shape.authoritative)
    ents: set[dns.name.Name] = set()
    needed_anyway: set[dns.name.Name] = set()
    for name in shape.authoritative:
        insecure = name in shape.delegations and DS not in contents.nodes.get(name, {})
        if insecure:
            shape.opt_out_optional.add(name)
        if name is origin or name == origin:
            continue
        parent = name.parent()
        while parent != origin and parent not in existing:
            ents.add(parent)
            if not insecure:
                needed_anyway.add(parent)
            parent = parent.parent()
    shape.empty_non_terminals = sorted(ents, key=canonical_key)
    shape.opt_out_optional |= ents - needed_anyway
