"""NSEC3 checks on zones from the test-only NSEC3 signer: each passes clean and fails mutated."""

from __future__ import annotations

import dns.name
import dns.rdatatype
from test_verify_support import (
    APEX_DNAME,
    Zone,
    has_problem,
    messages,
    nsec3_owner,
    sign_nsec3,
)

NSEC3 = dns.rdatatype.NSEC3
NSEC3PARAM = dns.rdatatype.NSEC3PARAM
RRSIG = dns.rdatatype.RRSIG


def _owner_label(zone: Zone, name: str) -> str:
    return nsec3_owner(zone, name).split(".")[0]


def _replace_nsec3(zone: Zone, name: str, rdata: str, *, ttl: int = 300) -> str:
    """Replace the NSEC3 of ``name`` (re-signed, so only the content is wrong)."""
    label = _owner_label(zone, name)
    zone.put(label, "NSEC3", ttl, rdata)
    zone.resign(label, NSEC3)
    return label


def _nsec3_text(zone: Zone, name: str) -> str:
    label = _owner_label(zone, name)
    return zone.get(label, NSEC3)[0].to_text()


def test_clean_nsec3_zone_has_no_problem() -> None:
    zone = sign_nsec3()
    report = zone.verify()
    assert zone.lean_vouched
    assert report.ok
    assert report.problems == []
    assert report.denial == "NSEC3"
    # 9 authoritative names and 3 empty non-terminals (c, b.c, and wild above *.wild)
    assert report.counts.nsec3_records == 12


def test_iterations_and_salt_warn_citing_rfc_9276() -> None:
    report = sign_nsec3(iterations=3, salt=b"\xaa\xbb").verify()
    assert report.ok
    assert has_problem(report, "@", "NSEC3PARAM", "3 additional hash iterations", "warning")
    assert has_problem(report, "@", "NSEC3PARAM", "RFC 9276", "warning")
    assert has_problem(report, "@", "NSEC3PARAM", "a salt is set", "warning")


def test_missing_nsec3param_is_an_error() -> None:
    zone = sign_nsec3()
    zone.delete("@", "NSEC3PARAM")
    zone.delete("@", "RRSIG", NSEC3PARAM)
    report = zone.verify()
    assert has_problem(report, "@", "NSEC3PARAM", "no NSEC3PARAM at the apex")
    # the chain itself is still checked with the parameters the records use
    assert report.denial == "NSEC3"


def test_nsec3param_flags_must_be_zero() -> None:
    zone = sign_nsec3()
    zone.put("@", "NSEC3PARAM", 0, "1 1 0 -")
    zone.resign("@", NSEC3PARAM)
    assert has_problem(zone.verify(), "@", "NSEC3PARAM", "flags are 1, must be 0")


def test_nsec3_parameters_must_match_the_nsec3param() -> None:
    zone = sign_nsec3()
    text = _nsec3_text(zone, "www").replace("1 0 0 -", "1 0 2 -", 1)
    owner = _replace_nsec3(zone, "www", text)
    report = zone.verify()
    assert has_problem(report, owner, "NSEC3", "2 iterations, salt -) differ from the NSEC3PARAM")


def test_unknown_nsec3_flags_are_an_error() -> None:
    zone = sign_nsec3()
    text = _nsec3_text(zone, "www").replace("1 0 0 -", "1 2 0 -", 1)
    owner = _replace_nsec3(zone, "www", text)
    assert has_problem(zone.verify(), owner, "NSEC3", "unknown flags 0x02")


def test_removed_nsec3_is_an_error() -> None:
    zone = sign_nsec3()
    label = _owner_label(zone, "www")
    zone.zone.delete_node(zone.name(label))
    report = zone.verify()
    assert has_problem(report, "www", "NSEC3", "no NSEC3 for this name (expected owner " + label)
    # and its predecessor now points to a hash that is not in the chain
    assert any("next hashed owner is " + label in m for m in messages(report))


def test_empty_non_terminal_needs_an_nsec3_with_an_empty_bitmap() -> None:
    zone = sign_nsec3()
    assert _nsec3_text(zone, "b.c").split()[-1] == _nsec3_text(zone, "b.c").split()[4]
    label = _owner_label(zone, "b.c")
    zone.zone.delete_node(zone.name(label))
    assert has_problem(zone.verify(), "b.c", "NSEC3", "no NSEC3 for this empty non-terminal")

    zone = sign_nsec3()
    text = _nsec3_text(zone, "c") + " A"
    _replace_nsec3(zone, "c", text)
    report = zone.verify()
    assert has_problem(report, "c", "NSEC3", "is A, expected (empty)")


def test_wrong_nsec3_bitmap_is_an_error() -> None:
    zone = sign_nsec3()
    text = _nsec3_text(zone, "www").replace(" AAAA", "")
    _replace_nsec3(zone, "www", text)
    report = zone.verify()
    assert has_problem(report, "www", "NSEC3", "missing AAAA")


def test_delegation_bitmaps() -> None:
    zone = sign_nsec3()
    assert _nsec3_text(zone, "sub").endswith("NS DS RRSIG")
    assert _nsec3_text(zone, "insecure").endswith(" NS")
    _replace_nsec3(zone, "insecure", _nsec3_text(zone, "insecure") + " RRSIG")
    assert has_problem(zone.verify(), "insecure", "NSEC3", "lists absent RRSIG")


