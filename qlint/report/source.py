"""Source lines for the text report, and the marker under a span.

Columns in spans count characters (code points). On screen a tab advances to the
next multiple of four, an East Asian wide character takes two cells and a
combining mark none, so the marker is computed in cells, not characters.
"""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from qlint.sources.read import SourceError, decode_python, decode_text, read_bytes

TAB_WIDTH = 4


class SourceLines:
    """Lines of the files a report shows, read once each, relative to root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._files: dict[str, list[str] | None] = {}

    def line(self, path: str, number: int) -> str | None:
        """Line `number` (1-based) of path; None when the file or the line cannot be shown."""
        if path not in self._files:
            self._files[path] = self._read(path)
        lines = self._files[path]
        if lines is None or not 1 <= number <= len(lines):
            return None
        return lines[number - 1]

    def _read(self, path: str) -> list[str] | None:
        try:
            data = read_bytes(self.root / path)
            text = decode_python(path, data) if path.endswith((".py", ".pyi")) else decode_text(data)
        except SourceError:
            return None
        # Line numbers as Python and libcst count them: only \r\n, \r and \n end a line.
        return re.split(r"\r\n|\r|\n", text)


def cells(char: str, at: int) -> int:
    """Screen cells taken by char when it starts at cell `at`."""
    if char == "\t":
        return TAB_WIDTH - at % TAB_WIDTH
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def visible(char: str) -> str:
    """A control character as its Unicode picture, so a source line cannot drive the terminal."""
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F or unicodedata.category(char) == "Cc":
        return "\u2421" if code == 0x7F else "\ufffd"
    return char


def marked(line: str, start: int, end: int | None) -> tuple[str, int, int]:
    """The line as displayed, and the cell offset and width of the marker.

    start and end are 0-based character indexes, end exclusive; None marks to the
    end of the line. The marker is at least one cell wide.
    """
    start = min(max(start, 0), len(line))
    end = len(line) if end is None else min(max(end, start), len(line))
    shown: list[str] = []
    at = marker_at = marker_end = 0
    for index, char in enumerate(line):
        if index == start:
            marker_at = at
        if index == end:
            marker_end = at
        width = cells(char, at)
        shown.append(" " * width if char == "\t" else visible(char))
        at += width
    if start == len(line):
        marker_at = at
    if end == len(line):
        marker_end = at
    return "".join(shown), marker_at, max(1, marker_end - marker_at)
