"""``signwire sign --policy insecure`` (or any policy with ``keys = "none"``) run again and
again, as from cron: the DS goes first (delete-form CDS/CDNSKEY, an empty DS RRset to the
submission command), the operator or a checker reports it gone, and once no DS can be cached
the zone is written unsigned, the serial rule still applied, and the key files are retired.
Switching back later is a fresh first signing; a switch that would wait less for the DS than
the zone's own policy is refused."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import dns.rdatatype
import dns.zone
import pytest

from signwire.storage.state import StateStore

NOW = 1_790_000_000
HOUR, DAY = 3600, 86400
ZONE = textwrap.dedent(
    """\
    $ORIGIN example.test.
    $TTL 3600
    @    SOA ns1 hostmaster 1 3600 900 604800 1800
    @    NS  ns1
    ns1  A   192.0.2.1
    www  A   192.0.2.80
    sub  NS  ns.sub
    sub  DS  4321 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
    ns.sub A 192.0.2.2
    """
)
DNSSEC_TYPES = {"DNSKEY", "RRSIG", "NSEC", "NSEC3", "NSEC3PARAM", "CDS", "CDNSKEY"}


@pytest.fixture
def zone(tmp_path: Path) -> Path:
    (tmp_path / "z.zone").write_text(ZONE)
    submitted = tmp_path / "submitted.txt"
    recorder = tmp_path / "record.py"
    recorder.write_text(
        f"import sys\nopen({str(submitted)!r}, 'a').write('--- run\\n' + sys.stdin.read())\n"
    )
    (tmp_path / "p.toml").write_text(
        textwrap.dedent(
            f"""\
            [policy.quick]
            algorithm = "ED25519"
            dnskey-ttl = "1h"
            max-zone-ttl = "1h"
            parent-ds-ttl = "1h"
            zsk-lifetime = "unlimited"
            serial = "unixtime"
            ds-submit-command = "{sys.executable} {recorder}"

            [policy.quick-insecure]
            based-on = "quick"
            keys = "none"

            [policy.slow-parent]
            based-on = "quick"
            parent-ds-ttl = "3d"
            """
        )
    )
    return tmp_path


def sign(signwire, d: Path, policy: str, now: int):
    return signwire(
        "sign", d / "z.zone", "--origin", "example.test.", "--policy", policy,
        "--policy-file", d / "p.toml", "--state", d / "state", "-o", d / "z.signed",
        "--now", str(now), "-j", "1",
    )


def key(signwire, d: Path, *args: str, now: int):
    extra = ("--policy-file", d / "p.toml") if args[0] == "list" else ()
    done = signwire("key", *args, "--state", d / "state", *extra, "--now", str(now))
    assert done.code == 0, done.err
    return done


def types(path: Path) -> set[str]:
    z = dns.zone.from_file(str(path), origin="example.test.", relativize=False)
    return {dns.rdatatype.to_text(rds.rdtype) for _, node in z.nodes.items() for rds in node}


def secure_zone(signwire, d: Path, policy: str = "quick") -> int:
    """Sign until the DS is at the parent and in every cache; returns the KSK's tag."""
    for at in (NOW, NOW + DAY):
        done = sign(signwire, d, policy, at)
        assert done.code == 0, done.err
    states = StateStore(d / "state").key_states("example.test.")
    ksk = next(k for k in states if k.ds.state.value == "rumoured")
    assert ksk.tag is not None
    key(signwire, d, "ds-seen", "example.test.", str(ksk.tag), now=NOW + DAY + 60)
    assert sign(signwire, d, policy, NOW + 2 * DAY).code == 0  # applies the report
    assert sign(signwire, d, policy, NOW + 2 * DAY + 4 * HOUR).code == 0
    states = StateStore(d / "state").key_states("example.test.")
    assert {k.ds.state.value for k in states if k.tag == ksk.tag} == {"omnipresent"}
    return ksk.tag