def test_chain_must_be_closed_and_in_hash_order() -> None:
    zone = sign_nsec3()
    fields = _nsec3_text(zone, "www").split()
    fields[4] = _owner_label(zone, "www")  # points to itself
    owner = _replace_nsec3(zone, "www", " ".join(fields))
    report = zone.verify()
    assert has_problem(report, owner, "NSEC3", "chain not closed or not in hash order")


def test_nsec3_for_glue_or_occluded_names_is_an_error() -> None:
    zone = sign_nsec3()
    label = _owner_label(zone, "ns.sub")
    zone.put(label, "NSEC3", 300, "1 0 0 - " + _owner_label(zone, "www") + " A")
    zone.resign(label, NSEC3)
    assert has_problem(zone.verify(), label, "NSEC3", "hashes no name that needs one")


def test_nsec3_owner_must_be_a_hash_one_label_below_the_apex() -> None:
    zone = sign_nsec3()
    zone.put("notahash", "NSEC3", 300, "1 0 0 - " + _owner_label(zone, "www") + " A")
    zone.put("x.y", "NSEC3", 300, "1 0 0 - " + _owner_label(zone, "www") + " A")
    report = zone.verify()
    assert has_problem(report, "notahash", "NSEC3", "not a base32hex SHA-1 hash")
    assert has_problem(report, "x.y", "NSEC3", "one label below the apex")


def test_opt_out_may_leave_out_insecure_delegations() -> None:
    zone = sign_nsec3(opt_out=True)
    assert zone.zone.get_node(dns.name.from_text(nsec3_owner(zone, "insecure"))) is None
    report = zone.verify()
    assert report.ok, messages(report)


def test_leaving_out_an_insecure_delegation_needs_opt_out() -> None:
    zone = sign_nsec3()
    label = _owner_label(zone, "insecure")
    zone.zone.delete_node(zone.name(label))
    report = zone.verify()
    assert has_problem(report, "insecure", "NSEC3", "covering NSEC3")
    assert has_problem(report, "insecure", "NSEC3", "lacks the Opt-Out flag")


def test_secure_delegation_is_never_opted_out() -> None:
    zone = sign_nsec3(opt_out=True)
    label = _owner_label(zone, "sub")
    zone.zone.delete_node(zone.name(label))
    assert has_problem(zone.verify(), "sub", "NSEC3", "no NSEC3 for this name")


def test_mixed_opt_out_flags_warn() -> None:
    zone = sign_nsec3()
    text = _nsec3_text(zone, "www").replace("1 0 0 -", "1 1 0 -", 1)
    _replace_nsec3(zone, "www", text)
    report = zone.verify()
    assert report.ok
    assert has_problem(report, "@", "NSEC3", "1 NSEC3 records have the Opt-Out flag", "warning")


def test_leftover_nsec_in_an_nsec3_zone_is_an_error() -> None:
    zone = sign_nsec3()
    zone.put("www", "NSEC", 300, "example.test. A AAAA RRSIG NSEC")
    report = zone.verify()
    assert report.denial == "NSEC3"
    assert has_problem(report, "www", "NSEC", "NSEC record in an NSEC3-signed zone")


def test_unsigned_nsec3_is_an_error() -> None:
    zone = sign_nsec3()
    label = _owner_label(zone, "www")
    zone.delete(label, "RRSIG", NSEC3)
    assert has_problem(zone.verify(), label, "NSEC3", "RRset is not signed")


def test_nsec3_ttl_other_than_rfc_9077_warns() -> None:
    zone = sign_nsec3()
    _replace_nsec3(zone, "www", _nsec3_text(zone, "www"), ttl=3600)
    report = zone.verify()
    assert report.ok
    assert has_problem(
        report, _owner_label(zone, "www"), "NSEC3", "TTL 3600 should be 300", "warning"
    )


def test_unknown_nsec3_hash_algorithm_is_an_error() -> None:
    zone = sign_nsec3()
    zone.put("@", "NSEC3PARAM", 0, "2 0 0 -")
    zone.resign("@", NSEC3PARAM)
    report = zone.verify()
    assert has_problem(report, "@", "NSEC3PARAM", "unknown NSEC3 hash algorithm 2")
    assert not report.ok



def test_dname_at_the_apex_does_not_occlude_the_nsec3_chain() -> None:
    # RFC 6672 §2.3 occludes names below a DNAME, but the NSEC3 owners at the apex are the
    # zone's own denial records, not data below the DNAME (ldns, BIND and Knot accept this).
    zone = sign_nsec3(APEX_DNAME)
    report = zone.verify()
    assert zone.lean_vouched
    assert report.ok, messages(report)
    assert report.counts.nsec3_records == 1


def test_data_below_an_apex_dname_is_still_occluded() -> None:
    zone = sign_nsec3(APEX_DNAME)
    zone.put("www", "A", 3600, "192.0.2.1")
    zone.resign("www", dns.rdatatype.A)
    report = zone.verify()
    assert has_problem(report, "www", "A", "non-authoritative data")
