"""Durations as people write them in configuration ("3h", "1h30m", "300") and as messages show them."""
from __future__ import annotations

import math
import re

_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}  # fmt: skip
_PART = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]+)")
_EXPECTED = "expected seconds (300) or amounts with units s, m, h, d (45s, 90m, 3h, 1h30m)"


def parse_duration(value: str | int | float) -> float:
    """Seconds in a duration: a number of seconds, or text such as "3h", "90m", "1h 30m"."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"invalid duration {value!r}: {_EXPECTED}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        seconds = _parse_text(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"invalid duration {value!r}: must be a finite number of seconds, zero or more")
    return seconds


def _parse_text(text: str) -> float:
    cleaned = text.strip().lower()
    if not cleaned:
        raise ValueError(f"invalid duration {text!r}: empty; {_EXPECTED}")
    try:
        return float(cleaned)
    except ValueError:
        pass
    total, position, seen = 0.0, 0, set()
    while position < len(cleaned):
        match = _PART.match(cleaned, position)
        if not match:
            raise ValueError(f"invalid duration {text!r}: cannot read {cleaned[position:].strip()!r}; {_EXPECTED}")
        amount, unit = match.groups()
        if unit not in _UNITS:
            raise ValueError(f"invalid duration {text!r}: unknown unit {unit!r}; {_EXPECTED}")
        if _UNITS[unit] in seen:
            raise ValueError(f"invalid duration {text!r}: unit {unit!r} given twice")
        seen.add(_UNITS[unit])
        total += float(amount) * _UNITS[unit]
        position = match.end()
        while position < len(cleaned) and cleaned[position] in " ,":
            position += 1
    return total


def format_duration(seconds: float) -> str:
    """Seconds for a message: 7200 → "2 h", 5400 → "1 h 30 min", 86400 → "24 h", 45 → "45 s".

    Hours are the largest unit because time limits and visibility timeouts are
    documented and compared in hours. Below a minute, fractions are kept ("0.5 s");
    above, the value is rounded to the second.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ValueError(f"cannot format {seconds!r} as a duration: not a number")
    if math.isinf(seconds) and seconds > 0:
        return "unlimited"
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"cannot format {seconds!r} as a duration: must be zero or more")
    if seconds < 60:
        return f"{seconds:.3g} s" if seconds != int(seconds) else f"{int(seconds)} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n} {unit}" for n, unit in ((hours, "h"), (minutes, "min"), (secs, "s")) if n]
    return " ".join(parts)
