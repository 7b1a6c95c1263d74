"""Full signing into a :class:`~signwire.zones.version.ZoneVersion` instead of text.

:func:`sign_full` runs the same plan as ``signwire sign`` (:func:`signwire.signing.full.plan`:
apex records, serial, NSEC or NSEC3 chain) and signs each planned RRset with the same keys,
times and rules (:mod:`signwire.signing.context`) as the text output
(:mod:`signwire.publication.zonetext`), but keeps the result as records: the signed
version a server answers from and an incremental step starts from. With Ed25519 (deterministic
signatures) both paths give the same records, byte for byte; a test holds them to that.

One difference of form: the RRSIG signer field is written in lowercase here, the canonical
form of RRSIG RDATA (RFC 4034 §6.2), where the text path writes the zone name as given. That
keeps the signatures of one zone the same bytes whatever case its apex was written in, which
incremental signing relies on to keep unchanged signatures.

The result, :class:`Signed`, also keeps what the next step needs: the unsigned version it was
made from (an incoming IXFR applies to that, and the apex's input records are only there), the
keys and options it was signed with, and the re-sign :class:`~signwire.signing.schedule.Schedule`.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from signwire.keystore.model import SignerSpec
from signwire.signing import full, rrsig
from signwire.signing.context import (
    KeyUse,
    RenderContext,
    SignFns,
    Unit,
    is_signed,
    load_signers,
    uses_key_keys,
)
from signwire.signing.keyset import SigningKeys
from signwire.signing.options import SigningOptions
from signwire.signing.schedule import Schedule, earliest_expiration
from signwire.zones.kinds import NameKind
from signwire.zones.names import lower, rrsig_labels
from signwire.zones.records import ParsedZone, Record
from signwire.zones.rrtypes import RRSIG
from signwire.zones.snapshot import ZoneSnapshot, build
from signwire.zones.version import RR, ZoneVersion, decode_node


def default_refresh(options: SigningOptions) -> int:
    """The refresh period when none is given: a quarter of the validity.

    :class:`SigningOptions` has no refresh setting (the offline signer re-signs everything on
    every run); a policy has one (``signatures.refresh``), which callers pass instead. A quarter
    leaves half the validity after the jitter (at most a quarter too) before any signature is
    due, and a quarter for a missed refresh to be retried before anything expires.
    """
    return options.validity // 4


@dataclass(frozen=True, slots=True)
class Signed:
    """One signed version of a zone and what the next signing step starts from."""

    version: ZoneVersion
    unsigned: ZoneVersion
    keys: SigningKeys
    options: SigningOptions
    schedule: Schedule
    signatures_made: int = 0  # RRSIGs made by the step that produced this version

    @property
    def next_resign_at(self) -> int | None:
        """The earliest time an RRSIG reaches its refresh point (expiration - refresh)."""
        return self.schedule.next_due


def signing_context(
    origin: bytes, keys: SigningKeys, options: SigningOptions, now: int
) -> RenderContext:
    """Keys and signature times of one signing run, as :func:`full.plan` sets them."""
    jitter = options.effective_jitter
    dnskey_validity = options.dnskey_validity or options.validity
    inception = now - options.inception_offset
    return RenderContext(
        origin=origin,
        zone_keys=tuple(KeyUse(k.algorithm, k.key_tag, k.signer) for k in keys.zone_signers),
        key_keys=tuple(KeyUse(k.algorithm, k.key_tag, k.signer) for k in keys.key_signers),
        timing=rrsig.SigTiming(inception, now + options.validity, jitter),
        key_timing=rrsig.SigTiming(
            inception, now + dnskey_validity, min(jitter, dnskey_validity // 4)
        ),
    )


class SignatureService(Protocol):
    """Makes signatures somewhere else (the daemon's worker processes, which keep their keys
    loaded). ``submit`` takes ``(key, data)`` pairs and returns a function that waits for
    their signatures, in the same order; the caller goes on preparing the next batch."""

    def submit(self, work: list[tuple[SignerSpec, bytes]]) -> Callable[[], Sequence[bytes]]: ...


# Names per batch sent to a SignatureService, and batches in flight: enough to keep the
# workers busy while this process prepares the next, few enough to bound the memory.
BATCH_NAMES = 1000
IN_FLIGHT = 4


class RrsetSigner:
    """Makes RRSIG RDATA for RRsets with one run's keys and times, by the rules of
    the text output (:func:`signwire.signing.context.is_signed`), and counts what it made."""

    def __init__(self, ctx: RenderContext, sign_fns: SignFns | None) -> None:
        """``sign_fns`` None: only :meth:`prepare` is used (the signatures are made elsewhere)."""
        self.ctx = ctx
        self.fns = sign_fns or {}
        self.zone_specs = [(k.algorithm, k.key_tag, k.signer) for k in ctx.zone_keys]
        self.key_specs = [(k.algorithm, k.key_tag, k.signer) for k in ctx.key_keys]
        self.signer_lower = lower(ctx.origin)
        self.made = 0

    signs = staticmethod(is_signed)

    def sign(
        self, owner: bytes, kind: NameKind, rdtype: int, ttl: int, rdatas: Sequence[bytes]
    ) -> list[bytes]:
        """RRSIG RDATA (one per signing key) for the RRset, or none where it is not signed."""
        fns = self.fns
        return [
            fields + fns[spec](data)
            for fields, spec, data in self.prepare(owner, kind, rdtype, ttl, rdatas)
        ]

    def prepare(
        self, owner: bytes, kind: NameKind, rdtype: int, ttl: int, rdatas: Sequence[bytes]
    ) -> list[tuple[bytes, SignerSpec, bytes]]:
        """What :meth:`sign` would sign, unsigned: ``(RRSIG fields, key, data to sign)`` per
        signing key; the RRSIG RDATA is the fields followed by the key's signature of data."""
        if not self.signs(kind, rdtype):
            return []
        if uses_key_keys(kind, rdtype):
            keys, timing = self.key_specs, self.ctx.key_timing
        else:
            keys, timing = self.zone_specs, self.ctx.timing
        owner_lower = lower(owner)
        labels = rrsig_labels(owner)
        data = rrsig.rrset_data(owner_lower, rdtype, ttl, list(rdatas))
        expiration = timing.expiration_for(owner_lower, rdtype)
        # The text path takes the inception of the ordinary timing for every key; so here.
        inception = self.ctx.timing.inception
        out = []
        for algorithm, key_tag, spec in keys:
            fields = rrsig.sig_fields(
                rdtype, algorithm, labels, ttl, expiration, inception, key_tag, self.signer_lower
            )
            out.append((fields, spec, fields + data))
        self.made += len(out)
        return out


