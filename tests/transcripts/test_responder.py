"""The authoritative responder, messages in and out: queries built with dnspython, answers
parsed with dnspython (and with signwire's own transfer client), DNSSEC proofs checked with
``dns.dnssec.validate`` on the RRsets returned.

The zones are signed by ``signwire sign`` at FIXED_NOW and read back with dnspython's zone
parser, so the responder serves exactly what the signer wrote.
"""

from __future__ import annotations

import base64
import ipaddress
import itertools
import struct
import time
from collections.abc import Callable
from pathlib import Path

import dns.dnssec
import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.zone
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from conftest import FIXED_NOW, CliRunner
from properties.strategies import ZoneCase
from properties.strategies import zones as random_zones
from signwire.errors import SignwireError
from signwire.loading import xfr_in
from signwire.publication import responder
from signwire.publication.journal import Journal
from signwire.publication.responder import Limits, ServedZone, respond, zone_map
from signwire.zones.diff import Diff, apply, diff
from signwire.zones.names import canonical_key
from signwire.zones.version import ZoneVersion

ORIGIN = dns.name.from_text("example.test.")
ORIGIN_WIRE = ORIGIN.to_wire()
PEER = "127.0.0.2"
ACL = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
KEY_NAME = "xfr-key."
SECRET = "c2lnbndpcmUgdGVzdCBrZXkgZm9yIHRyYW5zZmVycyE="
KEY = dns.tsig.Key(KEY_NAME, SECRET)
KEYRING = {KEY.name: KEY}
OTHER = dns.tsig.Key(KEY_NAME, "b3RoZXIgc2VjcmV0IG9mIHRoZSBzYW1lIGtleSBuYW1l")
KEYS = {KEY_NAME: KEY}
VALIDATE_AT = FIXED_NOW + 3600
AXFR, IXFR = 252, 251

ZONE = """\
$ORIGIN example.test.
$TTL 3600
@        1800 IN SOA ns1 hostmaster 2026010101 7200 3600 1209600 600
@        NS    ns1
@        MX    10 mail
ns1      A     192.0.2.1
mail     A     192.0.2.2
www      A     192.0.2.10
www      AAAA  2001:db8::10
*.wild   TXT   "wildcard"
a.b.c    A     192.0.2.11
sub      NS    ns.sub
ns.sub   A     192.0.2.53
sub      DS    12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
insecure NS    ns.example.net.
alias    CNAME www
old      DNAME new.example.test.
x.new    A     192.0.2.5
big      TXT   "{big}"
""".replace("{big}", "x" * 250)
BIG = "\n".join(f'big TXT "{i:03d} {"y" * 200}"' for i in range(8)) + "\n"


def version_of(text: str) -> ZoneVersion:
    z = dns.zone.from_text(text, ORIGIN, relativize=False)
    recs = []
    for name, node in z.nodes.items():
        for rds in node.rdatasets:
            for rd in rds:
                recs.append((name.to_wire(), int(rds.rdtype), rds.ttl, rd.to_wire()))
    return ZoneVersion.from_records(ORIGIN_WIRE, recs)


def sign(signwire: CliRunner, folder: Path, *extra: str) -> ZoneVersion:
    folder.mkdir()
    src = folder / "example.test.zone"
    src.write_text(ZONE + BIG)
    result = signwire("sign", src, "--origin", "example.test.", "--keys", folder / "keys",
                      "--now", str(FIXED_NOW), "-j", "1", "-q", *extra)
    assert result.code == 0, result.err
    return version_of((folder / "example.test.zone.signed").read_text())


@pytest.fixture(scope="module")
def nsec_zone(signwire: CliRunner, tmp_path_factory: pytest.TempPathFactory) -> ZoneVersion:
    return sign(signwire, tmp_path_factory.mktemp("nsec") / "z")


@pytest.fixture(scope="module")
def nsec3_zone(signwire: CliRunner, tmp_path_factory: pytest.TempPathFactory) -> ZoneVersion:
    return sign(signwire, tmp_path_factory.mktemp("nsec3") / "z", "--nsec3", "--salt", "aabb",
                "--iterations", "2")


def served(version: ZoneVersion, **kw: object) -> dict[bytes, ServedZone]:
    kw.setdefault("transfer_acl", ACL)
    return zone_map([ServedZone(version, **kw)])  # type: ignore[arg-type]


def ask(zones: dict[bytes, ServedZone], qname: str, qtype: str, *, do: bool = True,
        tcp: bool = True, payload: int = 1232, now: int = FIXED_NOW,
        **kw: object) -> dns.message.Message:
    q = dns.message.make_query(qname, qtype, want_dnssec=do, use_edns=0, payload=payload)
    out = respond(q.to_wire(), PEER, zones, KEYS, now, tcp=tcp, **kw)  # type: ignore[arg-type]
    assert len(out) == 1
    r = dns.message.from_wire(out[0])
    assert r.id == q.id and r.flags & dns.flags.QR
    return r


def dnskeys(version: ZoneVersion) -> dict[dns.name.Name, dns.rrset.RRset]:
    r = ask(served(version), "example.test.", "DNSKEY")
    return {ORIGIN: r.find_rrset(r.answer, ORIGIN, dns.rdataclass.IN, dns.rdatatype.DNSKEY)}


def validate_section(rrsets: list[dns.rrset.RRset], keys: dict[dns.name.Name, dns.rrset.RRset],
                     skip: Callable[[dns.rrset.RRset], bool] = lambda r: False) -> int:
    """Validate every RRset of a section with its RRSIGs; returns how many were validated."""
    count = 0
    for rrset in rrsets:
        if rrset.rdtype == dns.rdatatype.RRSIG or skip(rrset):
            continue
        sigs = [s for s in rrsets if s.rdtype == dns.rdatatype.RRSIG and s.name == rrset.name
                and s.covers == rrset.rdtype]
        assert sigs, f"no RRSIG for {rrset.name} {dns.rdatatype.to_text(rrset.rdtype)}"
        dns.dnssec.validate(rrset, sigs[0], keys, now=VALIDATE_AT)  # type: ignore[arg-type]
        count += 1
    return count


