"""ZoneVersion and Diff: canonical order, lookups, equality, and the errors apply() raises."""

from __future__ import annotations

import struct

import dns.name
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signwire.errors import ZoneDataError
from signwire.zones.diff import Diff, DiffError, apply, diff
from signwire.zones.names import canonical_key, from_text
from signwire.zones.version import ZoneVersion

ORIGIN = from_text("example.test.", None)


def n(text: str) -> bytes:
    return from_text(text, ORIGIN)


def soa(serial: int) -> bytes:
    return n("ns1") + n("hostmaster") + struct.pack("!IIIII", serial, 7200, 900, 1209600, 300)


def a(addr: int) -> bytes:
    return bytes((192, 0, 2, addr))


def base(serial: int = 1) -> list[tuple[bytes, int, int, bytes]]:
    return [
        (n("z"), 1, 300, a(9)),
        (n("@"), 6, 3600, soa(serial)),
        (n("@"), 2, 3600, n("ns1")),
        (n("WWW"), 1, 300, a(2)),
        (n("www"), 1, 300, a(1)),
        (n("a.b.c"), 16, 300, b"\x02hi"),
        (n("ns1"), 1, 300, a(1)),
        (n("*"), 1, 300, a(7)),
    ]


def test_names_are_in_canonical_order_apex_first() -> None:
    v = ZoneVersion.from_records(ORIGIN, base())
    got = [dns.name.from_wire(v.node_at(i)[0], 0)[0] for i in range(len(v))]
    assert got == sorted(got)  # dnspython's Name order is RFC 4034 §6.1 order
    assert got[0] == dns.name.from_text("example.test.")
    assert v.serial == 1 and v.soa[1] == 6
    assert v.record_count() == 8


def test_lookups_by_owner_and_type_ignore_case() -> None:
    v = ZoneVersion.from_records(ORIGIN, base())
    assert v.rrset(n("Www"), 1) == [(300, a(1)), (300, a(2))]
    assert v.rrset(n("www"), 28) == []
    assert v.node(n("nothere")) is None
    assert {t for t, _, _ in v.node(n("@")) or []} == {2, 6}


def test_empty_non_terminals_exist_and_missing_names_do_not() -> None:
    v = ZoneVersion.from_records(ORIGIN, base())
    assert v.exists(canonical_key(n("b.c")))
    assert v.exists(canonical_key(n("c")))
    assert not v.exists(canonical_key(n("d.c")))
    assert not v.exists(canonical_key(n("b")))
    assert v.index(canonical_key(n("b.c"))) is None


def test_duplicates_are_kept_once_with_the_first_ttl() -> None:
    recs = [*base(), (n("www"), 1, 60, a(1))]
    v = ZoneVersion.from_records(ORIGIN, recs)
    assert v.rrset(n("www"), 1) == [(300, a(1)), (300, a(2))]


def test_record_outside_the_zone_and_missing_soa_are_refused() -> None:
    with pytest.raises(ZoneDataError, match="outside the zone"):
        ZoneVersion.from_records(ORIGIN, [*base(), (from_text("example.com.", None), 1, 1, a(1))])
    with pytest.raises(ZoneDataError, match="0 SOA"):
        ZoneVersion.from_records(ORIGIN, [r for r in base() if r[1] != 6])
    with pytest.raises(ZoneDataError, match="2 SOA"):
        ZoneVersion.from_records(ORIGIN, [*base(), (ORIGIN, 6, 3600, soa(2))])


def test_equality_ignores_owner_case_but_not_data_or_serial() -> None:
    v1 = ZoneVersion.from_records(ORIGIN, base())
    v2 = ZoneVersion.from_records(ORIGIN, [(o.upper(), *rest) for o, *rest in base()])
    assert v1 == v2
    assert v1 != ZoneVersion.from_records(ORIGIN, base(2))
    assert v1 != ZoneVersion.from_records(ORIGIN, [*base(), (n("www"), 1, 300, a(3))])


