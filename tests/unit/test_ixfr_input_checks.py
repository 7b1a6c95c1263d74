"""An IXFR gets the input checks of full signing on what it touched, not on the whole zone:
broken diffs are refused as a broken AXFR would be, and the work does not read the zone."""

from __future__ import annotations

import struct

import pytest

from signwire.errors import ZoneDataError
from signwire.loading.xfr_in import Diffs, FullZone, IxfrStep
from signwire.runtime import daemon
from signwire.signing import versioned
from signwire.zones.diff import DiffError
from signwire.zones.names import from_text
from signwire.zones.version import ZoneVersion

ORIGIN = from_text("example.test.", None)
A, NS, CNAME, SOA, DNAME = 1, 2, 5, 6, 39


Rec = tuple[bytes, int, int, bytes, int]


def n(text: str) -> bytes:
    return from_text(text, ORIGIN)


def soa(serial: int) -> bytes:
    return n("ns1") + n("hostmaster") + struct.pack("!IIIII", serial, 7200, 900, 1209600, 300)


def rec(
    owner: str, rdtype: int, rdata: bytes, ttl: int = 300
) -> tuple[bytes, int, int, bytes, int]:
    return (n(owner), rdtype, ttl, rdata, 0)


BASE = [
    rec("@", SOA, soa(1), 3600),
    rec("@", NS, n("ns1"), 3600),
    rec("ns1", A, b"\xc0\x00\x02\x01"),
    rec("www", A, b"\xc0\x00\x02\x50"),
    rec("sub", NS, n("ns.other.test")),
    # Occluded below the cut: a CNAME beside other data, harmless while occluded.
    rec("x.sub", CNAME, n("www")),
    rec("x.sub", A, b"\xc0\x00\x02\x09"),
]


def ixfr(deleted: list[Rec], added: list[Rec], old: int = 1, new: int = 2) -> Diffs:
    step = IxfrStep(
        old, new, [rec("@", SOA, soa(old), 3600), *deleted], [rec("@", SOA, soa(new), 3600), *added]
    )
    return Diffs(old, new, [step])


def base() -> ZoneVersion:
    return ZoneVersion.from_records(ORIGIN, BASE)


def test_a_good_ixfr_applies() -> None:
    got = daemon._transferred_version(
        ORIGIN, ixfr([], [rec("new", A, b"\xc0\x00\x02\x0c")]), base()
    )
    assert got.serial == 2 and got.rrset(n("new"), A) == [(300, b"\xc0\x00\x02\x0c")]


@pytest.mark.parametrize(
    ("deleted", "added", "problem"),
    [
        ([], [rec("www", CNAME, n("ns1"))], "CNAME beside other data at www"),
        (
            [],
            [(from_text("evil.example.org.", None), A, 300, b"\xc0\x00\x02\x42", 0)],
            "evil.example.org. is outside the zone",
        ),
        ([rec("@", NS, n("ns1"), 3600)], [], "no NS records at the zone apex"),
        ([], [rec("www", A, b"\xc0\x00\x02\x51", ttl=60)], "TTL 60 differs|TTL 300 differs"),
        ([], [rec("deep.www", SOA, soa(9))], "not the zone apex"),
        # The cut goes away: the occluded CNAME beside an A comes into the zone.
        ([rec("sub", NS, n("ns.other.test"))], [], "CNAME beside other data at x.sub"),
        # A DNAME beside a CNAME made elsewhere in the same step.
        ([], [rec("alias", DNAME, n("www")), rec("alias", CNAME, n("www"))], "CNAME beside"),
    ],
)
def test_a_broken_ixfr_is_refused(deleted: list[Rec], added: list[Rec], problem: str) -> None:
    with pytest.raises(ZoneDataError, match=problem):
        daemon._transferred_version(ORIGIN, ixfr(deleted, added), base())
    # The whole-zone check agrees: the IXFR check misses nothing it finds.
    after = base()
    whole = [*(r for r in BASE if r[:4] not in {d[:4] for d in deleted}), *added]
    whole[0] = rec("@", SOA, soa(2), 3600)
    with pytest.raises((ZoneDataError, DiffError)):
        versioned.snapshot_of(ZoneVersion.from_records(ORIGIN, whole))
    assert after == base()


def test_the_ixfr_check_reads_only_what_the_diff_touched(monkeypatch: pytest.MonkeyPatch) -> None:
    """No whole-zone pass for an IXFR; an AXFR still gets one."""
    calls: list[str] = []
    real = versioned.snapshot_of

    def whole(version: ZoneVersion) -> object:
        calls.append("whole")
        return real(version)

    monkeypatch.setattr(daemon, "snapshot_of", whole)
    records = [*BASE, *(rec(f"h{i}", A, bytes((10, 0, i // 256, i % 256))) for i in range(5000))]
    big = ZoneVersion.from_records(ORIGIN, records)
    read = 0
    original = ZoneVersion.node_at

    def counting(self: ZoneVersion, i: int):  # type: ignore[no-untyped-def]
        nonlocal read
        read += 1
        return original(self, i)

    monkeypatch.setattr(ZoneVersion, "node_at", counting)
    daemon._transferred_version(ORIGIN, ixfr([], [rec("new", A, b"\xc0\x00\x02\x0c")]), big)
    assert calls == [] and read < 20
    daemon._transferred_version(ORIGIN, FullZone(1, records), None)
    assert calls == ["whole"]
