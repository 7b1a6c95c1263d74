"""apply(a, diff(a, b)) == b for random versions a and b of one zone, and the diff is minimal.

Versions are drawn from a small universe of names (deep ones with empty non-terminals, mixed
case, NSEC3-looking hash labels) and types, so that two draws share many records and differ in
a few: the interesting case for a diff. TTLs vary so that a TTL change shows as deletion plus
addition.
"""

from __future__ import annotations

import bisect
import struct

from hypothesis import given
from hypothesis import strategies as st

from signwire.zones.diff import apply, diff
from signwire.zones.names import from_text
from signwire.zones.version import ChunkedMap, ZoneVersion

ORIGIN = from_text("example.test.", None)
OWNERS = [
    from_text(t, ORIGIN)
    for t in ("@", "www", "WWW", "a.b.c", "b.c", "x.y.z.deep", "*.wild", "sub", "ns.sub",
              "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom", "Q0QKEGNLG7I8A9ESBVP1R0D6KKBTQBQ9")
]
TYPES = [1, 2, 16, 28, 46, 47, 50]


def soa(serial: int) -> bytes:
    return (from_text("ns1", ORIGIN) + from_text("hostmaster", ORIGIN)
            + struct.pack("!IIIII", serial, 7200, 900, 1209600, 300))


records = st.lists(
    st.tuples(
        st.sampled_from(OWNERS), st.sampled_from(TYPES), st.sampled_from([300, 3600]),
        st.binary(min_size=1, max_size=6),
    ),
    max_size=25,
)


@st.composite
def versions(draw: st.DrawFn) -> ZoneVersion:
    serial = draw(st.integers(0, 2**32 - 1))
    ttl = draw(st.sampled_from([300, 3600]))
    recs = [(ORIGIN, 6, ttl, soa(serial)), *draw(records)]
    # Tiny chunks put a few names in each, so edits split, empty and cross chunk boundaries.
    return ZoneVersion.from_records(ORIGIN, recs, chunk=draw(st.sampled_from([1, 2, 3, 512])))


def as_set(v: ZoneVersion) -> set[tuple[bytes, int, int, bytes]]:
    return {(o.lower(), t, ttl, rd) for o, t, ttl, rd in v.records()}


@given(versions(), versions())
def test_apply_of_diff_gives_the_new_version(a: ZoneVersion, b: ZoneVersion) -> None:
    d = diff(a, b)
    assert d.from_serial == a.serial and d.to_serial == b.serial
    result = apply(a, d)
    assert result == b
    assert as_set(result) == as_set(b)
    assert result.nsec3_labels() == b.nsec3_labels()
    # Minimal: nothing deleted that b keeps, nothing added that a had.
    deleted = {(o.lower(), t, ttl, rd) for o, t, ttl, rd in d.deleted}
    added = {(o.lower(), t, ttl, rd) for o, t, ttl, rd in d.added}
    assert deleted == (as_set(a) - as_set(b)) - {r for r in as_set(a) if r[1] == 6}
    assert added == (as_set(b) - as_set(a)) - {r for r in as_set(b) if r[1] == 6}


@given(versions())
def test_diff_to_itself_is_empty(a: ZoneVersion) -> None:
    d = diff(a, a)
    assert d.deleted == () and d.added == ()
    assert apply(a, d) == a


@given(versions(), versions(), versions())
def test_versions_built_by_apply_share_chunks_and_diff_alike(
        a: ZoneVersion, b: ZoneVersion, c: ZoneVersion) -> None:
    # b2 and c2 come from a by apply, so they share a's untouched chunks; the diff between
    # them must still be the one computed from scratch.
    b2 = apply(a, diff(a, b))
    c2 = apply(b2, diff(b, c))
    assert c2 == c
    d = diff(b2, c2)
    full = diff(b, c)
    assert {(o.lower(), *r) for o, *r in d.deleted} == {(o.lower(), *r) for o, *r in full.deleted}
    assert {(o.lower(), *r) for o, *r in d.added} == {(o.lower(), *r) for o, *r in full.added}
    assert apply(b2, d) == c


keys = st.binary(min_size=1, max_size=3)


@given(st.dictionaries(keys, st.binary(max_size=2)), st.dictionaries(keys, st.none() | st.binary(
    min_size=1, max_size=2)), st.integers(1, 4))
def test_chunked_map_edits_like_a_dict(start: dict[bytes, bytes],
                                       changes: dict[bytes, bytes | None], chunk: int) -> None:
    m = ChunkedMap.from_sorted(sorted(start), [start[k] for k in sorted(start)], chunk)
    edited = m.edit(sorted(changes.items()))
    model = dict(start)
    for k, v in changes.items():
        if v is None:
            model.pop(k, None)
        else:
            model[k] = v
    assert list(edited.items()) == sorted(model.items())
    assert list(m.items()) == sorted(start.items())  # the old map is unchanged
    assert all(0 < len(ks) <= 2 * chunk for ks, _ in edited.chunks)
    ordered = sorted(model)
    for k in set(model) | set(changes) | {b"", b"\xff" * 4}:
        i = edited.find(k)
        assert (i is not None) == (k in model)
        if i is not None:
            assert edited.key_at(i) == k and edited.value_at(i) == model[k]
        assert edited.bisect_left(k) == bisect.bisect_left(ordered, k)
        assert edited.bisect_right(k) == bisect.bisect_right(ordered, k)