def test_diff_lists_deletions_and_additions_with_both_soas() -> None:
    old = ZoneVersion.from_records(ORIGIN, base(1))
    new_recs = [r for r in base(2) if r[0] != n("z")] + [(n("www"), 1, 600, a(2)),
                                                        (n("new"), 28, 300, bytes(16))]
    new_recs = [r for r in new_recs if r != (n("WWW"), 1, 300, a(2))]
    new = ZoneVersion.from_records(ORIGIN, new_recs)
    d = diff(old, new)
    assert (d.from_serial, d.to_serial) == (1, 2)
    assert sorted((canonical_key(o), t, ttl) for o, t, ttl, _ in d.deleted) == [
        (canonical_key(n("www")), 1, 300), (canonical_key(n("z")), 1, 300)]
    assert {(o, t, ttl) for o, t, ttl, _ in d.added} == {(n("new"), 28, 300), (n("www"), 1, 600)}
    assert d.records()[0][3] == soa(1) and d.records()[len(d.deleted) + 1][3] == soa(2)
    assert apply(old, d) == new


def test_apply_refuses_a_diff_that_does_not_fit() -> None:
    v1 = ZoneVersion.from_records(ORIGIN, base(1))
    v2 = ZoneVersion.from_records(ORIGIN, base(2))
    d = diff(v1, v2)
    with pytest.raises(DiffError, match="starts at serial 1, the version is at 2"):
        apply(v2, d)
    missing = Diff(d.old_soa, d.new_soa, ((n("gone"), 1, 300, a(1)),), ())
    with pytest.raises(DiffError, match=r"not there: gone\.example\.test\."):
        apply(v1, missing)
    wrong_ttl = Diff(d.old_soa, d.new_soa, ((n("www"), 1, 60, a(1)),), ())
    with pytest.raises(DiffError, match="not there"):
        apply(v1, wrong_ttl)
    twice = Diff(d.old_soa, d.new_soa, (), ((n("www"), 1, 300, a(1)),))
    with pytest.raises(DiffError, match="already there"):
        apply(v1, twice)


def test_apply_shares_unchanged_nodes() -> None:
    v1 = ZoneVersion.from_records(ORIGIN, base(1))
    v2 = ZoneVersion.from_records(ORIGIN, [*base(2), (n("ns1"), 28, 300, bytes(16))])
    v3 = apply(v1, diff(v1, v2))
    assert v3 == v2
    www = canonical_key(n("www"))
    assert v3.node_bytes(v3.index(www) or 0) is v1.node_bytes(v1.index(www) or 0)


def test_deleting_every_record_of_a_name_removes_the_name() -> None:
    v1 = ZoneVersion.from_records(ORIGIN, base(1))
    v2 = ZoneVersion.from_records(ORIGIN, [r for r in base(2) if r[0] != n("a.b.c")])
    v3 = apply(v1, diff(v1, v2))
    assert not v3.exists(canonical_key(n("c")))
    assert len(v3) == len(v1) - 1


def test_diff_from_an_ixfr_step_needs_both_soas() -> None:
    v1 = ZoneVersion.from_records(ORIGIN, base(1))
    step_del = [(ORIGIN, 6, 3600, soa(1), 7), (n("www"), 1, 300, a(1), 8)]
    step_add = [(ORIGIN, 6, 3600, soa(2), 9)]
    d = Diff.from_ixfr(step_del, step_add)
    assert (d.from_serial, d.to_serial) == (1, 2) and d.deleted == ((n("www"), 1, 300, a(1)),)
    assert apply(v1, d).rrset(n("www"), 1) == [(300, a(2))]
    with pytest.raises(DiffError, match="SOA"):
        Diff.from_ixfr(step_del[1:], step_add)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 30), st.integers(0, 3)),
                min_size=1, max_size=12), st.integers(1, 4))
def test_record_count_follows_random_diffs(edits: list[tuple[bool, int, int]],
                                           chunk: int) -> None:
    """The count a version keeps equals the records it holds, after every diff applied (and
    on small chunks, which split and vanish as names come and go)."""
    v = ZoneVersion.from_records(ORIGIN, base(), chunk=chunk)
    for step, (add, host, rtype) in enumerate(edits, 2):
        owner = n(f"h{host}")
        record = (owner, (1, 16, 28, 99)[rtype], 300, bytes((rtype, host, 0, 0)))
        present = record[1:] in [(t, ttl, rd) for t, ttl, rd in v.node(owner) or []]
        deleted, added = ((), (record,)) if not present else ((record,), ())
        if not add and not present:
            deleted, added = (), ()
        old_soa = v.soa
        new_soa = (old_soa[0], 6, 3600, soa(step))
        v = apply(v, Diff(old_soa, new_soa, deleted, added))
        assert v.record_count() == sum(1 for _ in v.records())
        assert v.record_count() == ZoneVersion.from_records(ORIGIN, v.records()).record_count()
