"""Is the DS at the parent? The question for the parental agents, and what their answers mean.

The enforcer may count a DS as published (or withdrawn) only when *every* server of the parent
zone serves the change: a resolver can ask any of them (RFC 7583 §3.3.1, "the DS is in the
parent zone"; RFC 7344 §4.1 lets parents act on CDS in their own time, so the child has to look).
The parental agents are the policy's list of such servers. Their answers count only when they are
authoritative for the parent side of the zone cut, which holds the DS (RFC 4035 §3.1.4.1): an
answer with the AA flag and rcode NOERROR or NXDOMAIN (RFC 2308: NXDOMAIN and NODATA say the DS
is not there). A server that answers from the child zone itself, times out, refuses or fails
leaves the question open, and so does disagreement between agents.

Everything here is pure: :func:`ds_query` builds the message, :func:`observe` reads the replies
the I/O shell (:mod:`signwire.parent.query`) collected, and returns the enforcer events
(:class:`~signwire.keys.plan.DsSeen`, :class:`~signwire.keys.plan.DsGone`) they justify.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import dns.dnssec
import dns.dnssectypes
import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from signwire.keys.plan import DsGone, DsSeen, Event
from signwire.policy.model import ParentalAgent

DsRdata = bytes | dns.rdata.Rdata  # DS RDATA in wire form, or as dnspython parsed it

EDNS_PAYLOAD = 1232  # the DNS Flag Day 2020 size: no fragmentation; TCP takes bigger answers


@dataclass(frozen=True, slots=True)
class Answer:
    """A reply an agent sent to :func:`ds_query` (already matched to the query by dnspython)."""

    response: dns.message.Message
    tcp: bool = False  # the UDP reply was truncated and the question went again over TCP


@dataclass(frozen=True, slots=True)
class QueryError:
    """No usable reply: ``reason`` says what happened ("no answer within 3 s", ...)."""

    reason: str


AgentResult = Answer | QueryError


@dataclass(frozen=True, slots=True)
class AgentView:
    """What one agent's reply says about the DS RRset. ``ds`` is None when it says nothing."""

    agent: ParentalAgent
    ds: frozenset[bytes] | None  # DS RDATA the agent serves (empty: NXDOMAIN or NODATA)
    ttl: int | None  # TTL of the DS RRset it serves
    problem: str | None


@dataclass(frozen=True, slots=True)
class Observation:
    """What all the agents together say about the zone's DS records."""

    zone: dns.name.Name
    seen: frozenset[str]  # keys whose DS every agent serves
    gone: frozenset[str]  # keys whose DS no agent serves (and every agent answered)
    unanimous: bool  # every agent answered, and all serve the same DS RRset
    problems: tuple[str, ...]  # one line each, naming the agent (or key) and what is wrong
    ds_ttl: int | None  # the largest TTL any agent serves the DS RRset with (None: no DS)
    unknown_ds: tuple[str, ...]  # DS records at the parent that match no expected key

    def events(self) -> list[Event]:
        """The events to feed the enforcer: every key seen, then every key gone."""
        out: list[Event] = [DsSeen(k) for k in sorted(self.seen)]
        out.extend(DsGone(k) for k in sorted(self.gone))
        return out


def zone_name(zone: bytes | str | dns.name.Name) -> dns.name.Name:
    """The zone as a dnspython name; ``bytes`` are uncompressed wire form as everywhere here."""
    if isinstance(zone, dns.name.Name):
        return zone
    if isinstance(zone, bytes):
        name, _ = dns.name.from_wire(zone, 0)
        return name
    return dns.name.from_text(zone)


def agent_label(agent: ParentalAgent) -> str:
    """``192.0.2.1``, ``192.0.2.1:5353`` or ``[2001:db8::1]:5353``, as the policy writes it."""
    if agent.port == 53:
        return agent.address
    if ":" in agent.address:
        return f"[{agent.address}]:{agent.port}"
    return f"{agent.address}:{agent.port}"


