"""Several queues, real Celery against the reference worker: task_routes sends the long task to its
own queue and a worker started with -Q long runs it while the worker on the default queue runs the
short ones; a worker on two queues takes from each in turn (kombu rotates the keys BRPOP is given).
Which worker runs each message, and in what order, must agree."""
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
import json, os, time
from celery import Celery

app = Celery("queuetest", broker=os.environ["QLINT_BROKER"])
app.conf.update(json.loads(os.environ["QLINT_CONF"]))
LOG = os.environ["QLINT_LOG"]


def _run(self, seconds):
    with open(LOG, "a") as f:
        f.write(json.dumps([self.request.id, self.request.hostname.split("@")[0], time.time()]) + "\\n")
    time.sleep(seconds)


@app.task(name="long", bind=True)
def long(self, seconds):
    _run(self, seconds)


@app.task(name="short", bind=True)
def short(self, seconds):
    _run(self, seconds)
'''
ROUTES = {"task_routes": {"long": {"queue": "long"}}}
SUBMITS = [("L", "long", 3), ("s1", "short", 1), ("s2", "short", 1), ("s3", "short", 1)]
CASES = {
    # (settings, workers as (name, -Q, prefetch multiplier), whether they start after the publish)
    "routed-to-its-own-worker": (ROUTES, [("w1", ["long"], 1), ("w2", ["celery"], 4)], False),
    "one-worker-two-queues": (ROUTES, [("w1", ["celery", "long"], 4)], True),
    "default-queue-renamed": ({"task_default_queue": "main"}, [("w1", ["main"], 4), ("w2", ["celery"], 4)], True),
}


def celery_run(tmp_path: Path, url: str, settings: dict, workers: list, after: bool) -> list[tuple[str, str]]:
    (tmp_path / "queueapp.py").write_text(APP)
    log = tmp_path / "runs.log"
    env = {**os.environ, "QLINT_BROKER": url, "QLINT_CONF": json.dumps(settings), "QLINT_LOG": str(log),
           "PYTHONPATH": str(tmp_path)}

    def publish() -> None:
        done = subprocess.run(
            [sys.executable, "-c", "import json, sys, queueapp\n"
             "for mid, task, sec in json.loads(sys.argv[1]):\n"
             "    queueapp.app.send_task(task, args=[sec], task_id=mid)\n", json.dumps(SUBMITS)],
            cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr

    if after:
        publish()
    procs = []
    try:
        for name, queues, multiplier in workers:
            out = tmp_path / f"{name}.log"
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "queueapp", "worker", "-c", "1", "-P", "prefork", "-Q",
                 ",".join(queues), "--prefetch-multiplier", str(multiplier), "--without-mingle", "--without-gossip",
                 "--without-heartbeat", "-l", "INFO", "-n", f"{name}@%h"],
                cwd=tmp_path, env=env, stdout=open(out, "w"), stderr=subprocess.STDOUT))
        for (name, _, _), proc in zip(workers, procs):
            for _ in range(600):
                if "ready." in (tmp_path / f"{name}.log").read_text():
                    break
                if proc.poll() is not None:
                    pytest.fail("celery worker exited:\n" + (tmp_path / f"{name}.log").read_text())
                time.sleep(0.05)
        if not after:
            publish()
        time.sleep(7)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGQUIT)
            proc.wait(30)
    runs = sorted(json.loads(line) for line in log.read_text().splitlines())
    return [(mid, worker) for mid, worker, _ in sorted(runs, key=lambda r: r[2])]


def model_run(settings: dict, workers: list, after: bool) -> list[tuple[str, str]]:
    scenario = {
        "settings": {**settings, "broker_url": "redis://localhost/0"},
        "workers": [{"name": name, "concurrency": 1, "queues": queues, "prefetch_multiplier": multiplier,
                     "start": 0.5 if after else 0, "without_mingle": True} for name, queues, multiplier in workers],
        "tasks": {"long": {"duration": 3}, "short": {"duration": 1}},
        "submit": [{"at": 0 if after else 1, "task": task, "id": mid} for mid, task, _ in SUBMITS],
        "until": 10,
    }
    trace = replay(json.dumps(scenario))
    return [(e.id, e.worker) for e in sorted(trace.executions, key=lambda e: e.start)]


@pytest.mark.parametrize("name", list(CASES))
def test_queues_match_celery(name, redis_url, tmp_path):
    settings, workers, after = CASES[name]
    url = redis_url.rsplit("/", 1)[0] + f"/{1 + list(CASES).index(name)}"
    redis.Redis.from_url(url).flushdb()
    real = celery_run(tmp_path, url, settings, workers, after)
    model = model_run(settings, workers, after)
    # each worker's runs in order (runs on two workers that start together may swap places)
    per_worker = lambda runs: {w: [mid for mid, v in runs if v == w] for _, w in runs}  # noqa: E731
    assert per_worker(real) == per_worker(model), f"celery {real}, the reference worker {model}"
