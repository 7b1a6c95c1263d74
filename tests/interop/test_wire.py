"""signwire in the wire, with real peers on loopback: a hidden PowerDNS primary NOTIFYs
``signwire serve``, which transfers, signs and serves the zone to two BIND 9 secondaries;
one Unbound per secondary validates what that secondary serves, with the zone's DS as its
only trust anchor. Every verdict comes from BIND's and Unbound's answers (AD bit, no
SERVFAIL, the records asked for), not from signwire's own word; signwire's log is read only
to know *when* it has decided something.

How IXFR is told from AXFR at a secondary: BIND's xfrin module logs "got incremental
response" or "got nonincremental response" at debug level 3 (the secondaries run with
``-d 3``), followed by "Transfer completed: N messages, R records, B bytes"; at a Knot primary,
its own "IXFR, outgoing" / "AXFR, outgoing" lines.

The first test proves the harness without the daemon: PowerDNS serving a zone signed offline
by ``signwire sign`` straight to a BIND secondary, validated by Unbound.

Timers are short so the file runs in a few minutes: SOA expire 20 s in the expiry scenarios
(signwire's ``min-*`` bounds lowered to 1 s so it takes them), BIND's minimum refresh and retry
1 s, TTLs 5 s, and each resolver's cache flushed before each check.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.zone
import pytest

from fake_primary import FakePrimary
from interop.live_dns import Knot
from interop.peers import (
    NET,
    ZONE,
    BindSecondary,
    KnotPrimary,
    Lab,
    Peer,
    PowerDnsPrimary,
    TsigKey,
    UnboundResolver,
    add_secondary,
    lab_factory,
    missing,
    send_notify,
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
    started: list[Peer] = []
    try:
        for server in (pdns, bind):
            started.append(server)
            server.start()
        bind.wait_serial(7)
        good = UnboundResolver(tmp_path / "ub-good", ZONE, anchor, [(bind.address, bind.port)])
        wrong_digest = anchor[:-8] + ("00000000" if not anchor.endswith("00000000") else "11111111")
        bad = UnboundResolver(tmp_path / "ub-bad", ZONE, wrong_digest, [(bind.address, bind.port)])
        for resolver in (good, bad):
            started.append(resolver)
            resolver.start()
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
    hosts = "".join(f"host{i} A 198.51.100.{i % 250}\n" for i in range(300))
    lab = labs(extra=hosts)
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
        transfers = s.transfers()
        kinds = [t.kind for t in transfers]
        assert kinds[0] == "AXFR" and set(kinds[1:]) == {"IXFR"}, f"{kinds}\n{s.log_tail()}"
        assert len(kinds) >= 2
        first_axfr, ixfrs = transfers[0], transfers[1:]
        print(f"BIND :{s.port}: AXFR {first_axfr.records} records/{first_axfr.octets} octets; "
              f"IXFRs {[(t.records, t.octets) for t in ixfrs]} (records, octets)")
        # A one-record change: its record, the SOAs, the signatures and the denial records
        # around it, a small part of the 900-odd records of the whole zone.
        assert first_axfr.records is not None and first_axfr.records > 900, first_axfr
        assert all(t.records is not None and t.records < 40 for t in ixfrs), transfers
    # signwire's status agrees (it keys secondaries by address; both BINDs are on 127.0.0.1).
    done = lab.signwire.cli("status", "--json")
    assert done.returncode == 0, done.stderr
    (zone,) = json.loads(done.stdout)["zones"]
    seen = zone["secondaries"]["127.0.0.1"]
    assert seen["last_transfer"] == "IXFR" and seen["serial"] == last, seen


def change_without_notify(lab: Lab, name: str, address: str) -> int:
    """A change committed at PowerDNS with no NOTIFY sent; its new serial."""
    lab.pdns.set_rrset(ZONE, name, "A", 5, address)
    return lab.pdns.increase_serial(ZONE)


def still_the_same(lab: Lab, serial: int, seconds: float) -> None:
    """For ``seconds``, signwire and both secondaries keep serving ``serial``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        # A query lost to a busy machine is no change of serial; a wrong answer is.
        with contextlib.suppress(dns.exception.Timeout):
            assert lab.signwire.serial() == serial, lab.signwire.log_tail()
        with contextlib.suppress(dns.exception.Timeout):
            assert [s.serial() for s in lab.secondaries] == [serial, serial]
        time.sleep(0.25)