def covers(owner: dns.name.Name, nxt: dns.name.Name, name: dns.name.Name) -> bool:
    if owner < nxt:
        return owner < name < nxt
    return name > owner or name < nxt  # the last NSEC wraps to the apex


# --- ordinary queries ---------------------------------------------------------------------------


def test_soa_is_answered_authoritatively_with_edns_echoed(nsec_zone: ZoneVersion) -> None:
    r = ask(served(nsec_zone), "EXAMPLE.test.", "SOA", do=False)
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert r.edns == 0 and r.payload == 1232
    (soa,) = r.answer
    assert soa[0].serial == 2026010101 and soa.ttl == 1800
    assert all(rr.rdtype != dns.rdatatype.RRSIG for rr in r.answer)


def test_positive_answer_with_do_carries_a_valid_rrsig(nsec_zone: ZoneVersion) -> None:
    r = ask(served(nsec_zone), "www.example.test.", "AAAA")
    assert r.flags & dns.flags.AA and r.ednsflags & dns.flags.DO
    assert validate_section(r.answer, dnskeys(nsec_zone)) == 1


def test_expire_option_is_the_zones_own_soa_expire(nsec_zone: ZoneVersion) -> None:
    q = dns.message.make_query("example.test.", "SOA", use_edns=0,
                               options=[dns.edns.GenericOption(dns.edns.EXPIRE, b"")])
    (wire,) = respond(q.to_wire(), PEER, served(nsec_zone), KEYS, FIXED_NOW, tcp=True)
    (opt,) = dns.message.from_wire(wire).options
    assert opt.otype == dns.edns.EXPIRE and opt.to_wire() == struct.pack("!I", 1209600)


@pytest.mark.parametrize("zone", ["nsec_zone", "nsec3_zone"])
@pytest.mark.parametrize(("asked", "closest"), [("nothere.a.b.c.", "a.b.c."), ("zzz.", "")])
def test_nxdomain_proof_validates(zone: str, asked: str, closest: str,
                                  request: pytest.FixtureRequest) -> None:
    version: ZoneVersion = request.getfixturevalue(zone)
    qname = dns.name.from_text(asked + "example.test.")
    r = ask(served(version), qname.to_text(), "A")
    assert r.rcode() == dns.rcode.NXDOMAIN and r.flags & dns.flags.AA and not r.answer
    soa = r.find_rrset(r.authority, ORIGIN, dns.rdataclass.IN, dns.rdatatype.SOA)
    assert soa.ttl == 600  # min(SOA TTL 1800, MINIMUM 600), RFC 2308
    keys = dnskeys(version)
    assert validate_section(r.authority, keys) >= 2
    encloser = dns.name.from_text(closest + "example.test.")
    if zone == "nsec_zone":
        nsecs = [x for x in r.authority if x.rdtype == dns.rdatatype.NSEC]
        assert any(covers(x.name, x[0].next, qname) for x in nsecs)
        wildcard = dns.name.from_text("*", encloser)
        assert any(covers(x.name, x[0].next, wildcard) for x in nsecs)
    else:
        check_closest_encloser_proof(r, qname, encloser)


def hash_of(name: dns.name.Name) -> str:
    return dns.dnssec.nsec3_hash(name, "aabb", 2, 1).lower()


def nsec3_covers(r: dns.message.Message, name: dns.name.Name) -> bool:
    """Whether an NSEC3 of the authority section covers ``name``'s hash (RFC 5155 §3.1.7)."""
    h = hash_of(name)
    for x in r.authority:
        if x.rdtype != dns.rdatatype.NSEC3:
            continue
        owner = x.name.labels[0].decode().lower()
        nxt = base64.b32hexencode(x[0].next).decode().lower().rstrip("=")
        if (owner < h < nxt) or (nxt < owner and (h > owner or h < nxt)):
            return True
    return False


def check_closest_encloser_proof(r: dns.message.Message, qname: dns.name.Name,
                                 encloser: dns.name.Name, *, no_wildcard: bool = True) -> None:
    """RFC 5155 §7.2.1/§8.4: the closest encloser matched, the next closer covered, and with
    ``no_wildcard`` the wildcard at the encloser covered too."""
    owners = {x.name.labels[0].decode().lower() for x in r.authority
              if x.rdtype == dns.rdatatype.NSEC3}
    assert hash_of(encloser) in owners
    next_closer = dns.name.Name(qname.labels[-len(encloser.labels) - 1 :])
    assert nsec3_covers(r, next_closer)
    assert nsec3_covers(r, dns.name.from_text("*", encloser)) == no_wildcard


@pytest.mark.parametrize("zone", ["nsec_zone", "nsec3_zone"])
def test_nodata_proof_validates_and_shows_no_type(zone: str,
                                                  request: pytest.FixtureRequest) -> None:
    version: ZoneVersion = request.getfixturevalue(zone)
    r = ask(served(version), "www.example.test.", "TXT")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer and r.flags & dns.flags.AA
    validate_section(r.authority, dnskeys(version))
    denial = [x for x in r.authority if x.rdtype in (dns.rdatatype.NSEC, dns.rdatatype.NSEC3)]
    assert len(denial) == 1
    bitmap_types = {t for w in denial[0][0].windows for t in _types(w)}
    assert dns.rdatatype.A in bitmap_types and dns.rdatatype.TXT not in bitmap_types


def _types(window: tuple[int, bytes]) -> list[int]:
    number, bits = window
    return [number * 256 + i * 8 + j for i, b in enumerate(bits) for j in range(8)
            if b & (0x80 >> j)]