def test_the_walk_to_unsigned(zone: Path, signwire) -> None:
    tag = secure_zone(signwire, zone)
    t = NOW + 3 * DAY

    # 1. The switch: the DS withdrawal is asked for, the delete form published, all signed.
    done = sign(signwire, zone, "quick-insecure", t)
    assert done.code == 0, done.err
    assert f"key {tag}: the parent should now remove its DS" in done.err
    assert "going insecure: waiting for the parent to remove DS" in done.err
    text = (zone / "z.signed").read_text()
    assert "\tCDS\t0 0 0 00\n" in text and "\tCDNSKEY\t0 3 0 AA==\n" in text
    assert {"DNSKEY", "RRSIG", "NSEC3", "CDS", "CDNSKEY"} <= types(zone / "z.signed")
    assert zone.joinpath("submitted.txt").read_text().endswith("--- run\n")  # no DS at all
    assert signwire("verify", zone / "z.signed", "--origin", "example.test.",
                    "--now", str(t)).code == 0

    # 2. Nothing happens while the parent is silent, and key list says why.
    assert sign(signwire, zone, "quick-insecure", t + 5 * DAY).code == 0
    assert "\tCDS\t0 0 0 00\n" in (zone / "z.signed").read_text()
    listed = key(signwire, zone, "list", "example.test.", now=t + 5 * DAY)
    assert listed.code == 0
    assert f"going insecure: waiting for the parent to remove DS {tag}" in listed.out
    assert "ds -> hidden: going insecure: waiting for the parent to remove the DS" in listed.out

    # 3. The operator saw the parent without it: caches still may hold it for a while.
    gone_at = t + 5 * DAY + HOUR
    assert key(signwire, zone, "ds-gone", "example.test.", str(tag), now=gone_at).code == 0
    done = sign(signwire, zone, "quick-insecure", gone_at)
    assert done.code == 0 and "the parent removed DS" in done.err
    assert "DNSKEY" in types(zone / "z.signed")

    # 4. parent-ds-ttl 1h + parent-propagation-delay 1h + retire-safety 1h later: unsigned.
    done = sign(signwire, zone, "quick-insecure", gone_at + 3 * HOUR)
    assert done.code == 0, done.err
    assert "wrote example.test. UNSIGNED serial" in done.err
    assert not types(zone / "z.signed") & DNSSEC_TYPES
    unsigned = dns.zone.from_file(str(zone / "z.signed"), origin="example.test.")
    soa = unsigned.get_rdataset("@", "SOA")
    assert soa is not None and soa[0].serial == gone_at + 3 * HOUR  # the serial rule held
    assert unsigned.get_rdataset("sub", "DS") is not None  # a child's DS is the child's
    assert "written unsigned by signwire" in (zone / "z.signed").read_text()

    # 5. Once no cache can hold any record of the keys, their files are retired.
    done = sign(signwire, zone, "quick-insecure", gone_at + 2 * DAY)
    assert done.code == 0 and "retiring it from the key store" in done.err
    folder = zone / "state" / "keys" / "example.test"
    assert not list(folder.glob("K*.private"))
    assert len(list((folder / "retired").glob("K*.private"))) == 2
    assert StateStore(zone / "state").key_states("example.test.") == []
    listed = key(signwire, zone, "list", "example.test.", now=gone_at + 2 * DAY)
    assert "insecure: no keys left; the zone is published unsigned" in listed.out
    done = sign(signwire, zone, "quick-insecure", gone_at + 3 * DAY)
    assert done.code == 0 and "next key event: none scheduled" in done.err
    assert not types(zone / "z.signed") & DNSSEC_TYPES

    # Going back: a fresh first signing with new keys.
    done = sign(signwire, zone, "quick", gone_at + 4 * DAY)
    assert done.code == 0, done.err
    assert "created KSK" in done.err and "created ZSK" in done.err
    assert {"DNSKEY", "RRSIG", "NSEC3"} <= types(zone / "z.signed")
    assert signwire("verify", zone / "z.signed", "--origin", "example.test.",
                    "--now", str(gone_at + 4 * DAY)).code == 0
    new_tags = {k.tag for k in StateStore(zone / "state").key_states("example.test.")}
    assert tag not in new_tags


