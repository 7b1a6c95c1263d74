"""Small zones with odd names through ``signwire sign``: a signed zone that verifies, or a
clean refusal, never a traceback.

The zones are drawn to reach the corners of the signer rather than its common path: the root
zone and a long apex, labels of 63 octets and labels holding escaped bytes (``\\000``, a dot,
a space, a backslash), wildcards, delegations with and without DS and glue, DNAME with data
below it, CNAMEs, records written twice, TTLs from 0 to 2^31 - 1, every denial mode, and
re-signing with ``--strip-dnssec``. The only outcomes accepted are exit 0 with a file that
``signwire verify`` accepts, or exit 1 (the zone is not valid) or 2 (usage) with an error
message. Exit 3 or an exception escaping the command is a failure.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from conftest import FIXED_NOW, CliRunner

# Origins: the root, an ordinary one, one with escaped bytes, and a long one (200 octets: its
# NSEC3 owners still fit in 255, and its key files' names in a file system's 255 characters).
ORIGINS = [
    ".",
    "example.test.",
    "a\\032b\\.c.test.",
    ".".join(["l" * 63, "m" * 63, "n" * 63]) + ".o" * 3 + ".",
]
PLAIN_LABELS = ["www", "a", "b", "mail", "_tcp", "xn--bcher-kva", "-", "0", "WwW"]
ODD_LABELS = ["\\000", "\\.", "\\032", "\\\\", "\\255", "\\@", "x" * 63, "a\\000b", "\\(\\)"]
DATA = {
    "A": st.sampled_from(["192.0.2.1", "198.51.100.7"]),
    "AAAA": st.sampled_from(["2001:db8::1", "::ffff:192.0.2.1"]),
    "TXT": st.sampled_from(['"x"', '"a b" "c"', '""', '"\\000\\255"']),
    "MX": st.sampled_from(["10 mail", "0 ."]),
    "CNAME": st.sampled_from(["www", "target.example.", "*.w"]),
    "DNAME": st.sampled_from(["example.net.", "b"]),
    "NS": st.sampled_from(["ns.example.net.", "ns"]),
    "NS+DS": st.just("12345 13 2 " + "ab" * 32),
    "SRV": st.just("0 0 443 www"),
}
# Types in the proportions drawn: a CNAME beside other data is refused, so not too many.
TYPES = ["A"] * 3 + ["AAAA", "TXT"] * 2 + ["MX", "CNAME", "DNAME", "NS", "NS+DS", "SRV"]
# Mostly the default: two TTLs in one RRset are refused, and that is tested elsewhere.
TTLS = [None] * 8 + [0, 1, 300, 86400, 2**31 - 1]
MODES = [
    (),
    ("--nsec3",),
    ("--nsec3", "--opt-out"),
    ("--nsec3", "--iterations", "1", "--salt", "abcd"),
]

labels = st.one_of(st.sampled_from(PLAIN_LABELS), st.sampled_from(ODD_LABELS))


@st.composite
def owners(draw: st.DrawFn) -> str:
    parts = draw(st.lists(labels, min_size=1, max_size=3))
    if draw(st.booleans()) and len(parts) < 3:
        parts.insert(0, "*")
    return ".".join(parts)


@st.composite
def records(draw: st.DrawFn) -> str:
    owner = draw(st.one_of(owners(), st.just("@")))
    rdtype = draw(st.sampled_from(TYPES))
    data = draw(DATA[rdtype])
    ttl = draw(st.sampled_from(TTLS))
    ttl_text = "" if ttl is None else ttl
    if rdtype == "NS+DS":  # a secure delegation
        return f"{owner} {ttl_text} IN NS ns.example.net.\n{owner} {ttl_text} IN DS {data}"
    return f"{owner} {ttl_text} IN {rdtype} {data}"


@st.composite
def zone_texts(draw: st.DrawFn, origin: str) -> str:
    head = [
        f"$ORIGIN {origin}",
        "$TTL 3600",
        "@ IN SOA ns hostmaster 1 7200 3600 1209600 300",
        "@ IN NS ns",
        "ns IN A 192.0.2.53",
    ]
    body: list[str] = draw(st.lists(records(), min_size=1, max_size=12))
    repeat: bool = draw(st.booleans())
    if repeat:
        body.append(draw(st.sampled_from(body)))  # a record written twice
    return "\n".join(head + body) + "\n"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Keys are made once per origin and reused, as an operator's would be.
    return tmp_path_factory.mktemp("odd-zones")


_counter = itertools.count()


def _clean_refusal(code: int, err: str) -> bool:
    return code in (1, 2) and "error:" in err and "Traceback" not in err


@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_odd_zones_sign_and_verify_or_are_refused_cleanly(
    signwire: CliRunner, workdir: Path, data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(ORIGINS) - 1), label="origin")
    origin = ORIGINS[index]
    text = data.draw(zone_texts(origin), label="zone")
    mode = data.draw(st.sampled_from(MODES), label="mode")
    run = next(_counter)
    zone = workdir / f"{run}.zone"
    zone.write_text(text)
    out = workdir / f"{run}.signed"
    keys = workdir / f"keys-{index}"
    argv = ["sign", zone, "--origin", origin, "--keys", keys, "-o", out, "--now", str(FIXED_NOW)]
    result = signwire(*argv, *mode)
    note(f"sign exit {result.code}: {result.err}")
    event(f"sign exit {result.code}")
    if result.code:
        event(result.err.split(": ", 3)[-1].split(" at ")[0][:40])
    if result.code != 0:
        assert _clean_refusal(result.code, result.err), f"exit {result.code}\n{result.err}"
        assert not out.exists()
        return
    check = signwire("verify", out, "--origin", origin, "--now", str(FIXED_NOW))
    assert check.code == 0, f"verify exit {check.code}\n{check.out}{check.err}\n{out.read_text()}"

    # The signed zone signed again: the old DNSSEC records dropped, the result verifies too.
    again = workdir / f"{run}.again"
    mode2 = data.draw(st.sampled_from(MODES), label="re-sign mode")
    result = signwire(
        "sign", out, "--origin", origin, "--keys", keys, "-o", again, "--now", str(FIXED_NOW),
        "--strip-dnssec", *mode2,
    )  # fmt: skip
    assert result.code == 0, f"re-sign exit {result.code}\n{result.err}"
    check = signwire("verify", again, "--origin", origin, "--now", str(FIXED_NOW))
    assert check.code == 0, f"verify exit {check.code}\n{check.out}{check.err}"
