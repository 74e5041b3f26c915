"""Reports: one module per output format, all rendering the same findings in one stable order
(path, line, column, code), so the same project always gives the same bytes; each rule's page
(pages.py) and the effective settings of `qlint config` (settings.py). May import every stage
below the pipeline; never the command line, the language server or the worker."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

from qlint.model import Finding

if TYPE_CHECKING:
    from qlint.report.notes import Note
    from qlint.rule import Rule

FORMATS = ("text", "json", "sarif", "github", "gitlab")


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
    notes: Sequence[Note] = (),
    baselined: Sequence[Finding] = (),
) -> str:
    """The report of findings in one format.

    Paths in findings are relative to `root`, where the text format reads source
    lines from, and every format reads the fingerprints' text from. `statistics` replaces
    the list of findings with counts per code in the text and json formats; SARIF, GitHub
    annotations and GitLab's report always list findings, since the tools reading them need
    each one. `notes` (what was skipped, what was not checked) go into JSON's `notes`, SARIF's
    tool notifications and GitHub notices; the text report leaves them to the caller's stderr.
    `baselined` are the findings a baseline left out: the text report's summary counts them, and
    the fingerprints of the others are numbered as if they were shown.
    """
    findings = ordered(findings)
    # Only the format asked for is imported: a warm check is mostly start-up.
    if fmt == "text":
        from qlint.report import text

        return text.render(findings, root=root, color=color, show_source=show_source, statistics=statistics,
                           baselined=len(baselined))
    if fmt == "json":
        from qlint.report import json_format

        return json_format.render(findings, root=root, statistics=statistics, notes=notes, hidden=baselined)
    if fmt == "sarif":
        from qlint.report import sarif

        return sarif.render(findings, root=root, rules=rules, notes=notes, hidden=baselined)
    if fmt == "github":
        from qlint.report import github

        return github.render(findings, notes)
    if fmt == "gitlab":
        from qlint.report import gitlab

        return gitlab.render(findings, root=root, hidden=baselined)
    raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
