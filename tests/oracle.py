"""Reference computations the tests check signwire against, written from the RFCs."""

from __future__ import annotations

import struct

import dns.rdata
import dns.rrset


def rrsig_signing_data(rrset: dns.rrset.RRset, rrsig: dns.rdata.Rdata) -> bytes:
    """RFC 4034 §3.1.8.1, written out independently of signwire and of dnspython's internals."""
    head = (
        struct.pack(
            "!HBBIIIH",
            rrsig.type_covered,
            rrsig.algorithm,
            rrsig.labels,
            rrsig.original_ttl,
            rrsig.expiration,
            rrsig.inception,
            rrsig.key_tag,
        )
        + rrsig.signer.canonicalize().to_wire()
    )
    owner = rrset.name.canonicalize().to_wire()
    fixed = struct.pack("!HHI", rrset.rdtype, rrset.rdclass, rrsig.original_ttl)
    wires = sorted(rd.to_digestable() for rd in rrset)
    return head + b"".join(owner + fixed + struct.pack("!H", len(w)) + w for w in wires)


# RFC 4034 §6.1: "The following names are sorted in canonical DNS name order."
RFC4034_ORDER = [
    "example.",
    "a.example.",
    "yljkjljk.a.example.",
    "Z.a.example.",
    "zABC.a.EXAMPLE.",
    "z.example.",
    "\\001.z.example.",
    "*.z.example.",
    "\\200.z.example.",
]