def no_zone(secondary: BindSecondary) -> bool:
    return secondary.serial() is None


def secondaries_expire(lab: Lab) -> list[int]:
    """The SOA expire each secondary serves (what it goes by itself)."""
    return [int(next(r for r in s.ask(ZONE, "SOA").answer if r.rdtype == dns.rdatatype.SOA)[0]
                 .expire) for s in lab.secondaries]


# The SOA expire in the expiry scenarios (seconds), the primary's and the one signwire gives
# the secondaries. Those scenarios wait twice as long: had signwire gone dark at its own
# expire, the secondaries would have expired one period later.
EXPIRE = 15
SHORT = (2, 1, EXPIRE)  # refresh, retry, expire


def test_harness_secondaries_go_dark_when_signwire_is_gone_past_their_expire(
    labs: LabFactory,
) -> None:
    """The control for the never-dark scenarios: with the short expire those scenarios give
    the secondaries, BIND does stop answering once signwire has been gone that long, and
    Unbound then fails. So a zone still validating there past that time means signwire kept
    the secondaries fed, not that BIND ignores short timers."""
    lab = labs(timers=SHORT, min_timers=(1, 1, 1), secondary_expire=EXPIRE)
    lab.start()
    gone = time.monotonic()
    lab.signwire.kill()
    for s in lab.secondaries:
        wait_for(functools.partial(no_zone, s), 3 * EXPIRE, "BIND expiring the zone",
                 s.log_tail, interval=0.5)
    took = time.monotonic() - gone
    assert took >= EXPIRE - 2, f"expired after {took:.0f} s, before the SOA expire"
    for v in lab.verdicts("www." + ZONE, "A"):
        assert v.rcode == "SERVFAIL", v


def test_no_notify_for_longer_than_expire_keeps_validating(labs: LabFactory) -> None:
    """PowerDNS sends no NOTIFY at all (no ALSO-NOTIFY); signwire's refresh timer alone keeps
    the zone and brings a change in; past twice the SOA expire the zone still validates at both
    secondaries and is not stale."""
    lab = labs(timers=SHORT, min_timers=(1, 1, 1), also_notify=False, secondary_expire=EXPIRE)
    t0 = time.monotonic()
    lab.start()
    assert secondaries_expire(lab) == [EXPIRE, EXPIRE]
    time.sleep(3)
    change_without_notify(lab, "quiet", "192.0.2.77")
    remaining = 2 * EXPIRE + 5 - (time.monotonic() - t0)
    if remaining > 0:
        time.sleep(remaining)
    secure_everywhere(lab, "quiet." + ZONE, "A", {"192.0.2.77"})
    secure_everywhere(lab, "www." + ZONE, "A", {"192.0.2.80"})
    status = lab.signwire.status()
    assert "stale" not in status.lower() and "serving: yes" in status, status
    assert lab.signwire.serial() is not None


def test_primary_stopped_past_expire_keeps_validating_and_says_stale(
    labs: LabFactory,
) -> None:
    """PowerDNS stopped for good: signwire says stale once the expire has passed, and the zone
    still validates at both secondaries twice the expire later."""
    lab = labs(timers=SHORT, min_timers=(1, 1, 1), secondary_expire=EXPIRE)
    serial = lab.start()
    assert secondaries_expire(lab) == [EXPIRE, EXPIRE]
    stopped = time.monotonic()
    lab.pdns.stop()

    def says_stale() -> str | None:
        status = lab.signwire.status()
        return status if "stale" in status.lower() else None

    status = wait_for(says_stale, EXPIRE + 20, "signwire status saying stale", lab.logs,
                      interval=1.0)
    assert time.monotonic() - stopped >= EXPIRE - 2, "stale before the expire time"
    assert "serving: yes" in status, status
    time.sleep(max(0.0, 2 * EXPIRE + 5 - (time.monotonic() - stopped)))
    assert [s.serial() for s in lab.secondaries] == [serial, serial]
    secure_everywhere(lab, "www." + ZONE, "A", {"192.0.2.80"})
    for i, v in enumerate(lab.verdicts("nothere." + ZONE, "A"), 1):
        assert v.rcode == "NXDOMAIN" and v.ad, f"secondary {i}: {v}"
    assert lab.signwire.serial() == serial and lab.signwire.running


