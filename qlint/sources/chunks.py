"""A module's text cut into its top-level statements, for parsing one statement at a time.

Editing one line of a long settings module changes one statement; the others convert to
the same facts as before. Cutting the text where CPython's parser says each top-level
statement starts lets the extractor reuse them (see python.py).
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

# Python's tokenizer ends a line at \r\n, \r or \n (str.splitlines also splits on form
# feeds and other separators, which would throw line numbers off).
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def lines_of(text: str) -> list[str]:
    """The lines of a text, each with its line ending, as Python numbers them."""
    return _LINE.findall(text)


@dataclass(frozen=True, slots=True)
class Chunk:
    first_line: int  # 1-based line of the file where the chunk's text starts
    text: str
    # CPython's parse of the chunk's statements (line numbers are the file's).
    statements: tuple[ast.stmt, ...] = field(default=(), compare=False)


def statement_chunks(text: str, tree: ast.Module, lines: list[str] | None = None) -> list[Chunk]:
    """Consecutive pieces of `text`, together the whole of it, each holding whole
    top-level statements and the blank lines and comments above them.

    Statements that share a line (`a = 1; b = 2`, or one starting where another ends)
    stay in one piece: an edit to that line changes them together.
    """
    groups: list[list[ast.stmt]] = []
    ends: list[int] = []  # the last line of each group
    for stmt in tree.body:
        first = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", ()))])
        if not ends or first > ends[-1]:
            groups.append([])
            ends.append(0)
        groups[-1].append(stmt)
        ends[-1] = max(ends[-1], stmt.end_lineno or stmt.lineno)
    lines = lines_of(text) if lines is None else lines
    if not groups:
        return [Chunk(1, text)]
    ends[-1] = len(lines)  # what follows the last statement goes with it
    starts = [1] + [end + 1 for end in ends[:-1]]
    return [Chunk(start, "".join(lines[start - 1:end]), tuple(group)) for start, end, group in zip(starts, ends, groups)]
