"""The authoritative responder, as a function: a query's bytes in, the answer's messages out.

    answers = respond(query_wire, peer, zones, keys, now, tcp=True)

No socket and no clock: the shell reads a message, calls :func:`respond` and writes back
every message of the returned list (one for an ordinary query, several for AXFR/IXFR over TCP,
none when the input deserves no answer: shorter than a header, or itself a response).
:func:`respond_stream` gives the same messages one at a time, each made when asked for: a
server writes the first message of a big zone's AXFR while the rest are still to be made, and
stops making them when the client goes away (a 1M-name zone is thousands of messages and
hundreds of MB: a secondary gives up when the first one takes longer than its timeout).

What it answers:

* ordinary queries for the served zones, authoritatively (AA), with RRSIGs and NSEC/NSEC3
  denial proofs taken from the signed version when the DO bit is set (RFC 4035 §3.1, NSEC3 as
  RFC 5155 §7.2 says), referrals at zone cuts with the DS or the proof that there is none,
  wildcard answers (RFC 4592), DNAME substitution (RFC 6672) and CNAMEs followed within the
  zone;
* SOA, AXFR (RFC 5936: over TCP only, split into messages of at most 64 KiB, the SOA first and
  last) and IXFR (RFC 1995: from the journal when it reaches back to the client's serial, a
  lone SOA when the client is current, the whole zone in AXFR form otherwise);
* transfers only to peers that the zone's ACL lists and, when the zone names a TSIG key, only
  to requests signed with that key: REFUSED otherwise (default deny);
* TSIG (RFC 8945): a signed request is checked with ``now``; a failure is answered NOTAUTH with
  the TSIG error; an answer to a signed request is signed with its key, every message of a
  transfer in one running digest;
* EDNS (RFC 6891): the OPT is echoed with our UDP size; a UDP answer larger than the client's
  size is sent empty with TC; an unknown EDNS version gets BADVERS;
* EDNS EXPIRE (RFC 7314): answered with the zone's own SOA expire, never a countdown, so a
  secondary's expiry is never tied to the signer's view of its own primary (never dark);
* REFUSED for names in no served zone, NOTIMP for other opcodes, FORMERR for what does not
  parse. Nothing here raises on malformed input.

Not done here: following a CNAME or DNAME into another served zone (the chain stops at the
zone's edge), and minimal-response tuning.
"""

from __future__ import annotations

import hashlib
import ipaddress
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import dns.exception
import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TSIG
import dns.tsig

from signwire.publication.journal import Journal
from signwire.zones import names
from signwire.zones import serial as serials
from signwire.zones.base32hex import encode as b32hex
from signwire.zones.diff import Diff
from signwire.zones.rrtypes import CNAME, DNAME, DS, NS, NSEC, NSEC3, NSEC3PARAM, RRSIG, SOA
from signwire.zones.version import RR, NodeRecord, ZoneVersion

A, AAAA, OPT, TSIG, IXFR, AXFR, ANY = 1, 28, 41, 250, 251, 252, 255
CLASS_IN, CLASS_ANY = 1, 255
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, YXDOMAIN, NOTAUTH = 0, 1, 2, 3, 4, 5, 6, 9
BADVERS = 16
BADSIG, BADKEY, BADTIME = 16, 17, 18
EXPIRE_OPTION = 9

_QR, _AA, _TC, _RD, _CD = 0x8000, 0x0400, 0x0200, 0x0100, 0x0010
_DO = 0x8000
_OPCODE_QUERY = 0
_FUDGE = 300
_MAX_CHAIN = 8  # CNAMEs followed within a zone, as resolvers bound their own chase
_HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHIH")
_AN, _NS, _AR = 1, 2, 3

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class ServedZone:
    """A zone as it is served: the signed version, its journal and who may transfer it."""

    version: ZoneVersion
    journal: Journal | None = None
    transfer_acl: tuple[Network, ...] = ()  # empty: nobody (default deny)
    transfer_key: str | None = None  # lowercase key name with its trailing dot
    answer_queries: bool = True  # False: only SOA and transfers (a hidden signer)


@dataclass(frozen=True, slots=True)
class Limits:
    udp_payload: int = 1232  # advertised, and the most sent over UDP (DNS flag day 2020)
    tcp_message: int = 65535  # the most a DNS message over TCP can hold (RFC 1035 §4.2.2)


def zone_map(zones: Iterable[ServedZone]) -> dict[bytes, ServedZone]:
    """The mapping :func:`respond` takes: lowercase wire origin to zone."""
    return {names.lower(z.version.origin): z for z in zones}


# --- the request -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Request:
    msg_id: int
    opcode: int
    flags: int
    qname: bytes
    qtype: int
    qclass: int
    edns: int  # -1: no OPT
    payload: int
    do: bool
    expire_asked: bool
    message: dns.message.Message | None  # None: read by the fast path (no TSIG, no records)
    key: dns.tsig.Key | None = None  # the key that verified the request
    mac: bytes = b""


