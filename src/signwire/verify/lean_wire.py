"""Wire forms and cryptography for the verifier's lean path, from presentation text.

The lean path (:mod:`signwire.verify.lean`) never builds a dnspython object for a record it does
not check. For the records it does check, this module turns presentation text into canonical
wire form (RFC 4034 §6.2) and checks RRSIGs with ``cryptography`` directly:

* the types that fill signed zones (A, AAAA, NS, DS, DNSKEY, NSEC, NSEC3) are converted here;
  every other type goes through dnspython's RDATA codecs (``to_digestable``), so there is one
  reference for the canonical form of the rest;
* public keys are decoded once per DNSKEY, not once per signature (RFC 3110 RSA, RFC 6605 ECDSA
  with the signature's r||s turned into DER, RFC 8080 Ed25519/Ed448).

Names handled here have no escapes (the lean reader leaves files with escaped names to the full
reader), so a name's text is its labels joined by dots.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import dns.exception
import dns.ipv4
import dns.ipv6
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

_IN = dns.rdataclass.IN


class Doubt(Exception):
    """The lean path cannot vouch for the zone: the full verifier must look (and explain)."""


# --- names ------------------------------------------------------------------------------------


def name_wire(name: str) -> bytes:
    """Canonical (lowercased) wire form of an absolute name without escapes."""
    if name == ".":
        return b"\x00"
    try:
        labels = name.lower().encode("ascii").split(b".")
    except UnicodeEncodeError:
        raise Doubt(f"name that is not ASCII: {name!r}") from None
    labels.pop()
    if len(name) > 63 and (len(name) > 254 or max(map(len, labels)) > 63):
        raise Doubt(f"name or label too long: {name!r}")
    return b"".join([_LEN[len(label)] + label for label in labels]) + b"\x00"


_LEN = [bytes((n,)) for n in range(256)]


def name_wire_as_is(name: str) -> bytes:
    """Wire form keeping the case (RFC 6840 §5.1: the NSEC Next Domain Name is not lowered)."""
    if name == ".":
        return b"\x00"
    return b"".join(bytes([len(lb)]) + lb.encode("ascii") for lb in name.split(".")[:-1]) + b"\0"


def label_count(name: str) -> int:
    """RFC 4034 §3.1.3 Labels of an owner: labels without the root and a leading ``*``."""
    if name == ".":
        return 0
    n = name.count(".")
    return n - 1 if name.startswith("*.") else n


# --- type bitmaps (RFC 4034 §4.1.2) ------------------------------------------------------------


def bitmap_wire(types: Iterable[int]) -> bytes:
    windows: dict[int, bytearray] = {}
    for t in types:
        window, low = divmod(t, 256)
        bits = windows.setdefault(window, bytearray(32))
        bits[low >> 3] |= 0x80 >> (low & 7)
    out = bytearray()
    for window in sorted(windows):
        bits = windows[window].rstrip(b"\0")
        out += bytes((window, len(bits))) + bits
    return bytes(out)


# --- times (RFC 4034 §3.2) --------------------------------------------------------------------

_DAYS: dict[str, int] = {}


def sig_time(text: str) -> int:
    """YYYYMMDDHHmmSS (UTC) or plain seconds, as RFC 4034 §3.2 allows."""
    seconds = _TIMES.get(text)
    if seconds is None:
        if len(_TIMES) > 4096:
            _TIMES.clear()  # signers spread expirations: keep only the common ones (inceptions)
        seconds = _TIMES[text] = _sig_time(text)
    return seconds


_TIMES: dict[str, int] = {}


def _sig_time(text: str) -> int:
    if len(text) != 14 or not text.isdigit():
        if text.isdigit():
            return int(text)
        raise Doubt(f"bad signature time {text!r}")
    day = _DAYS.get(text[:8])
    if day is None:
        day = _DAYS[text[:8]] = calendar.timegm(
            (int(text[:4]), int(text[4:6]), int(text[6:8]), 0, 0, 0)
        )
    hours, rest = divmod(int(text[8:]), 10000)
    minutes, seconds = divmod(rest, 100)
    return day + hours * 3600 + minutes * 60 + seconds


# --- RDATA ------------------------------------------------------------------------------------


@dataclass
class Codec:
    """Presentation text → canonical RDATA wire, for one zone's origin."""

    origin: str
    origin_name: dns.name.Name
    types: Callable[[str], int]
    """Type mnemonic → number (the reader's, so unknown words are judged in one place)."""
    origin_wire: bytes = b""

    def __post_init__(self) -> None:
        self.origin_wire = name_wire(self.origin)

    def absolute(self, name: str) -> str:
        if name.endswith("."):
            return name
        if name == "@":
            return self.origin
        if "\\" in name:
            raise Doubt("escaped name in RDATA")
        return f"{name}.{self.origin}" if self.origin != "." else f"{name}."

    def wire(self, rdtype: int, text: str) -> bytes:
        fast = _FAST.get(rdtype)
        if fast is not None and '"' not in text and "\\" not in text:
            try:
                return fast(self, text.split())
            except (
                ValueError,
                IndexError,
                binascii.Error,
                struct.error,
                dns.exception.DNSException,
            ):
                pass  # dnspython reads it again below and decides
        if rdtype in _LOCATORS:
            text = _pad_locator(text)
        try:
            rd = dns.rdata.from_text(
                _IN, dns.rdatatype.RdataType.make(rdtype), text, self.origin_name, relativize=False
            )
            return rd.to_digestable(self.origin_name)
        except Exception as e:
            raise Doubt(f"RDATA of type {rdtype}: {e}") from None


