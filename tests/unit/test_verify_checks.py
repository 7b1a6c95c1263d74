"""Each check of the verifier, on an NSEC zone signed by dnspython: one zone passes, a mutated
copy fails (or warns) with a problem that names the owner, the type and the reason."""

from __future__ import annotations

import dns.dnssec
import dns.name
import dns.rdatatype
import pytest
from dns.rdtypes.ANY.NSEC import NSEC
from test_verify_support import (
    NOW,
    UNSIGNED,
    Zone,
    has_problem,
    keys,
    make_key,
    messages,
    nsec_zone,
    rrsig,
    stranger,
)

from signwire.verify.anchors import TrustAnchor, parse_anchors
from signwire.verify.report import VerifyReport
from signwire.verify.zone_reader import read_zone_text
from signwire.verify.zone_verifier import verify_contents

A = dns.rdatatype.A
AAAA = dns.rdatatype.AAAA
NS = dns.rdatatype.NS
DS = dns.rdatatype.DS
TXT = dns.rdatatype.TXT
SOA = dns.rdatatype.SOA
NSEC_T = dns.rdatatype.NSEC
DNSKEY = dns.rdatatype.DNSKEY
DAY = 86400


def test_clean_zone_has_no_problem() -> None:
    zone = nsec_zone()
    report = zone.verify()
    assert zone.lean_vouched  # the fast path agrees, with the same counts
    assert report.ok
    assert report.problems == []
    assert report.denial == "NSEC"
    # apex SOA NS MX DNSKEY NSEC, 9 NSEC in all, DS at sub, A/AAAA/TXT at the data names
    assert report.counts.nsec_records == 9
    assert report.counts.rrsets_checked == 21
    assert report.counts.signatures_checked == report.counts.rrsets_checked


# --- apex -----------------------------------------------------------------------------------


def test_missing_soa_is_an_error() -> None:
    zone = nsec_zone()
    zone.delete("@", "SOA")
    zone.delete("@", "RRSIG", SOA)
    report = zone.verify()
    assert has_problem(report, "@", "SOA", "no SOA record at the apex")


def test_two_soa_records_are_an_error() -> None:
    text = nsec_zone().text() + "example.test. 3600 IN SOA ns2 h 2 1 1 1 300\n"
    report = verify_text(text)
    assert has_problem(report, "@", "SOA", "more than one record of this type at the name")


def test_missing_apex_ns_is_an_error() -> None:
    zone = nsec_zone()
    zone.delete("@", "NS")
    zone.delete("@", "RRSIG", NS)
    assert has_problem(zone.verify(), "@", "NS", "no NS RRset at the apex")


def test_missing_dnskey_is_an_error() -> None:
    zone = nsec_zone()
    zone.delete("@", "DNSKEY")
    zone.delete("@", "RRSIG", DNSKEY)
    report = zone.verify()
    assert has_problem(report, "@", "DNSKEY", "no DNSKEY RRset at the apex")
    # and every signature is now by a key the zone does not publish
    assert has_problem(report, "www", "A", "not a zone key in the DNSKEY RRset")


def test_every_dnskey_algorithm_must_sign_every_rrset() -> None:
    zone = nsec_zone()
    ed_ksk, ed_zsk = keys(15)
    ksk, zsk = keys(13)
    zone.put("@", "DNSKEY", 3600, *(k.dnskey.to_text() for k in (ksk, zsk, ed_ksk, ed_zsk)))
    zone.resign("@", DNSKEY, keys=[ksk, ed_ksk])
    report = zone.verify()
    assert has_problem(report, "www", "A", "no RRSIG with algorithm 15 (ED25519)")
    assert has_problem(report, "@", "SOA", "no RRSIG with algorithm 15")
    assert not has_problem(report, "@", "DNSKEY", "no RRSIG with algorithm")


def test_two_algorithms_each_signing_everything_pass() -> None:
    zone = nsec_zone(algorithms=(13, 15))
    report = zone.verify()
    assert zone.lean_vouched
    assert report.ok, messages(report)
    assert report.counts.signatures_checked == 2 * report.counts.rrsets_checked


