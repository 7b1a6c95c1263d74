"""The render step's text shortcuts give exactly the general codec's text."""

from __future__ import annotations

import time

import dns.name
from hypothesis import given
from hypothesis import strategies as st

from signwire.publication.zonetext import TextCache
from signwire.signing import rrsig
from signwire.signing.bitmap import type_bitmap
from signwire.zones import names, rdata
from signwire.zones.rrtypes import NS, NSEC, NSEC3

ALPHABET = b"aZ09-_*.\\@$ \x00\xff"
labels = st.binary(min_size=1, max_size=5).map(lambda b: bytes(ALPHABET[x % 14] for x in b))
wire_names = st.lists(labels, max_size=4).map(lambda ls: dns.name.Name([*ls, b""]).to_wire())


@given(st.lists(wire_names, min_size=1, max_size=30))
def test_owner_text_is_to_text(wires: list[bytes]) -> None:
    cache = TextCache()
    for w in wires + wires:  # the second round reads parents from the cache
        assert cache.owner(w) == names.to_text(w)


types = st.sets(st.sampled_from([1, 2, 6, 15, 16, 28, 43, 46, 48, 257, 1234]), max_size=6)


def _bitmap(codes: set[int]) -> bytes:
    return type_bitmap(frozenset(codes))


@given(
    st.lists(
        st.tuples(st.binary(min_size=20, max_size=20), types, st.binary(max_size=4)),
        min_size=1,
        max_size=10,
    )
)
def test_nsec3_text_is_the_codecs(records: list[tuple[bytes, set[int], bytes]]) -> None:
    cache = TextCache()
    for digest, codes, salt in records + records:
        wire = bytes((1, 1, 0, 5, len(salt))) + salt + bytes((20,)) + digest + _bitmap(codes)
        assert cache.data(NSEC3, wire) == rdata.to_text(NSEC3, wire)


@given(st.lists(st.tuples(wire_names, types), min_size=1, max_size=10))
def test_nsec_and_ns_text_is_the_codecs(records: list[tuple[bytes, set[int]]]) -> None:
    cache = TextCache()
    for name, codes in records + records:
        wire = name + _bitmap(codes)
        assert cache.data(NSEC, wire) == rdata.to_text(NSEC, wire)
        assert cache.data(NS, name) == rdata.to_text(NS, name)


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_signature_time_text_is_strftimes(when: int) -> None:
    assert rrsig.time_text(when) == time.strftime("%Y%m%d%H%M%S", time.gmtime(when))
