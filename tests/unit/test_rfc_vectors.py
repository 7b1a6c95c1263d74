"""Known answers from the RFCs, run through the verifier's own code paths.

* RFC 5155 Appendix A: NSEC3 hashes of the example names (SHA-1, 12 iterations, salt aabbccdd).
* RFC 6605 §6.1 and §6.2: ECDSA P-256 and P-384 signatures over ``www.example.net. A`` verify,
  the published DS records match their keys, and a one-bit change fails.
* RFC 8080 §6: the published Ed25519 and Ed448 private keys give the published public keys, key
  tags and DS digests. The RRSIGs printed in the RFC were made with Labels = 3 for a two-label
  owner (the RFC text lost the algorithm field; Errata ID 4935 gives corrected Ed25519 RRSIGs
  with Labels = 2). The corrected ones verify; the printed ones are reproduced byte for byte
  from the private keys and rejected for their Labels field.
* RFC 4034 §6.1: an NSEC chain in the RFC's canonical order verifies, a swapped pair does not.

The whole signed example zone of RFC 5155 Appendix A is not here: its text could not be taken
from the RFC itself (only from other projects' transcriptions), and it carries errata.
"""

from __future__ import annotations

import base64
import struct

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import pytest
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.DS import DS
from dns.rdtypes.ANY.RRSIG import RRSIG
from test_verify_support import keys, rrsig

from oracle import RFC4034_ORDER
from signwire.verify.anchors import ds_matches
from signwire.verify.nsec3_chain import Params, hash_name, hash_text
from signwire.verify.report import ProblemLog
from signwire.verify.signatures import ZoneKeys, check_rrsig
from signwire.verify.zone_reader import read_zone_text
from signwire.verify.zone_verifier import verify_contents

IN = dns.rdataclass.IN

# --- RFC 5155 Appendix A --------------------------------------------------------------------

RFC5155_HASHES = {
    "example": "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom",
    "a.example": "35mthgpgcu1qg68fab165klnsnk3dpvl",
    "ai.example": "gjeqe526plbf1g8mklp59enfd789njgi",
    "ns1.example": "2t7b4g4vsa5smi47k61mv5bv1a22bojr",
    "ns2.example": "q04jkcevqvmu85r014c7dkba38o0ji5r",
    "w.example": "k8udemvp1j2f7eg6jebps17vp3n8i58h",
    "*.w.example": "r53bq7cc2uvmubfu5ocmm6pers9tk9en",
    "x.w.example": "b4um86eghhds6nea196smvmlo4ors995",
    "y.w.example": "ji6neoaepv8b5o6k4ev33abha8ht9fgc",
    "x.y.w.example": "2vptu5timamqttgl4luu9kg21e0aor3s",
    "xx.example": "t644ebqk9bibcna874givr6joj62mlhv",
    # the example zone's name that is itself a hash label
    "2t7b4g4vsa5smi47k61mv5bv1a22bojr.example": "kohar7mbb8dc2ce8a9qvl8hon4k53uhi",
}


@pytest.mark.parametrize(("name", "expected"), sorted(RFC5155_HASHES.items()))
def test_rfc5155_appendix_a_hashes(name: str, expected: str) -> None:
    params = Params(algorithm=1, iterations=12, salt=bytes.fromhex("aabbccdd"))
    assert hash_text(hash_name(dns.name.from_text(name), params)) == expected
    # case does not change the hash (names are hashed in canonical form)
    assert hash_text(hash_name(dns.name.from_text(name.upper()), params)) == expected


def test_rfc5155_hash_changes_with_the_parameters() -> None:
    name = dns.name.from_text("example")
    assert (
        hash_text(hash_name(name, Params(1, 11, bytes.fromhex("aabbccdd"))))
        != (RFC5155_HASHES["example"])
    )
    assert (
        hash_text(hash_name(name, Params(1, 12, bytes.fromhex("aabbccde"))))
        != (RFC5155_HASHES["example"])
    )


# --- signature vectors ------------------------------------------------------------------------


