"""Zone transfers in (AXFR, RFC 5936; IXFR, RFC 1995) as a state machine with no socket.

    query = make_query(origin, serial=..., key=..., now=..., msg_id=...)
    client = XfrClient(origin, query, key=..., peer="192.0.2.1")
    for wire in messages_from_the_peer:         # the I/O shell moves the bytes
        result = client.feed(wire, now)         # None until the closing SOA arrived
    client.end_of_stream()                      # the connection closed: raises unless done

The result is plain data in the record form of :mod:`signwire.zones.records`
(``(owner, rdtype, ttl, rdata, 0)``, owner and RDATA as uncompressed wire bytes in the case the
primary sent): :class:`FullZone` (AXFR, or an IXFR answered with the whole zone as PowerDNS
does), :class:`Diffs` (one :class:`IxfrStep` per serial step, the old SOA first in its
deletions and the new SOA first in its additions, as RFC 1995 sends them) or :class:`UpToDate`.
Anything wrong raises :class:`TransferError`, naming zone, peer and serials.

Speed: a million-record AXFR must be read before the primary loses patience with us, and a
dnspython object per record costs far more than the transfer itself. So the messages are walked
here, by offset: names are decompressed with a per-message cache of already decoded offsets
(an owner is usually one pointer to the previous owner), RDATA is sliced out of the message
and only the RDATA of the types that may carry compressed names (RFC 3597 §4) is rebuilt.
dnspython is used where correctness is subtle and the cost is per message, not per record: the
TSIG record and its MAC check (:func:`dns.tsig.validate`, with ``now`` passed in), and building
the query.

TSIG (RFC 8945 §5.3.1): with a key, the first and the last message must be signed, the messages
in between may go unsigned for at most 99 in a row, and every signed message is checked against
the running digest of everything since the previous MAC, so dropping or altering an unsigned
message in the middle is caught by the next signed one.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TSIG
import dns.tsig

from signwire.errors import SignwireError
from signwire.zones import names
from signwire.zones import serial as serials
from signwire.zones.diff import Diff
from signwire.zones.records import Record

SOA = 6
OPT = 41
TSIG = 250
IXFR = 251
AXFR = 252
CLASS_IN = 1
CLASS_ANY = 255

MAX_UNSIGNED_RUN = 99  # RFC 8945 §5.3.1: the client must accept up to 99 unsigned in a row
_FLAG_QR = 0x8000
_FLAG_TC = 0x0200
_FUDGE = 300

_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_SERIAL = struct.Struct("!I")

# RDATA layouts of the types whose names a sender may compress (RFC 3597 §4 lists the
# well-known ones; dnspython and older servers also compress RRSIG/NSEC names, so those are
# read the same way): (octets before the first name, number of names in a row, whether the
# RDATA is that one name alone). What follows the names is copied as it is.
_NAMED: dict[int, tuple[int, int, bool]] = {
    2: (0, 1, True), 3: (0, 1, True), 4: (0, 1, True), 5: (0, 1, True), 7: (0, 1, True),
    8: (0, 1, True), 9: (0, 1, True), 12: (0, 1, True),
    39: (0, 1, True),  # NS MD MF CNAME MB MG MR PTR DNAME
    6: (0, 2, False), 14: (0, 2, False), 17: (0, 2, False),  # SOA MINFO RP
    15: (2, 1, False), 18: (2, 1, False), 21: (2, 1, False), 36: (2, 1, False),  # MX AFSDB RT KX
    26: (2, 2, False),  # PX
    33: (6, 1, False),  # SRV
    24: (18, 1, False), 46: (18, 1, False),  # SIG RRSIG: the signer's name
    30: (0, 1, False), 47: (0, 1, False),  # NXT NSEC: the next name, then the type bitmap
    35: (0, 1, False),  # NAPTR: the octets before its name vary, _expand_rdata counts them
}
_NAPTR = 35


class TransferError(SignwireError):
    """A zone transfer failed or was refused; the zone stays at the version it had.

    ``ours`` is the serial the transfer started from (None for AXFR), ``theirs`` the serial
    the primary announced in its first SOA (None before it arrived).
    """

    def __init__(
        self, reason: str, *, zone: str, peer: str, ours: int | None, theirs: int | None
    ) -> None:
        self.reason = reason
        self.zone = zone
        self.peer = peer
        self.ours = ours
        self.theirs = theirs
        before = "-" if ours is None else str(ours)
        after = "?" if theirs is None else str(theirs)
        serial_text = f"serial {before} -> {after}"
        super().__init__(f"transfer of {zone} from {peer} ({serial_text}): {reason}")


@dataclass(frozen=True, slots=True)
class Query:
    """A transfer query as sent: its wire form, and what checking the answers needs."""

    wire: bytes
    msg_id: int
    rdtype: int  # IXFR or AXFR
    serial: int | None  # the serial an IXFR starts from
    request_mac: bytes  # b"" when unsigned


@dataclass(slots=True)
class FullZone:
    """The whole zone: every record once, the SOA first (the closing SOA is not repeated)."""

    serial: int
    records: list[Record]


@dataclass(slots=True)
class IxfrStep:
    """One serial step of an IXFR: ``deleted`` starts with the old SOA, ``added`` with the new."""

    from_serial: int
    to_serial: int
    deleted: list[Record] = field(default_factory=list)
    added: list[Record] = field(default_factory=list)

    def to_diff(self) -> Diff:
        """The step as a :class:`signwire.zones.diff.Diff` (SOAs apart, records in canonical
        order), which :func:`signwire.zones.diff.apply` turns into the next version."""
        return Diff(
            _rr(self.deleted[0]), _rr(self.added[0]),
            _canonical(self.deleted[1:]), _canonical(self.added[1:]),
        )


def _rr(record: Record) -> tuple[bytes, int, int, bytes]:
    return record[0], record[1], record[2], record[3]


def _canonical(records: list[Record]) -> tuple[tuple[bytes, int, int, bytes], ...]:
    return tuple(sorted(
        (_rr(r) for r in records), key=lambda r: (names.canonical_key(r[0]), r[1], r[3])
    ))


@dataclass(slots=True)
class Diffs:
    """An incremental transfer: steps in order, each starting where the previous one ended."""

    from_serial: int
    to_serial: int
    steps: list[IxfrStep]


@dataclass(frozen=True, slots=True)
class UpToDate:
    """IXFR answered with the primary's SOA alone: it has nothing newer than ``serial``."""

    serial: int


