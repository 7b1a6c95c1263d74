"""Signing into versions: the text path's records, chain repairs, keys, serials and refresh.

Every incremental step here is checked against full signing of the zone it leads to (same
Ed25519 keys, same ``now``, so the same bytes); the cases are those where the chain repair has
to look beyond the changed name: a predecessor hidden behind glue, the wrap-around to the apex,
cuts appearing over names that exist, empty non-terminals, opt-out, a DNAME at the apex.
"""

from __future__ import annotations

import dataclasses
import struct
import textwrap
from pathlib import Path

import dns.zone
import pytest

from conftest import FIXED_NOW, CliRunner
from properties.test_incremental import (
    KEYS,
    KSK,
    ORIGIN,
    ZSK,
    A,
    assert_same,
    make_key,
    problems,
    soa,
    wire,
)
from signwire.keystore.store import open_store
from signwire.loading.zonefile import read_zonefile
from signwire.policy.model import KeyRole
from signwire.signing.incremental import incremental
from signwire.signing.keyset import SigningKeys
from signwire.signing.options import DAY, Nsec3Params, SigningOptions
from signwire.signing.refresh import due, refresh
from signwire.signing.versioned import Signed, default_refresh, sign_full
from signwire.storage.state import StoreConfig
from signwire.zones import names
from signwire.zones.diff import diff
from signwire.zones.rrtypes import DNSKEY, NSEC, NSEC3, RRSIG, SOA
from signwire.zones.serial import SerialRule
from signwire.zones.snapshot import build
from signwire.zones.version import RR, ZoneVersion

NOW = FIXED_NOW
NS, MX, TXT, DNAME, DS = 2, 15, 16, 39, 43
NSEC_OPTIONS = SigningOptions()
NSEC3_OPTIONS = SigningOptions(nsec3=Nsec3Params())
OPT_OUT = SigningOptions(nsec3=Nsec3Params(opt_out=True))

# Records equal in canonical form (the NS and MX pairs) are one record; the text path keeps the
# one written first. A version has no file order and keeps the one whose bytes sort first, so
# here that one is also written first.
ZONE = textwrap.dedent(
    """\
    $ORIGIN example.test.
    $TTL 3600
    @        SOA ns1 hostmaster 1 7200 3600 1209600 300
    @        NS  NS1.Example.TEST.
    @        NS  ns1
    @        MX  10 Mail.Example.Test.
    @        MX  10 mail.example.test.
    ns1      A   192.0.2.1
    WWW      A   192.0.2.80
    www      A   192.0.2.81
    *.wild   TXT "wildcard"
    a.b.c    TXT "two empty non-terminals above"
    sub      NS  ns.sub
    sub      DS  12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    ns.sub   A   192.0.2.53
    open     NS  ns.example.net.
    x\\.y     A   192.0.2.7
    dn       DNAME example.net.
    below.dn A   192.0.2.9
    """
)


# --- the text path ------------------------------------------------------------------------


def _text_records(text: str) -> ZoneVersion:
    """The records of zone-file text as dnspython reads them (not signwire's reader)."""
    zone = dns.zone.from_text(text, origin="example.test.", relativize=False, check_origin=False)
    recs = []
    for name, ttl, rdata in zone.iterate_rdatas():
        recs.append((name.to_wire(), rdata.rdtype, ttl, rdata.to_wire()))
    return ZoneVersion.from_records(ORIGIN, recs)


@pytest.mark.parametrize(
    ("flags", "options"),
    [
        ((), NSEC_OPTIONS),
        (("--nsec3", "--opt-out"), OPT_OUT),
        (
            ("--nsec3", "--iterations", "3", "--salt", "beef"),
            SigningOptions(nsec3=Nsec3Params(3, b"\xbe\xef")),
        ),
    ],
    ids=["nsec", "nsec3-optout", "nsec3-salted"],
)
@pytest.mark.parametrize("source", ["version", "snapshot"])
def test_sign_full_makes_the_records_of_the_text_path(
    tmp_path: Path,
    signwire: CliRunner,
    flags: tuple[str, ...],
    options: SigningOptions,
    source: str,
) -> None:
    zone_file = tmp_path / "example.test.zone"
    zone_file.write_text(ZONE)
    keys_dir = tmp_path / "keys"
    out = tmp_path / "signed"
    result = signwire(
        "sign",
        zone_file,
        "--origin",
        "example.test.",
        "--keys",
        keys_dir,
        "--algorithm",
        "ED25519",
        "--now",
        str(NOW),
        "-o",
        out,
        *flags,
    )
    assert result.code == 0, result.err
    keys = SigningKeys.by_role(open_store(StoreConfig.files(keys_dir)).keys_for(ORIGIN))

    parsed = read_zonefile(zone_file, ORIGIN)
    unsigned = (
        ZoneVersion.from_records(ORIGIN, parsed.records) if source == "version" else build(parsed)
    )
    signed = sign_full(unsigned, keys, options, NOW)

    from_text = _text_records(out.read_text())
    assert signed.version == from_text
    assert signed.signatures_made == sum(1 for r in from_text.records() if r[1] == RRSIG)


