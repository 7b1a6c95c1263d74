"""What a zone file ``signwire sign --policy`` wrote publishes, as the resolver model needs it.

Shared by the scenarios that sign a small zone hour by hour and feed each file to the model.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import dns.dnssec
import dns.rdatatype
import dns.zone

ZONE = textwrap.dedent(
    """\
    $ORIGIN example.test.
    $TTL 3600
    @    SOA ns1 hostmaster 1 3600 900 604800 1800
    @    NS  ns1
    ns1  A   192.0.2.1
    www  A   192.0.2.80
    *.w  TXT "wild"
    """
)


def fast_policy(zsk_lifetime: str) -> str:
    """A policy of hours rather than days, so a walk of a few days sees whole rollovers."""
    return textwrap.dedent(
        f"""\
        [policy.fast]
        algorithm = "ECDSAP256SHA256"
        denial = "nsec"
        dnskey-ttl = "1h"
        max-zone-ttl = "2h"
        soa-negative-ttl = "30m"
        parent-ds-ttl = "3h"
        zone-propagation-delay = "10m"
        parent-propagation-delay = "30m"
        publish-safety = "10m"
        retire-safety = "10m"
        zsk-lifetime = "{zsk_lifetime}"
        ksk-lifetime = "unlimited"
        """
    )


DNSSEC_TYPES = {
    dns.rdatatype.DNSKEY, dns.rdatatype.RRSIG, dns.rdatatype.NSEC, dns.rdatatype.NSEC3,
    dns.rdatatype.NSEC3PARAM, dns.rdatatype.CDS, dns.rdatatype.CDNSKEY,
}  # fmt: skip
KEY_SIGNED = (dns.rdatatype.DNSKEY, dns.rdatatype.CDS, dns.rdatatype.CDNSKEY)


@dataclass
class Published:
    dnskey: set[str]  # key tags in the DNSKEY RRset
    key_signers: set[str]  # tags that sign the DNSKEY (and CDS/CDNSKEY) RRsets
    zone_signers: set[str]  # tags that sign every other RRset (none when unsigned)
    delete_cds: bool  # the RFC 8078 delete form of CDS is published
    dnssec: bool  # any DNSSEC record at all


def read_published(path: Path) -> Published:
    zone = dns.zone.from_file(str(path), origin="example.test.", relativize=False)
    found = Published(set(), set(), set(), False, False)
    data_sets: list[set[str]] = []
    for _name, node in zone.nodes.items():
        for rds in node.rdatasets:
            found.dnssec |= rds.rdtype in DNSSEC_TYPES
            if rds.rdtype == dns.rdatatype.DNSKEY:
                found.dnskey |= {str(dns.dnssec.key_id(r)) for r in rds}
            if rds.rdtype == dns.rdatatype.CDS:
                found.delete_cds |= any(r.algorithm == 0 and r.digest_type == 0 for r in rds)
            if rds.rdtype != dns.rdatatype.RRSIG:
                continue
            by_type: dict[int, set[str]] = {}
            for sig in rds:
                by_type.setdefault(sig.type_covered, set()).add(str(sig.key_tag))
            for covered, tags in by_type.items():
                if covered in KEY_SIGNED:
                    found.key_signers |= tags
                else:
                    data_sets.append(tags)
    # Every RRset is signed by the same keys: no version is half re-signed.
    assert all(s == data_sets[0] for s in data_sets), data_sets
    found.zone_signers = data_sets[0] if data_sets else set()
    return found
