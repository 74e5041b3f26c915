"""Fingerprints: which finding is which from one run to the next, wherever its lines moved.

A finding's fingerprint is `<hash>:<n>`. The hash covers its rule code and the code it is about:
the lines of its span (the first MAX_LINES of a longer one) with all whitespace removed, and the
span's own characters, so two findings of one rule on one line still differ. `n` counts the
findings of the same file with the same hash that come before it, so two identical lines in a file
are told apart, as GitHub's primaryLocationLineHash does. Lines inserted or deleted elsewhere in
the file leave the fingerprint as it was; an edit of the finding's own lines makes another one.

The text comes from the file the finding is located in, whatever its kind (Python, YAML, a
Procfile, a Dockerfile, an `.env` file). Where that file has no such text (a binary or
undecodable file, one that is gone, a span on line 0 or past the end), the message stands in,
with its digits left out so that a size or a count in it may change.

The baseline (baseline.py) and the reports (SARIF's partialFingerprints, JSON's `fingerprint`,
GitLab's `fingerprint`) all take their fingerprints from here.
"""
from __future__ import annotations

import hashlib
import re
from collections import Counter
from pathlib import Path
from typing import Sequence

from qlint.model import Finding, Span
from qlint.sources.read import SourceError, decode_python, decode_text, read_bytes

MAX_LINES = 10
_WHITESPACE = re.compile(r"\s+")
_DIGITS = re.compile(r"\d+")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def fingerprints(findings: Sequence[Finding], root: Path, hidden: Sequence[Finding] = ()) -> list[str]:
    """The fingerprint of each finding, in the order given. Paths are relative to root.

    `hidden` findings (those a baseline left out of the report) count when identical lines are
    numbered, so that a finding has the same fingerprint whether or not a baseline is in use."""
    texts = _Texts(root)
    every = [*findings, *hidden]
    hashes = [_hash(finding, texts) for finding in every]
    # Number repeated hashes in the order of the findings in their file, whatever order they came in.
    order = sorted(range(len(every)), key=lambda i: _position(every[i]))
    seen: Counter[tuple[str, str]] = Counter()
    out = [""] * len(every)
    for i in order:
        key = (every[i].span.path, hashes[i])
        out[i] = f"{hashes[i]}:{seen[key]}"
        seen[key] += 1
    return out[:len(findings)]


def _position(finding: Finding) -> tuple:
    span = finding.span
    return (span.path, span.line, span.column, span.end_line, span.end_column, finding.code, finding.message)


def _hash(finding: Finding, texts: "_Texts") -> str:
    context = _context(finding.span, texts.lines(finding.span.path))
    if context is None:
        context = "message\0" + _WHITESPACE.sub(" ", _DIGITS.sub("", finding.message)).strip()
    digest = hashlib.sha256(f"{finding.code}\0{context}".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:16]


def _context(span: Span, lines: list[str] | None) -> str | None:
    """The normalised text of the span's lines and of the span itself; None when the file has none there."""
    if lines is None or not 1 <= span.line <= len(lines):
        return None
    last = min(max(span.end_line, span.line), len(lines))
    if last > span.line and span.end_column <= 1:
        last -= 1  # a span that ends at the start of a line does not take that line
    last = min(last, span.line + MAX_LINES - 1)
    covered = lines[span.line - 1:last]
    own = _span_text(span, lines)
    squeezed = [_WHITESPACE.sub("", line) for line in covered]
    return "\n".join(squeezed) + "\0" + _WHITESPACE.sub("", own)


def _span_text(span: Span, lines: list[str]) -> str:
    first = lines[span.line - 1]
    if span.end_line == span.line:
        return first[span.column - 1:max(span.end_column - 1, span.column - 1)]
    return first[span.column - 1:]


class _Texts:
    """The lines of each file, read once; None for a file without readable text."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._files: dict[str, list[str] | None] = {}

    def lines(self, path: str) -> list[str] | None:
        if path not in self._files:
            self._files[path] = self._read(path)
        return self._files[path]

    def _read(self, path: str) -> list[str] | None:
        try:
            data = read_bytes(self.root / path)
            text = decode_python(path, data) if path.endswith((".py", ".pyi")) else decode_text(data)
        except (SourceError, ValueError):
            return None
        return _LINE_BREAK.split(text)