Result = FullZone | Diffs | UpToDate


def make_query(
    origin: bytes,
    *,
    serial: int | None,
    msg_id: int,
    now: int,
    key: dns.tsig.Key | None = None,
) -> Query:
    """An IXFR query from ``serial`` (RFC 1995 §3: our SOA in the authority section) or, with
    ``serial=None``, an AXFR query; signed with ``key`` at time ``now`` when a key is given."""
    zone = dns.name.from_wire(origin, 0)[0]
    rdtype = AXFR if serial is None else IXFR
    msg = dns.message.make_query(zone, dns.rdatatype.RdataType(rdtype))
    msg.id = msg_id
    msg.flags = dns.flags.Flag(0)  # no RD: a transfer is not recursive
    if serial is not None:
        # Only the serial matters to the primary (RFC 1995 §3); the other fields are zero as
        # many secondaries send them.
        soa = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.SOA, f". . {serial} 0 0 0 0")
        rrset = msg.find_rrset(
            msg.authority, zone, dns.rdataclass.IN, dns.rdatatype.SOA, create=True
        )
        rrset.add(soa, 0)
    wire = msg.to_wire()
    mac = b""
    if key is not None:
        wire, mac = sign_message(wire, key, now, msg_id)
    return Query(wire, msg_id, rdtype, serial, mac)


