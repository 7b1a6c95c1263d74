"""Robustness of the zone-file reader: whatever the bytes, a zone or a clean ZoneDataError.

Hypothesis feeds the reader random bytes and real-looking zone files with bytes deleted,
inserted or duplicated. Every outcome other than a parsed zone or signwire's own
:class:`ZoneDataError` (a traceback the operator would see) fails the test. What the reader
accepts then goes through the input checks (``snapshot.build``), which must hold to the same
rule. Example counts are kept small so that the file runs in a few seconds.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signwire.errors import ZoneDataError
from signwire.loading.zonefile import read_zonefile
from signwire.zones import names, snapshot

ORIGIN = names.from_text("example.com.", None)

SEED_ZONES = [
    """$ORIGIN example.com.
$TTL 1h
@   IN SOA ns1 hostmaster ( 2024010101 ; serial
        2h 1h 1w 300 )
    IN NS ns1
    NS ns2.example.net.
    MX 10 mail
    TXT "v=spf1 -all" "semi;colon" "esc\\"aped\\255"
ns1 3600 A 192.0.2.1
ns1 IN 3600 AAAA 2001:db8::1
sub 1d NS ns.sub
ns.sub 1d A 192.0.2.53
sub 1d DS 12345 13 2 ( ABCDEF0123456789ABCDEF0123456789
                       ABCDEF0123456789ABCDEF0123456789 )
_sip._udp SRV 10 20 5060 mail
*.wild CNAME www
www CNAME @
esc\\.dot\\032x A 192.0.2.7
unk TYPE65534 \\# 3 010203
caa CAA 0 issue "ca.example.net"
$INCLUDE inc.zone sub2
""",
    """$TTL 300
@ SOA ns hm 1 2 3 4 5
@ NS ns
ns A 192.0.2.1
$GENERATE 1-4 h$ A 10.0.0.$
$GENERATE 1-9/2 g${1,3,x} 77 IN CNAME x${-1,4,X}.\\$y
$GENERATE 0-3 n${0,3,n} PTR "p$.ex."
$GENERATE 8-9 m$ MX "10 mx$"
$GENERATE 10-11 ${0,5,N}.w AAAA ::$
$ORIGIN sub.example.com.
a.b.c A 192.0.2.9
@ TXT ( "one"
  "two" ) ; comment
k DNSKEY 257 3 13 ( AAAA
 BBBB )
""",
]
INCLUDED = "x A 10.0.0.1\n  MX 10 mail\n"

# Fuzzing is about finding tracebacks, not about variety between runs: keep the counts small
# and let the ci profile (derandomized) make them the same on every CI run.
FUZZ = settings(
    max_examples=300,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def read_or_refuse(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "inc.zone").write_bytes(INCLUDED.encode())
    path = tmp_path / "fuzz.zone"
    path.write_bytes(data)
    try:
        parsed = read_zonefile(path, ORIGIN)
    except ZoneDataError as e:
        assert str(e), "an error must say what is wrong"
        return
    with contextlib.suppress(ZoneDataError):
        snapshot.build(parsed)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEED_ZONES)).encode("latin-1"))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["delete", "insert", "duplicate", "replace"]))
        pos = draw(st.integers(0, len(data)))
        if kind == "delete":
            del data[pos : pos + draw(st.integers(1, 8))]
        elif kind == "insert":
            chunk = draw(
                st.one_of(
                    st.binary(min_size=1, max_size=4),
                    st.sampled_from([b"(", b")", b'"', b"\\", b";", b"$", b"@", b".", b"\n",
                                     b" ", b"\t", b"\\0", b"\\#", b"${", b"}", b"*", b"0", b"9"]),
                )
            )  # fmt: skip
            data[pos:pos] = chunk
        elif kind == "duplicate":
            length = draw(st.integers(1, 40))
            data[pos:pos] = data[pos : pos + length]
        else:
            data[pos : pos + 1] = bytes([draw(st.integers(0, 255))])
    return bytes(data)


@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes_are_read_or_refused_cleanly(tmp_path: Path, data: bytes) -> None:
    read_or_refuse(tmp_path, data)


@FUZZ
@given(data=st.lists(st.sampled_from(SEED_ZONES[1].splitlines(keepends=True)), max_size=12))
def test_shuffled_real_lines_are_read_or_refused_cleanly(tmp_path: Path, data: list[str]) -> None:
    read_or_refuse(tmp_path, "".join(data).encode("latin-1"))


@FUZZ
@given(data=mutated())
def test_mutated_zone_files_are_read_or_refused_cleanly(tmp_path: Path, data: bytes) -> None:
    read_or_refuse(tmp_path, data)


def test_the_seed_zones_themselves_are_read(tmp_path: Path) -> None:
    # The mutations start from zones that read: otherwise the test would only see errors.
    for text in SEED_ZONES:
        (tmp_path / "inc.zone").write_bytes(INCLUDED.encode())
        path = tmp_path / "seed.zone"
        path.write_bytes(text.encode())
        assert len(read_zonefile(path, ORIGIN).records) > 8
