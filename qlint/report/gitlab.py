"""GitLab's code quality report (`artifacts: reports: codequality`): a JSON array with one object
per finding, the subset of the Code Climate issue format that GitLab reads:

    [{"description": "QL101: tasks of app 'proj' are acknowledged late ...",
      "check_name": "QL101",
      "fingerprint": "5d1c2e0b9a7f4e3c8b6a1d0f2e4c6a8b",
      "severity": "major",
      "location": {"path": "proj/settings.py", "lines": {"begin": 11, "end": 11}}}]

GitLab compares the fingerprints of the merge request's report with the target branch's to tell
new findings from fixed ones, so a fingerprint is unique in the report and survives lines moving:
it hashes the path, the code and the finding's own fingerprint (qlint/pipeline/fingerprint.py).
Paths are relative to the folder qlint ran in, which should be the repository's root. Notes
(files skipped) have no place in this format and are left out.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Sequence

from qlint.model import Finding
from qlint.pipeline.fingerprint import fingerprints

SEVERITIES = {"error": "major", "warning": "minor", "info": "info"}


def render(findings: Sequence[Finding], *, root: Path, hidden: Sequence[Finding] = ()) -> str:
    """`hidden`: the findings a baseline left out, which count in the fingerprints (fingerprint.py)."""
    issues = [_issue(f, fp) for f, fp in zip(findings, fingerprints(findings, root, hidden))]
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"


def _issue(finding: Finding, fingerprint: str) -> dict[str, Any]:
    span = finding.span
    begin = max(span.line, 1)
    unique = hashlib.sha256(f"{span.path}\0{finding.code}\0{fingerprint}".encode("utf-8", "surrogatepass"))
    return {
        "description": f"{finding.code}: {finding.message}",
        "check_name": finding.code,
        "fingerprint": unique.hexdigest()[:32],
        "severity": SEVERITIES.get(finding.severity, "minor"),
        "location": {"path": span.path, "lines": {"begin": begin, "end": max(span.end_line, begin)}},
    }
