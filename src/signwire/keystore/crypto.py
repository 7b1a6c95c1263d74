"""The mathematics of DNSSEC keys: generation, DNSKEY encoding and raw signatures.

This module owns every use of a private key's mathematics. It turns ``cryptography`` keys into
the wire encodings DNSSEC defines and back:

* DNSKEY public key fields: RSA in the exponent-length format of RFC 3110 §2 (used by RFC 5702),
  ECDSA as the bare ``x || y`` of RFC 6605 §4, EdDSA as the raw public key of RFC 8080 §3.
* RRSIG signature fields: RSASSA-PKCS1-v1_5 over SHA-256/SHA-512 (RFC 5702 §3), ECDSA as fixed
  width ``r || s`` (RFC 6605 §4), EdDSA as the raw 64 or 114 octets (RFC 8080 §4).
* Key tags (RFC 4034 appendix B).

The algorithm numbers and sizes themselves are in :mod:`signwire.policy.algorithms`.

:func:`load_pkcs8_signer` is the hot path of the whole signer: a worker calls the function it
returns once per RRset, millions of times per zone. It therefore binds the key's ``sign``
method and every constant (padding, hash, curve width) once, and the ECDSA variant converts
DER to ``r || s`` by slicing instead of building two integers (``decode_dss_signature`` plus
``int.to_bytes`` costs about 1.5 µs more per signature; the tests check both agree).

ECDSA nonces are random by default (from OpenSSL's generator, which reseeds after ``fork``).
``load_pkcs8_signer(spec, deterministic=True)`` uses RFC 6979 nonces instead: equal input then gives
equal RRSIGs (useful to compare two signing runs byte for byte), at a cost measured at about
3 µs per P-256 signature (some 10 % of the signing rate).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Final

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from signwire.errors import KeyStoreError
from signwire.keystore.model import SignerSpec
from signwire.policy.algorithms import (
    ECDSAP256SHA256,
    ECDSAP384SHA384,
    ED25519,
    RSASHA256,
    RSASHA512,
    check_bits,
    info,
)

PrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
)
PublicKey = (
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
)
Signer = Callable[[bytes], bytes]

_RSA_HASH: Final[Mapping[int, type[hashes.SHA256] | type[hashes.SHA512]]] = {
    RSASHA256: hashes.SHA256,
    RSASHA512: hashes.SHA512,
}
_EC_CURVE: Final[Mapping[int, type[ec.SECP256R1] | type[ec.SECP384R1]]] = {
    ECDSAP256SHA256: ec.SECP256R1,
    ECDSAP384SHA384: ec.SECP384R1,
}
_EC_HASH: Final[Mapping[int, type[hashes.SHA256] | type[hashes.SHA384]]] = {
    ECDSAP256SHA256: hashes.SHA256,
    ECDSAP384SHA384: hashes.SHA384,
}
_EC_WIDTH: Final = {ECDSAP256SHA256: 32, ECDSAP384SHA384: 48}


# --- keys -------------------------------------------------------------------------------------


def generate(algorithm: int, bits: int | None = None) -> PrivateKey:
    """A new private key for ``algorithm``; ``bits`` only varies for RSA (default 2048)."""
    entry = info(algorithm)
    bits = check_bits(algorithm, bits)
    if entry.family == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    if entry.family == "ecdsa":
        return ec.generate_private_key(_EC_CURVE[algorithm]())
    if algorithm == ED25519:
        return ed25519.Ed25519PrivateKey.generate()
    return ed448.Ed448PrivateKey.generate()


def check_key_type(algorithm: int, key: PrivateKey | PublicKey) -> None:
    """Raise ValueError unless ``key`` (private or public) is of ``algorithm``'s kind."""
    entry = info(algorithm)
    ok: bool
    if entry.family == "rsa":
        ok = isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey)
    elif entry.family == "ecdsa":
        ok = isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) and (
            isinstance(key.curve, _EC_CURVE[algorithm])
        )
    elif algorithm == ED25519:
        ok = isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey)
    else:
        ok = isinstance(key, ed448.Ed448PrivateKey | ed448.Ed448PublicKey)
    if not ok:
        raise ValueError(f"a {type(key).__name__} is not a {entry.mnemonic} key")


def public_key_field(algorithm: int, private_key: PrivateKey) -> bytes:
    """The DNSKEY public key field for ``private_key``."""
    check_key_type(algorithm, private_key)
    pub = private_key.public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        numbers = pub.public_numbers()
        exponent = _unsigned(numbers.e)
        modulus = _unsigned(numbers.n)
        # RFC 3110 §2: one length octet, or a zero octet and two length octets if it is > 255.
        if len(exponent) <= 255:
            head = bytes((len(exponent),))
        else:
            head = b"\x00" + len(exponent).to_bytes(2, "big")
        return head + exponent + modulus
    if isinstance(pub, ec.EllipticCurvePublicKey):
        point = pub.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return point[1:]  # drop the 0x04 "uncompressed" prefix (RFC 6605 §4)
    return pub.public_bytes_raw()


