import pytest

from signwire.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("3600", 3600),
        ("90m", 5400),
        ("1h30m", 5400),
        ("14d", 1209600),
        ("2w", 1209600),
        ("1y", 365 * 86400),
        ("P14D", 1209600),
        ("PT1H", 3600),
        ("P1DT2H", 93600),
        ("1D", 86400),
    ],
)
def test_parse(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "14x", "d", "P", "-1", "1.5h", "PT"])
def test_rejects_with_examples(text):
    with pytest.raises(ValueError, match="examples"):
        parse_duration(text)


def test_format_round_trips():
    for seconds in (0, 1, 59, 3600, 5400, 1209600, 1296061):
        assert parse_duration(format_duration(seconds)) == seconds
