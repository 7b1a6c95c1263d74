"""The daemon's review of an incremental step (:func:`signwire.verify.review.review_change`).

It must pass every step the incremental signer makes (random small zones and random edits, in
NSEC, NSEC3, NSEC3 Opt-Out and salted NSEC3 modes), and fail a step tampered with in one
targeted way. Most tampered records carry a fresh, valid signature (made here with dnspython),
so that what is caught is the structure the tamper broke (a next name, a bitmap, a missing
NSEC3), not a bad signature by accident. And its work is the change's, not the zone's.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import time

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st
from tests.properties.test_incremental import MODES, Zone, zone_pairs, zone_version

from signwire.keystore import crypto
from signwire.keystore.model import ZoneKey
from signwire.policy import algorithms
from signwire.policy.model import KeyRole
from signwire.signing.incremental import incremental
from signwire.signing.keyset import SigningKeys
from signwire.signing.options import Nsec3Params, SigningOptions
from signwire.signing.refresh import refresh
from signwire.signing.versioned import Signed, sign_full
from signwire.verify.report import Counts
from signwire.verify.review import review_change, verify_version, zone_text
from signwire.zones import names
from signwire.zones.diff import Diff, apply, diff
from signwire.zones.version import RR, ZoneVersion

NOW = 1_767_225_600
ORIGIN = names.from_text("example.test.", None)
ORIGIN_NAME = dns.name.from_text("example.test.")
A, NS, SOA, TXT, DS, RRSIG, NSEC, DNSKEY, NSEC3 = 1, 2, 6, 16, 43, 46, 47, 48, 50
IN = dns.rdataclass.IN


def make_key(role: KeyRole) -> tuple[ZoneKey, crypto.PrivateKey]:
    private = crypto.generate(algorithms.ED25519)
    public = crypto.public_key_field(algorithms.ED25519, private)
    flags = 256 if role is KeyRole.ZSK else 257
    rdata = flags.to_bytes(2, "big") + bytes((3, algorithms.ED25519)) + public
    key = ZoneKey(ORIGIN, algorithms.ED25519, flags, public, algorithms.key_tag(rdata), role,
                  crypto.signer_spec(algorithms.ED25519, private), "test")
    return key, private


(KSK, KSK_PRIVATE), (ZSK, ZSK_PRIVATE) = make_key(KeyRole.KSK), make_key(KeyRole.ZSK)
KEYS = SigningKeys.by_role([KSK, ZSK])


def w(text: str) -> bytes:
    return names.from_text(text, ORIGIN)


def step(before: Zone, after: Zone, options: SigningOptions) -> tuple[Signed, Signed, Diff]:
    old, new = zone_version(before, 1), zone_version(after, 2)
    first = sign_full(old, KEYS, options, NOW)
    stepped, change = incremental(first, diff(old, new), KEYS, options, NOW)
    return first, stepped, change


# --- every step the signer makes passes -----------------------------------------------------


@pytest.mark.parametrize("mode", list(MODES))
@settings(max_examples=30, deadline=None)
@given(pair=zone_pairs())
def test_review_passes_what_the_incremental_signer_makes(mode: str, pair: tuple[Zone, Zone]):
    note(f"A: {pair[0]}")
    note(f"B: {pair[1]}")
    options = MODES[mode]
    first, stepped, change = step(pair[0], pair[1], options)
    assert review_change(stepped.version, change, NOW) is None
    # And back, from the stepped version.
    back, change_back = incremental(stepped, diff(stepped.unsigned, first.unsigned), KEYS, options,
                                    NOW + 60)
    assert review_change(back.version, change_back, NOW + 60) is None


# --- tampered steps fail ----------------------------------------------------------------------

@pytest.mark.parametrize("mode", list(MODES))
@settings(max_examples=30, deadline=None)
@given(pair=zone_pairs(), data=st.data())
def test_review_fails_a_step_missing_a_record_the_signer_added(
    mode: str, pair: tuple[Zone, Zone], data: st.DataObject
):
    """Any RRSIG, NSEC or NSEC3 record the step added, taken out again, or one of its RRSIGs
    with a bit flipped: the review fails (whichever record it is, from the diff between the
    previous version and the tampered one)."""
    first, stepped, change = step(pair[0], pair[1], MODES[mode])
    made = [r for r in change.added if r[1] in (RRSIG, NSEC, NSEC3)]
    assume(made)
    record = data.draw(st.sampled_from(made))
    note(f"taken out: {names.to_text(record[0])} {record[1]}")
    v = stepped.version
    assert review(first, edit(v, [record], [])) is not None
    if record[1] == RRSIG:
        flipped = (*record[:3], record[3][:-1] + bytes((record[3][-1] ^ 0x10,)))
        assert review(first, edit(v, [record], [flipped])) is not None


@pytest.mark.parametrize("mode", list(MODES))
@settings(max_examples=30, deadline=None)
@given(pair=zone_pairs(), data=st.data())
def test_review_fails_a_step_that_left_a_denial_record_stale(
    mode: str, pair: tuple[Zone, Zone], data: st.DataObject
):
    """An NSEC or NSEC3 the step changed, put back as it was with its old (valid) signature:
    the review fails."""
    first, stepped, change = step(pair[0], pair[1], MODES[mode])
    v, old = stepped.version, first.version
    replaced = [r for r in change.deleted if r[1] in (NSEC, NSEC3) and v.rrset(r[0], r[1])]
    assume(replaced)
    owner, rdtype, _, _ = data.draw(st.sampled_from(replaced))
    note(f"stale: {names.to_text(owner)} {rdtype}")
    now_recs = [(owner, rdtype, t, rd) for t, rd in v.rrset(owner, rdtype)]
    old_recs = [(owner, rdtype, t, rd) for t, rd in old.rrset(owner, rdtype)]
    stale = edit(v, [*now_recs, *rrsigs(v, owner, rdtype)],
                 [*old_recs, *rrsigs(old, owner, rdtype)])
    assert review(first, stale) is not None


BEFORE: Zone = {"a": "A", "www": "A", "sub": "NS", "ns.sub": "A", "zz": "TXT", "@": None}
AFTER: Zone = {**BEFORE, "b": "TXT", "a": "A+TXT"}  # a new name, and a new type at "a"
NSEC_MODE = SigningOptions()
NSEC3_MODE = SigningOptions(nsec3=Nsec3Params())


@pytest.mark.parametrize("options", [NSEC_MODE, NSEC3_MODE], ids=["nsec", "nsec3"])
def test_review_passes_refreshes_and_key_changes(options):
    """The daemon's other incremental steps: a signature refresh (RRSIGs only), a new ZSK
    (every signature made again inside the step) and a second KSK (the DNSKEY RRset)."""
    signed = sign_full(zone_version(AFTER, 1), KEYS, options, NOW, refresh=5 * 86400)
    later = signed.next_resign_at
    assert later is not None
    refreshed, change = refresh(signed, KEYS, options, later)
    assert change is not None and review_change(refreshed.version, change, later) is None
    new_zsk, _ = make_key(KeyRole.ZSK)
    rolled, change = incremental(refreshed, diff(refreshed.unsigned, refreshed.unsigned),
                                 SigningKeys.by_role([KSK, new_zsk]), options, later + 60)
    assert review_change(rolled.version, change, later + 60) is None
    second_ksk, _ = make_key(KeyRole.KSK)
    keys = SigningKeys((KSK, second_ksk, new_zsk), (KSK, second_ksk), (new_zsk,))
    both, change = incremental(rolled, diff(rolled.unsigned, rolled.unsigned), keys, options,
                               later + 120)
    assert review_change(both.version, change, later + 120) is None
    # A step reviewed after its signatures expired fails.
    assert "expired" in (review_change(both.version, change, later + 400 * 86400) or "")


def rdataset(version: ZoneVersion, owner: bytes, rdtype: int) -> dns.rdataset.Rdataset:
    rds = dns.rdataset.Rdataset(IN, dns.rdatatype.RdataType.make(rdtype))
    for ttl, rd in version.rrset(owner, rdtype):
        rds.add(dns.rdata.from_wire(IN, rds.rdtype, rd, 0, len(rd)), ttl)
    return rds


def rrsigs(version: ZoneVersion, owner: bytes, rdtype: int) -> list[RR]:
    return [(owner, RRSIG, ttl, rd) for ttl, rd in version.rrset(owner, RRSIG)
            if rd[:2] == rdtype.to_bytes(2, "big")]


def make_rrsig(owner: bytes, rds: dns.rdataset.Rdataset, *, inception: int = NOW - 3600,
               expiration: int = NOW + 30 * 86400) -> bytes:
    """A valid RRSIG by the ZSK (the KSK for DNSKEY), made by dnspython."""
    key, private = (KSK, KSK_PRIVATE) if rds.rdtype == DNSKEY else (ZSK, ZSK_PRIVATE)
    dnskey = dns.rdata.from_wire(IN, dns.rdatatype.DNSKEY, key.dnskey_rdata, 0,
                                 len(key.dnskey_rdata))
    sig = dns.dnssec.sign((dns.name.from_wire(owner, 0)[0], rds), private, ORIGIN_NAME, dnskey,
                          inception=inception, expiration=expiration)
    return sig.to_wire()


def edit(version: ZoneVersion, deleted: list[RR], added: list[RR]) -> ZoneVersion:
    return apply(version, Diff(version.soa, version.soa, tuple(deleted), tuple(added)))


def replace(version: ZoneVersion, owner: bytes, rdtype: int, rdatas: list[bytes]) -> ZoneVersion:
    """The RRset at ``owner`` replaced by ``rdatas`` (same TTL), with a valid new signature."""
    old = version.rrset(owner, rdtype)
    ttl = old[0][0]
    deleted = [(owner, rdtype, t, rd) for t, rd in old] + rrsigs(version, owner, rdtype)
    tmp = edit(version, deleted, [(owner, rdtype, ttl, rd) for rd in rdatas])
    sig = make_rrsig(owner, rdataset(tmp, owner, rdtype))
    return edit(tmp, [], [(owner, RRSIG, ttl, sig)])


def review(first: Signed, tampered: ZoneVersion, now: int = NOW) -> str | None:
    """The review of the tampered version, given the diff that really leads to it."""
    return review_change(tampered, diff(first.version, tampered), now)


def bitmap(types: set[int]) -> bytes:
    out = b""
    for window in sorted({t >> 8 for t in types}):
        bits = bytearray(32)
        for t in types:
            if t >> 8 == window:
                bits[(t & 0xFF) >> 3] |= 0x80 >> (t & 7)
        used = bytes(bits).rstrip(b"\x00")
        out += bytes((window, len(used))) + used
    return out


def test_the_untampered_steps_pass():
    for options in (NSEC_MODE, NSEC3_MODE):
        first, stepped, change = step(BEFORE, AFTER, options)
        assert review_change(stepped.version, change, NOW) is None
        assert review(first, stepped.version) is None
        assert verify_version(stepped.version, NOW) is None


@pytest.mark.parametrize("options", [NSEC_MODE, NSEC3_MODE], ids=["nsec", "nsec3"])
def test_a_flipped_bit_in_a_new_signature_fails(options):
    first, stepped, _ = step(BEFORE, AFTER, options)
    v = stepped.version
    (sig,) = rrsigs(v, w("b"), TXT)
    broken = (*sig[:3], sig[3][:-1] + bytes((sig[3][-1] ^ 1,)))
    problem = review(first, edit(v, [sig], [broken]))
    assert problem is not None and "b.example.test. TXT" in problem and "verify" in problem


@pytest.mark.parametrize("options", [NSEC_MODE, NSEC3_MODE], ids=["nsec", "nsec3"])
def test_a_removed_signature_fails(options):
    first, stepped, _ = step(BEFORE, AFTER, options)
    v = stepped.version
    problem = review(first, edit(v, rrsigs(v, w("a"), TXT), []))
    assert problem is not None and "a.example.test. TXT" in problem and "not signed" in problem


def test_an_expired_signature_fails():
    first, stepped, _ = step(BEFORE, AFTER, NSEC_MODE)
    v = stepped.version
    expired = make_rrsig(w("b"), rdataset(v, w("b"), TXT), inception=NOW - 40 * 86400,
                         expiration=NOW - 86400)
    tampered = edit(v, rrsigs(v, w("b"), TXT), [(w("b"), RRSIG, 300, expired)])
    problem = review(first, tampered)
    assert problem is not None and "expired" in problem
    # The step as made, judged when its signatures have expired.
    _, _, change = step(BEFORE, AFTER, NSEC_MODE)
    assert "expired" in (review_change(v, change, NOW + 400 * 86400) or "")


def test_a_signature_not_yet_valid_fails():
    first, stepped, _ = step(BEFORE, AFTER, NSEC_MODE)
    v = stepped.version
    early = make_rrsig(w("b"), rdataset(v, w("b"), TXT), inception=NOW + 3600)
    tampered = edit(v, rrsigs(v, w("b"), TXT), [(w("b"), RRSIG, 300, early)])
    assert "not yet valid" in (review(first, tampered) or "")


def test_an_nsec_pointing_past_an_added_name_fails():
    first, stepped, _ = step(BEFORE, AFTER, NSEC_MODE)
    v = stepped.version
    ((_, rd),) = v.rrset(w("a"), NSEC)
    assert rd.startswith(w("b"))
    past = w("ns1") + rd[len(w("b")) :]  # "ns1" follows "b" in canonical order
    problem = review(first, replace(v, w("a"), NSEC, [past]))
    assert problem is not None and "a.example.test. NSEC" in problem and "next name" in problem


def test_an_nsec_bitmap_missing_a_new_type_fails():
    first, stepped, _ = step(BEFORE, AFTER, NSEC_MODE)
    v = stepped.version
    ((_, rd),) = v.rrset(w("a"), NSEC)
    short = w("b") + bitmap({A, RRSIG, NSEC})  # TXT left out
    assert short != rd
    problem = review(first, replace(v, w("a"), NSEC, [short]))
    assert problem is not None and "type bitmap" in problem and "TXT" in problem


def test_an_nsec_kept_at_a_removed_name_fails():
    after = {**BEFORE, "www": None}
    first, stepped, _ = step(BEFORE, after, NSEC_MODE)
    v = stepped.version
    # The predecessor's NSEC as it was, pointing to the name gone, validly signed.
    ((_, old_rd),) = first.version.rrset(w("sub"), NSEC)
    assert old_rd.startswith(w("www"))
    problem = review(first, replace(v, w("sub"), NSEC, [old_rd]))
    assert problem is not None and "next name" in problem


def test_a_signature_left_on_a_removed_rrset_fails():
    after = {**BEFORE, "www": "TXT"}  # www's A goes, a TXT comes
    first, stepped, _ = step(BEFORE, after, NSEC_MODE)
    v = stepped.version
    left = rrsigs(first.version, w("www"), A)
    assert left and not v.rrset(w("www"), A)
    problem = review(first, edit(v, [], left))
    assert problem is not None and "www.example.test. A" in problem and "no A RRset" in problem


def test_a_signed_delegation_ns_fails_and_unsigned_glue_passes():
    first, stepped, _ = step(BEFORE, AFTER, NSEC_MODE)
    v = stepped.version
    sig = make_rrsig(w("sub"), rdataset(v, w("sub"), NS))
    problem = review(first, edit(v, [], [(w("sub"), RRSIG, 3600, sig)]))
    assert problem is not None and "sub.example.test. NS" in problem
    glue = edit(v, [], [(w("ns.sub"), A, 3600, bytes((192, 0, 2, 99)))])
    assert review(first, glue) is None


def test_an_unsigned_dnskey_rrset_fails_whatever_the_change():
    _, stepped, change = step(BEFORE, AFTER, NSEC_MODE)
    v = stepped.version
    tampered = edit(v, rrsigs(v, ORIGIN, DNSKEY), [])
    assert not any(r[1] == RRSIG and r[3][:2] == b"\x00\x30" for r in change.added)
    problem = review_change(tampered, change, NOW)  # the step's own diff: the apex not in it
    assert problem is not None and "DNSKEY" in problem


def test_a_dnskey_rrset_signed_by_the_zsk_only_fails():
    first, stepped, _ = step(BEFORE, AFTER, NSEC_MODE)
    v = stepped.version
    rds = rdataset(v, ORIGIN, DNSKEY)
    dnskey = dns.rdata.from_wire(IN, dns.rdatatype.DNSKEY, ZSK.dnskey_rdata, 0,
                                 len(ZSK.dnskey_rdata))
    by_zsk = dns.dnssec.sign((ORIGIN_NAME, rds), ZSK_PRIVATE, ORIGIN_NAME, dnskey,
                             inception=NOW - 3600, expiration=NOW + 86400).to_wire()
    tampered = edit(v, rrsigs(v, ORIGIN, DNSKEY), [(ORIGIN, RRSIG, rds.ttl, by_zsk)])
    assert "SEP" in (review(first, tampered) or "")


def nsec3_label(text: str) -> bytes:
    digest = hashlib.sha1(names.lower(w(text))).digest()
    return base64.b32hexencode(digest).lower()


def nsec3_owner(label: bytes) -> bytes:
    return bytes((len(label),)) + label + ORIGIN


def nsec3_next(rd: bytes) -> tuple[int, bytes]:
    """Offset and value of the next hashed owner field of NSEC3 RDATA."""
    salt_len = rd[4]
    at = 6 + salt_len
    return at, rd[at : at + rd[at - 1]]


def test_an_nsec3_missing_for_an_added_name_fails():
    first, stepped, _ = step(BEFORE, AFTER, NSEC3_MODE)
    v = stepped.version
    label = nsec3_label("b")
    owner = nsec3_owner(label)
    ((ttl, rd),) = v.rrset(owner, NSEC3)
    # Gone, and the chain mended round it (the predecessor re-pointed, validly signed): only
    # the missing NSEC3 of "b" is wrong.
    chain = [k for k, _ in v.nsec3_map.items()]
    before = chain[chain.index(label) - 1]
    ((_, prev_rd),) = v.rrset(nsec3_owner(before), NSEC3)
    at, _ = nsec3_next(prev_rd)
    _, skip = nsec3_next(rd)
    mended = prev_rd[:at] + skip + prev_rd[at + len(skip) :]
    tampered = edit(v, [(owner, NSEC3, ttl, rd), *rrsigs(v, owner, NSEC3)], [])
    tampered = replace(tampered, nsec3_owner(before), NSEC3, [mended])
    problem = review(first, tampered)
    assert problem is not None and "b.example.test. NSEC3" in problem and "no NSEC3" in problem


def test_a_predecessor_nsec3_not_updated_fails():
    first, stepped, _ = step(BEFORE, AFTER, NSEC3_MODE)
    v = stepped.version
    label = nsec3_label("b")
    chain = [k for k, _ in v.nsec3_map.items()]
    before = chain[chain.index(label) - 1]
    # The predecessor's NSEC3 and signature as they were before "b" came: valid, but stale.
    old_owner = nsec3_owner(before)
    ((ttl, old_rd),) = first.version.rrset(old_owner, NSEC3)
    ((_, new_rd),) = v.rrset(old_owner, NSEC3)
    assert old_rd != new_rd
    stale = edit(
        v,
        [(old_owner, NSEC3, ttl, new_rd), *rrsigs(v, old_owner, NSEC3)],
        [(old_owner, NSEC3, ttl, old_rd), *rrsigs(first.version, old_owner, NSEC3)],
    )
    problem = review(first, stale)
    assert problem is not None and "next hashed owner" in problem


def test_an_nsec3_bitmap_missing_a_new_type_fails():
    first, stepped, _ = step(BEFORE, AFTER, NSEC3_MODE)
    v = stepped.version
    owner = nsec3_owner(nsec3_label("a"))
    ((_, rd),) = v.rrset(owner, NSEC3)
    at, nxt = nsec3_next(rd)
    short = rd[: at + len(nxt)] + bitmap({A, RRSIG})
    problem = review(first, replace(v, owner, NSEC3, [short]))
    assert problem is not None and "type bitmap" in problem and "TXT" in problem


def test_an_nsec3_for_a_removed_name_fails():
    after = {**BEFORE, "www": None}
    first, stepped, _ = step(BEFORE, after, NSEC3_MODE)
    v = stepped.version
    owner = nsec3_owner(nsec3_label("www"))
    assert not v.rrset(owner, NSEC3)
    kept = edit(v, [], [*[(owner, NSEC3, t, rd) for t, rd in first.version.rrset(owner, NSEC3)],
                        *rrsigs(first.version, owner, NSEC3)])
    problem = review(first, kept)
    assert problem is not None and "www.example.test. NSEC3" in problem


# --- the work is the change's -----------------------------------------------------------------


def big_zone(count: int, serial: int) -> ZoneVersion:
    soa = w("ns1") + w("hostmaster") + struct.pack("!IIIII", serial, 7200, 900, 1209600, 300)
    recs: list[RR] = [(ORIGIN, SOA, 3600, soa), (ORIGIN, NS, 3600, w("ns1")),
                      (w("ns1"), A, 3600, bytes((192, 0, 2, 53)))]
    recs += [(w(f"h{i:06d}"), A, 300, bytes((10, i >> 16 & 255, i >> 8 & 255, i & 255)))
             for i in range(count)]
    return ZoneVersion.from_records(ORIGIN, recs)


def one_record_change(count: int, options: SigningOptions, *, bogus: bool = False) -> Counts:
    """What the review checks for one name added to a zone of ``count`` names. ``bogus``:
    the full signing's ZSK signatures are zeros (the KSK's, over DNSKEY, are real), so only
    what the incremental step signs again can validate, and signing is fast."""
    before = big_zone(count, 1)
    signers = {KSK.signer: KSK_PRIVATE.sign, ZSK.signer: lambda data: bytes(64)}
    first = sign_full(before, KEYS, options, NOW, signers=signers if bogus else None)
    after = apply(before, Diff(before.soa, big_zone(0, 2).soa, (),
                               ((w("h000500x"), A, 300, bytes((192, 0, 2, 7))),)))
    stepped, change = incremental(first, diff(before, after), KEYS, options, NOW)
    counts = Counts()
    assert review_change(stepped.version, change, NOW, counts=counts) is None
    return counts


@pytest.mark.parametrize("options", [NSEC_MODE, NSEC3_MODE], ids=["nsec", "nsec3"])
def test_the_review_does_the_same_work_for_a_small_and_a_larger_zone(options):
    small = one_record_change(300, options)
    assert small == one_record_change(5_000, options)
    # DNSKEY, SOA, the new A, the new name's NSEC or NSEC3 and the one before it.
    assert small.rrsets_checked == small.signatures_checked == 5


@pytest.mark.slow
@pytest.mark.parametrize("options", [NSEC_MODE, NSEC3_MODE], ids=["nsec", "nsec3"])
def test_a_one_record_change_in_100k_names_checks_five_rrsets(options):
    """100k names, every signature of the full signing bogus but the DNSKEY RRset's: the
    review of a one-record step passes, so it validated none of them; it checks the same five
    RRsets as in a zone of 300 names."""
    started = time.perf_counter()
    counts = one_record_change(100_000, options, bogus=True)
    assert counts == one_record_change(300, options)
    assert counts.rrsets_checked == 5
    print(f"100k names: signed (bogus ZSK) and reviewed in {time.perf_counter() - started:.1f} s;"
          f" review: {counts}")


# --- the whole version as text ----------------------------------------------------------------


def test_zone_text_renders_what_dnspython_reads_back_record_for_record():
    """The verifier's text is rendered in verify/ (dnspython for the rarer types): each record
    read back by dnspython is the record."""
    extra: list[RR] = [
        (w("v6"), 28, 300, bytes(range(16))),
        (w("mx"), 15, 300, b"\x00\x0a" + w("www")),
        (w("t"), TXT, 300, b"\x05a \"\\b\x00"),
        (w("srv"), 33, 300, struct.pack("!HHH", 1, 2, 53) + w("www")),
        (w("sub"), DS, 3600, struct.pack("!HBB", 4242, 13, 2) + bytes(range(32))),
        (w("odd"), 65280, 300, b"\x01\x02"),
    ]
    for options in (NSEC_MODE, NSEC3_MODE, SigningOptions(nsec3=Nsec3Params(salt=b"\xab\x12"))):
        signed = sign_full(zone_version(BEFORE, 1), KEYS, options, NOW).version
        version = apply(signed, Diff(signed.soa, signed.soa, (), tuple(extra)))
        lines = zone_text(version).splitlines()
        records = list(version.records())
        assert len(lines) == len(records)
        for line, (owner, rdtype, ttl, rd) in zip(lines, records, strict=True):
            fields = line.split(None, 4)
            assert dns.name.from_text(fields[0]) == dns.name.from_wire(owner, 0)[0]
            assert (int(fields[1]), fields[2]) == (ttl, "IN")
            back = dns.rdata.from_text(IN, fields[3], fields[4], relativize=False)
            assert back.rdtype == rdtype and back.to_wire() == rd, line
        assert verify_version(signed, NOW) is None


def test_an_nsec3_kept_below_a_new_delegation_fails():
    """A delegation added over a name: the name's NSEC3 must go, though nothing of its own
    changed but its signature (the review looks below a cut that came or went)."""
    before: Zone = {"a": "A", "a.sub": "A", "@": None}  # "sub" an empty non-terminal
    after: Zone = {**before, "sub": "NS"}
    first, stepped, _ = step(before, after, NSEC3_MODE)
    v = stepped.version
    gone = nsec3_owner(nsec3_label("a.sub"))
    assert first.version.rrset(gone, NSEC3) and not v.rrset(gone, NSEC3)
    # Put back the NSEC3 of "a.sub" and the chain as it was around it, all validly signed.
    chain = [k for k, _ in first.version.nsec3_map.items()]
    label = nsec3_label("a.sub")
    pred = nsec3_owner(chain[chain.index(label) - 1])
    old = [(o, NSEC3, t, rd) for o in (gone, pred) for t, rd in first.version.rrset(o, NSEC3)]
    now_pred = [(pred, NSEC3, t, rd) for t, rd in v.rrset(pred, NSEC3)]
    kept = edit(
        v,
        [*now_pred, *rrsigs(v, pred, NSEC3)],
        [*old, *rrsigs(first.version, gone, NSEC3), *rrsigs(first.version, pred, NSEC3)],
    )
    problem = review(first, kept)
    assert problem is not None and "a.sub.example.test. NSEC3" in problem and "occluded" in problem