def test_the_builtin_insecure_policy(zone: Path, signwire) -> None:
    secure_zone(signwire, zone)
    done = sign(signwire, zone, "insecure", NOW + 3 * DAY)
    assert done.code == 0, done.err
    assert "\tCDS\t0 0 0 00\n" in (zone / "z.signed").read_text()
    assert StateStore(zone / "state").zone("example.test.").policy == "insecure"


def test_a_switch_that_would_wait_less_for_the_ds_is_refused(zone: Path, signwire) -> None:
    for at in (NOW, NOW + DAY):  # the DS is asked for: it may be at the parent
        assert sign(signwire, zone, "slow-parent", at).code == 0
    done = sign(signwire, zone, "insecure", NOW + 3 * DAY)
    assert done.code == 2
    assert (
        "policy 'insecure' waits 1d2h for a withdrawn DS to leave caches, but the zone's "
        "policy 'slow-parent' says the parent needs 3d2h" in done.err
    )
    assert 'based-on = "slow-parent" and keys = "none"' in done.err
    # Nothing was saved: the zone is still under its own policy.
    assert StateStore(zone / "state").zone("example.test.").policy == "slow-parent"
    (zone / "p.toml").write_text(
        (zone / "p.toml").read_text()
        + '\n[policy.slow-insecure]\nbased-on = "slow-parent"\nkeys = "none"\n'
    )
    assert sign(signwire, zone, "slow-insecure", NOW + 3 * DAY).code == 0


def test_a_zone_never_secured_is_unsigned_at_once(zone: Path, signwire) -> None:
    assert sign(signwire, zone, "quick", NOW).code == 0
    done = sign(signwire, zone, "quick-insecure", NOW + HOUR)
    assert done.code == 0, done.err
    assert "UNSIGNED" in done.err
    assert not types(zone / "z.signed") & DNSSEC_TYPES


def test_a_never_seen_ds_needs_the_operators_word(zone: Path, signwire) -> None:
    # The DS was asked for but never confirmed; then the zone goes insecure. A checker's
    # "not there" proves nothing (the request may be queued); the operator's ds-gone does.
    for at in (NOW, NOW + DAY):
        assert sign(signwire, zone, "quick", at).code == 0
    ksk = next(k for k in StateStore(zone / "state").key_states("example.test.")
               if k.role.value == "ksk")
    assert sign(signwire, zone, "quick-insecure", NOW + 2 * DAY).code == 0
    store = StateStore(zone / "state")
    store.add_pending("example.test.", "ds-gone-checked", ksk.key_id, NOW + 2 * DAY + 60)
    done = sign(signwire, zone, "quick-insecure", NOW + 2 * DAY + 60)
    assert "the parent never showed its DS" in done.err
    assert "if the parent never had it, say so with 'signwire key ds-gone'" in done.err
    key(signwire, zone, "ds-gone", "example.test.", str(ksk.tag), now=NOW + 2 * DAY + 120)
    done = sign(signwire, zone, "quick-insecure", NOW + 2 * DAY + 120)
    assert "the parent removed DS" in done.err
    done = sign(signwire, zone, "quick-insecure", NOW + 2 * DAY + 120 + 3 * HOUR)
    assert "UNSIGNED" in done.err


def test_foreign_dnssec_records_in_the_input_do_not_survive(zone: Path, signwire) -> None:
    (zone / "z.zone").write_text(
        ZONE
        + "@ DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=\n"
        + "@ CDS 1234 15 2 " + "AB" * 32 + "\n"
    )
    assert sign(signwire, zone, "quick-insecure", NOW).code == 0
    assert not types(zone / "z.signed") & DNSSEC_TYPES


def test_policy_check_and_simulate_know_insecure(signwire) -> None:
    done = signwire("policy", "check", "insecure")
    assert done.code == 0
    assert "policy 'insecure' (<built-in>): ok: no keys: takes a signed zone insecure" in done.out
    done = signwire("policy", "simulate", "insecure", "--days", "30", "--start", str(NOW))
    assert done.code == 0 and "no key events" in done.out
