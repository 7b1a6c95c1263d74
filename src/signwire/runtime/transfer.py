"""Transfers in over the network: the SOA query (UDP, TCP when truncated) and AXFR/IXFR over
TCP, moving bytes for the sans-I/O :class:`~signwire.loading.xfr_in.XfrClient`.

Both leave from ``source`` when one is given (the daemon passes its own listen address of the
primary's family): a primary's ACL names the signer by the address it knows, and on a host with
several addresses the one the kernel would pick is not necessarily that one."""

from __future__ import annotations

import asyncio
import secrets
import struct
from collections.abc import Callable
from typing import cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.tsig

from signwire.loading.refresh import Primary, SoaTimers
from signwire.loading.xfr_in import Result, TcpFramer, XfrClient, make_query, sign_message


class QueryError(Exception):
    """An SOA query or a transfer that did not give an answer (the message says why)."""


class _Udp(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answers: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.answers.put_nowait(data)


def _local(source: str | None) -> tuple[str, int] | None:
    return None if source is None else (source, 0)


async def soa_query(
    primary: Primary, origin: bytes, key: dns.tsig.Key | None, timeout: float,
    clock: Callable[[], int], source: str | None = None,
) -> tuple[int, SoaTimers]:
    """The primary's SOA serial and timers, asked over UDP (again over TCP when truncated)."""
    zone = dns.name.from_wire(origin, 0)[0]
    msg_id = secrets.randbelow(65536)
    query = dns.message.make_query(zone, dns.rdatatype.SOA)
    query.id = msg_id
    query.flags = dns.flags.Flag(0)
    wire = query.to_wire()
    mac = b""
    if key is not None:
        wire, mac = sign_message(wire, key, clock(), msg_id)
    loop = asyncio.get_running_loop()
    answer: bytes | None = None
    try:
        async with asyncio.timeout(timeout):
            transport, proto = await loop.create_datagram_endpoint(
                _Udp, remote_addr=(primary.address, primary.port), local_addr=_local(source))
            try:
                for _ in range(3):  # a datagram can be lost; resend within the timeout
                    transport.sendto(wire)
                    try:
                        answer = await asyncio.wait_for(proto.answers.get(), timeout / 3)
                    except TimeoutError:
                        continue
                    if answer[:2] == wire[:2]:
                        break
            finally:
                transport.close()
            if answer is None:
                raise TimeoutError
            if len(answer) >= 4 and answer[2] & 0x02:  # TC: ask again over TCP
                answer = await _tcp_exchange(primary, wire, source)
    except TimeoutError:
        raise QueryError(f"no answer within {timeout:g} s") from None
    except OSError as e:
        raise QueryError(f"{e.strerror or e}") from None
    try:
        keyring = {key.name: key} if key is not None else None
        msg = dns.message.from_wire(answer, keyring=keyring, request_mac=mac)
    except dns.exception.DNSException as e:
        raise QueryError(f"bad answer: {e}") from None
    if key is not None and msg.tsig is None:
        raise QueryError("the answer is not signed (TSIG)")
    if msg.rcode() != dns.rcode.NOERROR:
        raise QueryError(f"answered {dns.rcode.to_text(msg.rcode())}")
    for rrset in msg.answer:
        if rrset.rdtype == dns.rdatatype.SOA and rrset.name == zone and len(rrset):
            soa = cast(dns.rdtypes.ANY.SOA.SOA, rrset[0])
            return soa.serial, SoaTimers(soa.refresh, soa.retry, soa.expire)
    raise QueryError("no SOA in the answer")


async def _tcp_exchange(primary: Primary, wire: bytes, source: str | None) -> bytes:
    reader, writer = await asyncio.open_connection(
        primary.address, primary.port, local_addr=_local(source))
    try:
        writer.write(struct.pack("!H", len(wire)) + wire)
        await writer.drain()
        (n,) = struct.unpack("!H", await reader.readexactly(2))
        return await reader.readexactly(n)
    finally:
        writer.close()


async def transfer(
    primary: Primary, origin: bytes, from_serial: int | None, key: dns.tsig.Key | None,
    timeout: float, clock: Callable[[], int], source: str | None = None,
) -> Result:
    """AXFR (``from_serial`` None) or IXFR over TCP; TransferError or QueryError when it
    fails."""
    query = make_query(origin, serial=from_serial, msg_id=secrets.randbelow(65536),
                       now=clock(), key=key)
    client = XfrClient(origin, query, peer=str(primary), key=key)
    framer = TcpFramer()
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                primary.address, primary.port, local_addr=_local(source))
            try:
                writer.write(struct.pack("!H", len(query.wire)) + query.wire)
                await writer.drain()
                while True:
                    data = await reader.read(65536)
                    if not data:
                        return client.end_of_stream()
                    for message in framer.feed(data):
                        result = client.feed(message, clock())
                        if result is not None:
                            return result
            finally:
                writer.close()
    except TimeoutError:
        raise QueryError(f"transfer did not finish within {timeout:g} s") from None
    except OSError as e:
        raise QueryError(f"{e.strerror or e}") from None