def test_tsig_wrong_key_gets_nothing_and_is_refused(labs: LabFactory) -> None:
    lab = labs()
    serial = lab.start()
    wrong = TsigKey.make(lab.key.name)  # the same name, another secret

    # A secondary with the wrong secret gets no zone, and says why.
    intruder = add_secondary(lab, wrong)
    wait_for(lambda: "tsig indicates error" in intruder.log_text(), 20,
             "the wrong-key secondary reporting a TSIG failure", intruder.log_tail)
    assert intruder.serial() is None, intruder.log_tail()
    assert not any(t for t in intruder.transfers()), intruder.log_tail()
    # An AXFR signed with the wrong secret is refused (NOTAUTH, TSIG error BADSIG).
    q = dns.message.make_query(ZONE, "AXFR")
    q.use_tsig(wrong.keyring(), keyname=wrong.name)
    with pytest.raises(dns.tsig.PeerBadSignature):
        dns.query.tcp(q, lab.signwire.address, port=lab.signwire.port, timeout=5)

    # A NOTIFY from the primary's own address with the wrong secret does not start a refresh:
    # the change waits (refresh is an hour) until the real, signed NOTIFY comes.
    new = change_without_notify(lab, "keyed", "192.0.2.66")
    answer = send_notify((lab.signwire.address, lab.signwire.port), ZONE, new,
                         source=lab.pdns.address, key=wrong)
    assert answer is None or answer.rcode() != dns.rcode.NOERROR, answer
    still_the_same(lab, serial, 4)
    lab.pdns.notify(ZONE)
    secure_within(lab, "keyed." + ZONE, "A", {"192.0.2.66"})
    assert "refused: TSIG check failed" in lab.signwire.log_text(), lab.signwire.log_tail()


def test_transfer_answered_with_another_key_is_refused(labs: LabFactory) -> None:
    """PowerDNS gets another secret under the same key name: its NOTIFY no longer verifies, and
    it answers signwire's SOA queries unsigned (it cannot verify them): signwire takes nothing,
    keeps the old version, and both secondaries validate it."""
    lab = labs(timers=(3, 1, 1209600), min_timers=(1, 1, 1))
    serial = lab.start()
    other = TsigKey.make(lab.key.name)
    lab.pdns.util("import-tsig-key", other.bare, other.algorithm, other.secret)
    change_without_notify(lab, "forged", "192.0.2.13")
    lab.pdns.notify(ZONE)
    still_the_same(lab, serial, 8)  # NOTIFY refused and two refresh periods without a change
    assert "refused: TSIG check failed" in lab.signwire.log_text(), lab.signwire.log_tail()
    assert rejected_count(lab) > 0, lab.signwire.log_tail()
    secure_everywhere(lab, "www." + ZONE, "A", {"192.0.2.80"})
    for v in lab.verdicts("forged." + ZONE, "A"):
        assert v.rcode == "NXDOMAIN" and v.ad, v


def test_notify_from_an_unlisted_address_is_ignored(labs: LabFactory) -> None:
    lab = labs()
    serial = lab.start()
    new = change_without_notify(lab, "stranger", "192.0.2.55")
    # Signed with the right key, but from an address that is not the primary.
    answer = send_notify((lab.signwire.address, lab.signwire.port), ZONE, new,
                         source=NET + ".99", key=lab.key)
    assert answer is not None and answer.rcode() == dns.rcode.REFUSED, answer
    still_the_same(lab, serial, 4)
    lab.pdns.notify(ZONE)
    secure_within(lab, "stranger." + ZONE, "A", {"192.0.2.55"})
    assert "refused: not a configured primary" in lab.signwire.log_text()


