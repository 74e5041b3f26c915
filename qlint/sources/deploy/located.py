"""Text whose every character knows its line and column in the file it came from.

Command lines are read out of YAML scalars (folded, quoted, list items), shell lines
with continuations, INI values... Splitting them into words must not lose where each
word was written, so words are cut from a Located string and keep its positions.
"""
from __future__ import annotations

from dataclasses import dataclass

from qlint.model import Span


@dataclass(frozen=True)
class Located:
    """text, and for each character its 1-based (line, column) in path."""

    path: str
    text: str
    positions: tuple[tuple[int, int], ...]

    @classmethod
    def at(cls, path: str, text: str, line: int, column: int) -> "Located":
        """text as it appears verbatim in the file from (line, column) on."""
        positions = []
        for ch in text:
            positions.append((line, column))
            if ch == "\n":
                line, column = line + 1, 1
            else:
                column += 1
        return cls(path, text, tuple(positions))

    @classmethod
    def aligned(cls, path: str, value: str, source: str, line: int, column: int) -> "Located":
        """value, a scalar's content, located inside source, the scalar's raw text.

        A YAML scalar's value differs from its text (quotes, escapes, folded line
        breaks, indentation), but its non-blank characters appear in the source in
        order. Each is matched to the next equal source character; blanks take the
        position of the character before them. Where matching fails, the rest falls
        back to the scalar's start.
        """
        raw = cls.at(path, source, line, column)
        positions: list[tuple[int, int]] = []
        cursor = 0
        lost = False
        for ch in value:
            if not lost and not ch.isspace():
                found = source.find(ch, cursor)
                if found < 0 or found - cursor > 8 + _skippable(source, cursor, found):
                    lost = True
                else:
                    positions.append(raw.positions[found])
                    cursor = found + 1
                    continue
            if lost:
                positions.append((line, column))
            else:
                prev = raw.positions[cursor - 1] if cursor else (line, column)
                positions.append((prev[0], prev[1] + 1) if cursor else prev)
        return cls(path, value, tuple(positions))

    def span(self, start: int, end: int) -> Span:
        """The Span of text[start:end] (end exclusive, end > start)."""
        if not self.positions:
            return Span(self.path, 1, 1)
        start = min(start, len(self.positions) - 1)
        last = min(max(end - 1, start), len(self.positions) - 1)
        line, column = self.positions[start]
        end_line, end_column = self.positions[last]
        return Span(self.path, line, column, end_line, end_column + 1)

    def __getitem__(self, item: slice) -> "Located":
        return Located(self.path, self.text[item], self.positions[item])


def _skippable(source: str, start: int, end: int) -> int:
    """How many characters between start and end are blanks, quotes or backslashes."""
    return sum(1 for ch in source[start:end] if ch.isspace() or ch in "\"'\\")
