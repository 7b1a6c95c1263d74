"""Saved signed versions: what is saved comes back the same, and damage is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from signwire.storage import versions
from signwire.zones import names
from signwire.zones.diff import apply, diff
from signwire.zones.version import ZoneVersion

ORIGIN = names.from_text("example.test.", None)
A, NS, SOA = 1, 2, 6


def w(text: str) -> bytes:
    return names.from_text(text, ORIGIN)


def zone(serial: int, hosts: int) -> ZoneVersion:
    soa = (w("ns1") + w("hostmaster") + serial.to_bytes(4, "big")
           + b"".join(n.to_bytes(4, "big") for n in (3600, 600, 86400, 300)))
    return ZoneVersion.from_records(ORIGIN, [
        (ORIGIN, SOA, 3600, soa), (ORIGIN, NS, 3600, w("ns1")),
        *((w(f"h{i}"), A, 300, bytes((192, 0, 2, i))) for i in range(hosts)),
    ])


def test_round_trip_with_journal_and_refresh_state(tmp_path: Path) -> None:
    one, two, three = zone(1, 3), zone(2, 4), zone(3, 5)
    journal = [diff(one, two), diff(two, three)]
    saved = versions.SavedZone(three, two, {"serial": 3, "keys": [[1, 2]]}, journal)
    path = versions.save(tmp_path, "example.test.", saved)
    assert path.stat().st_mode & 0o777 == 0o600
    back = versions.load(tmp_path, "example.test.", ORIGIN)
    assert back is not None
    assert back.signed == three and back.unsigned == two
    assert back.meta == {"serial": 3, "keys": [[1, 2]]}
    assert back.journal == journal
    assert versions.load(tmp_path, "other.test.", ORIGIN) is None
    versions.save_refresh(tmp_path, "example.test.", {"serial": 3, "last_success": 10})
    assert versions.load_refresh(tmp_path, "example.test.") == {"serial": 3, "last_success": 10}
    assert versions.load_refresh(tmp_path, "other.test.") is None
    # A second save replaces the first, leaving no temporary file behind.
    versions.save(tmp_path, "example.test.", versions.SavedZone(three, three))
    assert [p.name for p in (tmp_path / "versions").iterdir()] == sorted(
        ["example.test.version", "example.test.refresh"])


def test_damaged_file_is_reported(tmp_path: Path) -> None:
    path = versions.save(tmp_path, "example.test.", versions.SavedZone(zone(1, 2), zone(1, 2)))
    data = path.read_bytes()
    path.write_bytes(data[:-7])
    with pytest.raises(versions.VersionFileError, match="damaged"):
        versions.load(tmp_path, "example.test.", ORIGIN)
    path.write_bytes(b"nonsense")
    with pytest.raises(versions.VersionFileError, match="damaged"):
        versions.load(tmp_path, "example.test.", ORIGIN)


def test_odd_zone_names_stay_in_the_folder(tmp_path: Path) -> None:
    path = versions.path_for(tmp_path, "../evil/x.")
    assert path.parent == tmp_path / "versions"
    assert versions.path_for(tmp_path, ".").name == "root.version"


def bigger(serial: int, hosts: int, extra: int = 0) -> ZoneVersion:
    return ZoneVersion.from_records(ORIGIN, [
        *zone(serial, 0).records(),
        *((w(f"h{i}"), A, 300, bytes((10, i // 65536 % 256, i // 256 % 256, i % 256)))
          for i in range(hosts)),
        *((w(f"new{i}"), A, 300, bytes((192, 0, 2, i))) for i in range(extra)),
    ])


def changes(count: int, hosts: int = 3000) -> list[ZoneVersion]:
    """Versions of a zone, each one name more than the one before (related by apply, as the
    daemon's are: they share their unchanged chunks)."""
    out = [bigger(1, hosts)]
    for k in range(1, count + 1):
        target = bigger(k + 1, hosts, k)
        out.append(apply(out[-1], diff(out[-1], target)))
    return out


def meta(v: ZoneVersion) -> dict[str, object]:
    return {"serial": v.serial}


def test_a_change_is_saved_in_proportion_to_it_and_restored(tmp_path: Path) -> None:
    signed = changes(5)
    unsigned = changes(5, 2000)
    saver = versions.Saver(tmp_path, "example.test.")
    saver.save(versions.SavedZone(signed[0], unsigned[0], meta(signed[0])), None)
    full = saver.written
    assert full > 50_000
    for k in range(1, 6):
        saved = versions.SavedZone(signed[k], unsigned[k], meta(signed[k]),
                                   [diff(signed[j - 1], signed[j]) for j in range(1, k + 1)])
        saver.save(saved, diff(signed[k - 1], signed[k]))
        assert saver.written < 1000, "a one-name change writes about its own size"
        back = versions.load(tmp_path, "example.test.", ORIGIN)
        assert back is not None
        assert back.signed == signed[k] and back.unsigned == unsigned[k]
        assert back.meta == meta(signed[k]) and versions.read_meta(
            tmp_path, "example.test.") == meta(signed[k])
        assert [(d.from_serial, d.to_serial) for d in back.journal] == [
            (j, j + 1) for j in range(1, k + 1)]
    assert versions.path_for(tmp_path, "example.test.").stat().st_size == full


def test_a_half_written_entry_is_ignored_then_written_over(tmp_path: Path) -> None:
    signed = changes(3)
    saver = versions.Saver(tmp_path, "example.test.")
    saver.save(versions.SavedZone(signed[0], signed[0], meta(signed[0])), None)
    saver.save(versions.SavedZone(signed[1], signed[1], meta(signed[1])),
               diff(signed[0], signed[1]))
    journal = versions.journal_path(tmp_path, "example.test.")
    whole = journal.read_bytes()
    saver.save(versions.SavedZone(signed[2], signed[2], meta(signed[2])),
               diff(signed[1], signed[2]))
    longer = journal.read_bytes()
    # A kill in the middle of the second entry (any length of it), or a bit flipped in it:
    # the restart serves the version before it.
    for cut in (longer[: len(whole) + 3], longer[:-1],
                longer[:-5] + bytes([longer[-5] ^ 1]) + longer[-4:]):
        journal.write_bytes(cut)
        back = versions.load(tmp_path, "example.test.", ORIGIN)
        assert back is not None and back.signed == signed[1]
    # Zeros a crash can leave after the end of a file are no entry either.
    journal.write_bytes(whole + bytes(64))
    back = versions.load(tmp_path, "example.test.", ORIGIN)
    assert back is not None and back.signed == signed[1]
    # The restarted saver writes the next entry over the damage; it reads back.
    again = versions.Saver(tmp_path, "example.test.")
    again.adopt(back)
    again.save(versions.SavedZone(signed[2], signed[2], meta(signed[2])),
               diff(signed[1], signed[2]))
    assert again.written < 1000
    back = versions.load(tmp_path, "example.test.", ORIGIN)
    assert back is not None and back.signed == signed[2]


def test_the_journal_is_bounded_and_a_stale_one_is_ignored(tmp_path: Path) -> None:
    signed = changes(11)
    saver = versions.Saver(tmp_path, "example.test.", max_entries=2)
    saver.save(versions.SavedZone(signed[0], signed[0], meta(signed[0])), None)
    journal = versions.journal_path(tmp_path, "example.test.")
    for k in (1, 2):
        assert not saver.compaction_due
        saver.save(versions.SavedZone(signed[k], signed[k], meta(signed[k])),
                   diff(signed[k - 1], signed[k]))
    assert saver.compaction_due and saver.written < 1000
    stale = journal.read_bytes()
    # Compaction (after the change is served): only of the version the files hold.
    assert not saver.compact(versions.SavedZone(signed[1], signed[1], meta(signed[1])))
    assert saver.compact(versions.SavedZone(signed[2], signed[2], meta(signed[2])))
    assert saver.written > 50_000 and not journal.exists() and not saver.compaction_due
    # A kill between the new full save's rename and the old journal's removal: that journal
    # is another save's, and is not replayed.
    journal.write_bytes(stale)
    back = versions.load(tmp_path, "example.test.", ORIGIN)
    assert back is not None and back.signed == signed[2] and back.journal == []
    # Compaction never run: at four times the bound the save itself is a full one.
    saver.adopt(back)
    for k in range(3, 12):
        saver.save(versions.SavedZone(signed[k], signed[k], meta(signed[k])),
                   diff(signed[k - 1], signed[k]))
        assert (saver.written > 50_000) == (k == 11), k  # the ninth entry: 4 x 2 before it
    # A change that does not follow what is on disk is saved in full.
    other = versions.Saver(tmp_path, "example.test.")
    other.adopt(versions.load(tmp_path, "example.test.", ORIGIN))
    other.save(versions.SavedZone(signed[2], signed[2], meta(signed[2])),
               diff(signed[1], signed[2]))
    assert other.written > 50_000
    back = versions.load(tmp_path, "example.test.", ORIGIN)
    assert back is not None and back.signed == signed[2]