# --- helpers for the hand-made cases ------------------------------------------------------


def version(serial: int, *extra: RR, apex_ttl: int = 3600) -> ZoneVersion:
    recs: list[RR] = [
        soa(serial, ttl=apex_ttl),
        (ORIGIN, NS, 3600, wire("ns1")),
        (wire("ns1"), A, 3600, bytes((192, 0, 2, 53))),
        (wire("www"), A, 300, bytes((192, 0, 2, 80))),
    ]
    return ZoneVersion.from_records(ORIGIN, [*recs, *extra])


def a(name: str, last: int = 1, ttl: int = 300) -> RR:
    return (wire(name), A, ttl, bytes((192, 0, 2, last)))


def ns(name: str, target: str) -> RR:
    return (wire(name), NS, 3600, wire(target))


def ds(name: str) -> RR:
    return (wire(name), DS, 3600, struct.pack("!HBB", 12345, 13, 2) + bytes(32))


def step(
    before: ZoneVersion, after: ZoneVersion, options: SigningOptions, keys: SigningKeys = KEYS
) -> tuple[Signed, Signed, Signed]:
    """Sign ``before`` in full, step to ``after``, and hold the step to full signing."""
    first = sign_full(before, keys, options, NOW)
    stepped, _ = incremental(first, diff(before, after), keys, options, NOW)
    full = sign_full(after, keys, options, NOW)
    assert_same(stepped, full)
    assert problems(stepped.version) == []
    return first, stepped, full


def nsec_next(v: ZoneVersion, name: str) -> str:
    (rdata,) = [rd for _, rd in v.rrset(wire(name), NSEC)]
    return names.to_text(rdata[: rdata.index(b"\x00") + 1])


def count(v: ZoneVersion, rdtype: int) -> int:
    return sum(1 for r in v.records() if r[1] == rdtype)


# --- NSEC chain repair ------------------------------------------------------------------


def test_a_name_after_glue_is_chained_from_the_cut_not_from_the_glue() -> None:
    # Canonical order: sub, a.sub (occluded), ns.sub (glue), then subway. The predecessor of
    # subway in the NSEC chain is the cut, two names back.
    before = version(1, ns("sub", "ns.sub"), a("ns.sub"), a("a.sub"))
    after = version(2, ns("sub", "ns.sub"), a("ns.sub"), a("a.sub"), a("subway"))
    first, stepped, _ = step(before, after, NSEC_OPTIONS)
    assert nsec_next(first.version, "sub") == "www.example.test."
    assert nsec_next(stepped.version, "sub") == "subway.example.test."
    assert stepped.version.rrset(wire("ns.sub"), NSEC) == []
    # subway's A and NSEC, sub's NSEC, the SOA: one key signs each.
    assert stepped.signatures_made == 4


def test_the_last_name_removed_wraps_the_chain_to_the_apex() -> None:
    before = version(1, a("zzz"))
    after = version(2)
    first, stepped, _ = step(before, after, NSEC_OPTIONS)
    assert nsec_next(first.version, "www") == "zzz.example.test."
    assert nsec_next(stepped.version, "www") == "example.test."
    assert stepped.version.node(wire("zzz")) is None


