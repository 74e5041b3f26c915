"""A small POSIX shell word splitter that keeps positions, and variable expansion.

Enough of the shell for command lines in deployment files: quotes, backslashes,
line continuations, comments, ``&&``/``||``/``;``/``|``/``&`` lists, ``$(...)`` and
backticks kept as opaque text. It never runs anything.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Union

from qlint.model import Span, Value
from qlint.sources.deploy.facts import EnvVar
from qlint.sources.deploy.located import Located

EnvMapping = Mapping[str, Union[str, EnvVar]]

_OPERATOR_CHARS = "&|;()"
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class Word:
    """A shell word after quote removal.

    value keeps the position of each character; literal holds the indexes in
    value.text of ``$`` characters that were quoted or escaped, so not expanded.
    """

    value: Located
    literal: frozenset[int] = frozenset()
    # A word whose value is computed where qlint cannot follow (an expression in a command
    # line built in Python): why; its text is only the expression as written.
    unknown: str | None = None

    @property
    def text(self) -> str:
        return self.value.text

    @property
    def span(self) -> Span:
        return self.value.span(0, len(self.value.text))

    def span_of(self, start: int, end: int) -> Span:
        return self.value.span(start, end)

    def drop(self, count: int) -> "Word":
        """The word without its first count characters (``--opt=value`` to ``value``)."""
        return Word(self.value[count:], frozenset(i - count for i in self.literal if i >= count), self.unknown)


def split_commands(source: Located) -> list[list[Word]]:
    """The simple commands of source, each a list of words, in order."""
    commands: list[list[Word]] = []
    words: list[Word] = []
    text = source.text
    i, n = 0, len(text)
    chars: list[int] = []  # source indexes of the current word's characters
    literal: set[int] = set()
    in_word = False

    def end_word() -> None:
        nonlocal chars, literal, in_word
        if in_word:
            located = Located(source.path, "".join(text[k] for k in chars),
                              tuple(source.positions[k] for k in chars))
            words.append(Word(located, frozenset(literal)))
        chars, literal, in_word = [], set(), False

    def end_command() -> None:
        nonlocal words
        end_word()
        if words:
            commands.append(words)
        words = []

    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            if text[i + 1] == "\n":
                i += 2
                continue
            if text[i + 1] == "$":
                literal.add(len(chars))
            chars.append(i + 1)
            in_word = True
            i += 2
        elif ch in " \t\r":
            end_word()
            i += 1
        elif ch == "\n":
            end_command()
            i += 1
        elif ch == "#" and not in_word:
            while i < n and text[i] != "\n":
                i += 1
        elif ch == "'":
            close = text.find("'", i + 1)
            close = n if close < 0 else close
            for k in range(i + 1, close):
                if text[k] == "$":
                    literal.add(len(chars))
                chars.append(k)
            in_word = True
            i = close + 1
        elif ch == '"':
            i += 1
            in_word = True
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n and text[i + 1] in '$`"\\\n':
                    if text[i + 1] == "\n":
                        i += 2
                        continue
                    if text[i + 1] == "$":
                        literal.add(len(chars))
                    chars.append(i + 1)
                    i += 2
                    continue
                chars.append(i)
                i += 1
            i += 1
        elif ch == "$" and i + 1 < n and text[i + 1] == "(":
            close = _matching_paren(text, i + 1)
            chars.extend(range(i, close + 1))
            in_word = True
            i = close + 1
        elif ch == "`":
            close = text.find("`", i + 1)
            close = n - 1 if close < 0 else close
            chars.extend(range(i, close + 1))
            in_word = True
            i = close + 1
        elif ch in _OPERATOR_CHARS:
            end_command()
            i += 2 if text[i:i + 2] in ("&&", "||", ";;") else 1
        else:
            chars.append(i)
            in_word = True
            i += 1
    end_command()
    return commands


def words_from_items(items: list[Located]) -> list[Word]:
    """Words given one by one (a YAML list): no splitting and no quote removal."""
    return [Word(item, frozenset()) for item in items]


def _matching_paren(text: str, open_index: int) -> int:
    depth = 0
    for k in range(open_index, len(text)):
        if text[k] == "(":
            depth += 1
        elif text[k] == ")":
            depth -= 1
            if depth == 0:
                return k
    return len(text) - 1


def is_assignment(word: Word) -> bool:
    return _ASSIGNMENT.match(word.text) is not None


# ------------------------------------------------------------------ expansion

_VARIABLE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-=?+])(?P<arg>[^}]*))?\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*)|(?P<subst>\(|\{)"
    r"|(?P<special>[0-9@*#?$!-]))"
)


@dataclass(frozen=True)
class Expansion:
    """The outcome of expanding one word."""

    text: str | None
    status: str  # known | env-default | unknown
    env: str | None = None
    reason: str | None = None


def expand(word: Word, env: EnvMapping) -> Expansion:
    """Expand the ``$VAR``/``${VAR:-default}`` references of a word from env.

    A variable set in env gives its value (status known, origin where it is set);
    one missing from env with a default gives the default (env-default); one with
    neither, or a command substitution, makes the whole word unknown.
    """
    if word.unknown is not None:
        return Expansion(None, "unknown", reason=word.unknown)
    text = word.text
    if "$" not in text and "`" not in text:
        return Expansion(text, "known")
    if "`" in text:
        return Expansion(None, "unknown", reason="command substitution")
    out: list[str] = []
    status, env_name = "known", None
    pos = 0
    for match in _VARIABLE.finditer(text):
        if match.start() in word.literal:
            continue
        if match.group("subst"):
            return Expansion(None, "unknown", reason="command substitution or unsupported expansion")
        if match.group("special"):
            return Expansion(None, "unknown", reason=f"${match.group('special')} is set when the script runs")
        out.append(text[pos:match.start()])
        pos = match.end()
        name = match.group("braced") or match.group("plain")
        op, arg = match.group("op"), match.group("arg")
        env_name = name
        defined = env.get(name)
        if isinstance(defined, EnvVar):
            if defined.value.status not in ("known", "env-default"):
                return Expansion(None, "unknown", env=name,
                                 reason=f"${name}: {defined.value.reason or 'not resolved'}")
            if defined.value.status == "env-default":
                status = "env-default"
            value = str(defined.value.value)
        else:
            value = defined
        empty_counts = op is not None and op.startswith(":")
        unset = value is None or (empty_counts and value == "")
        if op and op.endswith("+"):
            out.append("" if unset else (arg or ""))
            continue
        if not unset:
            out.append(str(value))
            continue
        if op and op[-1] in "-=" and "$" not in (arg or ""):
            out.append(arg or "")
            status = "env-default" if status != "unknown" else status
            continue
        return Expansion(None, "unknown", env=name, reason=f"${name} is not set here and has no default")
    out.append(text[pos:])
    return Expansion("".join(out), status, env_name)


def expansion_value(expansion: Expansion, typed: object, span: Span) -> Value:
    """A Value for a typed expansion, with its origin at span."""
    if expansion.status == "unknown":
        return Value("unknown", None, span, env=expansion.env, reason=expansion.reason)
    return Value(expansion.status, typed, span, env=expansion.env)  # type: ignore[arg-type]
