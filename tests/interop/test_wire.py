"""signwire in the wire, with real peers on loopback: a hidden PowerDNS primary NOTIFYs
``signwire serve``, which transfers, signs and serves the zone to two BIND 9 secondaries;
one Unbound per secondary validates what that secondary serves, with the zone's DS as its
only trust anchor. Every verdict comes from BIND's and Unbound's answers, not from
signwire's own word.

The first test proves the harness without the daemon: PowerDNS serving a zone signed offline
by ``signwire sign`` straight to a BIND secondary, validated by Unbound.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
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
    lab_factory,
    missing,
    sign_offline,
    verdict,
    wait_for,
    zone_text,
)

pytestmark = [pytest.mark.interop, pytest.mark.requires(missing())]

LabFactory = Callable[..., Lab]


@pytest.fixture
def labs(tmp_path: Path) -> Iterator[LabFactory]:
    yield from lab_factory(tmp_path)


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


def secure_everywhere(lab: Lab, name: str, rdtype: str, rdata: set[str]) -> None:
    """Both secondaries' answers validate (AD, no SERVFAIL) and hold ``rdata``."""
    for i, v in enumerate(lab.verdicts(name, rdtype), 1):
        assert v.secure and v.rdata == rdata, f"secondary {i}: {name} {rdtype}: {v}\n{lab.logs()}"


def test_first_signing_reaches_both_secondaries_and_validates(labs: LabFactory) -> None:
    lab = labs()
    serial = lab.start()
    assert [s.serial() for s in lab.secondaries] == [serial, serial]
    secure_everywhere(lab, "www." + ZONE, "A", {"192.0.2.80"})
    secure_everywhere(lab, ZONE, "MX", {"10 mail.example.test."})
    for i, v in enumerate(lab.verdicts("nothere." + ZONE, "A"), 1):
        assert v.rcode == "NXDOMAIN" and v.ad, f"secondary {i}: {v}"
    # Signed by signwire, not passed through: PowerDNS serves no DNSSEC records at all.
    assert not any(r.rdtype == 46 for r in lab.pdns_answer("www." + ZONE, "A").answer)


def test_change_at_the_primary_reaches_both_secondaries_signed_by_ixfr(
    labs: LabFactory,
) -> None:
    """Five one-record changes at PowerDNS (pdnsutil, then its NOTIFY): each is served by both
    BIND secondaries and validates through both resolvers. The seconds from the change being
    committed at the primary are printed (the NOTIFY command's own time included, and the
    resolvers' cache flushes in the validated figure)."""
    lab = labs()
    first = lab.start()
    served_after, validated_after = [], []
    for n in range(1, 6):
        address = f"192.0.2.{100 + n}"
        lab.pdns.set_rrset(ZONE, f"new{n}", "A", 5, address)
        lab.pdns.increase_serial(ZONE)
        t0 = time.monotonic()  # the change is in PowerDNS's database and served from here on
        lab.pdns.notify(ZONE)

        def served(name: str = f"new{n}.{ZONE}", address: str = address) -> bool:
            return all(address in {rd.to_text() for rrset in s.ask(name, "A").answer
                                   for rd in rrset} for s in lab.secondaries)

        def validated(name: str = f"new{n}.{ZONE}", address: str = address) -> bool:
            return all(v.secure and v.rdata == {address} for v in lab.verdicts(name, "A"))

        wait_for(served, 30, f"change {n} served by both secondaries", lab.logs, interval=0.01)
        served_after.append(time.monotonic() - t0)
        wait_for(validated, 30, f"change {n} validated at both secondaries", lab.logs,
                 interval=0.05)
        validated_after.append(time.monotonic() - t0)
    print("\nprimary change (pdnsutil + NOTIFY) -> served by both secondaries: "
          + ", ".join(f"{t:.2f}" for t in served_after) + " s; validated through both: "
          + ", ".join(f"{t:.2f}" for t in validated_after) + " s")
    last = lab.signwire.serial()
    assert last is not None and last != first
    assert [s.serial() for s in lab.secondaries] == [last, last]
    # BIND's own account of what it received: an AXFR for its first copy, then an incremental
    # answer for each change (its xfrin module's "got incremental response"), never the whole
    # zone again.
    for s in lab.secondaries:
        kinds = [t.kind for t in s.transfers()]
        assert kinds[0] == "AXFR" and set(kinds[1:]) == {"IXFR"}, f"{kinds}\n{s.log_tail()}"
        assert len(kinds) >= 2
