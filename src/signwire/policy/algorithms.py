"""The DNSSEC algorithms signwire signs with: numbers, mnemonics, key sizes, and the key tag.

Pure facts from the IANA "DNS Security Algorithm Numbers" registry and RFC 4034, with no
cryptography: a policy names its algorithm with these, and the verifier, the key stores and the
command line print them. The mathematics of the keys lives in :mod:`signwire.keystore.crypto`.

The supported set is the one RFC 8624 recommends for signing: 8, 10, 13, 14, 15, 16.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

RSASHA256: Final = 8
RSASHA512: Final = 10
ECDSAP256SHA256: Final = 13
ECDSAP384SHA384: Final = 14
ED25519: Final = 15
ED448: Final = 16

DEFAULT_ALGORITHM: Final = ECDSAP256SHA256


@dataclass(frozen=True, slots=True)
class AlgorithmInfo:
    number: int
    mnemonic: str  # IANA "DNS Security Algorithm Numbers" mnemonic, as BIND and ldns print it
    family: str  # "rsa", "ecdsa" or "eddsa"
    default_bits: int
    min_bits: int  # for RSA the modulus range we generate; fixed-size algorithms have min == max
    max_bits: int
    signature_size: int | None  # octets of a signature; None for RSA (equals the modulus size)


ALGORITHMS: Mapping[int, AlgorithmInfo] = MappingProxyType(
    {
        RSASHA256: AlgorithmInfo(RSASHA256, "RSASHA256", "rsa", 2048, 1024, 4096, None),
        RSASHA512: AlgorithmInfo(RSASHA512, "RSASHA512", "rsa", 2048, 1024, 4096, None),
        ECDSAP256SHA256: AlgorithmInfo(
            ECDSAP256SHA256, "ECDSAP256SHA256", "ecdsa", 256, 256, 256, 64
        ),
        ECDSAP384SHA384: AlgorithmInfo(
            ECDSAP384SHA384, "ECDSAP384SHA384", "ecdsa", 384, 384, 384, 96
        ),
        ED25519: AlgorithmInfo(ED25519, "ED25519", "eddsa", 256, 256, 256, 64),
        ED448: AlgorithmInfo(ED448, "ED448", "eddsa", 456, 456, 456, 114),
    }
)

_BY_MNEMONIC: Final = {info.mnemonic: number for number, info in ALGORITHMS.items()}


def _valid_names() -> str:
    return ", ".join(f"{i.mnemonic} ({n})" for n, i in sorted(ALGORITHMS.items()))


def info(algorithm: int) -> AlgorithmInfo:
    """The table entry of a supported algorithm; ValueError for any other number."""
    try:
        return ALGORITHMS[algorithm]
    except KeyError:
        raise ValueError(
            f"unsupported DNSSEC algorithm {algorithm}; supported: {_valid_names()}"
        ) from None


def mnemonic(algorithm: int) -> str:
    return info(algorithm).mnemonic


def parse_algorithm(text: str) -> int:
    """An algorithm number from its mnemonic (any case) or its decimal number."""
    word = text.strip()
    if word.isdigit():
        number = int(word)
        if number in ALGORITHMS:
            return number
    else:
        found = _BY_MNEMONIC.get(word.upper())
        if found is not None:
            return found
    raise ValueError(f"unknown or unsupported DNSSEC algorithm {text!r}; valid: {_valid_names()}")


def check_bits(algorithm: int, bits: int | None) -> int:
    """The key size to generate: ``bits`` if allowed, the default if None; else ValueError."""
    entry = info(algorithm)
    if bits is None:
        return entry.default_bits
    if not entry.min_bits <= bits <= entry.max_bits:
        if entry.min_bits == entry.max_bits:
            raise ValueError(f"{entry.mnemonic} keys are always {entry.min_bits} bits, not {bits}")
        raise ValueError(
            f"{entry.mnemonic} key size must be {entry.min_bits} to {entry.max_bits} bits,"
            f" not {bits}"
        )
    return bits


def key_tag(dnskey_rdata: bytes) -> int:
    """The key tag of a DNSKEY given its wire RDATA (RFC 4034 appendix B)."""
    if len(dnskey_rdata) >= 4 and dnskey_rdata[3] == 1:
        # RSA/MD5 (B.1): the tag is bits 8..23 of the modulus, its last three octets but one.
        return int.from_bytes(dnskey_rdata[-3:-1], "big")
    # Even-indexed octets are the high halves of the 16-bit words being summed.
    acc = (sum(dnskey_rdata[0::2]) << 8) + sum(dnskey_rdata[1::2])
    acc += (acc >> 16) & 0xFFFF
    return acc & 0xFFFF