def rrsets(recs: Sequence[Record]) -> Iterator[tuple[int, int, list[bytes]]]:
    """``(type, ttl, rdatas)`` of each run of one type; the RRset's TTL is its first
    record's, as the text path writes it."""
    n = len(recs)
    i = 0
    while i < n:
        rdtype = recs[i][1]
        j = i + 1
        while j < n and recs[j][1] == rdtype:
            j += 1
        yield rdtype, recs[i][2], [recs[k][3] for k in range(i, j)]
        i = j


class SignHere:
    """The :class:`SignatureService` of one process: each batch is signed when submitted."""

    def __init__(self, fns: SignFns) -> None:
        self.fns = fns

    def submit(self, work: list[tuple[SignerSpec, bytes]]) -> Callable[[], Sequence[bytes]]:
        fns = self.fns
        sigs = [fns[spec](data) for spec, data in work]
        return lambda: sigs


def sign_units(
    units: Sequence[Unit], signer: RrsetSigner, service: SignatureService
) -> tuple[list[RR], dict[bytes, int]]:
    """The records of the planned names with their RRSIGs, and the earliest RRSIG expiration
    of each name that has any (for the re-sign schedule). The signatures are made by
    ``service`` in batches, while this process prepares the next batch when the service works
    elsewhere."""
    out: list[RR] = []
    earliest: dict[bytes, int] = {}
    in_flight: deque[tuple[Callable[[], Sequence[bytes]], list[int]]] = deque()

    def collect() -> None:
        wait, places = in_flight.popleft()
        for place, sig in zip(places, wait(), strict=True):
            owner, _, ttl, fields = out[place]
            out[place] = (owner, RRSIG, ttl, fields + sig)

    for lo in range(0, len(units), BATCH_NAMES):
        work: list[tuple[SignerSpec, bytes]] = []
        places: list[int] = []
        for key, kind, recs in units[lo : lo + BATCH_NAMES]:
            owner = recs[0][0]
            if kind is NameKind.APEX:
                # Planned apex records are sorted by type already (apex_records); others come
                # grouped by type with the one NSEC appended, as render() relies on too.
                recs = sorted(recs, key=lambda r: r[1])
            first: int | None = earliest.get(key)
            for rdtype, ttl, rdatas in rrsets(recs):
                out.extend((owner, rdtype, ttl, rd) for rd in rdatas)
                for fields, spec, data in signer.prepare(owner, kind, rdtype, ttl, rdatas):
                    places.append(len(out))
                    out.append((owner, RRSIG, ttl, fields))  # the signature comes later
                    work.append((spec, data))
                    exp = int.from_bytes(fields[8:12], "big")
                    if first is None or exp < first:
                        first = exp
            if first is not None:
                earliest[key] = first
        if work:
            in_flight.append((service.submit(work), places))
        while len(in_flight) > IN_FLIGHT:
            collect()
    while in_flight:
        collect()
    return out, earliest


