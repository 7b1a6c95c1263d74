"""signwire.zones.rdata against dnspython, byte for byte, plus the outside parsers' view.

Every fast path is compared with ``dns.rdata.from_text(...).to_wire()`` (presentation to wire)
or checked by parsing its output back with dnspython (wire to presentation), on fixed cases and
on random values; a differential test makes sure no fast path accepts what dnspython refuses.
"""

from __future__ import annotations

import base64
import ipaddress
import subprocess
from pathlib import Path

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.NSEC
import pytest
from hypothesis import given
from hypothesis import strategies as st

from interop.verifiers import require_program
from signwire.zones import rdata

IN = dns.rdataclass.IN
ORIGIN_NAME = dns.name.from_text("Example.COM.")
ORIGIN = ORIGIN_NAME.to_wire()


def dp_wire(rdtype: int, text: str) -> bytes:
    rd = dns.rdata.from_text(IN, rdtype, text, origin=ORIGIN_NAME, relativize=False)
    return rd.to_wire()  # type: ignore[no-any-return]


def dp_text_to_wire(rdtype: int, text: str) -> bytes:
    """What dnspython makes of our to_text output (absolute names, so no origin)."""
    return dns.rdata.from_text(IN, rdtype, text).to_wire()  # type: ignore[no-any-return]


def same_as_dnspython(rdtype: int, text: str) -> None:
    """Ours equals dnspython's wire, or both refuse the text."""
    try:
        expected = dp_wire(rdtype, text)
    except Exception:
        with pytest.raises(ValueError):
            rdata.from_text(rdtype, text, ORIGIN)
        return
    assert rdata.from_text(rdtype, text, ORIGIN) == expected


# --- presentation -> wire, fixed cases ---------------------------------------------------------

FAST_CASES = [
    (1, "192.0.2.1"),
    (1, "0.0.0.0"),
    (28, "2001:db8::1"),
    (28, "::ffff:192.0.2.1"),
    (28, "::"),
    (2, "ns1"),
    (2, "NS1.Other.NET."),
    (2, "@"),
    (5, "www\\.dot.example.org."),
    (39, "target"),
    (12, "host\\032name"),
    (15, "10 mail"),
    (15, "0 ."),
    (16, '"hello world"'),
    (16, "plain words"),
    (16, '"semi;colon" "quote\\"d" "back\\\\slash" "\\255\\000"'),
    (16, '""'),
    (16, "caf\xe9"),
    (6, "ns1 hostmaster 2024010101 7200 3600 1209600 300"),
    (6, "ns1.example.net. h.example.net. 4294967295 1h30m 1d 1w 2w"),
    (6, "ns1 hostmaster ( 1 2 3 4 5 ) ; with parentheses and a comment"),
    (43, "12345 13 2 " + "ab" * 32),
    (43, "12345 13 2 " + "AB" * 16 + " " + "cd" * 16),
    (43, "1 8 1 " + "00" * 20),
    (43, "1 8 4 " + "00" * 48),
    (43, "1 8 7 0102"),
    (59, "0 0 0 00"),
    (33, "10 20 5060 sip"),
    (33, "0 0 0 ."),
    (1, "\\# 4 c0000201"),
    (2, "\\# 5 036e7331 00"),
]


@pytest.mark.parametrize(("rdtype", "text"), FAST_CASES)
def test_fast_paths_match_dnspython(rdtype: int, text: str) -> None:
    # dnspython would UTF-8 a non-ASCII str; the byte is what a zone file holds.
    expected = dp_wire(rdtype, text.replace("\xe9", "\\233"))
    assert rdata.from_text(rdtype, text, ORIGIN) == expected


BAD_CASES = [
    (1, "192.0.2", "malformed"),
    (1, "192.0.2.01", ""),
    (1, "192.0.2.1 192.0.2.2", ""),
    (28, "2001:db8::g", ""),
    (2, "a..b", "empty"),
    (2, "", ""),
    (15, "70000 mail", ""),
    (15, "x mail", "integer"),
    (16, "", ""),
    (16, '"' + "x" * 256 + '"', "too long"),
    (6, "ns1 hostmaster 4294967296 1 2 3 4", ""),
    (6, "ns1 hostmaster 1 2 3 4", ""),
    (6, "ns1 hostmaster 1 2 3 4 1x", ""),
    (43, "1 8 2 abcd", "digest length"),
    (43, "1 8 0 abcd", "reserved"),
    (43, "1 8 2 xyz", ""),
    (43, "70000 8 2 " + "00" * 32, ""),
    (33, "1 2 3", ""),
    (1, "\\# 3 c00002", ""),
]


