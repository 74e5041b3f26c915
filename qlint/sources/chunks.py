"""A module's text cut into its top-level statements, for parsing one statement at a time.

Editing one line of a long settings module changes one statement; the others convert to
the same facts as before. Cutting the text where CPython's parser says each top-level
statement starts lets the extractor reuse them (see python.py), and libcst then works
on many small modules instead of one big one.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass

# Python's tokenizer ends a line at \r\n, \r or \n (str.splitlines also splits on form
# feeds and other separators, which would throw line numbers off).
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


@dataclass(frozen=True, slots=True)
class Chunk:
    first_line: int  # 1-based line of the file where the chunk's text starts
    text: str


def statement_chunks(text: str, tree: ast.Module) -> list[Chunk]:
    """Consecutive pieces of `text`, together the whole of it, each holding whole
    top-level statements; the comments and blank lines before a statement go with it.

    Statements that share a line (`a = 1; b = 2`, or one starting where another ends)
    stay in one piece, so that every piece parses on its own.
    """
    starts: list[int] = []
    reach = 0  # the last line taken by the statements so far
    for stmt in tree.body:
        first = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", ()))])
        if first > reach:
            starts.append(first)
        reach = max(reach, stmt.end_lineno or stmt.lineno)
    lines = _LINE.findall(text)
    if not starts:
        return [Chunk(1, text)]
    starts[0] = 1  # the module's header belongs to its first statement
    bounds = starts + [len(lines) + 1]
    return [Chunk(first, "".join(lines[first - 1:bounds[i + 1] - 1])) for i, first in enumerate(starts)]
