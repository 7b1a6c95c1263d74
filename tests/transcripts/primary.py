"""A primary's side of a zone transfer, built with dnspython only, for the transcript tests.

It answers a query (the wire bytes signwire built) the way a real server does: the answer
split over several messages, each signed with TSIG in a running multi-message digest (RFC 8945
§5.3.1) when the query was signed. Hooks let a test drop the signature of a message, sign one
with another secret, or change the wire after signing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.zone

Wire = bytes

ORIGIN = dns.name.from_text("example.com.")

ZONE_TEXT = """\
$TTL 3600
@        IN SOA ns1.example.com. hostmaster.example.com. {serial} 7200 900 1209600 300
@        IN NS  ns1.example.com.
@        IN NS  ns2.Example.COM.
@        IN MX  10 mail.example.com.
@        IN TXT "v=spf1 -all" "two strings"
ns1      IN A   192.0.2.1
ns2      IN AAAA 2001:db8::2
mail     IN A   192.0.2.25
www      IN CNAME example.com.
_sip._tcp IN SRV 10 60 5060 sip.example.com.
naptr    IN NAPTR 100 10 "S" "SIP+D2U" "" _sip._udp.example.com.
rp       IN RP  hostmaster.example.com. txt.example.com.
sub      IN NS  ns.sub.example.com.
ns.sub   IN A   192.0.2.53
ptr      IN PTR www.example.com.
Upper.Case IN A 192.0.2.7
nsec     IN NSEC ptr.example.com. A NS SOA RRSIG NSEC
nsec     IN RRSIG A 13 3 3600 20270101000000 20261201000000 12345 example.com. AAAA
nsec     IN TYPE65534 \\# 3 010203
sub      IN DS 12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
"""


def zone(serial: int, extra: str = "") -> dns.zone.Zone:
    return dns.zone.from_text(ZONE_TEXT.format(serial=serial) + extra, ORIGIN, relativize=False)


def soa_of(z: dns.zone.Zone) -> dns.rrset.RRset:
    rds = z.find_rdataset(ORIGIN, dns.rdatatype.SOA)
    return dns.rrset.from_rdata_list(ORIGIN, rds.ttl, list(rds))


def single_rrs(z: dns.zone.Zone) -> list[dns.rrset.RRset]:
    """Every record of the zone as a one-record RRset, SOA excluded, in the zone's order."""
    out = []
    for name, node in sorted(z.nodes.items()):
        for rds in node.rdatasets:
            if rds.rdtype == dns.rdatatype.SOA:
                continue
            for rd in rds:
                out.append(dns.rrset.from_rdata(name, rds.ttl, rd))
    return out


def axfr_stream(z: dns.zone.Zone) -> list[dns.rrset.RRset]:
    soa = soa_of(z)
    return [soa, *single_rrs(z), soa]


def ixfr_stream(steps: Sequence[tuple[dns.zone.Zone, dns.zone.Zone]]) -> list[dns.rrset.RRset]:
    """RFC 1995 §4 incremental answer: newest SOA, then per step old SOA, deletions, new SOA,
    additions, and the newest SOA again."""
    newest = soa_of(steps[-1][1])
    out = [newest]
    for old, new in steps:
        before = {_key(r): r for r in single_rrs(old)}
        after = {_key(r): r for r in single_rrs(new)}
        out.append(soa_of(old))
        out.extend(r for k, r in before.items() if k not in after)
        out.append(soa_of(new))
        out.extend(r for k, r in after.items() if k not in before)
    out.append(newest)
    return out


def _key(r: dns.rrset.RRset) -> tuple[str, int, int, str]:
    return (r.name.to_text().lower(), r.rdtype, r.ttl, r[0].to_text())


def parsed(messages: Sequence[Wire]) -> list[tuple[bytes, int, int, bytes, int]]:
    """The answer records of the messages as dnspython reads them, in order. Owner case is
    what the wire holds: a compressed name takes the case of the earlier name it points to."""
    out = []
    for wire in messages:
        msg = dns.message.from_wire(wire, keyring=False, one_rr_per_rrset=True)
        out.extend(expected(msg.answer))
    return out


def expected(rrsets: Sequence[dns.rrset.RRset]) -> list[tuple[bytes, int, int, bytes, int]]:
    """signwire's record tuples for dnspython RRsets: uncompressed wire, the case as written."""
    out = []
    for r in rrsets:
        for rd in r:
            out.append((r.name.to_wire(), int(r.rdtype), r.ttl, rd.to_wire(), 0))
    return out


def answer(
    query_wire: Wire,
    stream: Sequence[dns.rrset.RRset],
    *,
    per_message: int = 4,
    keyring: dict[dns.name.Name, dns.tsig.Key] | None = None,
    unsigned: Callable[[int], bool] = lambda i: False,
    rcode: int = 0,
    sign_key: dns.tsig.Key | None = None,
) -> list[Wire]:
    """The primary's answer messages. ``unsigned(i)`` leaves message ``i`` without a TSIG
    (its bytes still go into the running digest, as RFC 8945 §5.3.1 says); ``sign_key``
    signs with another key than the one the query was checked with."""
    q = dns.message.from_wire(query_wire, keyring=keyring)
    chunks = [list(stream[i : i + per_message]) for i in range(0, len(stream), per_message)]
    chunks = chunks or [[]]
    out: list[Wire] = []
    ctx = None
    for i, chunk in enumerate(chunks):
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA
        if sign_key is not None:
            r.keyring = sign_key
        if rcode:
            r.set_rcode(dns.rcode.Rcode(rcode))
        if i:
            r.question = []
        r.answer.extend(chunk)
        if q.had_tsig and unsigned(i):
            r.tsig = None
            r.want_tsig_sign = False
            wire = r.to_wire(max_size=65535)
            if ctx is not None:
                ctx.update(wire)
        else:
            wire = r.to_wire(max_size=65535, multi=True, tsig_ctx=ctx)
            ctx = r.tsig_ctx
        out.append(wire)
    return out
