"""The verifier's zone-file reader: its fast path agrees with dnspython's reader, and it reports
what a loader would silently drop."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dns.name
import dns.rdatatype
import pytest
from test_verify_support import Zone, nsec_zone, same_contents, sign_nsec3

from signwire.errors import ZoneDataError
from signwire.verify.zone_reader import (
    _read_with_dnspython,
    read_zone_file,
    read_zone_text,
)

ORIGIN = dns.name.from_text("example.test.")


TRICKY = """\
$TTL 1h
$ORIGIN example.test.
@   IN  SOA ns1 hostmaster (
        2026010101 ; serial
        7200 3600 1209600 300 )
    IN  NS  ns1                ; indented: same owner
@ 600 IN MX 10 mail
mail IN 1200 A 192.0.2.3       ; class before TTL
txt TXT "a;b" "c (d) e" ; quotes hide ; and parentheses
txt TXT "line\\"quote"
generic TYPE65280 \\# 3 abcdef
multi   AAAA ( 2001:db8::1 )
$ORIGIN sub.example.test.
www A 192.0.2.9
rel CNAME www
www RRSIG A 13 4 3600 20260131000000 20251231000000 12345 example.test. (
        AAAA BBBB
        CCCC== )
"""


def test_fast_reader_matches_dnspython_on_tricky_syntax() -> None:
    fast = read_zone_text(TRICKY, ORIGIN)
    same_contents(fast, _read_with_dnspython(TRICKY, ORIGIN, "<text>"))
    txt = fast.rdataset(dns.name.from_text("txt.example.test."), dns.rdatatype.TXT)
    assert txt is not None and len(txt) == 2
    assert fast.rdataset(dns.name.from_text("mail.example.test."), dns.rdatatype.A).ttl == 1200
    rel = fast.rdataset(dns.name.from_text("rel.sub.example.test."), dns.rdatatype.CNAME)
    assert rel is not None and next(iter(rel)).to_text() == "www.sub.example.test."
    assert fast.log.problems == []


@pytest.mark.parametrize("make", [nsec_zone, sign_nsec3], ids=["nsec", "nsec3"])
def test_fast_reader_matches_dnspython_on_signed_zones(make: Callable[[], Zone]) -> None:
    text = make().text()
    same_contents(read_zone_text(text, ORIGIN), _read_with_dnspython(text, ORIGIN, "<text>"))


def test_include_goes_through_dnspython(tmp_path: Path) -> None:
    inc = tmp_path / "inc.zone"
    inc.write_text("www 300 IN A 192.0.2.1\n")
    main = tmp_path / "main.zone"
    main.write_text(f"$ORIGIN example.test.\n@ 300 SOA a b 1 2 3 4 5\n$INCLUDE {inc}\n")
    contents = read_zone_file(str(main), "example.test.")
    assert contents.rdataset(dns.name.from_text("www.example.test."), dns.rdatatype.A)


def test_outside_names_duplicates_and_ttl_mismatches_are_reported() -> None:
    text = (
        "$ORIGIN example.test.\n"
        "www 300 A 192.0.2.1\n"
        "www 300 A 192.0.2.1\n"
        "www 600 A 192.0.2.2\n"
        "other.test. 300 A 192.0.2.3\n"
    )
    contents = read_zone_text(text, ORIGIN)
    found = {str(p) for p in contents.log.problems}
    assert "warning: www.example.test. A: duplicate record" in found
    assert any("different TTLs (300 and 600" in p for p in found)
    assert "error: other.test. A: record outside the zone" in found
    rds = contents.rdataset(dns.name.from_text("www.example.test."), dns.rdatatype.A)
    assert rds is not None and len(rds) == 2 and rds.ttl == 300


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("$ORIGIN example.test.\n@ 300 SOA a b 1 2 3 4 5\nwww 300 A not-an-address\n", 3, "bad A"),
        ("$ORIGIN example.test.\n\nwww 300 BOGUS 1\n", 3, "unknown type 'BOGUS'"),
        ("$ORIGIN example.test.\nwww 300 A ( 192.0.2.1\n", 2, "unbalanced parentheses"),
        ("$ORIGIN example.test.\nwww 300 A 192.0.2.1 )\n", 2, "unbalanced parentheses"),
        ("$ORIGIN example.test.\nwww CH A 192.0.2.1\n", 2, "class CH is not IN"),
        ("www A 192.0.2.1\n", 1, "missing TTL"),
        ("   300 A 192.0.2.1\n", 1, "no owner name"),
    ],
)
def test_syntax_errors_name_the_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(ZoneDataError) as info:
        read_zone_text(text, ORIGIN, path="z.zone")
    assert info.value.line == line
    assert info.value.path == "z.zone"
    assert fragment in str(info.value)


def test_dnspython_path_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.zone"
    # $GENERATE sends the file through dnspython's reader; line 4 is broken there
    path.write_text(
        "$ORIGIN example.test.\n$TTL 300\n$GENERATE 1-2 h$ A 192.0.2.$\nx A 999.0.2.1\n"
    )
    with pytest.raises(ZoneDataError) as info:
        read_zone_file(str(path), "example.test.")
    assert info.value.path == str(path)
    # dnspython reports the line its tokenizer is on once the record's end-of-line is read
    assert info.value.line in (4, 5)
    assert "malformed" in str(info.value)


def test_missing_and_binary_files_are_zone_data_errors(tmp_path: Path) -> None:
    with pytest.raises(ZoneDataError, match="cannot read the zone file"):
        read_zone_file(str(tmp_path / "absent.zone"), "example.test.")
    binary = tmp_path / "binary.zone"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ZoneDataError, match="not a text zone file"):
        read_zone_file(str(binary), "example.test.")
