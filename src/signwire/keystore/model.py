"""A zone's signing key as the signer sees it: public DNSKEY data plus a way to sign.

The signer never needs to know where a private key lives. A :class:`ZoneKey` carries the
DNSKEY fields and a :class:`SignerSpec`, a small picklable value that a worker process turns
into a signing function once (:func:`signwire.keystore.signers.load_signer`). File keys carry
their PKCS#8 DER; PKCS#11 keys carry a JSON locator of the token key.
"""

from __future__ import annotations

from dataclasses import dataclass

from signwire.policy.model import KeyRole


@dataclass(frozen=True, slots=True)
class SignerSpec:
    """What a worker process needs to sign with a key. Picklable and small."""

    algorithm: int
    kind: str  # "pkcs8" (PKCS#8 DER in memory) or "pkcs11" (JSON locator of a token key)
    material: bytes


@dataclass(frozen=True, slots=True)
class ZoneKey:
    origin: bytes  # wire name of the zone
    algorithm: int
    flags: int  # 257 for KSK and CSK (SEP bit), 256 for ZSK
    public_key: bytes  # DNSKEY public key field
    key_tag: int  # RFC 4034 appendix B
    role: KeyRole
    signer: SignerSpec
    source: str  # where it came from, for messages ("Kexample.com.+013+12345.private")

    @property
    def dnskey_rdata(self) -> bytes:
        """Wire RDATA of the DNSKEY record (flags, protocol 3, algorithm, public key)."""
        return self.flags.to_bytes(2, "big") + bytes((3, self.algorithm)) + self.public_key

    @property
    def signs_keys(self) -> bool:
        return self.role.signs_keys

    @property
    def signs_zone(self) -> bool:
        return self.role.signs_zone