def version_records(version: ZoneVersion) -> Iterator[Record]:
    """A version's records in the reader's form (line 0), one owner ``bytes`` per name."""
    for owner, t, ttl, rd in version.records():
        yield (owner, t, ttl, rd, 0)


def snapshot_of(version: ZoneVersion) -> ZoneSnapshot:
    """The signer's view of an unsigned version: classified, and checked like a zone file
    (:class:`~signwire.errors.ZoneDataError` for a zone that cannot be signed)."""
    origin = version.origin
    return build(ParsedZone(origin, "<zone version>", list(version_records(version))))


def sign_full(
    unsigned: ZoneVersion | ZoneSnapshot,
    keys: SigningKeys,
    options: SigningOptions,
    now: int,
    previous_serial: int | None = None,
    *,
    refresh: int | None = None,
    signers: SignFns | None = None,
    service: SignatureService | None = None,
) -> Signed:
    """Sign a whole zone into a version.

    A snapshot is taken over, as :func:`full.plan` takes it over: sign a snapshot once. Go on
    from the result with its own ``options`` (:attr:`Signed.options`): a snapshot that dropped
    an old DNSKEY RRset puts that RRset's TTL there.
    ``refresh`` (seconds before expiration at which signatures are replaced) defaults to
    :func:`default_refresh`; ``signers`` are signing functions already loaded for the keys (a
    long-lived signer keeps them, an HSM session is not opened per step); ``service`` makes
    the signatures in other processes instead (worth it from a few thousand names).
    """
    if isinstance(unsigned, ZoneVersion):
        version = unsigned
        snapshot = snapshot_of(unsigned)
    else:
        snapshot = unsigned
        # Before the plan: it appends NSEC records to the snapshot's own lists.
        version = ZoneVersion.from_records(
            snapshot.origin, (r for _, _, recs in snapshot.names for r in recs)
        )
    if options.dnskey_ttl is None and snapshot.stripped_dnskey_ttl is not None:
        # The plan keeps the TTL of the DNSKEY RRset --strip-dnssec dropped; the version keeps
        # no DNSKEY of the input, so the options carry it on to the next steps.
        options = dataclasses.replace(options, dnskey_ttl=snapshot.stripped_dnskey_ttl)
    if keys.unsigned:  # a policy took the zone insecure: no DNSSEC record at all
        plan = full.plan_unsigned(snapshot, options, now, previous_serial)
    else:
        plan = full.plan(snapshot, keys, options, now, previous_serial=previous_serial)
    signer = RrsetSigner(plan.context, None)
    if service is None:
        service = SignHere(signers or load_signers(plan.context))
    records, earliest = sign_units(plan.units, signer, service)
    signed = ZoneVersion.from_records(snapshot.origin, records)
    schedule = Schedule.build(default_refresh(options) if refresh is None else refresh, earliest)
    return Signed(signed, version, keys, options, schedule, signer.made)



def resume(
    signed: ZoneVersion,
    unsigned: ZoneVersion,
    keys: SigningKeys,
    options: SigningOptions,
    refresh: int | None = None,
) -> Signed:
    """A signed version kept from before (a restart, a state restore) taken up again without
    signing anything: its re-sign schedule is read from its RRSIGs, one pass over the zone.
    ``unsigned`` must be the version it was signed from, and ``keys`` and ``options`` what it
    was signed with; the next step signs in full when they differ."""
    earliest: dict[bytes, int] = {}
    for key, node in signed.names_map.items():
        first = earliest_expiration(decode_node(node)[1])
        if first is not None:
            earliest[key] = first
    schedule = Schedule.build(default_refresh(options) if refresh is None else refresh, earliest)
    return Signed(signed, unsigned, keys, options, schedule, 0)
