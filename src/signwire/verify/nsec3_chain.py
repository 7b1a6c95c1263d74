"""The NSEC3 chain of a zone (RFC 5155 §7.1, with RFC 9276 guidance).

* The NSEC3PARAM at the apex names the hash algorithm (1, SHA-1), iterations and salt; every
  NSEC3 must use the same (RFC 5155 §4, §7.1), and its flags must be zero (§4.1.2).
* Every authoritative name and every empty non-terminal has an NSEC3 whose owner is the base32hex
  hash of the name, one label below the apex. With opt-out, an insecure delegation (and an
  empty non-terminal with only insecure delegations below it) may be left out, but only when the
  NSEC3 covering its hash has the Opt-Out flag (RFC 5155 §6, §7.1).
* The chain is closed and ordered by hash: each Next Hashed Owner is the next owner hash, the
  last points back to the first.
* The type bitmap lists the types at the original name (RFC 5155 §3.2.1): RRSIG when anything
  there is signed, NS only (plus DS and RRSIG if present) at a delegation, nothing at an empty
  non-terminal. NSEC3 records for names that need none (glue, occluded names) are errors.
* Iterations above 0 or a salt draw a warning (RFC 9276 §3.1).
"""

from __future__ import annotations

import base64
import binascii
import bisect
from collections import Counter
from dataclasses import dataclass

import dns.dnssec
import dns.name
import dns.rdatatype
from dns.rdtypes.ANY.NSEC3 import NSEC3
from dns.rdtypes.ANY.NSEC3PARAM import NSEC3PARAM

from signwire.verify.denial import bitmap_types, check_denial_ttl, compare_bitmap
from signwire.verify.report import Counts, ProblemLog
from signwire.verify.structure import ZoneShape, data_types
from signwire.verify.zone_reader import ZoneContents

_NSEC3 = dns.rdatatype.NSEC3
_NSEC3PARAM = dns.rdatatype.NSEC3PARAM
_NS = dns.rdatatype.NS
_DS = dns.rdatatype.DS
_RRSIG = dns.rdatatype.RRSIG
SHA1 = 1
OPT_OUT = 0x01


@dataclass(frozen=True, slots=True)
class Params:
    algorithm: int
    iterations: int
    salt: bytes


@dataclass(frozen=True, slots=True)
class Entry:
    owner: dns.name.Name
    record: NSEC3
    ttl: int


def hash_name(name: dns.name.Name, params: Params) -> bytes:
    text = dns.dnssec.nsec3_hash(name, params.salt, params.iterations, params.algorithm)
    return base64.b32hexdecode(text)


def hash_text(digest: bytes) -> str:
    return base64.b32hexencode(digest).decode().lower()


def decode_owner_label(label: bytes) -> bytes | None:
    try:
        digest = base64.b32hexdecode(label.upper())
    except (binascii.Error, ValueError):
        return None
    return digest if len(digest) == 20 else None


def expected_nsec3_types(contents: ZoneContents, shape: ZoneShape, name: dns.name.Name) -> set[int]:
    node = contents.nodes.get(name, {})
    if shape.is_delegation(name):
        return {_NS, _DS, _RRSIG} if _DS in node else {_NS}
    types = data_types(node)
    return types | {_RRSIG} if types else types


def check_nsec3_chain(
    log: ProblemLog,
    contents: ZoneContents,
    shape: ZoneShape,
    counts: Counts,
    *,
    ttl: int | None,
) -> None:
    origin = shape.origin
    entries = _collect(log, contents, origin, counts)
    params = _params(log, contents, origin, entries)
    if params is None:
        return
    if params.algorithm != SHA1:
        log.error(origin, "NSEC3PARAM", f"unknown NSEC3 hash algorithm {params.algorithm}")
        return
    for digest, entry in entries.items():
        _check_entry(log, entry, params, digest, ttl)
    order = sorted(entries)
    for i, digest in enumerate(order):
        entry = entries[digest]
        expected = order[(i + 1) % len(order)]
        if entry.record.next != expected:
            log.error(
                entry.owner,
                "NSEC3",
                f"next hashed owner is {hash_text(entry.record.next)}, expected "
                f"{hash_text(expected)} (chain not closed or not in hash order)",
            )
    opt_outs = Counter(bool(e.record.flags & OPT_OUT) for e in entries.values())
    if len(opt_outs) > 1:
        log.warning(
            origin,
            "NSEC3",
            f"{opt_outs[True]} NSEC3 records have the Opt-Out flag and {opt_outs[False]} do not",
        )
    _check_names(log, contents, shape, params, entries, order)


