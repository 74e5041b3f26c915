"""`qlint simulate --from-findings`: the checker's findings replayed in real projects, before and after the fix."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import pytest

from qlint.cli import main
from qlint.model import Finding, Span
from qlint.rule import Rule
from qlint.worker.from_findings import replay_finding
from qlint.worker.from_project import load_project

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'
TWO_TASKS = ("from proj.celery import app\n\n\n@app.task{options}\ndef build(x):\n    return x\n\n\n"
             "@app.task\ndef thumb(x):\n    return x\n")


def project(root: Path, config: str, task_options: str = "", **extra: str) -> Path:
    files = {"proj/__init__.py": "", "proj/celery.py": APP, "proj/celeryconfig.py": config,
             "proj/tasks.py": TWO_TASKS.format(options=task_options), **extra}
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def from_findings(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["simulate", "--from-findings", *args, "--no-cache"])
    out, err = capsys.readouterr()
    return code, out, err


def replays_by_code(capsys, path: Path) -> dict[str, dict[str, Any]]:
    code, out, _ = from_findings(capsys, str(path), "--format", "json")
    assert code == 0
    doc = json.loads(out)
    return {r["finding"]["code"]: r for r in doc["replays"]} | {"not_replayable": doc["not_replayable"]}


def test_incident_replays_ql101_and_ql401_before_and_after(capsys):
    found = replays_by_code(capsys, EXAMPLES / "incident")
    ql101, ql401 = found["QL101"], found["QL401"]
    assert ql101["replayed"] and ql401["replayed"]
    # QL101: the 20 h report (declared in [tool.qlint.tasks]) on 3 replicas x 4 processes
    before, after = ql101["before"]["summary"], ql101["after"]["summary"]
    assert before["executions_per_id"]["long"] >= 12 and before["duplicates"] > 0
    assert {e["worker"] for e in ql101["before"]["executions"]} == {"worker-1", "worker-2", "worker-3"}
    assert after["duplicates"] == 0 and after["executions_per_id"]["long"] == 1
    assert after["max_queue_wait"] < before["max_queue_wait"]
    vt = ql101["after"]["settings"]["broker_transport_options"]["visibility_timeout"]
    assert vt > 86400 and ql101["before"]["settings"]["broker_transport_options"] == {}
    assert ql101["scenario"]["tasks"]["uploads.tasks.build_report"]["duration"] == 20 * 3600
    # QL401: what the first worker up reserved waits; with prefetch 1 the others take it at once
    assert ql401["after"]["summary"]["max_queue_wait"] < 300 < ql401["before"]["summary"]["max_queue_wait"]
    assert {e["worker"] for e in ql401["after"]["executions"]} == {"worker-1", "worker-2", "worker-3"}
    assert any("visibility timeout" in n for n in ql401["notes"])  # its remaining duplicates are QL101's
    assert {f["code"] for f in found["not_replayable"]} == {"QL201", "QL301"}


def test_incident_text_shows_each_finding_then_before_and_after(capsys):
    code, out, _ = from_findings(capsys, str(EXAMPLES / "incident"))
    assert code == 0
    blocks = {b.split(" ", 2)[1]: b for b in out.strip().split("\n\n")[:-1]}
    ql101 = blocks["QL101"].splitlines()
    assert ql101[0].startswith("examples/incident/insights/settings/base.py:11:1: QL101 tasks of app 'insights'")
    assert ql101[1].startswith("  replay: uploads.tasks.build_report (20 h) at 0 s;")
    assert "worker-3 (-c 4, prefetch ×4)" in ql101[1]
    assert ql101[2].startswith("  before: duplicates ") and not ql101[2].startswith("  before: duplicates 0")
    assert ql101[3].startswith("  after (visibility_timeout ") and ": duplicates 0," in ql101[3]
    assert out.strip().splitlines()[-1] == \
        "Replayed 2 of 2 replayable findings. 2 other findings have no replay (QL201, QL301)."


def test_fixed_example_has_nothing_to_replay(capsys):
    code, out, _ = from_findings(capsys, str(EXAMPLES / "fixed"))
    assert code == 0 and out == "No findings: nothing to replay.\n"


def test_svg_folder_gets_one_chart_per_finding(tmp_path, capsys):
    charts = tmp_path / "charts" / "new"
    code, out, _ = from_findings(capsys, str(EXAMPLES / "incident"), "--svg", str(charts))
    assert code == 0
    written = sorted(p.name for p in charts.iterdir())
    assert written == ["01-QL401.svg", "02-QL101.svg"]  # in the order of the findings
    for path in charts.iterdir():
        svg = path.read_text()
        assert svg.startswith("<svg") and svg.count("<svg") == 3  # the document, before, after
        assert ": before</text>" in svg and ": after (" in svg and "worker-3/4" in svg
        assert f"chart: {path}" in out


def test_late_ack_unbounded_fix_depends_on_the_declared_duration(tmp_path, capsys):
    config = 'broker_url = "redis://localhost:6379/0"\ntask_acks_late = True\n'
    bare = project(tmp_path / "bare", config)
    ql102 = replays_by_code(capsys, bare)["QL102"]
    assert ql102["before"]["summary"]["duplicates"] > 0
    assert ql102["after"]["settings"]["task_time_limit"] < 3600  # no declared duration: bound the runs
    after = ql102["after"]
    assert after["summary"]["duplicates"] == 0
    assert [e["outcome"] for e in after["executions"] if e["id"] == "long"] == ["time-limit"]
    assert any("3 single-process workers" in n for n in ql102["notes"])

    declared = project(tmp_path / "declared", config,
                       **{"pyproject.toml": '[tool.qlint.tasks]\n"proj.tasks.build" = "5h"\n'})
    ql102 = replays_by_code(capsys, declared)["QL102"]
    assert ql102["scenario"]["tasks"]["proj.tasks.build"]["duration"] == 5 * 3600
    assert ql102["after"]["settings"]["broker_transport_options"]["visibility_timeout"] > 5 * 3600
    assert ql102["after"]["settings"]["task_time_limit"] is None  # no limit: the timeout covers the run
    assert ql102["before"]["summary"]["duplicates"] > 0 and ql102["after"]["summary"]["duplicates"] == 0
    assert [e["outcome"] for e in ql102["after"]["executions"] if e["id"] == "long"] == ["success"]


def test_task_level_late_ack_replays_that_task(tmp_path, capsys):
    root = project(tmp_path / "p", 'broker_url = "redis://localhost"\n', "(acks_late=True, time_limit=3 * 3600)")
    ql101 = replays_by_code(capsys, root)["QL101"]
    assert ql101["finding"]["message"].startswith("task proj.tasks.build is acknowledged late")
    assert ql101["scenario"]["submit"][0] == {"at": 0, "task": "proj.tasks.build", "id": "long"}
    # no declared duration: a run as long as the limit allows, capped at three timeouts
    assert ql101["scenario"]["tasks"]["proj.tasks.build"]["duration"] == 3 * 3600
    assert ql101["before"]["summary"]["executions_per_id"]["long"] >= 2
    assert ql101["after"]["summary"]["executions_per_id"]["long"] == 1


def test_prefetch_with_early_ack_gets_late_ack_and_prefetch_one(tmp_path, capsys):
    root = project(tmp_path / "p", 'broker_url = "redis://localhost"\n',
                   **{"pyproject.toml": '[tool.qlint.tasks]\n"proj.tasks.build" = "30m"\n',
                      "proj/views.py": "from proj.tasks import build\n\n\ndef go(x):\n    build.delay(x)\n"})
    ql401 = replays_by_code(capsys, root)["QL401"]
    before, after = ql401["before"], ql401["after"]
    # w1 is up first and reserves 3 short tasks behind the 30 min build; w2 and w3 idle
    assert [w["prefetch_multiplier"] for w in ql401["scenario"]["workers"]] == [None, None, None]
    assert before["summary"]["max_queue_wait"] >= 1800
    assert after["summary"]["max_queue_wait"] < 300
    assert before["summary"]["duplicates"] == after["summary"]["duplicates"] == 0
    assert after["settings"]["task_acks_late"] is True and ql401["fix"].endswith("with late acknowledgement")


def test_a_rules_own_scenario_for_hook_is_replayed(tmp_path):
    root = project(tmp_path / "p", 'broker_url = "redis://localhost"\nworker_prefetch_multiplier = 1\n')

    class RevokeLost(Rule):
        code, name, severity, summary = "QL999", "revoke-lost", "warning", "a revoke is lost on restart"

        def scenario_for(self, finding: Finding, project) -> Mapping[str, object] | None:
            task = next(iter(project.apps[0].tasks))
            return {"workers": [{"name": "w", "concurrency": 1}],
                    "tasks": {task: {"duration": 30}},
                    "submit": [{"at": 0, "task": task, "id": "victim", "countdown": 600}],
                    "faults": [{"at": 10, "revoke": "victim"}, {"at": 20, "stop": "w"}, {"at": 30, "restart": "w"}],
                    "until": 1200,
                    "fixed": {"workers": [{"name": "w", "concurrency": 1, "statedb": "/var/run/w.state"}]},
                    "fix": "a state db", "notes": ["from the rule"]}

    loaded = load_project(root, use_cache=False)
    finding = RevokeLost().finding("revokes are lost", Span("proj/celeryconfig.py", 1))
    replay = replay_finding(finding, loaded, RevokeLost().scenario_for(finding, loaded.analysis.project))
    assert replay.reason is None and replay.fix == "a state db" and replay.notes[-1] == "from the rule"
    assert replay.before_trace.summary()["executions_per_id"]["victim"] == 1
    assert replay.after_trace.summary()["executions_per_id"]["victim"] == 0


def test_a_finding_that_cannot_be_replayed_says_why(tmp_path):
    for name in ("one", "two"):
        (tmp_path / f"{name}.py").write_text(f'from celery import Celery\n\n{name} = Celery("{name}", broker="redis://r")\n'
                                             f'{name}.conf.task_acks_late = True\n')
    loaded = load_project(tmp_path, use_cache=False)
    finding = Finding("QL102", "late-ack-unbounded", "warning", "late acks without a limit", Span("one.py", 4))
    replay = replay_finding(finding, loaded)
    assert replay.before_trace is None and replay.reason == "cannot tell which app of the project the finding is about"
    named = Finding("QL102", "late-ack-unbounded", "warning", "tasks of app 'two' are late", Span("two.py", 4))
    replay = replay_finding(named, loaded)
    assert replay.reason is None and replay.scenario["app"] == "two.py:two"
    assert replay.scenario["tasks"] == {"long-task": {"duration": 3 * 3600}}
    assert any("has no task qlint can see" in n for n in replay.notes)


def test_rule_without_replay_is_listed(tmp_path, capsys):
    root = project(tmp_path / "p", 'broker_url = "redis://localhost"\ntask_soft_time_limit = 100\ntask_time_limit = 50\n')
    code, out, _ = from_findings(capsys, str(root))
    assert code == 0 and out.strip().splitlines()[-1].startswith("Replayed 0 of 0 replayable findings. 1 other finding has")


@pytest.mark.parametrize("args, message", [
    (["simulate"], "give a scenario file, or --from-findings"),
    (["simulate", "x.yaml", "--from-findings", "."], "not both"),
    (["simulate", "--from-findings", ".", "--real"], "virtual time only"),
    (["simulate", "--from-findings", "no/such/folder"], "no such folder"),
    (["simulate", "--from-findings", ".", "--seed", "3"], "--seed applies to a scenario file"),
])
def test_usage_errors(capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_unwritable_chart_folder_is_a_usage_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = from_findings(capsys, str(EXAMPLES / "incident"), "--svg", str(blocker / "charts"))
    assert code == 2 and "cannot write charts" in err


def test_prefetch_with_a_single_task_resubmits_it(tmp_path, capsys):
    root = tmp_path / "p"
    (root / "proj").mkdir(parents=True)
    (root / "proj" / "__init__.py").write_text("")
    (root / "proj" / "celery.py").write_text(APP)
    (root / "proj" / "celeryconfig.py").write_text('broker_url = "redis://r"\ntask_time_limit = 7200\n'
                                                   'broker_transport_options = {"visibility_timeout": 36000}\n')
    (root / "proj" / "tasks.py").write_text("from proj.celery import app\n\n\n@app.task\ndef build(x):\n    return x\n")
    ql401 = replays_by_code(capsys, root)["QL401"]
    # two more copies than the first worker runs: the two other workers can take them at once
    assert [(s["task"], s["count"]) for s in ql401["scenario"]["submit"]] == [("proj.tasks.build", 1), ("proj.tasks.build", 2)]
    # both copies are reserved by the first worker: they run there after its first run, one by one (from the
    # end of its mingle, 1 s)
    assert [e["start"] for e in ql401["before"]["executions"]] == [1, 7201, 14401]
    assert {e["worker"] for e in ql401["before"]["executions"]} == {"w1"}
    # fixed, a copy waits only for the other worker to come up (at 1 s, consuming after its mingle at 2 s)
    assert ql401["after"]["summary"]["max_queue_wait"] <= 2
    assert ql401["before"]["summary"]["duplicates"] == ql401["after"]["summary"]["duplicates"] == 0


DEPLOYED = Path(__file__).resolve().parents[1] / "data" / "deployed"


def test_each_finding_replays_the_deployment_it_is_about(capsys):
    """A project shipped several ways (tests/data/deployed): each QL401 finding is replayed
    with the workers of its own file, and BROKER_URL, which each file sets to its own Redis,
    is taken as those workers see it."""
    code, out, _ = from_findings(capsys, str(DEPLOYED), "--format", "json")
    assert code == 0
    replays = {(r["finding"]["code"], Path(r["finding"]["path"]).resolve().relative_to(DEPLOYED).as_posix()): r
               for r in json.loads(out)["replays"]}
    k8s = replays[("QL401", "deploy/k8s/worker.yaml")]
    assert k8s["replayed"] and k8s["scenario"]["deployment"] == "deploy/k8s/worker.yaml"
    workers = {(w["name"], w["concurrency"]) for w in k8s["scenario"]["workers"]}
    assert workers == {("images-celery-1", 4), ("images-celery-2", 4), ("images-celery-3", 4)}  # $(CONC), 3 replicas
    assert k8s["scenario"]["submit"][0]["task"] == "proj.tasks.resize"  # the task its queue receives
    assert k8s["before"]["settings"]["broker_url"] == "redis://redis.prod:6379/0"
    compose = replays[("QL101", "docker-compose.yml")]
    assert compose["replayed"], compose.get("reason")
    assert compose["before"]["settings"]["broker_url"] == "redis://redis:6379/1"  # .env, through env_file
    assert compose["before"]["summary"]["duplicates"] > 0 and compose["after"]["summary"]["duplicates"] == 0
    assert not any("depends on a condition" in note for r in replays.values() for note in r.get("notes") or [])


def test_a_scenario_names_the_deployment_to_replay(tmp_path, capsys):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"project: {DEPLOYED}\ndeployment: ops/supervisord.conf\nunresolved: default\n"
                        "submit: [{task: proj.tasks.build_report}]\n")
    assert main(["simulate", str(scenario), "--format", "json", "--no-cache"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {e["worker"] for e in doc["executions"]} <= {"celery-reports-1", "celery-reports-2"}
    scenario.write_text(f"project: {DEPLOYED}\ndeployment: nowhere.yml\nsubmit: [{{task: proj.tasks.build_report}}]\n")
    assert main(["simulate", str(scenario), "--no-cache"]) == 2
    assert "deployment: nowhere.yml starts no worker of app 'proj'" in capsys.readouterr().err
