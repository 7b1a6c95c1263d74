"""Key mathematics (keystore.crypto) and the algorithm table (policy.algorithms): published
examples, dnspython as a second opinion, edge cases."""

from __future__ import annotations

import base64
import pickle

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from oracle import rrsig_signing_data
from signwire.errors import KeyStoreError
from signwire.keystore import crypto as A_crypto
from signwire.keystore import signers as A_signers
from signwire.keystore.model import SignerSpec
from signwire.policy import algorithms as A

ALL = sorted(A.ALGORITHMS)
SMALL_BITS = {A.RSASHA256: 1024, A.RSASHA512: 1024}  # keeps RSA key generation fast


def b64(text: str) -> bytes:
    return base64.b64decode("".join(text.split()))


def make_rrsig(
    rrset: dns.rrset.RRset,
    signer: str,
    algorithm: int,
    tag: int,
    sig: bytes,
    inception: int = 1_700_000_000,
    expiration: int = 1_800_000_000,
) -> dns.rdata.Rdata:
    return dns.rdata.from_text(
        "IN",
        "RRSIG",
        f"{dns.rdatatype.to_text(rrset.rdtype)} {algorithm} {len(rrset.name) - 1}"
        f" {rrset.ttl} {expiration} {inception} {tag} {signer}"
        f" {base64.b64encode(sig or b'x').decode()}",
    )


# --- RFC 6605 §6 (ECDSA) ----------------------------------------------------------------------

RFC6605 = [
    # algorithm, private key, DNSKEY public key, tag, RRSIG (expiration, inception), signature
    (
        13,
        "GU6SnQ/Ou+xC5RumuIUIuJZteXT2z0O/ok1s38Et6mQ=",
        "GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==",
        55648,
        ("20100909100439", "20100812100439"),
        "qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXAyGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw==",
    ),
    (
        14,
        "WURgWHCcYIYUPWgeLmiPY2DJJk02vgrmTfitxgqcL4vwW7BOrbawVmVe0d9V94SR",
        "xKYaNhWdGOfJ+nPrL8/arkwf2EY3MDJ+SErKivBVSum1w/egsXvSADtNJhyem5RCOpgQ6K8X1DRSEkrbYQ+OB+v8"
        "/uX45NBwY8rp65F6Glur8I/mlVNgF6W/qTI37m40",
        10771,
        ("20100909102025", "20100812102025"),
        "/L5hDKIvGDyI1fcARX3z65qrmPsVz73QD1Mr5CEqOiLP95hxQouuroGCeZOvzFaxsT8Glr74hbavRKayJNuydCuz"
        "WTSSPdz7wnqXL5bdcJzusdnI0RSMROxxwGipWcJm",
    ),
]


@pytest.mark.parametrize(("alg", "priv", "pub", "tag", "times", "sig"), RFC6605)
def test_rfc6605_examples(
    alg: int, priv: str, pub: str, tag: int, times: tuple[str, str], sig: str
) -> None:
    curve = ec.SECP256R1() if alg == 13 else ec.SECP384R1()
    key = ec.derive_private_key(int.from_bytes(b64(priv), "big"), curve)
    field = A_crypto.public_key_field(alg, key)
    assert field == b64(pub)
    dnskey = dns.rdata.from_text("IN", "DNSKEY", f"257 3 {alg} {pub}")
    assert A.key_tag(dnskey.to_digestable()) == tag
    rrset = dns.rrset.from_text("www.example.net.", 3600, "IN", "A", "192.0.2.1")
    rrsig = dns.rdata.from_text(
        "IN", "RRSIG", f"A {alg} 3 3600 {times[0]} {times[1]} {tag} example.net. {sig}"
    )
    data = rrsig_signing_data(rrset, rrsig)
    # The published signature used a random nonce: verify it rather than reproduce it.
    assert A_crypto.verify(alg, field, data, b64(sig))
    assert not A_crypto.verify(alg, field, data + b"x", b64(sig))
    # dnspython agrees on the same published record.
    dns.dnssec.validate_rrsig(
        rrset,
        rrsig,
        {
            dns.name.from_text("example.net."): dns.rrset.from_rdata_list(
                "example.net.", 3600, [dnskey]
            )
        },
        now=rrsig.inception + 1,
    )
    # Our own signature over the same data verifies too, and has the fixed RFC 6605 width.
    ours = A_signers.load_signer(A_crypto.signer_spec(alg, key))(data)
    assert len(ours) == len(b64(sig))
    assert A_crypto.verify(alg, field, data, ours)