class TransferAborted(Exception):
    """A transfer cannot go on after some of its messages were given out: a record larger
    than a whole message. ``answer`` is what :func:`respond` answers instead (SERVFAIL); a
    server streaming the transfer can only drop the connection."""

    def __init__(self, answer: bytes) -> None:
        super().__init__("a record does not fit in a message")
        self.answer = answer


def respond(
    query: bytes,
    peer: str,
    zones: Mapping[bytes, ServedZone],
    keys: Mapping[str, dns.tsig.Key],
    now: int,
    *,
    tcp: bool,
    limits: Limits = Limits(),
) -> list[bytes]:
    """The messages that answer ``query`` from ``peer`` (an IP address as text)."""
    answers = _respond(query, peer, zones, keys, now, tcp, limits)
    if isinstance(answers, list):
        return answers
    try:
        return list(answers)
    except TransferAborted as e:
        return [e.answer]


def respond_stream(
    query: bytes,
    peer: str,
    zones: Mapping[bytes, ServedZone],
    keys: Mapping[str, dns.tsig.Key],
    now: int,
    *,
    tcp: bool,
    limits: Limits = Limits(),
) -> Iterator[bytes]:
    """:func:`respond`'s messages, each made (and TSIG-signed, in the same chain) only when
    the previous one has been taken; nothing is read or checked before the first is asked
    for. The same messages as :func:`respond` gives, except when a transfer meets a record
    too large for any message after its first message went: then :class:`TransferAborted`
    is raised where :func:`respond` answers SERVFAIL alone. Closing the generator stops
    the work."""
    yield from _respond(query, peer, zones, keys, now, tcp, limits)


def _respond(
    query: bytes,
    peer: str,
    zones: Mapping[bytes, ServedZone],
    keys: Mapping[str, dns.tsig.Key],
    now: int,
    tcp: bool,
    limits: Limits,
) -> list[bytes] | Iterator[bytes]:
    """The answer: a list when it is made at once, a generator for transfers (every AXFR
    and IXFR that gets past the checks)."""
    if len(query) < 12:
        return []
    msg_id, flags = struct.unpack_from("!HH", query)
    if flags & _QR:
        return []  # never answer an answer: two servers could loop on each other
    opcode = (flags >> 11) & 0xF
    req = _quick_request(query, msg_id, opcode, flags)
    if req is None:
        try:
            # keyring=False: read the TSIG record without dnspython checking it against the
            # system clock; it is checked below with ``now``. dnspython's parser is not ours,
            # and mutated input makes it raise more than its own exception types.
            msg = dns.message.from_wire(query, keyring=False)
        except Exception:
            return [_bare(msg_id, opcode, flags, FORMERR)]
        if opcode != _OPCODE_QUERY:
            return [_bare(msg_id, opcode, flags, NOTIMP)]
        if len(msg.question) != 1:
            return [_bare(msg_id, opcode, flags, FORMERR)]
        q = msg.question[0]
        wire_name = q.name.to_wire()
        assert wire_name is not None
        req = _Request(
            msg_id, opcode, flags, wire_name, int(q.rdtype), int(q.rdclass), msg.edns,
            max(512, msg.payload) if msg.edns >= 0 else 512,
            bool(msg.ednsflags & _DO) if msg.edns >= 0 else False,
            any(int(o.otype) == EXPIRE_OPTION for o in msg.options) if msg.edns >= 0 else False,
            msg,
        )
    qname = req.qname
    limit = limits.tcp_message if tcp else min(req.payload, max(512, limits.udp_payload))
    out = _Out(req, limits, now, limit, tcp)
    if req.message is not None and req.message.tsig is not None:
        error = _check_tsig(query, req, keys, now)
        if error:
            return [out.tsig_error(error)]
    if req.edns > 0:
        return [out.simple(0, ext_rcode=BADVERS)]
    zone = _find_zone(qname, zones)
    if req.qtype == DS and zone is not None and qname != names.ROOT and (
            names.lower(qname) == names.lower(zone.version.origin)):
        # The DS lives in the parent (RFC 4035 §3.1.4.1): when the parent is served here too,
        # it answers, not the child.
        zone = _find_zone(names.parent(qname), zones) or zone
    if req.qclass != CLASS_IN or zone is None:
        return [out.simple(REFUSED)]
    if req.qtype in (AXFR, IXFR):
        if not _transfer_allowed(zone, peer, req):
            return [out.simple(REFUSED)]
        if names.lower(qname) != names.lower(zone.version.origin):
            return [out.simple(NOTAUTH)]  # RFC 5936 §2.2.1: not the apex of a served zone
        if req.qtype == AXFR:
            if not tcp:
                return [out.simple(REFUSED)]  # RFC 5936 §4.2: AXFR runs over TCP only
            return out.stream(_axfr_stream(zone.version), zone)
        return _ixfr(out, zone, req)
    if not zone.answer_queries and req.qtype != SOA:
        return [out.simple(REFUSED)]
    return [out.answer(_resolve(zone, req), zone)]


