"""The zone-file reader: every syntax feature, every error, and agreement with dnspython."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import dns.name
import dns.rdata
import dns.rdataclass
import dns.zone
import pytest
from hypothesis import HealthCheck, given, settings

from signwire.errors import ZoneDataError
from signwire.loading import zonefile
from signwire.loading.zonefile import read_zonefile
from signwire.zones import names, rdata
from signwire.zones.records import Record

ORIGIN = names.from_text("example.com.", None)


def write(tmp_path: Path, text: str, name: str = "z.zone") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("latin-1"))
    return path


def read(tmp_path: Path, text: str, **kw: int) -> list[Record]:
    return read_zonefile(write(tmp_path, text), ORIGIN, **kw).records


def show(records: list[Record]) -> list[tuple[str, str, int, str, int]]:
    return [
        (names.to_text(o), rdata.type_to_text(t), ttl, rdata.to_text(t, w), line)
        for o, t, ttl, w, line in records
    ]


def error(tmp_path: Path, text: str, **kw: int) -> ZoneDataError:
    with pytest.raises(ZoneDataError) as e:
        read(tmp_path, text, **kw)
    return e.value


SOA = "@ 3600 IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n"


# --- syntax ------------------------------------------------------------------------------------


def test_basic_records_in_file_order(tmp_path: Path) -> None:
    zone = read_zonefile(
        write(tmp_path, SOA + "@ 3600 IN NS ns1\nns1 3600 IN A 192.0.2.1\n"), ORIGIN
    )
    assert zone.origin == ORIGIN
    assert zone.path == str(tmp_path / "z.zone")
    assert show(zone.records) == [
        (
            "example.com.",
            "SOA",
            3600,
            "ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300",
            1,
        ),
        ("example.com.", "NS", 3600, "ns1.example.com.", 2),
        ("ns1.example.com.", "A", 3600, "192.0.2.1", 3),
    ]


def test_origin_directive_absolute_and_relative(tmp_path: Path) -> None:
    recs = read(
        tmp_path,
        "$TTL 60\n$ORIGIN other.net.\na A 192.0.2.1\n$ORIGIN sub\nb A 192.0.2.2\n@ TXT x\n",
    )
    assert [r[0] for r in show(recs)] == ["a.other.net.", "b.sub.other.net.", "sub.other.net."]


def test_ttl_directive_and_units(tmp_path: Path) -> None:
    recs = read(
        tmp_path,
        "$TTL 1h30m\na A 192.0.2.1\nb 1d A 192.0.2.1\nc 1w A 192.0.2.1\n"
        "d 2H5M7S A 192.0.2.1\ne 0 A 192.0.2.1\n$TTL 10\nf A 192.0.2.1\n",
    )
    assert [r[2] for r in recs] == [5400, 86400, 604800, 7507, 0, 10]


def test_ttl_and_class_in_either_order(tmp_path: Path) -> None:
    recs = read(
        tmp_path,
        "a 60 IN A 192.0.2.1\nb IN 61 A 192.0.2.1\nc in 62 a 192.0.2.1\n"
        "d 63 in A 192.0.2.1\ne IN A 192.0.2.1\nf CLASS1 64 A 192.0.2.1\n"
        "g 65 A 192.0.2.1\n",
    )
    assert [(r[2], r[1]) for r in recs] == [
        (60, 1),
        (61, 1),
        (62, 1),
        (63, 1),
        (63, 1),
        (64, 1),
        (65, 1),
    ]


def test_blank_owner_repeats_previous_owner_and_shares_its_bytes(tmp_path: Path) -> None:
    recs = read(
        tmp_path,
        "$TTL 60\nwww A 192.0.2.1\n     A 192.0.2.2\n\tAAAA ::1\n"
        "www TXT again\nother A 192.0.2.3\nwww TXT later\n",
    )
    owners = [r[0] for r in recs]
    assert owners[0] == names.from_text("www", ORIGIN)
    assert owners[0] is owners[1] is owners[2] is owners[3] is owners[5]
    assert owners[4] == names.from_text("other", ORIGIN)


def test_equal_ns_targets_share_bytes(tmp_path: Path) -> None:
    recs = read(tmp_path, "$TTL 60\na NS ns.host.net.\nb NS ns.host.net.\nc NS ns.host.net.\n")
    assert recs[0][3] is recs[1][3] is recs[2][3]


def test_at_sign_and_relative_and_absolute_names(tmp_path: Path) -> None:
    recs = read(tmp_path, "$TTL 60\n@ MX 10 @\nx.y CNAME z\nabs.example.org. PTR @\n")
    assert show(recs) == [
        ("example.com.", "MX", 60, "10 example.com.", 2),
        ("x.y.example.com.", "CNAME", 60, "z.example.com.", 3),
        ("abs.example.org.", "PTR", 60, "example.com.", 4),
    ]


def test_multi_line_records_take_their_first_line(tmp_path: Path) -> None:
    text = (
        "$TTL 60\n@ IN SOA ns1 hostmaster (\n  2024 ; serial\n  7200 ; refresh\n"
        "  3600 1209600\n  300 )\n"
        'txt TXT ( "one" ; comment ( with a paren\n  "two" )\nafter A 192.0.2.1\n'
        "k DNSKEY 257 3 13 (\n AAAA\n BBBB )\n"
    )
    recs = show(read(tmp_path, text))
    assert recs[0] == (
        "example.com.",
        "SOA",
        60,
        "ns1.example.com. hostmaster.example.com. 2024 7200 3600 1209600 300",
        2,
    )
    assert recs[1] == ("txt.example.com.", "TXT", 60, '"one" "two"', 7)
    assert recs[2] == ("after.example.com.", "A", 60, "192.0.2.1", 9)
    assert recs[3] == ("k.example.com.", "DNSKEY", 60, "257 3 13 AAAABBBB", 10)


def test_quoted_strings_escapes_and_semicolons(tmp_path: Path) -> None:
    text = (
        '$TTL 60\nt TXT "semi; colon" "quote \\" inside" "\\065\\\\" plain ; comment\n'
        't2 TXT "(not a paren)" ; "not a string"\n'
    )
    recs = read(tmp_path, text)
    assert recs[0][3] == b'\x0bsemi; colon\x0equote " inside\x02A\\\x05plain'
    assert recs[1][3] == b"\x0d(not a paren)"


def test_comments_blank_lines_and_crlf(tmp_path: Path) -> None:
    text = "; header\r\n\r\n$TTL 60 ; default\r\nwww A 192.0.2.1 ; trailing\r\n   \r\n\t; x\r\n"
    recs = read(tmp_path, text)
    assert show(recs) == [("www.example.com.", "A", 60, "192.0.2.1", 4)]


def test_generic_rdata_for_known_and_unknown_types(tmp_path: Path) -> None:
    recs = read(
        tmp_path,
        "$TTL 60\na A \\# 4 C0000201\nb TYPE65534 \\# 3 010203\n"
        "c TYPE1 192.0.2.2\nd type65534 \\# 0\n",
    )
    assert [(r[1], r[3]) for r in recs] == [
        (1, b"\xc0\x00\x02\x01"),
        (65534, b"\x01\x02\x03"),
        (1, b"\xc0\x00\x02\x02"),
        (65534, b""),
    ]


def test_bytes_beyond_ascii_round_trip(tmp_path: Path) -> None:
    recs = read(tmp_path, '$TTL 60\ncaf\xe9 TXT "na\xefve" \xff\ncaf\xe9 NS n\xe9\n')
    assert recs[0][0] == b"\x04caf\xe9" + ORIGIN
    assert recs[0][3] == b"\x05na\xefve\x01\xff"
    assert recs[1][0] is recs[0][0]
    assert recs[1][3] == b"\x02n\xe9" + ORIGIN


def test_case_is_kept(tmp_path: Path) -> None:
    recs = read(tmp_path, "$TTL 60\nWWW.Example.COM. CNAME Target.EXAMPLE.com.\n")
    assert recs[0][0] == b"\x03WWW\x07Example\x03COM\x00"
    assert recs[0][3] == b"\x06Target\x07EXAMPLE\x03com\x00"


def test_include_relative_to_including_file_with_origin(tmp_path: Path) -> None:
    write(tmp_path, "x A 10.0.0.1\n  MX 10 mail\n$INCLUDE deeper.zone\n", "sub/inc.zone")
    write(tmp_path, "y A 10.0.0.2\n", "sub/deeper.zone")
    main = write(
        tmp_path,
        "$TTL 60\nbefore A 192.0.2.1\n$INCLUDE sub/inc.zone other\n"
        '    A 192.0.2.9\n$INCLUDE "sub/deeper.zone"\nlast A 192.0.2.3\n',
    )
    recs = show(read_zonefile(main, ORIGIN).records)
    assert recs == [
        ("before.example.com.", "A", 60, "192.0.2.1", 2),
        ("x.other.example.com.", "A", 60, "10.0.0.1", 1),
        ("x.other.example.com.", "MX", 60, "10 mail.other.example.com.", 2),
        ("y.other.example.com.", "A", 60, "10.0.0.2", 1),
        # RFC 1035 §5.1: back in the including file, origin and owner are as before.
        ("before.example.com.", "A", 60, "192.0.2.9", 4),
        ("y.example.com.", "A", 60, "10.0.0.2", 1),
        ("last.example.com.", "A", 60, "192.0.2.3", 6),
    ]


def test_include_ttl_carries_over(tmp_path: Path) -> None:
    write(tmp_path, "$TTL 99\ninner A 10.0.0.1\n", "inc.zone")
    recs = read(tmp_path, "$TTL 60\n$INCLUDE inc.zone\nafter A 192.0.2.1\n")
    assert [r[2] for r in recs] == [99, 99]


# --- TTL defaults ------------------------------------------------------------------------------


def test_soa_minimum_is_the_ttl_when_nothing_else_says(tmp_path: Path) -> None:
    recs = read(
        tmp_path,
        "@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\n"
        "ns1 3600 A 192.0.2.1\nwww A 192.0.2.2\n",
    )
    # The SOA takes its MINIMUM, which then acts as a $TTL, as BIND 9 reads it: a record
    # without a TTL gets it even after one with a TTL of its own.
    assert [r[2] for r in recs] == [300, 300, 3600, 300]


def test_records_inherit_the_last_explicit_ttl(tmp_path: Path) -> None:
    recs = read(
        tmp_path,
        "@ 500 SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\n"
        "a 700 A 192.0.2.1\nb A 192.0.2.2\n",
    )
    assert [r[2] for r in recs] == [500, 500, 700, 700]


def test_dollar_ttl_beats_the_last_explicit_ttl(tmp_path: Path) -> None:
    recs = read(tmp_path, "$TTL 100\na 700 A 192.0.2.1\nb A 192.0.2.2\n")
    assert [r[2] for r in recs] == [700, 100]


def test_default_ttl_acts_as_a_dollar_ttl(tmp_path: Path) -> None:
    recs = read(tmp_path, "a A 192.0.2.1\nb 5 A 192.0.2.2\n$TTL 7\nc A 192.0.2.3\n", default_ttl=42)
    assert [r[2] for r in recs] == [42, 5, 7]


def test_no_ttl_at_all_is_an_error(tmp_path: Path) -> None:
    e = error(tmp_path, "; nothing yet\nwww A 192.0.2.1\n")
    assert (e.line, e.reason) == (2, "no TTL specified (no $TTL and no earlier TTL)")


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("$TTL 60\nwww FOO bar\n", 2, "unknown type 'FOO'"),
        ("$TTL 60\nwww 60\n", 2, "record has no type"),
        ("$TTL 60\nwww\n", 2, "record has no type"),
        ("$TTL 60\nwww 1x A 192.0.2.1\n", 2, "bad TTL '1x': unknown unit 'x'"),
        ("$TTL 60\nwww 1h30 A 192.0.2.1\n", 2, "bad TTL '1h30': trailing integer"),
        ("$TTL 60\nwww 4294967296 A 192.0.2.1\n", 2, "bad TTL '4294967296'"),
        ("$TTL x\n", 1, "bad TTL 'x'"),
        ("$TTL 60\nwww 5 6 A 192.0.2.1\n", 2, "second TTL '6' in record"),
        ("$TTL 60\na..b A 192.0.2.1\n", 2, "bad name 'a..b': empty label"),
        ("$TTL 60\n" + "a" * 64 + " A 192.0.2.1\n", 2, "longer than 63"),
        ("$TTL 60\nx\\1 A 192.0.2.1\n", 2, "bad escape"),
        ('$TTL 60\n"www" A 192.0.2.1\n', 2, "a name cannot hold a quoted string"),
        ("$TTL 60\nwww A 192.0.2\n", 2, "bad A rdata '192.0.2': "),
        ("$TTL 60\nwww MX x mail\n", 2, "bad MX rdata 'x mail': expecting an integer"),
        ("$TTL 60\nwww DS 1 13 2 abcd\n", 2, "digest length inconsistent with digest type"),
        ("$TTL 60\nwww NS a..b\n", 2, "bad NS rdata 'a..b': "),
        ("$TTL 60\nwww CH A 192.0.2.1\n", 2, "class CH is not supported (only IN)"),
        ("$TTL 60\nwww 5 HS A 192.0.2.1\n", 2, "class HS is not supported (only IN)"),
        ("$TTL 60\nwww CLASS3 A 192.0.2.1\n", 2, "class CLASS3 is not supported (only IN)"),
        ("$TTL 60\nwww OPT \\# 0\n", 2, "type OPT cannot appear in a zone"),
        ("$TTL 60\n  A 192.0.2.1\n", 2, "record has no owner name"),
        ("$TTL 60\n$GENERATE 10-1 h$ A 10.0.0.$\n", 2, "$GENERATE: bad range '10-1'"),
        ("$FOO bar\n", 1, "unknown directive $FOO"),
        ("$ORIGIN\n", 1, "$ORIGIN takes one name"),
        ("$ORIGIN a..b.\n", 1, "bad name 'a..b.': empty label"),
        ("$INCLUDE\n", 1, "$INCLUDE takes a file name"),
        ('$TTL 60\nwww TXT "open\n', 2, "unterminated quoted string"),
        ("$TTL 60\nwww A 192.0.2.1 )\n", 2, "unbalanced parenthesis: ')' without '('"),
        (
            '$TTL 60\nwww TXT ( "a"\n"b"\n',
            2,
            "unbalanced parenthesis: '(' opened on line 2 is never closed",
        ),
        ('$TTL 60\nwww TXT ( "a"\n"b\n)\n', 3, "unterminated quoted string"),
        ("$TTL 60\nwww TXT a\\\n", 2, "backslash at the end of the line"),
    ],
)
def test_errors_name_file_line_and_reason(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    e = error(tmp_path, text)
    assert e.path == str(tmp_path / "z.zone")
    assert e.line == line
    assert reason in e.reason
    assert str(e).startswith(f"{tmp_path / 'z.zone'}:{line}: ")


def test_missing_zone_file(tmp_path: Path) -> None:
    with pytest.raises(ZoneDataError) as e:
        read_zonefile(tmp_path / "nope.zone", ORIGIN)
    assert e.value.path == str(tmp_path / "nope.zone")
    assert "cannot read zone file" in e.value.reason
    assert "No such file" in e.value.reason


def test_missing_include_file_names_the_include_line(tmp_path: Path) -> None:
    e = error(tmp_path, "$TTL 60\n\n$INCLUDE missing.zone\n")
    assert (e.path, e.line) == (str(tmp_path / "z.zone"), 3)
    assert f"cannot read $INCLUDE file '{tmp_path / 'missing.zone'}'" in e.reason


def test_error_inside_an_include_names_the_included_file(tmp_path: Path) -> None:
    inc = write(tmp_path, "ok A 10.0.0.1\nbad A 10.0.0\n", "inc.zone")
    e = error(tmp_path, "$TTL 60\n$INCLUDE inc.zone\n")
    assert (e.path, e.line) == (str(inc), 2)
    assert "bad A rdata" in e.reason


def test_include_loop_is_stopped(tmp_path: Path) -> None:
    write(tmp_path, "$INCLUDE loop.zone\n", "loop.zone")
    e = error(tmp_path, "$TTL 60\n$INCLUDE loop.zone\n")
    assert "nested more than 20 deep" in e.reason


# --- the chunked fast path ---------------------------------------------------------------------


def test_multi_line_record_across_a_chunk_boundary(tmp_path: Path) -> None:
    # Clean filler up to just before the first chunk ends, then a record that runs into the
    # next chunk, then clean lines again.
    lines = []
    size = 0
    while size < zonefile._CHUNK - 200:
        lines.append(f"n{len(lines)} A 192.0.2.1\n")
        size += len(lines[-1])
    filler = "".join(lines)
    strings = "".join(f'"{i}"\n' for i in range(200))
    text = "$TTL 60\n" + filler + "big TXT (\n" + strings + ")\nafter A 192.0.2.2\n" + filler
    recs = read(tmp_path, text)
    first = len(lines) + 2
    big = [r for r in recs if r[0] == names.from_text("big", ORIGIN)]
    assert [r[4] for r in big] == [first]
    assert big[0][3] == b"".join(bytes([len(str(i))]) + str(i).encode() for i in range(200))
    after = [r for r in recs if r[0] == names.from_text("after", ORIGIN)]
    assert [r[4] for r in after] == [first + 202]
    assert len(recs) == 2 * len(lines) + 2
    assert recs[-1][4] == first + 202 + len(lines)


@pytest.mark.parametrize("chunk", [1, 7, 64, 300])
def test_tiny_chunks_read_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    # Every record boundary and every multi-line record meets a chunk edge somewhere.
    path = write(tmp_path, ROUND_TRIP_ZONE)
    expected = read_zonefile(path, ORIGIN).records
    monkeypatch.setattr(zonefile, "_CHUNK", chunk)
    assert read_zonefile(path, ORIGIN).records == expected


def test_unclosed_parenthesis_at_the_end_of_a_chunked_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(zonefile, "_CHUNK", 10)
    e = error(tmp_path, "$TTL 60\na A 192.0.2.1\nb TXT ( x\n y\n z\n")
    assert (e.line, e.reason) == (3, "unbalanced parenthesis: '(' opened on line 3 is never closed")


def test_odd_whitespace_bytes_are_name_bytes_not_separators(tmp_path: Path) -> None:
    # str.split() would split on \x85, \xa0 and \x1c; a zone file does not.
    recs = read(tmp_path, "$TTL 60\na\xa0b A 192.0.2.1\nc\x85d TXT e\x1cf\n")
    assert recs[0][0] == b"\x03a\xa0b" + ORIGIN
    assert recs[1][0] == b"\x03c\x85d" + ORIGIN
    assert recs[1][3] == b"\x03e\x1cf"


# --- agreement with dnspython ------------------------------------------------------------------


def as_sets(records: list[Record]) -> dict[tuple[bytes, int], tuple[int, set[bytes]]]:
    """(owner, type) -> (min TTL, canonical RDATA): how dnspython's zone model holds them."""
    out: dict[tuple[bytes, int], tuple[int, set[bytes]]] = {}
    for owner, rdtype, ttl, wire, _ in records:
        key = (owner.lower(), rdtype)
        old_ttl, rds = out.get(key, (ttl, set()))
        rds.add(rdata.canonical(rdtype, wire))
        out[key] = (min(old_ttl, ttl), rds)
    return out


