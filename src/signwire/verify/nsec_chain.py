"""The NSEC chain of a zone (RFC 4034 §4, RFC 4035 §2.3).

Every authoritative name, delegation points included and empty non-terminals, glue and occluded
names excluded, has exactly one NSEC record; each points to the next such name in canonical
order (RFC 4034 §6.1) and the last one to the apex, so the chain is closed. The type bitmap lists
the types present at the name plus RRSIG and NSEC; at a delegation only NS, DS (if present),
RRSIG and NSEC, because the rest belongs to the child (RFC 4035 §2.3).
"""

from __future__ import annotations

import dns.name
import dns.rdatatype
from dns.rdtypes.ANY.NSEC import NSEC

from signwire.verify.denial import bitmap_types, check_denial_ttl, compare_bitmap
from signwire.verify.report import Counts, ProblemLog
from signwire.verify.structure import ZoneShape, canonical_key, data_types
from signwire.verify.zone_reader import ZoneContents

_NSEC = dns.rdatatype.NSEC
_NS = dns.rdatatype.NS
_DS = dns.rdatatype.DS
_RRSIG = dns.rdatatype.RRSIG


def expected_nsec_types(contents: ZoneContents, shape: ZoneShape, name: dns.name.Name) -> set[int]:
    node = contents.nodes.get(name, {})
    if shape.is_delegation(name):
        types: set[int] = {_NS}
        if _DS in node:
            types.add(_DS)
    else:
        types = data_types(node)
    return types | {_RRSIG, _NSEC}


def check_nsec_chain(
    log: ProblemLog,
    contents: ZoneContents,
    shape: ZoneShape,
    counts: Counts,
    *,
    ttl: int | None,
) -> None:
    """Check the NSEC records of ``contents``; ``ttl`` is the expected NSEC TTL (RFC 9077)."""
    chain = shape.authoritative
    needed = set(chain)
    for name, node in contents.nodes.items():
        rds = node.get(_NSEC)
        if rds is None:
            continue
        counts.nsec_records += len(rds)
        if name not in needed:
            if shape.is_occluded(name):
                why = f"it is below the zone cut or DNAME at {shape.occluded[name]}"
            else:
                why = "it has no other data"
            log.error(name, "NSEC", f"NSEC at a name that must not have one: {why}")
    for i, name in enumerate(chain):
        rds = contents.rdataset(name, _NSEC)
        if rds is None:
            log.error(name, "NSEC", "no NSEC record for this authoritative name")
            continue
        if len(rds) != 1:
            log.error(name, "NSEC", f"{len(rds)} NSEC records, expected one")
            continue
        nsec = next(iter(rds))
        assert isinstance(nsec, NSEC)
        expected_next = chain[(i + 1) % len(chain)]
        if nsec.next != expected_next:
            log.error(name, "NSEC", _next_problem(nsec.next, expected_next, name, needed))
        compare_bitmap(
            log,
            name,
            "NSEC",
            bitmap_types(nsec.windows),
            expected_nsec_types(contents, shape, name),
        )
        check_denial_ttl(log, name, "NSEC", rds.ttl, ttl)


def _next_problem(
    got: dns.name.Name, expected: dns.name.Name, owner: dns.name.Name, needed: set[dns.name.Name]
) -> str:
    if got not in needed:
        return (
            f"next name {got} is not an authoritative name of the zone; expected {expected} "
            "(chain broken)"
        )
    if canonical_key(got) <= canonical_key(owner) and canonical_key(expected) > canonical_key(
        owner
    ):
        return f"next name {got} is not after {owner} in canonical order; expected {expected}"
    return f"next name {got} skips names or is out of canonical order; expected {expected}"