def _quick_request(query: bytes, msg_id: int, opcode: int, flags: int) -> _Request | None:
    """The request read without dnspython when it has the everyday shape: a standard query
    with one question and at most an OPT record. Anything else (TSIG, IXFR's SOA, odd names,
    compression) returns None and goes through dnspython, which decides what is malformed;
    so this path only ever accepts messages that dnspython reads the same way."""
    if opcode != _OPCODE_QUERY:
        return None
    qd, an, ns, ar = struct.unpack_from("!HHHH", query, 4)
    if qd != 1 or an or ns or ar > 1:
        return None
    size = len(query)
    pos = 12
    while True:
        if pos >= size:
            return None
        length = query[pos]
        if length == 0:
            break
        if length > 63:
            return None  # a compression pointer or an unknown label type
        pos += length + 1
    pos += 1
    if pos - 12 > 255 or pos + 4 > size:
        return None
    qname = query[12:pos]
    qtype, qclass = struct.unpack_from("!HH", query, pos)
    pos += 4
    edns, payload, do, expire = -1, 512, False, False
    if ar:
        if pos + 11 > size or query[pos] != 0:
            return None
        rtype, rclass, ttl, rdlen = _RR_FIXED.unpack_from(query, pos + 1)
        pos += 11
        end = pos + rdlen
        if rtype != OPT or end != size:
            return None
        while pos < end:
            if pos + 4 > end:
                return None
            code, length = struct.unpack_from("!HH", query, pos)
            pos += 4 + length
            if pos > end:
                return None
            expire = expire or code == EXPIRE_OPTION
        edns, payload, do = (ttl >> 16) & 0xFF, max(512, rclass), bool(ttl & _DO)
    elif pos != size:
        return None
    return _Request(msg_id, opcode, flags, qname, qtype, qclass, edns, payload, do, expire, None)


def _find_zone(qname: bytes, zones: Mapping[bytes, ServedZone]) -> ServedZone | None:
    name = names.lower(qname)
    while True:
        zone = zones.get(name)
        if zone is not None or name == names.ROOT:
            return zone
        name = names.parent(name)


def _check_tsig(
    wire: bytes, req: _Request, keys: Mapping[str, dns.tsig.Key], now: int
) -> int:
    """0 when the request's TSIG verifies (``req.key`` is then set), else the TSIG error."""
    assert req.message is not None
    tsig = req.message.tsig
    assert tsig is not None
    owner = tsig.name
    rdata = cast(dns.rdtypes.ANY.TSIG.TSIG, tsig[0])
    req.mac = rdata.mac
    key = keys.get(owner.to_text().lower())
    if key is None:
        return BADKEY
    # The TSIG record is the message's last and its owner is never compressed (RFC 8945
    # §4.2), so it starts at the message length minus its own length.
    owner_wire = owner.to_wire()
    rdata_wire = rdata.to_wire()
    assert owner_wire is not None and rdata_wire is not None
    start = len(wire) - len(owner_wire) - 10 - len(rdata_wire)
    try:
        dns.tsig.validate(  # type: ignore[no-untyped-call]
            wire, key, owner, rdata, now, b"", start
        )
    except dns.tsig.BadTime:
        # The MAC verified (dnspython checks it before the time): the error answer is
        # signed with this key, and nothing else is answered.
        req.key = key
        return BADTIME
    except dns.tsig.BadKey:
        return BADKEY
    except (dns.exception.DNSException, ValueError, struct.error):
        return BADSIG
    req.key = key
    return 0


def _transfer_allowed(zone: ServedZone, peer: str, req: _Request) -> bool:
    try:
        address = ipaddress.ip_address(peer.split("%")[0])
    except ValueError:
        return False
    if not any(address in net for net in zone.transfer_acl):
        return False
    if zone.transfer_key is None:
        return True
    return req.key is not None and req.key.name.to_text().lower() == zone.transfer_key


# --- writing messages ------------------------------------------------------------------------


