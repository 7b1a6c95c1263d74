"""The lean path's one-pass engine (signwire.verify.sweep): the same verdicts and counts whatever
the layout of the file and wherever it is cut between the workers, and a doubt for what it
cannot vouch for, in any part.

Every test zone of the other verifier tests goes through it already (``lean_agrees`` in
test_verify_support); here: the layouts it must not be fooled by (Knot's signatures after all
the data, names out of canonical order, a cut inside a record over several lines) and faults
that only show in the second worker's part or only once the parts are put together.
"""

from __future__ import annotations

import dns.rdatatype
import pytest
from test_verify_support import NOW, UNSIGNED, Zone, nsec_zone, sign_nsec3

from signwire.verify import sweep
from signwire.verify.lean import Verdict
from signwire.verify.lean_wire import Doubt
from signwire.verify.zone_verifier import verify_text

ORIGIN = "example.test."


def _many_names(count: int) -> str:
    lines = [UNSIGNED]
    for i in range(count):
        lines.append(f"h{i:05d} A 192.0.2.{i % 250 + 1}")
        if i % 7 == 0:
            lines.append(f"d{i:05d} NS ns.elsewhere.test.")
        if i % 21 == 0:
            lines.append(f"d{i:05d} DS 1 13 2 {'ab' * 32}")
    return "\n".join(lines) + "\n"


def _verdict(text: str, workers: int = 2) -> Verdict:
    return sweep.sweep_verdict(
        text, ORIGIN, now=NOW, warn_horizon=0, anchors=None, workers=workers, parallel_min=10
    )


def _owners(text: str) -> list[list[str]]:
    """The lines of ``text`` (one record a line), grouped by owner, in file order."""
    groups: list[list[str]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if groups and line.split()[0] == groups[-1][0].split()[0]:
            groups[-1].append(line)
        else:
            groups.append([line])
    return groups


@pytest.fixture(scope="module", params=["nsec", "nsec3-opt-out"])
def signed(request: pytest.FixtureRequest) -> Zone:
    unsigned = _many_names(300)
    if request.param == "nsec":
        return nsec_zone(unsigned)
    return sign_nsec3(unsigned, opt_out=True)


def test_one_process_or_two_the_same_counts(signed: Zone) -> None:
    text = signed.text()
    alone, forked = _verdict(text, workers=1), _verdict(text, workers=2)
    assert forked.counts == alone.counts
    assert alone.counts.signatures_checked > 100
    # and the full verifier counts the same
    report = verify_text(text, ORIGIN, now=NOW, workers=1)
    assert report.ok and report.counts == alone.counts


def _spy(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[tuple[object, ...]]:
    calls: list[tuple[object, ...]] = []
    real = getattr(owner, name)

    def spy(*args: object, **kw: object) -> object:
        calls.append(args)
        return real(*args, **kw)

    monkeypatch.setattr(owner, name, spy)
    return calls


def test_knot_layout_signatures_after_all_the_data(
    signed: Zone, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Knot's dump: every owner's data first, then the signatures and NSEC records, so every
    # owner's lines are in two places. The zone is indexed first, and vouched for alike.
    lines = [line for line in signed.text().splitlines() if line.strip()]
    late = [line for line in lines if line.split()[3] in ("RRSIG", "NSEC")]
    knot = "\n".join([line for line in lines if line not in late] + late) + "\n"
    indexed = _spy(monkeypatch, sweep._lean, "indexed_verdict")
    assert _verdict(knot).counts == _verdict(signed.text()).counts
    assert len(indexed) == 1


def test_names_out_of_canonical_order(signed: Zone) -> None:
    groups = _owners(signed.text())
    shuffled = [groups[0], *reversed(groups[1:])]
    text = "\n".join(line for group in shuffled for line in group) + "\n"
    assert _verdict(text).counts == _verdict(signed.text()).counts


def test_an_owner_in_two_places_across_the_cut(
    signed: Zone, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The last owner's first record moved to the top, after the apex: its lines are in both
    # workers' parts.
    groups = _owners(signed.text())
    moved = groups[-1].pop(0)
    groups.insert(1, [moved])
    text = "\n".join(line for group in groups for line in group) + "\n"
    indexed = _spy(monkeypatch, sweep._lean, "indexed_verdict")
    assert _verdict(text).counts == _verdict(signed.text()).counts
    assert len(indexed) == 1


def test_a_cut_inside_a_record_over_several_lines(
    signed: Zone, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every record over three lines, the continuations at the start of a line: wherever the
    # cut falls it may be inside one; the whole file is then read by one process.
    spread = []
    for line in signed.text().splitlines():
        w = line.split(None, 4)
        if len(w) == 5:
            spread.append(f"{w[0]} {w[1]} {w[2]} {w[3]} (\n{w[4]}\n)")
    text = "\n".join(spread) + "\n"
    sweeps = _spy(monkeypatch, sweep, "_sweep")
    assert _verdict(text).counts == _verdict(signed.text()).counts
    assert [call[-1] for call in sweeps[:2]] == [2, 1]  # two parts, then the whole file


def test_cuts_fall_where_a_new_owner_starts() -> None:
    text = "".join(f"n{i // 3} 1 IN A 192.0.2.{i % 3 + 1}\n\t1 IN AAAA ::{i}\n" for i in range(30))
    for count in (2, 3, 4):
        cuts = sweep._cuts(text, count)
        assert cuts[0] == 0 and cuts[-1] == len(text) and cuts == sorted(cuts)
        for cut in cuts[1:-1]:
            assert text[cut - 1] == "\n"
            before = [line for line in text[:cut].splitlines() if not line.startswith("\t")]
            assert text[cut:].split()[0] != before[-1].split()[0]


def test_a_bad_signature_in_the_second_part() -> None:
    zone = nsec_zone(_many_names(300))
    zone.put("h00290", "A", 3600, "192.0.2.99")
    with pytest.raises(Doubt, match="does not verify"):
        _verdict(zone.text())


def test_a_signed_delegation_without_its_signature() -> None:
    zone = sign_nsec3(_many_names(300), opt_out=True)
    zone.delete("d00294", "RRSIG", dns.rdatatype.DS)
    with pytest.raises(Doubt, match="without RRSIG"):
        _verdict(zone.text())
    assert not verify_text(zone.text(), ORIGIN, now=NOW).ok


def test_a_signature_below_a_zone_cut() -> None:
    zone = nsec_zone(_many_names(300) + "x.d00287 A 192.0.2.7\n")
    assert _verdict(zone.text())  # glue below the cut, unsigned: fine
    zone.resign("x.d00287", dns.rdatatype.A)
    with pytest.raises(Doubt):
        _verdict(zone.text())
    assert not verify_text(zone.text(), ORIGIN, now=NOW).ok


def test_a_doubt_in_one_part_is_a_doubt_only_once_the_layout_is_known() -> None:
    # The same fault with the owner's lines in two places: the index decides, and doubts too.
    zone = nsec_zone(_many_names(300))
    zone.put("h00290", "A", 3600, "192.0.2.99")
    groups = _owners(zone.text())
    groups.insert(1, [groups[-1].pop(0)])
    text = "\n".join(line for group in groups for line in group) + "\n"
    with pytest.raises(Doubt):
        _verdict(text)
