"""Checking RRSIG records against their RRsets and the apex DNSKEY RRset.

Each RRSIG is checked the way RFC 4035 §5.3.1 asks a validator to, but with a separate finding
for each way it can be wrong, so the report says *why*: the signer name is the zone, the Labels
field matches the owner (RFC 4034 §3.1.3, one less for a wildcard), the Original TTL is the
RRset's TTL (§3.1.4), ``now`` is inside the validity period (§3.1.5, a warning within the
horizon), the key is in the DNSKEY RRset, and the signature verifies (``dns.dnssec`` with the
allow-all policy, so old algorithms in test vectors still verify).

Coverage follows RFC 4035 §2.2 as clarified by RFC 6840 §5.11: every authoritative RRset needs a
valid RRSIG for each algorithm present in the apex DNSKEY RRset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import dns.dnssec
import dns.exception
import dns.name
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.RRSIG import RRSIG

from signwire.verify.report import Counts, ProblemLog

ZONE_FLAG = 0x0100
SEP_FLAG = 0x0001
REVOKE_FLAG = 0x0080
_TIME_WRAP = 1 << 32
_TIME_HALF = 1 << 31


@dataclass
class ZoneKeys:
    """The apex DNSKEY RRset, indexed for signature checks."""

    origin: dns.name.Name
    by_tag: dict[tuple[int, int], dns.rdataset.Rdataset] = field(default_factory=dict)
    """Zone keys (RFC 4034 §2.1.1 Zone Key flag, protocol 3) by (algorithm, key tag); each
    value is a small DNSKEY RRset for ``dns.dnssec.validate_rrsig``."""
    algorithms: set[int] = field(default_factory=set)
    """Algorithms every authoritative RRset must be signed with (RFC 6840 §5.11)."""

    @classmethod
    def from_rdataset(
        cls, origin: dns.name.Name, dnskeys: dns.rdataset.Rdataset | None
    ) -> ZoneKeys:
        keys = cls(origin)
        if dnskeys is None:
            return keys
        for rd in dnskeys:
            assert isinstance(rd, DNSKEY)
            if not rd.flags & ZONE_FLAG or rd.protocol != 3:
                continue
            tag = dns.dnssec.key_id(rd)
            rds = keys.by_tag.get((rd.algorithm, tag))
            if rds is None:
                rds = keys.by_tag[(rd.algorithm, tag)] = dns.rdataset.Rdataset(
                    dns.rdataclass.IN, dns.rdatatype.DNSKEY, dns.rdatatype.NONE, dnskeys.ttl
                )
            rds.add(rd)
            if not rd.flags & REVOKE_FLAG:
                keys.algorithms.add(int(rd.algorithm))
        return keys

    def keys(self, algorithm: int, tag: int) -> list[DNSKEY]:
        rds = self.by_tag.get((algorithm, tag))
        return [] if rds is None else [rd for rd in rds if isinstance(rd, DNSKEY)]


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """One RRSIG that passed every check."""

    algorithm: int
    key_tag: int


def timestamp(value: int) -> str:
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def time_before(a: int, b: int) -> bool:
    """``a`` is before ``b`` as RFC 4034 §3.1.5 compares signature times: RFC 1982 serial
    arithmetic on 32 bits, so a time more than 2^31 seconds (68 years) ahead counts as behind."""
    return 0 < (b - a) % _TIME_WRAP < _TIME_HALF


def seconds_until(later: int, now: int) -> int:
    """Seconds from ``now`` to the signature time ``later`` (which is not before it)."""
    return (later - now) % _TIME_WRAP


def validity_problem(inception: int, expiration: int) -> str | None:
    """Why an RRSIG's validity period is empty, or None when it is not."""
    if not time_before(expiration, inception):
        return None
    if inception > expiration:
        return f"inception {timestamp(inception)} is after expiration {timestamp(expiration)}"
    years = (expiration - inception) / (365.25 * 86400)
    return (
        f"expiration {timestamp(expiration)} is {years:.1f} years after inception "
        f"{timestamp(inception)}, more than 2^31 seconds: RFC 4034 §3.1.5 serial arithmetic "
        "reads it as before the inception, so validators reject the signature"
    )


def expected_labels(owner: dns.name.Name) -> int:
    """RFC 4034 §3.1.3: labels of the owner without the root, and without a leading ``*``."""
    count = len(owner) - 1
    return count - 1 if owner.is_wild() else count


