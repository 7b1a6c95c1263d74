"""A model of what validating resolvers may hold in their caches, and whether it validates.

The zone and its parent publish *versions* over time: the zone a DNSKEY RRset (with the RRSIGs
over it) and signatures over its data, the parent a DS RRset. A version published from ``start``
until the next one (``end``) can still be served by a lagging server until ``end`` plus the
propagation delay, and a resolver that fetched it then keeps it for the RRset's TTL. So at an
instant ``t`` a cache may hold any version with ``start <= t`` and
``end + propagation + ttl > t``, and any cached DS RRset may meet any cached DNSKEY RRset and
any cached data signatures. :meth:`History.failures` enumerates every such combination at every
instant where the set of combinations changes (a version starts, or one expires), so nothing in
between is missed.

A combination validates (RFC 4035 §5, RFC 6840 §5.11) when a DS matches a key of the DNSKEY
RRset that signed the DNSKEY RRset, and the data carries a signature by a key of that DNSKEY
RRset. ``strict`` adds what the most demanding validators insist on: every algorithm of the DS
RRset has such a chain and signs the data (Unbound's harden-algo-downgrade), and every algorithm
of the DNSKEY RRset signs the DNSKEY RRset and the data (RFC 4035 §2.2). An empty DS RRset is
insecure, not bogus, which is fine before the zone is first secured and a failure after, unless
the zone asked for it (``by_design``: a policy taking the zone insecure). Then any cached mix
holding the empty DS RRset is insecure and fine, and any holding an older, non-empty one must
still validate: the zone may only drop its DNSKEYs and signatures once no DS can be cached.

Keys are named by the enforcer's ids; a DS "matches" the key with the same id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

FOREVER = 2**62

V = TypeVar("V", "ZoneVersion", "DsVersion")


@dataclass(frozen=True)
class ZoneVersion:
    start: int
    dnskey: frozenset[str]
    dnskey_signers: frozenset[str]
    zone_signers: frozenset[str]


@dataclass(frozen=True)
class DsVersion:
    start: int
    ds: frozenset[str]
    by_design: bool = False  # an empty DS RRset the zone asked for (going insecure)


@dataclass(frozen=True)
class CacheTimes:
    dnskey_ttl: int
    signature_ttl: int  # largest TTL of signed data, negative answers included
    ds_ttl: int
    zone_propagation: int
    parent_propagation: int


@dataclass(frozen=True)
class Failure:
    at: int
    reason: str
    ds: frozenset[str]
    dnskey_version: ZoneVersion
    data_version: ZoneVersion

    def __str__(self) -> str:
        return (
            f"at {self.at}: {self.reason}: DS {sorted(self.ds)}, DNSKEY "
            f"{sorted(self.dnskey_version.dnskey)} signed by "
            f"{sorted(self.dnskey_version.dnskey_signers)} (from {self.dnskey_version.start}), "
            f"data signed by {sorted(self.data_version.zone_signers)} "
            f"(from {self.data_version.start})"
        )


@dataclass
class History:
    times: CacheTimes
    algorithms: dict[str, int] = field(default_factory=dict)  # key id -> algorithm
    zone: list[ZoneVersion] = field(default_factory=list)
    parent: list[DsVersion] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.zone:
            self.zone.append(ZoneVersion(0, frozenset(), frozenset(), frozenset()))
        if not self.parent:
            self.parent.append(DsVersion(0, frozenset()))

    # -- recording

    def publish_zone(
        self,
        at: int,
        dnskey: Iterable[str],
        dnskey_signers: Iterable[str],
        zone_signers: Iterable[str],
    ) -> None:
        version = ZoneVersion(
            at, frozenset(dnskey), frozenset(dnskey_signers), frozenset(zone_signers)
        )
        last = self.zone[-1]
        assert at >= last.start, "versions are published in time order"
        if (version.dnskey, version.dnskey_signers, version.zone_signers) == (
            last.dnskey,
            last.dnskey_signers,
            last.zone_signers,
        ):
            return
        if at == last.start:
            self.zone[-1] = version
        else:
            self.zone.append(version)

    def publish_ds(self, at: int, ds: Iterable[str], *, by_design: bool = False) -> None:
        version = DsVersion(at, frozenset(ds), by_design and not frozenset(ds))
        last = self.parent[-1]
        assert at >= last.start
        if version.ds == last.ds:
            return
        if at == last.start:
            self.parent[-1] = version
        else:
            self.parent.append(version)

    def current_ds(self, at: int) -> frozenset[str]:
        found = self.parent[0].ds
        for version in self.parent:
            if version.start <= at:
                found = version.ds
        return found

    # -- caches

    @staticmethod
    def _cached(versions: list[V], at: int, linger: int) -> list[V]:
        out = []
        for i, version in enumerate(versions):
            end = versions[i + 1].start if i + 1 < len(versions) else FOREVER
            if version.start <= at and end + linger > at:
                out.append(version)
        return out

    def cached_dnskey(self, at: int) -> list[ZoneVersion]:
        t = self.times
        return self._cached(self.zone, at, t.zone_propagation + t.dnskey_ttl)

    def cached_data(self, at: int) -> list[ZoneVersion]:
        t = self.times
        return self._cached(self.zone, at, t.zone_propagation + t.signature_ttl)

    def cached_ds(self, at: int) -> list[DsVersion]:
        t = self.times
        return self._cached(self.parent, at, t.parent_propagation + t.ds_ttl)

    def may_be_cached(self, key_id: str, at: int) -> bool:
        """Whether any cache may hold a record of ``key_id`` at ``at`` or later."""
        in_dnskey = any(
            key_id in v.dnskey or key_id in v.dnskey_signers for v in self.cached_dnskey(at)
        )
        in_data = any(key_id in v.zone_signers for v in self.cached_data(at))
        in_ds = any(key_id in v.ds for v in self.cached_ds(at))
        return in_dnskey or in_data or in_ds

    # -- validation

    def critical_times(self, start: int, end: int) -> list[int]:
        t = self.times
        points = {start, end}
        for versions, lingers in (
            (self.zone, (t.zone_propagation + t.dnskey_ttl, t.zone_propagation + t.signature_ttl)),
            (self.parent, (t.parent_propagation + t.ds_ttl,)),
        ):
            for i, version in enumerate(versions):
                points.add(version.start)
                if i + 1 < len(versions):
                    for linger in lingers:
                        points.add(versions[i + 1].start + linger)
        return sorted(p for p in points if start <= p <= end)

    def failures_at(self, at: int, *, strict: bool) -> list[Failure]:
        secured_at = next((v.start for v in self.parent if v.ds), None)
        found = []
        dnskeys = self.cached_dnskey(at)
        datas = self.cached_data(at)
        for ds_version in self.cached_ds(at):
            for dk in dnskeys:
                for data in datas:
                    if not ds_version.ds:
                        if (
                            secured_at is not None
                            and ds_version.start > secured_at
                            and not ds_version.by_design
                        ):
                            lost = "the parent lost every DS"
                            found.append(Failure(at, lost, ds_version.ds, dk, data))
                        continue
                    reason = validate(ds_version.ds, dk, data, self.algorithms, strict=strict)
                    if reason is not None:
                        found.append(Failure(at, reason, ds_version.ds, dk, data))
        return found

    def failures(self, start: int, end: int, *, strict: bool = True) -> list[Failure]:
        out: list[Failure] = []
        for at in self.critical_times(start, end):
            out.extend(self.failures_at(at, strict=strict))
        return out


def validate(
    ds: frozenset[str],
    dnskey_version: ZoneVersion,
    data_version: ZoneVersion,
    algorithms: Mapping[str, int],
    *,
    strict: bool,
) -> str | None:
    """Why a resolver holding these three would fail to validate, or None if it succeeds."""
    keys = dnskey_version.dnskey
    # A signature by a key outside the RRset cannot be checked: validators skip it.
    self_signers = {k for k in dnskey_version.dnskey_signers if k in keys}
    anchors = {k for k in ds if k in self_signers}
    if not anchors:
        return "no DS leads to a DNSKEY that signed the DNSKEY RRset"
    data_signers = {k for k in data_version.zone_signers if k in keys}
    if not data_signers:
        return "the data has no signature by a key of the DNSKEY RRset"
    if strict:
        alg = algorithms.__getitem__
        for a in sorted({alg(k) for k in ds}):
            if not any(alg(k) == a for k in anchors):
                return f"algorithm {a} of the DS RRset has no chain to the DNSKEY RRset"
            if not any(alg(k) == a for k in data_signers):
                return f"algorithm {a} of the DS RRset signs no data"
        for a in sorted({alg(k) for k in keys}):
            if not any(alg(k) == a for k in self_signers):
                return f"algorithm {a} of the DNSKEY RRset does not sign it"
            if not any(alg(k) == a for k in data_signers):
                return f"algorithm {a} of the DNSKEY RRset signs no data"
    return None

