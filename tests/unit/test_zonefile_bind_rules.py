"""The reader's rules where BIND sets the standard: names read without memory of earlier
lines, ``$GENERATE``, over-long RDATA, TTLs of 2^31 or more and wildcard NS.

The expected records are what ``named-checkzone -D`` (BIND 9.18) prints for the same text;
tests/interop/test_reader_vs_bind.py checks the agreement on generated zones.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from signwire.errors import ZoneDataError
from signwire.loading import generate
from signwire.loading.zonefile import read_zonefile
from signwire.zones import names, rdata, snapshot
from signwire.zones.records import ParsedZone

ORIGIN = names.from_text("example.com.", None)
HEAD = "$TTL 300\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n"


def parse(tmp_path: Path, text: str) -> ParsedZone:
    path = tmp_path / "z.zone"
    path.write_bytes(text.encode("latin-1"))
    return read_zonefile(path, ORIGIN)


def show(tmp_path: Path, text: str) -> list[tuple[str, int, str, str]]:
    return [
        (names.to_text(o), ttl, rdata.type_to_text(t), rdata.to_text(t, w))
        for o, t, ttl, w, _ in parse(tmp_path, text).records
    ]


def refused(tmp_path: Path, text: str) -> ZoneDataError:
    with pytest.raises(ZoneDataError) as e:
        parse(tmp_path, text)
    return e.value


# --- a name's reading does not depend on earlier lines --------------------------------------


def test_at_inside_a_name_is_a_label_even_after_a_lone_at(tmp_path: Path) -> None:
    recs = show(tmp_path, "$TTL 60\n@ A 192.0.2.1\nwww.@ A 192.0.2.2\nx NS www.@\n")
    assert [r[0] for r in recs] == ["example.com.", "www.\\@.example.com.", "x.example.com."]
    assert recs[2][3] == "www.\\@.example.com."


def test_at_inside_a_name_read_first_is_the_same(tmp_path: Path) -> None:
    recs = show(tmp_path, "$TTL 60\nwww.@ A 192.0.2.2\n@ A 192.0.2.1\n")
    assert recs[0][0] == "www.\\@.example.com."


def test_empty_label_after_the_root_was_an_owner_is_refused(tmp_path: Path) -> None:
    e = refused(tmp_path, "$TTL 60\n. A 192.0.2.1\nwww.. A 192.0.2.2\n")
    assert e.line == 3
    assert "empty label" in e.reason


def test_empty_label_as_an_ns_target_after_the_root_is_refused(tmp_path: Path) -> None:
    e = refused(tmp_path, "$TTL 60\na NS .\nb NS www..\n")
    assert (e.line, "bad NS rdata" in e.reason) == (3, True)


# --- $GENERATE ---------------------------------------------------------------------------------


def test_generate_plain_counter_with_step_and_ttl_and_class(tmp_path: Path) -> None:
    recs = show(
        tmp_path,
        HEAD + "$GENERATE 1-3 h$ A 10.0.0.$\n$GENERATE 1-5/2 g$ 77 IN CNAME t$\n"
        "$GENERATE 7-7 k$ IN 78 A 10.0.1.$\nafter A 192.0.2.9\n",
    )
    assert recs[3:] == [
        ("h1.example.com.", 300, "A", "10.0.0.1"),
        ("h2.example.com.", 300, "A", "10.0.0.2"),
        ("h3.example.com.", 300, "A", "10.0.0.3"),
        ("g1.example.com.", 77, "CNAME", "t1.example.com."),
        ("g3.example.com.", 77, "CNAME", "t3.example.com."),
        ("g5.example.com.", 77, "CNAME", "t5.example.com."),
        ("k7.example.com.", 78, "A", "10.0.1.7"),
        ("after.example.com.", 300, "A", "192.0.2.9"),  # $TTL still beats the last TTL
    ]


def test_generate_modifiers_as_bind_prints_them(tmp_path: Path) -> None:
    recs = show(
        tmp_path,
        HEAD + "$GENERATE 1-3/2 g${1,3,x} CNAME x${-1,4,X}.\\$y\n"
        '$GENERATE 0-1 n${0,3,n} PTR "p$.ex."\n'
        "$GENERATE 10-11 ${0,5,N}.w AAAA ::$\n"
        "$GENERATE 250-250 ${0,0,o}.v AAAA ::$\n"
        "$GENERATE 1-1 a$$b${1}c${2,3}\\$d A 10.0.0.$\n"
        "$GENERATE 1-1 neg${-3,3} A 10.0.0.$\n"
        "$GENERATE 1-1 h${-3,3,x} A 10.0.0.$\n"
        "$GENERATE 300-300 x.${0,7,N} A 10.0.0.1\n"
        "$GENERATE 1-1 x${1}}y A 10.0.0.1\n",
    )
    assert [r[0] for r in recs[3:]] == [
        "g002.example.com.",
        "g004.example.com.",
        "n0.0.example.com.",
        "n1.0.example.com.",
        "A.0.0.w.example.com.",
        "B.0.0.w.example.com.",
        "372.v.example.com.",
        "a\\$b2c003\\$d.example.com.",
        "neg-02.example.com.",
        "hfffffffe.example.com.",
        "x.C.2.1.0.example.com.",
        "x2}y.example.com.",
    ]
    assert [r[3] for r in recs[3:7]] == [
        "x0000.\\$y.example.com.",
        "x0002.\\$y.example.com.",
        "p0.ex.",
        "p1.ex.",
    ]


def test_generate_nibbles_can_end_on_a_dot_and_make_an_absolute_name(tmp_path: Path) -> None:
    recs = show(tmp_path, HEAD + "$GENERATE 10-10 ${0,4,n} AAAA ::$\n")
    assert recs[3][0] == "a.0."  # outside the zone: BIND drops it, signwire's checks refuse it


def test_generate_rdata_is_one_quoted_token(tmp_path: Path) -> None:
    recs = show(
        tmp_path,
        HEAD + '$GENERATE 8-9 m$ MX "10 mx$"\n$GENERATE 1-1 q$ TXT "a$ \\"b c\\"" ; note\n'
        '$GENERATE 1-1 @ TXT "x$"\n$GENERATE 1-1 s$ SRV "1 2 3 t$"\n'
        '$GENERATE 1-1 u$ TYPE65000 "\\# 1 0$"\n',
    )
    assert recs[3:] == [
        ("m8.example.com.", 300, "MX", "10 mx8.example.com."),
        ("m9.example.com.", 300, "MX", "10 mx9.example.com."),
        ("q1.example.com.", 300, "TXT", '"a1" "b c"'),
        ("example.com.", 300, "TXT", '"x1"'),
        ("s1.example.com.", 300, "SRV", "1 2 3 t1.example.com."),
        ("u1.example.com.", 300, "TYPE65000", "\\# 1 01"),
    ]


def test_generate_takes_the_last_ttl_without_dollar_ttl_and_sets_it(tmp_path: Path) -> None:
    recs = show(
        tmp_path,
        "@ 500 SOA ns hm 1 2 3 4 5\n$GENERATE 1-1 a$ A 10.0.0.$\n"
        "$GENERATE 1-1 b$ 42 A 10.0.0.$\nc A 10.0.0.3\n",
    )
    assert [r[1] for r in recs] == [500, 500, 42, 42]


def test_generate_leaves_the_current_owner_alone(tmp_path: Path) -> None:
    recs = show(tmp_path, "$TTL 60\nwww A 10.0.0.1\n$GENERATE 1-2 g$ A 10.0.0.$\n  TXT x\n")
    assert recs[-1][0] == "www.example.com."


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("$GENERATE 1-1/0 a$ A 10.0.0.1", "bad range '1-1/0'"),
        ("$GENERATE 2-1 a$ A 10.0.0.1", "bad range '2-1'"),
        ("$GENERATE 0-2147483648 a$ A 10.0.0.1", "bad range"),
        ("$GENERATE 1-2x a$ A 10.0.0.1", "bad range '1-2x'"),  # BIND ignores the x
        ("$GENERATE 0-16777216 a$ A 10.0.0.1", "more than 16777216"),
        ("$GENERATE 1-2 a${1,x} A 10.0.0.1", "bad modifier"),
        ("$GENERATE 1-2 a${1 A 10.0.0.1", "bad modifier"),
        ("$GENERATE 1-2 a${1,3,x A 10.0.0.1", "bad modifier"),
        ("$GENERATE 1-2 a${1,3,q} A 10.0.0.1", "bad modifier"),
        ("$GENERATE 1-2 a${0,128} A 10.0.0.1", "ran out of space"),
        ('$GENERATE 1-1 a TXT "${0,128,n}"', "ran out of space"),
        ('$GENERATE 1-1 a TXT "${2147483647}"', "out of range"),
        ("$GENERATE 1-2 a$ MX 10 b", "one token"),
        ('$GENERATE 1-2 a$ TXT "a" "b"', "one token"),
        ('$GENERATE 1-2 a$ TXT ( "$" )', "parentheses"),
        ("$GENERATE 1-2 a$ IN 60 IN A 10.0.0.1", "unknown type 'IN'"),
        ("$GENERATE 1-2 a$ CH A 10.0.0.1", "class CH is not supported"),
        ("$GENERATE 1-2 a$ A", "takes a range"),
        ("$GENERATE 1-2 a$ A 10.0.0.256", "bad A rdata '10.0.0.256'"),
        ("$GENERATE 1-2 a..$ A 10.0.0.1", "bad name 'a..1'"),
        ('$GENERATE 1-2 "a$" A 10.0.0.1', "quoted string"),
    ],
)
def test_generate_errors_name_the_line(tmp_path: Path, line: str, reason: str) -> None:
    e = refused(tmp_path, HEAD + line + "\n")
    assert e.line == 5
    assert reason in e.reason


def test_generate_needs_a_ttl_from_somewhere(tmp_path: Path) -> None:
    e = refused(tmp_path, "$GENERATE 1-2 x$ A 10.0.0.$\n")
    assert (e.line, e.reason) == (1, "no TTL specified (no $TTL and no earlier TTL)")


def test_generate_templates_directly() -> None:
    t = generate.compile_template("a\\$${0,2,N}$$")
    assert t.expand(0x1F) == "a\\$F.1$"
    assert generate.compile_template("x").expand(5) == "x"
    assert generate.compile_template("${-5,0,n}").expand(1) == "c.f.f.f.f.f.f.f"
    assert generate.compile_template("${99999999999}").expand(1) == "1215752192"  # as BIND
    assert generate.compile_template("${0,0,n}").expand(0) == "0"
    assert generate.compile_template("${0,2,n}").expand(0) == "0."
    assert list(generate.parse_range("+1-7/+3")) == [1, 4, 7]
    # BIND keeps the offset of a ${...} for the plain $ after it, in one template only.
    assert generate.compile_template("x${5}y$z${2,3,x}w$").expand(1) == "x6y6z003w3"
    assert generate.compile_template("$").expand(1) == "1"


# --- RDATA longer than an RR can hold ----------------------------------------------------------


def test_rdata_over_65535_octets_is_refused_with_its_line(tmp_path: Path) -> None:
    strings = " ".join(['"' + "a" * 255 + '"'] * 300)
    e = refused(tmp_path, HEAD + f"t TXT {strings}\n")
    assert e.line == 5
    assert "rdata is 76800 octets, more than the 65535 an RR can hold" in e.reason
    assert len(str(e)) < 300  # the message shows the start of the rdata, not all of it


def test_rdata_of_exactly_65535_octets_is_read(tmp_path: Path) -> None:
    # 257 strings of 255 octets and one of 9: 257 * 256 + 10 = 65,802 > 65,535; trim to fit.
    strings = ['"' + "b" * 255 + '"'] * 255 + ['"' + "c" * 254 + '"']
    recs = parse(tmp_path, HEAD + f"t TXT {' '.join(strings)}\n").records
    assert len(recs[-1][3]) == 65535


def test_generic_rdata_over_65535_octets_is_refused(tmp_path: Path) -> None:
    e = refused(tmp_path, HEAD + f"t TYPE65000 \\# 65536 {'00' * 65536}\n")
    assert (e.line, "more than the 65535" in e.reason) == (5, True)


# --- warnings: TTL of 2^31 or more, wildcard NS ------------------------------------------------


def test_ttl_of_2_to_the_31_or_more_reads_as_zero_with_a_warning(tmp_path: Path) -> None:
    zone = parse(
        tmp_path,
        "$TTL 2147483648\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\nns 2147483647 A 192.0.2.1\n"
        "x 4294967295 A 192.0.2.2\ny 4294967295 A 192.0.2.3\n",
    )
    assert [r[2] for r in zone.records] == [0, 0, 2147483647, 0, 0]
    where = str(tmp_path / "z.zone")
    assert zone.warnings == [
        f"{where}:1: TTL 2147483648 is 2^31 or more; read as 0 (RFC 2181 §8, as BIND does)",
        f"{where}:5: TTL 4294967295 is 2^31 or more; read as 0 (RFC 2181 §8, as BIND does)",
        f"{where}:6: TTL 4294967295 is 2^31 or more; read as 0 (RFC 2181 §8, as BIND does)",
    ]


def test_soa_minimum_of_2_to_the_31_as_the_default_ttl_is_zero(tmp_path: Path) -> None:
    zone = parse(tmp_path, "@ SOA ns hm 1 2 3 4 3000000000\n@ NS ns\n")
    assert [r[2] for r in zone.records] == [0, 0]
    assert len(zone.warnings) == 1


def test_wildcard_ns_is_read_with_a_warning_that_reaches_the_snapshot(tmp_path: Path) -> None:
    zone = parse(
        tmp_path,
        HEAD + "*.w NS ns.other.net.\n$GENERATE 1-1 *.g$ NS ns.other.net.\n*.a A 1.2.3.4\n",
    )
    assert [w.split(": ", 1)[1] for w in zone.warnings] == [
        "NS record at the wildcard *.w.example.com.: it delegates the name '*' only, and"
        " resolvers do not synthesise referrals from it (RFC 4592 §4.2)",
        "NS record at the wildcard *.g1.example.com.: it delegates the name '*' only, and"
        " resolvers do not synthesise referrals from it (RFC 4592 §4.2)",
    ]
    assert snapshot.build(zone).warnings[:2] == zone.warnings
