"""Record type codes the signer treats specially, and their mnemonics.

Plain ints rather than ``dns.rdatatype.RdataType`` members: they are compared millions of times
on the hot path. Mnemonics come from dnspython, so unknown types print as ``TYPE65534``.
"""

from __future__ import annotations

from functools import cache

import dns.rdatatype

A = 1
NS = 2
CNAME = 5
SOA = 6
MX = 15
TXT = 16
AAAA = 28
SRV = 33
DNAME = 39
DS = 43
RRSIG = 46
NSEC = 47
DNSKEY = 48
NSEC3 = 50
NSEC3PARAM = 51
CDS = 59
CDNSKEY = 60

# Records only a signer makes: finding them in the input means the zone was signed before.
SIGNER_TYPES = frozenset({RRSIG, NSEC, NSEC3, NSEC3PARAM})
# At the apex, signed by the key-signing keys (RFC 7344 §4.1 for CDS/CDNSKEY).
KEY_SIGNED_TYPES = frozenset({DNSKEY, CDS, CDNSKEY})
GLUE_TYPES = frozenset({A, AAAA})


@cache
def name(rdtype: int) -> str:
    return dns.rdatatype.to_text(dns.rdatatype.RdataType.make(rdtype))
