"""Python 3.12 syntax made readable to the parser of 3.10 and 3.11, text rewritten in place.

Before 3.12, a file with type parameters (PEP 695) or with f-strings that reuse their own
quote (PEP 701) is a syntax error, and such a file went to libcst whole: its import and
conversion cost about 0.3 s per process. Both rewrites keep every character where it was:
- the f-strings' inner strings get the other quote (fstring_quotes.py);
- type parameter lists are blanked (`def first[T](items)` reads `def first   (items)`),
  and each `type` statement becomes a `pass` of the same length.
CPython parses the result to the tree it gives the original under 3.12, less what qlint
ignores there too (type parameters and type aliases).

Only a file whose first parse failed comes here. Anything unclear (tokenizer errors, text
that still does not parse) is left to libcst.
"""
from __future__ import annotations

import io
import token
import tokenize

from qlint.sources.chunks import lines_of
from qlint.sources.fstring_quotes import with_quotes_swapped

_STATEMENT_START = (token.NEWLINE, token.NL, token.INDENT, token.DEDENT, token.ENCODING)


def rewritten(text: str) -> str | None:
    """text with both rewrites made, or None when neither applies."""
    swapped = with_quotes_swapped(text)
    blanked = without_type_params(text if swapped is None else swapped)
    return swapped if blanked is None else blanked


def without_type_params(text: str) -> str | None:
    """text with its type parameter lists and type statements blanked, or None when it has
    none or cannot be tokenized."""
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(text).readline)
                  if t.type not in (token.COMMENT, token.NL)]
    except (tokenize.TokenError, SyntaxError):
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
        if tokens[j].string in ("[", "(", "{"):
            depth += 1
        elif tokens[j].string in ("]", ")", "}"):
            depth -= 1
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
        if tok.string in ("[", "(", "{"):
            depth += 1
        elif tok.string in ("]", ")", "}"):
            depth -= 1
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
