"""The verifier's lean path: its verdicts match the full verifier, in one process or forked.

Every test zone of the other verifier tests goes through both paths already (``Zone.verify`` in
test_verify_support); here: the conversions to wire form against dnspython's, the forked
workers, and the hand-over to the full verifier when the lean path doubts.
"""

from __future__ import annotations

import dns.name
import dns.rdata
import dns.rdatatype
import dns.zone
import pytest
from test_verify_support import NOW, UNSIGNED, nsec_zone, sign_nsec3

from signwire.verify import lean
from signwire.verify.lean import lean_verdict
from signwire.verify.lean_reader import RRSIG, read_lean
from signwire.verify.lean_wire import Codec, Doubt, b32hex_decode, key_tag, name_wire
from signwire.verify.zone_verifier import verify_text

ORIGIN = "example.test."


def _many_names(count: int) -> str:
    lines = [UNSIGNED]
    for i in range(count):
        lines.append(f"h{i:05d} A 192.0.2.{i % 250 + 1}")
        if i % 7 == 0:
            lines.append(f"d{i:05d} NS ns.elsewhere.test.")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("make", [nsec_zone, sign_nsec3], ids=["nsec", "nsec3"])
def test_every_record_converts_as_dnspython_does(make: object) -> None:
    assert callable(make)
    text = make().text()
    zone = read_lean(text, ORIGIN)
    origin = dns.name.from_text(ORIGIN)
    codec = Codec(ORIGIN, origin, zone.type_number)
    checked = 0
    for owner in zone.nodes:
        records = zone.records(owner)
        assert name_wire(owner) == dns.name.from_text(owner).canonicalize().to_wire()
        for rdtype, _, rdata in records:
            if rdtype == RRSIG:
                continue
            rd = dns.rdata.from_text("IN", dns.rdatatype.RdataType.make(rdtype), rdata, origin)
            assert codec.wire(rdtype, rdata) == rd.to_digestable(origin), (owner, rdtype)
            checked += 1
    assert checked > 20


def test_key_tags_and_base32hex_match_dnspython() -> None:
    import base64

    import dns.dnssec
    from test_verify_support import keys

    for key in (*keys(13), *keys(15)):
        assert key_tag(key.dnskey.to_digestable()) == dns.dnssec.key_id(key.dnskey)
    digest = bytes(range(20))
    assert b32hex_decode(base64.b32hexencode(digest).decode().lower()) == digest


def test_forked_workers_give_the_same_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lean, "PARALLEL_MIN", 10)
    text = nsec_zone(_many_names(300)).text()
    alone = lean_verdict(read_lean(text, ORIGIN), now=NOW, warn_horizon=0, anchors=None, workers=1)
    forked = lean_verdict(read_lean(text, ORIGIN), now=NOW, warn_horizon=0, anchors=None, workers=2)
    assert forked.counts == alone.counts
    assert forked.counts.rrsets_checked > 300


def test_a_bad_signature_in_a_worker_is_a_doubt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lean, "PARALLEL_MIN", 10)
    zone = nsec_zone(_many_names(300))
    # The last name in canonical order lands in the second worker.
    zone.put("h00299", "A", 3600, "192.0.2.99")
    text = zone.text()
    with pytest.raises(Doubt, match="does not verify"):
        lean_verdict(read_lean(text, ORIGIN), now=NOW, warn_horizon=0, anchors=None, workers=2)
    # and the full verifier then says what is wrong
    report = verify_text(text, ORIGIN, now=NOW)
    assert not report.ok
    assert any(p.owner == "h00299.example.test." and "does not verify" in p.message
               for p in report.problems)


@pytest.mark.parametrize(
    "line",
    [
        "$INCLUDE other.zone",
        "$ORIGIN elsewhere.test.",
        "w\\046x 3600 IN A 192.0.2.1",
        "outside.test. 3600 IN A 192.0.2.1",
    ],
)
def test_what_the_lean_reader_leaves_to_the_full_one(line: str) -> None:
    with pytest.raises(Doubt):
        read_lean(f"$ORIGIN example.test.\n@ 3600 IN SOA a b 1 2 3 4 5\n{line}\n", ORIGIN)


def test_bind_layout_is_read_by_the_lean_reader() -> None:
    # Owner left out, records over several lines in parentheses, comments.
    text = (
        "example.test.\t3600 IN SOA a.example.test. b.example.test. (\n"
        "\t\t\t1 ; serial\n\t\t\t2 3 4 5 )\n"
        "\t\t\t3600 NS a.example.test.\n"
        "a.example.test.\t3600 IN A 192.0.2.1 ; glue\n"
        't.example.test.\t3600 TXT "x ; (y)"\n'
    )
    zone = read_lean(text, ORIGIN)
    assert [r[0] for r in zone.records(ORIGIN)] == [6, 2]
    assert zone.records(ORIGIN)[0][2].split() == ["a.example.test.", "b.example.test.", "1", "2",
                                                "3", "4", "5"]
    assert zone.records("t.example.test.") == [(16, 3600, '"x ; (y)"')]
    assert zone.nodes["a.example.test."].types == {1}


def test_a_broken_chain_stops_the_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setattr(lean, "PARALLEL_MIN", 10)
    zone = nsec_zone(_many_names(300))
    zone.delete("h00150", "NSEC")
    zone.delete("h00150", "RRSIG", dns.rdatatype.NSEC)
    forked: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            forked.append(pid)
        return pid

    # Only this verification's workers: other tests of the session may keep children of their
    # own (the signature workers' forkserver), so waitpid(-1) would see those.
    monkeypatch.setattr(os, "fork", fork)
    with pytest.raises(Doubt, match="NSEC"):
        lean_verdict(read_lean(zone.text(), ORIGIN), now=NOW, warn_horizon=0, anchors=None,
                     workers=2)
    for pid in forked:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reaped: no worker left behind


@pytest.mark.parametrize(
    ("extra", "warning"),
    [
        ("insecure.example.test. 600 IN NS ns2.elsewhere.test.", "different TTLs"),
        ("insecure.example.test. 3600 IN NS NS.Elsewhere.test.", "duplicate record"),
    ],
    ids=["ttl", "duplicate"],
)
def test_a_delegations_ns_pair_is_checked_too(extra: str, warning: str) -> None:
    # Unsigned, so only the reading checks can see it: the lean path must doubt.
    text = nsec_zone().text() + extra + "\n"
    with pytest.raises(Doubt):
        lean_verdict(read_lean(text, ORIGIN), now=NOW, warn_horizon=0, anchors=None, workers=1)
    report = verify_text(text, ORIGIN, now=NOW)
    assert any(warning in p.message for p in report.problems), report.problems
