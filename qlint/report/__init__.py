"""Reports: one module per output format, all rendering the same findings.

Every format lists findings in one stable order (path, line, column, code), so
the same project always gives the same bytes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from qlint.model import Finding
from qlint.report import github, json_format, sarif, text
from qlint.rule import Rule

FORMATS = ("text", "json", "sarif", "github")


def ordered(findings: Sequence[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.span.path, f.span.line, f.span.column, f.code, f.message))


def render(
    findings: Sequence[Finding],
    fmt: str,
    *,
    root: Path,
    rules: Mapping[str, type[Rule]],
    color: bool,
    show_source: bool = True,
    statistics: bool = False,
) -> str:
    """The report of findings in one format.

    Paths in findings are relative to `root`, where the text format reads source
    lines from. `statistics` replaces the list of findings with counts per code in
    the text and json formats; SARIF and GitHub annotations always list findings,
    since the tools reading them need each one.
    """
    findings = ordered(findings)
    if fmt == "text":
        return text.render(findings, root=root, color=color, show_source=show_source, statistics=statistics)
    if fmt == "json":
        return json_format.render(findings, statistics=statistics)
    if fmt == "sarif":
        return sarif.render(findings, root=root, rules=rules)
    if fmt == "github":
        return github.render(findings)
    raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