@pytest.mark.parametrize(("rdtype", "text", "reason"), BAD_CASES)
def test_bad_rdata_raises_with_dnspythons_reason(rdtype: int, text: str, reason: str) -> None:
    with pytest.raises(Exception) as ref:
        dp_wire(rdtype, text)
    with pytest.raises(ValueError) as ours:
        rdata.from_text(rdtype, text, ORIGIN)
    assert str(ours.value)
    if reason:
        assert reason in str(ours.value)
        assert reason in str(ref.value)


def test_dnspython_alternatives_a_fast_path_leaves_alone() -> None:
    # A mnemonic DS algorithm is dnspython's business; the result must still be right.
    assert rdata.from_text(43, "1 ECDSAP256SHA256 2 " + "00" * 32, ORIGIN) == dp_wire(
        43, "1 13 2 " + "00" * 32
    )


GENERIC_CASES = [
    (257, '0 issue "ca.example.net"'),
    (44, "1 1 " + "ab" * 20),
    (52, "3 1 1 " + "cd" * 32),
    (35, '100 10 "S" "SIP+D2U" "" _sip._udp'),
    (29, "52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m"),
    (13, '"cpu" "os"'),
    (17, "mbox txt"),
    (64, "1 . alpn=h2 port=8443"),
    (65534, "\\# 3 010203"),
    (65534, "\\# 0"),
    (48, "257 3 13 " + base64.b64encode(bytes(range(64))).decode()),
    (47, "next A NS SOA RRSIG NSEC TYPE65534"),
    (99, '"v=spf1 -all"'),
]


@pytest.mark.parametrize(("rdtype", "text"), GENERIC_CASES)
def test_other_types_go_through_dnspython(rdtype: int, text: str) -> None:
    assert rdata.from_text(rdtype, text, ORIGIN) == dp_wire(rdtype, text)


def test_non_ascii_bytes_stay_bytes_in_generic_types() -> None:
    # dnspython alone would IDNA-encode the name; a zone file byte must stay that byte.
    wire = rdata.from_text(17, "caf\xe9 t\\\xe9xt.", ORIGIN)
    assert wire == b"\x04caf\xe9" + ORIGIN + b"\x04t\xe9xt\x00"


# --- presentation -> wire, random values -------------------------------------------------------

ipv4 = st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
ipv6 = st.binary(min_size=16, max_size=16).map(lambda b: str(ipaddress.IPv6Address(b)))
label = st.binary(min_size=1, max_size=20)
wire_name = st.lists(label, min_size=0, max_size=4).map(lambda ls: dns.name.Name([*ls, b""]))
rel_name = st.lists(label, min_size=1, max_size=3).map(lambda ls: dns.name.Name(ls).to_text())
name_text = st.one_of(wire_name.map(lambda n: n.to_text()), rel_name, st.just("@"))
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 2**32 - 1)
ttl_text = st.one_of(
    u32.map(str),
    st.tuples(st.integers(0, 99), st.sampled_from("wdhmsWDHMS")).map(lambda t: f"{t[0]}{t[1]}"),
)


@given(ipv4)
def test_random_a(text: str) -> None:
    assert rdata.from_text(1, text, ORIGIN) == dp_wire(1, text)


@given(ipv6)
def test_random_aaaa(text: str) -> None:
    assert rdata.from_text(28, text, ORIGIN) == dp_wire(28, text)


@given(st.sampled_from([2, 5, 12, 39]), name_text)
def test_random_single_name_types(rdtype: int, text: str) -> None:
    assert rdata.from_text(rdtype, text, ORIGIN) == dp_wire(rdtype, text)


@given(u16, name_text)
def test_random_mx(pref: int, name: str) -> None:
    text = f"{pref} {name}"
    assert rdata.from_text(15, text, ORIGIN) == dp_wire(15, text)


@given(u16, u16, u16, name_text)
def test_random_srv(a: int, b: int, c: int, name: str) -> None:
    text = f"{a} {b} {c} {name}"
    assert rdata.from_text(33, text, ORIGIN) == dp_wire(33, text)