# NID and L64 (RFC 6742): BIND drops leading zeros in each 16-bit group; dnspython wants four.
_LOCATORS = frozenset({int(dns.rdatatype.NID), int(dns.rdatatype.L64)})


def _pad_locator(text: str) -> str:
    f = text.split()
    if len(f) != 2 or f[1].count(":") != 3:
        return text
    return f"{f[0]} " + ":".join(g.zfill(4) for g in f[1].split(":"))


def _a(c: Codec, f: list[str]) -> bytes:
    if len(f) != 1:
        raise ValueError
    return dns.ipv4.inet_aton(f[0])


def _aaaa(c: Codec, f: list[str]) -> bytes:
    if len(f) != 1:
        raise ValueError
    return dns.ipv6.inet_aton(f[0])


def _ns(c: Codec, f: list[str]) -> bytes:
    if len(f) != 1:
        raise ValueError
    return name_wire(c.absolute(f[0]))


def _ds(c: Codec, f: list[str]) -> bytes:
    tag, alg, dtype = int(f[0]), int(f[1]), int(f[2])
    digest = bytes.fromhex("".join(f[3:]))
    if not digest or (dtype == 2 and len(digest) != 32) or (dtype == 4 and len(digest) != 48):
        raise ValueError
    return struct.pack("!HBB", tag, alg, dtype) + digest


def _dnskey(c: Codec, f: list[str]) -> bytes:
    flags, proto, alg = int(f[0]), int(f[1]), int(f[2])
    return struct.pack("!HBB", flags, proto, alg) + base64.b64decode("".join(f[3:]), validate=True)


def _types_wire(c: Codec, words: list[str]) -> bytes:
    key = " ".join(words)
    wire = _BITMAPS.get(key)
    if wire is None:
        wire = _BITMAPS[key] = bitmap_wire({c.types(t) for t in words})
    return wire


# Type bitmaps by their text: a zone has few distinct ones ("NS DS RRSIG" ...).
_BITMAPS: dict[str, bytes] = {}


def _nsec(c: Codec, f: list[str]) -> bytes:
    return name_wire_as_is(c.absolute(f[0])) + _types_wire(c, f[1:])


def _nsec3(c: Codec, f: list[str]) -> bytes:
    alg, flags, iterations = int(f[0]), int(f[1]), int(f[2])
    salt = b"" if f[3] == "-" else bytes.fromhex(f[3])
    nxt = b32hex_decode(f[4])
    return (
        struct.pack("!BBHB", alg, flags, iterations, len(salt))
        + salt
        + bytes((len(nxt),))
        + nxt
        + _types_wire(c, f[5:])
    )


