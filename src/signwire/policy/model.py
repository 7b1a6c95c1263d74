"""The key-and-signing policy as frozen values (the operator's KASP, checked and complete).

A :class:`Policy` says which keys a zone has (KSK+ZSK or one CSK, algorithm, size, lifetime),
the TTLs and delays the key enforcer must wait for (RFC 7583 §3: DNSKEY TTL, the largest TTL of
signed data, the parent's DS TTL, propagation delays and safety margins), how signatures are
made (validity, refresh, jitter, inception offset), which denial of existence (NSEC, or NSEC3
with the parameters of RFC 5155 and the advice of RFC 9276), the SOA values the signer
publishes, the serial rule, and how the parent learns about the DS (CDS/CDNSKEY, RFC 7344 and
RFC 8078; parental agents, optionally asked with TSIG, RFC 8945; a submission command).

A policy with no keys (``keys = "none"``, the built-in ``insecure``) takes a zone back to
unsigned: the enforcer withdraws the DS first (RFC 8078 §4 delete form) and every other record
only once no DS can be cached (see :mod:`signwire.keys.enforcer`).

Every value is in seconds (``int``) or a plain enum, so a policy is easy to print, compare and
store. Only :mod:`signwire.policy.parse` builds policies; it also refuses the ones that cannot
work, so code that receives a :class:`Policy` may rely on its inequalities.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from signwire.errors import SignwireError
from signwire.zones.serial import SerialRule


class KeyRole(enum.StrEnum):
    KSK = "ksk"  # signs the DNSKEY RRset (and CDS/CDNSKEY); its DS goes to the parent
    ZSK = "zsk"  # signs everything else
    CSK = "csk"  # does both

    @property
    def signs_keys(self) -> bool:
        return self is not KeyRole.ZSK

    @property
    def signs_zone(self) -> bool:
        return self is not KeyRole.KSK


class PolicyError(SignwireError):
    """A policy that cannot be read or cannot work.

    The message names the file, the policy and the key(s) at fault, and says why:
    ``signwire.toml: policy 'fast': signature-refresh: 5d is shorter than ...``.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        policy: str | None = None,
        key: str | None = None,
    ) -> None:
        self.path = path
        self.policy = policy
        self.key = key
        self.reason = message
        where = []
        if path is not None:
            where.append(path)
        if policy is not None:
            where.append(f"policy {policy!r}")
        if key is not None:
            where.append(key)
        super().__init__(": ".join([*where, message]))


class KeyLayout(enum.StrEnum):
    KSK_ZSK = "ksk+zsk"  # a key-signing key (its DS at the parent) and a zone-signing key
    CSK = "csk"  # one combined signing key does both
    NONE = "none"  # no keys: the zone goes (or stays) insecure, its DS withdrawn first


class KskRollover(enum.StrEnum):
    """How a KSK is replaced (RFC 7583 §3.3)."""

    # Both DNSKEYs sign the DNSKEY RRset while the parent swaps the DS in one step. The parent
    # only ever sees DS records of keys already published, which CDS-scanning parents require.
    DOUBLE_KSK = "double-ksk"
    # The new DS joins the old one at the parent first, then the DNSKEYs swap, then the old DS
    # goes. The DNSKEY RRset stays small, but the parent gets two changes per rollover.
    DOUBLE_DS = "double-ds"


