"""Repeated records are one record (RFC 2181 §5), for every type.

Zone files repeat records for ordinary reasons: an AXFR dump writes the SOA again at its end
(``dig AXFR`` output, the public root zone as distributed), files concatenated by hand repeat
whole RRsets. BIND, Knot and ldns read a record written twice as one record; so must the
signer, for every type (CNAME and SOA, which may have only one record, included), and the
signed zone must hold each record once and verify. A repeat that differs only in TTL is the
TTL mismatch the input checks already refuse (RFC 2181 §5.2), with the same message.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import CliRunner
from interop.verifiers import all_verifiers, in_ci, missing_programs, rejections, unavailable

ORIGIN = "example.test."
OUTSIDE = ("ldns-verify-zone", "dnssec-verify", "kzonecheck")

HEAD = [
    "$ORIGIN example.test.",
    "$TTL 3600",
    "@ IN SOA ns1 hostmaster 2026010101 7200 3600 1209600 300",
    "@ IN NS ns1",
    "ns1 IN A 192.0.2.1",
]


def _verified(signwire: CliRunner, path: Path, origin: str = ORIGIN) -> None:
    """``signwire verify`` accepts ``path``, and so do the outside verifiers where installed
    (under CI they must be)."""
    result = signwire("verify", path, "--origin", origin)
    assert result.code == 0, f"signwire verify exit {result.code}\n{result.out}{result.err}"
    missing = missing_programs(*OUTSIDE)
    if missing and in_ci():
        unavailable(missing)
    if not missing:
        found = all_verifiers(path, origin)
        assert not rejections(found), rejections(found)


def _sign(signwire: CliRunner, tmp_path: Path, lines: list[str], *extra: str) -> Path:
    zone = tmp_path / "dup.zone"
    zone.write_text("\n".join(lines) + "\n")
    out = tmp_path / "dup.signed"
    keys = tmp_path / "keys"
    result = signwire("sign", zone, "--origin", ORIGIN, "--keys", keys, "-o", out, *extra)
    assert result.code == 0, f"exit {result.code}\n{result.err}"
    return out


def _published(path: Path, owner: str, rdtype: str) -> list[str]:
    """The RDATA text of each ``owner rdtype`` record line of a signed file (no RRSIGs)."""
    found = []
    for line in path.read_text().splitlines():
        fields = line.split("\t")
        if len(fields) == 5 and fields[0].lower() == owner.lower() and fields[3] == rdtype:
            found.append(fields[4])
    return found


def test_cname_written_twice_is_one_cname(signwire: CliRunner, tmp_path: Path) -> None:
    out = _sign(
        signwire, tmp_path, [*HEAD, "www IN CNAME host", "www IN CNAME host", "host IN A 192.0.2.9"]
    )
    assert _published(out, "www.example.test.", "CNAME") == ["host.example.test."]
    _verified(signwire, out)


def test_cname_repeated_in_other_case_is_one_cname(signwire: CliRunner, tmp_path: Path) -> None:
    # The same target in another case is the same record (RFC 4034 §6.2 canonical form):
    # BIND reads one CNAME here, and a second one would be "CNAME beside CNAME".
    out = _sign(
        signwire,
        tmp_path,
        [*HEAD, "www IN CNAME Host", "www IN CNAME host.EXAMPLE.test.", "host IN A 192.0.2.9"],
    )
    assert _published(out, "www.example.test.", "CNAME") == ["Host.example.test."]
    _verified(signwire, out)


@pytest.mark.parametrize("denial", [(), ("--nsec3",)], ids=["nsec", "nsec3"])
def test_soa_repeated_at_the_end_as_axfr_dumps_write_it(
    signwire: CliRunner, tmp_path: Path, denial: tuple[str, ...]
) -> None:
    lines = [*HEAD, "www IN A 192.0.2.10", HEAD[2]]
    out = _sign(signwire, tmp_path, lines, *denial)
    assert len(_published(out, ORIGIN, "SOA")) == 1
    _verified(signwire, out)


def test_axfr_dump_with_absolute_names_and_explicit_ttls(
    signwire: CliRunner, tmp_path: Path
) -> None:
    # What `dig AXFR` prints: absolute owners, TTL and class on every line, the SOA last again.
    soa = (
        "example.test.\t3600\tIN\tSOA\t"
        "ns1.example.test. hostmaster.example.test. 7 7200 3600 1209600 300"
    )
    lines = [
        soa,
        "example.test.\t3600\tIN\tNS\tns1.example.test.",
        "ns1.example.test.\t3600\tIN\tA\t192.0.2.1",
        "www.example.test.\t300\tIN\tA\t192.0.2.10",
        soa,
    ]
    out = _sign(signwire, tmp_path, lines)
    assert len(_published(out, ORIGIN, "SOA")) == 1
    _verified(signwire, out)


# One record of each kind of RDATA the signer handles (names, fixed fields, strings, generic).
REPEATABLE = {
    "A": ("www", "192.0.2.10"),
    "AAAA": ("www", "2001:db8::10"),
    "MX": ("@", "10 mail"),
    "TXT": ("txt", '"hello world" "two"'),
    "SRV": ("_sip._tcp", "0 5 5060 sip"),
    "CAA": ("@", '0 issue "ca.example."'),
    "PTR": ("ptr", "host"),
    "HINFO": ("hinfo", '"CPU" "OS"'),
    "SSHFP": ("sip", "4 2 " + "ab" * 32),
    "TLSA": ("_443._tcp", "3 1 1 " + "cd" * 32),
    "NAPTR": ("naptr", '100 10 "S" "SIP+D2U" "" _sip._udp'),
    "DNAME": ("dn", "example.net."),
    "NS": ("sub", "ns.sub"),
    "DS": ("sub", "12345 13 2 " + "ef" * 32),
    "TYPE65280": ("priv", r"\# 3 010203"),
}
SUPPORT = [
    "mail IN A 192.0.2.25",
    "sip IN A 192.0.2.26",
    "host IN A 192.0.2.27",
    "ns.sub IN A 192.0.2.53",
]


@pytest.mark.parametrize("rdtype", sorted(REPEATABLE))
def test_every_type_repeated_is_one_record(
    signwire: CliRunner, tmp_path: Path, rdtype: str
) -> None:
    owner, data = REPEATABLE[rdtype]
    record = f"{owner} IN {rdtype} {data}"
    extra = [] if rdtype == "NS" else ["sub IN NS ns.sub"]
    out = _sign(signwire, tmp_path, [*HEAD, record, *SUPPORT, *extra, record])
    fqdn = ORIGIN if owner == "@" else f"{owner}.{ORIGIN}"
    shown = "TYPE65280" if rdtype.startswith("TYPE") else rdtype
    assert len(_published(out, fqdn, shown)) == 1, out.read_text()
    _verified(signwire, out)


def test_repeat_with_another_ttl_is_the_ttl_mismatch(signwire: CliRunner, tmp_path: Path) -> None:
    # RFC 2181 §5.2: the records of an RRset share a TTL; the input checks refuse a mismatch
    # (with the line of each record), and a repeat differing only in TTL is no exception.
    zone = tmp_path / "ttl.zone"
    zone.write_text("\n".join([*HEAD, "www 300 IN CNAME host", "www 600 IN CNAME host"]) + "\n")
    out = tmp_path / "ttl.signed"
    result = signwire("sign", zone, "--origin", ORIGIN, "--keys", tmp_path / "k", "-o", out)
    assert result.code == 1, result.err
    assert re.search(rf"{re.escape(str(zone))}:7: TTL 600 differs from TTL 300", result.err)
    assert "more than one CNAME" not in result.err, "a repeat is not a second CNAME"
    assert not out.exists()


def test_soa_repeated_with_another_serial_is_still_refused(
    signwire: CliRunner, tmp_path: Path
) -> None:
    zone = tmp_path / "two.zone"
    zone.write_text(
        "\n".join([*HEAD, "@ IN SOA ns1 hostmaster 2026010102 7200 3600 1209600 300"]) + "\n"
    )
    result = signwire("sign", zone, "--origin", ORIGIN, "--keys", tmp_path / "k")
    assert result.code == 1
    assert "second SOA" in result.err


def test_two_different_cnames_are_still_refused(signwire: CliRunner, tmp_path: Path) -> None:
    zone = tmp_path / "two.zone"
    zone.write_text("\n".join([*HEAD, "www IN CNAME a", "www IN CNAME b"]) + "\n")
    result = signwire("sign", zone, "--origin", ORIGIN, "--keys", tmp_path / "k")
    assert result.code == 1
    assert "more than one CNAME" in result.err
