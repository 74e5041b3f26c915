"""Suppression comments: `# qlint: ignore[...]`, `# noqa: ...` and `# qlint: skip-file`.

A finding is silenced by a matching comment on its first line or, for a span over
several lines, on its last line. Python files are read with `tokenize`, so text
inside strings is never taken for a comment; every other kind of file qlint reads
(YAML, TOML, Procfile, shell, .env, supervisord and systemd files) uses `#`
comments and is scanned line by line, ignoring `#` inside quotes.
"""
from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

from qlint.model import Edit, Finding, Fix, Span
from qlint.rules.unused_suppression import UnusedSuppression

UNUSED_CODE = UnusedSuppression.code
UNUSED_NAME = UnusedSuppression.name

# flake8's grammar for a code or prefix (flake8/defaults.py), used in `# noqa: ...`.
_FLAKE8_CODE = re.compile(r"[A-Z]{1,3}[0-9]{0,3}")
_QLINT_TOKEN = re.compile(r"QL[0-9]{0,3}|[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_QLINT = re.compile(r"#\s*qlint\s*:\s*(?:(?P<skip>skip-file)\b|ignore(?:\[(?P<codes>[^\]]*)\]|(?![\w\[-])))", re.IGNORECASE)
_NOQA = re.compile(r"#\s*noqa\b(?::\s*(?P<codes>[^#]*))?", re.IGNORECASE)
_PYTHON_SUFFIXES = (".py", ".pyi")
_MARKERS = re.compile(r"qlint|noqa", re.IGNORECASE)  # no directive without one of these


@dataclass
class Directive:
    """One suppression comment: where it is and which findings it silences."""

    path: str
    line: int
    column: int  # 1-based column of its `#`
    end_column: int  # exclusive
    text: str
    # None means every code; otherwise codes or code prefixes.
    codes: tuple[str, ...] | None
    names: tuple[str, ...]
    # Whether qlint reports it when it silences nothing.
    reportable: bool
    removal: Edit
    used: bool = False

    def matches(self, finding: Finding) -> bool:
        if self.codes is None:
            return True
        return finding.code.startswith(self.codes) or finding.name in self.names


@dataclass(frozen=True)
class Comment:
    line: int
    column: int  # 0-based, in characters
    text: str  # from `#` to the end of the line


@dataclass
class FileSuppressions:
    skip: bool
    by_line: dict[int, list[Directive]]


@dataclass(frozen=True)
class SuppressionResult:
    kept: list[Finding]
    suppressed: list[Finding]
    unused: list[Finding]


def apply_suppressions(
    findings: Iterable[Finding],
    read_text: Callable[[str], str | None],
    *,
    files: Iterable[str] = (),
) -> SuppressionResult:
    """Split findings into kept and suppressed; list the comments that suppressed nothing.

    Comments are looked for in every file that holds a finding and in `files`
    (pass the checked files so that a stale comment in a file without findings
    is reported too). Each file is read and parsed once.
    """
    cache: dict[str, FileSuppressions] = {}

    def of(path: str) -> FileSuppressions:
        if path not in cache:
            text = read_text(path)
            cache[path] = parse_file(path, text) if text is not None else FileSuppressions(False, {})
        return cache[path]

    kept: list[Finding] = []
    suppressed: list[Finding] = []
    for finding in findings:
        (suppressed if _silence(finding, of(finding.span.path)) else kept).append(finding)
    for path in files:
        of(path)
    unused = [
        unused_finding(d)
        for path in sorted(cache)
        if not cache[path].skip
        for line in sorted(cache[path].by_line)
        for d in cache[path].by_line[line]
        if d.reportable and not d.used
    ]
    return SuppressionResult(kept, suppressed, unused)


def skip_file(text: str, path: str | None = None) -> bool:
    """True when a `# qlint: skip-file` comment is anywhere in the file's comments."""
    return any(_has_skip_file(c.text) for c in comments(text, path))


def _has_skip_file(comment: str) -> bool:
    return any(m.group("skip") for m in _QLINT.finditer(comment))


def _silence(finding: Finding, file: FileSuppressions) -> bool:
    if file.skip:
        return True
    span = finding.span
    last = span.end_line
    # The end is exclusive: a span ending at column 1 ends on the line before.
    if last > span.line and span.end_column <= 1:
        last -= 1
    lines = (span.line,) if last == span.line else (span.line, last)
    hit = False
    for line in lines:
        for directive in file.by_line.get(line, ()):
            if directive.matches(finding):
                directive.used = True
                hit = True
    return hit


def parse_file(path: str, text: str) -> FileSuppressions:
    """The suppression comments of one file, by line."""
    if not _MARKERS.search(text):  # tokenizing a long module costs more than the rest of its check
        return FileSuppressions(False, {})
    lines = _split_lines(text)
    by_line: dict[int, list[Directive]] = {}
    skip = False
    for comment in comments(text, path):
        skip = skip or _has_skip_file(comment.text)
        for directive in directives(path, comment, lines[comment.line - 1] if comment.line <= len(lines) else ""):
            by_line.setdefault(comment.line, []).append(directive)
    return FileSuppressions(skip, by_line)


def directives(path: str, comment: Comment, line_text: str) -> Iterator[Directive]:
    """Each suppression in one comment (a comment may hold several, e.g. `# type: ignore  # noqa`)."""
    starts = [m.start() for m in re.finditer("#", comment.text)]
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(comment.text)
        part = comment.text[start:end].rstrip()
        directive = _qlint_directive(part) or _noqa_directive(part)
        if directive is None:
            continue
        codes, names, reportable = directive
        column = comment.column + start
        yield Directive(
            path=path,
            line=comment.line,
            column=column + 1,
            end_column=column + len(part) + 1,
            text=part,
            codes=codes,
            names=names,
            reportable=reportable,
            removal=_removal(path, comment.line, line_text, column, column + len(part)),
        )


def _qlint_directive(part: str) -> tuple[tuple[str, ...] | None, tuple[str, ...], bool] | None:
    match = _QLINT.match(part)
    if match is None or match.group("skip"):
        return None
    if match.group("codes") is None:
        return None, (), True
    tokens = [t for t in re.split(r"[,\s]+", match.group("codes")) if t]
    codes = tuple(t for t in tokens if re.fullmatch(r"QL[0-9]{0,3}", t))
    names = tuple(t for t in tokens if t not in codes and _QLINT_TOKEN.fullmatch(t))
    return codes, names, True


def _noqa_directive(part: str) -> tuple[tuple[str, ...] | None, tuple[str, ...], bool] | None:
    match = _NOQA.match(part)
    if match is None:
        return None
    codes: list[str] = []
    for token in re.split(r"[,\s]+", (match.group("codes") or "").strip()):
        if not _FLAKE8_CODE.fullmatch(token):
            break
        codes.append(token)
    if not codes:
        # A bare noqa (or one followed by prose, as flake8 reads it) silences everything,
        # and may be there for other linters: never report it as unused.
        return None, (), False
    return tuple(codes), (), any(c.startswith("QL") for c in codes)


def _removal(path: str, line: int, line_text: str, start: int, end: int) -> Edit:
    """The edit deleting a directive with the blank before it, or its whole line when nothing else is on it."""
    before = line_text[:start].rstrip()
    if not before and not line_text[end:].strip():
        return Edit(Span(path, line, 1, line + 1, 1), "")
    return Edit(Span(path, line, len(before) + 1, line, end + 1), "")


def unused_finding(directive: Directive) -> Finding:
    return Finding(
        code=UNUSED_CODE,
        name=UNUSED_NAME,
        severity="warning",
        message=f"unused suppression: `{directive.text}` matched no finding",
        span=Span(directive.path, directive.line, directive.column, directive.line, directive.end_column),
        fix=Fix("remove the comment", (directive.removal,), "safe"),
    )


def comments(text: str, path: str | None = None) -> list[Comment]:
    """Every `#` comment of a file; Python through tokenize, anything else line by line."""
    if path is None or path.endswith(_PYTHON_SUFFIXES):
        found = _python_comments(text)
        if found is not None:
            return found
    return [c for number, line in enumerate(_split_lines(text), 1) if (c := _line_comment(number, line))]


def _python_comments(text: str) -> list[Comment] | None:
    found: list[Comment] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                found.append(Comment(token.start[0], token.start[1], token.string))
    except (tokenize.TokenError, SyntaxError):
        return None
    return found


def _line_comment(number: int, line: str) -> Comment | None:
    """The comment of one line of a YAML/TOML/shell-like file: a `#` outside quotes, at the start or after a blank."""
    quote = ""
    escaped = False
    for index, char in enumerate(line):
        previous = line[index - 1] if index else " "
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "'\"" and (previous.isspace() or previous in "=:[{(,"):
            quote = char
        elif char == "#" and previous.isspace():
            return Comment(number, index, line[index:])
    return None


def _split_lines(text: str) -> Sequence[str]:
    # Python's line numbering: \r\n, \r and \n end a line; form feeds and other
    # separators that str.splitlines() honours do not.
    return re.split(r"\r\n|\r|\n", text)