class DenialKind(enum.StrEnum):
    NSEC = "nsec"
    NSEC3 = "nsec3"


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One key the policy wants at all times: a slot the enforcer keeps filled."""

    role: KeyRole
    algorithm: int
    size: int  # bits; the algorithm's only size for ECDSA and EdDSA
    lifetime: int | None  # seconds from the moment the key takes over; None: unlimited


@dataclass(frozen=True, slots=True)
class Timing:
    """The TTLs and delays rollovers wait for (RFC 7583 §3.1 names in the comments)."""

    dnskey_ttl: int  # TTLkey
    max_zone_ttl: int  # TTLsig: no signed RRset (nor a negative answer) is cached longer
    parent_ds_ttl: int  # TTLds, as the parent publishes it
    zone_propagation_delay: int  # Dprp: until every secondary serves a new version
    parent_propagation_delay: int  # DprpP: until every server of the parent has a DS change
    publish_safety: int  # Dpub safety margin, added before a new record counts as everywhere
    retire_safety: int  # added before a withdrawn record counts as gone from every cache


@dataclass(frozen=True, slots=True)
class SoaValues:
    """The SOA fields the signer publishes (they bound how long old copies live)."""

    expire: int  # a secondary serves its last copy this long after its last refresh
    negative_ttl: int  # the SOA MINIMUM field: TTL of negative answers (RFC 2308, RFC 9077)
    serial: SerialRule


@dataclass(frozen=True, slots=True)
class SignatureTiming:
    validity: int  # a new RRSIG expires this long after it is made (less up to ``jitter``)
    refresh: int  # a signature is replaced when less than this remains before it expires
    jitter: int  # expirations are spread over [now + validity - jitter, now + validity]
    inception_offset: int  # inception is back-dated this much against clock skew
    dnskey_validity: int  # the same as ``validity`` for RRSIGs over DNSKEY, CDS and CDNSKEY


@dataclass(frozen=True, slots=True)
class Denial:
    kind: DenialKind
    # NSEC3 only (RFC 5155 §3.1). RFC 9276 §3.1: 0 extra iterations and an empty salt.
    iterations: int = 0
    salt: bytes = b""  # a fixed salt; or, with salt_length > 0, a random one of that length
    salt_length: int = 0
    resalt: int | None = None  # seconds between new random salts (only with salt_length)
    opt_out: bool = False  # RFC 5155 §6: unsigned delegations get no NSEC3 of their own


@dataclass(frozen=True, slots=True)
class TsigKey:
    """A TSIG key (RFC 8945) the DS queries to one parental agent are signed with.

    The secret is given inline (``secret``, base64 in the policy) or as a file read when the
    agent is asked (``secret_file``). It never appears in a repr, a message or a log line.
    """

    name: str  # the key's name, presentation format with the trailing dot
    algorithm: str  # "hmac-sha256", "hmac-sha384", "hmac-sha512" or "hmac-sha224"
    secret: bytes | None = field(default=None, repr=False)
    secret_file: str | None = None


@dataclass(frozen=True, slots=True)
class ParentalAgent:
    address: str  # an IPv4 or IPv6 literal
    port: int = 53
    tsig: TsigKey | None = None


@dataclass(frozen=True, slots=True)
class ParentSync:
    """How the parent learns about DS changes."""

    cds: bool  # publish CDS records for the keys whose DS should be at the parent (RFC 7344)
    cdnskey: bool  # and CDNSKEY records
    digest_types: tuple[int, ...]  # DS/CDS digest types (RFC 8624 §3.3: 2 = SHA-256, 4 = SHA-384)
    parental_agents: tuple[ParentalAgent, ...]  # servers asked whether the DS is there
    ds_submit_command: tuple[str, ...] | None  # argv; receives the DS RRset on stdin


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    layout: KeyLayout
    keys: tuple[KeySpec, ...]  # (KSK, ZSK), (CSK,), or () for a zone going insecure
    ksk_rollover: KskRollover
    timing: Timing
    soa: SoaValues
    signatures: SignatureTiming
    denial: Denial
    parent: ParentSync
    source: str  # the file it came from, or "<built-in>"

    @property
    def algorithm(self) -> int | None:
        """The keys' algorithm; None for a policy without keys."""
        return self.keys[0].algorithm if self.keys else None

    @property
    def insecure(self) -> bool:
        """The policy wants the zone unsigned: every key goes, the DS first."""
        return not self.keys

    def spec(self, role: KeyRole) -> KeySpec | None:
        for spec in self.keys:
            if spec.role is role:
                return spec
        return None

    @property
    def signature_ttl(self) -> int:
        """The longest any signed data (positive or negative answer) may be cached."""
        return max(self.timing.max_zone_ttl, self.soa.negative_ttl)
