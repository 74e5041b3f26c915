"""Scenarios in the project form: settings, workers and tasks resolved from real projects on disk."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from qlint.cli import main
from qlint.worker import ScenarioError, parse_scenario, prepare_scenario, simulate
from qlint.worker.from_project import project_provider

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'
TASKS = ("from proj.celery import app\n\n\n@app.task\ndef build(x):\n    return x\n\n\n"
         "@app.task\ndef thumb(x):\n    return x\n")
INCIDENT_WORKLOAD = """
tasks:
  uploads.tasks.parse_upload: {duration: 60}
submit:
  - {at: 0, task: uploads.tasks.build_report, id: report}
  - {at: 1800, task: uploads.tasks.parse_upload, count: 40, every: 1800}
until: 86400
"""


def write_project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def celery_project(root: Path, config: str, **extra: str) -> Path:
    return write_project(root, {"proj/__init__.py": "", "proj/celery.py": APP, "proj/celeryconfig.py": config,
                                "proj/tasks.py": TASKS, **extra})


def prepare(text: str, base: Path):
    return prepare_scenario(parse_scenario(text), base, project_provider(use_cache=False))


def run_json(capsys, path: Path) -> dict:
    assert main(["simulate", str(path), "--format", "json", "--no-cache"]) == 0
    return json.loads(capsys.readouterr().out)


def test_shipped_project_incident_uses_the_compose_workers_and_duplicates_the_report(capsys):
    doc = run_json(capsys, EXAMPLES / "scenarios" / "project-incident.yaml")
    report = [e for e in doc["executions"] if e["id"] == "report"]
    # docker-compose.yml: 3 replicas of `celery worker -c 4`: every process ends up running the report
    assert {(e["worker"], e["slot"]) for e in report} == {(f"worker-{w}", s) for w in (1, 2, 3) for s in (1, 2, 3, 4)}
    assert doc["summary"]["executions_per_id"]["report"] >= 12
    assert doc["summary"]["max_queue_wait"] > 3600  # uploads wait behind the copies
    # the report's 20 h came from [tool.qlint.tasks]: the first run, from the end of the workers' mingle
    # (1 s), ends 20 h later
    assert report[0]["start"] == 1 and report[0]["end"] == 20 * 3600 + 1
    assert doc["notes"] == []


def test_fixed_project_replays_without_duplicates(tmp_path, capsys):
    scenario = tmp_path / "fixed.yaml"
    scenario.write_text(f"project: {EXAMPLES / 'fixed'}\n{INCIDENT_WORKLOAD}")
    doc = run_json(capsys, scenario)
    # nothing waits longer than the workers' mingle at start (1 s)
    assert doc["summary"]["duplicates"] == 0 and doc["summary"]["max_queue_wait"] <= 1
    assert {e["worker"] for e in doc["executions"]} <= {"worker-1", "worker-2", "worker-3"}


def test_settings_next_to_project_override_the_resolved_values(tmp_path):
    text = f"project: {EXAMPLES / 'incident'}\nsettings:\n  broker_transport_options: {{visibility_timeout: 90000}}\n" \
           f"  worker_prefetch_multiplier: 1\n{INCIDENT_WORKLOAD}"
    scenario, settings, notes = prepare(text, tmp_path)
    assert settings["broker_transport_options"] == {"visibility_timeout": 90000}
    assert settings["task_time_limit"] == 86400 and settings["task_acks_late"] is True  # still the project's
    # an override replaces what the workers resolved too (their command line included)
    assert [(w.name, w.concurrency, w.prefetch_multiplier) for w in scenario.workers] == \
        [("worker-1", 4, 1), ("worker-2", 4, 1), ("worker-3", 4, 1)]
    summary = simulate(scenario, settings).summary()
    assert summary["duplicates"] == 0 and summary["executions_per_id"]["report"] == 1


def test_declared_durations_task_options_and_scenario_durations(tmp_path):
    project = celery_project(
        tmp_path / "p", 'broker_url = "redis://localhost:6379/0"\n',
        **{"pyproject.toml": '[tool.qlint.tasks]\n"proj.tasks.build" = "3h"\n"proj.tasks.thumb" = "5m"\n',
           "proj/tasks.py": "from proj.celery import app\n\n\n@app.task(acks_late=True, time_limit=4 * 3600)\n"
                            "def build(x):\n    return x\n\n\n@app.task\ndef thumb(x):\n    return x\n"})
    text = f"""project: {project}
