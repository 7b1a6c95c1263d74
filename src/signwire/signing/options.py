"""What the operator asks of one signing run (the signer's side of a policy)."""

from __future__ import annotations

from dataclasses import dataclass

from signwire.policy.model import DenialKind, Policy
from signwire.zones.names import to_text
from signwire.zones.serial import SerialRule

DAY = 86400
# RFC 2181 §8: a TTL is at most 2^31 - 1 seconds.
MAX_TTL = 2**31 - 1
# RRSIG inception and expiration are 32-bit numbers compared by serial arithmetic (RFC 4034
# §3.1.5, RFC 1982): the span between them must stay below 2^31 s, or a validator sees a
# signature that expired before it was made.
MAX_SPAN = 2**31 - 1
# And each must fit the 32-bit field itself: signing "now" past 2106 is out of reach.
MAX_TIME = 2**32 - 1


# An NSEC3 owner is a 32-octet base32hex label (33 octets with its length) on the apex, and a
# name is at most 255 octets (RFC 1035 §2.3.4).
NSEC3_LABEL_WIRE = 33
MAX_NAME_WIRE = 255
MAX_NSEC3_ORIGIN_WIRE = MAX_NAME_WIRE - NSEC3_LABEL_WIRE


def nsec3_origin_problem(origin: bytes) -> str | None:
    """Why a zone with this apex (wire form) cannot have an NSEC3 chain, or None."""
    if len(origin) <= MAX_NSEC3_ORIGIN_WIRE:
        return None
    return (
        f"the zone name {to_text(origin)} is {len(origin)} octets long, and NSEC3 owner names"
        f" add {NSEC3_LABEL_WIRE} octets to it: they would pass the {MAX_NAME_WIRE}-octet limit"
        f" of a domain name (RFC 1035 §2.3.4). NSEC3 needs a zone name of at most"
        f" {MAX_NSEC3_ORIGIN_WIRE} octets; sign this zone with NSEC"
    )


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
        if self.inception_offset < 0:
            raise ValueError("the inception offset cannot be negative")
        for what, validity in (
            ("signature validity", self.validity),
            ("DNSKEY signature validity", self.dnskey_validity),
        ):
            if validity is not None and validity + self.inception_offset > MAX_SPAN:
                raise ValueError(
                    f"{what} ({validity} s) plus the inception offset ({self.inception_offset} s)"
                    " must stay below 2^31 seconds (about 68 years): RRSIG times are 32-bit"
                    " serial numbers, and a longer span wraps (RFC 4034 §3.1.5)"
                )
        if self.dnskey_validity is not None and self.dnskey_validity <= 0:
            raise ValueError("DNSKEY signature validity must be positive")
        if self.jitter is not None and not 0 <= self.jitter < self.validity:
            raise ValueError("jitter must be at least 0 and shorter than the validity")
        if self.dnskey_ttl is not None and not 0 <= self.dnskey_ttl <= MAX_TTL:
            raise ValueError(f"the DNSKEY TTL must be between 0 and {MAX_TTL} (RFC 2181 §8)")

    def time_problem(self, now: int) -> str | None:
        """Why signatures made at ``now`` with these options cannot be written, or None."""
        longest = max(self.validity, self.dnskey_validity or 0)
        if now - self.inception_offset < 0 or now + longest > MAX_TIME:
            return (
                f"signatures made at {now} (epoch seconds) with an inception offset of"
                f" {self.inception_offset} s and a validity of {longest} s would fall outside"
                " the 32-bit time of RRSIG records (1970 to 2106)"
            )
        return None

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
