import calendar

import pytest

from signwire.zones.serial import SerialRule, add, gt, next_serial

NOW = calendar.timegm((2026, 11, 28, 12, 0, 0))


def test_rfc1982_comparison_wraps_around():
    assert gt(1, 0)
    assert gt(0, 2**32 - 1)  # 0 follows 4294967295
    assert not gt(2**32 - 1, 0)
    assert not gt(5, 5)
    assert not gt(0, 2**31) and not gt(2**31, 0)  # exactly half apart: undefined, never "greater"


def test_add_wraps_and_rejects_big_steps():
    assert add(2**32 - 1, 1) == 0
    with pytest.raises(ValueError):
        add(1, 2**31)


@pytest.mark.parametrize(
    ("rule", "current", "expected"),
    [
        (SerialRule.KEEP, 7, 7),
        (SerialRule.INCREMENT, 7, 8),
        (SerialRule.INCREMENT, 2**32 - 1, 0),
        (SerialRule.UNIXTIME, 7, NOW),
        (SerialRule.UNIXTIME, NOW + 10, NOW + 11),  # never backwards
        (SerialRule.DATECOUNTER, 2025010101, 2026112800),
        (SerialRule.DATECOUNTER, 2026112800, 2026112801),  # second version of the day
        (SerialRule.DATECOUNTER, 2026112899, 2026112900),  # counter full: overflow into tomorrow
    ],
)
def test_next_serial(rule, current, expected):
    assert next_serial(rule, current, NOW) == expected


def test_next_serial_moves_past_what_was_published():
    assert next_serial(SerialRule.INCREMENT, 10, NOW, previous=20) == 21
    assert next_serial(SerialRule.UNIXTIME, 10, NOW, previous=NOW) == NOW + 1