@given(name_text, name_text, u32, ttl_text, ttl_text, ttl_text, ttl_text)
def test_random_soa(m: str, r: str, serial: int, a: str, b: str, c: str, d: str) -> None:
    text = f"{m} {r} {serial} {a} {b} {c} {d}"
    same_as_dnspython(6, text)


@given(st.lists(st.binary(max_size=255), min_size=1, max_size=4))
def test_random_txt(strings: list[bytes]) -> None:
    # dnspython's own presentation of the strings is our input.
    text = dns.rdata.from_wire(
        IN, 16, b"".join(bytes([len(s)]) + s for s in strings), 0, sum(len(s) + 1 for s in strings)
    ).to_text()
    assert rdata.from_text(16, text, ORIGIN) == dp_wire(16, text)


@given(u16, st.integers(0, 255), st.sampled_from([1, 2, 4, 5, 200]), st.binary(max_size=64))
def test_random_ds(tag: int, alg: int, dtype: int, digest: bytes) -> None:
    for rdtype in (43, 59):
        same_as_dnspython(rdtype, f"{tag} {alg} {dtype} {digest.hex()}")


# Differential: random junk in each fast type's own alphabet; ours == dnspython's or both fail.
_junk = {
    1: "0123456789.",
    28: "0123456789abcdefABCDEF:.",
    15: "0123456789 abc.@\\",
    33: "0123456789 a.",
    6: "0123456789 abhmsw.@",
    43: "0123456789abcdefx ",
    16: 'ab \\"09;',
    2: "ab.\\09@-",
}


@given(st.sampled_from(sorted(_junk)), st.data())
def test_no_fast_path_accepts_what_dnspython_refuses(rdtype: int, data: st.DataObject) -> None:
    text = data.draw(st.text(alphabet=_junk[rdtype], min_size=1, max_size=30))
    same_as_dnspython(rdtype, text)


# --- wire -> presentation ----------------------------------------------------------------------


def round_trips(rdtype: int, wire: bytes) -> str:
    text = rdata.to_text(rdtype, wire)
    assert dp_text_to_wire(rdtype, text) == wire, text
    assert rdata.from_text(rdtype, text, ORIGIN) == wire
    return text


@pytest.mark.parametrize(("rdtype", "text"), FAST_CASES + GENERIC_CASES)
def test_to_text_round_trips(rdtype: int, text: str) -> None:
    wire = rdata.from_text(rdtype, text, ORIGIN)
    out = round_trips(rdtype, wire)
    assert "\n" not in out


def test_to_text_matches_dnspython_for_simple_types() -> None:
    for rdtype, text in [
        (1, "192.0.2.1"),
        (2, "ns1"),
        (15, "10 mail"),
        (33, "1 2 3 sip"),
        (6, "ns1 h 1 2 3 4 5"),
        (16, '"a\\"b" "\\255"'),
    ]:
        wire = rdata.from_text(rdtype, text, ORIGIN)
        ref = dns.rdata.from_wire(IN, rdtype, wire, 0, len(wire)).to_text()
        assert rdata.to_text(rdtype, wire) == ref


def test_names_in_to_text_are_absolute() -> None:
    wire = rdata.from_text(2, "ns1", ORIGIN)
    assert rdata.to_text(2, wire) == "ns1.Example.COM."


@given(wire_name, st.lists(st.integers(1, 1000), max_size=8))
def test_random_nsec(nxt: dns.name.Name, types: list[int]) -> None:
    rd = dns.rdata.from_text(IN, 47, " ".join([nxt.to_text(), *(f"TYPE{t}" for t in types)]))
    text = round_trips(47, rd.to_wire())
    for t in types:
        assert rdata.type_to_text(t) in text.split()


@given(
    st.integers(0, 255),
    st.integers(0, 255),
    u16,
    st.binary(max_size=20),
    st.binary(min_size=1, max_size=32),
    st.lists(st.integers(1, 300), max_size=6),
)
def test_random_nsec3(
    alg: int, flags: int, it: int, salt: bytes, nxt: bytes, types: list[int]
) -> None:
    wire = bytes([alg, flags]) + it.to_bytes(2, "big") + bytes([len(salt)]) + salt
    bitmap = dns.rdtypes.ANY.NSEC.Bitmap.from_rdtypes(types)  # type: ignore[arg-type]
    rd = dns.rdata.from_text(IN, 47, "x. " + " ".join(f"TYPE{t}" for t in types))
    bits = rd.to_wire()[3:]
    assert bitmap is not None
    wire += bytes([len(nxt)]) + nxt + bits
    round_trips(50, wire)
    round_trips(51, wire[: 5 + len(salt)])


