"""Every rule's must-trigger and must-not-trigger examples, run as real projects."""
from __future__ import annotations

import pytest

from qlint.rules import all_rules
from tests.rule_harness import run_example

CASES = [
    pytest.param(rule, example, kind, id=f"{rule.code}-{kind}-{i}")
    for rule in all_rules()
    for kind, examples in (("invalid", rule.invalid), ("valid", rule.valid))
    for i, example in enumerate(examples)
]


@pytest.mark.parametrize(("rule", "example", "kind"), CASES)
def test_rule_example(tmp_path, rule, example, kind):
    result = run_example(tmp_path, example, select=[rule.code])
    mine = [f for f in result.findings if f.code == rule.code]
    if kind == "invalid":
        assert mine, f"{rule.code} must trigger on: {example.note or example.files}"
        if example.count is not None:
            assert len(mine) == example.count
        for finding in mine:
            assert finding.span.line >= 1 and finding.span.column >= 1
            assert finding.message
    else:
        assert not mine, f"{rule.code} must not trigger on: {example.note or example.files}\n{[f.message for f in mine]}"


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_rule_is_documented_with_examples(rule):
    assert rule.invalid, f"{rule.code} has no example that must trigger it"
    assert rule.valid, f"{rule.code} has no example that must not trigger it"
    for part in (rule.summary, rule.what, rule.why, rule.example, rule.fix):
        assert part and part.strip()
    assert rule.name == rule.name.lower() and " " not in rule.name
    doc = rule.documentation()
    for heading in ("## What it finds", "## Why it breaks", "## Example", "## Fix"):
        assert heading in doc


SCENARIOS = [pytest.param(rule, s, id=f"{rule.code}-{s}") for rule in all_rules() for s in rule.scenarios]


@pytest.mark.parametrize(("rule", "scenario"), SCENARIOS)
def test_rule_scenarios_replay(rule, scenario):
    """A rule's linked scenario exists and replays on the reference worker."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    assert (repo / scenario).is_file(), f"{rule.code} links a missing scenario {scenario}"
    run = subprocess.run([sys.executable, "-m", "qlint", "simulate", scenario, "--format", "json"],
                         cwd=repo, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "executions" in run.stdout
