"""Records the signer owns at the apex: DNSKEY, CDS/CDNSKEY, NSEC3PARAM and the SOA serial."""

from __future__ import annotations

import hashlib

from signwire.signing import nsec3
from signwire.signing.keyset import SHA256, SHA384, SigningKeys
from signwire.signing.options import SigningOptions
from signwire.zones import serial
from signwire.zones.records import Record
from signwire.zones.rrtypes import CDNSKEY, CDS, DNSKEY, NSEC3PARAM, SOA

DEFAULT_DNSKEY_TTL = 3600
# RFC 8078 §4: the records that ask a parent to remove the DS RRset.
CDS_DELETE = bytes(5)  # key tag 0, algorithm 0, digest type 0, one zero octet of digest
CDNSKEY_DELETE = b"\x00\x00\x03\x00\x00"  # flags 0, protocol 3, algorithm 0, key 0x00


_DIGESTS = {SHA256: hashlib.sha256, SHA384: hashlib.sha384}


def ds_rdata(
    origin: bytes, dnskey_rdata: bytes, key_tag: int, algorithm: int, digest_type: int = SHA256
) -> bytes:
    """DS / CDS RDATA (RFC 4034 §5.1.4; SHA-256 RFC 4509, SHA-384 RFC 6605)."""
    digest = _DIGESTS[digest_type](origin.lower() + dnskey_rdata).digest()
    return key_tag.to_bytes(2, "big") + bytes((algorithm, digest_type)) + digest


def soa_fields(soa: Record) -> tuple[int, int]:
    """(serial, minimum) of an SOA record."""
    rdata = soa[3]
    return int.from_bytes(rdata[-20:-16], "big"), int.from_bytes(rdata[-4:], "big")


def denial_ttl(soa: Record) -> int:
    """RFC 9077: NSEC/NSEC3 TTL is the smaller of the SOA's TTL and its MINIMUM field."""
    return min(soa[2], soa_fields(soa)[1])


def apex_records(
    recs: list[Record],
    keys: SigningKeys,
    options: SigningOptions,
    now: int,
    previous_serial: int | None = None,
) -> tuple[list[Record], int]:
    """The apex's records as they will be published, and the outgoing serial."""
    owner = recs[0][0]
    soa = next(r for r in recs if r[1] == SOA)
    current, _ = soa_fields(soa)
    new_serial = serial.next_serial(options.serial, current, now, previous_serial)
    fields = soa[3][-20:]
    expire = fields[12:16] if options.soa_expire is None else options.soa_expire.to_bytes(4, "big")
    minimum = fields[16:] if options.soa_minimum is None else options.soa_minimum.to_bytes(4, "big")
    new_rdata = soa[3][:-20] + new_serial.to_bytes(4, "big") + fields[4:12] + expire + minimum
    new_soa = (soa[0], SOA, soa[2], new_rdata, soa[4])

    own_types = {DNSKEY, NSEC3PARAM, SOA}
    if keys.cds or keys.cdnskey or keys.cds_delete:
        own_types |= {CDS, CDNSKEY}
    kept = [r for r in recs if r[1] not in own_types]
    input_dnskeys = [r for r in recs if r[1] == DNSKEY]
    # 0 is a TTL like any other (RFC 2181 §8), so only None falls back.
    ttl = options.dnskey_ttl
    if ttl is None:
        ttl = input_dnskeys[0][2] if input_dnskeys else DEFAULT_DNSKEY_TTL

    out: list[Record] = [new_soa, *kept]
    seen: set[bytes] = set()
    for k in keys.published:
        if k.dnskey_rdata not in seen:
            seen.add(k.dnskey_rdata)
            out.append((owner, DNSKEY, ttl, k.dnskey_rdata, 0))
    for r in input_dnskeys:  # a foreign key (say, an outgoing operator's), kept as published
        if r[3] not in seen:
            seen.add(r[3])
            out.append((owner, DNSKEY, ttl, r[3], r[4]))
    for k in keys.cds:
        for digest in keys.cds_digests:
            rdata = ds_rdata(owner, k.dnskey_rdata, k.key_tag, k.algorithm, digest)
            out.append((owner, CDS, ttl, rdata, 0))
    out.extend((owner, CDNSKEY, ttl, k.dnskey_rdata, 0) for k in keys.cdnskey)
    if keys.cds_delete:
        out.append((owner, CDS, ttl, CDS_DELETE, 0))
        out.append((owner, CDNSKEY, ttl, CDNSKEY_DELETE, 0))
    if options.nsec3 is not None:
        param = nsec3.param_rdata(options.nsec3)
        out.append((owner, NSEC3PARAM, int.from_bytes(minimum, "big"), param, 0))
    out.sort(key=lambda r: r[1])
    return out, new_serial