@pytest.mark.parametrize(
    "options", [NSEC_OPTIONS, NSEC3_OPTIONS, OPT_OUT], ids=["nsec", "nsec3", "nsec3-optout"]
)
def test_a_new_cut_occludes_existing_names_and_its_removal_brings_them_back(
    options: SigningOptions,
) -> None:
    plain = version(1, a("shop"), a("a.shop"), a("b.x.shop"), a("tail"))
    cut = version(2, ns("shop", "a.shop"), a("a.shop"), a("b.x.shop"), a("tail"))
    _, delegated, _ = step(plain, cut, options)
    for name in ("a.shop", "b.x.shop"):
        assert all(t not in (RRSIG, NSEC) for t, _, _ in delegated.version.node(wire(name)) or [])
    back = step(cut, version(3, a("shop"), a("a.shop"), a("b.x.shop"), a("tail")), options)[1]
    assert all(
        RRSIG in {t for t, _, _ in back.version.node(wire(n)) or []} for n in ("a.shop", "b.x.shop")
    )


def test_an_rrset_ttl_change_re_signs_that_rrset_and_the_soa_only() -> None:
    _, stepped, _ = step(version(1, a("host")), version(2, a("host", ttl=900)), NSEC_OPTIONS)
    assert stepped.signatures_made == 2


def test_records_equal_in_canonical_form_are_kept_as_full_signing_keeps_them() -> None:
    mx = (wire("mail"), MX, 300, b"\x00\x0a" + wire("Host.Example.net."))
    same = (wire("mail"), MX, 300, b"\x00\x0a" + wire("host.example.net."))
    apex_ns = (ORIGIN, NS, 3600, wire("NS1"))
    third = (wire("mail"), MX, 300, b"\x00\x14" + wire("other.example.net."))
    step(version(1, mx), version(2, mx, same, apex_ns), NSEC_OPTIONS)
    step(version(1, mx, same, apex_ns), version(2, mx), NSEC_OPTIONS)
    # Three records of a type take the snapshot's full check, which drops the repeat.
    _, stepped, _ = step(version(1, mx), version(2, mx, same, third), NSEC_OPTIONS)
    assert len(stepped.version.rrset(wire("mail"), MX)) == 2


def test_a_changed_name_gets_the_input_checks_of_full_signing() -> None:
    from signwire.errors import ZoneDataError

    before = version(1, a("host"))
    first = sign_full(before, KEYS, NSEC_OPTIONS, NOW)
    cname = (wire("host"), 5, 300, wire("www"))
    with pytest.raises(ZoneDataError, match="CNAME beside other data"):
        sign_full(version(2, a("host"), cname), KEYS, NSEC_OPTIONS, NOW)
    with pytest.raises(ZoneDataError, match="CNAME beside other data"):
        incremental(first, diff(before, version(2, a("host"), cname)), KEYS, NSEC_OPTIONS, NOW)


def test_a_dname_at_the_apex_occludes_the_zone_and_leaves_the_apex_alone_in_the_chain() -> None:
    dname = (ORIGIN, DNAME, 3600, wire("example.net."))
    for options in (NSEC_OPTIONS, NSEC3_OPTIONS):
        _, stepped, _ = step(version(1, a("host")), version(2, a("host"), dname), options)
        denial = NSEC if options.nsec3 is None else NSEC3
        assert count(stepped.version, denial) == 1


# --- NSEC3 chain repair -----------------------------------------------------------------


def test_empty_non_terminals_get_nsec3_records_and_lose_them_with_their_last_descendant() -> None:
    base = version(1)
    deep = version(2, a("a.b.c"))
    _, stepped, _ = step(base, deep, NSEC3_OPTIONS)
    # a.b.c, and the empty non-terminals b.c and c.
    assert (
        count(stepped.version, NSEC3)
        == count(sign_full(base, KEYS, NSEC3_OPTIONS, NOW).version, NSEC3) + 3
    )
    _, gone, _ = step(deep, version(3), NSEC3_OPTIONS)
    assert count(gone.version, NSEC3) == count(stepped.version, NSEC3) - 3


def test_opt_out_a_delegation_joins_the_chain_with_its_ds_and_leaves_without() -> None:
    insecure = version(1, ns("kid", "ns.example.net."), ns("other", "ns.example.net."))
    secure = version(2, ns("kid", "ns.example.net."), ds("kid"), ns("other", "ns.example.net."))
    first, stepped, _ = step(insecure, secure, OPT_OUT)
    assert count(stepped.version, NSEC3) == count(first.version, NSEC3) + 1
    back = step(
        secure, version(3, ns("kid", "ns.example.net."), ns("other", "ns.example.net.")), OPT_OUT
    )[1]
    assert count(back.version, NSEC3) == count(first.version, NSEC3)