class _Builder:
    """One DNS message: owner names compressed (RFC 1035 §4.1.4), RDATA as stored (RFC 3597
    §4 forbids compressing it for new types, and for the old ones it only saves octets)."""

    def __init__(self, msg_id: int, flags: int, question: tuple[bytes, int] | None,
                 limit: int) -> None:
        self.msg_id = msg_id
        self.flags = flags
        self.limit = limit
        self.buf = bytearray(12)
        self.comp: dict[bytes, int] = {}
        self.counts = [0, 0, 0, 0]
        if question is not None:
            self._name(question[0])
            self.buf += struct.pack("!HH", question[1], CLASS_IN)
            self.counts[0] = 1

    def _name(self, name: bytes) -> list[bytes]:
        low = name.lower()
        start = len(self.buf)
        added = []
        pos = 0
        while low[pos]:
            ptr = self.comp.get(low[pos:])
            if ptr is not None:
                self.buf += name[:pos] + struct.pack("!H", 0xC000 | ptr)
                break
            if start + pos < 0x4000:
                self.comp[low[pos:]] = start + pos
                added.append(low[pos:])
            pos += low[pos] + 1
        else:
            self.buf += name
        return added

    def add(self, section: int, rr: RR) -> bool:
        """Append a record; False (and nothing appended) when it would pass the limit."""
        owner, rdtype, ttl, rdata = rr
        mark = len(self.buf)
        added = self._name(owner)
        self.buf += _RR_FIXED.pack(rdtype, CLASS_IN, ttl, len(rdata)) + rdata
        if len(self.buf) > self.limit:
            del self.buf[mark:]
            for suffix in added:
                del self.comp[suffix]
            return False
        self.counts[section] += 1
        return True

    def finish(self, rcode: int, extra: list[bytes]) -> bytes:
        """The message with ``extra`` (already encoded OPT) appended to the additional
        section."""
        flags = (self.flags & ~0xF) | (rcode & 0xF)
        qd, an, ns, ar = self.counts
        header = _HEADER.pack(self.msg_id, flags, qd, an, ns, ar + len(extra))
        return header + bytes(self.buf[12:]) + b"".join(extra)


class _Out:
    """Builds the answers to one request: flags, question, OPT and TSIG done once."""

    def __init__(self, req: _Request, limits: Limits, now: int, limit: int, tcp: bool) -> None:
        self.req = req
        self.limits = limits
        self.now = now
        self.tcp = tcp
        self.flags = _QR | (req.opcode << 11) | (req.flags & (_RD | _CD))
        self.question = (req.qname, req.qtype)
        reserve = 0
        if req.edns >= 0:
            reserve += 11 + 8  # the OPT, and room for an EXPIRE option
        if req.message is not None and req.message.tsig is not None:
            tsig = req.message.tsig
            key_name = tsig.name.to_wire()
            algorithm = cast(dns.rdtypes.ANY.TSIG.TSIG, tsig[0]).algorithm.to_wire()
            assert key_name is not None and algorithm is not None
            # Owner, fixed fields, algorithm name, then time, fudge, MAC (SHA-512 at most),
            # original ID, error and other data (6 octets for BADTIME).
            reserve += len(key_name) + 10 + len(algorithm) + 10 + 64 + 12
        self.limit = limit - reserve

    def _opt(self, ext_rcode: int = 0, expire: int | None = None) -> list[bytes]:
        if self.req.edns < 0:
            return []
        options = b""
        if expire is not None:
            options = struct.pack("!HHI", EXPIRE_OPTION, 4, expire)
        # The OPT TTL holds the upper 8 bits of the 12-bit RCODE (RFC 6891 §6.1.3).
        ttl = ((ext_rcode >> 4) << 24) | (_DO if self.req.do else 0)
        return [b"\x00" + _RR_FIXED.pack(OPT, self.limits.udp_payload, ttl, len(options))
                + options]

    def _sign(self, wire: bytes, ctx: Any = None, multi: bool = False) -> tuple[bytes, Any]:
        key = self.req.key
        if key is None:
            return wire, None
        return sign(wire, key, self.now, self.req.msg_id, self.req.mac, ctx, multi)

    def builder(self, question: bool = True) -> _Builder:
        return _Builder(self.req.msg_id, self.flags, self.question if question else None,
                        self.limit)

    def simple(self, rcode: int, ext_rcode: int = 0) -> bytes:
        b = self.builder()
        wire = b.finish(rcode, self._opt(ext_rcode))
        return self._sign(wire)[0]

    def tsig_error(self, error: int) -> bytes:
        """NOTAUTH with the TSIG error (RFC 8945 §5.3.2): with no MAC when the key or the MAC
        is wrong; signed when only the time is, with the request's time as Time Signed (so
        that the client's own clock accepts it) and ours in Other Data."""
        assert self.req.message is not None
        tsig = self.req.message.tsig
        assert tsig is not None
        rdata = cast(dns.rdtypes.ANY.TSIG.TSIG, tsig[0])
        if error == BADTIME and self.req.key is not None:
            ours = struct.pack("!HI", self.now >> 32, self.now & 0xFFFFFFFF)
            wire = self.builder().finish(NOTAUTH, self._opt())
            return sign(wire, self.req.key, rdata.time_signed, self.req.msg_id, self.req.mac,
                        error=BADTIME, other=ours)[0]
        reply = dns.rdtypes.ANY.TSIG.TSIG(  # type: ignore[no-untyped-call]
            dns.rdataclass.ANY, dns.rdatatype.TSIG, rdata.algorithm, self.now, _FUDGE, b"",
            self.req.msg_id, error, b"",
        )
        owner = tsig.name.to_wire()
        rdata_wire = reply.to_wire()
        assert owner is not None and rdata_wire is not None
        tsig_rr = owner + _RR_FIXED.pack(TSIG, CLASS_ANY, 0, len(rdata_wire)) + rdata_wire
        return self.builder().finish(NOTAUTH, [*self._opt(), tsig_rr])

    def answer(self, ans: _Answer, zone: ServedZone) -> bytes:
        flags = self.flags | (_AA if ans.aa else 0)
        expire = _soa_field(zone.version.soa[3], 3) if (
            self.req.expire_asked and self.req.qtype == SOA) else None
        b = _Builder(self.req.msg_id, flags, self.question, self.limit)
        full = all(b.add(_AN, rr) for rr in ans.answer) and all(
            b.add(_NS, rr) for rr in ans.authority)
        if not full:
            # RFC 2181 §9: what is needed (answer, and the authority of a negative answer or
            # a referral) did not fit: send nothing but TC, and the client retries over TCP.
            b = _Builder(self.req.msg_id, flags | _TC, self.question, self.limit)
        else:
            for rr in ans.additional:
                if not b.add(_AR, rr):
                    break  # additional data is optional: what fits goes
        return self._sign(b.finish(ans.rcode, self._opt(expire=expire)))[0]

    def stream(self, rrs: Iterator[RR], zone: ServedZone) -> Iterator[bytes]:
        """Messages of a transfer, each filled to the limit, signed in one TSIG chain (each
        MAC runs on from the previous one, RFC 8945 §5.3.1), each made when asked for.

        One record larger than a whole message: no transfer can carry it. SERVFAIL alone
        when no message went yet, else :class:`TransferAborted` (carrying that SERVFAIL)."""
        expire = _soa_field(zone.version.soa[3], 3) if self.req.expire_asked else None
        flags = self.flags | _AA
        ctx: Any = None
        b = _Builder(self.req.msg_id, flags, self.question, self.limit)
        for rr in rrs:
            if b.add(_AN, rr):
                continue
            if b.counts[_AN] == 0:
                # Only the first message can be empty here: nothing went yet.
                yield self.simple(SERVFAIL)
                return
            wire, ctx = self._sign(b.finish(NOERROR, self._opt(expire=expire)), ctx, True)
            yield wire
            b = _Builder(self.req.msg_id, flags, None, self.limit)
            if not b.add(_AN, rr):
                raise TransferAborted(self.simple(SERVFAIL))
        yield self._sign(b.finish(NOERROR, self._opt(expire=expire)), ctx, True)[0]