# --- RFC 8080 §6 (EdDSA), with erratum 4935 -----------------------------------------------------

RFC8080 = [
    (
        15,
        "ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=",
        "l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=",
        3613,
        "oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg==",
    ),
    (
        15,
        "DSSF3o0s0f+ElWzj9E/Osxw8hLpk55chkmx0LYN5WiY=",
        "zPnZ/QwEe7S8C5SPz2OfS5RR40ATk2/rYnE9xHIEijs=",
        35217,
        "zXQ0bkYgQTEFyfLyi9QoiY6D8ZdYo4wyUhVioYZXFdT410QPRITQSqJSnzQoSm5poJ7gD7AQR0O7KuI5k2pcBg==",
    ),
    (
        16,
        "xZ+5Cgm463xugtkY5B0Jx6erFTXp13rYegst0qRtNsOYnaVpMx0Z/c5EiA9x8wWbDDct/U3FhYWA",
        "3kgROaDjrh0H2iuixWBrc8g2EpBBLCdGzHmn+G2MpTPhpj/OiBVHHSfPodx1FYYUcJKm1MDpJtIA",
        9713,
        "3cPAHkmlnxcDHMyg7vFC34l0blBhuG1qpwLmjInI8w1CMB29FkEAIJUA0amxWndkmnBZ6SKiwZSAxGILn/NBtOXf"
        "t0+Gj7FSvOKxE/07+4RQvE581N3Aj/JtIyaiYVdnYtyMWbSNyGEY2213WKsJlwEA",
    ),
    (
        16,
        "WEykD3ht3MHkU8iH4uVOLz8JLwtRBSqiBoM6fF72+Mrp/u5gjxuB1DV6NnPO2BlZdz4hdSTkOdOA",
        "kkreGWoccSDmUBGAe7+zsbG6ZAFQp+syPmYUurBRQc3tDjeMCJcVMRDmgcNLp5HlHAMy12VoISsA",
        38353,
        "E1/oLjSGIbmLny/4fcgM1z4oL6aqo+izT3urCyHyvEp4Sp8Syg1eI+lJ57CSnZqjJP41O/9l4m0AsQ4f7qI1gVnM"
        "L8vWWiyW2KXhT9kuAICUSxv5OWbf81Rq7Yu60npabODB0QFPb/rkW3kUZmQ0YQUA",
    ),
]


@pytest.mark.parametrize(("alg", "priv", "pub", "tag", "sig"), RFC8080)
def test_rfc8080_examples_reproduced_exactly(
    alg: int, priv: str, pub: str, tag: int, sig: str
) -> None:
    cls = ed25519.Ed25519PrivateKey if alg == 15 else ed448.Ed448PrivateKey
    key = cls.from_private_bytes(b64(priv))
    field = A_crypto.public_key_field(alg, key)
    assert field == b64(pub)
    assert A.key_tag(b"\x01\x01\x03" + bytes((alg,)) + field) == tag
    rrset = dns.rrset.from_text("example.com.", 3600, "IN", "MX", "10 mail.example.com.")
    rrsig = dns.rdata.from_text(
        "IN", "RRSIG", f"MX {alg} 2 3600 1440021600 1438207200 {tag} example.com. {sig}"
    )
    data = rrsig_signing_data(rrset, rrsig)
    # EdDSA is deterministic: the function the signer uses must give the published bytes.
    assert A_signers.load_signer(A_crypto.signer_spec(alg, key))(data) == b64(sig)
    assert A_crypto.verify(alg, field, data, b64(sig))


# --- every algorithm against dnspython ----------------------------------------------------------


@pytest.fixture(scope="module", params=ALL, ids=[A.mnemonic(a) for a in ALL])
def keypair(request: pytest.FixtureRequest) -> tuple[int, A_crypto.PrivateKey]:
    alg: int = request.param
    return alg, A_crypto.generate(alg, SMALL_BITS.get(alg))


