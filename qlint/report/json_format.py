"""The JSON report: an object with the findings (1-based positions, end column exclusive)
and the notes (what was skipped or not checked):

    {"findings": [{"code": "QL101", "path": ..., "line": ..., "url": ..., ...}],
     "notes": [{"level": "note", "path": "chart/worker.yaml", "line": null, "column": null,
                "message": "a template (Jinja or Go template markers), not YAML; skipped"}]}

Each finding has a `fingerprint` (qlint/pipeline/fingerprint.py), the same as in the baseline and
SARIF's partialFingerprints: it stays when lines above the finding move, and changes with the
finding's own code. With --statistics, "statistics" (counts per code) stands in place of "findings"."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from qlint.model import Finding, Fix, Span
from qlint.pipeline.fingerprint import fingerprints
from qlint.report.notes import Note
from qlint.report.tally import per_code
from qlint.report.pages import page_url


def render(findings: Sequence[Finding], *, root: Path, statistics: bool, notes: Sequence[Note] = (),
           hidden: Sequence[Finding] = ()) -> str:
    data: dict[str, Any]
    if statistics:
        data = {"statistics": [{"code": c, "name": name, "count": n} for c, name, n in per_code(findings)]}
    else:
        data = {"findings": [finding_to_json(f, fp) for f, fp in zip(findings, fingerprints(findings, root, hidden))]}
    data["notes"] = [note.to_json() for note in notes]
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def finding_to_json(finding: Finding, fingerprint: str) -> dict[str, Any]:
    return {
        "code": finding.code,
        "name": finding.name,
        "severity": finding.severity,
        "message": finding.message,
        **span_to_json(finding.span),
        "related": [
            {"path": r.span.path, "line": r.span.line, "column": r.span.column, "message": r.message}
            for r in finding.related
        ],
        "fix": fix_to_json(finding.fix) if finding.fix is not None else None,
        "url": page_url(finding.code),
        "fingerprint": fingerprint,
    }


def span_to_json(span: Span) -> dict[str, Any]:
    return {
        "path": span.path,
        "line": span.line,
        "column": span.column,
        "end_line": span.end_line,
        "end_column": span.end_column,
    }


def fix_to_json(fix: Fix) -> dict[str, Any]:
    return {
        "description": fix.description,
        "applicability": fix.applicability,
        "edits": [{**span_to_json(e.span), "content": e.content} for e in fix.edits],
    }