def _check(
    zone: str,
    dnskey_text: str,
    owner: str,
    rrset_text: tuple[str, ...],
    rrsig_text: str,
    now: int,
) -> list[str]:
    """Run one RRSIG through the verifier's signature check; return the problems."""
    origin = dns.name.from_text(zone)
    dnskeys = dns.rdataset.from_text_list(IN, "DNSKEY", 3600, [dnskey_text])
    rtype, *rdata = rrset_text
    rrset = dns.rdataset.from_text_list(
        IN, rtype, 3600, [" ".join(rdata)], origin=origin, relativize=False
    )
    sig = dns.rdata.from_text(IN, "RRSIG", rrsig_text, origin=origin, relativize=False)
    assert isinstance(sig, RRSIG)
    log = ProblemLog()
    keyset = ZoneKeys.from_rdataset(origin, dnskeys)
    check_rrsig(log, keyset, dns.name.from_text(owner), rrset, sig, now=now, warn_horizon=0)
    return [str(p) for p in log.problems]


def _flip(rrsig_text: str) -> str:
    """The same RRSIG with one bit of the signature changed."""
    fields = rrsig_text.split()
    sig = bytearray(base64.b64decode("".join(fields[8:])))
    sig[5] ^= 0x01
    return " ".join([*fields[:8], base64.b64encode(bytes(sig)).decode()])


RFC6605 = [
    pytest.param(
        "257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edb"
        "krSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==",
        "A 13 3 3600 20100909100439 20100812100439 55648 example.net. "
        "qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXA"
        "yGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw==",
        "55648 13 2 b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17",
        id="6.1-P256",
    ),
    pytest.param(
        "257 3 14 xKYaNhWdGOfJ+nPrL8/arkwf2EY3MDJ+SErKivBVSum1w/eg"
        "sXvSADtNJhyem5RCOpgQ6K8X1DRSEkrbYQ+OB+v8/uX45NBwY8rp65F6"
        "Glur8I/mlVNgF6W/qTI37m40",
        "A 14 3 3600 20100909102025 20100812102025 10771 example.net. "
        "/L5hDKIvGDyI1fcARX3z65qrmPsVz73QD1Mr5CEqOiLP95hxQouuroGCeZOvzFaxsT8Glr74"
        "hbavRKayJNuydCuzWTSSPdz7wnqXL5bdcJzusdnI0RSMROxxwGipWcJm",
        "10771 14 4 72d7b62976ce06438e9c0bf319013cf801f09ecc84b8d7e9495f27e305c6a9b0"
        "563a9b5f4d288405c3008a946df983d6",
        id="6.2-P384",
    ),
]
RFC6605_NOW = 1_283_000_000  # 2010-08-28, inside both validity periods


@pytest.mark.parametrize(("dnskey", "sig", "ds"), RFC6605)
def test_rfc6605_examples_verify(dnskey: str, sig: str, ds: str) -> None:
    rrset = ("A", "192.0.2.1")
    args = ("example.net.", dnskey, "www.example.net.", rrset)
    assert _check(*args, sig, RFC6605_NOW) == []
    problems = _check(*args, _flip(sig), RFC6605_NOW)
    assert len(problems) == 1 and "signature does not verify" in problems[0]
    # a changed RRset fails too
    problems = _check(
        "example.net.", dnskey, "www.example.net.", ("A", "192.0.2.2"), sig, RFC6605_NOW
    )
    assert any("signature does not verify" in p for p in problems)
    # outside the validity period: the verifier, not the crypto, says why
    assert any("expired at 2010-09-09" in p for p in _check(*args, sig, 1_300_000_000))


@pytest.mark.parametrize(("dnskey", "sig", "ds"), RFC6605)
def test_rfc6605_ds_records_match_their_keys(dnskey: str, sig: str, ds: str) -> None:
    origin = dns.name.from_text("example.net.")
    key = dns.rdata.from_text(IN, "DNSKEY", dnskey)
    rec = dns.rdata.from_text(IN, "DS", ds)
    assert isinstance(key, DNSKEY) and isinstance(rec, DS)
    assert ds_matches(origin, rec, key)
    changed = rec.replace(digest=bytes([rec.digest[0] ^ 1]) + rec.digest[1:])
    assert not ds_matches(origin, changed, key)
    assert not ds_matches(dns.name.from_text("example.com."), rec, key)