def test_empty_non_terminal_is_nodata_not_nxdomain(nsec_zone: ZoneVersion) -> None:
    r = ask(served(nsec_zone), "b.c.example.test.", "A")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer
    nsec = [x for x in r.authority if x.rdtype == dns.rdatatype.NSEC]
    assert covers(nsec[0].name, nsec[0][0].next, dns.name.from_text("b.c.example.test."))


@pytest.mark.parametrize("zone", ["nsec_zone", "nsec3_zone"])
def test_wildcard_answer_is_synthesised_and_validates(zone: str,
                                                      request: pytest.FixtureRequest) -> None:
    version: ZoneVersion = request.getfixturevalue(zone)
    qname = dns.name.from_text("Foo.wild.example.test.")
    r = ask(served(version), qname.to_text(), "TXT")
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    txt = r.find_rrset(r.answer, qname, dns.rdataclass.IN, dns.rdatatype.TXT)
    assert txt[0].strings == (b"wildcard",)
    keys = dnskeys(version)
    assert validate_section(r.answer, keys) == 1
    # ... with the proof that the name itself does not exist (RFC 4035 §3.1.3.3, RFC 5155
    # §7.2.6: the next closer name covered)
    validate_section(r.authority, keys)
    if zone == "nsec_zone":
        nsec = [x for x in r.authority if x.rdtype == dns.rdatatype.NSEC]
        assert len(nsec) == 1 and covers(nsec[0].name, nsec[0][0].next, qname)
    else:
        assert nsec3_covers(r, qname)


@pytest.mark.parametrize("zone", ["nsec_zone", "nsec3_zone"])
def test_wildcard_nodata_proves_the_wildcard_lacks_the_type(
        zone: str, request: pytest.FixtureRequest) -> None:
    version: ZoneVersion = request.getfixturevalue(zone)
    qname = dns.name.from_text("foo.wild.example.test.")
    r = ask(served(version), qname.to_text(), "A")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer
    validate_section(r.authority, dnskeys(version))
    wildcard = dns.name.from_text("*.wild.example.test.")
    if zone == "nsec_zone":
        nsecs = {x.name: x for x in r.authority if x.rdtype == dns.rdatatype.NSEC}
        assert any(covers(x.name, x[0].next, qname) for x in nsecs.values())
        types = {t for w in nsecs[wildcard][0].windows for t in _types(w)}
        assert dns.rdatatype.TXT in types and dns.rdatatype.A not in types
    else:
        # RFC 5155 §7.2.5: closest encloser proof, and the NSEC3 matching the wildcard.
        check_closest_encloser_proof(r, qname, dns.name.from_text("wild.example.test."),
                                     no_wildcard=False)
        owners = {x.name.labels[0].decode().lower() for x in r.authority
                  if x.rdtype == dns.rdatatype.NSEC3}
        assert hash_of(wildcard) in owners


@pytest.fixture(scope="module")
def opt_out_zone(signwire: CliRunner, tmp_path_factory: pytest.TempPathFactory) -> ZoneVersion:
    return sign(signwire, tmp_path_factory.mktemp("optout") / "z", "--nsec3", "--salt", "aabb",
                "--iterations", "2", "--opt-out")


def test_referral_in_an_opt_out_zone_proves_the_closest_provable_encloser(
        opt_out_zone: ZoneVersion) -> None:
    r = ask(served(opt_out_zone), "www.insecure.example.test.", "A")
    assert not r.flags & dns.flags.AA and r.rcode() == dns.rcode.NOERROR
    validate_section(r.authority, dnskeys(opt_out_zone),
                     skip=lambda x: x.rdtype == dns.rdatatype.NS)
    nsec3 = {x.name.labels[0].decode().lower(): x for x in r.authority
             if x.rdtype == dns.rdatatype.NSEC3}
    # RFC 5155 §7.2.7: the apex matched, and "insecure" covered by an opt-out NSEC3.
    assert hash_of(ORIGIN) in nsec3
    assert hash_of(dns.name.from_text("insecure.example.test.")) not in nsec3
    assert any(x[0].flags & 1 for x in nsec3.values())


def test_dname_substitutes_and_the_target_is_followed(nsec_zone: ZoneVersion) -> None:
    r = ask(served(nsec_zone), "x.old.example.test.", "A")
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert [(x.name.to_text(), x.rdtype) for x in r.answer if x.rdtype != dns.rdatatype.RRSIG] == [
        ("old.example.test.", dns.rdatatype.DNAME), ("x.old.example.test.", dns.rdatatype.CNAME),
        ("x.new.example.test.", dns.rdatatype.A)]
    cname = r.find_rrset(r.answer, dns.name.from_text("x.old.example.test."), dns.rdataclass.IN,
                         dns.rdatatype.CNAME)
    assert cname[0].target == dns.name.from_text("x.new.example.test.")
    # DNAME and A are signed; the CNAME is not, a validator derives it from the DNAME.
    assert validate_section(r.answer, dnskeys(nsec_zone),
                            skip=lambda x: x.rdtype == dns.rdatatype.CNAME) == 2
    # The DNAME's own name is answered as data.
    r = ask(served(nsec_zone), "old.example.test.", "A", do=False)
    assert not r.answer and r.rcode() == dns.rcode.NOERROR


def test_cname_to_a_missing_name_ends_in_nxdomain(nsec_zone: ZoneVersion) -> None:
    zone = bump(nsec_zone, 2026010101, [(name("dangling"), 5, 300, name("gone"))])
    r = ask(served(zone), "dangling.example.test.", "A", do=False)
    assert [x.rdtype for x in r.answer] == [dns.rdatatype.CNAME]
    assert r.rcode() == dns.rcode.NXDOMAIN  # RFC 6604: the last name's rcode


