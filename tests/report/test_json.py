from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from qlint.model import Finding, Span
from qlint.pipeline.fingerprint import fingerprints
from qlint.report import render
from qlint.report.notes import Note, parse_note
from qlint.report.pages import page_url
from tests.report.conftest import RULES, LateAck, late_ack, payload, prefetch


def report(findings: list[Finding], **options) -> dict:
    return json.loads(render(findings, "json", root=Path("/nonexistent"), rules=RULES, color=False, **options))


def as_json(findings: list[Finding], **options) -> list[dict]:
    data = report(findings, **options)
    return data["statistics"] if options.get("statistics") else data["findings"]


def test_fields_of_a_finding_with_related_locations_and_a_fix() -> None:
    [data] = as_json([late_ack()])
    # The fingerprint is the one the baseline and SARIF use (tests/test_cli_baseline.py tests its stability).
    assert data.pop("fingerprint") == fingerprints([late_ack()], Path("/nonexistent"))[0]
    assert data == {
        "code": "QL101",
        "name": "late-ack-visibility-timeout",
        "severity": "error",
        "message": "late-acked tasks may run 24 h, past Redis' 1 h visibility timeout",
        "path": "settings/production.py",
        "line": 3,
        "column": 1,
        "end_line": 3,
        "end_column": 38,
        "related": [
            {"path": "settings/base.py", "line": 1, "column": 1, "message": "late acknowledgement is turned on here"},
            {"path": "settings/base.py", "line": 2, "column": 1,
             "message": "the broker is Redis, whose default visibility timeout is 1 h"},
        ],
        "fix": {
            "description": "set broker_transport_options['visibility_timeout'] above the time limit",
            "applicability": "unsafe",
            "edits": [{
                "path": "settings/production.py", "line": 4, "column": 1, "end_line": 4, "end_column": 1,
                "content": "CELERY_BROKER_TRANSPORT_OPTIONS = {'visibility_timeout': 90000}\n",
            }],
        },
        "url": page_url("QL101"),
    }
    assert data["url"].startswith("file://") and data["url"].endswith("/docs/rules/QL101.md")


def test_multiline_span_and_no_fix() -> None:
    [data] = as_json([payload()])
    assert (data["line"], data["column"], data["end_line"], data["end_column"]) == (2, 5, 4, 6)
    assert data["fix"] is None and data["related"] == []


def test_sorted_by_path_line_column_code(findings: list[Finding]) -> None:
    same_place = [LateAck().finding("b", Span("a.py", 2, 1)), payload(), LateAck().finding("a", Span("a.py", 1, 9))]
    same_place.append(replace(same_place[0], code="QL100"))
    data = as_json(findings + same_place)
    assert [(d["path"], d["line"], d["column"], d["code"]) for d in data] == [
        ("a.py", 1, 9, "QL101"),
        ("a.py", 2, 1, "QL100"),
        ("a.py", 2, 1, "QL101"),
        ("deploy/Procfile", 2, 9, "QL401"),
        ("settings/production.py", 3, 1, "QL101"),
        ("views.py", 2, 5, "QL201"),
        ("views.py", 2, 5, "QL201"),
    ]


def test_unicode_and_quotes_survive_unescaped(findings: list[Finding]) -> None:
    finding = LateAck().finding('délai "24 h" ≥ 1 h\nsecond line', Span("paquets/réglages.py", 1))
    raw = render([finding], "json", root=Path("."), rules=RULES, color=False)
    assert "réglages.py" in raw and "≥" in raw
    assert json.loads(raw)["findings"][0]["message"] == 'délai "24 h" ≥ 1 h\nsecond line'


def test_related_location_in_a_non_python_file() -> None:
    [data] = as_json([prefetch()])
    assert data["path"] == "deploy/Procfile"
    assert data["related"] == [
        {"path": "deploy/worker.yaml", "line": 3, "column": 14, "message": "another worker with the default multiplier"}
    ]


def test_empty_and_statistics(findings: list[Finding]) -> None:
    assert as_json([]) == []
    assert as_json(findings + [late_ack()], statistics=True) == [
        {"code": "QL101", "name": "late-ack-visibility-timeout", "count": 2},
        {"code": "QL201", "name": "large-payload-argument", "count": 1},
        {"code": "QL401", "name": "prefetch-long-tasks", "count": 1},
    ]


def test_output_is_stable(findings: list[Finding]) -> None:
    first = render(findings, "json", root=Path("."), rules=RULES, color=False)
    again = render(list(reversed(findings)), "json", root=Path("."), rules=RULES, color=False)
    assert first == again


def test_notes_are_listed_beside_the_findings() -> None:
    notes = [Note("holds no file qlint reads; nothing was checked there", "image.png", level="warning"),
             parse_note("deploy/chart/worker.yaml: a template (Jinja or Go template markers), not YAML; skipped"),
             parse_note("Procfile:2: `celery worker -A ...` is the Celery 4 order: Celery 5 refuses to start it")]
    data = report([late_ack()], notes=notes)
    assert len(data["findings"]) == 1
    assert data["notes"] == [
        {"level": "warning", "path": "image.png", "line": None, "column": None,
         "message": "holds no file qlint reads; nothing was checked there"},
        {"level": "note", "path": "deploy/chart/worker.yaml", "line": None, "column": None,
         "message": "a template (Jinja or Go template markers), not YAML; skipped"},
        {"level": "note", "path": "Procfile", "line": 2, "column": None,
         "message": "`celery worker -A ...` is the Celery 4 order: Celery 5 refuses to start it"},
    ]
    assert report([], statistics=True, notes=notes[:1])["notes"][0]["path"] == "image.png"
    assert report([])["notes"] == []