def ds_query(
    zone: bytes | str | dns.name.Name, *, query_id: int | None = None
) -> dns.message.Message:
    """The question for a parental agent: DS for the zone, recursion not desired.

    The agents are authoritative servers, so RD stays clear (a recursive server would answer
    from its cache, which says nothing about what the parent serves now). EDNS0 with a 1232-octet
    payload; an RRset that does not fit comes back truncated and is asked again over TCP.
    """
    query = dns.message.make_query(
        zone_name(zone), dns.rdatatype.DS, use_edns=0, payload=EDNS_PAYLOAD, id=query_id
    )
    query.flags &= ~dns.flags.RD
    return query


def expected_ds(
    zone: bytes | str | dns.name.Name, dnskey_rdata: bytes, digest_types: Iterable[int]
) -> tuple[bytes, ...]:
    """DS RDATA for a DNSKEY, one per digest type (RFC 4034 §5.1.4, RFC 4509, RFC 6605 §2)."""
    dnskey = dns.rdata.from_wire(
        dns.rdataclass.IN, dns.rdatatype.DNSKEY, dnskey_rdata, 0, len(dnskey_rdata)
    )
    name = zone_name(zone)
    return tuple(
        dns.dnssec.make_ds(name, dnskey, dns.dnssectypes.DSDigest(digest)).to_digestable()
        for digest in digest_types
    )


def ds_text(rdata: bytes) -> str:
    """Presentation form of DS RDATA: ``12345 13 2 4a5b...``."""
    return dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.DS, rdata, 0, len(rdata)).to_text()


def read_answer(zone: dns.name.Name, agent: ParentalAgent, result: AgentResult) -> AgentView:
    """What one agent's reply (or failure) says; a problem line when it says nothing usable."""
    label = agent_label(agent)

    def undecided(what: str) -> AgentView:
        return AgentView(agent, None, None, f"parental agent {label}: {what}")

    if isinstance(result, QueryError):
        return undecided(f"no usable answer ({result.reason})")
    response = result.response
    rcode = response.rcode()
    if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        hint = ""
        if rcode == dns.rcode.REFUSED:
            hint = f" (is it a server of the parent zone of {zone}?)"
        return undecided(f"answered {dns.rcode.to_text(rcode)}{hint}")
    if response.question and (
        response.question[0].name != zone or response.question[0].rdtype != dns.rdatatype.DS
    ):
        asked = response.question[0]
        return undecided(
            f"answered about {asked.name} {dns.rdatatype.to_text(asked.rdtype)}, not {zone} DS"
        )
    if response.flags & dns.flags.TC:
        return undecided("answer truncated even over TCP")
    if not response.flags & dns.flags.AA:
        return undecided(
            f"answered {dns.rcode.to_text(rcode)} without the AA flag: it is not authoritative "
            f"for the parent zone of {zone} (a referral or a cached answer)"
        )
    ds_rrset = None
    other: list[str] = []
    for rrset in response.answer:
        is_ds = rrset.rdtype == dns.rdatatype.DS and rrset.rdclass == dns.rdataclass.IN
        if is_ds and rrset.name == zone:
            ds_rrset = rrset
        elif rrset.rdtype != dns.rdatatype.RRSIG:
            other.append(f"{rrset.name} {dns.rdatatype.to_text(rrset.rdtype)}")
    if ds_rrset is not None:
        if rcode != dns.rcode.NOERROR:
            return undecided(f"answered {dns.rcode.to_text(rcode)} with a DS RRset")
        served = frozenset(rd.to_digestable() for rd in ds_rrset)
        return AgentView(agent, served, ds_rrset.ttl, None)
    if other:
        return undecided(f"answered with {', '.join(other)} instead of DS")
    # NXDOMAIN or NODATA. The SOA in the authority section says which zone answered: the zone
    # itself means the server serves the child and not the parent, so the DS question went to
    # the wrong side of the cut and "no DS" means nothing.
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.SOA and not (
            zone.is_subdomain(rrset.name) and rrset.name != zone
        ):
            return undecided(
                f"answered {_negative(rcode)} from zone {rrset.name}, not from a parent of "
                f"{zone}: it does not serve the parent zone"
            )
    return AgentView(agent, frozenset(), None, None)


