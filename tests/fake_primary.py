"""A hidden primary on dnspython and plain sockets, for what a real one will not do.

PowerDNS leaves names outside the zone out of its AXFR, never cuts a transfer short and signs
with the right key; the daemon's refusals of such transfers need a primary that does. This
one answers SOA over UDP and AXFR/IXFR over TCP (IXFR with the whole zone, as PowerDNS does),
checks TSIG (an unsigned or badly signed query is refused) and signs its answers, and sends
NOTIFY. What it serves can be broken on purpose: ``inject`` adds RRsets to every transfer as
they are (names outside the zone, CNAME beside data), ``truncated`` stops the stream before the
closing SOA, ``sign_with`` signs the answers with another key (a forger, or a botched key
change). ``queries`` records what was asked: "SOA", "AXFR", "IXFR", or "REFUSED", and
``peers`` the address each query came from.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.zone

Keyring = dict[dns.name.Name, dns.tsig.Key]


class FakePrimary:
    def __init__(self, address: str, origin: str, keyring: Keyring, key_name: str,
                 text: str | None = None) -> None:
        self.address = address
        self.origin = dns.name.from_text(origin)
        self.keyring = keyring
        self.key_name = dns.name.from_text(key_name)
        self.zone: dns.zone.Zone | None = None
        if text is not None:
            self.set_zone(text)
        self.queries: list[str] = []
        self.peers: list[str] = []
        self.inject: list[dns.rrset.RRset] = []
        self.truncated = False
        self.sign_with: tuple[Keyring, dns.name.Name] | None = None
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((address, 0))
        self.port = self.udp.getsockname()[1]
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((address, self.port))
        self.tcp.listen(8)
        self.udp.settimeout(0.2)
        self.tcp.settimeout(0.2)
        self._stop = threading.Event()
        self.threads = [threading.Thread(target=self._serve_udp, daemon=True),
                        threading.Thread(target=self._serve_tcp, daemon=True)]
        for t in self.threads:
            t.start()

    def set_zone(self, text: str) -> None:
        self.zone = dns.zone.from_text(text, self.origin, relativize=False)

    def serve(self, text: str, *, outside: str = "", truncated: bool = False,
              sign_with: tuple[Keyring, str] | None = None) -> int:
        """Serve zone ``text``, plus ``outside`` (lines ``name ttl type rdata`` for names a
        zone object cannot hold), cut short or signed with another key; the serial."""
        self.set_zone(text)
        self.inject = []
        for line in outside.splitlines():
            name, ttl, rdtype, rdata = line.split(maxsplit=3)
            self.inject.append(dns.rrset.from_text(name, int(ttl), "IN", rdtype, rdata))
        self.truncated = truncated
        self.sign_with = None if sign_with is None else (
            sign_with[0], dns.name.from_text(sign_with[1]))
        return self.serial

    @property
    def serial(self) -> int:
        return int(self._soa()[0].serial)

    def _soa(self) -> dns.rrset.RRset:
        assert self.zone is not None, "nothing served yet"
        rds = self.zone.find_rdataset(self.origin, "SOA")
        rrset = dns.rrset.RRset(self.origin, rds.rdclass, rds.rdtype)
        rrset.update(rds)
        return rrset

    def _read(self, wire: bytes) -> dns.message.Message | None:
        try:
            return dns.message.from_wire(wire, keyring=self.keyring)
        except Exception:  # a bad key: no answer at all, as a strict primary would
            self.queries.append("REFUSED")
            return None

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)  # signed with the query's key
        response.flags |= dns.flags.AA
        if self.sign_with is not None:
            response.use_tsig(self.sign_with[0], keyname=self.sign_with[1])
        if not query.had_tsig or query.question[0].name != self.origin:
            response.set_rcode(dns.rcode.REFUSED)
            self.queries.append("REFUSED")
        return response

    def _serve_udp(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self.udp.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            self.peers.append(peer[0])
            query = self._read(wire)
            if query is None or query.opcode() != dns.opcode.QUERY:
                continue
            response = self._answer(query)
            if response.rcode() == dns.rcode.NOERROR:
                self.queries.append(dns.rdatatype.to_text(query.question[0].rdtype))
                if query.question[0].rdtype == dns.rdatatype.SOA:
                    response.answer.append(self._soa())
                else:
                    response.set_rcode(dns.rcode.REFUSED)
            self.udp.sendto(response.to_wire(), peer)

    def _transfer(self) -> list[dns.rrset.RRset]:
        assert self.zone is not None
        soa = self._soa()
        rrsets = [soa]
        for name, node in self.zone.nodes.items():
            for rds in node.rdatasets:
                if rds.rdtype != dns.rdatatype.SOA:
                    rrset = dns.rrset.RRset(name, rds.rdclass, rds.rdtype)
                    rrset.update(rds)
                    rrsets.append(rrset)
        rrsets.extend(self.inject)
        if self.truncated:
            return rrsets[: max(1, len(rrsets) // 2)]
        return [*rrsets, soa]

    def _serve_tcp(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self.tcp.accept()
            except (TimeoutError, OSError):
                continue
            self.peers.append(peer[0])
            with conn:
                conn.settimeout(5)
                try:
                    (n,) = struct.unpack("!H", _exact(conn, 2))
                    query = self._read(_exact(conn, n))
                except OSError:
                    continue
                if query is None:
                    continue
                response = self._answer(query)
                if response.rcode() == dns.rcode.NOERROR:
                    rdtype = query.question[0].rdtype
                    self.queries.append(dns.rdatatype.to_text(rdtype))
                    if rdtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR):
                        response.answer.extend(self._transfer())
                    else:
                        response.answer.append(self._soa())
                out = response.to_wire()
                with contextlib.suppress(OSError):
                    conn.sendall(struct.pack("!H", len(out)) + out)

    def notify(self, port: int, address: str = "127.0.0.1", signed: bool = True) -> int:
        """Send NOTIFY to the signer; the answer's RCODE."""
        msg = dns.message.make_query(self.origin, dns.rdatatype.SOA)
        msg.set_opcode(dns.opcode.NOTIFY)
        msg.flags |= dns.flags.AA
        msg.answer.append(self._soa())
        if signed:
            msg.use_tsig(self.keyring, keyname=self.key_name)
        answer = dns.query.udp(msg, address, port=port, timeout=5, source=self.address,
                               ignore_unexpected=True)
        return int(answer.rcode())

    def close(self) -> None:
        self._stop.set()
        for t in self.threads:
            t.join(5)
        self.udp.close()
        self.tcp.close()


def _exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise OSError("closed")
        data += chunk
    return data