def test_nsec3_a_name_added_changes_its_own_record_and_its_predecessors_only() -> None:
    _, stepped, _ = step(version(1, a("host")), version(2, a("host"), a("new")), NSEC3_OPTIONS)
    # new's A, new's NSEC3, the predecessor's NSEC3, the SOA.
    assert stepped.signatures_made == 4


# --- keys and serials -------------------------------------------------------------------


def test_a_new_ksk_re_signs_the_key_rrsets_only() -> None:
    options = SigningOptions(serial=SerialRule.INCREMENT)
    before = version(1, a("host"))
    first = sign_full(before, KEYS, options, NOW)
    second_ksk = make_key(KeyRole.KSK)
    keys = SigningKeys.by_role([KSK, second_ksk, ZSK])
    stepped, _ = incremental(first, diff(before, before), keys, options, NOW)
    assert_same(stepped, sign_full(before, keys, options, NOW, previous_serial=2))
    # DNSKEY by two KSKs; the SOA.
    assert stepped.signatures_made == 3
    assert len(stepped.version.rrset(ORIGIN, DNSKEY)) == 3


def test_a_new_zsk_signs_the_zone_in_full() -> None:
    before = version(1, a("host"))
    first = sign_full(before, KEYS, NSEC_OPTIONS, NOW)
    keys = SigningKeys.by_role([KSK, make_key(KeyRole.ZSK)])
    stepped, signed_diff = incremental(first, diff(before, before), keys, NSEC_OPTIONS, NOW)
    full = sign_full(before, keys, NSEC_OPTIONS, NOW)
    assert_same(stepped, full)
    assert stepped.signatures_made == full.signatures_made
    assert signed_diff.added  # every signature changed


def test_the_serial_follows_the_rule_and_never_goes_back() -> None:
    options = SigningOptions(serial=SerialRule.INCREMENT)
    before = version(10, a("host"))
    first = sign_full(before, KEYS, options, NOW, previous_serial=500)
    assert first.version.serial == 501
    # The primary's serial moved to 11, below what was published: the signed one still grows.
    stepped, signed_diff = incremental(
        first, diff(before, version(11, a("host"), a("more"))), KEYS, options, NOW
    )
    assert stepped.version.serial == 502
    assert signed_diff.from_serial == 501 and signed_diff.to_serial == 502


def test_a_new_soa_minimum_changes_every_denial_ttl_so_the_step_signs_in_full() -> None:
    before = version(1, a("host"))
    first = sign_full(before, KEYS, NSEC_OPTIONS, NOW)
    lower = ZoneVersion.from_records(
        ORIGIN, [soa(2, minimum=60) if r[1] == SOA else r for r in version(2, a("host")).records()]
    )
    stepped, _ = incremental(first, diff(before, lower), KEYS, NSEC_OPTIONS, NOW)
    assert_same(stepped, sign_full(lower, KEYS, NSEC_OPTIONS, NOW))


# --- work in proportion to the change ---------------------------------------------------


def test_one_record_in_twenty_thousand_names_makes_a_handful_of_signatures() -> None:
    hosts = [a(f"h{i:05d}", i % 250 + 1) for i in range(20_000)]
    before = version(1, *hosts)
    first = sign_full(before, KEYS, NSEC_OPTIONS, NOW)
    assert first.signatures_made > 40_000
    after = version(2, *hosts, a("h10000x"))
    stepped, signed_diff = incremental(first, diff(before, after), KEYS, NSEC_OPTIONS, NOW)
    # h10000x's A and NSEC, h10000's NSEC, the SOA.
    assert stepped.signatures_made == 4
    assert nsec_next(stepped.version, "h10000") == "h10000x.example.test."
    # h10000x's A, NSEC and their RRSIGs; h10000's new NSEC and its RRSIG; the SOA's RRSIG.
    assert len(signed_diff.added) == 7
    assert len(stepped.version) == len(first.version) + 1


# --- refresh ----------------------------------------------------------------------------


