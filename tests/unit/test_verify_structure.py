"""How the verifier classifies names: zone cuts, occlusion, empty non-terminals, opt-out."""

from __future__ import annotations

from collections.abc import Iterable

import dns.name

from signwire.verify.structure import canonical_key, classify
from signwire.verify.zone_reader import read_zone_text

ZONE = """\
$ORIGIN example.test.
$TTL 300
@            SOA ns1 h 1 2 3 4 300
@            NS  ns1
ns1          A   192.0.2.1
a.b.c        A   192.0.2.2
x.y.secure   NS  ns.elsewhere.
x.y.secure   DS  1 13 2 2bb183af5f22588179a53b0a98631fad1a292118ba2ed2a93b4f7c1e2f1b9c30
p.q.insecure NS  ns.p.q.insecure
ns.p.q.insecure A 192.0.2.3
deep.below.p.q.insecure TXT "occluded"
d            DNAME other.test.
under.d      A   192.0.2.4
"""


def _names(text: str) -> set[str]:
    return {n.strip() for n in text.split(",")}


def test_classification() -> None:
    contents = read_zone_text(ZONE, "example.test.")
    shape = classify(contents)

    def rel(names: Iterable[dns.name.Name]) -> set[str]:
        origin = dns.name.from_text("example.test.")
        return {n.relativize(origin).to_text() for n in names}

    assert rel(shape.delegations) == {"x.y.secure", "p.q.insecure"}
    assert rel(shape.authoritative) == _names("@, ns1, a.b.c, x.y.secure, p.q.insecure, d")
    assert rel(shape.empty_non_terminals) == _names(
        "b.c, c, y.secure, secure, q.insecure, insecure"
    )
    assert rel(shape.occluded) == _names("ns.p.q.insecure, deep.below.p.q.insecure, under.d")
    assert shape.occluded[dns.name.from_text("under.d.example.test.")] == dns.name.from_text(
        "d.example.test."
    )
    # the insecure delegation and the ENTs that only lead to it may be opted out
    assert rel(shape.opt_out_optional) == _names("p.q.insecure, q.insecure, insecure")


def test_canonical_key_orders_like_rfc_4034() -> None:
    names = [
        dns.name.from_text(t) for t in ("b.example.", "A.example.", "example.", "a.b.example.")
    ]
    ordered = sorted(names, key=canonical_key)
    assert [n.to_text() for n in ordered] == [
        "example.",
        "A.example.",
        "b.example.",
        "a.b.example.",
    ]
    assert ordered == sorted(names)  # dnspython's own canonical comparison agrees