def sign(
    wire: bytes, key: dns.tsig.Key, now: int, original_id: int, request_mac: bytes,
    ctx: Any = None, multi: bool = False, *, error: int = 0, other: bytes = b"",
) -> tuple[bytes, Any]:
    """Append a TSIG record signed at ``now`` (RFC 8945 §4); return the message and the
    running digest for the next message of a multi-message answer (§5.3.1), when ``multi``.

    The MAC itself is dnspython's (``dns.tsig.sign``); only the record is assembled here,
    because dnspython's message signing reads the system clock."""
    blank = dns.rdtypes.ANY.TSIG.TSIG(  # type: ignore[no-untyped-call]
        dns.rdataclass.ANY, dns.rdatatype.TSIG, key.algorithm, now, _FUDGE, b"",
        original_id, error, other,
    )
    rdata, next_ctx = dns.tsig.sign(  # type: ignore[no-untyped-call]
        wire, key, blank, now, request_mac or None, ctx, multi
    )
    rdata_wire = rdata.to_wire()
    owner = key.name.to_wire()
    assert owner is not None and rdata_wire is not None
    rr = owner + _RR_FIXED.pack(TSIG, CLASS_ANY, 0, len(rdata_wire)) + rdata_wire
    arcount = struct.unpack_from("!H", wire, 10)[0] + 1
    return wire[:10] + struct.pack("!H", arcount) + wire[12:] + rr, next_ctx


def _bare(msg_id: int, opcode: int, flags: int, rcode: int) -> bytes:
    """A header-only answer, for requests whose question cannot be read or used."""
    out_flags = _QR | (opcode << 11) | (flags & _RD) | rcode
    return _HEADER.pack(msg_id, out_flags, 0, 0, 0, 0)


def _soa_field(rdata: bytes, index: int) -> int:
    """SERIAL (0), REFRESH, RETRY, EXPIRE (3) or MINIMUM (4) of SOA RDATA."""
    at = len(rdata) - 20 + 4 * index
    value: int = struct.unpack_from("!I", rdata, at)[0]
    return value


# --- transfers -------------------------------------------------------------------------------


def _axfr_stream(version: ZoneVersion) -> Iterator[RR]:
    soa = version.soa
    yield soa
    for rr in version.records():
        if rr[1] != SOA:
            yield rr
    yield soa


