from __future__ import annotations

import pytest

from qlint.semantics.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("3h", 10800),
        ("90m", 5400),
        ("45s", 45),
        ("1d", 86400),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("1h, 30m", 5400),
        ("2 hours", 7200),
        ("1.5h", 5400),
        ("10 min", 600),
        (" 3H ", 10800),
        ("300", 300),
        ("300.5", 300.5),
        (300, 300),
        (0.25, 0.25),
        ("0", 0),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty"),
        ("three hours", "cannot read 'three hours'"),
        ("3x", "unknown unit 'x'"),
        ("1h 2h", "unit 'h' given twice"),
        ("3h foo", "cannot read 'foo'"),
        ("-5", "zero or more"),
        (-1, "zero or more"),
        ("inf", "finite"),
        (True, "expected seconds"),
        (None, "expected seconds"),
        ([3600], "expected seconds"),
    ],
)
def test_parse_duration_errors_say_what_is_wrong(value, message):
    with pytest.raises(ValueError, match="invalid duration") as error:
        parse_duration(value)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (7200, "2 h"),
        (5400, "1 h 30 min"),
        (86400, "24 h"),
        (45, "45 s"),
        (90, "1 min 30 s"),
        (3601, "1 h 1 s"),
        (0, "0 s"),
        (0.5, "0.5 s"),
        (3600.4, "1 h"),
        (float("inf"), "unlimited"),
    ],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("value", [-1, float("nan"), "3600", None])
def test_format_duration_rejects_non_durations(value):
    with pytest.raises(ValueError, match="cannot format"):
        format_duration(value)


def test_round_trip_of_written_durations():
    for text in ("3h", "1h30m", "45s", "24h", "2h 5m 7s"):
        assert parse_duration(format_duration(parse_duration(text)).replace("min", "m")) == parse_duration(text)