def dnspython_sets(zone: dns.zone.Zone) -> dict[tuple[bytes, int], tuple[int, set[bytes]]]:
    out: dict[tuple[bytes, int], tuple[int, set[bytes]]] = {}
    for name, rdataset in zone.iterate_rdatasets():
        key = (name.to_wire().lower(), int(rdataset.rdtype))
        out[key] = (rdataset.ttl, {rd.to_digestable() for rd in rdataset})
    return out


ROUND_TRIP_ZONE = """$ORIGIN example.com.
$TTL 1h
@   IN SOA ns1 hostmaster (
        2024010101 ; serial
        2h 1h 1w 300 )
    IN NS ns1
    NS ns2.example.net.
    MX 10 mail
    TXT "v=spf1 -all" "semi;colon" "esc\\"aped\\255"
ns1 3600 A 192.0.2.1
ns1 IN 3600 AAAA 2001:db8::1
mail A 192.0.2.25
sub 1d NS ns.sub
ns.sub 1d A 192.0.2.53
sub 1d DS 12345 13 2 ( ABCDEF0123456789ABCDEF0123456789
                       ABCDEF0123456789ABCDEF0123456789 )
_sip._udp SRV 10 20 5060 mail
*.wild CNAME www
www CNAME @
d DNAME target.example.org.
ptr PTR host.Example.ORG.
caa CAA 0 issue "ca.example.net"
ssh SSHFP 1 1 abababababababababababababababababababab
tlsa TLSA 3 1 1 ( cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd
                  cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd )
svc SVCB 1 . alpn="h2,h3" port=8443
naptr NAPTR 100 10 "S" "SIP+D2U" "" _sip._udp
loc LOC 52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m
unk TYPE65534 \\# 3 010203
gen A \\# 4 C0000202
esc\\.dot\\032x A 192.0.2.7
UPPER.Case A 192.0.2.8
$ORIGIN deep.example.com.
a.b.c A 192.0.2.9
"""