def _ixfr(out: _Out, zone: ServedZone, req: _Request) -> list[bytes] | Iterator[bytes]:
    client = None
    for rrset in req.message.authority if req.message is not None else []:
        if rrset.rdtype == SOA and len(rrset):
            client = int(cast(Any, rrset[0]).serial)
    if client is None:
        return [out.simple(FORMERR)]  # RFC 1995 §3: the client's SOA is required
    version = zone.version
    current = version.serial
    if not serials.gt(current, client):
        # RFC 1995 §2: the client is current (or ahead): the SOA alone.
        return out.stream(iter([version.soa]), zone)
    chain = zone.journal.chain(client, current) if zone.journal is not None else None
    stream = _axfr_stream(version) if chain is None else _ixfr_stream(version.soa, chain)
    if out.tcp:
        return out.stream(stream, zone)
    # Over UDP (RFC 1995 §2): the whole answer in one message, or the SOA alone, which tells
    # the client to come back over TCP.
    messages: list[bytes] = []
    if chain is not None:
        try:
            messages = list(out.stream(stream, zone))
        except TransferAborted as e:
            messages = [e.answer]
    if len(messages) == 1:
        return messages
    return list(out.stream(iter([version.soa]), zone))


def _ixfr_stream(soa: RR, chain: list[Diff]) -> Iterator[RR]:
    yield soa
    for d in chain:
        yield from d.records()
    yield soa


# --- ordinary queries ------------------------------------------------------------------------


@dataclass(slots=True)
class _Answer:
    rcode: int = NOERROR
    aa: bool = True
    answer: list[RR] = field(default_factory=list)
    authority: list[RR] = field(default_factory=list)
    additional: list[RR] = field(default_factory=list)
    seen: set[tuple[bytes, int, int]] = field(default_factory=set)


@dataclass(slots=True)
class _Ctx:
    version: ZoneVersion
    origin: bytes
    do: bool
    nsec3: tuple[bytes, int] | None  # salt, iterations: NSEC3 denial; None: NSEC (or unsigned)
    ans: _Answer
    nsec: bool = False  # the apex has an NSEC: the zone is signed with NSEC


def _resolve(zone: ServedZone, req: _Request) -> _Answer:
    version = zone.version
    ctx = _Ctx(version, version.origin, req.do, _nsec3_params(version), _Answer(),
               bool(version.rrset(version.origin, NSEC)))
    target = req.qname
    for step in range(_MAX_CHAIN):
        following = _step(ctx, target, req.qtype, first=step == 0)
        if following is None:
            break
        target = following
    return ctx.ans


def _nsec3_params(version: ZoneVersion) -> tuple[bytes, int] | None:
    for _, rdata in version.rrset(version.origin, NSEC3PARAM):
        if rdata[0] == 1:  # SHA-1, the only NSEC3 hash algorithm defined
            return rdata[5 : 5 + rdata[4]], struct.unpack_from("!H", rdata, 2)[0]
    return None


def _step(ctx: _Ctx, qname: bytes, qtype: int, first: bool) -> bytes | None:
    """Answer for ``qname`` into ``ctx.ans``; the CNAME target to follow next, if any."""
    v = ctx.version
    key = names.canonical_key(qname)
    origin_len = len(ctx.origin)
    # Walk down from the apex: the first zone cut on the way makes a referral; the deepest
    # name that exists is the closest encloser when qname does not.
    encloser = ctx.origin
    suffixes = _suffixes(qname, origin_len)
    for i, name in enumerate(suffixes):
        nkey = names.canonical_key(name)
        if not v.exists(nkey):
            break
        encloser = name
        at = v.index(nkey)
        if at is None:
            continue
        recs = v.node_at(at)[1]
        if any(t == NS for t, _, _ in recs) and not (i == len(suffixes) - 1 and qtype == DS):
            if first:
                _referral(ctx, name, recs)
            return None
        if i < len(suffixes) - 1 and any(t == DNAME for t, _, _ in recs):
            return _dname(ctx, qname, name, recs)
    else:
        at = v.index(key)
        if at is not None:
            return _at_node(ctx, qname, qtype, v.node_at(at)[1], first)
        _nodata_ent(ctx, qname, key, first)
        return None
    # qname does not exist: a wildcard at the closest encloser, or NXDOMAIN.
    wild = b"\x01*" + encloser
    at = v.index(names.canonical_key(wild))
    next_closer = _next_closer(qname, encloser)
    if at is not None:
        return _at_node(ctx, qname, qtype, v.node_at(at)[1], first,
                        wildcard=(wild, encloser, next_closer))
    ctx.ans.rcode = NXDOMAIN  # after a CNAME too: the last name's rcode (RFC 6604 §3)
    _negative_soa(ctx)
    if ctx.do:
        if ctx.nsec3 is None:
            _nsec_covering(ctx, key)
            _nsec_covering(ctx, names.canonical_key(wild))
        else:
            ce, nc = _closest_provable(ctx, qname)
            _nsec3_match(ctx, ce)
            _nsec3_cover(ctx, nc)
            _nsec3_cover(ctx, b"\x01*" + ce)
    return None


