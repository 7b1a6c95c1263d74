"""The benchmark's zone generator (bench/genzone.py) writes zones of the promised shape."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path
from types import ModuleType

import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest

GENZONE_PATH = Path(__file__).resolve().parents[2] / "bench" / "genzone.py"


@pytest.fixture(scope="module")
def genzone() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_genzone", GENZONE_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def _render(genzone: ModuleType, mode: str, names: int, **kw: object) -> tuple[str, object]:
    buf = io.StringIO()
    stats = genzone.generate(mode, names, buf, **kw)
    return buf.getvalue(), stats


def _parse(text: str, origin: str) -> dns.zone.Zone:
    return dns.zone.from_text(text, origin=origin, relativize=False, check_origin=True)


def test_tld_zone_has_n_delegations_two_ns_each_and_exact_ds_share(genzone: ModuleType) -> None:
    text, stats = _render(genzone, "tld", 400, seed=7, ds_share=0.25)
    zone = _parse(text, "tld.")
    origin = dns.name.from_text("tld.")

    delegations = {}
    ds_owners = set()
    for name, node in zone.nodes.items():
        if name == origin:
            continue
        ns = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NS)
        if ns is not None:
            delegations[name] = ns
        if node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.DS) is not None:
            ds_owners.add(name)

    assert len(delegations) == 400 == stats.entries
    assert all(len(ns) == 2 for ns in delegations.values())
    assert all(name.parent() == origin for name in delegations)
    assert len(ds_owners) == 100
    assert ds_owners <= set(delegations)
    for ds in (zone.get_rdataset(n, "DS") for n in ds_owners):
        assert ds is not None
        (rd,) = ds
        assert rd.algorithm == 13 and rd.digest_type == 2 and len(rd.digest) == 32

    targets = [rd.target for ns in delegations.values() for rd in ns]
    in_zone = [t for t in targets if t.is_subdomain(origin)]
    # ~5 % in-zone name servers; every one has A and AAAA glue.
    assert 0 < len(in_zone) < len(targets) * 0.15
    for target in in_zone:
        assert zone.get_rdataset(target, "A") is not None
        assert zone.get_rdataset(target, "AAAA") is not None
    hosters = {t.parent() for t in targets if not t.is_subdomain(origin)}
    assert all(h.labels[0].startswith(b"hoster") for h in hosters)

    apex_ns = zone.get_rdataset(origin, "NS")
    assert apex_ns is not None and len(apex_ns) == 2
    assert zone.get_rdataset(origin, "SOA") is not None
    assert zone.get_rdataset("ns1.tld.", "A") is not None
    assert zone.get_rdataset("ns2.tld.", "AAAA") is not None
    assert stats.records == sum(len(rds) for _, rds in zone.iterate_rdatasets())


def test_same_seed_same_bytes_other_seed_other_zone(genzone: ModuleType) -> None:
    a, _ = _render(genzone, "tld", 200, seed=3)
    b, _ = _render(genzone, "tld", 200, seed=3)
    c, _ = _render(genzone, "tld", 200, seed=4)
    assert a == b
    assert a != c
    h1, _ = _render(genzone, "hosting", 100, seed=3)
    h2, _ = _render(genzone, "hosting", 100, seed=3)
    assert h1 == h2


def test_hosting_zone_has_the_promised_mix(genzone: ModuleType) -> None:
    text, stats = _render(genzone, "hosting", 600, seed=1)
    zone = _parse(text, "hosting.")
    origin = dns.name.from_text("hosting.")

    types = {rds.rdtype for _, rds in zone.iterate_rdatasets()}
    for wanted in ("A", "AAAA", "MX", "TXT", "CNAME", "SRV", "CAA", "NS", "DS", "SOA"):
        assert dns.rdatatype.from_text(wanted) in types, wanted

    first_level = {n for n in zone.nodes if n != origin and len(n) == len(origin) + 1}
    # ns1/ns2 are the apex servers; the rest are the N sites.
    assert len(first_level) - 2 == 600 == stats.entries

    assert any(n.is_wild() for n in zone.nodes), "no wildcard"
    txts = [rd for _, _, rd in zone.iterate_rdatas("TXT")]
    assert any(len(rd.strings) > 1 and sum(map(len, rd.strings)) > 255 for rd in txts)
    assert any(len(rd.strings) > 1 and sum(map(len, rd.strings)) <= 255 for rd in txts)

    cuts = [n for n, node in zone.nodes.items()
            if n != origin and node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NS)]
    assert cuts, "no sub-delegation"
    for cut in cuts:
        ns = zone.get_rdataset(cut, "NS")
        assert ns is not None
        for rd in ns:
            assert zone.get_rdataset(rd.target, "A") is not None  # glue

    # An empty non-terminal: a name with data below it but none of its own.
    names = set(zone.nodes)
    ents = {n.parent() for n in names if n.parent() not in names and n.parent() != origin}
    assert any(e.labels[0] == b"_tcp" for e in ents)
    assert any(e.labels[0] == b"_domainkey" for e in ents)


def test_rejects_unknown_shape_and_bad_share(genzone: ModuleType) -> None:
    with pytest.raises(ValueError):
        genzone.generate("root", 1, io.StringIO())
    with pytest.raises(ValueError):
        genzone.generate("tld", 1, io.StringIO(), ds_share=1.5)


def test_cli_writes_a_file(genzone: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "z.zone"
    assert genzone.main(["tld", "--names", "50", "--seed", "2", "-o", str(out)]) == 0
    zone = dns.zone.from_file(str(out), origin="tld.", relativize=False)
    assert len(list(zone.iterate_rdatas("NS"))) == 2 + 2 * 50
