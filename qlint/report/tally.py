"""Counting findings: per code for --statistics, per severity for the summary line."""
from __future__ import annotations

from collections import Counter
from typing import Sequence

from qlint.model import Finding

SEVERITY_ORDER = ("error", "warning", "info")


def per_code(findings: Sequence[Finding]) -> list[tuple[str, str, int]]:
    """(code, name, count), most frequent first, then by code."""
    counts = Counter((f.code, f.name) for f in findings)
    return sorted(((code, name, n) for (code, name), n in counts.items()), key=lambda row: (-row[2], row[0]))


def summary(findings: Sequence[Finding], baselined: int = 0) -> str:
    """The last line of the text report; `baselined` findings were left out by the baseline."""
    if not findings:
        head = "All checks passed"
    else:
        counts = Counter(f.severity for f in findings)
        parts = [_plural(counts[s], s) for s in SEVERITY_ORDER if counts[s]]
        head = f"Found {_plural(len(findings), 'finding')} ({', '.join(parts)})"
    if baselined:
        return f"{head}; {_plural(baselined, 'finding')} in the baseline not shown."
    return f"{head}."


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 or word == "info" else f"{n} {word}s"