def sign_message(
    wire: bytes, key: dns.tsig.Key, now: int, original_id: int, request_mac: bytes = b""
) -> tuple[bytes, bytes]:
    """Append a TSIG record (RFC 8945 §4) signed at ``now`` to an unsigned message; return the
    signed message and its MAC. dnspython's own signing reads the system clock, which pure
    code may not."""
    blank = dns.rdtypes.ANY.TSIG.TSIG(  # type: ignore[no-untyped-call]
        dns.rdataclass.ANY, dns.rdatatype.TSIG, key.algorithm, now, _FUDGE, b"",
        original_id, 0, b"",
    )
    rdata, _ = dns.tsig.sign(  # type: ignore[no-untyped-call]
        wire, key, blank, now, request_mac or None
    )
    rdata_wire = rdata.to_wire()
    assert rdata_wire is not None
    owner = key.name.to_wire()
    assert owner is not None
    rr = (
        owner
        + _RR.pack(TSIG, CLASS_ANY, 0, len(rdata_wire))
        + rdata_wire
    )
    arcount = struct.unpack_from("!H", wire, 10)[0] + 1
    signed = wire[:10] + struct.pack("!H", arcount) + wire[12:] + rr
    return signed, rdata.mac


class TcpFramer:
    """Splits a TCP byte stream into DNS messages (RFC 1035 §4.2.2: two-octet length prefix)."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out = []
        while len(self._buf) >= 2:
            size = (self._buf[0] << 8) | self._buf[1]
            if len(self._buf) < 2 + size:
                break
            out.append(bytes(self._buf[2 : 2 + size]))
            del self._buf[: 2 + size]
        return out

    @property
    def pending(self) -> int:
        """Octets received that are not yet a whole message (non-zero at EOF: truncated)."""
        return len(self._buf)


class _Malformed(Exception):
    """The message does not parse; turned into a TransferError by the client."""


def _read_name(wire: bytes, pos: int, cache: dict[int, bytes]) -> tuple[bytes, int]:
    """The uncompressed name at ``pos`` and the offset just after it in place.

    Pointers must point before the start of the name that holds them, so a loop of pointers
    cannot occur, and each decoded start offset is cached for the names that point to it
    later in the message.
    """
    start = pos
    n = wire[pos]
    if 0 < n < 64:
        # The usual name in a transfer: one new label, then a pointer to a name already read.
        after = pos + n + 1
        b = wire[after]
        if b >= 0xC0:
            target = ((b & 0x3F) << 8) | wire[after + 1]
            suffix = cache.get(target)
            if suffix is not None and target < start:
                name = wire[pos:after] + suffix
                if len(name) > 255:
                    raise _Malformed("name longer than 255 octets")
                cache[start] = name
                return name, after + 2
    parts: list[bytes] = []
    while True:
        n = wire[pos]
        if n == 0:
            parts.append(b"\x00")
            end = pos + 1
            break
        if n >= 0xC0:
            target = ((n & 0x3F) << 8) | wire[pos + 1]
            if target >= start:
                raise _Malformed("compression pointer does not point before its name")
            suffix = cache.get(target)
            if suffix is None:
                suffix, _ = _read_name(wire, target, cache)
            parts.append(suffix)
            end = pos + 2
            break
        if n > 63:
            raise _Malformed("label type not supported")
        parts.append(wire[pos : pos + n + 1])
        pos += n + 1
    name = parts[0] if len(parts) == 1 else b"".join(parts)
    if len(name) > 255:
        raise _Malformed("name longer than 255 octets")
    cache[start] = name
    return name, end


def _skip_name(wire: bytes, pos: int) -> int:
    while True:
        n = wire[pos]
        if n == 0:
            return pos + 1
        if n >= 0xC0:
            return pos + 2
        pos += n + 1


def _expand_rdata(
    wire: bytes, rtype: int, pos: int, end: int, cache: dict[int, bytes]
) -> bytes:
    """RDATA with its compressed names expanded (only for the types in ``_NAMED``/NAPTR)."""
    if rtype == _NAPTR:
        p = pos + 4
        for _ in range(3):
            p += 1 + wire[p]
        prefix_len, count = p - pos, 1
    else:
        prefix_len, count, _ = _NAMED[rtype]
    p = pos + prefix_len
    parts = [wire[pos:p]]
    for _ in range(count):
        name, p = _read_name(wire, p, cache)
        parts.append(name)
    if p > end:
        raise _Malformed(f"RDATA of type {rtype} runs past its length")
    if rtype == SOA and end - p != 20:
        raise _Malformed("SOA RDATA without its five 32-bit fields")
    parts.append(wire[p:end])
    return b"".join(parts)


@dataclass(slots=True)
class _Parsed:
    msg_id: int
    flags: int
    question: tuple[bytes, int, int] | None  # name, type, class
    answer: list[Record]
    soa_at: list[int]  # indexes in ``answer`` of SOA records at the zone's apex
    tsig_start: int  # offset of the TSIG record, -1 when unsigned
    tsig_owner: bytes
    tsig_rdata: tuple[int, int]  # offset and length of its RDATA


def _in_zone(owner_lower: bytes, origin_lower: bytes) -> bool:
    if not owner_lower.endswith(origin_lower):
        return False
    cut = len(owner_lower) - len(origin_lower)
    # The origin's bytes at the end are not enough: a label's content can end in bytes that
    # look like the origin's length octets. The cut must fall on a label boundary.
    i = 0
    while i < cut:
        i += owner_lower[i] + 1
    return i == cut


def _parse(wire: bytes, origin_lower: bytes) -> _Parsed:
    if len(wire) < 12:
        raise _Malformed("shorter than a DNS header")
    msg_id, flags, qd, an, ns, ar = _HEADER.unpack_from(wire, 0)
    cache: dict[int, bytes] = {}
    pos = 12
    question = None
    for _ in range(qd):
        qname, pos = _read_name(wire, pos, cache)
        qtype, qclass = struct.unpack_from("!HH", wire, pos)
        pos += 4
        question = (qname, qtype, qclass)
    answer: list[Record] = []
    append = answer.append
    soa_at: list[int] = []
    last_owner = b""
    size = len(wire)
    unpack_rr = _RR.unpack_from
    for _ in range(an):
        b = wire[pos]
        # The usual owner is one pointer to a name already seen: look it up without a call.
        if b >= 0xC0:
            owner = cache.get(((b & 0x3F) << 8) | wire[pos + 1])
            if owner is None:
                owner, pos = _read_name(wire, pos, cache)
            else:
                pos += 2
        else:
            owner, pos = _read_name(wire, pos, cache)
        rtype, rclass, ttl, rdlen = unpack_rr(wire, pos)
        pos += 10
        end = pos + rdlen
        if end > size:
            raise _Malformed("record runs past the end of the message")
        if owner is not last_owner:
            if owner == last_owner:
                owner = last_owner  # share one bytes object per owner, as the reader does
            else:
                low = owner.lower()
                # Most owners are children of the apex: one slice answers for them.
                if low[low[0] + 1 :] != origin_lower and not _in_zone(low, origin_lower):
                    raise _OutOfZone(names.to_text(owner), rtype)
            last_owner = owner
        if rclass != CLASS_IN:
            raise _Malformed(f"record of class {rclass} in the answer, not IN")
        layout = _NAMED.get(rtype)
        if layout is None:
            rdata = wire[pos:end]
        elif layout[2]:
            rdata, after = _read_name(wire, pos, cache)
            if after != end:
                raise _Malformed(f"RDATA of type {rtype} does not end after its name")
        else:
            rdata = _expand_rdata(wire, rtype, pos, end, cache)
            if rtype == SOA and owner.lower() == origin_lower:
                soa_at.append(len(answer))
        if ttl > 0x7FFFFFFF:
            ttl = 0  # RFC 2181 §8: a TTL with the top bit set means zero
        append((owner, rtype, ttl, rdata, 0))
        pos = end
    for _ in range(ns):
        pos = _skip_name(wire, pos)
        pos += 10 + struct.unpack_from("!H", wire, pos + 8)[0]
    tsig_start = -1
    tsig_owner = b""
    tsig_rdata = (0, 0)
    for i in range(ar):
        start = pos
        owner, pos = _read_name(wire, pos, cache)
        rtype, _rclass, _ttl, rdlen = unpack_rr(wire, pos)
        pos += 10
        if rtype == TSIG:
            if i != ar - 1:
                raise _Malformed("TSIG record is not the last record of the message")
            tsig_start, tsig_owner, tsig_rdata = start, owner, (pos, rdlen)
        pos += rdlen
    if pos != size:
        raise _Malformed("message length and record counts disagree")
    return _Parsed(msg_id, flags, question, answer, soa_at, tsig_start, tsig_owner, tsig_rdata)


class _OutOfZone(Exception):
    def __init__(self, owner: str, rtype: int) -> None:
        super().__init__(owner, rtype)
        self.owner = owner
        self.rtype = rtype


def _soa_serial(record: Record) -> int:
    rdata = record[3]
    # MNAME and RNAME are uncompressed here, so the serial sits right after them.
    i = 0
    for _ in range(2):
        while rdata[i]:
            i += rdata[i] + 1
        i += 1
    serial: int = _SERIAL.unpack_from(rdata, i)[0]
    return serial


# Phases of the answer stream.
_FIRST, _AFTER_FIRST, _AXFR, _DELETING, _ADDING, _DONE = range(6)


class XfrClient:
    """Reads the answer to one :class:`Query`, message by message."""

    def __init__(
        self, origin: bytes, query: Query, *, peer: str, key: dns.tsig.Key | None = None
    ) -> None:
        self._origin = origin
        self._origin_lower = names.lower(origin)
        self._zone_text = names.to_text(origin)
        self._query = query
        self._peer = peer
        self._key = key
        self._tsig_ctx: Any = None
        self._unsigned_run = 0
        self._messages = 0
        self._phase = _FIRST
        self._first_soa: Record | None = None
        self._theirs: int | None = None
        self._records: list[Record] = []
        self._steps: list[IxfrStep] = []
        self.result: Result | None = None

    @property
    def messages(self) -> int:
        return self._messages

    @property
    def records(self) -> int:
        """Records received so far (for progress reports of long transfers)."""
        return len(self._records) + sum(len(s.deleted) + len(s.added) for s in self._steps)

    def _error(self, reason: str) -> TransferError:
        return TransferError(
            reason, zone=self._zone_text, peer=self._peer, ours=self._query.serial,
            theirs=self._theirs,
        )

    def feed(self, wire: bytes, now: int) -> Result | None:
        """Take the next message of the answer; the result once the closing SOA was read."""
        if self._phase == _DONE:
            raise self._error("a message arrived after the transfer was complete")
        try:
            msg = _parse(wire, self._origin_lower)
        except _OutOfZone as e:
            rtype = dns.rdatatype.to_text(dns.rdatatype.RdataType(e.rtype))
            raise self._error(f"record outside the zone: {e.owner} type {rtype}") from None
        except (_Malformed, IndexError, struct.error) as e:
            reason = str(e) or "truncated"
            raise self._error(f"malformed message {self._messages + 1}: {reason}") from None
        except RecursionError:
            # _read_name follows each compression pointer by a call; a chain of ~1000
            # pointers, each to the one before it (every one points backwards, so it is no
            # loop), runs out of stack (regression test in tests/fuzz/test_atheris.py).
            raise self._error(
                f"malformed message {self._messages + 1}: compression pointers chained too deep"
            ) from None
        self._messages += 1
        self._check_tsig(wire, msg, now)
        self._check_header(msg)
        self._take(msg.answer, msg.soa_at)
        if self._phase == _DONE:
            if self._key is not None and msg.tsig_start < 0:
                raise self._error("the last message is not signed (TSIG)")
            return self.result
        return None

    def end_of_stream(self) -> Result:
        """The peer closed the connection (or the shell gave up): the result, or why not."""
        if self.result is None:
            raise self._error(
                f"the stream ended before the closing SOA (after {self._messages} messages, "
                f"{self.records} records)"
            )
        return self.result

    # --- checks per message -------------------------------------------------------------

    def _check_tsig(self, wire: bytes, msg: _Parsed, now: int) -> None:
        key = self._key
        if key is None:
            if msg.tsig_start >= 0:
                raise self._error("the answer is signed (TSIG) but no key is configured")
            return
        first = self._messages == 1
        if msg.tsig_start < 0:
            if first:
                rcode = msg.flags & 0xF
                if rcode:
                    raise self._error(
                        f"refused with {_rcode_text(rcode)}, unsigned (TSIG key {key.name} "
                        "expected)"
                    )
                raise self._error(f"the first message is not signed (TSIG key {key.name})")
            self._unsigned_run += 1
            if self._unsigned_run > MAX_UNSIGNED_RUN:
                raise self._error(f"more than {MAX_UNSIGNED_RUN} unsigned messages in a row")
            self._tsig_ctx.update(wire)
            return
        try:
            owner = dns.name.from_wire(msg.tsig_owner, 0)[0]
            rdata_start, rdlen = msg.tsig_rdata
            rdata = dns.rdata.from_wire(
                dns.rdataclass.ANY, dns.rdatatype.TSIG, wire, rdata_start, rdlen
            )
            self._tsig_ctx = dns.tsig.validate(  # type: ignore[no-untyped-call]
                wire, key, owner, rdata, now, self._query.request_mac, msg.tsig_start,
                self._tsig_ctx, True,
            )
        except dns.tsig.PeerError as e:
            raise self._error(
                f"the primary refused our TSIG key {key.name}: {_tsig_text(e)}"
            ) from None
        except (dns.tsig.BadSignature, dns.tsig.BadKey, dns.tsig.BadAlgorithm) as e:
            raise self._error(
                f"TSIG check failed on message {self._messages} (key {key.name}): {_tsig_text(e)}"
            ) from None
        except dns.tsig.BadTime:
            raise self._error(
                f"TSIG time of message {self._messages} is more than the fudge away from ours"
            ) from None
        except (dns.exception.DNSException, ValueError, struct.error) as e:
            raise self._error(f"malformed TSIG record in message {self._messages}: {e}") from None
        self._unsigned_run = 0

    def _check_header(self, msg: _Parsed) -> None:
        if msg.msg_id != self._query.msg_id:
            raise self._error(f"message ID {msg.msg_id} does not match the query's")
        if not msg.flags & _FLAG_QR:
            raise self._error("a query, not a response")
        if (msg.flags >> 11) & 0xF:
            raise self._error(f"unexpected opcode {(msg.flags >> 11) & 0xF}")
        rcode = msg.flags & 0xF
        if rcode:
            raise self._error(f"refused with {_rcode_text(rcode)}")
        if msg.flags & _FLAG_TC:
            raise self._error("the answer is truncated (TC)")
        if msg.question is not None:
            qname, qtype, qclass = msg.question
            if names.lower(qname) != self._origin_lower or qtype != self._query.rdtype or (
                qclass != CLASS_IN
            ):
                raise self._error("the answer is for another question")

    # --- the answer stream ----------------------------------------------------------------

    def _take(self, answer: list[Record], soa_at: list[int]) -> None:
        i = 0
        n = len(answer)
        if self._phase == _FIRST:
            if not answer:
                raise self._error("the first message has no answer")
            if not soa_at or soa_at[0] != 0:
                raise self._error("the answer does not start with the zone's SOA")
            self._start(answer[0])
            soa_at = soa_at[1:]
            i = 1
        for j in [*soa_at, n]:
            if self._phase == _DONE and i < n:
                raise self._error("records after the closing SOA")
            if j > i:
                self._bulk(answer[i:j])
            if j < n:
                self._soa(answer[j])
            i = j + 1

    def _start(self, soa: Record) -> None:
        self._first_soa = soa
        theirs = self._theirs = _soa_serial(soa)
        ours = self._query.serial
        if self._query.rdtype == AXFR:
            self._phase = _AXFR
            self._records = [soa]
            return
        assert ours is not None
        if theirs == ours:
            self._phase = _DONE
            self.result = UpToDate(theirs)
        elif not serials.gt(theirs, ours):
            raise self._error("the primary's serial is older than ours")
        else:
            self._phase = _AFTER_FIRST

    def _bulk(self, records: list[Record]) -> None:
        phase = self._phase
        if phase == _AFTER_FIRST:
            # IXFR answered with records after the first SOA: the whole zone (RFC 1995 §4).
            assert self._first_soa is not None
            self._phase = _AXFR
            self._records = [self._first_soa]
            self._records.extend(records)
        elif phase == _AXFR:
            self._records.extend(records)
        elif phase == _DELETING:
            self._steps[-1].deleted.extend(records)
        elif phase == _ADDING:
            self._steps[-1].added.extend(records)
        else:
            raise AssertionError(phase)

    def _soa(self, soa: Record) -> None:
        first = self._first_soa
        assert first is not None
        theirs = self._theirs
        assert theirs is not None
        serial = _soa_serial(soa)
        phase = self._phase
        if phase == _AXFR:
            if serial != theirs:
                raise self._error(
                    f"SOA mismatch: the transfer opened with serial {theirs} and closes with "
                    f"{serial}"
                )
            self._phase = _DONE
            self.result = FullZone(theirs, self._records)
            return
        if phase == _AFTER_FIRST:
            if serial == theirs and soa[3] == first[3]:
                # The whole zone once more, and it holds nothing but its SOA.
                self._phase = _DONE
                self.result = FullZone(theirs, [first])
                return
            ours = self._query.serial
            if serial != ours:
                raise self._error(
                    f"the IXFR does not start at our serial {ours} but at {serial}"
                )
            self._phase = _DELETING
            self._steps.append(IxfrStep(serial, serial, [soa], []))
            return
        if phase == _DELETING:
            step = self._steps[-1]
            if not serials.gt(serial, step.from_serial):
                raise self._error(
                    f"IXFR step from {step.from_serial} goes to {serial}, which is not newer"
                )
            if serials.gt(serial, theirs):
                raise self._error(
                    f"IXFR step goes to {serial}, beyond the announced serial {theirs}"
                )
            step.to_serial = serial
            step.added.append(soa)
            self._phase = _ADDING
            return
        if phase == _ADDING:
            step = self._steps[-1]
            if serial == theirs and step.to_serial == theirs:
                if soa[3] != first[3]:
                    raise self._error("SOA mismatch: the closing SOA differs from the opening one")
                self._phase = _DONE
                ours = self._query.serial
                assert ours is not None
                self.result = Diffs(ours, theirs, self._steps)
                return
            if serial != step.to_serial:
                raise self._error(
                    f"IXFR does not chain: a step ended at {step.to_serial}, the next starts "
                    f"at {serial}"
                )
            self._phase = _DELETING
            self._steps.append(IxfrStep(serial, serial, [soa], []))
            return
        raise AssertionError(phase)


def _rcode_text(rcode: int) -> str:
    return dns.rcode.to_text(dns.rcode.Rcode(rcode))


def _tsig_text(error: Exception) -> str:
    texts: dict[type[Exception], str] = {
        dns.tsig.PeerBadKey: "BADKEY (it does not know this key)",
        dns.tsig.PeerBadSignature: "BADSIG (its secret for this key is another one)",
        dns.tsig.PeerBadTime: "BADTIME (its clock and ours differ)",
        dns.tsig.BadSignature: "the MAC does not match (wrong secret, or the data was altered)",
        dns.tsig.BadKey: "signed with another key",
        dns.tsig.BadAlgorithm: "signed with another algorithm",
    }
    text = texts.get(type(error))
    return text or (str(error) or type(error).__name__)