def check_rrsig(
    log: ProblemLog,
    keys: ZoneKeys,
    owner: dns.name.Name,
    rrset: dns.rdataset.Rdataset,
    rrsig: RRSIG,
    *,
    now: int,
    warn_horizon: int,
) -> SignatureCheck | None:
    """Check one RRSIG over ``rrset``; log what is wrong and return it only if it is valid."""
    rdtype = dns.rdatatype.to_text(rrset.rdtype)
    what = f"RRSIG {rdtype} (key {rrsig.key_tag}, algorithm {rrsig.algorithm})"
    ok = True
    if rrsig.signer is not keys.origin and rrsig.signer != keys.origin:
        log.error(
            owner, rdtype, f"{what}: signer name {rrsig.signer} is not the zone {keys.origin}"
        )
        return None
    labels = expected_labels(owner)
    if rrsig.labels != labels:
        log.error(owner, rdtype, f"{what}: Labels field is {rrsig.labels}, expected {labels}")
        ok = False
    if rrsig.original_ttl != rrset.ttl:
        log.error(
            owner,
            rdtype,
            f"{what}: Original TTL {rrsig.original_ttl} differs from the RRset TTL {rrset.ttl}",
        )
        ok = False
    period = validity_problem(rrsig.inception, rrsig.expiration)
    if period is not None:
        log.error(owner, rdtype, f"{what}: {period}")
        return None
    if time_before(now, rrsig.inception):
        log.error(owner, rdtype, f"{what}: not yet valid (inception {timestamp(rrsig.inception)})")
        ok = False
    elif time_before(rrsig.expiration, now):
        log.error(owner, rdtype, f"{what}: expired at {timestamp(rrsig.expiration)}")
        ok = False
    elif seconds_until(rrsig.expiration, now) < warn_horizon:
        days = seconds_until(rrsig.expiration, now) / 86400
        log.warning(
            owner,
            rdtype,
            f"{what}: expires in {days:.1f} days, at {timestamp(rrsig.expiration)}",
        )
    candidates = keys.by_tag.get((rrsig.algorithm, rrsig.key_tag))
    if candidates is None:
        log.error(
            owner,
            rdtype,
            f"{what}: made by a key that is not a zone key in the DNSKEY RRset",
        )
        return None
    if rrsig.labels > labels:
        # dnspython would only say "owner name longer than RRSIG labels": already reported.
        return None
    try:
        # The validity period was judged above against ``now``; give dnspython a time inside
        # it so that only the cryptography is tested here.
        dns.dnssec.validate_rrsig(
            (owner, rrset),
            rrsig,
            {keys.origin: candidates},
            now=rrsig.inception,
            policy=dns.dnssec.allow_all_policy,
        )
    except dns.exception.UnsupportedAlgorithm:
        log.error(owner, rdtype, f"{what}: algorithm {rrsig.algorithm} cannot be verified here")
        return None
    except dns.exception.ValidationFailure as e:
        log.error(owner, rdtype, f"{what}: signature does not verify ({e})")
        return None
    if not ok:
        return None
    return SignatureCheck(int(rrsig.algorithm), rrsig.key_tag)


def check_rrset(
    log: ProblemLog,
    keys: ZoneKeys,
    owner: dns.name.Name,
    rrset: dns.rdataset.Rdataset,
    rrsigs: list[RRSIG],
    *,
    rrsig_ttl: int | None,
    now: int,
    warn_horizon: int,
    counts: Counts,
) -> list[SignatureCheck]:
    """Check every RRSIG over one authoritative RRset and its algorithm coverage."""
    counts.rrsets_checked += 1
    rdtype = dns.rdatatype.to_text(rrset.rdtype)
    if not rrsigs:
        log.error(owner, rdtype, "RRset is not signed (no RRSIG)")
        return []
    if rrsig_ttl is not None and rrsig_ttl != rrset.ttl:
        # RFC 4034 §3: the RRSIG TTL should equal the RRset's (validators use the lower).
        log.warning(owner, rdtype, f"RRSIG TTL {rrsig_ttl} differs from the RRset TTL {rrset.ttl}")
    valid: list[SignatureCheck] = []
    seen_algorithms: set[int] = set()
    for rrsig in rrsigs:
        counts.signatures_checked += 1
        seen_algorithms.add(int(rrsig.algorithm))
        result = check_rrsig(log, keys, owner, rrset, rrsig, now=now, warn_horizon=warn_horizon)
        if result is not None:
            valid.append(result)
    good_algorithms = {v.algorithm for v in valid}
    for algorithm in sorted(keys.algorithms - good_algorithms):
        if algorithm in seen_algorithms:
            continue  # its RRSIGs were invalid and have been reported one by one
        log.error(
            owner,
            rdtype,
            f"no RRSIG with algorithm {algorithm} ({_algorithm_name(algorithm)}), which the "
            "DNSKEY RRset uses (RFC 6840 §5.11)",
        )
    return valid


def _algorithm_name(algorithm: int) -> str:
    return dns.dnssec.algorithm_to_text(algorithm)
