"""``verify_change``: only what differs between two signed versions is checked, and a broken
change is caught.

Both versions are signed from scratch by the test signers (deterministic ECDSA, same keys and
dates), so they differ exactly where an incremental signer's output would: the changed RRsets
and the denial records around them.
"""

from __future__ import annotations

import dns.rdatatype
import pytest
from test_verify_support import NOW, UNSIGNED, Zone, nsec_zone, sign_nsec3

from signwire.verify.change import verify_change

ORIGIN = "example.test."


def _base(count: int = 200) -> str:
    lines = [UNSIGNED]
    for i in range(count):
        lines.append(f"h{i:04d} A 192.0.2.{i % 250 + 1}")
        if i % 5 == 0:
            lines.append(f"d{i:04d} NS ns.elsewhere.test.")
    return "\n".join(lines) + "\n"


def _added(count: int) -> str:
    return "".join(f"new{i:03d} A 198.51.100.{i + 1}\n" for i in range(count))


@pytest.mark.parametrize("sign", [nsec_zone, sign_nsec3], ids=["nsec", "nsec3"])
def test_the_work_is_proportional_to_the_change(sign: object) -> None:
    assert callable(sign)
    old: Zone = sign(_base())
    full = old.verify()
    assert full.ok and full.counts.rrsets_checked > 200

    one = verify_change(old.text(), sign(_base() + _added(1)).text(), ORIGIN, now=NOW)
    ten = verify_change(old.text(), sign(_base() + _added(10)).text(), ORIGIN, now=NOW)
    assert one.ok and ten.ok, (one.doubt, ten.doubt)
    assert one.full is None and ten.full is None  # vouched for by the change checks alone
    assert "new000.example.test." in one.changed_names
    # one new name: its A and NSEC/NSEC3, and the denial record before it
    assert 2 <= one.counts.rrsets_checked <= 4
    assert 10 * 2 <= ten.counts.rrsets_checked <= 10 * 4
    assert ten.counts.rrsets_checked < full.counts.rrsets_checked // 5


def test_no_change_checks_nothing() -> None:
    text = nsec_zone(_base()).text()
    report = verify_change(text, text, ORIGIN, now=NOW)
    assert report.ok
    assert report.changed_names == []
    assert report.counts.rrsets_checked == 0


def test_a_changed_record_without_a_new_signature_is_caught() -> None:
    old = nsec_zone(_base())
    new = nsec_zone(_base() + _added(1))
    new.put("new000", "A", 3600, "198.51.100.99")  # the RRSIG still covers .1
    report = verify_change(old.text(), new.text(), ORIGIN, now=NOW)
    assert not report.ok
    assert report.full is not None
    assert any(
        p.owner == "new000.example.test." and "does not verify" in p.message
        for p in report.full.errors
    )


@pytest.mark.parametrize("sign", [nsec_zone, sign_nsec3], ids=["nsec", "nsec3"])
def test_a_name_added_without_its_denial_record_is_caught(sign: object) -> None:
    assert callable(sign)
    old: Zone = sign(_base())
    new: Zone = sign(_base() + _added(1))
    if sign is nsec_zone:
        new.delete("new000", "NSEC")
        new.delete("new000", "RRSIG", dns.rdatatype.NSEC)
    else:
        from test_verify_support import nsec3_owner

        owner = nsec3_owner(new, "new000").split(".")[0]
        new.delete(owner, "NSEC3")
        new.delete(owner, "RRSIG", dns.rdatatype.NSEC3)
    report = verify_change(old.text(), new.text(), ORIGIN, now=NOW)
    assert not report.ok
    assert report.full is not None and report.full.errors


def test_a_removed_name_must_leave_the_chain() -> None:
    old = nsec_zone(_base() + _added(1))
    new = nsec_zone(_base())
    assert verify_change(old.text(), new.text(), ORIGIN, now=NOW).ok
    # the same removal, but the predecessor's NSEC still points at the name that is gone
    gone = old.name("new000")
    before = next(
        name
        for name, node in old.zone.nodes.items()
        if (rds := node.get_rdataset(1, dns.rdatatype.NSEC)) and rds[0].next == gone
    )
    stale = nsec_zone(_base())
    stale.zone.replace_rdataset(before, old.zone.nodes[before].get_rdataset(1, dns.rdatatype.NSEC))
    stale.resign(before.to_text(), dns.rdatatype.NSEC)
    report = verify_change(old.text(), stale.text(), ORIGIN, now=NOW)
    assert not report.ok
    assert "NSEC" in report.doubt
