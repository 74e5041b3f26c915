"""QL304 result-get-in-task: which waits are reported, with which message, on real projects."""
from __future__ import annotations

from pathlib import Path

import pytest

from qlint.pipeline.analysis import analyse
from qlint.model import Finding
from qlint.rules.result_get_in_task import ResultGetInTask

APP = 'from celery import Celery\n\napp = Celery("proj")\n'
HEADER = ("from celery import chain, chord, group\nfrom celery.result import AsyncResult, allow_join_result\n\n"
          "from proj.celery import app\n\n\n@app.task\ndef fetch(u=None):\n    return u\n\n\n")


def check(root: Path, body: str, path: str = "proj/tasks.py") -> list[Finding]:
    files = {"proj/__init__.py": "", "proj/celery.py": APP, path: HEADER + body}
    if path != "proj/tasks.py":
        files["proj/tasks.py"] = HEADER
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return list(ResultGetInTask().check(analyse(["."], cwd=root, root=root, use_cache=False).project))


RAISES = [
    "@app.task\ndef report(u):\n    return fetch.delay(u).get()\n",
    "@app.task\ndef report(u):\n    r = fetch.apply_async((u,))\n    return r.wait(timeout=5)\n",
    "@app.task\ndef report(us):\n    return group(fetch.s(u) for u in us).apply_async().join()\n",
    "@app.task\ndef report(us):\n    return group([fetch.s(u) for u in us])().get()\n",
    "@app.task\ndef report(u):\n    return (fetch.s(u) | fetch.s()).delay().get()\n",
    "@app.task(bind=True)\ndef report(self, task_id):\n    return AsyncResult(task_id).get()\n",
    "@app.task(bind=True)\ndef report(self, task_id):\n    return self.app.AsyncResult(task_id).get(propagate=False)\n",
]


@pytest.mark.parametrize("body", RAISES)
def test_waits_that_celery_refuses(tmp_path, body):
    (finding,) = check(tmp_path, body)
    assert finding.message.startswith("task proj.tasks.report calls .")
    assert "raise RuntimeError (never call result.get() within a task)" in finding.message
    assert finding.severity == "error" and finding.span.path == "proj/tasks.py"


DEADLOCKS = [
    ("@app.task\ndef report(u):\n    return fetch.delay(u).get(disable_sync_subtasks=False)\n", "task proj.tasks.report",
     "disable_sync_subtasks=False"),
    ("@app.task\ndef report(u):\n    r = fetch.delay(u)\n    with allow_join_result():\n        return r.get()\n",
     "task proj.tasks.report", "allow_join_result()"),
    ("def helper(results):\n    out = []\n    for r in results:\n        out.append(r.join(disable_sync_subtasks=False))\n"
     "    return out\n", "this code", "disable_sync_subtasks=False"),
]


@pytest.mark.parametrize(("body", "who", "switch"), DEADLOCKS)
def test_waits_with_the_guard_switched_off(tmp_path, body, who, switch):
    (finding,) = check(tmp_path, body)
    assert finding.message == (f"{who} waits for a task result with Celery's guard switched off ({switch}): each "
                               "waiting worker process holds its slot until the subtask runs, and when every process "
                               "waits, nothing runs the subtasks (deadlock)")


SILENT = [
    "def view(u):\n    return fetch.delay(u).get(timeout=10)\n",  # not in a task
    "@app.task\ndef report(options):\n    return options.get('x')\n",
    "@app.task\ndef report(cache, key):\n    with allow_join_result():\n        return cache.get(key)\n",
    "@app.task\ndef report(u):\n    return fetch.s(u)().get('x')\n",  # calling a signature runs the task here
    "@app.task\ndef report(u):\n    def later():\n        return fetch.delay(u).get()\n    return later\n",
    "@app.task\ndef report(u):\n    r = fetch.delay(u)\n    with allow_join_result():\n        pass\n    return r.id\n",
    # apply() runs the task in this process; its EagerResult already holds the value
    "def run_here(sig):\n    eager = sig.apply()\n    return eager.get(propagate=True, disable_sync_subtasks=False)\n",
    "@app.task\ndef report(u):\n    return fetch.s(u).apply().get(disable_sync_subtasks=False)\n",
]


@pytest.mark.parametrize("body", SILENT)
def test_silent(tmp_path, body):
    assert check(tmp_path, body) == []


def test_tests_may_switch_the_guard_off(tmp_path):
    body = "def test_flow():\n    assert fetch.delay(1).get(disable_sync_subtasks=False) == 1\n"
    assert check(tmp_path, body, "tests/test_flow.py") == []


def test_span_is_the_wait(tmp_path):
    (finding,) = check(tmp_path, "@app.task\ndef report(u):\n    return fetch.delay(u).get()\n")
    line = HEADER.count("\n") + 3
    assert (finding.span.line, finding.span.column) == (line, len("    return ") + 1)
    assert finding.span.end_column == len("    return fetch.delay(u).get") + 1


def test_an_eager_result_waits_for_nothing():
    from celery import Celery
    from celery.result import EagerResult

    app = Celery("eager", set_as_current=False)

    @app.task
    def double(x):
        return 2 * x

    eager = double.s(21).apply()
    assert isinstance(eager, EagerResult) and eager.ready()
    assert eager.get(propagate=True, disable_sync_subtasks=False) == 42
