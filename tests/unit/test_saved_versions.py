"""Saved signed versions: what is saved comes back the same, and damage is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from signwire.storage import versions
from signwire.zones import names
from signwire.zones.diff import diff
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
