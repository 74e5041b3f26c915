"""Python 3.12's f-strings (PEP 701) that reuse their own quote, rewritten for 3.10 and 3.11.

Since 3.12 an f-string may hold a string in its own quotes: `f'{d['key']}'`,
`f'{', '.join(names)}'`. Older parsers end the f-string at the inner quote, and the file
went to libcst. Most such inner strings are plain literals with neither quote nor backslash
inside; giving them the other quote (`f'{d["key"]}'`) keeps their value, the length of the
text and every column, and 3.11 reads it.

The scan follows Python's rules for strings and replacement fields. Whatever it is not sure
of (a nested f-string, a comment or a backslash in a field, a field over several lines of
a one-line f-string, an inner string that would need escaping) gives None: libcst decides.
"""
from __future__ import annotations

import re

_PREFIX = frozenset("rRbBuUfF")
_OTHER = {"'": '"', '"': "'"}
# Where the scan has something to decide: in code, comments and quotes; in a plain string,
# escapes, its quote and line ends.
_CODE_STOPS = re.compile(r"[#'\"]")
_STRING_STOPS = {quote: re.compile(r"[\\\n" + quote + "]") for quote in "'\""}


class _Unsure(Exception):
    pass


def with_quotes_swapped(text: str) -> str | None:
    """text with each inner string that reuses its f-string's quote given the other quote;
    None when there is none, or when the scan is unsure."""
    swaps: list[int] = []  # positions of quote characters to swap
    try:
        _Scanner(text, swaps).code()
    except _Unsure:
        return None
    if not swaps:
        return None
    chars = list(text)
    for at in swaps:
        chars[at] = _OTHER[chars[at]]
    return "".join(chars)


class _Scanner:
    def __init__(self, text: str, swaps: list[int]) -> None:
        self.text = text
        self.swaps = swaps
        self.at = 0

    def code(self) -> None:
        """Module code, up to the end of the text."""
        text = self.text
        while (found := _CODE_STOPS.search(text, self.at)) is not None:
            self.at = found.start()
            if found.group() == "#":
                end = text.find("\n", self.at)
                self.at = len(text) if end < 0 else end
            else:
                self.string(self._prefix())
        self.at = len(text)

    def _prefix(self) -> str:
        """The letters before the quote at self.at that make a string prefix (f, rb, ...)."""
        start = self.at
        while start > 0 and self.at - start < 2 and self.text[start - 1] in _PREFIX:
            start -= 1
        if start > 0 and (self.text[start - 1].isalnum() or self.text[start - 1] == "_"):
            return ""  # the letters end a name (`if'x'`, `elif"y"`): no prefix
        return self.text[start:self.at]

    def string(self, prefix: str, enclosing: str = "") -> None:
        """A string literal starting at self.at, its prefix already read. enclosing: the
        quote of the one-line f-string whose replacement field holds it, if any."""
        text, start = self.text, self.at
        quote = text[start]
        triple = text.startswith(quote * 3, start)
        delimiter = quote * 3 if triple else quote
        is_f = "f" in prefix.lower()
        if enclosing:
            if is_f or triple:
                raise _Unsure  # a nested f-string or a triple quote: leave it to libcst
            if quote == enclosing:
                end = self._plain_end(start + 1, quote)
                inner = text[start + 1:end]
                if _OTHER[quote] in inner or "\\" in inner:
                    raise _Unsure
                self.swaps.extend((start, end))
                self.at = end + 1
                return
        self.at = start + len(delimiter)
        if is_f:
            self._fstring_body(delimiter, raw="r" in prefix.lower())
        else:
            self._plain_body(delimiter)

    def _plain_end(self, at: int, quote: str) -> int:
        """Where a one-line string without escapes (checked by the caller) ends."""
        end = self.text.find(quote, at)
        newline = self.text.find("\n", at)
        if end < 0 or 0 <= newline < end:
            raise _Unsure
        return end

    def _plain_body(self, delimiter: str) -> None:
        text = self.text
        stops = _STRING_STOPS[delimiter[0]]
        while (found := stops.search(text, self.at)) is not None:
            self.at = found.start()
            char = found.group()
            if char == "\\":
                self.at += 2
            elif text.startswith(delimiter, self.at):
                self.at += len(delimiter)
                return
            elif char == "\n" and len(delimiter) == 1:
                raise _Unsure  # an unterminated string: a syntax error, not newer syntax
            else:
                self.at += 1
        raise _Unsure

    def _fstring_body(self, delimiter: str, raw: bool, in_spec: bool = False) -> None:
        """The literal parts and replacement fields of an f-string, up to its closing quote
        (or, in a format spec, up to the `}` that closes the field)."""
        text = self.text
        while self.at < len(text):
            char = text[self.at]
            if char == "\\":
                if raw:  # a backslash keeps a quote from closing the string, and is kept
                    self.at += 2 if text[self.at + 1:self.at + 2] in ("'", '"', "\\") else 1
                elif text.startswith("\\N{", self.at):  # a named character, not a field
                    end = text.find("}", self.at)
                    if end < 0:
                        raise _Unsure
                    self.at = end + 1
                else:
                    self.at += 2
            elif char == "{":
                if text.startswith("{{", self.at) and not in_spec:
                    self.at += 2
                else:
                    self.at += 1
                    self._field(delimiter, raw)
            elif char == "}":
                if in_spec:
                    return
                self.at += 2 if text.startswith("}}", self.at) else 1
            elif text.startswith(delimiter, self.at):
                if in_spec:
                    raise _Unsure
                self.at += len(delimiter)
                return
            elif char == "\n" and len(delimiter) == 1:
                raise _Unsure
            else:
                self.at += 1
        raise _Unsure

    def _field(self, delimiter: str, raw: bool) -> None:
        """A replacement field's expression, conversion and format spec, through its `}`."""
        text = self.text
        enclosing = delimiter if len(delimiter) == 1 else ""
        depth = 0
        while self.at < len(text):
            char = text[self.at]
            if char in "'\"":
                self.string(self._prefix(), enclosing)
                continue
            if char in "#\\" or (char == "\n" and enclosing):
                raise _Unsure  # newer than 3.11 in a field: comments, backslashes, line breaks
            if char in "([{":
                depth += 1
            elif char in ")]" or (char == "}" and depth > 0):
                depth -= 1
            elif char == "}":
                self.at += 1
                return
            elif char == "!" and depth == 0 and not text.startswith("!=", self.at):
                self.at += 1  # the conversion (!r, !s, !a), then ':' or '}'
                continue
            elif char == ":" and depth == 0:
                self.at += 1
                self._fstring_body(delimiter, raw, in_spec=True)
                self.at += 1
                return
            self.at += 1
        raise _Unsure
