"""NOTIFY out (RFC 1996) for one zone, as a state machine: events in, actions out, no socket.

    notify = NotifyOut(origin, [Secondary("192.0.2.7")], key=key, ids=rng)
    actions = notify.new_serial(soa, now)        # after each new signed version
    actions = notify.response(wire, peer, now)   # a datagram arrived on the NOTIFY socket
    actions = notify.tick(now)                   # the shell's timer fired (at actions.wake_at)

``actions.sends`` are messages to send (to a secondary's address and port), ``actions.reports``
what the operator should hear about, ``actions.wake_at`` when to call :meth:`tick` next (None:
nothing pending).

Each secondary is notified of the newest serial until it answers: a response with the same
ID, opcode NOTIFY, QR set, for this zone, from the address and port the NOTIFY went to, and
signed with the zone's key when one is configured. Any such response ends the retries (RFC 1996
§4.8); one with an error RCODE is reported as such. Retries back off exponentially up to a cap;
after ``max_attempts`` sends without an answer the secondary is given up on, and reported. A
newer serial replaces an older pending one: the secondary only needs the latest.

Retransmissions keep the message ID, so a late answer to an earlier send still counts; each
send is signed afresh (TSIG time), and an answer may carry any of the MACs sent.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

import dns.message
import dns.name
import dns.opcode
import dns.rdtypes.ANY.TSIG
import dns.tsig

from signwire.publication.responder import sign
from signwire.zones import names
from signwire.zones.rrtypes import SOA
from signwire.zones.version import RR

_NOTIFY = 4
_QR, _AA = 0x8000, 0x0400
_HEADER = struct.Struct("!HHHHHH")


@dataclass(frozen=True, slots=True)
class Secondary:
    address: str
    port: int = 53

    def __str__(self) -> str:
        return f"[{self.address}]:{self.port}" if ":" in self.address else (
            f"{self.address}:{self.port}")


@dataclass(frozen=True, slots=True)
class NotifyPolicy:
    first_retry: int = 2  # seconds before the first retransmission
    max_interval: int = 60  # backoff cap
    max_attempts: int = 6  # sends before giving up: about two minutes with the defaults

    def __post_init__(self) -> None:
        if self.first_retry < 1 or self.max_interval < self.first_retry or self.max_attempts < 1:
            raise ValueError("NOTIFY retry policy: first_retry >= 1, max_interval >= "
                             "first_retry, max_attempts >= 1")


@dataclass(frozen=True, slots=True)
class Send:
    secondary: Secondary
    wire: bytes


@dataclass(frozen=True, slots=True)
class Answered:
    """The secondary answered; ``rcode`` 0 is an acknowledgement, anything else a refusal."""

    secondary: Secondary
    serial: int
    rcode: int
    attempts: int


@dataclass(frozen=True, slots=True)
class GaveUp:
    secondary: Secondary
    serial: int
    attempts: int


@dataclass(frozen=True, slots=True)
class Ignored:
    """A datagram that is no answer to a pending NOTIFY (logged, never acted on)."""

    peer: str
    reason: str


Report = Answered | GaveUp | Ignored


@dataclass(slots=True)
class Actions:
    sends: list[Send] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)
    wake_at: int | None = None


@dataclass(slots=True)
class _Pending:
    serial: int
    soa: RR
    msg_id: int
    attempts: int
    interval: int
    next_at: int
    macs: list[bytes]


class NotifyOut:
    """NOTIFY-out state of one zone towards its secondaries."""

    def __init__(
        self,
        origin: bytes,
        secondaries: Sequence[Secondary],
        *,
        ids: Callable[[], int],
        key: dns.tsig.Key | None = None,
        policy: NotifyPolicy = NotifyPolicy(),
    ) -> None:
        self._origin = origin
        self._zone = names.to_text(origin)
        self._secondaries = list(dict.fromkeys(secondaries))
        self._ids = ids  # message IDs: the shell passes a random source, tests a fixed one
        self._key = key
        self._policy = policy
        self._pending: dict[Secondary, _Pending] = {}

    @property
    def pending(self) -> dict[Secondary, int]:
        """Secondaries still to answer, and the serial they are being told about."""
        return {s: p.serial for s, p in self._pending.items()}

    def wake_at(self) -> int | None:
        return min((p.next_at for p in self._pending.values()), default=None)

    def new_serial(self, soa: RR, now: int) -> Actions:
        """A new version is served: notify every secondary of its SOA."""
        serial = int.from_bytes(soa[3][-20:-16], "big")
        actions = Actions()
        for secondary in self._secondaries:
            pending = _Pending(serial, soa, self._ids() & 0xFFFF, 0, self._policy.first_retry,
                               now, [])
            self._pending[secondary] = pending
            self._send(secondary, pending, now, actions)
        actions.wake_at = self.wake_at()
        return actions

    def tick(self, now: int) -> Actions:
        """Retransmit what is due; give up on secondaries that used every attempt."""
        actions = Actions()
        for secondary, pending in list(self._pending.items()):
            if pending.next_at > now:
                continue
            if pending.attempts >= self._policy.max_attempts:
                del self._pending[secondary]
                actions.reports.append(GaveUp(secondary, pending.serial, pending.attempts))
                continue
            pending.interval = min(pending.interval * 2, self._policy.max_interval)
            self._send(secondary, pending, now, actions)
        actions.wake_at = self.wake_at()
        return actions

    def response(self, wire: bytes, peer: Secondary, now: int) -> Actions:
        """A datagram arrived from ``peer`` (its source address and port)."""
        actions = Actions()
        reason = self._match(wire, peer, now, actions)
        if reason is not None:
            actions.reports.append(Ignored(str(peer), reason))
        actions.wake_at = self.wake_at()
        return actions

    # --- inside --------------------------------------------------------------------------

    def _send(self, secondary: Secondary, pending: _Pending, now: int, actions: Actions) -> None:
        wire = self._message(pending.msg_id, pending.soa)
        if self._key is not None:
            wire, _ = sign(wire, self._key, now, pending.msg_id, b"")
            pending.macs.append(_mac_of(wire))
        pending.attempts += 1
        pending.next_at = now + (pending.interval if pending.attempts > 1 else
                                 self._policy.first_retry)
        actions.sends.append(Send(secondary, wire))

    def _message(self, msg_id: int, soa: RR) -> bytes:
        # QR=0, opcode NOTIFY, AA=1 (RFC 1996 §3.7/§4.7); the new SOA in the answer section
        # as a hint, its owner a pointer to the question name.
        _owner, _, ttl, rdata = soa
        return (
            _HEADER.pack(msg_id, (_NOTIFY << 11) | _AA, 1, 1, 0, 0)
            + self._origin + struct.pack("!HH", SOA, 1)
            + b"\xc0\x0c" + struct.pack("!HHIH", SOA, 1, ttl, len(rdata)) + rdata
        )

    def _find(self, peer: Secondary) -> Secondary | None:
        try:
            address = ipaddress.ip_address(peer.address.split("%")[0])
        except ValueError:
            return None
        for secondary in self._pending:
            try:
                same = ipaddress.ip_address(secondary.address.split("%")[0]) == address
            except ValueError:
                continue
            if same and secondary.port == peer.port:
                return secondary
        return None

    def _match(self, wire: bytes, peer: Secondary, now: int, actions: Actions) -> str | None:
        """None when ``wire`` answered a pending NOTIFY (reported in ``actions``), else why
        not."""
        if len(wire) < 12:
            return "shorter than a DNS header"
        msg_id, flags = struct.unpack_from("!HH", wire)
        if not flags & _QR:
            return "not a response"
        if (flags >> 11) & 0xF != _NOTIFY:
            return f"opcode {(flags >> 11) & 0xF}, not NOTIFY"
        secondary = self._find(peer)
        if secondary is None:
            return "not from a secondary with a pending NOTIFY"
        pending = self._pending[secondary]
        if msg_id != pending.msg_id:
            return f"message ID {msg_id}, expected {pending.msg_id}"
        try:
            # keyring=False: the TSIG is checked below with ``now``, not the system clock.
            # dnspython's parser raises more than its own types on damaged input.
            msg = dns.message.from_wire(wire, keyring=False)
        except Exception:
            return "malformed message"
        if msg.question and (
            names.lower(msg.question[0].name.to_wire() or b"") != names.lower(self._origin)
        ):
            return f"answer about {msg.question[0].name}, not {self._zone}"
        if self._key is not None:
            problem = self._check_tsig(wire, msg, pending.macs, now)
            if problem is not None:
                return problem
        del self._pending[secondary]
        actions.reports.append(
            Answered(secondary, pending.serial, msg.rcode(), pending.attempts)
        )
        return None

    def _check_tsig(
        self, wire: bytes, msg: dns.message.Message, macs: list[bytes], now: int
    ) -> str | None:
        key = self._key
        assert key is not None
        if msg.tsig is None:
            return f"unsigned answer (TSIG key {key.name} expected)"
        owner = msg.tsig.name
        rdata = cast(dns.rdtypes.ANY.TSIG.TSIG, msg.tsig[0])
        owner_wire = owner.to_wire()
        rdata_wire = rdata.to_wire()
        assert owner_wire is not None and rdata_wire is not None
        start = len(wire) - len(owner_wire) - 10 - len(rdata_wire)
        for mac in reversed(macs):  # the latest send is the likeliest to be answered
            try:
                dns.tsig.validate(  # type: ignore[no-untyped-call]
                    wire, key, owner, rdata, now, mac, start
                )
            except dns.tsig.PeerError as e:
                return f"the secondary refused our TSIG: {type(e).__name__}"
            except Exception:
                # dnspython's validation of damaged input: any failure is "does not verify".
                continue
            return None
        return "TSIG of the answer does not verify"


def _mac_of(signed: bytes) -> bytes:
    """The MAC of the TSIG record just appended by :func:`sign`."""
    msg = dns.message.from_wire(signed, keyring=False)
    assert msg.tsig is not None
    return bytes(cast(dns.rdtypes.ANY.TSIG.TSIG, msg.tsig[0]).mac)