def test_refresh_re_signs_what_is_due_and_nothing_else() -> None:
    zone = version(1, *(a(f"n{i}") for i in range(50)))
    signed = sign_full(zone, KEYS, NSEC_OPTIONS, NOW)
    when = signed.next_resign_at
    assert when is not None
    assert when >= NOW + NSEC_OPTIONS.validity - NSEC_OPTIONS.effective_jitter - default_refresh(
        NSEC_OPTIONS
    )
    assert due(signed, when - 1) == []
    wanted = due(signed, when)
    assert wanted
    refreshed, signed_diff = refresh(signed, KEYS, NSEC_OPTIONS, when)
    assert signed_diff is not None
    assert due(refreshed, when) == []
    assert problems(refreshed.version, when) == []
    # Only RRSIGs change (and the SOA through the diff's SOAs).
    assert {r[1] for r in (*signed_diff.deleted, *signed_diff.added)} == {RRSIG}
    # One key signs each RRset (the DNSKEY RRset, signed by the KSK, is due with the rest).
    assert refreshed.signatures_made == len({*wanted, (names.canonical_key(ORIGIN), SOA)})
    # The keep rule would publish a new version under the old serial: refresh increments.
    assert refreshed.version.serial == signed.version.serial + 1
    assert refresh(refreshed, KEYS, NSEC_OPTIONS, when)[1] is None


@pytest.mark.parametrize("nsec3", [None, Nsec3Params(opt_out=True)], ids=["nsec", "nsec3"])
def test_refresh_spreads_the_zone_over_time_and_no_signature_ever_lapses(
    nsec3: Nsec3Params | None,
) -> None:
    # Refresh a day before expiry.
    options = SigningOptions(nsec3=nsec3, validity=4 * DAY, jitter=DAY)
    zone = version(1, *(a(f"n{i}") for i in range(200)))
    signed = sign_full(zone, KEYS, options, NOW)
    rrsets = sum(1 for r in signed.version.records() if r[1] == RRSIG)
    largest = 0
    calls = 0
    t = NOW
    while t < NOW + 12 * DAY:
        t += 3600
        signed, signed_diff = refresh(signed, KEYS, options, t)
        if signed_diff is not None:
            calls += 1
            largest = max(largest, signed.signatures_made)
        earliest = min(
            int.from_bytes(r[3][8:12], "big") for r in signed.version.records() if r[1] == RRSIG
        )
        assert earliest > t + default_refresh(options) - 3600
    assert calls > 24  # the zone was re-signed several times over, in pieces
    assert largest < rrsets // 5
    assert problems(signed.version, t) == []


def test_refresh_with_new_keys_takes_them_on() -> None:
    zone = version(1, a("host"))
    signed = sign_full(zone, KEYS, NSEC_OPTIONS, NOW)
    keys = SigningKeys.by_role([KSK, make_key(KeyRole.ZSK)])
    later = NOW + DAY
    refreshed, signed_diff = refresh(signed, keys, NSEC_OPTIONS, later)
    assert signed_diff is not None
    assert problems(refreshed.version, later) == []
    assert refreshed.keys == keys


def test_schedule_of_a_step_is_the_schedule_of_full_signing() -> None:
    before = version(1, a("one"), a("two"))
    after = version(2, a("two"), a("three"))
    _, stepped, full = step(before, after, NSEC3_OPTIONS)
    assert stepped.next_resign_at == full.next_resign_at
    assert len(stepped.schedule) == len(full.schedule)


def test_a_diff_for_another_version_is_refused() -> None:
    from signwire.zones.diff import DiffError

    first = sign_full(version(1), KEYS, NSEC_OPTIONS, NOW)
    wrong = diff(version(5), version(6, a("x")))
    with pytest.raises(DiffError):
        incremental(first, wrong, KEYS, NSEC_OPTIONS, NOW)


def test_options_that_change_sign_in_full() -> None:
    before = version(1, a("host"))
    first = sign_full(before, KEYS, NSEC_OPTIONS, NOW)
    stepped, _ = incremental(first, diff(before, before), KEYS, NSEC3_OPTIONS, NOW)
    assert_same(stepped, sign_full(before, KEYS, NSEC3_OPTIONS, NOW))
    assert dataclasses.replace(stepped, signatures_made=0).options == NSEC3_OPTIONS


