"""Signatures made by the daemon's worker processes: the same version as signing in place."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest

from properties.test_incremental import KEYS, NOW, ORIGIN, problems, soa, wire
from signwire.runtime.signature_workers import SignatureWorkers
from signwire.signing import versioned
from signwire.signing.options import Nsec3Params, SigningOptions
from signwire.signing.versioned import sign_full
from signwire.zones.version import ZoneVersion

A, NS, DS = 1, 2, 43


def zone(n: int) -> ZoneVersion:
    recs = [soa(1), (ORIGIN, NS, 3600, wire("ns1")), (wire("ns1"), A, 3600, bytes(4))]
    for i in range(n):
        recs.append((wire(f"h{i}"), A, 300, bytes((192, 0, 2, i % 256))))
        if i % 3 == 0:
            recs.append((wire(f"d{i}"), NS, 3600, wire("ns.example.net")))
            recs.append((wire(f"d{i}"), DS, 3600, struct.pack("!HBB", i, 13, 2) + bytes(32)))
    return ZoneVersion.from_records(ORIGIN, recs)


@pytest.fixture(scope="module")
def workers() -> Iterator[SignatureWorkers]:
    pool = SignatureWorkers(2)
    yield pool
    pool.close()


@pytest.mark.parametrize("options", [SigningOptions(), SigningOptions(nsec3=Nsec3Params())],
                         ids=["nsec", "nsec3"])
def test_workers_sign_the_same_version_as_the_daemon_itself(
    workers: SignatureWorkers, options: SigningOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small batches, so that a 2,000-name zone goes through several, in flight together.
    monkeypatch.setattr(versioned, "BATCH_NAMES", 97)
    unsigned = zone(1200)
    here = sign_full(unsigned, KEYS, options, NOW)
    there = sign_full(unsigned, KEYS, options, NOW, service=workers)
    # Ed25519 signatures are deterministic: the very same bytes, in the same places.
    assert list(there.version.records()) == list(here.version.records())
    assert there.signatures_made == here.signatures_made > 2000
    assert there.schedule.next_due == here.schedule.next_due
    assert problems(there.version) == []