@given(u16, st.integers(0, 255), st.integers(0, 255), st.binary(min_size=1, max_size=300))
def test_random_dnskey_and_cdnskey(flags: int, proto: int, alg: int, key: bytes) -> None:
    wire = flags.to_bytes(2, "big") + bytes([proto, alg]) + key
    text = round_trips(48, wire)
    assert " " not in text.split(" ", 3)[3]  # base64 on one line, no spaces
    round_trips(60, wire)


@given(u16, st.integers(0, 255), st.integers(0, 255), st.binary(min_size=1, max_size=64))
def test_random_cds_wire(tag: int, alg: int, dtype: int, digest: bytes) -> None:
    wire = tag.to_bytes(2, "big") + bytes([alg, dtype]) + digest
    try:
        dns.rdata.from_wire(IN, 59, wire, 0, len(wire))
    except Exception:
        return  # a digest length dnspython refuses for that digest type
    round_trips(59, wire)
    if dtype:  # digest type 0 is for the CDS "delete" record only (RFC 8078 §4)
        round_trips(43, wire)


@given(
    st.integers(1, 300),
    st.integers(0, 255),
    st.integers(0, 127),
    u32,
    u32,
    u32,
    u16,
    wire_name,
    st.binary(min_size=1, max_size=100),
)
def test_random_rrsig(
    covered: int,
    alg: int,
    labels: int,
    ottl: int,
    exp: int,
    inc: int,
    tag: int,
    signer: dns.name.Name,
    sig: bytes,
) -> None:
    wire = (
        covered.to_bytes(2, "big")
        + bytes([alg, labels])
        + ottl.to_bytes(4, "big")
        + exp.to_bytes(4, "big")
        + inc.to_bytes(4, "big")
        + tag.to_bytes(2, "big")
        + signer.to_wire()
        + sig
    )
    round_trips(46, wire)


def test_empty_fields_come_out_generic() -> None:
    for rdtype, wire in [(48, b"\x01\x01\x03\x0d"), (43, b"\x00\x01\x08\x05")]:
        text = rdata.to_text(rdtype, wire)
        assert text.startswith("\\# 4 ")
        assert dp_text_to_wire(rdtype, text) == wire


def test_non_portable_types_come_out_generic() -> None:
    assert rdata.type_to_text(65534) == "TYPE65534"
    assert rdata.type_to_text(1) == "A"
    assert rdata.type_to_text(62) == "CSYNC"
    assert rdata.to_text(65534, b"\x01\x02") == "\\# 2 0102"
    assert rdata.to_text(65534, b"") == "\\# 0"
    wallet = dns.rdatatype.from_text("WALLET")
    assert rdata.type_to_text(wallet) == f"TYPE{int(wallet)}"
    assert rdata.to_text(wallet, b"\x01a\x01b").startswith("\\# 4 ")


def test_bad_wire_raises_value_error() -> None:
    with pytest.raises(ValueError, match="bad A rdata"):
        rdata.to_text(1, b"\x01\x02")
    with pytest.raises(ValueError, match="bad NS rdata"):
        rdata.to_text(2, b"\x05abc")


def test_type_from_text() -> None:
    assert rdata.type_from_text("AAAA") == 28
    assert rdata.type_from_text("aaaa") == 28
    assert rdata.type_from_text("NSAP-PTR") == 23
    assert rdata.type_from_text("TYPE65534") == 65534
    assert rdata.type_from_text("type1") == 1
    with pytest.raises(ValueError, match="unknown type 'FOO'"):
        rdata.type_from_text("FOO")
    with pytest.raises(ValueError, match="out of range"):
        rdata.type_from_text("TYPE65536")


# --- canonical form and embedded names --------------------------------------------------------

