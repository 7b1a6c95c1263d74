"""NOTIFY in (RFC 1996): read the message, check its TSIG, and build the answer, with no socket.

    notify = read_notify(wire, keys, now)          # raises NotifyError for what is no NOTIFY
    event = notify.event(peer_address)             # for signwire.loading.refresh.step
    reply = notify_answer(notify, refused=..., now=now)

Whether a NOTIFY is *accepted* is the refresh machine's decision (right primary, right key);
here only the facts are established: which key verified the message, or why none did. The
answer mirrors RFC 1996 §4.7 (same ID and question, QR and AA set) and RFC 8945 §5.3: signed
with the key that verified the request, or NOTAUTH with the TSIG error (BADKEY, BADSIG,
BADTIME) and no MAC when the check failed. Time is an argument, for the TSIG time check and
signature.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.rdtypes.ANY.TSIG
import dns.tsig

from signwire.errors import SignwireError
from signwire.loading.refresh import NotifyReceived
from signwire.loading.xfr_in import sign_message

_FUDGE = 300


class NotifyError(SignwireError):
    """The message is not a NOTIFY request that can be answered (the shell answers FORMERR
    when it parses at all, or drops it)."""


@dataclass(frozen=True, slots=True)
class Notify:
    """A NOTIFY as read: the zone, the serial it announces, and what its TSIG proved."""

    zone: str  # presentation format, lowercase, with the trailing dot
    serial: int | None  # from the SOA in the answer section, when there is one (RFC 1996 §3.7)
    tsig_key: str | None  # name of the key that verified the message (None: unsigned)
    tsig_error: str | None  # why the TSIG did not verify ("BADSIG: ...")
    tsig_rcode: int  # the TSIG error code for the answer (0: none)
    request: dns.message.Message
    key: dns.tsig.Key | None  # the verified key, to sign the answer with

    def event(self, peer: str) -> NotifyReceived:
        return NotifyReceived(peer, self.serial, self.tsig_key, self.tsig_error)


def read_notify(wire: bytes, keys: Mapping[str, dns.tsig.Key], now: int) -> Notify:
    """Parse a NOTIFY request and check its TSIG against ``keys`` (by lowercase key name)."""
    try:
        # keyring=False: parse the TSIG record without dnspython checking it, which would read
        # the system clock; the check is done below with ``now``.
        msg = dns.message.from_wire(wire, keyring=False)
    except dns.exception.DNSException as e:
        raise NotifyError(f"malformed message: {e}") from None
    if msg.opcode() != dns.opcode.NOTIFY or msg.flags & dns.flags.QR:
        raise NotifyError("not a NOTIFY request")
    if len(msg.question) != 1 or msg.question[0].rdtype != dns.rdatatype.SOA:
        raise NotifyError("a NOTIFY must ask about one SOA")
    zone = msg.question[0].name
    serial = None
    for rrset in msg.answer:
        if rrset.rdtype == dns.rdatatype.SOA and rrset.name == zone and len(rrset):
            serial = cast(dns.rdtypes.ANY.SOA.SOA, rrset[0]).serial
    key_name = tsig_error = None
    tsig_rcode = 0
    key = None
    if msg.tsig is not None:
        owner = msg.tsig.name
        rdata = cast(dns.rdtypes.ANY.TSIG.TSIG, msg.tsig[0])
        name_text = owner.to_text().lower()
        candidate = keys.get(name_text)
        if candidate is None:
            tsig_error, tsig_rcode = f"BADKEY: unknown key {name_text}", dns.rcode.BADKEY
        else:
            tsig_error, tsig_rcode = _verify(wire, candidate, owner, rdata, now)
            if tsig_error is None:
                key_name, key = name_text, candidate
    return Notify(
        zone.to_text().lower(), serial, key_name, tsig_error, tsig_rcode, msg, key
    )


def _verify(
    wire: bytes, key: dns.tsig.Key, owner: dns.name.Name, rdata: dns.rdtypes.ANY.TSIG.TSIG,
    now: int,
) -> tuple[str | None, int]:
    # The TSIG record is the last of the message; its owner is never compressed (RFC 8945
    # §4.2), so its start is the message length minus the record's own length.
    owner_wire = owner.to_wire()
    rdata_wire = rdata.to_wire()
    assert owner_wire is not None and rdata_wire is not None
    start = len(wire) - len(owner_wire) - 10 - len(rdata_wire)
    try:
        dns.tsig.validate(  # type: ignore[no-untyped-call]
            wire, key, owner, rdata, now, b"", start
        )
    except (dns.tsig.BadSignature, dns.tsig.BadAlgorithm, dns.exception.FormError):
        return "BADSIG: the MAC does not verify with our secret for this key", dns.rcode.BADSIG
    except dns.tsig.BadKey:
        return "BADKEY: signed with another key", dns.rcode.BADKEY
    except dns.tsig.BadTime:
        return (
            f"BADTIME: signed at {rdata.time_signed}, more than {rdata.fudge} s from our clock",
            dns.rcode.BADTIME,
        )
    except dns.tsig.PeerError as e:
        return f"the request carries TSIG error {e}", dns.rcode.BADSIG
    return None, 0


def notify_answer(notify: Notify, *, refused: bool, now: int) -> bytes:
    """The answer to a NOTIFY: NOERROR when accepted, REFUSED when not, NOTAUTH with the TSIG
    error when the TSIG did not verify (RFC 8945 §5.3.2)."""
    request = notify.request
    reply = dns.message.make_response(request)
    reply.flags |= dns.flags.AA
    reply.answer = []
    if notify.tsig_rcode:
        reply.set_rcode(dns.rcode.NOTAUTH)
        assert request.tsig is not None
        tsig = cast(dns.rdtypes.ANY.TSIG.TSIG, request.tsig[0])
        return _with_tsig_error(reply.to_wire(), request.tsig.name, tsig.algorithm,
                                notify.tsig_rcode, request.id, now)
    if refused:
        reply.set_rcode(dns.rcode.REFUSED)
    wire = reply.to_wire()
    if notify.key is not None:
        wire, _ = sign_message(wire, notify.key, now, request.id, request.mac or b"")
    return wire


def _with_tsig_error(
    wire: bytes, key_name: dns.name.Name, algorithm: dns.name.Name, error: int, msg_id: int,
    now: int,
) -> bytes:
    rdata = dns.rdtypes.ANY.TSIG.TSIG(  # type: ignore[no-untyped-call]
        dns.rdataclass.ANY, dns.rdatatype.TSIG, algorithm, now, _FUDGE, b"", msg_id, error, b""
    )
    owner = key_name.to_wire()
    rdata_wire = rdata.to_wire()
    assert owner is not None and rdata_wire is not None
    rr = owner + struct.pack("!HHIH", dns.rdatatype.TSIG, dns.rdataclass.ANY, 0,
                             len(rdata_wire)) + rdata_wire
    arcount = struct.unpack_from("!H", wire, 10)[0] + 1
    return wire[:10] + struct.pack("!H", arcount) + wire[12:] + rr