def secure_within(lab: Lab, name: str, rdtype: str, rdata: set[str], timeout: float = 30) -> None:
    wait_for(lambda: all(v.secure and v.rdata == rdata for v in lab.verdicts(name, rdtype)),
             timeout, f"{name} {rdtype} {sorted(rdata)} validated at both secondaries", lab.logs,
             interval=0.2)


def rejected_count(lab: Lab) -> int:
    """How many times signwire said no to what a primary sent: a version it rejected, or an
    answer it could not accept."""
    text = lab.signwire.log_text()
    return text.count("rejected") + text.count("SOA query failed")


def more_rejections(lab: Lab, before: int) -> bool:
    return rejected_count(lab) > before


def test_broken_transfers_from_powerdns_are_refused_old_version_served(
    labs: LabFactory,
) -> None:
    """Data PowerDNS serves but a zone may not hold, put in behind pdnsutil's back: a CNAME
    beside other data, then an apex without NS. Each version is refused, the last good one
    stays served and validating at both secondaries; a repaired zone goes through again."""
    lab = labs()
    serial = lab.start()
    domain_id = lab.pdns.domain_id(ZONE)
    broken = [
        ("CNAME beside other data",
         "INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled, auth) "
         "VALUES (?, 'www.example.test', 'CNAME', 'mail.example.test', 5, 0, 0, 1)",
         "DELETE FROM records WHERE domain_id = ? AND name = 'www.example.test' "
         "AND type = 'CNAME'"),
        ("no NS at the apex",
         "UPDATE records SET disabled = 1 WHERE domain_id = ? AND name = 'example.test' "
         "AND type = 'NS'",
         "UPDATE records SET disabled = 0 WHERE domain_id = ? AND name = 'example.test' "
         "AND type = 'NS'"),
    ]
    for what, breaking, repair in broken:
        before = rejected_count(lab)
        lab.pdns.sql(breaking, domain_id)
        lab.pdns.increase_serial(ZONE)
        lab.pdns.notify(ZONE)
        wait_for(functools.partial(more_rejections, lab, before), 20,
                 f"signwire rejecting the version with {what}", lab.signwire.log_tail)
        still_the_same(lab, serial, 2)
        secure_everywhere(lab, "www." + ZONE, "A", {"192.0.2.80"})
        lab.pdns.sql(repair, domain_id)
    lab.pdns.set_rrset(ZONE, "fixed", "A", 5, "192.0.2.44")
    lab.pdns.increase_serial(ZONE)
    lab.pdns.notify(ZONE)
    secure_within(lab, "fixed." + ZONE, "A", {"192.0.2.44"})


def test_sigkill_then_restart_secondaries_keep_serving_signwire_answers_at_once(
    labs: LabFactory,
) -> None:
    lab = labs()
    serial = lab.start()
    lab.signwire.kill()
    # The secondaries do not depend on signwire being up.
    secure_everywhere(lab, "www." + ZONE, "A", {"192.0.2.80"})
    took = lab.signwire.start()
    print(f"\nrestart after SIGKILL -> SOA answered: {took:.2f} s")
    assert lab.signwire.serial() == serial
    assert took < 10, f"{took:.1f} s before the restarted signwire answered"
    log = lab.signwire.log_text()
    assert f"restored signed serial {serial}" in log, lab.signwire.log_tail()
    # Work goes on from the restored version: the next change arrives and validates.
    lab.pdns.set_rrset(ZONE, "after", "A", 5, "192.0.2.33")
    lab.pdns.increase_serial(ZONE)
    lab.pdns.notify(ZONE)
    secure_within(lab, "after." + ZONE, "A", {"192.0.2.33"})
    for s in lab.secondaries:
        assert s.transfers()[-1].kind == "IXFR", s.log_tail()


FAKE_KEY = TsigKey.make()


@pytest.fixture
def fake_primary() -> Iterator[FakePrimary]:
    primary = FakePrimary(NET + ".31", ZONE, FAKE_KEY.keyring(), FAKE_KEY.name)
    try:
        yield primary
    finally:
        primary.close()