# RFC 8080 §6: (algorithm, private key, public key, key tag, DS SHA-256 digest or None)
RFC8080_KEYS = [
    (
        15,
        "ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=",
        "l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=",
        3613,
        "3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b",
    ),
    (
        15,
        "DSSF3o0s0f+ElWzj9E/Osxw8hLpk55chkmx0LYN5WiY=",
        "zPnZ/QwEe7S8C5SPz2OfS5RR40ATk2/rYnE9xHIEijs=",
        35217,
        "401781b934e392de492ec77ae2e15d70f6575a1c0bc59c5275c04ebe80c6614c",
    ),
    (
        16,
        "xZ+5Cgm463xugtkY5B0Jx6erFTXp13rYegst0qRtNsOYnaVpMx0Z/c5EiA9x8wWbDDct/U3FhYWA",
        "3kgROaDjrh0H2iuixWBrc8g2EpBBLCdGzHmn+G2MpTPhpj/OiBVHHSfPodx1FYYUcJKm1MDpJtIA",
        9713,
        None,
    ),
    (
        16,
        "WEykD3ht3MHkU8iH4uVOLz8JLwtRBSqiBoM6fF72+Mrp/u5gjxuB1DV6NnPO2BlZdz4hdSTkOdOA",
        "kkreGWoccSDmUBGAe7+zsbG6ZAFQp+syPmYUurBRQc3tDjeMCJcVMRDmgcNLp5HlHAMy12VoISsA",
        38353,
        None,
    ),
]
# The RRSIGs as the RFC prints them (made with Labels = 3), by key tag.
RFC8080_PRINTED = {
    3613: "Edk+IB9KNNWg0HAjm7FazXyrd5m3Rk8zNZbvNpAcM+ey"
    "sqcUOMIjWoevFkjH5GaMWeG96GUVZu6ECKOQmemHDg==",
    35217: "5LL2obmzdqjWI+Xto5eP5adXt/T5tMhasWvwcyW4L3Sz"
    "fcRawOle9bodhC+oip9ayUGjY9T/rL4rN3bOuESGDA==",
    9713: "Nmc0rgGKpr3GKYXcB1JmqqS4NYwhmechvJTqVzt3jR+Qy/lSLFoIk1L+9e39GPL+5tVzDPN3f9kAwiu8KCuP"
    "Pjtl227ayaCZtRKZuJax7n9NuYlZJIusX0SOIOKBGzG+yWYtz1/jjbzl5GGkWvREUCUA",
    38353: "+JjANio/LIzp7osmMYE5XD3H/YES8kXs5Vb9H8MjPS8OAGZMD37+LsCIcjg5ivt0d4Om/UaqETEAsJjaYe56"
    "CEQP5lhRWuD2ivBqE0zfwJTyp4WqvpULbpvaukswvv/WNEFxzEYQEIm9+xDlXj4pMAMA",
}
# Errata ID 4935: the Ed25519 RRSIGs with the right Labels field (2).
RFC8080_ERRATA = {
    3613: "oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeR"
    "AvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg==",
    35217: "zXQ0bkYgQTEFyfLyi9QoiY6D8ZdYo4wyUhVioYZXFdT4"
    "10QPRITQSqJSnzQoSm5poJ7gD7AQR0O7KuI5k2pcBg==",
}
RFC8080_TIMES = (1440021600, 1438207200)  # expiration 2015-08-19 22:00, inception 2015-07-29 22:00
RFC8080_NOW = 1_439_000_000
MX = ("MX", "10", "mail.example.com.")


def _ed_private(alg: int, text: str) -> ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey:
    raw = base64.b64decode(text)
    if alg == 15:
        return ed25519.Ed25519PrivateKey.from_private_bytes(raw)
    return ed448.Ed448PrivateKey.from_private_bytes(raw)


def _signed_data(alg: int, labels: int, tag: int) -> bytes:
    """RFC 4034 §3.1.8.1 signed data for the RFC 8080 example, with any Labels value."""
    owner = dns.name.from_text("example.com.").to_wire()
    assert owner is not None
    expiration, inception = RFC8080_TIMES
    header = struct.pack("!HBBIIIH", 15, alg, labels, 3600, expiration, inception, tag)
    mx = struct.pack("!H", 10) + dns.name.from_text("mail.example.com.").to_digestable()
    return header + owner + owner + struct.pack("!HHIH", 15, 1, 3600, len(mx)) + mx


@pytest.mark.parametrize(("alg", "private", "public", "tag", "ds"), RFC8080_KEYS)
def test_rfc8080_keys_tags_and_ds(
    alg: int, private: str, public: str, tag: int, ds: str | None
) -> None:
    key = _ed_private(alg, private)
    dnskey = dns.dnssec.make_dnskey(key.public_key(), alg, flags=257)
    assert base64.b64encode(dnskey.key).decode() == public
    assert dns.dnssec.key_id(dnskey) == tag
    if ds is not None:
        rec = dns.rdata.from_text(IN, "DS", f"{tag} {alg} 2 {ds}")
        assert isinstance(rec, DS)
        assert ds_matches(dns.name.from_text("example.com."), rec, dnskey)


