"""The project form names what the project sets and the reference worker leaves out, and replays
the rest: settings, transport options, worker command-line options and task options."""
from __future__ import annotations

from pathlib import Path

from .test_project_scenarios import celery_project, prepare

CONFIG = '''broker_url = "redis://redis:6379/0"
broker_transport_options = {"visibility_timeout": 7200, "global_keyprefix": "proj:"}
task_serializer = "yaml"
task_compression = "zlib"
timezone = "Europe/Paris"
'''
TASKS = '''from proj.celery import app


@app.task(rate_limit="1/s", acks_late=True)
def build(x):
    return x
'''


def test_what_the_model_leaves_out_is_in_the_notes(tmp_path: Path):
    celery_project(tmp_path / "p", CONFIG, **{
        "proj/tasks.py": TASKS,
        "Procfile": "worker: celery -A proj worker -c 2 -P gevent --max-tasks-per-child 10 -O fair --disable-prefetch "
                    "--without-mingle\n"})
    (tmp_path / "s.yaml").write_text("project: p\ntasks: {proj.tasks.build: {duration: 5}}\n"
                                     "submit: [{task: proj.tasks.build, args: [1]}]\n")
    prepared = prepare((tmp_path / "s.yaml").read_text(), tmp_path)
    notes = "\n".join(prepared.notes)
    assert "broker_transport_options global_keyprefix: not modelled, not replayed" in notes
    assert "task_serializer 'yaml' is not modelled" in notes
    assert "settings the reference worker does not model, not replayed: timezone (" in notes
    assert "options the reference worker does not model, not replayed: max_tasks_per_child=10, pool=gevent" in notes
    assert "task proj.tasks.build: options the reference worker does not model, not replayed: rate_limit" in notes
    # What is modelled is replayed: the timeout, zlib, the task's late ack, the worker's --disable-prefetch and
    # --without-mingle.
    assert prepared.settings["broker_transport_options"] == {"visibility_timeout": 7200}
    assert prepared.settings["task_compression"] == "zlib" and "task_serializer" not in prepared.settings
    assert prepared.scenario.tasks["proj.tasks.build"].acks_late is True
    workers = prepared.scenario.workers
    assert [(w.concurrency, w.disable_prefetch, w.without_mingle) for w in workers] == [(2, True, True)]
    assert "optimization" not in notes and "disable_prefetch" not in notes and "mingle" not in notes
