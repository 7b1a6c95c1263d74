"""Records the signer owns at the apex: DNSKEY, CDS/CDNSKEY, NSEC3PARAM and the SOA serial."""

from __future__ import annotations

import hashlib

from signwire.keys.model import ZoneKey
from signwire.signing import nsec3
from signwire.signing.options import SigningOptions
from signwire.zones import serial
from signwire.zones.records import Record
from signwire.zones.rrtypes import CDNSKEY, CDS, DNSKEY, NSEC3PARAM, SOA

DEFAULT_DNSKEY_TTL = 3600
SHA256 = 2


def ds_rdata(origin: bytes, dnskey_rdata: bytes, key_tag: int, algorithm: int) -> bytes:
    """DS / CDS RDATA with a SHA-256 digest (RFC 4509; RFC 4034 §5.1.4)."""
    digest = hashlib.sha256(origin.lower() + dnskey_rdata).digest()
    return key_tag.to_bytes(2, "big") + bytes((algorithm, SHA256)) + digest


def soa_fields(soa: Record) -> tuple[int, int]:
    """(serial, minimum) of an SOA record."""
    rdata = soa[3]
    return int.from_bytes(rdata[-20:-16], "big"), int.from_bytes(rdata[-4:], "big")


def denial_ttl(soa: Record) -> int:
    """RFC 9077: NSEC/NSEC3 TTL is the smaller of the SOA's TTL and its MINIMUM field."""
    return min(soa[2], soa_fields(soa)[1])


def apex_records(
    recs: list[Record],
    keys: list[ZoneKey],
    options: SigningOptions,
    now: int,
) -> tuple[list[Record], int]:
    """The apex's records as they will be published, and the outgoing serial."""
    owner = recs[0][0]
    soa = next(r for r in recs if r[1] == SOA)
    current, _ = soa_fields(soa)
    new_serial = serial.next_serial(options.serial, current, now)
    new_soa = (
        soa[0],
        SOA,
        soa[2],
        soa[3][:-20] + new_serial.to_bytes(4, "big") + soa[3][-16:],
        soa[4],
    )

    own_types = {DNSKEY, NSEC3PARAM, SOA} | ({CDS, CDNSKEY} if options.cds else set())
    kept = [r for r in recs if r[1] not in own_types]
    input_dnskeys = [r for r in recs if r[1] == DNSKEY]
    ttl = options.dnskey_ttl or (input_dnskeys[0][2] if input_dnskeys else DEFAULT_DNSKEY_TTL)

    out: list[Record] = [new_soa, *kept]
    seen: set[bytes] = set()
    for k in keys:
        seen.add(k.dnskey_rdata)
        out.append((owner, DNSKEY, ttl, k.dnskey_rdata, 0))
    for r in input_dnskeys:  # a foreign key (say, an outgoing operator's), kept as published
        if r[3] not in seen:
            seen.add(r[3])
            out.append((owner, DNSKEY, ttl, r[3], r[4]))
    if options.cds:
        for k in keys:
            if k.signs_keys:
                out.append(
                    (owner, CDS, ttl, ds_rdata(owner, k.dnskey_rdata, k.key_tag, k.algorithm), 0)
                )
                out.append((owner, CDNSKEY, ttl, k.dnskey_rdata, 0))
    if options.nsec3 is not None:
        out.append((owner, NSEC3PARAM, soa_fields(soa)[1], nsec3.param_rdata(options.nsec3), 0))
    out.sort(key=lambda r: r[1])
    return out, new_serial
