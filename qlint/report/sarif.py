"""SARIF 2.1.0, as GitHub code scanning reads it: one run, the rule catalogue, results.

Columns count Unicode code points (`columnKind`), like qlint's spans; regions are
1-based with an exclusive end column, as SARIF defines them. Paths are relative
URIs against `%SRCROOT%`, the folder qlint ran in. Each result carries qlint's fingerprint
(qlint/pipeline/fingerprint.py) in `partialFingerprints`, under a key of its own: GitHub computes
`primaryLocationLineHash` itself and warns when a tool sends a different value under that name.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import quote

import qlint
from qlint.model import Finding, Fix, Span
from qlint.pipeline.fingerprint import fingerprints
from qlint.report.notes import Note
from qlint.rule import Rule
from qlint.report.pages import home_url, page_url

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
ROOT_ID = "%SRCROOT%"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}
FINGERPRINT_KEY = "qlintFingerprint/v1"


def render(findings: Sequence[Finding], *, root: Path, rules: Mapping[str, type[Rule]], notes: Sequence[Note] = (),
           hidden: Sequence[Finding] = ()) -> str:
    descriptors = _descriptors(findings, rules)
    index = {d["id"]: i for i, d in enumerate(descriptors)}
    driver: dict[str, Any] = {"name": "qlint", "version": qlint.__version__, "semanticVersion": qlint.__version__}
    home = home_url()
    if home:  # only a page the project declares as its own
        driver["informationUri"] = home
    driver["rules"] = descriptors
    run = {
        "tool": {"driver": driver},
        "originalUriBaseIds": {ROOT_ID: {"uri": root.resolve().as_uri().rstrip("/") + "/"}},
        "columnKind": "unicodeCodePoints",
        # What was skipped or not checked, as notifications of the run rather than results.
        "invocations": [{"executionSuccessful": True,
                         "toolExecutionNotifications": [_notification(n) for n in notes]}],
        "results": [_result(f, index[f.code], fp) for f, fp in zip(findings, fingerprints(findings, root, hidden))],
    }
    log = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _descriptors(findings: Sequence[Finding], rules: Mapping[str, type[Rule]]) -> list[dict[str, Any]]:
    """Every known rule, plus a plain entry for any code reported without a Rule class."""
    out = {code: _descriptor(rule) for code, rule in rules.items()}
    for finding in findings:
        out.setdefault(finding.code, _bare_descriptor(finding))
    return [out[code] for code in sorted(out)]


def _descriptor(rule: type[Rule]) -> dict[str, Any]:
    documentation = rule.documentation()
    descriptor = {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.what.strip()},
        "help": {"text": documentation, "markdown": documentation},
        "defaultConfiguration": {"level": LEVELS.get(rule.severity, "warning")},
    }
    url = page_url(rule.code)
    if url:
        descriptor["helpUri"] = url
    return descriptor


def _bare_descriptor(finding: Finding) -> dict[str, Any]:
    return {
        "id": finding.code,
        "name": finding.name,
        "shortDescription": {"text": finding.name},
        "defaultConfiguration": {"level": LEVELS.get(finding.severity, "warning")},
    }


def _result(finding: Finding, rule_index: int, fingerprint: str) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.code,
        "ruleIndex": rule_index,
        "level": LEVELS.get(finding.severity, "warning"),
        "message": {"text": _message(finding)},
        "locations": [{"physicalLocation": _physical(finding.span)}],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint},
    }
    if finding.related:
        result["relatedLocations"] = [
            {"id": i, "physicalLocation": _physical(r.span), "message": {"text": r.message}}
            for i, r in enumerate(finding.related, 1)
        ]
    if finding.fix is not None and finding.fix.edits:
        result["fixes"] = [_fix(finding.fix)]
    return result


def _message(finding: Finding) -> str:
    """The message, linking each related location by id (SARIF embedded links), brackets escaped."""
    if not finding.related:
        return finding.message
    links = "; ".join(f"[{_escape(r.message)}]({i})" for i, r in enumerate(finding.related, 1))
    return f"{_escape(finding.message)} See: {links}."


def _escape(text: str) -> str:
    return re.sub(r"([\[\]\\])", r"\\\1", text)


def _artifact(path: str) -> dict[str, str]:
    return {"uri": quote(Path(path).as_posix()), "uriBaseId": ROOT_ID}


def _physical(span: Span) -> dict[str, Any]:
    region: dict[str, int] = {"startLine": span.line, "startColumn": span.column}
    # An empty span points at a place, not a range: leave the end out, so the
    # region runs to the end of the line.
    if (span.end_line, span.end_column) != (span.line, span.column):
        region.update(endLine=span.end_line, endColumn=span.end_column)
    return {"artifactLocation": _artifact(span.path), "region": region}


def _notification(note: Note) -> dict[str, Any]:
    out: dict[str, Any] = {"level": "warning" if note.level == "warning" else "note", "message": {"text": note.message}}
    if note.path is not None:
        physical: dict[str, Any] = {"artifactLocation": _artifact(note.path)}
        if note.line is not None:
            physical["region"] = {"startLine": note.line, **({"startColumn": note.column} if note.column else {})}
        out["locations"] = [{"physicalLocation": physical}]
    return out


def _fix(fix: Fix) -> dict[str, Any]:
    by_path: dict[str, list[dict[str, Any]]] = {}
    for edit in sorted(fix.edits, key=lambda e: e.span):
        span = edit.span
        by_path.setdefault(span.path, []).append({
            # An insertion is an empty deleted region; its end must be explicit.
            "deletedRegion": {
                "startLine": span.line,
                "startColumn": span.column,
                "endLine": span.end_line,
                "endColumn": span.end_column,
            },
            "insertedContent": {"text": edit.content},
        })
    return {
        "description": {"text": fix.description},
        "artifactChanges": [
            {"artifactLocation": _artifact(path), "replacements": replacements}
            for path, replacements in sorted(by_path.items())
        ],
    }
