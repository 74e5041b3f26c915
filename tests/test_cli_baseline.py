"""`qlint baseline` and `qlint check --baseline`, end to end: the command in a subprocess on a
small project written to disk, edited between runs as a team edits its code."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

APP = (
    "from celery import Celery\n"
    "\n"
    'app = Celery("proj")\n'
    'app.conf.broker_url = "redis://localhost:6379/0"\n'
    "app.conf.task_ack_late = True\n"
    "app.conf.worker_prefetch_multipler = 1\n"
)


def qlint(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qlint", *args], cwd=cwd, capture_output=True, text=True)


def summary(stdout: str) -> str:
    """The summary line of the text report."""
    return next(line for line in stdout.splitlines() if line.startswith(("Found ", "All checks passed")))


def findings(*args: str, cwd: Path) -> list[dict]:
    run = qlint("check", "--no-cache", "--format", "json", *args, cwd=cwd)
    assert run.returncode in (0, 1), run.stderr
    return json.loads(run.stdout)["findings"]


def located(found: list[dict]) -> list[tuple[str, str, int]]:
    return sorted((f["code"], f["path"], f["line"]) for f in found)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


def make_project(tmp_path: Path) -> Path:
    """A project with two QL001 findings, on lines 5 and 6 of proj/celery.py."""
    root = tmp_path / "proj-root"
    (root / "proj").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "proj"\n', encoding="utf-8")
    (root / "proj" / "celery.py").write_text(APP, encoding="utf-8")
    return root


def write_baseline(root: Path, *args: str) -> dict:
    run = qlint("baseline", "--no-cache", *args, cwd=root)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    return json.loads((root / "qlint-baseline.json").read_text(encoding="utf-8"))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_round_trip_leaves_out_every_finding_and_says_so(project: Path) -> None:
    before = findings(cwd=project)
    assert located(before) == [("QL001", "proj/celery.py", 5), ("QL001", "proj/celery.py", 6)]
    data = write_baseline(project)
    assert data["version"] == 1
    assert [(e["code"], e["path"]) for e in data["findings"]] == [("QL001", "proj/celery.py")] * 2
    # Each entry carries the fingerprint the JSON report shows for the same finding.
    assert sorted(e["fingerprint"] for e in data["findings"]) == sorted(f["fingerprint"] for f in before)

    run = qlint("check", "--no-cache", "--baseline", "qlint-baseline.json", cwd=project)
    assert run.returncode == 0, run.stdout + run.stderr
    assert summary(run.stdout) == "All checks passed; 2 findings in the baseline not shown."
    assert findings("--baseline", "qlint-baseline.json", cwd=project) == []
    # Machine formats say it as a note.
    notes = json.loads(qlint("check", "--no-cache", "--format", "json", "--baseline", "qlint-baseline.json",
                             cwd=project).stdout)["notes"]
    assert [n["message"] for n in notes] == ["2 findings listed in the baseline not reported"]
    # Without the baseline, the same check still fails: the file is what made the difference.
    assert qlint("check", "--no-cache", cwd=project).returncode == 1


def test_the_file_is_stable_and_sorted(project: Path) -> None:
    (project / "jobs").mkdir()
    (project / "jobs" / "worker.py").write_text(APP.replace('"proj"', '"jobs"'), encoding="utf-8")
    first = (write_baseline(project), (project / "qlint-baseline.json").read_bytes())
    second = (write_baseline(project), (project / "qlint-baseline.json").read_bytes())
    assert first[1] == second[1]
    keys = [(e["path"], e["code"], e["fingerprint"]) for e in first[0]["findings"]]
    assert keys == sorted(keys) and len(keys) == 4
    assert [e["path"] for e in first[0]["findings"]] == ["jobs/worker.py"] * 2 + ["proj/celery.py"] * 2


def test_a_finding_survives_lines_inserted_above_it(project: Path) -> None:
    write_baseline(project)
    app = project / "proj" / "celery.py"
    edit(app, 'app = Celery("proj")\n', '# Our app.\n\n\napp = Celery(\n    "proj",\n)\n')
    edit(app, "app.conf.task_ack_late = True", "app.conf.task_ack_late  =  True  ")  # spacing only
    moved = findings(cwd=project)
    assert located(moved) == [("QL001", "proj/celery.py", 10), ("QL001", "proj/celery.py", 11)]
    assert findings("--baseline", "qlint-baseline.json", cwd=project) == []


def test_a_new_finding_of_the_same_rule_in_the_same_file_is_reported(project: Path) -> None:
    write_baseline(project)
    with (project / "proj" / "celery.py").open("a", encoding="utf-8") as handle:
        handle.write("app.conf.task_time_limitt = 3600\n")
    new = findings("--baseline", "qlint-baseline.json", cwd=project)
    assert located(new) == [("QL001", "proj/celery.py", 7)]
    assert "task_time_limitt" in new[0]["message"]
    run = qlint("check", "--no-cache", "--baseline", "qlint-baseline.json", cwd=project)
    assert run.returncode == 1
    assert summary(run.stdout) == "Found 1 finding (1 error); 2 findings in the baseline not shown."


def test_a_second_identical_line_is_a_new_finding(project: Path) -> None:
    write_baseline(project)
    with (project / "proj" / "celery.py").open("a", encoding="utf-8") as handle:
        handle.write("app.conf.task_ack_late = True\n")
    every = findings(cwd=project)
    assert located(every) == [("QL001", "proj/celery.py", n) for n in (5, 6, 7)]
    [new] = findings("--baseline", "qlint-baseline.json", cwd=project)
    assert (new["line"], new["fingerprint"]) == (7, every[2]["fingerprint"])
    # The copy is numbered after the baselined line, as in a run without the baseline.
    assert new["fingerprint"].endswith(":1") and every[0]["fingerprint"].endswith(":0")


def test_a_finding_whose_own_line_changed_is_new_again(project: Path) -> None:
    write_baseline(project)
    edit(project / "proj" / "celery.py", "app.conf.task_ack_late = True", "app.conf.task_ack_late = False")
    assert located(findings("--baseline", "qlint-baseline.json", cwd=project)) == [("QL001", "proj/celery.py", 5)]


def test_a_fixed_finding_leaves_the_others_baselined(project: Path) -> None:
    write_baseline(project)
    edit(project / "proj" / "celery.py", "worker_prefetch_multipler", "worker_prefetch_multiplier")
    run = qlint("check", "--no-cache", "--baseline", "qlint-baseline.json", cwd=project)
    assert run.returncode == 0, run.stdout
    assert summary(run.stdout) == "All checks passed; 1 finding in the baseline not shown."


def test_deployment_files_are_fingerprinted_from_their_own_text(tmp_path: Path) -> None:
    root = tmp_path / "incident"
    shutil.copytree(REPO / "examples" / "incident", root)
    compose = root / "docker-compose.yml"
    assert ("QL401", "docker-compose.yml") in {(f["code"], f["path"]) for f in findings(cwd=root)}
    write_baseline(root)
    compose.write_text("# the stack\n# of the team\n" + compose.read_text(encoding="utf-8"), encoding="utf-8")
    assert findings("--baseline", "qlint-baseline.json", cwd=root) == []
    edit(compose, "celery -A insights worker -l info -c 4", "celery -A insights worker -l warning -c 4")
    assert [(f["code"], f["path"]) for f in findings("--baseline", "qlint-baseline.json", cwd=root)] == [
        ("QL401", "docker-compose.yml")]


def test_an_unreadable_file_and_a_yaml_error_can_be_baselined(project: Path) -> None:
    (project / "docker-compose.yml").write_text("services:\n  worker:\n    command: [\n", encoding="utf-8")
    (project / "Procfile").write_bytes(b"worker: celery -A proj worker\x00\xff\n")
    found = findings(cwd=project)
    assert "QL000" in {f["code"] for f in found}
    write_baseline(project)
    assert findings("--baseline", "qlint-baseline.json", cwd=project) == []


def test_paths_are_relative_to_the_project_root_wherever_qlint_runs(project: Path) -> None:
    write_baseline(project)
    inner = project / "proj"
    # From a sub-folder, the findings' paths are shown relative to it, but they are the same
    # findings as the baseline's "proj/celery.py".
    shown = findings("..", cwd=inner)
    assert {f["path"] for f in shown} == {"../proj/celery.py"}
    assert findings("..", "--baseline", "../qlint-baseline.json", cwd=inner) == []


def test_a_single_file_checked_as_pre_commit_does_is_filtered_too(project: Path) -> None:
    write_baseline(project)
    assert located(findings("proj/celery.py", cwd=project)) == [("QL001", "proj/celery.py", 5), ("QL001", "proj/celery.py", 6)]
    assert findings("proj/celery.py", "--baseline", "qlint-baseline.json", cwd=project) == []


def test_the_configured_baseline_is_written_and_read(project: Path) -> None:
    (project / "pyproject.toml").write_text('[project]\nname = "proj"\n\n[tool.qlint]\nbaseline = "ci/accepted.json"\n',
                                            encoding="utf-8")
    (project / "ci").mkdir()
    run = qlint("baseline", "--no-cache", cwd=project)
    assert run.returncode == 0, run.stderr
    assert "wrote 2 findings to ci/accepted.json" in run.stderr
    assert not (project / "qlint-baseline.json").exists()
    run = qlint("check", "--no-cache", cwd=project)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 findings in the baseline not shown" in run.stdout


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "is not valid JSON: Expecting property name enclosed in double quotes at line 1, column 2"),
    ("[1, 2]", "is not a qlint baseline"),
    ('{"version": 9, "findings": []}', "has version 9; this qlint reads version 1"),
    ('{"version": 1, "findings": {}}', '"findings" must be a list'),
    ('{"version": 1, "findings": [{"code": "QL001", "path": 3}]}', "findings[0] must be an object"),
    (b"\xff\xfe{}", "is not UTF-8 text"),
])
def test_a_garbled_baseline_is_a_usage_error(project: Path, content: str | bytes, message: str) -> None:
    path = project / "broken.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    run = qlint("check", "--no-cache", "--baseline", "broken.json", cwd=project)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert run.stderr.startswith("qlint: error: ") and "broken.json" in run.stderr
    assert message in run.stderr and run.stderr.count("\n") == 1
    assert run.stdout == ""


def test_a_missing_baseline_is_a_usage_error(project: Path) -> None:
    run = qlint("check", "--no-cache", "--baseline", "nowhere.json", cwd=project)
    assert run.returncode == 2
    assert run.stderr == "qlint: error: baseline nowhere.json does not exist (`qlint baseline` writes one)\n"
