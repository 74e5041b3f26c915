"""Newer syntax made readable to the running parser, the text rewritten in place.

A file written for a newer Python than the one running qlint is a syntax error to CPython's
parser, and such a file went to libcst whole: its import and conversion cost about 0.3 s per
process. These rewrites give text that this parser reads to the tree the newer one gives
the original, less what qlint ignores there too:
- 3.12's f-strings that reuse their own quote: the inner strings get the other quote
  (fstring_quotes.py);
- 3.12's type parameters (PEP 695): the lists are blanked (`def first[T](items)` reads
  `def first   (items)`) and each `type` statement becomes a `pass` of the same length;
- 3.14's unparenthesized `except A, B:` (PEP 758) gets its parentheses.
The first two keep every character where it was; the last changes only the rest of its own
line, which holds nothing but the colon.

Only a file whose first parse failed comes here. Anything unclear (tokenizer errors, text
that still does not parse) is left to libcst.
"""
from __future__ import annotations

import io
import re
import token
import tokenize

from qlint.sources.chunks import lines_of
from qlint.sources.fstring_quotes import with_quotes_swapped

_STATEMENT_START = (token.NEWLINE, token.NL, token.INDENT, token.DEDENT, token.ENCODING)
_DEPTH = {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}
# What each tokenizing rewrite looks for, loosely: a text without it is not tokenized (an open
# buffer with a syntax error is parsed again after every edit, 0.03 s a pass on 100 KB).
_MAY_HAVE_TYPE_PARAMS = re.compile(r"\b(?:(?:def|class)[\s\\]+\w+[\s\\]*\[|type[\s\\]+\w+[\s\\]*[=\[])")
_MAY_HAVE_EXCEPT_LIST = re.compile(r"^[ \t]*except\b[^\n]*,", re.MULTILINE)


def rewritten(text: str) -> str | None:
    """text with the rewrites that apply made, or None when none does."""
    current = text
    for rewrite in (with_quotes_swapped, without_type_params, with_except_lists_parenthesized):
        current = rewrite(current) or current
    return None if current is text else current


def _significant_tokens(text: str) -> list[tokenize.TokenInfo] | None:
    try:
        return [t for t in tokenize.generate_tokens(io.StringIO(text).readline)
                if t.type not in (token.COMMENT, token.NL)]
    except (tokenize.TokenError, SyntaxError):
        return None


def without_type_params(text: str) -> str | None:
    """text with its type parameter lists and type statements blanked, or None when it has
    none or cannot be tokenized."""
    tokens = _significant_tokens(text) if _MAY_HAVE_TYPE_PARAMS.search(text) else None
    if tokens is None:
        return None
    blanks: list[tuple[tuple[int, int], tuple[int, int], str]] = []  # (start, end, replacement)
    for i, tok in enumerate(tokens):
        if tok.type != token.NAME or i + 2 >= len(tokens) or tokens[i + 1].type != token.NAME:
            continue
        if tok.string in ("def", "class") and tokens[i + 2].string == "[":
            close = _closing(tokens, i + 2)
            if close is None:
                return None
            blanks.append((tokens[i + 2].start, tokens[close].end, ""))
        elif tok.string == "type" and tokens[i + 2].string in ("=", "[") and _starts_statement(tokens, i):
            end = _statement_end(tokens, i)
            blanks.append((tok.start, tokens[end].end, "pass"))
    return _blanked(text, blanks) if blanks else None


def _starts_statement(tokens: list[tokenize.TokenInfo], i: int) -> bool:
    return i == 0 or tokens[i - 1].type in _STATEMENT_START or tokens[i - 1].string == ";"


def _closing(tokens: list[tokenize.TokenInfo], opening: int) -> int | None:
    depth = 0
    for j in range(opening, len(tokens)):
        depth += _DEPTH.get(tokens[j].string, 0)
        if depth == 0:
            return j
    return None


def _statement_end(tokens: list[tokenize.TokenInfo], first: int) -> int:
    """The last token of the simple statement starting at first."""
    depth = 0
    last = first
    for j in range(first, len(tokens)):
        tok = tokens[j]
        if depth == 0 and (tok.type in (token.NEWLINE, token.ENDMARKER) or tok.string == ";"):
            break
        depth += _DEPTH.get(tok.string, 0)
        last = j
    return last


def _blanked(text: str, blanks: list[tuple[tuple[int, int], tuple[int, int], str]]) -> str | None:
    lines = lines_of(text)
    for (start_row, start_col), (end_row, end_col), replacement in blanks:
        for row in range(start_row, end_row + 1):
            line = lines[row - 1]
            body = line.rstrip("\r\n")
            begin = start_col if row == start_row else 0
            stop = end_col if row == end_row else len(body)
            gone = body[begin:stop]
            if not gone.isascii():  # CPython counts columns in bytes: keep them all in place
                return None
            filler = (replacement if row == start_row else "").ljust(len(gone))
            lines[row - 1] = body[:begin] + filler + body[stop:] + line[len(body):]
    return "".join(lines)


def with_except_lists_parenthesized(text: str) -> str | None:
    """`except A, B:` written `except (A, B):`, where the colon ends its line; None when
    there is no such clause."""
    tokens = _significant_tokens(text) if _MAY_HAVE_EXCEPT_LIST.search(text) else None
    if tokens is None:
        return None
    lines = lines_of(text)
    changed = False
    for i, tok in enumerate(tokens):
        if tok.string != "except" or tok.type != token.NAME or not _starts_statement(tokens, i):
            continue
        first = i + 2 if tokens[i + 1].string == "*" else i + 1
        colon = _clause_colon(tokens, first)
        if colon is None or tokens[colon + 1].type != token.NEWLINE:
            continue
        start, end = tokens[first].start, tokens[colon - 1].end
        if start[0] != end[0] or tokens[colon].start[0] != end[0]:
            continue  # over several lines: the rest of a line would move
        line = lines[start[0] - 1]
        lines[start[0] - 1] = line[:start[1]] + "(" + line[start[1]:end[1]] + ")" + line[end[1]:]
        changed = True
    return "".join(lines) if changed else None


def _clause_colon(tokens: list[tokenize.TokenInfo], first: int) -> int | None:
    """The colon ending an except clause whose types are a bare list (a comma at the top,
    no `as`), or None."""
    depth, comma = 0, False
    for j in range(first, len(tokens)):
        text = tokens[j].string
        if text in _DEPTH:
            depth += _DEPTH[text]
        elif depth == 0 and text == ",":
            comma = True
        elif depth == 0 and (text == "as" or tokens[j].type == token.NEWLINE):
            return None
        elif depth == 0 and text == ":":
            return j if comma and j > first else None
    return None