# --- DNSKEY RRset and trust anchors ---------------------------------------------------------


def _ds(key_index: int, digest: int, origin: str = "example.test.") -> list[TrustAnchor]:
    key = keys(13)[key_index]
    ds = dns.dnssec.make_ds(origin, key.dnskey, digest, policy=dns.dnssec.allow_all_policy)
    return parse_anchors(f"{origin} 3600 IN DS {ds}")


@pytest.mark.parametrize("digest", [1, 2, 4])
def test_ds_anchor_of_the_ksk_passes(digest: int) -> None:
    zone = nsec_zone()
    report = zone.verify(anchors=_ds(0, digest))
    assert zone.lean_vouched
    assert report.ok, messages(report)
    assert report.problems == []


def test_dnskey_anchor_passes() -> None:
    ksk = keys(13)[0]
    anchors = parse_anchors(f"example.test. IN DNSKEY {ksk.dnskey}")
    assert nsec_zone().verify(anchors=anchors).ok


def test_anchor_matching_no_key_is_an_error() -> None:
    other = make_key(13, ksk=True)
    ds = dns.dnssec.make_ds("example.test.", other.dnskey, 2)
    report = nsec_zone().verify(anchors=parse_anchors(f"example.test. DS {ds}"))
    assert has_problem(report, "@", "DNSKEY", "no DNSKEY in the zone matches the trust anchors")


def test_anchor_of_a_key_that_does_not_sign_the_dnskey_rrset_is_an_error() -> None:
    # The ZSK is in the zone, but only the KSK signs the DNSKEY RRset.
    report = nsec_zone().verify(anchors=_ds(1, 2))
    assert has_problem(report, "@", "DNSKEY", "no valid RRSIG by a key matching the trust anchors")


def test_anchor_file_for_another_zone_is_an_error() -> None:
    report = nsec_zone().verify(anchors=_ds(0, 2, origin="other.test."))
    assert has_problem(report, "@", "DNSKEY", "no trust anchor for example.test.")


def test_uncheckable_digest_type_warns() -> None:
    anchors = [*_ds(0, 2), *parse_anchors("example.test. DS 1 13 3 " + "00" * 32)]
    report = nsec_zone().verify(anchors=anchors)
    assert report.ok
    assert has_problem(report, "@", "DS", "digest type this verifier cannot check", "warning")


def test_dnskey_rrset_signed_only_by_a_non_sep_key_warns() -> None:
    zone = nsec_zone()
    zone.resign("@", DNSKEY, keys=[keys(13)[1]])
    report = zone.verify()
    assert report.ok
    assert has_problem(report, "@", "DNSKEY", "only by keys without the SEP flag", "warning")


# --- RRSIG fields, validity and cryptography ------------------------------------------------


def test_changed_record_breaks_its_signature() -> None:
    zone = nsec_zone()
    zone.put("www", "A", 3600, "192.0.2.99")
    report = zone.verify()
    assert not report.ok
    assert has_problem(report, "www", "A", "signature does not verify")


def test_rrsig_over_a_type_that_is_not_there_is_an_error() -> None:
    zone = nsec_zone()
    sig = zone.sigs("www", A)[0]
    zone.set_sigs("www", TXT, [sig.replace(type_covered=TXT)], 3600)
    assert has_problem(zone.verify(), "www", "TXT", "RRSIG covers TXT but there is no TXT RRset")


def test_signer_name_must_be_the_zone() -> None:
    zone = nsec_zone()
    zone.resign("www", A, signer=dns.name.from_text("other.test."))
    report = zone.verify()
    assert has_problem(report, "www", "A", "signer name other.test. is not the zone example.test.")


def test_labels_field_must_match_the_owner() -> None:
    zone = nsec_zone()
    sig = zone.sigs("www", A)[0]
    zone.set_sigs("www", A, [sig.replace(labels=2)], 3600)
    assert has_problem(zone.verify(), "www", "A", "Labels field is 2, expected 3")


