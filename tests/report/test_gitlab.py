from __future__ import annotations

import json
from pathlib import Path

from qlint.model import Span
from qlint.report import render
from tests.report.conftest import RULES, LateAck, late_ack, payload, prefetch


def gitlab(findings, root: Path) -> list[dict]:
    raw = render(findings, "gitlab", root=root, rules=RULES, color=False)
    assert not raw.startswith("\ufeff")  # GitLab's parser refuses a byte order mark
    return json.loads(raw)


def test_one_issue_per_finding_in_the_report_order(findings, project: Path) -> None:
    issues = gitlab(findings, project)
    assert [(i["check_name"], i["severity"], i["location"]) for i in issues] == [
        ("QL401", "info", {"path": "deploy/Procfile", "lines": {"begin": 2, "end": 2}}),
        ("QL101", "major", {"path": "settings/production.py", "lines": {"begin": 3, "end": 3}}),
        ("QL201", "minor", {"path": "views.py", "lines": {"begin": 2, "end": 4}}),
    ]
    assert issues[1]["description"] == f"QL101: {late_ack().message}"
    assert len({i["fingerprint"] for i in issues}) == 3


def test_the_fingerprint_is_the_same_for_the_same_code_and_differs_by_path(project: Path) -> None:
    once = gitlab([late_ack(), payload(), prefetch()], project)
    assert once == gitlab([prefetch(), late_ack(), payload()], project)
    (project / "other.py").write_text((project / "settings/production.py").read_text(encoding="utf-8"), encoding="utf-8")
    elsewhere = LateAck().finding(late_ack().message, Span("other.py", 3, 1, 3, 38))
    assert gitlab([elsewhere], project)[0]["fingerprint"] != once[1]["fingerprint"]


def test_a_finding_on_line_0_is_placed_on_line_1(project: Path) -> None:
    [issue] = gitlab([LateAck().finding("the file cannot be read", Span("settings/base.py", 0))], project)
    assert issue["location"]["lines"] == {"begin": 1, "end": 1}