def _dname(ctx: _Ctx, qname: bytes, owner: bytes, recs: list[NodeRecord]) -> bytes | None:
    """qname is below a DNAME (RFC 6672 §3.2): the DNAME with its RRSIGs, the CNAME it
    implies (unsigned: a validator synthesises it too), and the new name to follow."""
    ttl, target = next((ttl, rd) for t, ttl, rd in recs if t == DNAME)
    _add(ctx, ctx.ans.answer, owner, recs, DNAME)
    new = qname[: len(qname) - len(owner)] + target
    if len(new) > 255:
        ctx.ans.rcode = YXDOMAIN  # the substituted name is too long (RFC 6672 §2.2)
        return None
    ctx.ans.answer.append((qname, CNAME, ttl, new))
    if names.is_subdomain(names.canonical_key(new), names.canonical_key(ctx.origin)):
        return new
    return None


def _suffixes(qname: bytes, origin_len: int) -> list[bytes]:
    """The names from the apex's child down to qname itself, shortest first."""
    out = []
    pos = 0
    while len(qname) - pos > origin_len:
        out.append(qname[pos:])
        pos += qname[pos] + 1
    out.reverse()
    return out


def _next_closer(qname: bytes, encloser: bytes) -> bytes:
    """The ancestor of qname (or qname) one label longer than ``encloser``."""
    name = qname
    while len(names.parent(name)) > len(encloser):
        name = names.parent(name)
    return name


def _at_node(
    ctx: _Ctx, qname: bytes, qtype: int, recs: list[NodeRecord], first: bool,
    wildcard: tuple[bytes, bytes, bytes] | None = None,
) -> bytes | None:
    ans = ctx.ans
    types = {t for t, _, _ in recs}
    owner = qname  # a wildcard's records are given the name asked for (RFC 4592 §2.2.1)
    follow = None
    if qtype == ANY:
        ans.answer.extend((owner, t, ttl, rd) for t, ttl, rd in recs if ctx.do or t != RRSIG)
    elif qtype in types:
        _add(ctx, ans.answer, owner, recs, qtype)
    elif CNAME in types:
        _add(ctx, ans.answer, owner, recs, CNAME)
        target = next(rd for t, _, rd in recs if t == CNAME)
        origin_key = names.canonical_key(ctx.origin)
        if names.is_subdomain(names.canonical_key(target), origin_key):
            follow = target
    else:
        _negative_soa(ctx)
        if ctx.do:
            _nodata_proof(ctx, qname, recs, wildcard)
        return None
    if wildcard is not None and ctx.do:
        # The answer came from a wildcard: prove that qname itself does not exist.
        _wild, _encloser, next_closer = wildcard
        if ctx.nsec3 is None:
            _nsec_covering(ctx, names.canonical_key(qname))
        else:
            _nsec3_cover(ctx, next_closer)
    return follow


def _add(ctx: _Ctx, section: list[RR], owner: bytes, recs: list[NodeRecord], rdtype: int) -> None:
    """The records of one type at a node, and with DO their RRSIGs; each RRset once."""
    mark = (names.lower(owner), rdtype, id(section))
    if mark in ctx.ans.seen:
        return
    ctx.ans.seen.add(mark)
    section.extend((owner, t, ttl, rd) for t, ttl, rd in recs if t == rdtype)
    if ctx.do and rdtype != RRSIG:
        covered = struct.pack("!H", rdtype)
        section.extend(
            (owner, t, ttl, rd) for t, ttl, rd in recs if t == RRSIG and rd[:2] == covered
        )


def _negative_soa(ctx: _Ctx) -> None:
    """The SOA in the authority section, with the negative TTL (RFC 2308 §3): the lesser of
    the SOA's TTL and its MINIMUM field, for the SOA and its RRSIGs alike."""
    v = ctx.version
    owner, _, ttl, rdata = v.soa
    negative = min(ttl, _soa_field(rdata, 4))
    covered = struct.pack("!H", SOA)
    recs = [
        (t, negative if t == SOA or rd[:2] == covered else rttl, rd)
        for t, rttl, rd in v.node(owner) or []
        if t in (SOA, RRSIG)
    ]
    _add(ctx, ctx.ans.authority, owner, recs, SOA)