def test_a_name_that_is_also_an_nsec3_owner_is_signed_as_in_full() -> None:
    from signwire.signing.nsec3 import hash_label, nsec3_hash

    # A name whose one label is the hash of another name of the zone: its node holds its own
    # records and that name's NSEC3.
    twin = hash_label(nsec3_hash(wire("host"), Nsec3Params())).decode()
    base = version(1, a("host"))
    step(base, version(2, a("host"), a(twin)), NSEC3_OPTIONS)
    step(version(1, a("host"), a(twin)), version(2, a("host"), a(twin, 9)), NSEC3_OPTIONS)
    step(version(1, a("host"), a(twin)), base, NSEC3_OPTIONS)


def test_key_side_changes_re_sign_the_apex_key_rrsets_only() -> None:
    options = SigningOptions(serial=SerialRule.INCREMENT)
    zone = version(1, a("host"))
    old_zsk = make_key(KeyRole.ZSK)
    # A ZSK retired from signing still published, then withdrawn from the DNSKEY RRset.
    publishing = SigningKeys((KSK, ZSK, old_zsk), (KSK,), (ZSK,))
    first = sign_full(zone, publishing, options, NOW)
    withdrawn, _ = incremental(first, diff(zone, zone), KEYS, options, NOW)
    assert_same(withdrawn, sign_full(zone, KEYS, options, NOW, previous_serial=2))
    assert withdrawn.signatures_made == 2  # DNSKEY, SOA
    # CDS and CDNSKEY appear: the apex's NSEC bitmap changes with them.
    with_cds = SigningKeys.by_role([KSK, ZSK], cds=True)
    published, _ = incremental(withdrawn, diff(zone, zone), with_cds, options, NOW)
    assert_same(published, sign_full(zone, with_cds, options, NOW, previous_serial=3))
    assert published.signatures_made == 5  # DNSKEY, CDS, CDNSKEY, the apex NSEC, SOA
    assert problems(published.version) == []


def test_a_signed_version_read_back_resumes_where_it_was() -> None:
    from signwire.signing.versioned import resume

    zone = version(1, a("host"), a("a.b.c"))
    signed = sign_full(zone, KEYS, NSEC3_OPTIONS, NOW)
    again = resume(signed.version, zone, KEYS, NSEC3_OPTIONS, signed.schedule.refresh)
    assert again.schedule == signed.schedule
    after = version(2, a("host"), a("new"))
    stepped, _ = incremental(again, diff(zone, after), KEYS, NSEC3_OPTIONS, NOW)
    assert_same(stepped, sign_full(after, KEYS, NSEC3_OPTIONS, NOW))


def test_under_the_default_policy_signatures_fall_due_refresh_before_they_expire() -> None:
    from signwire.policy.parse import default_policy
    from signwire.signing.options import from_policy
    from signwire.signing.refresh import policy_refresh

    policy = default_policy()
    options = from_policy(policy)
    zone = version(1, *(a(f"n{i}") for i in range(30)))
    signed = sign_full(zone, KEYS, options, NOW, refresh=policy_refresh(policy))
    sig = policy.signatures
    assert signed.next_resign_at is not None
    assert NOW + sig.validity - sig.jitter - sig.refresh <= signed.next_resign_at
    assert signed.next_resign_at <= NOW + sig.validity - sig.refresh
    later = signed.next_resign_at
    refreshed, _ = refresh(signed, KEYS, options, later)
    assert refreshed.schedule.refresh == sig.refresh
    assert refreshed.version.serial == signed.version.serial + 1  # the policy's increment
    assert problems(refreshed.version, later) == []


def test_schedule_updates_and_due_names() -> None:
    from signwire.signing.schedule import Schedule, entry

    schedule = Schedule.build(100, {b"a": 1_000, b"b": 1_100, b"c": 1_100})
    assert schedule.next_due == 900
    assert schedule.due_keys(899) == []
    assert schedule.due_keys(1_000) == [b"a", b"b", b"c"]
    moved = schedule.updated([entry(900, b"a")], [entry(2_000, b"a")])
    assert moved.next_due == 1_000
    assert moved.due_keys(1_000) == [b"b", b"c"]
    assert schedule.next_due == 900  # a value: the old one is unchanged
    assert schedule.updated([entry(900, b"a")], [entry(900, b"a")]) is schedule
    with pytest.raises(ValueError, match="not there"):
        schedule.updated([entry(901, b"a")], [])