CANON_CASES = [
    (2, "NS1.Example."),
    (5, "WWW.Example."),
    (12, "Host.Example."),
    (39, "Target.Example."),
    (15, "10 Mail.Example."),
    (33, "1 2 3 Sip.Example."),
    (6, "NS1.Example. Host.Master.Example. 1 2 3 4 5"),
    (17, "Mbox.Example. TXT.Example."),
    (18, "1 AFS.Example."),
    (21, "10 Route.Example."),
    (26, "10 Map822.Example. MapX400.Example."),
    (35, '100 10 "S" "SIP+D2U" "ReGeXp" _SIP._udp.Example.'),
    (36, "10 KX.Example."),
    (46, "A 13 2 3600 20300101000000 20200101000000 1234 Signer.Example. AAAA"),
]


@pytest.mark.parametrize(("rdtype", "text"), CANON_CASES)
def test_canonical_matches_dnspython(rdtype: int, text: str) -> None:
    wire = rdata.from_text(rdtype, text, ORIGIN)
    rd = dns.rdata.from_wire(IN, rdtype, wire, 0, len(wire))
    assert rdata.canonical(rdtype, wire) == rd.to_digestable()
    assert rdata.canonical(rdtype, wire) != wire  # there was something to fold


def test_canonical_leaves_other_types_alone() -> None:
    # RFC 6840 §5.1: the NSEC next name is not folded; neither are TXT or HINFO strings.
    for rdtype, text in [
        (47, "Next.Example. A"),
        (16, '"ABC"'),
        (13, '"CPU" "OS"'),
        (1, "192.0.2.1"),
    ]:
        wire = rdata.from_text(rdtype, text, ORIGIN)
        assert rdata.canonical(rdtype, wire) == wire


def test_canonical_for_types_dnspython_lacks() -> None:
    name = b"\x01A\x01B\x00"
    for rdtype in (3, 4, 7, 8, 9):  # MD, MF, MB, MG, MR
        assert rdata.canonical(rdtype, name) == b"\x01a\x01b\x00"
    assert rdata.canonical(14, name + name) == b"\x01a\x01b\x00" * 2  # MINFO
    a6 = bytes([64]) + b"\xab" * 8 + name  # prefix length 64: 8 suffix octets, then the name
    assert rdata.canonical(38, a6) == bytes([64]) + b"\xab" * 8 + b"\x01a\x01b\x00"


def test_embedded_names() -> None:
    for rdtype, text, name in [
        (2, "NS1.x.", "NS1.x."),
        (5, "a.x.", "a.x."),
        (39, "d.x.", "d.x."),
        (15, "10 Mx.x.", "Mx.x."),
        (33, "1 2 3 s.x.", "s.x."),
    ]:
        wire = rdata.from_text(rdtype, text, ORIGIN)
        assert rdata.embedded_names(rdtype, wire) == [dns.name.from_text(name).to_wire()]
    assert rdata.embedded_names(1, b"\x01\x02\x03\x04") == []
    assert rdata.embedded_names(16, b"\x01a") == []


# --- lexer ------------------------------------------------------------------------------------


def test_split_line() -> None:
    assert rdata.split_line('a "b c" d\\ e ; f', 0) == (["a", '"b c"', "d\\ e"], 0)
    assert rdata.split_line("x ( y", 0) == (["x", "y"], 1)
    assert rdata.split_line("z ) ; (", 1) == (["z"], 0)
    assert rdata.split_line('"semi;colon" \\;x', 0) == (['"semi;colon"', "\\;x"], 0)
    assert rdata.split_line('"a\\"b"', 0) == (['"a\\"b"'], 0)
    assert rdata.split_line('alpn="h2,h3" "a""b"x', 0) == (['alpn="h2,h3"', '"a""b"x'], 0)
    assert rdata.split_line("a\tb\r\n", 0) == (["a", "b"], 0)
    with pytest.raises(ValueError, match="unterminated quoted string"):
        rdata.split_line('a "b', 0)
    with pytest.raises(ValueError, match=r"'\)' without '\('"):
        rdata.split_line("a )", 0)
    with pytest.raises(ValueError, match="backslash at the end"):
        rdata.split_line("a \\", 0)


def test_unescape() -> None:
    assert rdata.unescape('"a\\"b\\065\\\\"') == b'a"bA\\'
    assert rdata.unescape("x\\032y") == b"x y"
    with pytest.raises(ValueError, match="bad escape"):
        rdata.unescape("\\12")
    with pytest.raises(ValueError, match="bad escape"):
        rdata.unescape("\\999")