def test_wildcard_labels_field_leaves_out_the_star() -> None:
    zone = nsec_zone()
    (sig,) = zone.sigs("*.wild", TXT)
    assert sig.labels == 3  # *.wild.example.test.: the '*' does not count
    assert not has_problem(zone.verify(), "*.wild", "TXT", "Labels")
    zone.set_sigs("*.wild", TXT, [sig.replace(labels=4)], 3600)
    assert has_problem(zone.verify(), "*.wild", "TXT", "Labels field is 4, expected 3")


def test_original_ttl_must_be_the_rrset_ttl() -> None:
    zone = nsec_zone()
    sig = zone.sigs("www", A)[0]
    zone.set_sigs("www", A, [sig.replace(original_ttl=60)], 3600)
    report = zone.verify()
    assert has_problem(report, "www", "A", "Original TTL 60 differs from the RRset TTL 3600")


def test_expired_signature_is_an_error() -> None:
    zone = nsec_zone()
    zone.resign("www", A, inception=NOW - 20 * DAY, expiration=NOW - 10 * DAY)
    report = zone.verify()
    assert has_problem(report, "www", "A", "expired at 2025-12-22 00:00:00 UTC")
    assert not report.ok


def test_signature_not_yet_valid_is_an_error() -> None:
    zone = nsec_zone()
    zone.resign("www", A, inception=NOW + DAY, expiration=NOW + 30 * DAY)
    assert has_problem(zone.verify(), "www", "A", "not yet valid (inception 2026-01-02")


YEAR = 365 * DAY


def test_validity_longer_than_2_to_the_31_seconds_wraps_and_is_an_error() -> None:
    # RFC 4034 §3.1.5: signature times compare in serial arithmetic, so an expiration 69 years
    # after the inception reads as before it; ldns, BIND and Knot reject such a zone.
    zone = nsec_zone()
    zone.resign("www", A, expiration=NOW - 3600 + 69 * YEAR)
    report = zone.verify()
    assert not report.ok
    assert has_problem(report, "www", "A", "69.0 years after inception")
    assert has_problem(report, "www", "A", "serial arithmetic reads it as before the inception")


def test_validity_just_under_2_to_the_31_seconds_is_accepted() -> None:
    zone = nsec_zone()
    zone.resign("www", A, inception=NOW - 3600, expiration=NOW - 3600 + 2**31 - 1)
    report = zone.verify()
    assert report.ok, messages(report)


def test_signature_expiring_within_the_horizon_warns() -> None:
    zone = nsec_zone()
    zone.resign("www", A, expiration=NOW + 2 * DAY)
    report = zone.verify()
    assert report.ok
    assert has_problem(report, "www", "A", "expires in 2.0 days", "warning")
    assert zone.verify(warn_horizon=DAY).problems == []


def test_signature_by_a_key_outside_the_dnskey_rrset_is_an_error() -> None:
    zone = nsec_zone()
    zone.resign("www", A, keys=[stranger()])
    report = zone.verify()
    assert has_problem(report, "www", "A", "not a zone key in the DNSKEY RRset")
    assert has_problem(report, "www", "A", "no RRSIG with algorithm 13") is False


def test_unsigned_rrset_is_an_error() -> None:
    zone = nsec_zone()
    zone.delete("www", "RRSIG", A)
    assert has_problem(zone.verify(), "www", "A", "RRset is not signed")


def test_rrsig_ttl_different_from_the_rrset_warns() -> None:
    zone = nsec_zone()
    zone.set_sigs("www", A, zone.sigs("www", A), 60)
    report = zone.verify()
    assert report.ok
    assert has_problem(report, "www", "A", "RRSIG TTL 60 differs", "warning")


# --- zone cuts, glue, occluded data ---------------------------------------------------------


def test_signed_delegation_ns_is_an_error() -> None:
    zone = nsec_zone()
    zone.set_sigs("sub", NS, [rrsig(zone.name("sub"), zone.get("sub", NS), zone.zsks[0])], 3600)
    assert has_problem(zone.verify(), "sub", "NS", "delegation NS RRset is not authoritative")