@pytest.mark.parametrize(("alg", "private", "public", "tag", "ds"), RFC8080_KEYS)
def test_rfc8080_printed_signatures_are_reproduced_and_rejected(
    alg: int, private: str, public: str, tag: int, ds: str | None
) -> None:
    signature = _ed_private(alg, private).sign(_signed_data(alg, 3, tag))
    assert base64.b64encode(signature).decode() == RFC8080_PRINTED[tag]
    expiration, inception = RFC8080_TIMES
    printed = f"MX {alg} 3 3600 {expiration} {inception} {tag} example.com. {RFC8080_PRINTED[tag]}"
    problems = _check(
        "example.com.", f"257 3 {alg} {public}", "example.com.", MX, printed, RFC8080_NOW
    )
    assert problems == [
        f"error: example.com. MX: RRSIG MX (key {tag}, algorithm {alg}): Labels field is 3, "
        "expected 2"
    ]


@pytest.mark.parametrize(("alg", "private", "public", "tag", "ds"), RFC8080_KEYS)
def test_rfc8080_signatures_with_the_right_labels_verify(
    alg: int, private: str, public: str, tag: int, ds: str | None
) -> None:
    expiration, inception = RFC8080_TIMES
    signature = _ed_private(alg, private).sign(_signed_data(alg, 2, tag))
    if tag in RFC8080_ERRATA:
        assert base64.b64encode(signature).decode() == RFC8080_ERRATA[tag]
    text = (
        f"MX {alg} 2 3600 {expiration} {inception} {tag} example.com. "
        f"{base64.b64encode(signature).decode()}"
    )
    dnskey = f"257 3 {alg} {public}"
    assert _check("example.com.", dnskey, "example.com.", MX, text, RFC8080_NOW) == []
    problems = _check("example.com.", dnskey, "example.com.", MX, _flip(text), RFC8080_NOW)
    assert len(problems) == 1 and "signature does not verify" in problems[0]


# --- RFC 4034 §6.1 canonical order ----------------------------------------------------------



def _chain_zone(order: list[str]) -> str:
    """``example.`` with one TXT per name and an NSEC chain that follows ``order``."""
    origin = dns.name.from_text("example.")
    ksk, zsk = keys(13)
    out: list[dns.rrset.RRset] = []

    def add(name: dns.name.Name, rds: dns.rdataset.Rdataset) -> None:
        out.append(dns.rrset.from_rdata_list(name, rds.ttl, list(rds)))
        key = ksk if rds.rdtype == dns.rdatatype.DNSKEY else zsk
        sig = rrsig(name, rds, key, signer=origin)
        out.append(dns.rrset.from_rdata(name, rds.ttl, sig))

    names = [dns.name.from_text(n) for n in order]
    for i, name in enumerate(names):
        if name == origin:
            add(
                name, dns.rdataset.from_text(IN, "SOA", 3600, "ns.example. h.example. 1 2 3 4 3600")
            )
            add(name, dns.rdataset.from_text(IN, "NS", 3600, "ns.elsewhere."))
            add(name, dns.rdataset.from_rdata(3600, ksk.dnskey, zsk.dnskey))
            types = "SOA NS DNSKEY RRSIG NSEC"
        else:
            add(name, dns.rdataset.from_text(IN, "TXT", 3600, '"x"'))
            types = "TXT RRSIG NSEC"
        nxt = names[(i + 1) % len(names)]
        add(name, dns.rdataset.from_text(IN, "NSEC", 3600, f"{nxt} {types}"))
    return "\n".join(r.to_text() for r in out) + "\n"


def _nsec_errors(order: list[str]) -> list[str]:
    contents = read_zone_text(_chain_zone(order), "example.")
    report = verify_contents(contents, now=1_767_225_600)
    return [str(p) for p in report.problems]


def test_rfc4034_canonical_order_is_accepted() -> None:
    assert _nsec_errors(RFC4034_ORDER) == []


@pytest.mark.parametrize("i", range(1, len(RFC4034_ORDER) - 1))
def test_rfc4034_order_with_a_swapped_pair_is_rejected(i: int) -> None:
    order = list(RFC4034_ORDER)
    order[i], order[i + 1] = order[i + 1], order[i]
    problems = _nsec_errors(order)
    assert problems
    assert all(" NSEC: next name " in p for p in problems)
    assert any("out of canonical order" in p or "not after" in p for p in problems)
