"""RRsets too big for any DNS message are read with a warning that reaches the operator.

The smallest response carrying an RRset: 12 (header) + owner + 4 (question) + per record
12 + RDATA. ``m.example.com.`` is 15 octets in wire form, so an A RRset of k records needs
31 + 16k octets: 4,094 records fit in 65,535, 4,095 do not.
"""

from __future__ import annotations

from pathlib import Path

from signwire.loading.zonefile import read_zonefile
from signwire.zones import names, rrset_size, snapshot

ORIGIN = names.from_text("example.com.", None)
HEAD = "$TTL 300\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n"


def a_records(owner: str, count: int, first: int = 0) -> str:
    return "".join(
        f"{owner} A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}\n"
        for i in range(first, first + count)
    )


def warnings(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "z.zone"
    path.write_text(text)
    return snapshot.build(read_zonefile(path, ORIGIN)).warnings


def test_an_rrset_of_many_small_records_that_cannot_fit_is_warned_about(tmp_path: Path) -> None:
    got = warnings(tmp_path, HEAD + a_records("m", 4095))
    assert got == [
        f"{tmp_path / 'z.zone'}:5: the A RRset of m.example.com. (4095 records) needs a message"
        " of 65551 octets, more than the 65535 a DNS message can hold: no server can send it"
        " whole"
    ]


def test_an_rrset_that_just_fits_is_not(tmp_path: Path) -> None:
    assert warnings(tmp_path, HEAD + a_records("m", 4094)) == []
    assert rrset_size.message_size(names.from_text("m", ORIGIN), [b"1234"] * 4094) == 65535


def test_records_spread_over_the_file_and_written_in_other_cases_are_one_rrset(
    tmp_path: Path,
) -> None:
    text = HEAD + a_records("m", 2000) + "x A 192.0.2.9\n" + a_records("M", 2095, first=2000)
    assert len(warnings(tmp_path, text)) == 1


def test_identical_records_count_once(tmp_path: Path) -> None:
    assert warnings(tmp_path, HEAD + a_records("m", 3000) + a_records("m", 3000)) == []


def test_two_large_records_are_measured_by_the_reader(tmp_path: Path) -> None:
    big = " ".join(['"' + "b" * 250 + '"'] * 140)  # 140 * 251 = 35,140 octets
    # 31 + (12 + 35,140) + (12 + 35,142): the second has one more string, "x"
    text = HEAD + f"t TXT {big}\nother A 192.0.2.7\nT TXT {big} x\n"
    path = tmp_path / "z.zone"
    path.write_text(text)
    parsed = read_zonefile(path, ORIGIN)
    assert parsed.warnings == [
        f"{path}:5: the TXT RRset of t.example.com. (2 records) needs a message of 70337"
        " octets, more than the 65535 a DNS message can hold: no server can send it whole"
    ]
    assert snapshot.build(parsed).warnings == parsed.warnings  # said once, not twice


def test_large_records_in_a_big_rrset_are_said_once(tmp_path: Path) -> None:
    big = " ".join(['"' + "c" * 250 + '"'] * 70)  # 17,570 octets: a "large" record
    text = HEAD + "".join(f"t TXT {big} {i}\n" for i in range(5))
    assert len(warnings(tmp_path, text)) == 1


def test_one_large_record_alone_fits(tmp_path: Path) -> None:
    big = " ".join(['"' + "d" * 250 + '"'] * 200)  # 50,200 octets, one record
    assert warnings(tmp_path, HEAD + f"t TXT {big}\n") == []