def test_a_re_signed_zone_keeps_the_dropped_dnskey_ttl_through_the_steps(tmp_path: Path) -> None:
    import base64

    key_text = base64.b64encode(KSK.public_key).decode()
    zone_file = tmp_path / "old.zone"
    zone_file.write_text(
        textwrap.dedent(f"""\
        $ORIGIN example.test.
        $TTL 3600
        @    SOA ns1 hostmaster 1 7200 3600 1209600 300
        @    NS  ns1
        @    7200 DNSKEY 257 3 15 {key_text}
        ns1  A   192.0.2.53
        """)
    )
    snapshot = build(read_zonefile(zone_file, ORIGIN), strip_dnssec=True)
    signed = sign_full(snapshot, KEYS, NSEC_OPTIONS, NOW)
    assert {ttl for ttl, _ in signed.version.rrset(ORIGIN, DNSKEY)} == {7200}
    after = ZoneVersion.from_records(
        ORIGIN, [soa(2) if r[1] == SOA else r for r in signed.unsigned.records()] + [a("new")]
    )
    stepped, _ = incremental(signed, diff(signed.unsigned, after), KEYS, signed.options, NOW)
    assert_same(stepped, sign_full(after, KEYS, signed.options, NOW))
    assert {ttl for ttl, _ in stepped.version.rrset(ORIGIN, DNSKEY)} == {7200}
    assert stepped.signatures_made == 4  # new's A and NSEC, the apex's NSEC, the SOA


def test_a_policy_ttl_ceiling_caps_changed_records_as_full_signing_does() -> None:
    options = SigningOptions(max_ttl=600)
    before = version(1, a("long", ttl=86400))
    _, stepped, _ = step(before, version(2, a("long", 2, ttl=86400), a("new", ttl=7200)), options)
    assert stepped.version.rrset(wire("long"), A) == [(600, bytes((192, 0, 2, 2)))]
    assert stepped.version.rrset(wire("new"), A) == [(600, bytes((192, 0, 2, 1)))]


# --- a zone a policy took insecure ------------------------------------------------------

NO_KEYS = SigningKeys((), (), ())
DNSSEC_TYPES = {DNSKEY, RRSIG, NSEC, NSEC3, 51, 59, 60}  # + NSEC3PARAM, CDS, CDNSKEY


def test_with_no_keys_the_version_is_the_zone_with_no_dnssec_record() -> None:
    """The end of an insecure policy (and its start, for a new zone): served unsigned, the
    serial rule still applied, every input record kept."""
    options = SigningOptions(serial=SerialRule.INCREMENT)
    before = version(10, a("host"))
    plain = sign_full(before, NO_KEYS, options, NOW, previous_serial=40)
    assert plain.version.serial == 41
    assert not {r[1] for r in plain.version.records()} & DNSSEC_TYPES
    assert {(r[0], r[1]) for r in plain.version.records() if r[1] != SOA} == {
        (r[0], r[1]) for r in before.records() if r[1] != SOA
    }
    assert plain.signatures_made == 0


def test_steps_into_out_of_and_within_an_unsigned_zone() -> None:
    options = SigningOptions(serial=SerialRule.INCREMENT)
    before, after = version(10, a("host")), version(11, a("host"), a("more"))
    signed = sign_full(before, KEYS, options, NOW)
    plain, gone = incremental(signed, diff(before, before), NO_KEYS, options, NOW)
    assert not {r[1] for r in plain.version.records()} & DNSSEC_TYPES
    assert {r[1] for r in gone.deleted} >= {DNSKEY, RRSIG, NSEC}
    assert plain.version.serial == signed.version.serial + 1
    changed, change = incremental(plain, diff(before, after), NO_KEYS, options, NOW)
    assert (wire("more"), A) in {(r[0], r[1]) for r in change.added}
    assert not {r[1] for r in change.added} & DNSSEC_TYPES
    back, _ = incremental(changed, diff(after, after), KEYS, options, NOW)
    assert problems(back.version) == []


def test_an_unsigned_version_with_a_dnssec_record_left_is_not_served() -> None:
    from signwire.verify.review import verify_unsigned

    options = SigningOptions()
    plain = sign_full(version(10, a("host")), NO_KEYS, options, NOW)
    assert verify_unsigned(plain.version) is None
    signed = sign_full(version(10, a("host")), KEYS, options, NOW)
    problem = verify_unsigned(signed.version)
    assert problem is not None and "DNSKEY" in problem and "RRSIG" in problem