workers: [{{name: a, concurrency: 1, without_mingle: true}}, {{name: b, concurrency: 1, without_mingle: true}}]
tasks: {{proj.tasks.thumb: {{duration: 30}}}}
submit: [{{at: 0, task: proj.tasks.build, id: b1}}, {{at: 10, task: proj.tasks.thumb, id: t1}}]
"""
    scenario, settings, notes = prepare(text, tmp_path)
    build, thumb = scenario.tasks["proj.tasks.build"], scenario.tasks["proj.tasks.thumb"]
    assert (build.duration, build.acks_late, build.time_limit) == (3 * 3600, True, 4 * 3600)
    assert thumb.duration == 30  # the scenario's duration beats the declared 5 min
    assert settings["broker_url"] == "redis://localhost:6379/0" and "task_acks_late" in settings
    # the task's own acks_late and 4 h limit on Redis's 1 h timeout: the 3 h build is handed
    # out again after 1 h (to b), and again once that copy has been unacked for an hour
    # (to a, still busy: it runs the copy after its own run and the thumbnail)
    trace = simulate(scenario, settings)
    assert [(e.worker, e.start) for e in trace.executions if e.id == "b1"] == [("a", 0), ("b", 3600), ("a", 10860)]
    assert [e.at for e in trace.events if e.kind == "restore" and e.message == "b1"][:2] == [3600, 7200]
    # thumb (early ack) was reserved by a behind the build: it first runs when the build ends
    assert min(e.start for e in trace.executions if e.id == "t1") == 3 * 3600


def test_project_tasks_need_no_tasks_key_and_unknown_tasks_are_named(tmp_path):
    project = celery_project(tmp_path / "p", 'broker_url = "redis://localhost"\n')
    scenario, _, notes = prepare(f"project: {project}\nworkers: [{{name: w}}]\nsubmit: [{{task: proj.tasks.build}}]\n",
                                 tmp_path)
    assert scenario.tasks["proj.tasks.build"].duration == 1.0
    assert notes == ["task proj.tasks.build: no duration in the scenario or [tool.qlint.tasks]; 1 s assumed"]
    with pytest.raises(ScenarioError, match=r"unknown task 'proj.tasks.nope' \(tasks: proj.tasks.build, proj.tasks.thumb\)"):
        prepare(f"project: {project}\nworkers: [{{name: w}}]\nsubmit: [{{task: proj.tasks.nope}}]\n", tmp_path)


def test_unresolved_values_are_refused_by_name_or_replayed_with_defaults(tmp_path):
    project = celery_project(
        tmp_path / "p",
        'import os\nbroker_url = "redis://localhost"\ntask_acks_late = True\n'
        'broker_transport_options = {"visibility_timeout": int(os.environ["VT"]), "unacked_restore_interval": 5}\n'
        'if os.environ.get("SLOW"):\n    task_time_limit = 7200\nelse:\n    task_time_limit = 600\n')
    body = "workers: [{name: w, concurrency: 2}]\nsubmit: [{task: proj.tasks.build}]\n"
    with pytest.raises(ScenarioError) as refused:
        prepare(f"project: {project}\n{body}", tmp_path)
    message = str(refused.value)
    assert "app 'proj': broker_transport_options['visibility_timeout']: environment variable VT" in message
    assert "app 'proj': task_time_limit: depends on a condition" in message and "celeryconfig.py:8" in message
    assert "unresolved: default" in message
    # a value given next to project: is not resolved, so it is not refused
    scenario, settings, _ = prepare(f"project: {project}\nunresolved: default\n{body}", tmp_path)
    assert settings["broker_transport_options"] == {"unacked_restore_interval": 5}
    assert "task_time_limit" not in settings
    _, settings, notes = prepare(f"project: {project}\nsettings: {{task_time_limit: 60, broker_transport_options: {{}}}}\n"
                                 f"{body}", tmp_path)
    assert settings["task_time_limit"] == 60 and notes == ["task proj.tasks.build: no duration in the scenario or "
                                                             "[tool.qlint.tasks]; 1 s assumed"]


def test_several_branches_that_agree_are_concrete(tmp_path):
    project = celery_project(
        tmp_path / "p", 'import os\nbroker_url = "redis://localhost"\n'
                        'if os.environ.get("A"):\n    task_time_limit = 900\nelse:\n    task_time_limit = 900\n'
                        'worker_prefetch_multiplier = int(os.environ.get("PF", 2))\n')
    _, settings, notes = prepare(f"project: {project}\nworkers: [{{name: w}}]\nsubmit: [{{task: proj.tasks.build}}]\n",
                                 tmp_path)
    assert settings["task_time_limit"] == 900
    assert settings["worker_prefetch_multiplier"] == 2
    assert any("environment variable PF taken as unset" in n for n in notes)


def test_several_apps_need_app(tmp_path):
    project = write_project(tmp_path / "p", {
        "one.py": 'from celery import Celery\n\nfirst = Celery("first", broker="redis://a")\n\n\n'
                  '@first.task\ndef job():\n    pass\n',
        "two.py": 'from celery import Celery\n\nsecond = Celery("second", broker="amqp://b")\n\n\n'
                  '@second.task\ndef job():\n    pass\n',
    })
    body = "workers: [{name: w}]\nsubmit: [{task: one.job}]\n"
    with pytest.raises(ScenarioError, match=r"several apps: first \(one.py:first\), second \(two.py:second\); name one with app: NAME"):
        prepare(f"project: {project}\n{body}", tmp_path)
    with pytest.raises(ScenarioError, match="no app named 'third'"):
        prepare(f"project: {project}\napp: third\n{body}", tmp_path)
    _, settings, _ = prepare(f"project: {project}\napp: first\n{body}", tmp_path)
    assert settings["broker_url"] == "redis://a"
    with pytest.raises(ScenarioError, match="unknown task 'one.job'"):
        prepare(f"project: {project}\napp: second\n{body}", tmp_path)


def test_workers_from_procfile_and_compose_with_replicas_and_cpus(tmp_path):
    project = celery_project(
        tmp_path / "p", 'broker_url = "redis://localhost"\nworker_prefetch_multiplier = 8\n',
        **{"docker-compose.yml": "services:\n  fast:\n    command: celery -A proj worker -c 2 --prefetch-multiplier=1 -n fast\n"
                                 "    deploy: {replicas: 2}\n"
                                 "  slow:\n    command: celery -A proj worker --statedb=/var/run/celery/w.state\n"})
    body = "submit: [{task: proj.tasks.build}]\nfaults: [{at: 5, kill: fast-2}]\n"
    with pytest.raises(ScenarioError, match=r"worker 'slow' .*: worker_concurrency: one process per CPU .*give cpus: N"):
        prepare(f"project: {project}\n{body}", tmp_path)
    scenario, settings, _ = prepare(f"project: {project}\ncpus: 3\n{body}", tmp_path)
    assert [(w.name, w.concurrency, w.prefetch_multiplier, w.statedb) for w in scenario.workers] == [
        ("fast-1", 2, 1, None), ("fast-2", 2, 1, None), ("slow", 3, 8, "/var/run/celery/w.state")]
    trace = simulate(scenario, settings)
    assert trace.workers == {"fast-1": 2, "fast-2": 2, "slow": 3}
    with pytest.raises(ScenarioError, match=r"faults\[0\]: unknown worker 'fast-3'"):
        prepare(f"project: {project}\ncpus: 3\nsubmit: [{{task: proj.tasks.build}}]\nfaults: [{{at: 5, kill: fast-3}}]\n",
                tmp_path)


def test_workers_that_disagree_on_a_time_limit_are_refused(tmp_path):
    project = celery_project(
        tmp_path / "p", 'broker_url = "redis://localhost"\ntask_time_limit = 600\n',
        **{"Procfile": "a: celery -A proj worker -c 1 --time-limit=7200\nb: celery -A proj worker -c 1\n"})
    body = "submit: [{task: proj.tasks.build}]\n"
    with pytest.raises(ScenarioError, match=r"task_time_limit: the workers run with different values \(a: 7200(\.0)?, b: 600\)"):
        prepare(f"project: {project}\n{body}", tmp_path)
    _, settings, _ = prepare(f"project: {project}\nsettings: {{task_time_limit: 100}}\n{body}", tmp_path)
    assert settings["task_time_limit"] == 100


def test_project_without_workers_needs_workers(tmp_path):
    project = celery_project(tmp_path / "p", 'broker_url = "redis://localhost"\n')
    with pytest.raises(ScenarioError, match="no deployment file of project .* starts a worker of app 'proj' \\(give workers:\\)"):
        prepare(f"project: {project}\nsubmit: [{{task: proj.tasks.build}}]\n", tmp_path)
    scenario, _, notes = prepare(f"project: {project}\nunresolved: default\ncpus: 2\nsubmit: [{{task: proj.tasks.build}}]\n",
                                 tmp_path)
    assert [(w.name, w.concurrency) for w in scenario.workers] == [("worker", 2)]
    assert any("one worker with the app's settings used" in n for n in notes)


def test_broker_assumed_from_qlint_config(tmp_path):
    project = celery_project(tmp_path / "p", "task_acks_late = True\n",
                             **{"pyproject.toml": '[tool.qlint]\nbroker = "redis"\n'})
    _, settings, notes = prepare(f"project: {project}\nworkers: [{{name: w}}]\nsubmit: [{{task: proj.tasks.build}}]\n",
                                 tmp_path)
    assert settings["broker_url"] == "redis://"
    assert any("assumed from [tool.qlint] broker" in n for n in notes)


@pytest.mark.parametrize("text, message", [
    ("project: missing\nsubmit: [{task: t}]\n", "no such folder"),
    ("app: x\nworkers: [{name: w}]\ntasks: {t: {}}\nsubmit: [{task: t}]\n", "app applies to the project form only"),
    ("submit: [{task: t}]\ntasks: {t: {}}\n", "give at least one worker (or project: PATH"),
])
def test_bad_project_scenarios_get_a_clear_message(tmp_path, capsys, text, message):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    assert main(["simulate", str(path), "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_qlint_config_in_the_project_is_a_clear_message(tmp_path, capsys):
    project = celery_project(tmp_path / "p", 'broker_url = "redis://localhost"\n',
                             **{"pyproject.toml": '[tool.qlint]\nlong-task-seconds = "soon"\n'})
    path = tmp_path / "s.yaml"
    path.write_text(f"project: {project.name}\nworkers: [{{name: w}}]\nsubmit: [{{task: proj.tasks.build}}]\n")
    assert main(["simulate", str(path), "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert "long-task-seconds" in err and "Traceback" not in err


def test_workers_of_other_queues_are_not_replayed(tmp_path):
    project = celery_project(
        tmp_path / "p", 'broker_url = "redis://localhost"\ntask_routes = {"proj.tasks.build": {"queue": "long"}}\n',
        **{"Procfile": "short: celery -A proj worker -c 2 -Q celery\nlong: celery -A proj worker -c 1 -Q long,celery\n"})
    scenario, _, notes = prepare(f"project: {project}\nsubmit: [{{task: proj.tasks.build}}]\n", tmp_path)
    assert [w.name for w in scenario.workers] == ["long"]
    assert "worker 'short' consumes celery, not the queues of the scenario's tasks (long): not replayed" in notes
    scenario, _, _ = prepare(f"project: {project}\nsubmit: [{{task: proj.tasks.build}}, {{task: proj.tasks.thumb}}]\n",
                             tmp_path)
    assert [(w.name, w.concurrency) for w in scenario.workers] == [("short", 2), ("long", 1)]


def test_apps_with_the_same_name_are_told_apart_by_path(tmp_path):
    for side, broker in (("a", "redis://a"), ("b", "amqp://b")):
        write_project(tmp_path / side, {"proj/__init__.py": "", "proj/celery.py":
                                        f'from celery import Celery\n\napp = Celery("proj", broker="{broker}")\n\n\n'
                                        '@app.task\ndef job():\n    pass\n'})
    body = "workers: [{name: w}]\nsubmit: [{task: proj.celery.job}]\n"
    with pytest.raises(ScenarioError, match=r"several apps match 'proj': a/proj/celery.py:app, b/proj/celery.py:app; name one as PATH:VAR"):
        prepare(f"project: {tmp_path}\napp: proj\n{body}", tmp_path)
    _, settings, _ = prepare(f"project: {tmp_path}\napp: b/proj/celery.py:app\n{body}", tmp_path)
    assert settings["broker_url"] == "amqp://b"