def test_signed_glue_is_an_error() -> None:
    zone = nsec_zone()
    glue = zone.get("ns.sub", A)
    zone.set_sigs("ns.sub", A, [rrsig(zone.name("ns.sub"), glue, zone.zsks[0])], 3600)
    report = zone.verify()
    assert has_problem(report, "ns.sub", "A", "below the zone cut or DNAME at sub.example.test.")
    assert has_problem(report, "ns.sub", "A", "must not be signed")


def test_unsigned_ds_at_a_cut_is_an_error() -> None:
    zone = nsec_zone()
    zone.delete("sub", "RRSIG", DS)
    assert has_problem(zone.verify(), "sub", "DS", "RRset is not signed")


def test_ds_away_from_a_delegation_is_an_error() -> None:
    zone = nsec_zone()
    zone.put("www", "DS", 3600, "1 13 2 " + "00" * 32)
    zone.resign("www", DS)
    assert has_problem(zone.verify(), "www", "DS", "DS at a name that is not a delegation")
    zone.put("@", "DS", 3600, "1 13 2 " + "00" * 32)
    assert has_problem(zone.verify(), "@", "DS", "DS at the zone apex")


def _dname_zone() -> Zone:
    zone = nsec_zone(UNSIGNED + "dname DNAME target.test.\n")
    zone.put("x.dname", "A", 3600, "192.0.2.8")  # occluded: present, unsigned, not chained
    return zone


def test_occluded_data_below_a_dname_passes_when_unsigned_and_unchained() -> None:
    zone = _dname_zone()
    report = zone.verify()
    assert report.ok, messages(report)


def test_signed_data_below_a_dname_is_an_error() -> None:
    zone = _dname_zone()
    rds = zone.get("x.dname", A)
    zone.set_sigs("x.dname", A, [rrsig(zone.name("x.dname"), rds, zone.zsks[0])], 3600)
    assert has_problem(zone.verify(), "x.dname", "A", "below the zone cut or DNAME at dname")


def test_occluded_name_in_the_nsec_chain_is_an_error() -> None:
    zone = _dname_zone()
    zone.put("x.dname", "NSEC", 300, "sub.example.test. A RRSIG NSEC")
    report = zone.verify()
    assert has_problem(report, "x.dname", "NSEC", "NSEC at a name that must not have one")
    zone = nsec_zone()
    zone.put("ns.sub", "NSEC", 300, "sub.example.test. A RRSIG NSEC")
    assert has_problem(zone.verify(), "ns.sub", "NSEC", "below the zone cut or DNAME at sub")


# --- the NSEC chain -------------------------------------------------------------------------


def _set_nsec(zone: Zone, owner: str, next_name: str, types: str, ttl: int = 300) -> None:
    zone.put(owner, "NSEC", ttl, f"{next_name} {types}")
    zone.resign(owner, NSEC_T)


def test_removed_nsec_is_an_error() -> None:
    zone = nsec_zone()
    zone.delete("www", "NSEC")
    zone.delete("www", "RRSIG", NSEC_T)
    report = zone.verify()
    assert has_problem(report, "www", "NSEC", "no NSEC record for this authoritative name")


def test_chain_must_close_at_the_apex() -> None:
    zone = nsec_zone()
    _set_nsec(zone, "www", "mail.example.test.", "A AAAA RRSIG NSEC")
    report = zone.verify()
    assert has_problem(report, "www", "NSEC", "expected example.test.")


def test_chain_out_of_canonical_order_is_an_error() -> None:
    zone = nsec_zone()
    # canonical: mail < ns1 < ns2 < sub; swap ns1 and ns2 in the chain
    _set_nsec(zone, "mail", "ns2.example.test.", "A RRSIG NSEC")
    _set_nsec(zone, "ns2", "ns1.example.test.", "A RRSIG NSEC")
    _set_nsec(zone, "ns1", "sub.example.test.", "A RRSIG NSEC")
    report = zone.verify()
    assert has_problem(report, "mail", "NSEC", "expected ns1.example.test.")
    assert has_problem(report, "ns2", "NSEC", "not after ns2.example.test. in canonical order")
    assert has_problem(report, "ns1", "NSEC", "expected ns2.example.test.")