def observe(
    zone: bytes | str | dns.name.Name,
    expected: Mapping[str, Sequence[DsRdata]],
    answers: Mapping[ParentalAgent, AgentResult],
    *,
    parent_ds_ttl: int | None = None,
) -> Observation:
    """Decide, for each key, whether all agents serve its DS (seen), none does (gone), or neither.

    ``expected`` maps each key id to the DS records that stand for it (one per digest type the
    policy lists; any one of them at the parent counts). ``answers`` must hold an entry for every
    configured agent. With ``parent_ds_ttl`` (the policy's assumption), a DS TTL served above it
    is reported, since the enforcer's waits after ``DsSeen``/``DsGone`` would be too short.
    """
    name = zone_name(zone)
    wanted = {key: frozenset(ds_wire(rd) for rd in rds) for key, rds in expected.items()}
    views = [read_answer(name, agent, result) for agent, result in answers.items()]
    problems = [v.problem for v in views if v.problem is not None]
    if not views:
        problems.append(f"no parental agents configured for {name}: cannot check the DS")
    decided = [v for v in views if v.ds is not None]
    everyone = bool(views) and len(decided) == len(views)

    seen: set[str] = set()
    gone: set[str] = set()
    for key in sorted(wanted):
        have = [v for v in decided if v.ds is not None and v.ds & wanted[key]]
        lack = [v for v in decided if v not in have]
        if have and lack:
            problems.append(
                f"key {key}: agents disagree: DS at {_labels(have)}, not at {_labels(lack)}"
            )
        elif everyone and not lack:
            seen.add(key)
        elif everyone and not have:
            gone.add(key)

    served = sorted(set().union(*(v.ds for v in decided if v.ds is not None)))
    all_wanted = frozenset().union(*wanted.values())
    unknown = [rd for rd in served if rd not in all_wanted]
    problems.extend(_near_misses(unknown, wanted))
    split = [rd for rd in unknown if any(v.ds is not None and rd not in v.ds for v in decided)]
    if split:
        problems.append(
            "agents disagree on DS records of no known key: "
            + "; ".join(
                f"{ds_text(rd)} at {_labels([v for v in decided if v.ds and rd in v.ds])}"
                for rd in split
            )
        )

    ttls = [v.ttl for v in decided if v.ttl is not None]
    ds_ttl = max(ttls) if ttls else None
    if ds_ttl is not None and parent_ds_ttl is not None and ds_ttl > parent_ds_ttl:
        at = _labels([v for v in decided if v.ttl == ds_ttl])
        problems.append(
            f"parent serves DS TTL {ds_ttl}, policy assumes {parent_ds_ttl} (at {at}): "
            f"raise parent-ds-ttl to at least {ds_ttl}"
        )

    unanimous = everyone and len({v.ds for v in decided}) == 1
    return Observation(
        zone=name,
        seen=frozenset(seen),
        gone=frozenset(gone),
        unanimous=unanimous,
        problems=tuple(problems),
        ds_ttl=ds_ttl,
        unknown_ds=tuple(ds_text(rd) for rd in unknown),
    )


def ds_wire(rdata: DsRdata) -> bytes:
    """DS RDATA in wire form (it holds no names, so this is also its canonical form)."""
    if isinstance(rdata, bytes):
        return rdata
    return rdata.to_digestable()


def _labels(views: Iterable[AgentView]) -> str:
    return ", ".join(agent_label(v.agent) for v in views)


def _negative(rcode: dns.rcode.Rcode) -> str:
    return "NXDOMAIN" if rcode == dns.rcode.NXDOMAIN else "NODATA"


def _near_misses(unknown: Iterable[bytes], wanted: Mapping[str, frozenset[bytes]]) -> list[str]:
    """DS at the parent with one of our keys' tag and algorithm but another digest: a parent
    that computed another digest type than the policy lists, or a DS made from the wrong key.
    Either way the key will never count as seen, so say so."""
    lines = []
    for rd in unknown:
        for key in sorted(wanted):
            if any(rd[:3] == ours[:3] for ours in wanted[key]):
                lines.append(
                    f"key {key}: the parent has DS {ds_text(rd)} with its key tag and algorithm "
                    "but not a digest the policy expects (check cds-digest-types and the DNSKEY)"
                )
                break
    return lines