def test_broken_transfers_from_a_fake_primary_are_refused_old_version_served(
    labs: LabFactory, fake_primary: FakePrimary,
) -> None:
    """Records outside the zone, a transfer cut off before its closing SOA, answers signed with
    another secret: each refused, the last good version still served and validating at both
    secondaries; then a good version goes through."""
    fake_primary.serve(zone_text(10))
    lab = labs(primary=(fake_primary.address, fake_primary.port), key=FAKE_KEY)
    serial = lab.start()
    notify_to = (lab.signwire.address, lab.signwire.port)
    broken: list[tuple[str, dict[str, Any]]] = [
        ("records outside the zone",
         dict(outside="www.example.org. 5 A 192.0.2.66")),
        ("a transfer cut off before its closing SOA", dict(truncated=True)),
        ("answers signed with another secret",
         dict(sign_with=(TsigKey.make(FAKE_KEY.name).keyring(), FAKE_KEY.name))),
    ]
    for n, (what, how) in enumerate(broken, 11):
        before = rejected_count(lab)
        new = fake_primary.serve(zone_text(n, extra=f"bad{n} A 192.0.2.{n}\n"), **how)
        answer = send_notify(notify_to, ZONE, new, source=fake_primary.address,
                             key=FAKE_KEY)
        assert answer is not None and answer.rcode() == dns.rcode.NOERROR, answer
        wait_for(functools.partial(more_rejections, lab, before), 20,
                 f"signwire rejecting {what}", lab.signwire.log_tail)
        still_the_same(lab, serial, 2)
        secure_everywhere(lab, "www." + ZONE, "A", {"192.0.2.80"})
        for v in lab.verdicts(f"bad{n}." + ZONE, "A"):
            assert v.rcode == "NXDOMAIN" and v.ad, v
    new = fake_primary.serve(zone_text(20, extra="good A 192.0.2.20\n"))
    send_notify(notify_to, ZONE, new, source=fake_primary.address, key=FAKE_KEY)
    secure_within(lab, "good." + ZONE, "A", {"192.0.2.20"})


def newer(a: int, b: int) -> bool:
    """RFC 1982: serial ``a`` is after ``b``."""
    return a != b and (a - b) % 2**32 < 2**31