def test_signed_query_gets_a_signed_answer(nsec_zone: ZoneVersion) -> None:
    q = dns.message.make_query("www.example.test.", "A")
    query = xfr_in.sign_message(q.to_wire(), KEY, FIXED_NOW, q.id)
    (wire,) = respond(query[0], "192.0.2.99", served(nsec_zone), KEYS, FIXED_NOW, tcp=False)
    r = dns.message.from_wire(wire, keyring=False)
    assert r.tsig is not None and r.answer
    # The MAC is over our answer and the request's MAC: the NOTIFY-in checker agrees.
    owner = r.tsig.name.to_wire()
    rdata = r.tsig[0]
    start = len(wire) - len(owner) - 10 - len(rdata.to_wire())
    dns.tsig.validate(wire, KEY, r.tsig.name, rdata, FIXED_NOW, query[1], start)


def test_referral_to_signed_child_has_ds_and_glue(nsec_zone: ZoneVersion) -> None:
    r = ask(served(nsec_zone), "host.sub.example.test.", "A")
    assert r.rcode() == dns.rcode.NOERROR and not r.flags & dns.flags.AA and not r.answer
    sub = dns.name.from_text("sub.example.test.")
    r.find_rrset(r.authority, sub, dns.rdataclass.IN, dns.rdatatype.NS)
    assert validate_section(r.authority, dnskeys(nsec_zone),
                            skip=lambda x: x.rdtype == dns.rdatatype.NS) == 1
    glue = r.find_rrset(r.additional, dns.name.from_text("ns.sub.example.test."),
                        dns.rdataclass.IN, dns.rdatatype.A)
    assert glue[0].address == "192.0.2.53"


def test_referral_to_unsigned_child_proves_no_ds(nsec_zone: ZoneVersion) -> None:
    r = ask(served(nsec_zone), "www.insecure.example.test.", "A")
    assert not r.flags & dns.flags.AA
    nsec = r.find_rrset(r.authority, dns.name.from_text("insecure.example.test."),
                        dns.rdataclass.IN, dns.rdatatype.NSEC)
    types = {t for w in nsec[0].windows for t in _types(w)}
    assert dns.rdatatype.NS in types and dns.rdatatype.DS not in types
    validate_section(r.authority, dnskeys(nsec_zone), skip=lambda x: x.rdtype == dns.rdatatype.NS)


def test_ds_at_the_cut_is_answered_by_the_parent(nsec_zone: ZoneVersion) -> None:
    r = ask(served(nsec_zone), "sub.example.test.", "DS")
    assert r.flags & dns.flags.AA
    assert validate_section(r.answer, dnskeys(nsec_zone)) == 1


def test_ds_of_a_served_child_comes_from_the_served_parent(nsec_zone: ZoneVersion) -> None:
    sub = dns.name.from_text("sub.example.test.")
    child = ZoneVersion.from_records(name("sub"), [
        (name("sub"), 6, 300,
         name("ns.sub") + name("h.sub") + struct.pack("!IIIII", 1, 2, 3, 4, 5)),
        (name("sub"), 2, 300, name("ns.sub")),
        (name("www.sub"), 1, 300, bytes((192, 0, 2, 80))),
    ])
    zones = zone_map([ServedZone(nsec_zone), ServedZone(child)])
    r = ask(zones, "sub.example.test.", "DS")
    assert r.flags & dns.flags.AA
    r.find_rrset(r.answer, sub, dns.rdataclass.IN, dns.rdatatype.DS)
    r = ask(zones, "www.sub.example.test.", "A", do=False)
    assert r.flags & dns.flags.AA and r.answer[0][0].address == "192.0.2.80"
    r = ask(zones, "sub.example.test.", "SOA", do=False)
    assert r.answer[0][0].serial == 1


def test_cname_is_followed_within_the_zone(nsec_zone: ZoneVersion) -> None:
    r = ask(served(nsec_zone), "alias.example.test.", "A", do=False)
    assert [x.rdtype for x in r.answer] == [dns.rdatatype.CNAME, dns.rdatatype.A]


