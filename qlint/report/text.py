"""The text report: one block per finding, for people.

    settings/production.py:12:1: QL101 message
        |
     12 | CELERY_TASK_TIME_LIMIT = 24 * 60 * 60
        | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
        |
      = note: settings/base.py:3:1: late acknowledgement is turned on here
      = fix: set a visibility timeout above the time limit

Every line but the first of a block starts with a blank, so `--quiet` can keep
only the first lines.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from qlint.model import Finding, Span
from qlint.report.source import SourceLines, marked
from qlint.report.tally import per_code, summary

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_DIM = "\x1b[2m"
_COLORS = {"error": "\x1b[1;31m", "warning": "\x1b[1;33m", "info": "\x1b[1;36m"}
_BLUE = "\x1b[1;34m"


class _Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if self.color else text


def render(
    findings: Sequence[Finding],
    *,
    root: Path,
    color: bool,
    show_source: bool,
    statistics: bool,
    baselined: int = 0,
) -> str:
    style = _Style(color)
    out: list[str] = []
    if statistics:
        out.extend(_statistics(findings, style))
    else:
        sources = SourceLines(root) if show_source else None
        for finding in findings:
            out.extend(_block(finding, sources, style))
            out.append("")
    out.append(style(summary(findings, baselined), _BOLD))
    return "\n".join(out) + "\n"


def _location(span: Span) -> str:
    return f"{span.path}:{span.line}:{span.column}"


def _block(finding: Finding, sources: SourceLines | None, style: _Style) -> list[str]:
    head = (
        f"{style(_location(finding.span), _BOLD)}: "
        f"{style(finding.code, _COLORS.get(finding.severity, _BOLD))} {finding.message}"
    )
    lines = [head]
    if sources is not None:
        lines.extend(_snippet(finding.span, sources, style, _COLORS.get(finding.severity, _BOLD)))
    for related in finding.related:
        lines.append(f"  {style('= note', _BLUE)}: {_location(related.span)}: {related.message}")
    if finding.fix is not None:
        lines.append(f"  {style('= fix', _BLUE)}: {finding.fix.description}")
    return lines


def _snippet(span: Span, sources: SourceLines, style: _Style, marker_color: str) -> list[str]:
    line = sources.line(span.path, span.line)
    if line is None:
        return []
    one_line = span.end_line == span.line
    shown, at, width = marked(line, span.column - 1, span.end_column - 1 if one_line else None)
    number = str(span.line)
    gutter = " " * (len(number) + 2)
    bar = style("|", _BLUE)
    return [
        f"{gutter}{bar}",
        f" {style(number, _BLUE)} {bar} {shown}".rstrip(),
        f"{gutter}{bar} {' ' * at}{style('^' * width, marker_color)}",
        f"{gutter}{bar}",
    ]


def _statistics(findings: Sequence[Finding], style: _Style) -> list[str]:
    rows = per_code(findings)
    if not rows:
        return []
    width = len(str(max(n for _, _, n in rows)))
    return [f"{n:>{width}}  {style(code, _BOLD)}  {name}" for code, name, n in rows]
