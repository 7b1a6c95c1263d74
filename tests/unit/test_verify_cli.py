"""``signwire verify`` as the command line runs it: parser, output and exit codes."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import dns.dnssec
import dns.rdatatype
import pytest
from test_verify_support import NOW, keys, make_key, nsec_zone

from signwire.cli import verify_cmd
from signwire.verify.anchors import load_anchors

DAY = 86400


def _run(argv: list[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="signwire")
    verify_cmd.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["verify", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = verify_cmd.run(args, now=NOW, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def zonefile(tmp_path: Path) -> Path:
    path = tmp_path / "example.test.signed"
    path.write_text(nsec_zone().text())
    return path


def test_valid_zone_exits_0_with_a_summary(zonefile: Path) -> None:
    code, out, err = _run([str(zonefile), "--origin", "example.test"])
    assert code == 0
    assert err == ""
    assert out.strip().startswith("example.test. valid: 21 RRsets, 21 signatures, 9 NSEC")
    assert out.strip().endswith("0 errors, 0 warnings")


def test_invalid_zone_exits_1_listing_the_problems(tmp_path: Path) -> None:
    zone = nsec_zone()
    zone.put("www", "A", 3600, "192.0.2.99")
    path = tmp_path / "bad.signed"
    path.write_text(zone.text())
    code, out, _ = _run([str(path), "--origin", "example.test."])
    assert code == 1
    lines = out.splitlines()
    assert any(
        line.startswith("error: www.example.test. A: RRSIG A") and "does not verify" in line
        for line in lines
    )
    assert "INVALID" in lines[-1]


def test_warnings_do_not_fail_and_quiet_hides_them(tmp_path: Path) -> None:
    zone = nsec_zone()
    zone.resign("www", dns.rdatatype.A, expiration=NOW + 2 * DAY)
    path = tmp_path / "soon.signed"
    path.write_text(zone.text())
    code, out, _ = _run([str(path), "--origin", "example.test."])
    assert code == 0
    assert "warning: www.example.test. A: RRSIG A" in out
    assert "expires in 2.0 days" in out
    code, out, _ = _run([str(path), "--origin", "example.test.", "--quiet"])
    assert (code, out) == (0, "")
    code, out, _ = _run([str(path), "--origin", "example.test.", "--warn-days", "1"])
    assert code == 0
    assert "warning:" not in out


def test_quiet_still_prints_errors(tmp_path: Path) -> None:
    zone = nsec_zone()
    zone.resign("www", dns.rdatatype.A, inception=NOW - 9 * DAY, expiration=NOW - DAY)
    path = tmp_path / "expired.signed"
    path.write_text(zone.text())
    code, out, _ = _run([str(path), "--origin", "example.test.", "--quiet"])
    assert code == 1
    assert out.splitlines() == [
        "error: www.example.test. A: RRSIG A (key "
        f"{zone.zsks[0].tag}, algorithm 13): expired at 2025-12-31 00:00:00 UTC"
    ]


def test_missing_file_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.zone"
    code, out, err = _run([str(missing), "--origin", "example.test."])
    assert code == 2
    assert out == ""
    assert str(missing) in err
    assert "cannot read the zone file" in err


def test_not_a_zone_exits_2_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "garbage.zone"
    path.write_text("$ORIGIN example.test.\n@ 300 SOA a b 1 2 3 4 5\nthis is not a zone\n")
    code, _, err = _run([str(path), "--origin", "example.test."])
    assert code == 2
    assert f"{path}:3:" in err


def test_bad_origin_and_negative_warn_days_exit_2(zonefile: Path) -> None:
    code, _, err = _run([str(zonefile), "--origin", "a..b"])
    assert code == 2
    assert "bad --origin" in err
    code, _, err = _run([str(zonefile), "--origin", "example.test.", "--warn-days", "-1"])
    assert code == 2


def test_missing_origin_is_a_usage_error(zonefile: Path) -> None:
    with pytest.raises(SystemExit) as info:
        _run([str(zonefile)])
    assert info.value.code == 2


def _ds_line(key_index: int = 0) -> str:
    ds = dns.dnssec.make_ds("example.test.", keys(13)[key_index].dnskey, 2)
    return f"example.test.\t3600\tIN\tDS\t{ds}"


def test_anchor_files_in_the_usual_formats(zonefile: Path, tmp_path: Path) -> None:
    ksk = keys(13)[0]
    bind_key = tmp_path / "Kexample.test.+013+00001.key"
    bind_key.write_text(
        f"; This is a key-signing key, keyid {ksk.tag}, for example.test.\n"
        f"; Created: 20260101000000\nexample.test. IN DNSKEY {ksk.dnskey}\n"
    )
    ldns_ds = tmp_path / "Kexample.test.+013+00001.ds"
    ldns_ds.write_text(_ds_line() + "\n")
    dig = tmp_path / "dig.txt"
    dig.write_text(
        "; <<>> DiG 9.18 <<>> DS example.test\n;; ANSWER SECTION:\n" + _ds_line() + "\n"
        "example.test.\t3600\tIN\tRRSIG\tDS 13 2 3600 20260201000000 20260101000000 1 test. "
        "AAAA\n\n;; Query time: 1 msec\n"
    )
    for path in (bind_key, ldns_ds, dig):
        assert len(load_anchors(str(path))) == 1
        code, out, err = _run([str(zonefile), "--origin", "example.test.", "--anchor", str(path)])
        assert (code, err) == (0, ""), out


def test_anchor_that_matches_nothing_exits_1(zonefile: Path, tmp_path: Path) -> None:
    other = make_key(13, ksk=True)
    anchor = tmp_path / "other.ds"
    anchor.write_text(f"example.test. DS {dns.dnssec.make_ds('example.test.', other.dnskey, 2)}\n")
    code, out, _ = _run([str(zonefile), "--origin", "example.test.", "--anchor", str(anchor)])
    assert code == 1
    assert "no DNSKEY in the zone matches the trust anchors" in out


def test_unusable_anchor_files_exit_2(zonefile: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.ds"
    empty.write_text("; nothing here\nexample.test. 300 IN A 192.0.2.1\n")
    code, _, err = _run([str(zonefile), "--origin", "example.test.", "--anchor", str(empty)])
    assert code == 2
    assert "holds no DS or DNSKEY record" in err
    code, _, err = _run(
        [str(zonefile), "--origin", "example.test.", "--anchor", str(tmp_path / "absent")]
    )
    assert code == 2
    assert "cannot read the anchor file" in err
    broken = tmp_path / "broken.ds"
    broken.write_text('trust-anchors { example.test. static-ds 1 13 2 "00"; };\n')
    code, _, err = _run([str(zonefile), "--origin", "example.test.", "--anchor", str(broken)])
    assert code == 2
    assert "not an anchor file" in err
