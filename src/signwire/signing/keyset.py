"""Which key does what in one signing run.

The offline signer derives this from the keys' roles (KSK/CSK sign the DNSKEY RRset, ZSK/CSK
sign the rest). A policy-driven run takes it from the enforcer, and then the sets differ from
the roles on purpose: a pre-published ZSK is in the DNSKEY RRset but signs nothing; during an
algorithm rollover the new key's signatures go out before its DNSKEY (RFC 6781 §4.1.4). A zone
that a policy took insecure has no keys left at all (:attr:`SigningKeys.unsigned`): it is
written without any DNSSEC record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from signwire.errors import SigningError
from signwire.keystore.model import ZoneKey
from signwire.zones.names import to_text

SHA256, SHA384 = 2, 4


@dataclass(frozen=True, slots=True)
class SigningKeys:
    published: tuple[ZoneKey, ...]  # their DNSKEYs make the DNSKEY RRset
    key_signers: tuple[ZoneKey, ...]  # sign DNSKEY, CDS and CDNSKEY
    zone_signers: tuple[ZoneKey, ...]  # sign everything else
    cds: tuple[ZoneKey, ...] = ()  # CDS records are published for these (RFC 7344)
    cdnskey: tuple[ZoneKey, ...] = ()
    cds_digests: tuple[int, ...] = (SHA256,)
    # RFC 8078 §4: ask the parent to remove every DS (the zone is going insecure). Publishes
    # the delete forms "CDS 0 0 0 00" and "CDNSKEY 0 3 0 AA==" instead of real ones.
    cds_delete: bool = False

    @property
    def unsigned(self) -> bool:
        """No key to publish or sign with, and no delete request: the zone is unsigned."""
        return not (
            self.published
            or self.key_signers
            or self.zone_signers
            or self.cds
            or self.cdnskey
            or self.cds_delete
        )

    @classmethod
    def by_role(
        cls, keys: Iterable[ZoneKey], *, cds: bool = False, cds_delete: bool = False
    ) -> SigningKeys:
        keys = tuple(keys)
        ksks = tuple(k for k in keys if k.signs_keys)
        return cls(
            published=keys,
            key_signers=ksks,
            zone_signers=tuple(k for k in keys if k.signs_zone),
            cds=ksks if cds else (),
            cdnskey=ksks if cds else (),
            cds_delete=cds_delete,
        )

    def check(self, origin: bytes) -> None:
        """Refuse a selection no validator could follow."""
        everything = (*self.published, *self.key_signers, *self.zone_signers)
        if not self.key_signers or not self.zone_signers:
            raise SigningError(f"no keys to sign {to_text(origin)} with")
        for k in everything:
            if k.origin.lower() != origin.lower():
                raise SigningError(
                    f"key {k.source} belongs to {to_text(k.origin)}, not {to_text(origin)}"
                )
        published = {(k.algorithm, k.key_tag) for k in self.published}
        for k in self.key_signers:
            if (k.algorithm, k.key_tag) not in published:
                raise SigningError(f"key {k.key_tag} signs the DNSKEY RRset but is not in it")
        # RFC 4035 §2.2: every algorithm in the DNSKEY RRset signs every RRset.
        for alg in {k.algorithm for k in self.published}:
            if not any(k.algorithm == alg for k in self.key_signers):
                raise SigningError(f"algorithm {alg} has no key-signing key (KSK or CSK)")
            if not any(k.algorithm == alg for k in self.zone_signers):
                raise SigningError(f"algorithm {alg} has no zone-signing key (ZSK or CSK)")