def _nodata_proof(
    ctx: _Ctx, qname: bytes, recs: list[NodeRecord],
    wildcard: tuple[bytes, bytes, bytes] | None,
) -> None:
    if wildcard is None:
        if ctx.nsec3 is None:
            _add(ctx, ctx.ans.authority, qname, recs, NSEC)
        elif not _nsec3_match(ctx, qname):
            # A DS query at an opt-out delegation: the closest provable encloser proof
            # (RFC 5155 §7.2.4).
            ce, nc = _closest_provable(ctx, qname)
            _nsec3_match(ctx, ce)
            _nsec3_cover(ctx, nc)
        return
    wild, encloser, next_closer = wildcard
    if ctx.nsec3 is None:
        _nsec_covering(ctx, names.canonical_key(qname))
        _add(ctx, ctx.ans.authority, wild, recs, NSEC)
    else:
        # RFC 5155 §7.2.5: closest encloser, next closer covered, the wildcard matched.
        _nsec3_match(ctx, encloser)
        _nsec3_cover(ctx, next_closer)
        _nsec3_match(ctx, wild)


def _nodata_ent(ctx: _Ctx, qname: bytes, key: bytes, first: bool) -> None:
    """qname is an empty non-terminal: it exists, with no data."""
    _negative_soa(ctx)
    if not ctx.do:
        return
    if ctx.nsec3 is None:
        _nsec_covering(ctx, key)
    elif not _nsec3_match(ctx, qname):
        ce, nc = _closest_provable(ctx, qname)
        _nsec3_match(ctx, ce)
        _nsec3_cover(ctx, nc)


def _referral(ctx: _Ctx, cut: bytes, recs: list[NodeRecord]) -> None:
    ans = ctx.ans
    ans.aa = False
    ans.authority.extend((cut, t, ttl, rd) for t, ttl, rd in recs if t == NS)
    if ctx.do:
        if any(t == DS for t, _, _ in recs):
            _add(ctx, ans.authority, cut, recs, DS)
        elif ctx.nsec3 is None:
            _add(ctx, ans.authority, cut, recs, NSEC)
        elif not _nsec3_match(ctx, cut):
            ce, nc = _closest_provable(ctx, cut)  # RFC 5155 §7.2.7: opt-out
            _nsec3_match(ctx, ce)
            _nsec3_cover(ctx, nc)
    origin_key = names.canonical_key(ctx.origin)
    for t, _, target in recs:
        if t != NS or not names.is_subdomain(names.canonical_key(target), origin_key):
            continue
        # Glue: addresses of the name servers that only this zone can give (never signed).
        for rdtype in (A, AAAA):
            ans.additional.extend(
                (target, rdtype, ttl, rd) for ttl, rd in ctx.version.rrset(target, rdtype))


def _nsec_covering(ctx: _Ctx, key: bytes) -> None:
    """The NSEC whose owner is the last name at or before ``key`` that has one."""
    if not ctx.nsec:
        return  # unsigned: no NSEC to find, and the walk back would cross the whole zone
    v = ctx.version
    i = v.last_at_or_before(key)
    while i >= 0:
        owner, recs = v.node_at(i)
        if any(t == NSEC for t, _, _ in recs):
            _add(ctx, ctx.ans.authority, owner, recs, NSEC)
            return
        i -= 1


def _hash(ctx: _Ctx, name: bytes) -> bytes:
    """The NSEC3 hash label of ``name`` (RFC 5155 §5), lowercase base32hex."""
    assert ctx.nsec3 is not None
    salt, iterations = ctx.nsec3
    digest = hashlib.sha1(names.lower(name) + salt).digest()
    for _ in range(iterations):
        digest = hashlib.sha1(digest + salt).digest()
    return b32hex(digest).lower().encode("ascii")


def _nsec3_find(ctx: _Ctx, name: bytes) -> tuple[bool, bytes | None]:
    """Whether an NSEC3 matches ``name``, and the owner of the matching or covering one."""
    matched, label = ctx.version.nsec3_lookup(_hash(ctx, name))
    if label is None:
        return False, None
    return matched, bytes((len(label),)) + label + ctx.origin


def _nsec3_add(ctx: _Ctx, owner: bytes) -> None:
    recs = ctx.version.node(owner)
    if recs is not None:
        _add(ctx, ctx.ans.authority, owner, recs, NSEC3)


def _nsec3_match(ctx: _Ctx, name: bytes) -> bool:
    matched, owner = _nsec3_find(ctx, name)
    if matched and owner is not None:
        _nsec3_add(ctx, owner)
    return matched


def _nsec3_cover(ctx: _Ctx, name: bytes) -> None:
    _, owner = _nsec3_find(ctx, name)
    if owner is not None:
        _nsec3_add(ctx, owner)


def _closest_provable(ctx: _Ctx, name: bytes) -> tuple[bytes, bytes]:
    """The closest provable encloser of ``name`` (an ancestor with a matching NSEC3) and the
    next closer name (RFC 5155 §7.2.1)."""
    origin_len = len(ctx.origin)
    nc = name
    cur = names.parent(name)
    while len(cur) > origin_len:
        if _nsec3_find(ctx, cur)[0]:
            return cur, nc
        nc = cur
        cur = names.parent(cur)
    return ctx.origin, nc
