"""The compact record form the fast path works on.

A zone of a million delegations is mostly records that are never signed (delegation NS and
glue); they need only their owner, type and data. Building a dnspython object per record costs
more than signing, so the reader produces plain tuples:

    Record = (owner, rdtype, ttl, rdata, line)

* ``owner``: wire-format name in the case it was written (:mod:`signwire.zones.names`); records
  of one owner share one ``bytes`` object.
* ``rdtype``: the type code (``int``); the class is always IN.
* ``ttl``: seconds.
* ``rdata``: uncompressed wire-format RDATA, names in the case written (canonical lowercasing
  for signing is done by :func:`signwire.zones.rdata.canonical`).
* ``line``: the line in the source file where the record starts (0 when it has no file).
"""

from __future__ import annotations

from dataclasses import dataclass, field

Record = tuple[bytes, int, int, bytes, int]

OWNER, RDTYPE, TTL, RDATA, LINE = range(5)


@dataclass(slots=True)
class ParsedZone:
    """What the zone reader hands on: the records in file order and where they came from."""

    origin: bytes
    path: str
    records: list[Record]
    # What the reader accepted but an operator should hear about ("file:line: ..."); the
    # snapshot passes them on with its own.
    warnings: list[str] = field(default_factory=list)