def test_signature_validates_with_dnspython(keypair: tuple[int, A_crypto.PrivateKey]) -> None:
    alg, key = keypair
    origin = dns.name.from_text("example.org.")
    field = A_crypto.public_key_field(alg, key)
    dnskey = dns.rdata.from_text("IN", "DNSKEY", f"256 3 {alg} {base64.b64encode(field).decode()}")
    tag = A.key_tag(dnskey.to_digestable())
    assert tag == dns.dnssec.key_id(dnskey)
    rrset = dns.rrset.from_text(
        "WWW.example.org.", 300, "IN", "TXT", '"b"', '"a"', '"a longer text string"'
    )
    template = make_rrsig(rrset, "example.org.", alg, tag, b"")
    signature = A_signers.load_signer(A_crypto.signer_spec(alg, key))(
        rrsig_signing_data(rrset, template)
    )
    assert len(signature) == (A.info(alg).signature_size or len(field) - 4)
    rrsig = template.replace(signature=signature)
    keys = {origin: dns.rrset.from_rdata_list(origin, 300, [dnskey])}
    dns.dnssec.validate(
        rrset, dns.rrset.from_rdata_list(rrset.name, 300, [rrsig]), keys, now=1_750_000_000
    )
    bad = rrsig.replace(signature=bytes([signature[0] ^ 1]) + signature[1:])
    with pytest.raises(dns.dnssec.ValidationFailure):
        dns.dnssec.validate(
            rrset, dns.rrset.from_rdata_list(rrset.name, 300, [bad]), keys, now=1_750_000_000
        )


def test_dnspython_signature_verifies_with_ours(keypair: tuple[int, A_crypto.PrivateKey]) -> None:
    alg, key = keypair
    field = A_crypto.public_key_field(alg, key)
    dnskey = dns.rdata.from_text("IN", "DNSKEY", f"257 3 {alg} {base64.b64encode(field).decode()}")
    rrset = dns.rrset.from_text("example.org.", 300, "IN", "A", "192.0.2.7", "192.0.2.1")
    rrsig = dns.dnssec.sign(
        rrset,
        key,
        dns.name.from_text("example.org."),
        dnskey,
        inception=1_700_000_000,
        expiration=1_800_000_000,
    )
    data = rrsig_signing_data(rrset, rrsig)
    assert A_crypto.verify(alg, field, data, rrsig.signature)
    assert not A_crypto.verify(alg, field, data[:-1] + b"\x02", rrsig.signature)


def test_signer_spec_is_pkcs8_and_picklable(keypair: tuple[int, A_crypto.PrivateKey]) -> None:
    alg, key = keypair
    spec = A_crypto.signer_spec(alg, key)
    assert spec.kind == "pkcs8" and spec.algorithm == alg
    loaded = serialization.load_der_private_key(spec.material, password=None)  # unencrypted
    assert A_crypto.public_key_field(alg, loaded) == A_crypto.public_key_field(alg, key)  # type: ignore[arg-type]
    copy = pickle.loads(pickle.dumps(spec))
    assert copy == spec
    data = b"some data to sign"
    assert A_crypto.verify(
        alg, A_crypto.public_key_field(alg, key), data, A_signers.load_signer(copy)(data)
    )


def test_generated_sizes(keypair: tuple[int, A_crypto.PrivateKey]) -> None:
    alg, key = keypair
    field = A_crypto.public_key_field(alg, key)
    expected = {13: 64, 14: 96, 15: 32, 16: 57}
    if alg in expected:
        assert len(field) == expected[alg]
    else:
        assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 1024
        assert field[0] == 3 and field[1:4] == b"\x01\x00\x01"  # RFC 3110: e = 65537
        assert len(field) == 1 + 3 + 128


# --- ECDSA conversion ------------------------------------------------------------------------


@pytest.mark.parametrize("alg", [13, 14])
def test_ecdsa_slicing_matches_decode_dss_signature(alg: int) -> None:
    # A fixed key and fixed messages make the signatures (RFC 6979) and so the test repeatable.
    curve, digest, width = {
        13: (ec.SECP256R1(), hashes.SHA256(), 32),
        14: (ec.SECP384R1(), hashes.SHA384(), 48),
    }[alg]
    key = ec.derive_private_key(0x1234567890ABCDEF1234567890ABCDEF, curve)
    signer = A_signers.load_signer(A_crypto.signer_spec(alg, key), deterministic=True)
    deterministic = ec.ECDSA(digest, deterministic_signing=True)
    lengths = set()
    for i in range(1500 if alg == 13 else 700):
        data = b"message %d" % i
        der = key.sign(data, deterministic)
        lengths.add(der[3])
        r, s = decode_dss_signature(der)
        assert signer(data) == r.to_bytes(width, "big") + s.to_bytes(width, "big")
    # Covered: r with a 0x00 sign octet (width + 1), plain (width) and short (< width).
    assert {width + 1, width} <= lengths and min(lengths) < width