def test_sigkill_at_random_instants_during_changes_never_breaks_validation(
    labs: LabFactory,
) -> None:
    """Changes keep coming from PowerDNS while signwire is killed (SIGKILL) at random instants
    after each NOTIFY and restarted: the resolvers never get a SERVFAIL or an unvalidated
    answer from either secondary, no serial goes backwards (signwire's or the secondaries'),
    and the last change arrives and validates."""
    rng = random.Random(7)
    lab = labs()
    lab.start()
    failures: list[str] = []
    serials: list[list[int]] = [[], []]
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for i, (resolver, secondary) in enumerate(zip(lab.resolvers, lab.secondaries,
                                                          strict=True)):
                try:
                    v = verdict(resolver.resolve("www." + ZONE, "A"), "A")
                    serial = secondary.serial()
                except (dns.exception.DNSException, OSError, AssertionError) as e:
                    failures.append(f"secondary {i + 1}: {type(e).__name__}: {e}")
                    continue
                if not (v.secure and v.rdata == {"192.0.2.80"}):
                    failures.append(f"secondary {i + 1}: {v}")
                if serial is None:
                    failures.append(f"secondary {i + 1}: no SOA")
                else:
                    serials[i].append(serial)
            stop.wait(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    published = [lab.signwire.serial()]
    try:
        for n in range(1, 7):
            lab.pdns.set_rrset(ZONE, f"k{n}", "A", 5, f"192.0.2.{n}")
            lab.pdns.increase_serial(ZONE)
            lab.pdns.notify(ZONE)
            time.sleep(rng.uniform(0.0, 0.8))
            lab.signwire.kill()
            lab.signwire.start()
            published.append(lab.signwire.serial())
        secure_within(lab, "k6." + ZONE, "A", {"192.0.2.6"})
    finally:
        stop.set()
        watcher.join(30)
    assert not failures, "\n".join(failures[:20])
    served = [s for s in published if s is not None]
    assert len(served) == len(published), published
    assert all(b == a or newer(b, a) for a, b in itertools.pairwise(served)), served
    for i, seen in enumerate(serials, 1):
        assert seen, f"secondary {i} was never asked"
        assert all(b == a or newer(b, a) for a, b in itertools.pairwise(seen)), (i, seen)
    print(f"\nserials signwire served after each restart: {published}")


def test_ixfr_in_from_a_journaling_knot_primary(labs: LabFactory, tmp_path: Path) -> None:
    """A primary that answers IXFR with a real diff (knotd's journal): signwire takes the
    change by IXFR (Knot's own log says so), and both secondaries serve it signed and valid."""
    key = TsigKey.make()
    knot = KnotPrimary(tmp_path / "knot", NET + ".41", ZONE, key)
    lab = labs(primary=(knot.address, knot.port), key=key)
    lab.started.append(knot)  # stopped with the lab
    knot.start(zone_text(100, extra="".join(f"h{i} A 198.51.100.{i}\n" for i in range(200))),
               notify=(lab.signwire.address, lab.signwire.port))
    lab.start()
    assert [line for line in knot.outgoing() if "AXFR" in line], knot.log_tail()
    knot.load(zone_text(101, extra="".join(f"h{i} A 198.51.100.{i}\n" for i in range(200))
                        + "journaled A 192.0.2.101\n"))
    secure_within(lab, "journaled." + ZONE, "A", {"192.0.2.101"})
    served = knot.outgoing()
    assert "IXFR, outgoing" in served[-1], "\n".join(served)
    assert not any("AXFR" in line for line in served[1:]), "\n".join(served)
    for s in lab.secondaries:
        assert s.transfers()[-1].kind == "IXFR", s.log_tail()


# ZSKs that roll every 25 s (a rollover takes 21 s), every wait a few seconds: TTL 2 for
# DNSKEY, the zone's TTLs (5) as the largest, 3 s for the secondaries to follow (signwire's
# NOTIFY, BIND's IXFR: about a second here). Signatures live a day, so none expires during
# the test and the refresh rule holds (12 h >= soa-expire 1 h + TTLs).
FAST_ZSK = """\
zsk-lifetime = 25
dnskey-ttl = 2
max-zone-ttl = 5
zone-propagation-delay = 3
publish-safety = 1
retire-safety = 1
soa-expire = "1h"
soa-negative-ttl = 2
signature-validity = "1d"
signature-refresh = "12h"
signature-jitter = "1h"
dnskey-signature-validity = "1d"
"""


def zsk_tags(lab: Lab) -> list[frozenset[int]]:
    """The zone-signing keys (no SEP bit) each secondary serves, by key tag."""
    out = []
    for s in lab.secondaries:
        answer = s.ask(ZONE, "DNSKEY")
        keys = next(r for r in answer.answer if r.rdtype == dns.rdatatype.DNSKEY)
        out.append(frozenset(dns.dnssec.key_id(k) for k in keys if not k.flags & 1))
    return out


def test_zsk_rollover_inside_the_daemon_never_breaks_validation(labs: LabFactory) -> None:
    """The daemon's own enforcer rolls the ZSK (pre-publication) while Unbound, caching as
    resolvers do, asks through both secondaries: every answer validates, none is a SERVFAIL,
    and the secondaries end up serving a ZSK they did not serve at first."""
    lab = labs(policy=FAST_ZSK)
    lab.start()
    first = zsk_tags(lab)
    assert first[0] == first[1] and len(first[0]) == 1, first
    probes = [("www." + ZONE, "A", True), (ZONE, "DNSKEY", True), ("nothere." + ZONE, "A", False)]
    bad: list[str] = []
    asked = 0
    # The first ZSK is replaced 25 s after it was made and gone from the DNSKEY RRset 21 s
    # later; watch a little longer.
    watch = 55
    deadline = time.monotonic() + watch
    while time.monotonic() < deadline:
        for i, resolver in enumerate(lab.resolvers, 1):
            for name, rdtype, positive in probes:
                try:
                    v = verdict(resolver.resolve(name, rdtype, fresh=False), rdtype)
                except dns.exception.Timeout:
                    bad.append(f"+{watch - deadline + time.monotonic():.1f}s secondary {i}: "
                               f"{name} {rdtype}: timeout")
                    continue
                asked += 1
                wanted = "NOERROR" if positive else "NXDOMAIN"
                if v.rcode != wanted or not v.ad or (positive and not v.rdata):
                    bad.append(f"+{watch - deadline + time.monotonic():.1f}s secondary {i}: "
                               f"{name} {rdtype}: {v}")
        time.sleep(0.2)
    last = zsk_tags(lab)
    keys = lab.signwire.log_text().count("created ZSK")
    print(f"\nZSK rollover: {asked} validated answers, {len(bad)} bad; ZSKs {sorted(first[0])}"
          f" -> {sorted(last[0])}; {keys} ZSKs created")
    assert not bad, "\n".join(bad[:20]) + "\n" + lab.signwire.log_tail()
    assert last[0] == last[1] and not last[0] & first[0], (first, last)


# A KSK that rolls by itself 40 s after it is made (double-KSK), every wait a few seconds; the
# parent is asked for the DS by the daemon (parental agent: knotd serving ``test.``). ZSKs do
# not roll here.
FAST_KSK = """\
ksk-lifetime = 40
zsk-lifetime = "unlimited"
ksk-rollover = "double-ksk"
dnskey-ttl = 2
max-zone-ttl = 5
parent-ds-ttl = 2
zone-propagation-delay = 3
parent-propagation-delay = 1
publish-safety = 1
retire-safety = 1
soa-expire = "1h"
soa-negative-ttl = 2
signature-validity = "1d"
signature-refresh = "12h"
signature-jitter = "1h"
dnskey-signature-validity = "1d"
cds = true
cdnskey = true
parental-agents = ["{agent}"]
"""


def parent_text(serial: int, ds: Sequence[str]) -> str:
    """The parent zone ``test.``: the delegation of the lab's zone with ``ds`` (rdata text)."""
    lines = [
        "$ORIGIN test.",
        "$TTL 2",
        f"@ SOA ns.test. hostmaster.test. {serial} 3600 600 86400 2",
        "@ NS ns.test.",
        "ns A 192.0.2.53",
        "example NS ns1.example.test.",
        "example NS ns2.example.test.",
        "ns1.example A 192.0.2.1",
        "ns2.example A 192.0.2.2",
    ]
    lines += [f"example 2 DS {d}" for d in ds]
    return "\n".join(lines) + "\n"


class ParentBot:
    """The parent's side, as a CDS-scanning registry: whenever the child's CDS set (asked at a
    secondary) differs from the DS set the parent serves, the parent zone is signed again with
    the new DS set and knotd reloads it."""

    def __init__(self, lab: Lab, knot: Knot, folder: Path) -> None:
        self.lab = lab
        self.knot = knot
        self.folder = folder
        self.serial = 1
        self.ds: frozenset[str] = frozenset()
        self.history: list[tuple[float, frozenset[str]]] = []
        self.anchor = self.publish(frozenset())

    def publish(self, ds: frozenset[str]) -> str:
        self.serial += 1
        signed, anchor = sign_offline(self.folder, "test.", parent_text(self.serial,
                                                                        sorted(ds)))
        self.knot.zone_file("test.").write_text(signed)
        self.ds = ds
        self.history.append((time.monotonic(), ds))
        return anchor

    def cds(self) -> frozenset[str]:
        answer = self.lab.secondaries[0].ask(ZONE, "CDS")
        return frozenset(rd.to_text().upper() for rrset in answer.answer
                         if rrset.rdtype == dns.rdatatype.CDS for rd in rrset)

    def step(self) -> None:
        cds = self.cds()
        if cds and cds != self.ds:
            self.publish(cds)
            self.knot.reload("test.", expect_serial=self.serial)


def ksk_tags(lab: Lab) -> frozenset[int]:
    answer = lab.secondaries[0].ask(ZONE, "DNSKEY")
    keys = next(r for r in answer.answer if r.rdtype == dns.rdatatype.DNSKEY)
    return frozenset(dns.dnssec.key_id(k) for k in keys if k.flags & 1)


def test_ksk_rollover_with_the_ds_moved_at_the_parent_never_breaks_validation(
    labs: LabFactory, tmp_path: Path,
) -> None:
    """The zone goes secure and then rolls its KSK (double-KSK) inside the daemon, the parent
    following the CDS and the daemon checking the parent's DS itself, while Unbound, trusting
    only the parent's key and caching as resolvers do, asks through both secondaries: no
    SERVFAIL at any time, AD on every answer once the first DS is in, and the first KSK and its
    DS gone at the end."""
    parent_dir = tmp_path / "parent-zones"
    parent_dir.mkdir()
    (parent_dir / "test.zone").write_text(
        sign_offline(tmp_path / "parent", "test.", parent_text(1, []))[0])
    (tmp_path / "knot").mkdir()
    knot = Knot(tmp_path / "knot", parent_dir, ["test."])
    try:
        knot.start()
        rollover_under_watch(labs, knot, tmp_path)
    finally:
        knot.stop()


def rollover_under_watch(labs: LabFactory, knot: Knot, tmp_path: Path) -> None:
    lab = labs(policy=FAST_KSK.format(agent=f"127.0.0.1:{knot.port}"))
    bot = ParentBot(lab, knot, tmp_path / "parent")
    knot.reload("test.", expect_serial=bot.serial)
    lab.start(anchor=bot.anchor, other_stubs={"test.": ("127.0.0.1", knot.port)})
    probes = [("www." + ZONE, "A", "NOERROR"), (ZONE, "DNSKEY", "NOERROR"),
              ("nothere." + ZONE, "A", "NXDOMAIN")]
    t0 = time.monotonic()
    deadline = t0 + 150  # the rollover is done about 60 s in; a busy machine may be slower
    until: float | None = None  # a few seconds past the end of the rollover
    first_ksk: frozenset[int] | None = None
    secure_from: float | None = None
    bad: list[str] = []
    asked = 0
    while time.monotonic() < (until if until is not None else deadline):
        bot.step()
        if first_ksk is None and bot.ds:
            first_ksk = ksk_tags(lab)
            # Caches may hold the insecure delegation for its TTL (2 s) and a round trip.
            secure_from = time.monotonic() + 4
        if (until is None and first_ksk is not None and not ksk_tags(lab) & first_ksk
                and len(bot.history) >= 3):
            # The first KSK is gone from the DNSKEY RRset and its DS from the parent: watch
            # the caches for longer than they may hold the old records.
            until = time.monotonic() + 8
        for i, resolver in enumerate(lab.resolvers, 1):
            for name, rdtype, rcode in probes:
                at = time.monotonic() - t0
                try:
                    v = verdict(resolver.resolve(name, rdtype, fresh=False), rdtype)
                except dns.exception.Timeout:
                    bad.append(f"+{at:.1f}s secondary {i}: {name} {rdtype}: timeout")
                    continue
                asked += 1
                must_be_secure = secure_from is not None and time.monotonic() > secure_from
                if v.rcode != rcode or (must_be_secure and not v.ad):
                    bad.append(f"+{at:.1f}s secondary {i}: {name} {rdtype}: {v}")
        time.sleep(0.2)
    last_ksk = ksk_tags(lab)
    timeline = "\n".join(f"+{at - t0:6.1f}s parent DS: {sorted(ds)}" for at, ds in bot.history)
    print(f"\nKSK rollover: {asked} answers, {len(bad)} bad; KSKs {sorted(first_ksk or [])} -> "
          f"{sorted(last_ksk)}\n{timeline}")
    assert not bad, "\n".join(bad[:20]) + "\n" + timeline + "\n" + lab.signwire.log_tail()
    assert first_ksk and last_ksk and not first_ksk & last_ksk, (first_ksk, last_ksk, timeline)
    assert len(bot.ds) == 1, timeline