# --- outside parsers --------------------------------------------------------------------------

PORTABLE_SAMPLES = {
    1: "192.0.2.1",
    2: "ns.example.",
    5: "c.example.",
    12: "p.example.",
    13: '"cpu" "os"',
    15: "10 mx.example.",
    16: '"a b" "c\\"d" "\\255;"',
    17: "mbox.example. txt.example.",
    18: "1 afs.example.",
    25: "256 3 13 AAAA",
    28: "2001:db8::1",
    29: "52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m",
    33: "1 2 3 srv.example.",
    35: '100 10 "S" "SIP+D2U" "" _sip._udp.example.',
    36: "10 kx.example.",
    37: "1 0 0 AAAA",
    39: "d.example.",
    42: "1:192.0.2.0/24 !2:2001:db8::/32",
    43: "1 13 2 " + "ab" * 32,
    44: "1 1 " + "ab" * 20,
    45: "10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==",
    46: "A 13 2 3600 20300101000000 20200101000000 1 example. AAAA",
    47: "next.example. A NS TYPE65534",
    48: "257 3 13 " + "A" * 88,
    49: "AAIBY2/AuCccgoJbsaxcQc9T",
    50: "1 1 0 - VD1FV6T4GQ0LNRRU9ONKVFD3MPD0EN8T A RRSIG",
    51: "1 0 0 ab",
    52: "3 1 1 " + "cd" * 32,
    53: "3 1 1 " + "cd" * 32,
    59: "1 13 2 " + "ab" * 32,
    60: "257 3 13 " + "A" * 88,
    61: "AAAA",
    62: "66 3 A NS AAAA",
    63: "1 1 1 " + "ab" * 48,
    64: "1 . alpn=h2 port=8443",
    65: "1 . alpn=h2",
    99: '"v=spf1 -all"',
    104: "10 0014:4fff:ff20:ee64",
    105: "10 10.1.2.0",
    106: "10 2001:0db8:1140:1000",
    107: "10 l64.example.",
    108: "00-00-5e-00-53-2a",
    109: "00-00-5e-ef-10-00-00-2a",
    256: '10 1 "ftp://ftp1.example.com/public"',
    257: '0 issue "ca.example.net"',
}
NON_PORTABLE_SAMPLES = {  # SIG: Knot 3.2 does not know it
    24: "A 13 2 3600 20300101000000 20200101000000 1 example. AAAA",
    65534: "\\# 3 010203",
    262: '"wallet"',
    66: "CDS 1 5359 t.example.",
}


def test_every_portable_type_has_a_sample() -> None:
    assert set(PORTABLE_SAMPLES) | {6} == rdata.PORTABLE_TYPES  # the SOA is in every zone


def _interop_zone(tmp_path: Path) -> Path:
    lines = [
        "example. 3600 IN SOA ns.example. h.example. 1 7200 3600 1209600 300",
        "example. 3600 IN NS ns.example.",
        "ns.example. 3600 IN A 192.0.2.53",
    ]
    for rdtype, text in sorted({**PORTABLE_SAMPLES, **NON_PORTABLE_SAMPLES}.items()):
        wire = rdata.from_text(rdtype, text, b"\x07example\x00")
        out = rdata.to_text(rdtype, wire)
        lines.append(f"t{rdtype}.example. 3600 IN {rdata.type_to_text(rdtype)} {out}")
    path = tmp_path / "example.zone"
    path.write_text("\n".join(lines) + "\n", encoding="latin-1")
    return path


TOOLS = {
    "named-checkzone": lambda z: [
        "named-checkzone",
        "-i",
        "none",
        "-k",
        "ignore",
        "-n",
        "ignore",
        "example",
        str(z),
    ],
    "ldns-read-zone": lambda z: ["ldns-read-zone", str(z)],
    "kzonecheck": lambda z: ["kzonecheck", "-o", "example.", "-d", "off", str(z)],
}


@pytest.mark.interop
@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_outside_parsers_read_to_text_output(tool: str, tmp_path: Path) -> None:
    program = require_program(tool)
    zone = _interop_zone(tmp_path)
    argv = [program, *TOOLS[tool](zone)[1:]]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