@pytest.mark.parametrize("alg", [13, 14])
def test_ecdsa_nonces_random_by_default_rfc6979_on_request(alg: int) -> None:
    key = A_crypto.generate(alg)
    field = A_crypto.public_key_field(alg, key)
    spec = A_crypto.signer_spec(alg, key)
    fast, fixed = A_signers.load_signer(spec), A_signers.load_signer(spec, deterministic=True)
    assert fast(b"abc") != fast(b"abc")
    assert fixed(b"abc") == fixed(b"abc") == A_crypto.sign(alg, key, b"abc", deterministic=True)
    assert fixed(b"abc") != fixed(b"abd")
    for sig in (fast(b"abc"), fixed(b"abc")):
        assert A_crypto.verify(alg, field, b"abc", sig)
    # The slicing is the same code for both; random nonces exercise it on fresh values.
    for i in range(300 if alg == 13 else 60):
        data = b"%d" % i
        assert A_crypto.verify(alg, field, data, fast(data))


@pytest.mark.parametrize("alg", [8, 10, 15, 16])
def test_other_algorithms_are_deterministic_anyway(alg: int) -> None:
    key = A_crypto.generate(alg, SMALL_BITS.get(alg))
    spec = A_crypto.signer_spec(alg, key)
    assert A_signers.load_signer(spec)(b"abc") == A_signers.load_signer(spec, deterministic=True)(
        b"abc"
    )


# --- key tags ------------------------------------------------------------------------------------


def test_key_tag_matches_dnspython_for_many_keys() -> None:
    for alg in (13, 15, 16):
        for flags in (256, 257, 385):
            key = A_crypto.generate(alg)
            rdata = flags.to_bytes(2, "big") + bytes((3, alg)) + A_crypto.public_key_field(alg, key)
            dnskey = dns.rdata.from_wire("IN", "DNSKEY", rdata, 0, len(rdata))
            assert A.key_tag(rdata) == dns.dnssec.key_id(dnskey)


def test_key_tag_rsamd5_and_odd_length() -> None:
    modulus = bytes(range(1, 65))
    rdata = b"\x01\x00\x03\x01" + b"\x01\x03" + modulus
    dnskey = dns.rdata.from_wire("IN", "DNSKEY", rdata, 0, len(rdata))
    assert A.key_tag(rdata) == dns.dnssec.key_id(dnskey) == int.from_bytes(modulus[-3:-1], "big")
    odd = b"\x01\x00\x03\x0f" + bytes(range(200, 233))
    assert len(odd) % 2 == 1
    acc = 0
    for i, octet in enumerate(odd):  # the appendix B loop, literally
        acc += octet if i & 1 else octet << 8
    acc += (acc >> 16) & 0xFFFF
    assert A.key_tag(odd) == acc & 0xFFFF


# --- the algorithm table -----------------------------------------------------------------------


def test_table() -> None:
    assert {n: i.mnemonic for n, i in A.ALGORITHMS.items()} == {
        8: "RSASHA256",
        10: "RSASHA512",
        13: "ECDSAP256SHA256",
        14: "ECDSAP384SHA384",
        15: "ED25519",
        16: "ED448",
    }
    assert A.DEFAULT_ALGORITHM == 13
    assert A.ALGORITHMS[8].default_bits == 2048
    with pytest.raises(TypeError):
        A.ALGORITHMS[5] = A.ALGORITHMS[8]  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("ECDSAP256SHA256", 13),
        ("ecdsap384sha384", 14),
        ("Ed25519", 15),
        ("ed448", 16),
        ("rsasha256", 8),
        ("RSASHA512", 10),
        ("13", 13),
        (" 8 ", 8),
        ("016", 16),
    ],
)
def test_parse_algorithm(text: str, number: int) -> None:
    assert A.parse_algorithm(text) == number


@pytest.mark.parametrize("text", ["RSASHA1", "5", "7", "1", "3", "ECDSA", "", "13x", "-13", "256"])
def test_parse_algorithm_rejects_with_list(text: str) -> None:
    with pytest.raises(ValueError) as info:
        A.parse_algorithm(text)
    message = str(info.value)
    assert repr(text) in message
    for name in (
        "RSASHA256",
        "RSASHA512",
        "ECDSAP256SHA256",
        "ECDSAP384SHA384",
        "ED25519",
        "ED448",
    ):
        assert name in message