_FAST: dict[int, Callable[[Codec, list[str]], bytes]] = {
    dns.rdatatype.A: _a,
    dns.rdatatype.AAAA: _aaaa,
    dns.rdatatype.NS: _ns,
    dns.rdatatype.DS: _ds,
    dns.rdatatype.CDS: _ds,
    dns.rdatatype.DNSKEY: _dnskey,
    dns.rdatatype.CDNSKEY: _dnskey,
    dns.rdatatype.NSEC: _nsec,
    dns.rdatatype.NSEC3: _nsec3,
}


# --- base32hex (RFC 4648 §7) ------------------------------------------------------------------


def b32hex_decode(text: str) -> bytes:
    """Decode unpadded base32hex whose length is a multiple of 8 (SHA-1: 32 digits).

    Base32hex digits (0-9, A-V) are Python's base-32 digits, so ``int`` decodes them in C.
    """
    if len(text) % 8 or not text.isalnum() or not text.isascii():
        raise ValueError("not base32hex")
    return int(text, 32).to_bytes(len(text) * 5 // 8, "big")


# --- keys and signatures ----------------------------------------------------------------------


def key_tag(rdata: bytes) -> int:
    """RFC 4034 Appendix B (algorithm 1, RSA/MD5, is not supported)."""
    acc = 0
    for i in range(0, len(rdata) - 1, 2):
        acc += (rdata[i] << 8) | rdata[i + 1]
    if len(rdata) % 2:
        acc += rdata[-1] << 8
    acc += (acc >> 16) & 0xFFFF
    return acc & 0xFFFF


Verifier = Callable[[bytes, bytes], bool]


def _ecdsa(
    curve: ec.EllipticCurve, size: int, digest: hashes.HashAlgorithm, key: bytes
) -> Verifier:
    public = ec.EllipticCurvePublicKey.from_encoded_point(curve, b"\x04" + key)
    algorithm = ec.ECDSA(digest)

    def verify(signature: bytes, data: bytes) -> bool:
        if len(signature) != 2 * size:
            return False
        der = encode_dss_signature(
            int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
        )
        try:
            public.verify(der, data, algorithm)
        except InvalidSignature:
            return False
        return True

    return verify


def _eddsa(public: ed25519.Ed25519PublicKey | ed448.Ed448PublicKey) -> Verifier:
    def verify(signature: bytes, data: bytes) -> bool:
        try:
            public.verify(signature, data)
        except InvalidSignature:
            return False
        return True

    return verify


def _rsa(digest: hashes.HashAlgorithm, key: bytes) -> Verifier:
    # RFC 3110 §2: exponent length in one octet, or zero and then two octets.
    if key[0]:
        elen, at = key[0], 1
    else:
        elen, at = int.from_bytes(key[1:3], "big"), 3
    exponent = int.from_bytes(key[at : at + elen], "big")
    modulus = int.from_bytes(key[at + elen :], "big")
    public = rsa.RSAPublicNumbers(exponent, modulus).public_key()
    pad = padding.PKCS1v15()

    def verify(signature: bytes, data: bytes) -> bool:
        try:
            public.verify(signature, data, pad, digest)
        except InvalidSignature:
            return False
        return True

    return verify


def make_verifier(algorithm: int, key: bytes) -> Verifier:
    """A signature checker for one DNSKEY's public key; :class:`Doubt` for other algorithms."""
    try:
        if algorithm == 13:
            return _ecdsa(ec.SECP256R1(), 32, hashes.SHA256(), key)
        if algorithm == 14:
            return _ecdsa(ec.SECP384R1(), 48, hashes.SHA384(), key)
        if algorithm == 15:
            return _eddsa(ed25519.Ed25519PublicKey.from_public_bytes(key))
        if algorithm == 16:
            return _eddsa(ed448.Ed448PublicKey.from_public_bytes(key))
        if algorithm in (5, 7):
            return _rsa(hashes.SHA1(), key)
        if algorithm == 8:
            return _rsa(hashes.SHA256(), key)
        if algorithm == 10:
            return _rsa(hashes.SHA512(), key)
    except (ValueError, IndexError, TypeError) as e:
        raise Doubt(f"DNSKEY of algorithm {algorithm} cannot be loaded: {e}") from None
    raise Doubt(f"algorithm {algorithm} is left to the full verifier")
