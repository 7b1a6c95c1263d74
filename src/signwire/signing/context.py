"""What one signing run signs with, which RRsets each key signs, and the signatures themselves.

A *unit* is one owner name with all the records it will publish (input records plus the NSEC or
NSEC3 and apex records the plan added). :class:`RenderContext` holds one run's keys and
signature times; :func:`keys_for` is the rule saying which RRsets carry signatures and by which
keys, shared by the text output (:mod:`signwire.publication.zonetext`) and by signing into a
zone version (:mod:`signwire.signing.versioned`). :class:`SignatureBatch` makes the RRSIGs of
many RRsets in one tight loop, after the caller has done its other work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from signwire.keystore import signers
from signwire.keystore.model import SignerSpec
from signwire.signing import rrsig
from signwire.zones.kinds import NameKind
from signwire.zones.names import lower, rrsig_labels
from signwire.zones.records import Record
from signwire.zones.rrtypes import DS, KEY_SIGNED_TYPES, NSEC, NSEC3

Unit = tuple[bytes, NameKind, list[Record]]

SIGNED_AT_DELEGATION = frozenset({DS, NSEC, NSEC3})


@dataclass(frozen=True, slots=True)
class KeyUse:
    algorithm: int
    key_tag: int
    signer: SignerSpec


@dataclass(frozen=True, slots=True)
class RenderContext:
    origin: bytes
    zone_keys: tuple[KeyUse, ...]  # sign ordinary data (ZSK, CSK)
    key_keys: tuple[KeyUse, ...]  # sign DNSKEY, CDS, CDNSKEY (KSK, CSK)
    timing: rrsig.SigTiming
    key_timing: rrsig.SigTiming  # for DNSKEY, CDS and CDNSKEY (a policy may differ there)


SignFns = dict[SignerSpec, Callable[[bytes], bytes]]


def load_signers(ctx: RenderContext) -> SignFns:
    return {k.signer: signers.load_signer(k.signer) for k in (*ctx.zone_keys, *ctx.key_keys)}


def is_signed(kind: NameKind, rdtype: int) -> bool:
    """Whether an RRset of this type at a name of this kind carries signatures: everything
    authoritative; at a delegation only DS and the NSEC/NSEC3 (RFC 4035 §2.2); nothing
    occluded."""
    if kind is NameKind.OCCLUDED:
        return False
    return kind is not NameKind.DELEGATION or rdtype in SIGNED_AT_DELEGATION


def uses_key_keys(kind: NameKind, rdtype: int) -> bool:
    """Whether the key-signing keys (KSK, CSK) sign this RRset rather than the zone keys."""
    return kind is NameKind.APEX and rdtype in KEY_SIGNED_TYPES


class SignatureBatch:
    """RRSIGs asked for RRset by RRset and made later, all in one tight loop.

    Signing interleaved with other Python work (writing text, say) runs slower: that work
    evicts OpenSSL's precomputed tables from the CPU caches (``bench/percall.py`` shows it).
    So :meth:`add` only prepares the data to sign and says what the RRSIGs will be;
    :meth:`sign` makes them, in the order they were asked for.
    """

    __slots__ = (
        "inception",
        "key_keys",
        "key_tags",
        "key_timing",
        "requests",
        "signer_lower",
        "timing",
        "zone_keys",
        "zone_tags",
    )

    def __init__(self, ctx: RenderContext, sign_fns: SignFns) -> None:
        self.zone_keys = [(k.algorithm, k.key_tag, sign_fns[k.signer]) for k in ctx.zone_keys]
        self.key_keys = [(k.algorithm, k.key_tag, sign_fns[k.signer]) for k in ctx.key_keys]
        self.zone_tags = tuple((k.algorithm, k.key_tag) for k in ctx.zone_keys)
        self.key_tags = tuple((k.algorithm, k.key_tag) for k in ctx.key_keys)
        self.signer_lower = lower(ctx.origin)
        self.timing = ctx.timing
        self.key_timing = ctx.key_timing
        self.inception = ctx.timing.inception  # the same for every key, as RFC 4034 allows
        self.requests: list[tuple[Callable[[bytes], bytes], bytes]] = []

    def add(
        self, kind: NameKind, recs: Sequence[Record], i: int, j: int
    ) -> tuple[int, int, tuple[tuple[int, int], ...]] | None:
        """Ask for the RRSIGs of the RRset ``recs[i:j]`` (one owner, one type; its TTL is
        the first record's) at a name of ``kind``. Returns ``(labels, expiration, keys)``,
        ``keys`` being the ``(algorithm, key tag)`` of each RRSIG in the order :meth:`sign`
        makes them, or None when the RRset is not signed."""
        owner, rdtype, ttl = recs[i][0], recs[i][1], recs[i][2]
        if not is_signed(kind, rdtype):
            return None
        if uses_key_keys(kind, rdtype):
            keys, tags, timing = self.key_keys, self.key_tags, self.key_timing
        else:
            keys, tags, timing = self.zone_keys, self.zone_tags, self.timing
        if not keys:
            return None
        owner_lower = lower(owner)
        labels = rrsig_labels(owner)
        data = rrsig.rrset_data(owner_lower, rdtype, ttl, [recs[k][3] for k in range(i, j)])
        expiration = timing.expiration_for(owner_lower, rdtype)
        inception, signer_lower, append = self.inception, self.signer_lower, self.requests.append
        for algorithm, key_tag, sign_fn in keys:
            fields = rrsig.sig_fields(
                rdtype, algorithm, labels, ttl, expiration, inception, key_tag, signer_lower
            )
            append((sign_fn, fields + data))
        return labels, expiration, tags

    def sign(self) -> list[bytes]:
        """The signatures asked for since the last call, in order."""
        requests, self.requests = self.requests, []
        return [sign_fn(data) for sign_fn, data in requests]
