"""What the operator asks of one signing run (the signer's side of a policy)."""

from __future__ import annotations

from dataclasses import dataclass

from signwire.policy.model import DenialKind, Policy
from signwire.zones.serial import SerialRule

DAY = 86400


@dataclass(frozen=True, slots=True)
class Nsec3Params:
    """NSEC3 parameters. RFC 9276 §3.1: no extra iterations and no salt are the right default."""

    iterations: int = 0
    salt: bytes = b""
    opt_out: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.iterations <= 65535:
            raise ValueError("NSEC3 iterations must be between 0 and 65535")
        if len(self.salt) > 255:
            raise ValueError("NSEC3 salt is longer than 255 octets")


@dataclass(frozen=True, slots=True)
class SigningOptions:
    nsec3: Nsec3Params | None = None  # None: NSEC
    validity: int = 14 * DAY
    # Validators that check clocks loosely (and dnsviz) distrust signatures that start "now";
    # OpenDNSSEC's InceptionOffset default is the same hour.
    inception_offset: int = 3600
    # Expirations are spread over this many seconds (deterministically per RRset) so that the
    # refreshes of a big zone do not all fall due in the same minute. None: the smaller of
    # 12 hours and a quarter of the validity.
    jitter: int | None = None
    dnskey_ttl: int | None = None  # None: the TTL of DNSKEYs in the input, else 3600
    serial: SerialRule = SerialRule.KEEP
    cds: bool = False  # publish CDS (SHA-256) and CDNSKEY for the key-signing keys (RFC 7344)
    # A policy may give DNSKEY/CDS/CDNSKEY signatures their own validity, and fix SOA values
    # and a TTL ceiling its rollover timing depends on. None: as the zone and `validity` say.
    dnskey_validity: int | None = None
    soa_expire: int | None = None
    soa_minimum: int | None = None
    max_ttl: int | None = None

    def __post_init__(self) -> None:
        if self.validity <= 0:
            raise ValueError("signature validity must be positive")
        if self.jitter is not None and not 0 <= self.jitter < self.validity:
            raise ValueError("jitter must be at least 0 and shorter than the validity")

    @property
    def effective_jitter(self) -> int:
        if self.jitter is not None:
            return self.jitter
        return min(12 * 3600, self.validity // 4)


def from_policy(policy: Policy) -> SigningOptions:
    """What a policy says about signing (its key settings go to the enforcer instead)."""
    denial = policy.denial
    nsec3 = None
    if denial.kind is DenialKind.NSEC3:
        if denial.salt_length:
            raise ValueError(
                f"policy {policy.name!r}: random NSEC3 salts (salt-length) are not supported yet;"
                " RFC 9276 advises no salt"
            )
        nsec3 = Nsec3Params(denial.iterations, denial.salt, denial.opt_out)
    sig = policy.signatures
    return SigningOptions(
        nsec3=nsec3,
        validity=sig.validity,
        inception_offset=sig.inception_offset,
        jitter=sig.jitter,
        dnskey_ttl=policy.timing.dnskey_ttl,
        serial=policy.soa.serial,
        dnskey_validity=sig.dnskey_validity,
        soa_expire=policy.soa.expire,
        soa_minimum=policy.soa.negative_ttl,
        max_ttl=policy.timing.max_zone_ttl,
    )
