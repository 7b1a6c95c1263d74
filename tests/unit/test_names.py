"""signwire.zones.names against dnspython's dns.name, the reference.

Names go to dnspython as ``bytes`` text so that it applies no IDNA (signwire reads zone files
as latin-1 and keeps every byte).
"""

from __future__ import annotations

import base64

import dns.name
import pytest
from hypothesis import given
from hypothesis import strategies as st

from oracle import RFC4034_ORDER
from signwire.zones import base32hex, names

ORIGIN_TEXT = "Example.COM."
ORIGIN = dns.name.from_text(ORIGIN_TEXT).to_wire()

label_bytes = st.binary(min_size=1, max_size=63)
wire_names = (
    st.lists(label_bytes, min_size=0, max_size=6)
    .filter(lambda ls: sum(len(x) + 1 for x in ls) + 1 <= 255)
    .map(lambda ls: dns.name.Name([*ls, b""]).to_wire())
)
# Mostly letters, digits and the characters that need escaping, to hit ordering corner cases.
ALPHABET = b"aAbBzZ09-*\x00\x01.\\ \x80\xff"
small_labels = st.binary(min_size=1, max_size=4).map(
    lambda b: bytes(ALPHABET[x % len(ALPHABET)] for x in b)
)
small_names = st.lists(small_labels, min_size=0, max_size=4).map(
    lambda ls: dns.name.Name([*ls, b""]).to_wire()
)


def dp_from_text(text: str, origin: bytes | None = ORIGIN) -> bytes:
    o = dns.name.from_wire(origin, 0)[0] if origin is not None else None
    return dns.name.from_text(text.encode("latin-1"), o).to_wire()  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "text",
    [
        "www",
        "WWW.Example.COM.",
        "a.b.c",
        "@",
        ".",
        "*.wild",
        "a\\.b",
        "a\\.b.",
        "\\065\\066c",
        "x\\032y.z.",
        '\\@\\$\\;\\(\\)\\"',
        "\\\\back.slash",
        "\\000.\\255.",
        "caf\xe9",  # a latin-1 byte stays one byte
        "ends.with.escaped\\.",
        "\\..",
        "a" * 63 + ".",
        ".".join(["abcdefg"] * 31),  # 31 * 8 + 1 + origin > 255? no: checked below
    ],
)
def test_from_text_matches_dnspython(text: str) -> None:
    try:
        expected = dp_from_text(text)
    except dns.exception.DNSException:
        with pytest.raises(ValueError):
            names.from_text(text, ORIGIN)
        return
    assert names.from_text(text, ORIGIN) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a..b", "empty label"),
        ("..", "empty label"),
        (".a", "empty label"),
        ("a\\065..", "empty label"),
        ("a" * 64, "longer than 63"),
        ("a\\1b", "bad escape"),
        ("a\\12", "bad escape"),
        ("a\\256", "not a byte"),
        ("a\\", "lone backslash"),
        (".".join(["a" * 60] * 5), "longer than 255"),
    ],
)
def test_from_text_rejects_what_dnspython_rejects(text: str, reason: str) -> None:
    with pytest.raises(dns.exception.DNSException):
        dp_from_text(text)
    with pytest.raises(ValueError, match=reason):
        names.from_text(text, ORIGIN)


def test_relative_name_needs_an_origin() -> None:
    with pytest.raises(ValueError, match="no origin"):
        names.from_text("www", None)
    with pytest.raises(ValueError, match="no origin"):
        names.from_text("@", None)
    assert names.from_text("www.example.", None) == b"\x03www\x07example\x00"


def test_check_text_names_file_and_line() -> None:
    from signwire.errors import ZoneDataError

    with pytest.raises(ZoneDataError) as e:
        names.check_text("a..b", ORIGIN, path="z.zone", line=7)
    assert (e.value.path, e.value.line) == ("z.zone", 7)
    assert str(e.value).startswith("z.zone:7: empty label")


@given(wire_names)
def test_to_text_matches_dnspython_and_round_trips(wire: bytes) -> None:
    text = names.to_text(wire)
    assert text == dns.name.from_wire(wire, 0)[0].to_text()
    assert names.from_text(text, None) == wire
    assert dp_from_text(text, None) == wire


@given(wire_names)
def test_case_is_kept_and_lower_folds_ascii_only(wire: bytes) -> None:
    assert names.from_text(names.to_text(wire), None) == wire
    expected = dns.name.from_wire(wire, 0)[0].canonicalize().to_wire()
    assert names.lower(wire) == expected




def test_rfc4034_example_order() -> None:
    wires = [names.from_text(t, None) for t in RFC4034_ORDER]
    keys = [names.canonical_key(w) for w in wires]
    assert keys == sorted(keys)
    assert sorted(reversed(wires), key=names.canonical_key) == wires


@given(st.lists(small_names, min_size=2, max_size=12))
def test_canonical_key_order_matches_dnspython(wires: list[bytes]) -> None:
    ours = sorted(wires, key=names.canonical_key)
    ref = sorted(wires, key=lambda w: dns.name.from_wire(w, 0)[0])
    # Equal names (differing only in case) may come in either order; compare folded forms.
    assert [w.lower() for w in ours] == [w.lower() for w in ref]


@given(small_names, small_names)
def test_canonical_key_equality_is_name_equality(a: bytes, b: bytes) -> None:
    same = dns.name.from_wire(a, 0)[0] == dns.name.from_wire(b, 0)[0]
    assert (names.canonical_key(a) == names.canonical_key(b)) == same


@given(small_names, small_names)
def test_is_subdomain_matches_dnspython(a: bytes, b: bytes) -> None:
    expected = dns.name.from_wire(a, 0)[0].is_subdomain(dns.name.from_wire(b, 0)[0])
    assert names.is_subdomain(names.canonical_key(a), names.canonical_key(b)) == expected


def test_labels_parent_and_rrsig_labels() -> None:
    w = names.from_text("*.a.Example.", None)
    assert names.labels(w) == [b"*", b"a", b"Example"]
    assert names.from_labels([b"*", b"a", b"Example"]) == w
    assert names.label_count(w) == 3
    assert names.rrsig_labels(w) == 2  # RFC 4034 §3.1.3: the wildcard label does not count
    assert names.parent(w) == names.from_text("a.Example.", None)
    assert names.parent(names.ROOT) == names.ROOT
    assert names.rrsig_labels(names.ROOT) == 0
    assert names.to_text(names.ROOT) == "."


@given(st.one_of(st.binary(max_size=64), st.binary(min_size=20, max_size=20)))
def test_base32hex_matches_the_standard_library(data: bytes) -> None:
    expected = base64.b32hexencode(data).decode("ascii").rstrip("=")
    assert base32hex.encode(data) == expected
