"""The signer's records against dnspython as an oracle.

Ed25519 signatures are deterministic (RFC 8032), so for the same key, times and RRset the
signer's RRSIG must be byte for byte what ``dns.dnssec.sign`` makes: this pins the canonical
form (owner case, RDATA name case, record order, duplicates) without trusting our own verifier.
"""

from __future__ import annotations

import base64
import textwrap

import dns.dnssec
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone
import pytest

from signwire.errors import ZoneDataError
from signwire.keystore import crypto
from signwire.keystore.model import ZoneKey
from signwire.loading.zonefile import read_zonefile
from signwire.policy import algorithms
from signwire.policy.model import KeyRole
from signwire.publication.zonetext import render
from signwire.signing import full
from signwire.signing.context import load_signers
from signwire.signing.keyset import SigningKeys
from signwire.signing.nsec3 import nsec3_hash
from signwire.signing.options import Nsec3Params, SigningOptions
from signwire.zones import names
from signwire.zones.kinds import NameKind
from signwire.zones.snapshot import build

NOW = 1_780_000_000
ORIGIN = "example.test."

ZONE = textwrap.dedent(
    """\
    $ORIGIN example.test.
    $TTL 3600
    @        SOA ns1 hostmaster 1 7200 3600 1209600 300
    @        NS  ns1
    @        NS  NS1.Example.TEST.
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


def _key(
    origin: bytes, role: KeyRole, algorithm: int = algorithms.ED25519
) -> tuple[ZoneKey, object]:
    private = crypto.generate(algorithm)
    public = crypto.public_key_field(algorithm, private)
    flags = 256 if role is KeyRole.ZSK else 257
    rdata = flags.to_bytes(2, "big") + bytes((3, algorithm)) + public
    key = ZoneKey(
        origin,
        algorithm,
        flags,
        public,
        algorithms.key_tag(rdata),
        role,
        crypto.signer_spec(algorithm, private),
        "test",
    )
    return key, private


@pytest.fixture
def signed(tmp_path):
    def sign(options: SigningOptions, zone: str = ZONE) -> tuple[dns.zone.Zone, list[ZoneKey]]:
        path = tmp_path / "z.zone"
        path.write_text(zone)
        origin = names.from_text(ORIGIN, None)
        ksk, _ = _key(origin, KeyRole.KSK)
        zsk, _ = _key(origin, KeyRole.ZSK)
        snapshot = build(read_zonefile(str(path), origin))
        plan = full.plan(snapshot, SigningKeys.by_role([ksk, zsk]), options, NOW)
        text, _ = render(plan.units, plan.context, load_signers(plan.context))
        zone = dns.zone.from_text(text, origin=ORIGIN, relativize=False, check_origin=True)
        return zone, [ksk, zsk]

    return sign


def _dnskeys(zone: dns.zone.Zone) -> dict[dns.name.Name, object]:
    origin = dns.name.from_text(ORIGIN)
    return {origin: zone.find_rdataset(origin, dns.rdatatype.DNSKEY)}


def test_every_rrsig_is_exactly_dnspythons(signed):
    zone, keys = signed(SigningOptions(jitter=3600))
    dnskeys = _dnskeys(zone)
    by_tag = {k.key_tag: k for k in keys}
    checked = 0
    for name, node in zone.nodes.items():
        for sigset in [rds for rds in node.rdatasets if rds.rdtype == dns.rdatatype.RRSIG]:
            for sig in sigset:
                covered = node.get_rdataset(dns.rdataclass.IN, sig.type_covered)
                key = crypto.private_key_from_spec(by_tag[sig.key_tag].signer)
                expected = dns.dnssec.sign(
                    (name, covered),
                    key,
                    dns.name.from_text(ORIGIN),
                    dns.dnssec.make_dnskey(
                        key.public_key(), algorithms.ED25519, by_tag[sig.key_tag].flags
                    ),
                    inception=sig.inception,
                    expiration=sig.expiration,
                )
                assert sig == expected, f"{name} {dns.rdatatype.to_text(sig.type_covered)}"
                dns.dnssec.validate_rrsig((name, covered), sig, dnskeys, now=NOW)
                checked += 1
    assert checked > 15


def test_key_roles_and_timing(signed):
    options = SigningOptions(validity=10 * 86400, jitter=7200)
    zone, (ksk, zsk) = signed(options)
    origin = dns.name.from_text(ORIGIN)
    sigs = {
        (n, r.type_covered, r.key_tag): r
        for n, node in zone.nodes.items()
        for rds in node.rdatasets
        if rds.rdtype == dns.rdatatype.RRSIG
        for r in rds
    }
    assert {t for (n, t, tag) in sigs if tag == ksk.key_tag} == {dns.rdatatype.DNSKEY}
    assert (origin, dns.rdatatype.DNSKEY, zsk.key_tag) not in sigs
    for sig in sigs.values():
        assert sig.inception == NOW - 3600
        assert NOW + 10 * 86400 - 7200 <= sig.expiration <= NOW + 10 * 86400
    assert len({s.expiration for s in sigs.values()}) > 3  # jitter spreads them


def test_zone_cuts_wildcards_and_dname(signed):
    zone, _ = signed(SigningOptions())

    def types(name: str, covered: bool = False) -> set[str]:
        node = zone.get_node(name)
        if covered:
            return {
                dns.rdatatype.to_text(r.type_covered)
                for rds in node.rdatasets
                if rds.rdtype == dns.rdatatype.RRSIG
                for r in rds
            }
        return {dns.rdatatype.to_text(rds.rdtype) for rds in node.rdatasets}

    assert types("sub.example.test.", covered=True) == {"DS", "NSEC"}
    assert types("open.example.test.", covered=True) == {"NSEC"}
    assert types("ns.sub.example.test.") == {"A"}  # glue: unsigned, no NSEC
    assert types("below.dn.example.test.") == {"A"}  # occluded by the DNAME
    assert types("dn.example.test.", covered=True) == {"DNAME", "NSEC"}
    wild = zone.find_rdataset("*.wild.example.test.", dns.rdatatype.RRSIG, dns.rdatatype.TXT)
    assert {r.labels for r in wild} == {3}  # the * label does not count (RFC 4034 §3.1.3)
    nsec = zone.find_rdataset("sub.example.test.", dns.rdatatype.NSEC)[0]
    assert _nsec_types(nsec) == {"DS", "NS", "NSEC", "RRSIG"}


def _nsec_types(rdata) -> set[str]:
    out = set()
    for window, bitmap in rdata.windows:
        for i, byte in enumerate(bitmap):
            for bit in range(8):
                if byte & (0x80 >> bit):
                    out.add(dns.rdatatype.to_text(window * 256 + i * 8 + bit))
    return out


def test_nsec_chain_is_closed_and_canonical(signed):
    zone, _ = signed(SigningOptions())
    chain = {}
    for name, node in zone.nodes.items():
        rds = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NSEC)
        if rds:
            chain[name] = rds[0]
    ordered = sorted(chain)  # dns.name.Name sorts canonically
    for here, there in zip(ordered, ordered[1:] + ordered[:1], strict=True):
        assert chain[here].next == there
    nsec_rds = zone.find_rdataset(ORIGIN, dns.rdatatype.NSEC)
    assert nsec_rds.ttl == 300  # RFC 9077: min(SOA TTL 3600, MINIMUM 300)
    assert _nsec_types(chain[dns.name.from_text(ORIGIN)]) == {
        "SOA",
        "NS",
        "MX",
        "RRSIG",
        "NSEC",
        "DNSKEY",
    }


@pytest.mark.parametrize("opt_out", [False, True])
def test_nsec3_chain(signed, opt_out):
    params = Nsec3Params(iterations=2, salt=b"\xab\xcd", opt_out=opt_out)
    zone, _ = signed(SigningOptions(nsec3=params))
    param = zone.find_rdataset(ORIGIN, dns.rdatatype.NSEC3PARAM)[0]
    assert (param.iterations, param.salt, param.flags) == (2, b"\xab\xcd", 0)
    hashed = {}
    for name, node in zone.nodes.items():
        rds = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NSEC3)
        if rds:
            assert len(name) == 4  # one hash label below the apex
            hashed[name.labels[0].decode().upper()] = rds[0]
    expected_names = [
        "example.test.",
        "ns1.example.test.",
        "www.example.test.",
        "*.wild.example.test.",
        "wild.example.test.",
        "a.b.c.example.test.",
        "b.c.example.test.",
        "c.example.test.",
        "sub.example.test.",
        "x\\.y.example.test.",
        "dn.example.test.",
    ]
    if not opt_out:
        expected_names.append("open.example.test.")
    expected = {dns.dnssec.nsec3_hash(n, b"\xab\xcd", 2, 1): n for n in expected_names}
    assert set(hashed) == set(expected)
    for rdata in hashed.values():
        assert rdata.flags == (1 if opt_out else 0)
    ent = hashed[dns.dnssec.nsec3_hash("c.example.test.", b"\xab\xcd", 2, 1)]
    assert _nsec_types(ent) == set()  # empty non-terminal: empty bitmap
    # the hash is taken over the lowercased name (RFC 5155 §5)
    own = nsec3_hash(names.from_text("C.Example.TEST.", None), params)
    theirs = dns.dnssec.nsec3_hash("c.example.test.", b"\xab\xcd", 2, 1)
    assert base64.b32hexencode(own).decode() == theirs


def test_snapshot_classifies_names(tmp_path):
    path = tmp_path / "z"
    path.write_text(ZONE)
    snapshot = build(read_zonefile(str(path), names.from_text(ORIGIN, None)))
    kinds = {names.to_text(recs[0][0]).lower(): kind for _, kind, recs in snapshot.names}
    assert kinds["example.test."] is NameKind.APEX
    assert kinds["sub.example.test."] is NameKind.DELEGATION
    assert kinds["ns.sub.example.test."] is NameKind.OCCLUDED
    assert kinds["below.dn.example.test."] is NameKind.OCCLUDED
    assert kinds["dn.example.test."] is NameKind.AUTH
    assert kinds["www.example.test."] is NameKind.AUTH
    www_wire = b"\x03www\x07example\x04test\x00"
    www = next(recs for _, _, recs in snapshot.names if recs[0][0].lower() == www_wire)
    assert len(www) == 2  # WWW and www are one name
    assert snapshot.serial == 1


def test_snapshot_sorts_types_drops_duplicates_and_flags_ttls(tmp_path):
    # Shapes the snapshot's fast path decides without check_name, and their near misses.
    path = tmp_path / "z"
    path.write_text(
        textwrap.dedent(
            """\
            $TTL 300
            @ IN SOA ns1 host 1 3600 600 86400 300
            @ IN NS ns1
            ns1 IN A 192.0.2.1
            d1 IN DS 1 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
            d1 IN NS ns1
            d2 IN NS ns1
            d2 IN NS ns1
            h IN AAAA 2001:db8::1
            h IN A 192.0.2.2
            """
        )
    )
    snapshot = build(read_zonefile(str(path), names.from_text(ORIGIN, None)))
    by_name = {names.to_text(recs[0][0]): recs for _, _, recs in snapshot.names}
    assert [r[1] for r in by_name["d1.example.test."]] == [2, 43]  # NS before DS
    assert [r[1] for r in by_name["h.example.test."]] == [1, 28]
    assert len(by_name["d2.example.test."]) == 1  # the same NS twice is one record

    path.write_text(path.read_text() + "d2 600 IN NS ns2\n")
    with pytest.raises(ZoneDataError, match=r"z:11: TTL 600 differs from TTL 300 \(line 7\)"):
        build(read_zonefile(str(path), names.from_text(ORIGIN, None)))


def test_out_of_zone_errors_come_in_file_order_up_to_the_limit(tmp_path):
    path = tmp_path / "z"
    # canonical order would list zz before aa's subdomain, file order is what an operator fixes
    lines = ["$TTL 300", "@ IN SOA ns1 host 1 3600 600 86400 300", "@ IN NS ns1"]
    lines += [f"{label}.other. IN A 192.0.2.{i}" for i, label in enumerate("zyxwvu")]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ZoneDataError) as caught:
        build(read_zonefile(str(path), names.from_text(ORIGIN, None)), max_errors=3)
    message = str(caught.value)
    assert "z.other. is outside the zone" in message.splitlines()[0]
    assert [line.split(":")[1] for line in message.splitlines()[1:3]] == ["5", "6"]
    assert "stopped after 3 errors" in message