def test_nsec_pointing_outside_the_zone_data_is_an_error() -> None:
    zone = nsec_zone()
    _set_nsec(zone, "mail", "gone.example.test.", "A RRSIG NSEC")
    assert has_problem(zone.verify(), "mail", "NSEC", "gone.example.test. is not an authoritative")


def test_wrong_type_bitmap_is_an_error() -> None:
    zone = nsec_zone()
    _set_nsec(zone, "www", "example.test.", "A RRSIG NSEC")
    report = zone.verify()
    assert has_problem(report, "www", "NSEC", "missing AAAA")
    assert not has_problem(report, "www", "NSEC", "does not verify")


def test_delegation_bitmap_lists_only_ns_ds_rrsig_nsec() -> None:
    zone = nsec_zone()
    (nsec,) = zone.get("sub", NSEC_T)
    assert isinstance(nsec, NSEC)
    assert nsec.to_text().endswith("NS DS RRSIG NSEC")
    _set_nsec(zone, "sub", "*.wild.example.test.", "A NS DS RRSIG NSEC")
    assert has_problem(zone.verify(), "sub", "NSEC", "lists absent A")


def test_insecure_delegation_bitmap() -> None:
    zone = nsec_zone()
    _set_nsec(zone, "insecure", "mail.example.test.", "NS DS RRSIG NSEC")
    assert has_problem(zone.verify(), "insecure", "NSEC", "lists absent DS")


def test_nsec_ttl_other_than_rfc_9077_warns() -> None:
    zone = nsec_zone()
    _set_nsec(zone, "www", "example.test.", "A AAAA RRSIG NSEC", ttl=3600)
    report = zone.verify()
    assert report.ok
    assert has_problem(report, "www", "NSEC", "TTL 3600 should be 300", "warning")


def test_two_nsec_records_at_one_name_are_an_error() -> None:
    text = nsec_zone().text() + "www.example.test. 300 IN NSEC sub.example.test. A NSEC\n"
    report = verify_text(text)
    assert has_problem(report, "www", "NSEC", "more than one record of this type at the name")


def test_nsec_at_an_empty_non_terminal_is_an_error() -> None:
    zone = nsec_zone()
    zone.put("b.c", "NSEC", 300, "insecure.example.test. RRSIG NSEC")
    assert has_problem(zone.verify(), "b.c", "NSEC", "it has no other data")


def test_leftover_nsec3_in_an_nsec_zone_is_an_error() -> None:
    zone = nsec_zone()
    zone.put(
        "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom",
        "NSEC3",
        300,
        "1 0 0 - 2t7b4g4vsa5smi47k61mv5bv1a22bojr A",
    )
    report = zone.verify()
    assert report.denial == "NSEC"
    assert has_problem(
        report, "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom", "NSEC3", "in an NSEC-signed zone"
    )


def test_zone_without_any_denial_chain_is_an_error() -> None:
    zone = nsec_zone()
    for name in list(zone.zone.nodes):
        zone.zone.delete_rdataset(name, NSEC_T)
        zone.zone.delete_rdataset(name, dns.rdatatype.RRSIG, NSEC_T)
    report = zone.verify()
    assert report.denial == "none"
    assert has_problem(report, "@", "-", "neither an NSEC nor an NSEC3 chain")


def test_cname_beside_other_data_is_an_error() -> None:
    # dnspython's zone object drops data beside a CNAME, so the mutation is made in the text.
    text = nsec_zone().text() + "www.example.test. 3600 IN CNAME mail.example.test.\n"
    assert has_problem(verify_text(text), "www", "CNAME", "CNAME beside other data (A AAAA")


def verify_text(text: str) -> VerifyReport:
    return verify_contents(read_zone_text(text, "example.test."), now=NOW)
