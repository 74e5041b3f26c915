"""GitHub Actions workflow commands: one annotation per finding.

    ::error file=app.py,line=3,col=1,endLine=3,endColumn=9,title=QL101 late-ack-visibility-timeout::message

Data is escaped as the Actions runner expects (`%`, CR, LF); property values
additionally escape `:` and `,`, which separate properties.
"""
from __future__ import annotations

from typing import Sequence

from qlint.model import Finding
from qlint.report.notes import Note

LEVELS = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(findings: Sequence[Finding], notes: Sequence[Note] = ()) -> str:
    return "".join(annotation(f) + "\n" for f in findings) + "".join(notice(n) + "\n" for n in notes)


def notice(note: Note) -> str:
    """A note (a file skipped, a path with nothing to check) as a notice, or a warning."""
    properties = [("file", note.path)] if note.path is not None else []
    if note.path is not None and note.line is not None:
        properties.append(("line", str(note.line)))
    props = ",".join(f"{key}={escape_property(value)}" for key, value in [*properties, ("title", "qlint")])
    return f"::{'warning' if note.level == 'warning' else 'notice'} {props}::{escape_data(note.message)}"


def annotation(finding: Finding) -> str:
    span = finding.span
    properties = [("file", span.path), ("line", str(span.line)), ("col", str(span.column))]
    if (span.end_line, span.end_column) != (span.line, span.column):
        properties += [("endLine", str(span.end_line)), ("endColumn", str(span.end_column))]
    properties.append(("title", f"{finding.code} {finding.name}"))
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties)
    lines = [finding.message]
    lines += [f"note: {r.span.path}:{r.span.line}:{r.span.column}: {r.message}" for r in finding.related]
    if finding.fix is not None:
        lines.append(f"fix: {finding.fix.description}")
    return f"::{LEVELS.get(finding.severity, 'warning')} {props}::{escape_data(chr(10).join(lines))}"
