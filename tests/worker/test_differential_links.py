"""link and link_error, real Celery against the reference worker: the success callback gets the
parent's result before its own arguments; an errback that takes one argument (or is bound) is sent
as a task with the failed task's id first, an immutable one with its own arguments only, and one that
takes (request, exc, traceback) is called in the worker, never sent. Runs, their arguments and their
order must agree."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from .conftest import replay

APP = '''
import json, os
from celery import Celery

app = Celery("linktest", broker=os.environ["QLINT_BROKER"])
LOG = os.environ["QLINT_LOG"]


def _log(*record):
    with open(LOG, "a") as f:
        f.write(json.dumps(record) + "\\n")


@app.task(name="ok")
def ok(x):
    _log("run", "ok", [x])
    return x * 2


@app.task(name="bad")
def bad(x):
    _log("run", "bad", [x])
    raise RuntimeError("bad")


@app.task(name="on_done")
def on_done(result, tag):
    _log("run", "on_done", [result, tag])


@app.task(name="on_error_id", bind=True)
def on_error_id(self, task_id, tag):
    _log("run", "on_error_id", [task_id, tag])


@app.task(name="on_error_inline")
def on_error_inline(request, exc, traceback):
    _log("inline", "on_error_inline", [request.id])
'''
PUBLISH = '''
import linkapp as m
m.ok.apply_async([7], task_id="a", link=m.on_done.s("l"))
m.bad.apply_async([1], task_id="b", link=m.on_done.s("l"), link_error=m.on_error_id.s("e"))
m.bad.apply_async([2], task_id="c", link_error=m.on_error_inline.s())
m.bad.apply_async([3], task_id="d", link_error=m.on_error_id.si("x", "y"))
'''
SCENARIO = {
    "settings": {"broker_url": "redis://localhost/0"},
    "workers": [{"name": "w1", "concurrency": 1, "without_mingle": True}],
    "tasks": {"ok": {"duration": 0.2, "returns": 14, "params": 1}, "bad": {"duration": 0.2, "fails": True, "params": 1},
              "on_done": {"duration": 0.2, "params": 2}, "on_error_id": {"duration": 0.2, "params": 2, "bind": True},
              "on_error_inline": {"duration": 0.2, "params": 3}},
    "submit": [
        {"task": "ok", "id": "a", "args": [7], "link": {"task": "on_done", "args": ["l"]}},
        {"task": "bad", "id": "b", "args": [1], "link": {"task": "on_done", "args": ["l"]},
         "link_error": {"task": "on_error_id", "args": ["e"]}},
        {"task": "bad", "id": "c", "args": [2], "link_error": {"task": "on_error_inline"}},
        {"task": "bad", "id": "d", "args": [3], "link_error": {"task": "on_error_id", "args": ["x", "y"], "immutable": True}},
    ],
    "until": 10,
}


def celery_run(tmp_path: Path, url: str) -> list[list]:
    (tmp_path / "linkapp.py").write_text(APP)
    log = tmp_path / "runs.log"
    env = {**os.environ, "QLINT_BROKER": url, "QLINT_LOG": str(log), "PYTHONPATH": str(tmp_path)}
    published = subprocess.run([sys.executable, "-c", PUBLISH], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert published.returncode == 0, published.stderr
    with open(tmp_path / "worker.log", "w") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "linkapp", "worker", "-c", "1", "-P", "prefork",
             "--without-mingle", "--without-gossip", "--without-heartbeat", "-l", "INFO", "-n", "w1@%h"],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            for _ in range(300):
                if log.exists() and len(log.read_text().splitlines()) >= 7:
                    break
                if worker.poll() is not None:
                    pytest.fail("celery worker exited:\n" + (tmp_path / "worker.log").read_text())
                time.sleep(0.05)
            time.sleep(1)  # nothing more comes
        finally:
            worker.send_signal(signal.SIGQUIT)
            worker.wait(30)
    return [json.loads(line) for line in log.read_text().splitlines()]


def model_run() -> list[list]:
    trace = replay(json.dumps(SCENARIO))
    out: list[tuple[float, int, list]] = []
    for e in trace.executions:
        out.append((e.start, 1, ["run", e.task, e.args]))
    for ev in trace.events:
        if ev.kind == "errback" and "called in" in ev.detail:
            out.append((ev.at, 0, ["inline", ev.detail.split("(")[0], [ev.message]]))
    return [record for _, _, record in sorted(out, key=lambda r: (r[0], r[1]))]


def test_links_and_errbacks_match_celery(redis_url, tmp_path):
    url = redis_url.rsplit("/", 1)[0] + "/4"
    redis.Redis.from_url(url).flushdb()
    real = celery_run(tmp_path, url)
    model = model_run()
    assert real == model, f"celery {real}\nthe reference worker {model}"