def load_public_key(algorithm: int, field: bytes) -> PublicKey:
    """A ``cryptography`` public key from a DNSKEY public key field; ValueError if malformed."""
    entry = info(algorithm)
    if entry.family == "rsa":
        if not field:
            raise ValueError("empty RSA public key")
        if field[0]:
            elen, start = field[0], 1
        else:
            if len(field) < 3:
                raise ValueError("truncated RSA public key")
            elen, start = int.from_bytes(field[1:3], "big"), 3
        exponent = field[start : start + elen]
        modulus = field[start + elen :]
        if len(exponent) != elen or not modulus:
            raise ValueError("truncated RSA public key")
        return rsa.RSAPublicNumbers(
            int.from_bytes(exponent, "big"), int.from_bytes(modulus, "big")
        ).public_key()
    if entry.family == "ecdsa":
        if len(field) != 2 * _EC_WIDTH[algorithm]:
            raise ValueError(
                f"{entry.mnemonic} public key must be {2 * _EC_WIDTH[algorithm]} octets"
            )
        return ec.EllipticCurvePublicKey.from_encoded_point(_EC_CURVE[algorithm](), b"\x04" + field)
    if algorithm == ED25519:
        return ed25519.Ed25519PublicKey.from_public_bytes(field)
    return ed448.Ed448PublicKey.from_public_bytes(field)


def _unsigned(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")


def signer_spec(algorithm: int, private_key: PrivateKey) -> SignerSpec:
    """The picklable value a worker turns into a signing function (PKCS#8 DER, unencrypted)."""
    check_key_type(algorithm, private_key)
    der = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return SignerSpec(algorithm=algorithm, kind="pkcs8", material=der)


def private_key_from_spec(spec: SignerSpec) -> PrivateKey:
    """The private key a ``pkcs8`` spec holds; KeyStoreError if it is not usable."""
    if spec.kind != "pkcs8":
        raise KeyStoreError(f"cannot load a {spec.kind!r} key here (only 'pkcs8' keys)")
    try:
        key = serialization.load_der_private_key(spec.material, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyStoreError(f"unreadable PKCS#8 private key: {exc}") from None
    if not isinstance(
        key,
        rsa.RSAPrivateKey
        | ec.EllipticCurvePrivateKey
        | ed25519.Ed25519PrivateKey
        | ed448.Ed448PrivateKey,
    ):
        raise KeyStoreError(f"a {type(key).__name__} cannot sign DNSSEC records")
    try:
        check_key_type(spec.algorithm, key)
    except ValueError as exc:
        raise KeyStoreError(str(exc)) from None
    return key


# --- signing ----------------------------------------------------------------------------------


def load_pkcs8_signer(spec: SignerSpec, *, deterministic: bool = False) -> Signer:
    """A function that signs data and returns the RRSIG signature field for a key in memory.

    Called once per worker; the function it returns is called once per RRset.
    ``deterministic`` asks for RFC 6979 ECDSA nonces (EdDSA and RSA PKCS#1 v1.5 are always
    deterministic); KeyStoreError if this OpenSSL cannot do that, or if ``spec`` is not a
    ``pkcs8`` key (:func:`signwire.keystore.signers.load_signer` takes any store's key).
    """
    key = private_key_from_spec(spec)
    algorithm = spec.algorithm
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        # RFC 8080 §4: the signature is exactly what PureEdDSA produces; no wrapper at all.
        return key.sign
    if isinstance(key, rsa.RSAPrivateKey):
        # functools.partial calls into C without a Python frame per signature.
        return functools.partial(
            key.sign, padding=padding.PKCS1v15(), algorithm=_RSA_HASH[algorithm]()
        )
    assert isinstance(key, ec.EllipticCurvePrivateKey)  # check_key_type made sure
    algo = ec.ECDSA(_EC_HASH[algorithm](), deterministic_signing=deterministic)
    if deterministic:
        try:
            key.sign(b"", algo)
        except UnsupportedAlgorithm:
            raise KeyStoreError("this OpenSSL has no deterministic ECDSA (needs 3.2)") from None
    return _ecdsa_signer(key, algo, _EC_WIDTH[algorithm])


def _ecdsa_signer(key: ec.EllipticCurvePrivateKey, algo: ec.ECDSA, width: int) -> Signer:
    sign = key.sign
    zero = b"\x00"

    def sign_ecdsa(data: bytes) -> bytes:
        # DER: 30 len 02 rlen r 02 slen s. For P-256 and P-384 every length fits one octet
        # (the whole value is at most 104 octets), so r starts at 4 and s at 6 + rlen. A DER
        # integer is minimal and signed: strip its leading 0x00 by keeping the last ``width``
        # octets, left-pad short ones.
        der = sign(data, algo)
        rlen = der[3]
        return der[4 : 4 + rlen][-width:].rjust(width, zero) + der[6 + rlen :][-width:].rjust(
            width, zero
        )

    return sign_ecdsa


def sign(
    algorithm: int, private_key: PrivateKey, data: bytes, *, deterministic: bool = False
) -> bytes:
    """One signature, for tests and one-off uses (the signer uses :func:`load_pkcs8_signer`)."""
    return load_pkcs8_signer(signer_spec(algorithm, private_key), deterministic=deterministic)(data)


def verify(algorithm: int, public_key_field: bytes, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` (RRSIG wire format) is valid for ``data`` under the DNSKEY key.

    A malformed public key raises ValueError; a wrong or malformed signature returns False.
    """
    entry = info(algorithm)
    pub = load_public_key(algorithm, public_key_field)
    try:
        if isinstance(pub, rsa.RSAPublicKey):
            pub.verify(signature, data, padding.PKCS1v15(), _RSA_HASH[algorithm]())
        elif isinstance(pub, ec.EllipticCurvePublicKey):
            width = _EC_WIDTH[algorithm]
            if len(signature) != 2 * width:
                return False
            der = encode_dss_signature(
                int.from_bytes(signature[:width], "big"), int.from_bytes(signature[width:], "big")
            )
            pub.verify(der, data, ec.ECDSA(_EC_HASH[algorithm]()))
        else:
            if len(signature) != entry.signature_size:
                return False
            pub.verify(signature, data)
    except InvalidSignature:
        return False
    return True
