"""Trust anchors for ``signwire verify``: DS or DNSKEY records the zone's keys must match.

An anchor file is zone-file text, as BIND and ldns write ``K*.ds`` / ``K*.key`` files or as
``dig DS`` prints: comments, any TTL, the class optional. Only DS and DNSKEY records are used;
other types in the file (an RRSIG from ``dig +dnssec``) are ignored.

A DS matches a DNSKEY when key tag, algorithm and digest agree (RFC 4034 §5.1.4, digest types
SHA-1, SHA-256 and SHA-384: RFC 4034, RFC 4509, RFC 6605); a DNSKEY anchor matches when
algorithm and public key are equal (the REVOKE and SEP bits may differ).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import dns.dnssec
import dns.exception
import dns.name
import dns.rdataset
import dns.rdatatype
import dns.zonefile
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.DS import DS

from signwire.errors import ZoneDataError

# Digest types a DS anchor may use (RFC 4034 §5.1.3, RFC 4509, RFC 6605 §2).
CHECKABLE_DIGESTS = frozenset({1, 2, 4})


@dataclass(frozen=True, slots=True)
class TrustAnchor:
    owner: dns.name.Name
    record: DS | DNSKEY

    def __str__(self) -> str:
        return f"{self.owner} {dns.rdatatype.to_text(self.record.rdtype)} {self.record}"


def load_anchors(path: str) -> list[TrustAnchor]:
    """Read DS and DNSKEY records from ``path``; :class:`ZoneDataError` if there are none."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ZoneDataError(f"cannot read the anchor file: {e.strerror}", path=path) from None
    except UnicodeDecodeError as e:
        raise ZoneDataError(f"not a text anchor file ({e.reason})", path=path) from None
    return parse_anchors(text, path=path)


def parse_anchors(text: str, *, path: str = "<anchors>") -> list[TrustAnchor]:
    try:
        rrsets = dns.zonefile.read_rrsets(
            text, rdclass=None, default_ttl=0, origin=dns.name.root, relativize=False
        )
    except dns.exception.SyntaxError as e:
        raise ZoneDataError(f"not an anchor file: {e}", path=path) from None
    except dns.exception.DNSException as e:
        raise ZoneDataError(f"not an anchor file: {e}", path=path) from None
    anchors: list[TrustAnchor] = []
    for rrset in rrsets:
        if rrset.rdtype in (dns.rdatatype.DS, dns.rdatatype.DNSKEY):
            for rd in rrset:
                anchors.append(TrustAnchor(rrset.name, cast(DS | DNSKEY, rd)))
    if not anchors:
        raise ZoneDataError("the anchor file holds no DS or DNSKEY record", path=path)
    return anchors


@dataclass(frozen=True, slots=True)
class AnchorMatch:
    keys: list[DNSKEY]
    """The zone's DNSKEYs that some anchor matches."""
    unchecked: list[TrustAnchor]
    """DS anchors with a digest type this verifier cannot compute."""


def match_anchors(
    origin: dns.name.Name, dnskeys: dns.rdataset.Rdataset, anchors: list[TrustAnchor]
) -> AnchorMatch:
    """The DNSKEYs of ``dnskeys`` (the apex RRset of ``origin``) that the anchors vouch for."""
    matched: list[DNSKEY] = []
    unchecked: list[TrustAnchor] = []
    keys = [cast(DNSKEY, rd) for rd in dnskeys]
    for anchor in anchors:
        if anchor.owner != origin:
            continue
        rec = anchor.record
        if isinstance(rec, DS):
            if rec.digest_type not in CHECKABLE_DIGESTS:
                unchecked.append(anchor)
                continue
            for key in keys:
                if ds_matches(origin, rec, key) and key not in matched:
                    matched.append(key)
        else:
            for key in keys:
                if (
                    key.algorithm == rec.algorithm
                    and key.key == rec.key
                    and key.protocol == rec.protocol
                    and key not in matched
                ):
                    matched.append(key)
    return AnchorMatch(matched, unchecked)


def ds_matches(origin: dns.name.Name, ds: DS, key: DNSKEY) -> bool:
    """RFC 4034 §5.1.4: the DS digest is over owner name (canonical) and DNSKEY RDATA."""
    if ds.algorithm != key.algorithm or ds.key_tag != dns.dnssec.key_id(key):
        return False
    try:
        made = dns.dnssec.make_ds(origin, key, ds.digest_type, policy=dns.dnssec.allow_all_policy)
    except (dns.exception.UnsupportedAlgorithm, dns.exception.DeniedByPolicy, ValueError):
        return False
    return bool(made.digest == ds.digest)


def anchors_for(origin: dns.name.Name, anchors: list[TrustAnchor]) -> list[TrustAnchor]:
    return [a for a in anchors if a.owner == origin]
