"""RRsets too big for any DNS message: a server can never send them whole (RFC 1035 §4.2.2).

The smallest response carrying an RRset is the header (12 octets), the question (the owner and
4 octets) and each record as a 2-octet pointer to the owner, 10 octets of type, class, TTL and
RDLENGTH, and the RDATA. Above 65,535 octets even TCP cannot carry it (and signatures only add
to it). Such an RRset is read with a warning, as BIND and Knot read it.

The check is split where it is cheap (a zone of a million names must not pay for it):

* An RRset of records of at most :data:`LARGE_RDATA` octets each fits if it has at most four
  records, so :func:`warnings_for_name` is called only for names with more than two records
  (the snapshot's quick path takes no name with more than two records of a type) and looks
  only at RRsets of such records.
* The zone-file reader notes every record of more than :data:`LARGE_RDATA` octets (rare, and
  seen where the RDATA is parsed anyway) and measures the RRsets that hold one itself
  (:func:`oversized`).
"""

from __future__ import annotations

from collections.abc import Iterable

from signwire.zones.names import to_text
from signwire.zones.records import Record
from signwire.zones.rrtypes import name as type_name

MAX_MESSAGE = 0xFFFF
LARGE_RDATA = 16_000  # four records of this size and their overhead still fit a message


def message_size(owner: bytes, rdatas: Iterable[bytes]) -> int:
    """Octets of the smallest DNS response that carries these RDATA as one RRset."""
    return 12 + len(owner) + 4 + sum(12 + len(rd) for rd in rdatas)


def describe(owner: bytes, rdtype: int, count: int, size: int) -> str:
    return (
        f"the {type_name(rdtype)} RRset of {to_text(owner)} ({count} records) needs a message"
        f" of {size} octets, more than the {MAX_MESSAGE} a DNS message can hold: no server can"
        " send it whole"
    )


def oversized(records: Iterable[Record]) -> list[tuple[bytes, int, int, int]]:
    """(owner, type, records, octets) of each RRset among ``records`` that cannot fit.

    ``records`` may hold any owners in any order; owners compare case-insensitively and
    identical records count once (RFC 2181 §5).
    """
    sets: dict[tuple[bytes, int], tuple[bytes, set[bytes]]] = {}
    for owner, rdtype, _ttl, wire, _line in records:
        key = (owner.lower(), rdtype)
        got = sets.get(key)
        if got is None:
            got = sets[key] = (owner, set())
        got[1].add(wire)
    out = []
    for (_, rdtype), (owner, rdatas) in sets.items():
        size = message_size(owner, rdatas)
        if size > MAX_MESSAGE:
            out.append((owner, rdtype, len(rdatas), size))
    return out


def warnings_for_name(recs: list[Record], path: str) -> list[str]:
    """The checks' share: RRsets of one name (records sorted by type) with no large record.

    RRsets holding a record of more than :data:`LARGE_RDATA` octets are the reader's share.
    """
    if len(recs) < 5:
        return []
    out = []
    start = 0
    n = len(recs)
    while start < n:
        rdtype = recs[start][1]
        end = start + 1
        while end < n and recs[end][1] == rdtype:
            end += 1
        if end - start >= 5 and all(len(r[3]) <= LARGE_RDATA for r in recs[start:end]):
            for owner, _, count, size in oversized(recs[start:end]):
                out.append(f"{path}:{recs[start][4]}: {describe(owner, rdtype, count, size)}")
        start = end
    return out