def test_same_records_as_dnspython(tmp_path: Path) -> None:
    path = write(tmp_path, ROUND_TRIP_ZONE)
    ours = read_zonefile(path, ORIGIN).records
    ref = dns.zone.from_file(str(path), "example.com.", relativize=False, check_origin=False)
    assert as_sets(ours) == dnspython_sets(ref)
    assert len(ours) == sum(len(rds) for _, rds in as_sets(ours).values())


@pytest.fixture(scope="module")
def zones_strategy():  # type: ignore[no-untyped-def]
    from properties.strategies import zones

    return zones()


@settings(
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=__import__("hypothesis").strategies.data())
def test_random_zones_read_like_dnspython(data, zones_strategy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    case = data.draw(zones_strategy)
    path = tmp_path / "random.zone"
    path.write_text(case.text, encoding="ascii")
    origin = names.from_text(case.origin, None)
    ours = read_zonefile(path, origin).records
    ref = dns.zone.from_text(case.text, case.origin, relativize=False, check_origin=False)
    assert as_sets(ours) == dnspython_sets(ref)


def test_dnspython_conversion_of_our_tuples(tmp_path: Path) -> None:
    # The same comparison through dnspython objects built from our tuples.
    path = write(tmp_path, ROUND_TRIP_ZONE)
    ref = dns.zone.from_file(str(path), "example.com.", relativize=False, check_origin=False)
    grouped: dict[tuple[dns.name.Name, int], set[dns.rdata.Rdata]] = defaultdict(set)
    for owner, rdtype, _ttl, wire, _ in read_zonefile(path, ORIGIN).records:
        name = dns.name.from_wire(owner, 0)[0]
        grouped[(name, rdtype)].add(
            dns.rdata.from_wire(dns.rdataclass.IN, rdtype, wire, 0, len(wire))
        )
    assert len(grouped) == sum(1 for _ in ref.iterate_rdatasets())
    for name, rdataset in ref.iterate_rdatasets():
        assert set(rdataset) == grouped[(name, int(rdataset.rdtype))]
