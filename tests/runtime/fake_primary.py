"""A hidden primary for the daemon's tests, on dnspython and plain sockets: answers SOA over
UDP and AXFR/IXFR over TCP (IXFR answered with the whole zone, as PowerDNS does), checks and
signs TSIG, and sends NOTIFY."""

from __future__ import annotations

import socket
import struct
import threading

import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.zone


class FakePrimary:
    def __init__(self, address: str, origin: str, text: str,
                 keyring: dict[dns.name.Name, dns.tsig.Key], key_name: str) -> None:
        self.address = address
        self.origin = dns.name.from_text(origin)
        self.keyring = keyring
        self.key_name = dns.name.from_text(key_name)
        self.set_zone(text)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((address, 0))
        self.port = self.udp.getsockname()[1]
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((address, self.port))
        self.tcp.listen(8)
        self.udp.settimeout(0.2)
        self.tcp.settimeout(0.2)
        self.queries: list[str] = []  # "SOA", "AXFR", "IXFR", "REFUSED"
        self.inject: list[dns.rrset.RRset] = []  # sent in transfers as they are (bad data)
        self._stop = False
        self.threads = [threading.Thread(target=self._serve_udp, daemon=True),
                        threading.Thread(target=self._serve_tcp, daemon=True)]
        for t in self.threads:
            t.start()

    def set_zone(self, text: str) -> None:
        self.zone = dns.zone.from_text(text, self.origin, relativize=False)

    @property
    def serial(self) -> int:
        return int(self.zone.find_rdataset(self.origin, "SOA")[0].serial)

    def _soa(self) -> dns.rrset.RRset:
        rds = self.zone.find_rdataset(self.origin, "SOA")
        rrset = dns.rrset.RRset(self.origin, rds.rdclass, rds.rdtype)
        rrset.update(rds)
        return rrset

    def _read(self, wire: bytes) -> dns.message.Message | None:
        try:
            return dns.message.from_wire(wire, keyring=self.keyring)
        except Exception:
            self.queries.append("REFUSED")
            return None

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if not query.had_tsig or query.question[0].name != self.origin:
            response.set_rcode(dns.rcode.REFUSED)
            self.queries.append("REFUSED")
        return response

    def _serve_udp(self) -> None:
        while not self._stop:
            try:
                wire, peer = self.udp.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
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

    def _serve_tcp(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.tcp.accept()
            except (TimeoutError, OSError):
                continue
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
                    self.queries.append(dns.rdatatype.to_text(query.question[0].rdtype))
                    soa = self._soa()
                    response.answer.append(soa)
                    if query.question[0].rdtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR):
                        for name, node in self.zone.nodes.items():
                            for rds in node.rdatasets:
                                if rds.rdtype == dns.rdatatype.SOA:
                                    continue
                                rrset = dns.rrset.RRset(name, rds.rdclass, rds.rdtype)
                                rrset.update(rds)
                                response.answer.append(rrset)
                        response.answer.extend(self.inject)
                        response.answer.append(soa)
                out = response.to_wire()
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
        self._stop = True
        for t in self.threads:
            t.join()
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