def test_unsigned_zone_answers_do_queries_without_proofs() -> None:
    zone = version_of(ZONE)
    r = ask(served(zone), "nothere.example.test.", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert [x.rdtype for x in r.authority] == [dns.rdatatype.SOA]


def test_refused_outside_served_zones_and_for_other_classes(nsec_zone: ZoneVersion) -> None:
    assert ask(served(nsec_zone), "example.com.", "A").rcode() == dns.rcode.REFUSED
    q = dns.message.make_query("example.test.", "SOA", rdclass="CH")
    (wire,) = respond(q.to_wire(), PEER, served(nsec_zone), KEYS, FIXED_NOW, tcp=False)
    assert dns.message.from_wire(wire).rcode() == dns.rcode.REFUSED


def test_hidden_signer_answers_only_soa_and_transfers(nsec_zone: ZoneVersion) -> None:
    zones = served(nsec_zone, answer_queries=False)
    assert ask(zones, "www.example.test.", "A").rcode() == dns.rcode.REFUSED
    assert ask(zones, "example.test.", "SOA").rcode() == dns.rcode.NOERROR


def test_udp_answer_too_big_is_truncated_and_tcp_carries_it(nsec_zone: ZoneVersion) -> None:
    zones = served(nsec_zone)
    r = ask(zones, "big.example.test.", "TXT", tcp=False, payload=1232)
    assert r.flags & dns.flags.TC and not r.answer and not r.authority
    r = ask(zones, "big.example.test.", "TXT", tcp=True)
    assert not r.flags & dns.flags.TC
    assert len(r.find_rrset(r.answer, dns.name.from_text("big.example.test."),
                            dns.rdataclass.IN, dns.rdatatype.TXT)) == 9
    # Without EDNS the limit is 512 octets.
    q = dns.message.make_query("www.example.test.", "ANY")
    (wire,) = respond(q.to_wire(), PEER, zones, KEYS, FIXED_NOW, tcp=False)
    assert len(wire) <= 512


def test_malformed_queries_get_formerr_or_nothing(nsec_zone: ZoneVersion) -> None:
    zones = served(nsec_zone)
    assert respond(b"\x12\x34\x00", PEER, zones, KEYS, FIXED_NOW, tcp=False) == []
    (wire,) = respond(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07exa", PEER, zones,
                      KEYS, FIXED_NOW, tcp=False)
    r = dns.message.from_wire(wire)
    assert r.id == 0x1234 and r.rcode() == dns.rcode.FORMERR and r.flags & dns.flags.RD
    response = dns.message.make_response(dns.message.make_query("example.test.", "SOA"))
    assert respond(response.to_wire(), PEER, zones, KEYS, FIXED_NOW, tcp=False) == []


def test_unknown_edns_version_gets_badvers(nsec_zone: ZoneVersion) -> None:
    q = dns.message.make_query("example.test.", "SOA", use_edns=1)
    (wire,) = respond(q.to_wire(), PEER, served(nsec_zone), KEYS, FIXED_NOW, tcp=False)
    assert dns.message.from_wire(wire).rcode() == dns.rcode.BADVERS


# --- transfers ----------------------------------------------------------------------------------


def transfer(zones: dict[bytes, ServedZone], serial: int | None, *, key: dns.tsig.Key | None = KEY,
             now: int = FIXED_NOW, limit: int = 65535, peer: str = PEER,
             ) -> tuple[xfr_in.Query, list[bytes]]:
    query = xfr_in.make_query(ORIGIN_WIRE, serial=serial, msg_id=4242, now=now, key=key)
    out = respond(query.wire, peer, zones, KEYS, now, tcp=True, limits=Limits(tcp_message=limit))
    return query, out


def read_transfer(query: xfr_in.Query, messages: list[bytes], now: int = FIXED_NOW
                  ) -> xfr_in.Result:
    client = xfr_in.XfrClient(ORIGIN_WIRE, query, peer=PEER, key=KEY)
    result = None
    for wire in messages:
        result = client.feed(wire, now)
    assert result is not None
    return result


def test_axfr_in_several_signed_messages_reads_back_the_same_version(
        nsec_zone: ZoneVersion) -> None:
    query, messages = transfer(served(nsec_zone, transfer_key=KEY_NAME), None, limit=2048)
    assert len(messages) >= 3 and all(len(m) <= 2048 for m in messages)
    result = read_transfer(query, messages)
    assert isinstance(result, xfr_in.FullZone)
    assert ZoneVersion.from_records(ORIGIN_WIRE, result.records) == nsec_zone
    first = dns.message.from_wire(messages[0], keyring=False)
    last = dns.message.from_wire(messages[-1], keyring=False)
    assert first.answer[0].rdtype == dns.rdatatype.SOA == last.answer[-1].rdtype
    assert first.flags & dns.flags.AA


def test_axfr_tsig_chain_verifies_with_dnspython(nsec_zone: ZoneVersion) -> None:
    # dnspython checks TSIG time against the system clock, so this exchange uses it.
    now = int(time.time())
    q = dns.message.make_query(ORIGIN, dns.rdatatype.AXFR)
    q.use_tsig(KEYRING, KEY_NAME)
    messages = respond(q.to_wire(), PEER, served(nsec_zone, transfer_key=KEY_NAME), KEYS, now,
                       tcp=True, limits=Limits(tcp_message=4096))
    assert len(messages) > 1
    ctx = None
    count = 0
    for i, wire in enumerate(messages):
        r = dns.message.from_wire(wire, keyring=KEYRING, request_mac=q.mac, xfr=True,
                                  origin=None, tsig_ctx=ctx, multi=True)
        assert r.had_tsig, f"message {i} is not signed"
        ctx = r.tsig_ctx
        count += sum(len(x) for x in r.answer)
    assert count == nsec_zone.record_count() + 1  # the SOA twice


def test_altered_message_breaks_the_tsig_chain(nsec_zone: ZoneVersion) -> None:
    query, messages = transfer(served(nsec_zone, transfer_key=KEY_NAME), None, limit=2048)
    bad = bytearray(messages[1])
    bad[40] ^= 0x01
    messages[1] = bytes(bad)
    with pytest.raises(xfr_in.TransferError, match="TSIG"):
        read_transfer(query, messages)


def test_transfers_answer_expire_with_the_soa_value_in_every_message(
        nsec_zone: ZoneVersion) -> None:
    # RFC 7314: a secondary takes its expire timer from this option. Passing on a countdown
    # to our own primary's expiry would make the secondaries expire with us (never dark).
    q = dns.message.make_query(ORIGIN, dns.rdatatype.AXFR, use_edns=0,
                               options=[dns.edns.GenericOption(dns.edns.EXPIRE, b"")])
    wire, _ = xfr_in.sign_message(q.to_wire(), KEY, FIXED_NOW, q.id)
    messages = respond(wire, PEER, served(nsec_zone, transfer_key=KEY_NAME), KEYS, FIXED_NOW,
                       tcp=True, limits=Limits(tcp_message=2048))
    assert len(messages) > 1
    for m in messages:
        (opt,) = dns.message.from_wire(m, keyring=False).options
        assert opt.otype == dns.edns.EXPIRE and opt.to_wire() == struct.pack("!I", 1209600)


def test_transfers_need_the_acl_and_the_key(nsec_zone: ZoneVersion) -> None:
    zones = served(nsec_zone, transfer_key=KEY_NAME)

    def rcode(out: list[bytes]) -> int:
        assert len(out) == 1
        return dns.message.from_wire(out[0], keyring=False).rcode()

    assert rcode(transfer(zones, None, peer="192.0.2.99")[1]) == dns.rcode.REFUSED
    assert rcode(transfer(zones, None, key=None)[1]) == dns.rcode.REFUSED  # unsigned
    # Default deny: a zone with no ACL transfers to nobody, even with the key.
    no_acl = zone_map([ServedZone(nsec_zone, transfer_key=KEY_NAME)])
    assert rcode(transfer(no_acl, None)[1]) == dns.rcode.REFUSED
    # Wrong secret: NOTAUTH with BADSIG and no MAC; unknown key: BADKEY; clock skew: BADTIME.
    for key, error in ((OTHER, dns.rcode.BADSIG),
                       (dns.tsig.Key("unknown.", SECRET), dns.rcode.BADKEY)):
        _, out = transfer(zones, None, key=key)
        r = dns.message.from_wire(out[0], keyring=False)
        assert r.rcode() == dns.rcode.NOTAUTH and r.tsig[0].error == error and not r.tsig[0].mac
    query = xfr_in.make_query(ORIGIN_WIRE, serial=None, msg_id=1, now=FIXED_NOW - 1000, key=KEY)
    (wire,) = respond(query.wire, PEER, zones, KEYS, FIXED_NOW, tcp=True)
    r = dns.message.from_wire(wire, keyring=False)
    assert r.rcode() == dns.rcode.NOTAUTH and not r.answer
    tsig = r.tsig[0]
    assert tsig.error == dns.rcode.BADTIME and tsig.time_signed == FIXED_NOW - 1000
    assert tsig.other == struct.pack("!HI", 0, FIXED_NOW) and tsig.mac  # signed: the key is good
    # Its MAC is over the request MAC, the answer and the TSIG variables, as any answer's.
    unsigned = wire[:10] + struct.pack("!H", 0) + wire[12 : wire.index(b"\x07xfr-key")]
    expected, _ = responder.sign(unsigned, KEY, FIXED_NOW - 1000, query.msg_id, query.request_mac,
                                 error=dns.rcode.BADTIME, other=tsig.other)
    assert expected == wire
    # Over UDP an AXFR is refused even to an allowed peer.
    q = xfr_in.make_query(ORIGIN_WIRE, serial=None, msg_id=1, now=FIXED_NOW, key=KEY)
    (wire,) = respond(q.wire, PEER, zones, KEYS, FIXED_NOW, tcp=False)
    assert dns.message.from_wire(wire, keyring=False).rcode() == dns.rcode.REFUSED


def test_refusal_to_a_signed_request_is_signed(nsec_zone: ZoneVersion) -> None:
    zones = served(nsec_zone, transfer_key=KEY_NAME)
    query, out = transfer(zones, None, peer="192.0.2.99")
    client = xfr_in.XfrClient(ORIGIN_WIRE, query, peer=PEER, key=KEY)
    with pytest.raises(xfr_in.TransferError, match="refused with REFUSED"):
        client.feed(out[0], FIXED_NOW)  # signed: the TSIG check passes, the rcode is reported


def bump(version: ZoneVersion, serial: int, extra: list[tuple[bytes, int, int, bytes]],
         drop: Callable[[tuple[bytes, int, int, bytes]], bool] = lambda r: False) -> ZoneVersion:
    recs = []
    for rr in version.records():
        if rr[1] == 6:
            rr = (rr[0], 6, rr[2], rr[3][:-20] + struct.pack("!I", serial) + rr[3][-16:])
        if not drop(rr):
            recs.append(rr)
    return ZoneVersion.from_records(ORIGIN_WIRE, recs + extra)


def name(text: str) -> bytes:
    wire = dns.name.from_text(text, ORIGIN).to_wire()
    assert wire is not None
    return wire


@pytest.fixture(scope="module")
def history(nsec_zone: ZoneVersion) -> tuple[list[ZoneVersion], Journal]:
    v1 = nsec_zone
    v2 = bump(v1, 2026010102, [(name("new"), 1, 300, bytes((192, 0, 2, 77)))])
    v3 = bump(v2, 2026010103, [(name("newer"), 16, 300, b"\x03abc")],
              drop=lambda r: r[0] == name("mail") and r[1] == 1)
    journal = Journal()
    journal.append(diff(v1, v2))
    journal.append(diff(v2, v3))
    return [v1, v2, v3], journal


def test_ixfr_from_the_journal_applies_to_the_newest_version(history: tuple[list[ZoneVersion],
                                                                                Journal]) -> None:
    (v1, v2, v3), journal = history
    zones = served(v3, journal=journal, transfer_key=KEY_NAME)
    query, messages = transfer(zones, v1.serial)
    result = read_transfer(query, messages)
    assert isinstance(result, xfr_in.Diffs)
    assert [(s.from_serial, s.to_serial) for s in result.steps] == [
        (2026010101, 2026010102), (2026010102, 2026010103)]
    version = v1
    for step in result.steps:
        version = apply(version, Diff.from_ixfr(step.deleted, step.added))
    assert version == v3
    # Only the change travels: a few records, not the zone.
    assert sum(len(s.deleted) + len(s.added) for s in result.steps) < 20
    # From the middle of the journal: one step.
    query, messages = transfer(zones, v2.serial)
    result = read_transfer(query, messages)
    assert isinstance(result, xfr_in.Diffs) and len(result.steps) == 1


def test_ixfr_from_the_current_serial_is_the_soa_alone(history: tuple[list[ZoneVersion],
                                                                      Journal]) -> None:
    (_, _, v3), journal = history
    zones = served(v3, journal=journal, transfer_key=KEY_NAME)
    query, messages = transfer(zones, v3.serial)
    assert isinstance(read_transfer(query, messages), xfr_in.UpToDate)
    query, messages = transfer(zones, v3.serial + 5)  # a client ahead of us
    r = dns.message.from_wire(messages[0], keyring=False)
    assert len(messages) == 1 and [x.rdtype for x in r.answer] == [dns.rdatatype.SOA]


def test_ixfr_the_journal_cannot_serve_falls_back_to_the_whole_zone(
        history: tuple[list[ZoneVersion], Journal]) -> None:
    (_, _, v3), journal = history
    for zones in (served(v3, journal=journal, transfer_key=KEY_NAME),
                  served(v3, transfer_key=KEY_NAME)):
        query, messages = transfer(zones, 2025000000)
        result = read_transfer(query, messages)
        assert isinstance(result, xfr_in.FullZone)
        assert ZoneVersion.from_records(ORIGIN_WIRE, result.records) == v3


def test_ixfr_over_udp_sends_a_small_diff_or_the_soa(history: tuple[list[ZoneVersion],
                                                                    Journal]) -> None:
    (_v1, v2, v3), journal = history
    zones = served(v3, journal=journal)
    q = xfr_in.make_query(ORIGIN_WIRE, serial=v2.serial, msg_id=7, now=FIXED_NOW)
    (wire,) = respond(q.wire, PEER, zones, KEYS, FIXED_NOW, tcp=False)
    r = dns.message.from_wire(wire, one_rr_per_rrset=True)
    # SOA, old SOA, the deleted A, new SOA, the added TXT, SOA
    assert [x.rdtype for x in r.answer] == [6, 6, 1, 6, 16, 6]
    # The whole zone does not fit in UDP: the SOA alone sends the client to TCP.
    q = xfr_in.make_query(ORIGIN_WIRE, serial=2025000000, msg_id=8, now=FIXED_NOW)
    (wire,) = respond(q.wire, PEER, zones, KEYS, FIXED_NOW, tcp=False)
    r = dns.message.from_wire(wire)
    assert [x.rdtype for x in r.answer] == [dns.rdatatype.SOA] and len(r.answer[0]) == 1


def test_ixfr_without_the_clients_soa_is_formerr(nsec_zone: ZoneVersion) -> None:
    q = dns.message.make_query(ORIGIN, dns.rdatatype.IXFR)
    (wire,) = respond(q.to_wire(), PEER, served(nsec_zone), KEYS, FIXED_NOW, tcp=True)
    assert dns.message.from_wire(wire).rcode() == dns.rcode.FORMERR


# --- the journal --------------------------------------------------------------------------------


def test_journal_is_bounded_by_count_and_bytes(nsec_zone: ZoneVersion) -> None:
    versions = [nsec_zone]
    for i in range(1, 6):
        versions.append(bump(versions[-1], 2026010101 + i, [(name(f"n{i}"), 1, 300, bytes(4))]))
    diffs = [diff(a, b) for a, b in itertools.pairwise(versions)]
    journal = Journal(max_diffs=3)
    for d in diffs:
        journal.append(d)
    assert len(journal) == 3 and journal.oldest == versions[2].serial
    assert journal.chain(versions[1].serial, versions[5].serial) is None
    assert journal.chain(versions[2].serial, versions[5].serial) == diffs[2:]
    assert journal.chain(versions[5].serial, versions[5].serial) == []
    assert journal.chain(versions[2].serial, versions[4].serial) is None  # not the newest
    small = Journal(max_bytes=diffs[0].wire_size * 2)
    for d in diffs:
        small.append(d)
    assert len(small) == 2 and small.size <= diffs[0].wire_size * 2
    # A diff that does not continue the chain starts it over.
    journal.append(diff(versions[0], versions[1]))
    assert len(journal) == 1 and journal.serial == versions[1].serial
    with pytest.raises(ValueError, match="forward"):
        journal.append(diff(versions[1], versions[0]))


# --- nothing but answers or FORMERR, whatever comes in ------------------------------------------


def _seed_queries() -> list[bytes]:
    out = []
    for qname, qtype in (("www.example.test.", "A"), ("nothere.example.test.", "AAAA"),
                         ("example.test.", "AXFR"), ("example.test.", "SOA")):
        q = dns.message.make_query(qname, qtype, want_dnssec=True)
        out.append(q.to_wire())
    out.append(xfr_in.make_query(ORIGIN_WIRE, serial=1, msg_id=3, now=FIXED_NOW, key=KEY).wire)
    return out


SEEDS = _seed_queries()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    wire = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        action = draw(st.integers(0, 2))
        at = draw(st.integers(0, len(wire)))
        if action == 0 and at < len(wire):
            wire[at] = draw(st.integers(0, 255))
        elif action == 1:
            del wire[at:]
        else:
            wire[at:at] = draw(st.binary(max_size=8))
    return bytes(wire)


@given(st.one_of(mutated(), st.binary(max_size=300)), st.booleans())
def test_random_and_mutated_messages_never_raise(nsec3_zone: ZoneVersion, wire: bytes,
                                                 tcp: bool) -> None:
    zones = served(nsec3_zone, transfer_key=KEY_NAME)
    try:
        out = respond(wire, PEER, zones, KEYS, FIXED_NOW, tcp=tcp)
    except SignwireError:
        return
    for answer in out:
        assert len(answer) >= 12 and answer[:2] == wire[:2] and answer[2] & 0x80
        dns.message.from_wire(answer, keyring=False)  # what we send always parses


@given(st.one_of(mutated(), st.sampled_from(SEEDS)), st.booleans())
def test_fast_path_answers_as_dnspythons_reading_does(nsec_zone: ZoneVersion, wire: bytes,
                                                      tcp: bool) -> None:
    # Everyday queries skip dnspython's parser; whatever that path accepts must get the
    # answer the full parse gives.
    zones = served(nsec_zone)
    fast = respond(wire, PEER, zones, KEYS, FIXED_NOW, tcp=tcp)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(responder, "_quick_request", lambda *args: None)
        slow = respond(wire, PEER, zones, KEYS, FIXED_NOW, tcp=tcp)
    assert fast == slow


# --- random signed zones: every answer validates, every denial proves ---------------------------

RANDOM_DENIAL = {
    "nsec": (),
    "nsec3": ("--nsec3",),
    "nsec3-optout": ("--nsec3", "--opt-out"),
}


@pytest.fixture(scope="module")
def random_keys(signwire: CliRunner, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("random-keys")
    sign(signwire, folder / "first")  # makes the keys once; the random zones reuse them
    return folder / "first" / "keys"


def _unsigned_allowed(r: dns.message.Message, rrset: dns.rrset.RRset, section: str) -> bool:
    if section == "authority" and rrset.rdtype == dns.rdatatype.NS:
        return not r.flags & dns.flags.AA  # a referral's NS is the child's, never signed
    if section == "answer" and rrset.rdtype == dns.rdatatype.CNAME:
        return any(x.rdtype == dns.rdatatype.DNAME for x in r.answer)  # synthesised
    return False


def _check_signed(r: dns.message.Message, keys: dict[dns.name.Name, dns.rrset.RRset]) -> None:
    for section in ("answer", "authority"):
        rrsets = getattr(r, section)
        for rrset in rrsets:
            if rrset.rdtype == dns.rdatatype.RRSIG:
                continue
            sigs = [s for s in rrsets if s.rdtype == dns.rdatatype.RRSIG
                    and s.name == rrset.name and s.covers == rrset.rdtype]
            if not sigs:
                assert _unsigned_allowed(r, rrset, section), f"unsigned {section}: {rrset}"
                continue
            dns.dnssec.validate(rrset, sigs[0], keys, now=VALIDATE_AT)  # type: ignore[arg-type]


def _nsec3_hash(name: dns.name.Name) -> str:
    return dns.dnssec.nsec3_hash(name, None, 0, 1).lower()


def _nsec3_proves(r: dns.message.Message, name: dns.name.Name, *, match: bool) -> bool:
    h = _nsec3_hash(name)
    for x in r.authority:
        if x.rdtype != dns.rdatatype.NSEC3:
            continue
        owner = x.name.labels[0].decode().lower()
        nxt = base64.b32hexencode(x[0].next).decode().lower().rstrip("=")
        if match and owner == h:
            return True
        if not match and ((owner < h < nxt) or (nxt <= owner and (h > owner or h < nxt))):
            return True
    return False


def _check_nxdomain(r: dns.message.Message, version: ZoneVersion, qname: dns.name.Name,
                    denial: str) -> None:
    encloser = qname.parent()
    while not version.exists(canonical_key(encloser.to_wire())):
        encloser = encloser.parent()
    next_closer = dns.name.Name(qname.labels[-len(encloser.labels) - 1 :])
    wildcard = dns.name.from_text("*", encloser)
    if denial == "nsec":
        nsecs = [x for x in r.authority if x.rdtype == dns.rdatatype.NSEC]
        assert any(covers(x.name, x[0].next, qname) for x in nsecs), "qname not covered"
        assert any(covers(x.name, x[0].next, wildcard) for x in nsecs), "wildcard not covered"
    else:
        assert _nsec3_proves(r, next_closer, match=False), "next closer not covered"
        assert _nsec3_proves(r, wildcard, match=False), "wildcard not covered"
        if denial == "nsec3":
            assert _nsec3_proves(r, encloser, match=True), "closest encloser not matched"


def _check_nodata(r: dns.message.Message, qname: dns.name.Name, qtype: str,
                  denial: str) -> None:
    """NODATA: the name's own NSEC/NSEC3 without the type (nor CNAME), or for an empty
    non-terminal or a wildcard the proof that the name is not there as such."""
    rdtype = dns.rdatatype.from_text(qtype)
    for x in r.authority:
        if x.rdtype not in (dns.rdatatype.NSEC, dns.rdatatype.NSEC3):
            continue
        types = {t for w in x[0].windows for t in _types(w)}
        if x.rdtype == dns.rdatatype.NSEC:
            if x.name == qname and rdtype not in types and dns.rdatatype.CNAME not in types:
                return
            if covers(x.name, x[0].next, qname):
                return
        elif x.name.labels[0].decode().lower() == _nsec3_hash(qname):
            assert rdtype not in types and dns.rdatatype.CNAME not in types
            return
    if denial == "nsec3":
        # A wildcard NODATA (RFC 5155 §7.2.5): the next closer name is covered.
        assert any(x.rdtype == dns.rdatatype.NSEC3 for x in r.authority)
        return
    raise AssertionError(f"no NODATA proof for {qname} {qtype}")


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(zone=random_zones(max_subtrees=6), denial=st.sampled_from(sorted(RANDOM_DENIAL)),
       data=st.data())
def test_random_signed_zones_answer_with_valid_signatures_and_proofs(
        signwire: CliRunner, tmp_path_factory: pytest.TempPathFactory, random_keys: Path,
        zone: ZoneCase, denial: str, data: st.DataObject) -> None:
    work = tmp_path_factory.mktemp("random-zone")
    src = work / "z.zone"
    src.write_text(zone.text)
    result = signwire("sign", src, "--origin", zone.origin, "--keys", random_keys, "--now",
                      str(FIXED_NOW), "-j", "1", "-q", *RANDOM_DENIAL[denial])
    assert result.code == 0, result.err
    version = version_of((work / "z.zone.signed").read_text())
    zones_ = served(version)
    keys = dnskeys(version)
    owners = [dns.name.from_text(n) for n in zone.names]
    asked = data.draw(st.lists(st.sampled_from(owners), min_size=1, max_size=6))
    for owner in asked:
        for qname in (owner, dns.name.from_text("zq9", owner)):
            qtype = data.draw(st.sampled_from(["A", "TXT", "DS", "NS", "AAAA", "CNAME"]))
            r = ask(zones_, qname.to_text(), qtype, tcp=True)
            note(f"{qname} {qtype}: {r}")
            assert r.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN)
            _check_signed(r, keys)
            if r.rcode() == dns.rcode.NXDOMAIN and not r.answer:
                _check_nxdomain(r, version, qname, denial)
            elif (r.rcode() == dns.rcode.NOERROR and not r.answer and r.flags & dns.flags.AA
                  and denial != "nsec3-optout"):
                _check_nodata(r, qname, qtype, denial)
