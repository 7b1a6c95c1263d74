"""Zone-file text: a signed zone's records in presentation format, one per line.

Zone out has three forms, all in this package: the answers of the authoritative server
(:mod:`~signwire.publication.responder`: AXFR, IXFR and queries, in wire form), the journal of
signed diffs (:mod:`~signwire.publication.journal`), and the text here, which ``signwire sign``
writes and :mod:`~signwire.publication.zonefile` puts in place atomically.

:func:`render` turns a range of the signing plan's units (one owner name with every record it
will publish) into text with their RRSIGs. It runs in the signing workers
(:mod:`signwire.runtime.signing_pool`), so the main process only copies finished text. The
signatures come from :class:`signwire.signing.context.SignatureBatch`, which decides which
RRsets are signed and by which keys and makes every RRSIG of a range in one tight loop after the
text work; this module only writes. :func:`version_text` is the text of a signed zone version.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from signwire.signing import rrsig
from signwire.signing.context import RenderContext, SignatureBatch, SignFns, Unit
from signwire.zones import base32hex, rrtypes
from signwire.zones import rdata as rdata_codec
from signwire.zones.kinds import NameKind
from signwire.zones.names import ROOT, to_text
from signwire.zones.records import Record
from signwire.zones.rrtypes import NSEC, NSEC3, SOA
from signwire.zones.version import ZoneVersion

# A label written as is in presentation format (names.to_text escapes anything else).
_PLAIN_LABEL = re.compile(rb"[A-Za-z0-9_*-]+")


def _type_order(rec: Record) -> tuple[bool, int]:
    # SOA first at the apex: some tools take the first record of a file as the zone's SOA.
    return (rec[1] != SOA, rec[1])


class TextCache:
    """Presentation text of repeated data, kept by one process across all its chunks.

    In a large zone most unsigned records repeat their data (the NS targets of a TLD come from
    a few thousand hosters) and NSEC bitmaps come in a handful of shapes; and the NSEC of one
    name spells the owner of the next. Caching those turns most text work into a dict lookup.
    """

    LIMIT = 200_000
    CACHED_TYPES = frozenset({rrtypes.NS, rrtypes.CNAME, rrtypes.MX, rrtypes.DNAME})

    def __init__(self) -> None:
        self.rdata: dict[tuple[int, bytes], str] = {}
        self.bitmaps: dict[bytes, str] = {}
        self.tails: dict[bytes, str] = {}  # parent name -> text that follows a label
        self.nsec3_heads: dict[bytes, str] = {}
        self.next_wire = b""
        self.next_text = ""

    def owner(self, wire: bytes) -> str:
        if wire == self.next_wire:
            return self.next_text
        # Most owners are children of a name written many times (the apex of a TLD, a
        # customer's domain): the text after its first label is remembered.
        n = wire[0]
        label = wire[1 : n + 1]
        if n and _PLAIN_LABEL.fullmatch(label) is not None:
            parent = wire[n + 1 :]
            tail = self.tails.get(parent)
            if tail is None:
                if len(self.tails) > self.LIMIT:
                    self.tails.clear()
                tail = self.tails[parent] = "." if parent == ROOT else "." + to_text(parent)
            return label.decode("ascii") + tail
        return to_text(wire)

    def data(self, rdtype: int, wire: bytes) -> str:
        if rdtype == NSEC:
            return self.nsec(wire)
        if rdtype == NSEC3:
            return self.nsec3(wire)
        if rdtype not in self.CACHED_TYPES:
            return rdata_codec.to_text(rdtype, wire)
        text = self.rdata.get((rdtype, wire))
        if text is None:
            if len(self.rdata) > self.LIMIT:
                self.rdata.clear()
            text = self.rdata[(rdtype, wire)] = rdata_codec.to_text(rdtype, wire)
        return text

    def nsec(self, wire: bytes) -> str:
        end = rdata_codec.name_end(wire, 0)
        self.next_wire = wire[:end]
        self.next_text = to_text(self.next_wire)
        return self.next_text + self._bitmap(NSEC, wire, end)

    def nsec3(self, wire: bytes) -> str:
        # RFC 5155 §3.2: algorithm, flags, iterations, salt, hash, bitmap. Only the hash
        # differs from record to record; the rest comes in a handful of shapes.
        hash_at = 5 + wire[4]
        if hash_at >= len(wire) or wire[hash_at] != 20 or hash_at + 21 > len(wire):
            return rdata_codec.to_text(NSEC3, wire)
        head = self.nsec3_heads.get(wire[:hash_at])
        if head is None:
            fields = rdata_codec.to_text(NSEC3, wire).split(" ", 4)
            head = self.nsec3_heads[wire[:hash_at]] = " ".join(fields[:4])
        end = hash_at + 21
        return f"{head} {base32hex.encode(wire[hash_at + 1 : end])}{self._bitmap(NSEC3, wire, end)}"

    def _bitmap(self, rdtype: int, wire: bytes, end: int) -> str:
        bitmap = wire[end:]
        types = self.bitmaps.get(bitmap)
        if types is None:
            # the rdata codec formats the bitmap; keep its text after the next-name field
            full = rdata_codec.to_text(rdtype, wire)
            fields = 1 if rdtype == NSEC else 5
            parts = full.split(" ", fields)
            types = self.bitmaps[bitmap] = " " + parts[fields] if len(parts) > fields else ""
        return types


def render(
    units: Sequence[Unit],
    ctx: RenderContext,
    sign_fns: SignFns,
    cache: TextCache | None = None,
) -> tuple[str, int]:
    """Zone-file text for ``units``, signed, and the number of RRSIGs made.

    Pass the same ``cache`` for every chunk a process renders: a TLD's name servers repeat
    across the whole zone, not within a chunk."""
    out: list[str] = []
    emit = out.append
    batch = SignatureBatch(ctx, sign_fns)
    ask = batch.add
    slots: list[int] = []  # where each RRSIG line waits for its signature, in batch order
    slot = slots.append
    signer_text = to_text(ctx.origin)
    inception_text = rrsig.time_text(batch.inception)
    time_text = rrsig.time_text
    if cache is None:
        cache = TextCache()
    data_text = cache.data
    type_name = rdata_codec.type_to_text  # TYPEnnn where some parser would not know the name

    for _key, kind, recs in units:
        owner_text = cache.owner(recs[0][0])
        if kind is NameKind.APEX:
            recs = sorted(recs, key=_type_order)
        # Elsewhere the records come grouped by type already (the snapshot sorted them and
        # the plan only appended the one NSEC): an RRset is a run of equal types.
        n = len(recs)
        i = 0
        while i < n:
            rdtype = recs[i][1]
            j = i + 1
            while j < n and recs[j][1] == rdtype:
                j += 1
            ttl = recs[i][2]
            tname = type_name(rdtype)
            prefix = f"{owner_text}\t{ttl}\tIN\t{tname}\t"
            for k in range(i, j):
                emit(prefix + data_text(rdtype, recs[k][3]) + "\n")
            signed = ask(kind, recs, i, j)
            if signed is not None:
                labels, expiration, keys = signed
                sig_prefix = (
                    f"{owner_text}\t{ttl}\tIN\tRRSIG\t{tname} {{}} {labels} {ttl} "
                    f"{time_text(expiration)} {inception_text} {{}} {signer_text} "
                )
                for algorithm, key_tag in keys:
                    slot(len(out))
                    emit(sig_prefix.format(algorithm, key_tag))
            i = j
    b64 = rrsig.b64
    signatures = batch.sign()
    for index, signature in zip(slots, signatures, strict=True):
        out[index] += b64(signature) + "\n"
    return "".join(out), len(signatures)


def version_text(version: ZoneVersion) -> str:
    """A zone version as zone-file text, one record per line in the version's order."""
    return "".join(
        f"{to_text(owner)} {ttl} IN {rdata_codec.type_to_text(rdtype)} "
        f"{rdata_codec.to_text(rdtype, rd)}\n"
        for owner, rdtype, ttl, rd in version.records()
    )
