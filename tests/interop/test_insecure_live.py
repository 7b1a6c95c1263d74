"""Taking a zone insecure under real programs: zero SERVFAILs through a validating Unbound.

The lab of :mod:`interop.test_rollover_live` (knotd serving the parent ``test.`` and the child
``example.test.``, Unbound validating from the parent's trust anchor, a querier asking it all
the time), with the parent's DS TTL raised to 6 s, longer than any TTL of the child: a child
stripped before that DS left Unbound's cache would be bogus (checked by hand: with the DS wait
removed from the enforcer this test fails). The child is first signed by ``signwire sign
--policy fast`` until it is secure (the operator hands the parent the DS it asks for), then
signed by the same command with the policy ``fast-insecure`` (``fast`` with ``keys = "none"``).
The parent plays a CDS scanner (RFC 8078 §4): when the child it serves carries the delete form
of CDS/CDNSKEY, it removes the DS, and the operator reports that with ``signwire key ds-gone``.
The child must then stay signed until no DS can be cached, and be served unsigned after that.

Asserted: no SERVFAIL, no wrong rcode, no missing answer at any time (the DNSKEY RRset may be
absent only before the first signing and once the child is served unsigned); every answer
carries AD while the parent serves the DS and caches had time to see it; and at the end Unbound
answers the zone's names NOERROR (and NXDOMAIN) without AD: insecure, as the zone is.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import dns.flags
import dns.rdatatype
import dns.zone
import pytest

import interop.test_rollover_live as rollover_live
from conftest import CliRunner
from interop.live_dns import (  # noqa: F401 -- knot_factory, unbound_factory: fixtures
    Observation,
    Querier,
    ds_tag,
    knot_factory,
    unbound_factory,
)
from interop.test_rollover_live import (  # noqa: F401 -- lab: a fixture
    CADENCE,
    CHILD,
    CHILD_ZONE,
    PARENT,
    PROBES,
    SECURE_AFTER_DS,
    ChildSigner,
    KeyTracker,
    Lab,
    LabFactory,
    follow_ds,
    lab,
    publish_child,
)

pytestmark = pytest.mark.interop

DEADLINE = 120.0  # seconds of real time for the whole walk; it needs about 40
DS_TTL = 6  # the parent's DS TTL here: fast_policy.toml's fast-insecure parent-ds-ttl
SECURE_FOR = 3.0  # seconds of AD answers before the switch
SETTLE = 6.0  # seconds of querying once the keys are gone: every cache turns over twice


def delete_form_served(path: Path) -> bool:
    """Whether the child file carries the RFC 8078 delete form of CDS."""
    zone = dns.zone.from_file(str(path), origin=CHILD, relativize=False)
    cds = zone.get_rdataset(CHILD, dns.rdatatype.CDS)
    return cds is not None and any(r.algorithm == 0 and r.digest_type == 0 for r in cds)


def has_dnskey(path: Path) -> bool:
    zone = dns.zone.from_file(str(path), origin=CHILD, relativize=False)
    return zone.get_rdataset(CHILD, dns.rdatatype.DNSKEY) is not None


def judge(
    observations: Sequence[Observation],
    secure_from: float,
    ds_removed_at: float,
    unsigned_at: float,
) -> list[Observation]:
    """The bad answers: a wrong rcode (SERVFAIL above all) or a timeout at any time; a missing
    answer, except the DNSKEY RRset of an unsigned child; no AD between the moment caches must
    have seen the first DS and the moment the parent stopped serving it."""
    bad = []
    for o in observations:
        unsigned = o.at < secure_from or o.at >= unsigned_at
        incomplete = o.probe.want_answer and not o.has_answer
        tolerated = unsigned and o.probe.rdtype == "DNSKEY"
        must_be_secure = secure_from <= o.at < ds_removed_at
        if (
            o.rcode != o.probe.rcode
            or (incomplete and not tolerated)
            or (must_be_secure and not o.ad)
        ):
            bad.append(o)
    return bad


@pytest.mark.slow
def test_going_insecure_through_a_validating_unbound(
    run_cli_subprocess: CliRunner,
    signwire: CliRunner,
    lab: LabFactory,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A DS cached longer than the child's records: stripping the child early would fail.
    monkeypatch.setattr(rollover_live, "DS_TTL", DS_TTL)
    world: Lab = lab(CHILD_ZONE)
    world.note(f"knotd on {world.knot.port}, unbound on {world.unbound.port}; child unsigned")
    signer = ChildSigner(world, run_cli_subprocess, signwire, "fast")
    tracker = KeyTracker()
    querier = Querier(world.unbound, PROBES)
    querier.start()
    first_ds_at: float | None = None
    switched_at: float | None = None
    ds_removed_at: float | None = None
    delete_first_served: float | None = None
    unsigned_at: float | None = None
    done_at: float | None = None
    last = b""
    try:
        time.sleep(1.0)
        start = time.monotonic()
        while True:
            if time.monotonic() - start > DEADLINE:
                seen = querier.snapshot()
                pytest.fail(
                    f"not insecure after {DEADLINE:.0f}s\n" + world.report(seen, bad=[])
                    + "\n--- signwire key list ---\n" + signer.key_list()
                )
            began = time.monotonic()
            signer.sign()
            last = publish_child(world, signer, tracker, last)
            served = signer.out

            if switched_at is None:
                # Secure first: the operator follows the DS the signer asks for.
                served_at = follow_ds(world, signer)
                if first_ds_at is None and served_at is not None:
                    first_ds_at = served_at
                if first_ds_at is not None and (
                    time.time() > first_ds_at + SECURE_AFTER_DS + SECURE_FOR
                ):
                    signer.policy = "fast-insecure"
                    switched_at = time.time()
                    world.note("operator: policy fast-insecure from now on")
            else:
                if world.parent.ds and delete_form_served(served):
                    # The scanner sees the delete form in what knotd serves, and acts.
                    delete_first_served = delete_first_served or time.time()
                    removed = list(world.parent.ds)
                    world.reload(PARENT, world.parent.publish([]))
                    ds_removed_at = time.time()
                    world.note(f"parent drops DS {[ds_tag(d) for d in removed]} (CDS delete)")
                    for ds in removed:
                        reported = signer.key("ds-gone", CHILD, str(ds_tag(ds)))
                        assert reported.code == 0, world.report([], bad=[])
                if unsigned_at is None and ds_removed_at is not None and not has_dnskey(served):
                    unsigned_at = time.time()
                    world.note("knotd serves the child unsigned")
                if unsigned_at is not None and done_at is None:
                    listed = signer.key_list()
                    if "insecure: no keys left" in listed:
                        done_at = time.monotonic()
                        world.note("no keys left; querying on while caches turn over")
            if done_at is not None and time.monotonic() - done_at > SETTLE:
                break
            time.sleep(max(0.0, CADENCE - (time.monotonic() - began)))
    finally:
        querier.stop()

    observations = querier.snapshot()
    assert first_ds_at is not None and ds_removed_at is not None and unsigned_at is not None
    assert switched_at is not None and delete_first_served is not None
    secure_from = first_ds_at + SECURE_AFTER_DS
    bad = judge(observations, secure_from, ds_removed_at, unsigned_at)
    report = world.report(observations, bad=bad) + "\n--- signwire key list ---\n" + (
        signer.key_list()
    )
    (world.workdir / "timeline.txt").write_text(report)
    servfails = [o for o in observations if o.servfail]
    assert not servfails and not bad, report

    # Secure answers while the DS was there, insecure ones at the end, and the zone stayed
    # signed for the whole DS TTL after the parent dropped it.
    assert any(o.ad for o in observations if secure_from <= o.at < ds_removed_at), report
    assert unsigned_at - ds_removed_at >= DS_TTL + 1 + 1, report  # + delay + margin
    tail = [o for o in observations if o.at > time.time() - SETTLE / 2]
    assert tail and not any(o.ad for o in tail), report
    final = world.unbound.query("www.example.test.", "A")
    assert final.rcode() == 0 and final.answer and not final.flags & dns.flags.AD, final
    nothing = world.unbound.query("nosuch.example.test.", "A")
    assert nothing.rcode() == 3 and not nothing.flags & dns.flags.AD, nothing
    print(
        f"\nlive insecure: {len(observations)} answers, {len(servfails)} SERVFAIL, "
        f"{len(bad)} bad; secure from +{secure_from - world.t0:.1f}s, switched at "
        f"+{switched_at - world.t0:.1f}s, DS dropped at +{ds_removed_at - world.t0:.1f}s, "
        f"unsigned at +{unsigned_at - world.t0:.1f}s; {signer.runs} signing runs"
    )
