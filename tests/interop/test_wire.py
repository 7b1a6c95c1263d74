"""signwire in the wire, with real peers on loopback: a hidden PowerDNS primary NOTIFYs
``signwire serve``, which transfers, signs and serves the zone to two BIND 9 secondaries;
one Unbound per secondary validates what that secondary serves, with the zone's DS as its
only trust anchor. Every verdict comes from BIND's and Unbound's answers, not from
signwire's own word.

The first test proves the harness without the daemon: PowerDNS serving a zone signed offline
by ``signwire sign`` straight to a BIND secondary, validated by Unbound.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from interop.peers import (
    NET,
    ZONE,
    BindSecondary,
    Lab,
    PowerDnsPrimary,
    TsigKey,
    UnboundResolver,
    lab_factory,  # noqa: F401 -- a fixture
    missing,
    sign_offline,
    verdict,
    zone_text,
)

pytestmark = [pytest.mark.interop, pytest.mark.requires(missing())]

LabFactory = Callable[..., Lab]


def test_harness_pdns_to_bind_to_unbound_with_an_offline_signed_zone(tmp_path: Path) -> None:
    """The peers alone: a presigned zone goes PowerDNS → (TSIG AXFR) → BIND, and Unbound
    validates BIND's answers with the DS ``signwire sign`` printed; a resolver trusting
    another DS calls the same answers bogus, so the AD bit is earned."""
    key = TsigKey.make()
    signed, anchor = sign_offline(tmp_path / "sign", ZONE, zone_text(7))
    pdns = PowerDnsPrimary(tmp_path / "pdns", NET + ".21", key)
    bind = BindSecondary(tmp_path / "bind", ZONE, (pdns.address, pdns.port), key)
    pdns.add_zone(ZONE, signed, presigned=True, also_notify=[(bind.address, bind.port)])
    started = []
    try:
        for peer in (pdns, bind):
            started.append(peer)
            peer.start()
        bind.wait_serial(7)
        good = UnboundResolver(tmp_path / "ub-good", ZONE, anchor, [(bind.address, bind.port)])
        wrong_digest = anchor[:-8] + ("00000000" if not anchor.endswith("00000000") else "11111111")
        bad = UnboundResolver(tmp_path / "ub-bad", ZONE, wrong_digest, [(bind.address, bind.port)])
        for peer in (good, bad):
            started.append(peer)
            peer.start()
        www = verdict(good.resolve("www." + ZONE, "A"), "A")
        assert www.secure and www.rdata == {"192.0.2.80"}, www
        nx = verdict(good.resolve("nothere." + ZONE, "A"), "A")
        assert nx.rcode == "NXDOMAIN" and nx.ad, nx
        bogus = verdict(bad.resolve("www." + ZONE, "A"), "A")
        assert bogus.rcode == "SERVFAIL" and not bogus.ad, bogus

        # A change signed offline reaches BIND through a NOTIFY and validates.
        signed2, _ = sign_offline(tmp_path / "sign", ZONE,
                                  zone_text(8, extra="new A 192.0.2.99\n"))
        (tmp_path / "pdns" / "v2.zone").write_text(signed2)
        pdns.util("load-zone", ZONE, str(tmp_path / "pdns" / "v2.zone"))
        pdns.notify(ZONE)
        bind.wait_serial(8)
        new = verdict(good.resolve("new." + ZONE, "A"), "A")
        assert new.secure and new.rdata == {"192.0.2.99"}, new
        # PowerDNS keeps no journal: its answer to BIND's IXFR is the whole zone, and the log
        # reader the IXFR scenario relies on must say so.
        kinds = [t.kind for t in bind.transfers()]
        assert kinds == ["AXFR", "AXFR"], bind.log_tail()
    finally:
        for peer in reversed(started):
            peer.stop()
