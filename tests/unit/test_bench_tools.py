"""The benchmark gives every signer the same signature validity (bench/tools.py).

docs/benchmarks.md says every tool signs for 30 days with one expiry time; these tests hold
bench/tools.py to it: the validity each tool is given, and what ``signwire sign`` actually
writes when run with the benchmark's own arguments.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType

import dns.rdatatype
import dns.zone
import pytest

from conftest import FIXED_NOW, CliRunner

TOOLS_PATH = Path(__file__).resolve().parents[2] / "bench" / "tools.py"
DAY = 86400
ZONE = """\
$ORIGIN tld.
$TTL 3600
@        SOA ns1 hostmaster 1 7200 3600 1209600 300
@        NS  ns1
ns1      A   192.0.2.1
a        NS  ns.example.net.
b        NS  ns.example.net.
b        DS  12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
"""


@pytest.fixture(scope="module")
def tools() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_tools", TOOLS_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def _setup(tools: ModuleType, tmp_path: Path, *, nsec3: bool = False) -> object:
    zone = tmp_path / "tld.zone"
    zone.write_text(ZONE)
    return tools.Setup(
        zone=zone, origin="tld.", keydir=tmp_path / "keys", ksk="K1", zsk="K2",
        nsec3=nsec3, opt_out=nsec3, threads=2, now=FIXED_NOW,
    )  # fmt: skip


def test_the_validity_is_thirty_days(tools: ModuleType) -> None:
    assert tools.VALIDITY_S == 30 * DAY
    assert tools.VALIDITY_DAYS * DAY == tools.VALIDITY_S


def test_knot_gets_the_same_validity(tools: ModuleType, tmp_path: Path) -> None:
    conf = tools.knot_config(_setup(tools, tmp_path), tmp_path)
    assert f"rrsig-lifetime: {tools.VALIDITY_DAYS}d\n" in conf


@pytest.mark.parametrize("nsec3", [False, True], ids=["nsec", "nsec3-optout"])
def test_signwire_signs_with_one_expiry_thirty_days_on(
    tools: ModuleType, tmp_path: Path, signwire: CliRunner, nsec3: bool
) -> None:
    setup = _setup(tools, tmp_path, nsec3=nsec3)
    prepared = tools.prep_signwire(setup, tmp_path, [])
    # Everything after the program itself, run in this process at the fixed time.
    args = prepared.argv[prepared.argv.index("sign") :]
    started = FIXED_NOW
    result = signwire(*args, "--now", str(started))
    assert result.code == 0, result.err
    zone = dns.zone.from_file(str(prepared.output), origin="tld.", relativize=False)
    # Every RRSIG, whatever type it covers (iterate_rdatas(RRSIG) would want one ``covers``).
    rrsigs = [r for _n, _t, r in zone.iterate_rdatas() if r.rdtype == dns.rdatatype.RRSIG]
    assert len(rrsigs) >= 5, "the signed zone lost its signatures"
    expirations = {rdata.expiration for rdata in rrsigs}
    assert expirations == {started + tools.VALIDITY_S}, [
        time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e)) for e in sorted(expirations)
    ]


def test_signwire_row_signs_without_verification(tools: ModuleType, tmp_path: Path) -> None:
    """The ``signwire`` row keeps measuring what its older figures measured (no verification);
    ``signwire-verify`` is the default command, with it."""
    setup = _setup(tools, tmp_path)
    plain = tools.PREPARE["signwire"](setup, tmp_path, [])
    verifying = tools.PREPARE["signwire-verify"](setup, tmp_path, [])
    assert "--no-verify" in plain.argv and "--no-verify" not in verifying.argv
    assert plain.output != verifying.output
