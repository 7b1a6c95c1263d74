"""Incremental transfers in from a real knotd, the primary that keeps a journal of changes.

PowerDNS answers every IXFR with the whole zone (tests/interop/test_xfr_in_pdns.py), so the
incremental path needs another primary: knotd with ``journal-content: changes`` and
``zonefile-load: difference`` turns each zone-file edit into a journal entry and answers IXFR
with RFC 1995 diffs. Transfers need the TSIG key. The test moves the bytes over a plain TCP
socket; signwire's client reads them, and the steps, applied to the version the first AXFR
gave, must give the version an AXFR of the newest serial gives.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import time
from collections.abc import Iterator

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rdatatype
import dns.tsig
import pytest

from interop.test_parent_agents import NET, KnotAgent
from interop.verifiers import missing_programs
from signwire.loading.xfr_in import (
    Diffs,
    FullZone,
    TcpFramer,
    TransferError,
    UpToDate,
    XfrClient,
    make_query,
)
from signwire.zones.diff import apply
from signwire.zones.version import ZoneVersion

pytestmark = [pytest.mark.interop, pytest.mark.requires(missing_programs("knotd", "knotc"))]

ORIGIN = "journal.test."
KEY_NAME = "xfr-key."
SECRET = b"0123456789abcdef0123456789abcdef"
KEY = dns.tsig.Key(KEY_NAME, SECRET, "hmac-sha256")
IO_TIMEOUT = 10.0


def version(serial: int, extra: str = "") -> str:
    return (
        f"$ORIGIN {ORIGIN}\n$TTL 300\n"
        f"@ SOA ns.{ORIGIN} hostmaster.{ORIGIN} {serial} 3600 600 86400 60\n"
        f"@ NS ns.{ORIGIN}\n"
        "ns A 192.0.2.53\n"
        "www A 192.0.2.80\n"
        "mail MX 10 mx.example.net.\n"
        + extra
    )


V1 = version(100)
V2 = version(101, "new A 192.0.2.1\nnew TXT \"added in 101\"\n")
V3 = version(102, "new A 192.0.2.2\nnew TXT \"added in 101\"\nsub NS ns.sub\nns.sub A 192.0.2.9\n")


class JournalingKnot(KnotAgent):
    """A knotd that journals zone-file edits as diffs and transfers only with ``KEY_NAME``."""

    def __init__(self, address: str) -> None:
        super().__init__(address, {ORIGIN: V1})
        text = self.conf.read_text()
        keyed = (
            f"key:\n  - id: {KEY_NAME}\n    algorithm: hmac-sha256\n"
            f"    secret: {base64.b64encode(SECRET).decode()}\n"
            f"acl:\n  - id: keyed-transfer\n    key: {KEY_NAME}\n    action: transfer\n"
        )
        text = text.replace("template:\n", keyed + "template:\n", 1)
        text = text.replace(
            "    journal-content: none\n",
            "    journal-content: changes\n    zonefile-load: difference\n",
        )
        text = text.replace(
            f"  - domain: {ORIGIN}\n", f"  - domain: {ORIGIN}\n    acl: keyed-transfer\n"
        )
        self.conf.write_text(text)
        # The journal lives in the database folder, which knotd does not create itself.
        (self.dir / "db").mkdir(exist_ok=True)

    def serial(self) -> int | None:
        with contextlib.suppress(dns.exception.Timeout, OSError):
            reply = dns.query.udp(
                dns.message.make_query(ORIGIN, dns.rdatatype.SOA), self.address, timeout=0.5,
                port=self.port,
            )
            if reply.answer:
                return int(reply.answer[0][0].serial)
        return None

    def load(self, text: str, serial: int) -> None:
        self.reload(ORIGIN, text)
        deadline = time.monotonic() + IO_TIMEOUT
        while time.monotonic() < deadline:
            if self.serial() == serial:
                return
            time.sleep(0.05)
        raise AssertionError(f"knotd did not load serial {serial}:\n{self.logs()}")


@pytest.fixture(scope="module")
def knot() -> Iterator[JournalingKnot]:
    server = JournalingKnot(f"{NET}.21")
    try:
        server.start()
        yield server
    finally:
        server.stop()


def transfer(server: JournalingKnot, serial: int | None, key: dns.tsig.Key | None = KEY):
    origin = dns.name.from_text(ORIGIN).to_wire()
    query = make_query(origin, serial=serial, msg_id=321, now=int(time.time()), key=key)
    client = XfrClient(origin, query, peer=f"{server.address}:{server.port}", key=key)
    framer = TcpFramer()
    with socket.create_connection((server.address, server.port), timeout=IO_TIMEOUT) as sock:
        sock.sendall(len(query.wire).to_bytes(2, "big") + query.wire)
        while client.result is None:
            data = sock.recv(65536)
            if not data:
                return client.end_of_stream()
            for wire in framer.feed(data):
                client.feed(wire, int(time.time()))
    return client.result


def test_ixfr_from_a_journal_applies_to_the_version_it_starts_from(knot):
    origin = dns.name.from_text(ORIGIN).to_wire()
    first = transfer(knot, None)
    assert isinstance(first, FullZone) and first.serial == 100
    knot.load(V2, 101)
    knot.load(V3, 102)

    diffs = transfer(knot, 100)
    assert isinstance(diffs, Diffs), diffs
    assert [(s.from_serial, s.to_serial) for s in diffs.steps] == [(100, 101), (101, 102)]
    added_101 = {(r[0], r[1]) for r in diffs.steps[0].added[1:]}
    new = dns.name.from_text("new", dns.name.from_text(ORIGIN)).to_wire()
    assert added_101 == {(new, dns.rdatatype.A), (new, dns.rdatatype.TXT)}
    assert diffs.steps[1].deleted[1:] == [(new, dns.rdatatype.A, 300, bytes([192, 0, 2, 1]), 0)]

    applied = ZoneVersion.from_records(origin, first.records)
    for step in diffs.steps:
        applied = apply(applied, step.to_diff())
    newest = transfer(knot, None)
    assert isinstance(newest, FullZone) and newest.serial == 102
    assert applied == ZoneVersion.from_records(origin, newest.records)

    assert transfer(knot, 102) == UpToDate(102)
    one_step = transfer(knot, 101)
    assert isinstance(one_step, Diffs) and len(one_step.steps) == 1


def test_transfer_without_the_key_is_refused(knot):
    with pytest.raises(TransferError) as e:
        transfer(knot, None, key=None)
    assert ORIGIN in str(e.value) and knot.address in str(e.value)