def _collect(
    log: ProblemLog, contents: ZoneContents, origin: dns.name.Name, counts: Counts
) -> dict[bytes, Entry]:
    entries: dict[bytes, Entry] = {}
    for name, node in contents.nodes.items():
        rds = node.get(_NSEC3)
        if rds is None:
            continue
        counts.nsec3_records += len(rds)
        if name == origin or name.parent() != origin:
            log.error(name, "NSEC3", "NSEC3 owner name must be one label below the apex")
            continue
        digest = decode_owner_label(name.labels[0])
        if digest is None:
            log.error(name, "NSEC3", "NSEC3 owner label is not a base32hex SHA-1 hash")
            continue
        if len(rds) != 1:
            log.error(name, "NSEC3", f"{len(rds)} NSEC3 records at one owner, expected one")
        record = next(iter(rds))
        assert isinstance(record, NSEC3)
        entries[digest] = Entry(name, record, rds.ttl)
    return entries


def _params(
    log: ProblemLog, contents: ZoneContents, origin: dns.name.Name, entries: dict[bytes, Entry]
) -> Params | None:
    rds = contents.rdataset(origin, _NSEC3PARAM)
    if rds is None:
        log.error(origin, "NSEC3PARAM", "the zone has NSEC3 records but no NSEC3PARAM at the apex")
        if not entries:
            return None
        common = Counter(
            Params(e.record.algorithm, e.record.iterations, e.record.salt) for e in entries.values()
        )
        return common.most_common(1)[0][0]
    if len(rds) != 1:
        log.error(origin, "NSEC3PARAM", f"{len(rds)} NSEC3PARAM records, expected one")
    param = min((rd for rd in rds if isinstance(rd, NSEC3PARAM)), key=lambda r: r.to_text())
    if param.flags != 0:
        log.error(origin, "NSEC3PARAM", f"flags are {param.flags}, must be 0 (RFC 5155 §4.1.2)")
    if param.iterations > 0:
        log.warning(
            origin,
            "NSEC3PARAM",
            f"{param.iterations} additional hash iterations; RFC 9276 §3.1 says use 0",
        )
    if param.salt:
        log.warning(origin, "NSEC3PARAM", "a salt is set; RFC 9276 §3.1 says use none (salt '-')")
    return Params(param.algorithm, param.iterations, param.salt)


def _check_entry(
    log: ProblemLog, entry: Entry, params: Params, digest: bytes, ttl: int | None
) -> None:
    rd = entry.record
    got = Params(rd.algorithm, rd.iterations, rd.salt)
    if got != params:
        log.error(
            entry.owner,
            "NSEC3",
            f"parameters (algorithm {rd.algorithm}, {rd.iterations} iterations, salt "
            f"{_salt(rd.salt)}) differ from the NSEC3PARAM (algorithm {params.algorithm}, "
            f"{params.iterations} iterations, salt {_salt(params.salt)})",
        )
    if rd.flags & ~OPT_OUT:
        log.error(entry.owner, "NSEC3", f"unknown flags {rd.flags:#04x} (only Opt-Out is defined)")
    if len(rd.next) != len(digest):
        log.error(entry.owner, "NSEC3", "next hashed owner has the wrong length for SHA-1")
    check_denial_ttl(log, entry.owner, "NSEC3", entry.ttl, ttl)


def _salt(salt: bytes) -> str:
    return salt.hex() if salt else "-"


def _check_names(
    log: ProblemLog,
    contents: ZoneContents,
    shape: ZoneShape,
    params: Params,
    entries: dict[bytes, Entry],
    order: list[bytes],
) -> None:
    origin = shape.origin
    ents = set(shape.empty_non_terminals)
    hashed: dict[bytes, dns.name.Name] = {}
    used: set[bytes] = set()
    for name in [*shape.authoritative, *shape.empty_non_terminals]:
        digest = hash_name(name, params)
        other = hashed.setdefault(digest, name)
        if other != name:
            log.error(name, "NSEC3", f"hash collides with {other}: NSEC3 cannot tell them apart")
            continue
        owner_text = f"{hash_text(digest)}.{origin}"
        entry = entries.get(digest)
        if entry is None:
            if name in shape.opt_out_optional and order:
                cover = entries[order[bisect.bisect_left(order, digest) - 1]]
                if cover.record.flags & OPT_OUT:
                    continue
                log.error(
                    name,
                    "NSEC3",
                    f"insecure delegation has no NSEC3 ({owner_text}) and the covering NSEC3 "
                    f"{cover.owner} lacks the Opt-Out flag",
                )
                continue
            what = "empty non-terminal" if name in ents else "name"
            log.error(name, "NSEC3", f"no NSEC3 for this {what} (expected owner {owner_text})")
            continue
        used.add(digest)
        expected = set() if name in ents else expected_nsec3_types(contents, shape, name)
        compare_bitmap(
            log,
            name,
            "NSEC3",
            bitmap_types(entry.record.windows),
            expected,
            subject=f"NSEC3 {entry.owner}",
        )
    for digest in order:
        if digest not in used:
            log.error(
                entries[digest].owner,
                "NSEC3",
                "NSEC3 hashes no name that needs one (not an authoritative name or empty "
                "non-terminal of the zone: glue, occluded or removed data?)",
            )
