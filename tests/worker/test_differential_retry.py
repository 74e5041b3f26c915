"""task_retry_on_worker_lost (Celery 5.7), real Celery against the reference worker: the pool
process running the task is SIGKILLed; with the setting the task is sent again after its
default_retry_delay, up to max_retries, and runs again; without it the run is lost (early ack).
Runs, their start times and their retry counts must agree. The pool may notice the killed process
a few seconds late (observed: at once, or about 4 s later), where the reference worker sees it at once:
times after the kill are compared from the moment the worker log reports it."""
from __future__ import annotations

import json
import os
import signal
import time
from datetime import datetime
from pathlib import Path

import pytest
import redis

from .conftest import replay
from .celery_worker import publish, start_worker

APP = '''
import json, os, time
from celery import Celery

app = Celery("retrytest", broker=os.environ["QLINT_BROKER"])
app.conf.update(json.loads(os.environ["QLINT_CONF"]))
LOG = os.environ["QLINT_LOG"]
MAX = json.loads(os.environ["QLINT_MAX_RETRIES"])


@app.task(name="work", bind=True, default_retry_delay=2, max_retries=MAX)
def work(self, seconds):
    with open(LOG, "a") as f:
        f.write(json.dumps([self.request.id, self.request.retries, os.getpid(), time.time()]) + "\\n")
    time.sleep(seconds)
'''
CASES = {
    # (settings, max_retries)
    "retried": ({"task_retry_on_worker_lost": True}, 1),
    "retries-exhausted": ({"task_retry_on_worker_lost": True}, 0),
    "not-retried": ({}, 1),
}
KILL_AT, WATCH = 1.0, 8.0


def celery_run(tmp_path: Path, url: str, settings: dict, max_retries: int) -> list[tuple[int, float]]:
    (tmp_path / "retryapp.py").write_text(APP)
    log = tmp_path / "runs.log"
    env = {**os.environ, "QLINT_BROKER": url, "QLINT_CONF": json.dumps(settings), "QLINT_LOG": str(log),
           "QLINT_MAX_RETRIES": json.dumps(max_retries), "PYTHONPATH": str(tmp_path)}
    worker = start_worker(tmp_path, "retryapp", env)
    try:
        t0 = publish(tmp_path, "retryapp", env, "retryapp.app.send_task('work', args=[3], task_id='m')\n")
        time.sleep(max(0.0, t0 + KILL_AT - time.time()))
        first = json.loads(log.read_text().splitlines()[0])
        os.kill(first[2], signal.SIGKILL)  # the pool process running the task
        time.sleep(max(0.0, t0 + WATCH - time.time()))
    finally:
        worker.send_signal(signal.SIGQUIT)
        worker.wait(30)
    # When the pool noticed the lost process (billiard may take a few seconds): the retry's delay counts from there.
    lost = next((_stamp(line) - t0 for line in (tmp_path / "worker.log").read_text().splitlines()
                 if "exited with 'signal 9 (SIGKILL)'" in line), KILL_AT)
    runs = [(retries, at - t0) for _, retries, _, at in map(json.loads, log.read_text().splitlines())]
    return [(retries, round(at - (lost - KILL_AT) if at > KILL_AT else at, 1)) for retries, at in runs]


def _stamp(line: str) -> float:
    return datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f").timestamp()


def model_run(settings: dict, max_retries: int) -> list[tuple[int, float]]:
    scenario = {
        "settings": {**settings, "broker_url": "redis://localhost/0"},
        "workers": [{"name": "w1", "concurrency": 1, "without_mingle": True}],
        "tasks": {"work": {"duration": 3, "default_retry_delay": 2, "max_retries": max_retries}},
        "submit": [{"at": 0, "task": "work", "id": "m"}],
        "faults": [{"at": KILL_AT, "kill": "w1/1"}],
        "until": WATCH,
    }
    trace = replay(json.dumps(scenario))
    retries = [int(e.detail.split("retry ")[1].split()[0]) for e in trace.events if e.kind == "retry"]
    return [(([0] + retries)[i] if i <= len(retries) else -1, e.start) for i, e in enumerate(trace.executions)]


@pytest.mark.parametrize("name", list(CASES))
def test_retry_on_worker_lost_matches_celery(name, redis_url, tmp_path):
    settings, max_retries = CASES[name]
    url = redis_url.rsplit("/", 1)[0] + f"/{1 + list(CASES).index(name)}"
    redis.Redis.from_url(url).flushdb()
    real = celery_run(tmp_path, url, settings, max_retries)
    model = model_run(settings, max_retries)
    assert [r for r, _ in real] == [r for r, _ in model], f"celery {real}, the reference worker {model}"
    # start times, those after the kill counted from when the pool saw the process gone
    for (_, real_at), (_, model_at) in zip(real, model):
        assert abs(real_at - model_at) < 0.8, f"celery {real}, the reference worker {model}"