def test_generate_bits() -> None:
    key = A_crypto.generate(A.RSASHA512, 1536)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 1536
    assert isinstance(A_crypto.generate(14, 384), ec.EllipticCurvePrivateKey)
    with pytest.raises(ValueError, match="1024 to 4096"):
        A_crypto.generate(A.RSASHA256, 512)
    with pytest.raises(ValueError, match="always 256 bits"):
        A_crypto.generate(13, 384)
    with pytest.raises(ValueError, match="unsupported DNSSEC algorithm 7"):
        A_crypto.generate(7)


def test_key_type_must_match_algorithm() -> None:
    ed = ed25519.Ed25519PrivateKey.generate()
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(ValueError, match="not a ECDSAP256SHA256 key"):
        A_crypto.public_key_field(13, p384)
    with pytest.raises(ValueError):
        A_crypto.signer_spec(16, ed)
    with pytest.raises(ValueError):
        A_crypto.signer_spec(8, ed)


# --- public keys and verify --------------------------------------------------------------------


def test_rsa_long_exponent_length_form() -> None:
    key = A_crypto.generate(A.RSASHA256, 1024)
    assert isinstance(key, rsa.RSAPrivateKey)
    numbers = key.public_key().public_numbers()
    modulus = numbers.n.to_bytes(128, "big")
    long_form = b"\x00\x00\x03\x01\x00\x01" + modulus  # RFC 3110: zero octet, 2-octet length
    short_form = A_crypto.public_key_field(A.RSASHA256, key)
    assert short_form == b"\x03\x01\x00\x01" + modulus
    for field in (long_form, short_form):
        loaded = A_crypto.load_public_key(A.RSASHA256, field)
        assert isinstance(loaded, rsa.RSAPublicKey)
        assert loaded.public_numbers() == numbers
    data = b"data"
    sig = A_crypto.sign(A.RSASHA256, key, data)
    assert A_crypto.verify(A.RSASHA256, long_form, data, sig)
    assert not A_crypto.verify(A.RSASHA512, short_form, data, sig)  # same key, other hash


@pytest.mark.parametrize(
    ("alg", "field"),
    [
        (8, b""),
        (8, b"\x00\x01"),
        (8, b"\x05\x01\x00"),
        (13, b"\x01" * 63),
        (14, b"\x00" * 96),
        (15, b"\x01" * 31),
        (16, b"\x01" * 56),
    ],
)
def test_malformed_public_keys(alg: int, field: bytes) -> None:
    with pytest.raises(ValueError):
        A_crypto.verify(alg, field, b"data", b"\x00" * 64)


def test_verify_rejects_wrong_lengths_and_zero_values(
    keypair: tuple[int, A_crypto.PrivateKey],
) -> None:
    alg, key = keypair
    field = A_crypto.public_key_field(alg, key)
    sig = A_crypto.sign(alg, key, b"data")
    assert A_crypto.verify(alg, field, b"data", sig)
    assert not A_crypto.verify(alg, field, b"data", sig[:-1])
    assert not A_crypto.verify(alg, field, b"data", sig + b"\x00")
    assert not A_crypto.verify(alg, field, b"data", b"\x00" * len(sig))


# --- load_signer failures ------------------------------------------------------------------------


def test_load_signer_rejects_bad_specs() -> None:
    ed = A_crypto.signer_spec(15, ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(KeyStoreError, match="'tpm'"):
        A_signers.load_signer(SignerSpec(15, "tpm", b"token"))
    with pytest.raises(KeyStoreError, match="locator"):  # a token key with a garbled locator
        A_signers.load_signer(SignerSpec(15, "pkcs11", b"token"))
    with pytest.raises(KeyStoreError, match="not a ECDSAP256SHA256 key"):
        A_signers.load_signer(SignerSpec(13, "pkcs8", ed.material))
    with pytest.raises(KeyStoreError, match="unreadable"):
        A_signers.load_signer(SignerSpec(15, "pkcs8", b"\x30\x03garbage"))
    with pytest.raises(KeyStoreError):
        A_signers.load_signer(SignerSpec(99, "pkcs8", ed.material))
