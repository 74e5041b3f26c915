"""Autoretry, real Celery against the reference worker: a task whose failure autoretry_for covers is
sent again after default_retry_delay, or after an exponential backoff (without jitter here, so the
delays are known), until max_retries; then the failure stands. Runs, their retry counts and their
start times must agree."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import redis

from .conftest import replay
from .celery_worker import publish, start_worker

APP = '''
import json, os, time
from celery import Celery

app = Celery("autoretrytest", broker=os.environ["QLINT_BROKER"])
LOG = os.environ["QLINT_LOG"]
OPTIONS = json.loads(os.environ["QLINT_OPTIONS"])


@app.task(name="flaky", bind=True, autoretry_for=(RuntimeError,), **OPTIONS)
def flaky(self):
    with open(LOG, "a") as f:
        f.write(json.dumps([self.request.retries, time.time()]) + "\\n")
    time.sleep(0.2)
    raise RuntimeError("flaky")
'''
CASES = {
    # task options, as the decorator and the scenario name them
    "fixed-delay": {"default_retry_delay": 1, "max_retries": 2},
    "backoff": {"retry_backoff": 1, "retry_jitter": False, "max_retries": 3},
    "backoff-capped": {"retry_backoff": 1, "retry_backoff_max": 2, "retry_jitter": False, "max_retries": 3},
}
WATCH = 9


def celery_run(tmp_path: Path, url: str, options: dict) -> list[tuple[int, float]]:
    (tmp_path / "autoretryapp.py").write_text(APP)
    log = tmp_path / "runs.log"
    env = {**os.environ, "QLINT_BROKER": url, "QLINT_LOG": str(log), "QLINT_OPTIONS": json.dumps(options),
           "PYTHONPATH": str(tmp_path)}
    worker = start_worker(tmp_path, "autoretryapp", env)
    try:
        t0 = publish(tmp_path, "autoretryapp", env, "autoretryapp.app.send_task('flaky', task_id='m')\n")
        time.sleep(max(0.0, t0 + WATCH - time.time()))
    finally:
        worker.send_signal(signal.SIGQUIT)
        worker.wait(30)
    return [(retries, at - t0) for retries, at in map(json.loads, log.read_text().splitlines())]


def model_run(options: dict) -> tuple[list[tuple[int, float]], list[str]]:
    scenario = {
        "settings": {"broker_url": "redis://localhost/0"},
        "workers": [{"name": "w1", "concurrency": 1, "without_mingle": True}],
        "tasks": {"flaky": {"duration": 0.2, "fails": True, "autoretry": True, **options}},
        "submit": [{"at": 0, "task": "flaky", "id": "m"}],
        "until": WATCH,
    }
    trace = replay(json.dumps(scenario))
    return [(i, e.start) for i, e in enumerate(trace.executions)], [e.outcome for e in trace.executions]


@pytest.mark.parametrize("name", list(CASES))
def test_autoretry_matches_celery(name, redis_url, tmp_path):
    options = CASES[name]
    url = redis_url.rsplit("/", 1)[0] + f"/{1 + list(CASES).index(name)}"
    redis.Redis.from_url(url).flushdb()
    real = celery_run(tmp_path, url, options)
    model, outcomes = model_run(options)
    assert [r for r, _ in real] == [r for r, _ in model], f"celery {real}, the reference worker {model}"
    for (_, real_at), (_, model_at) in zip(real, model):
        assert abs(real_at - model_at) < 0.6, f"celery {real}, the reference worker {model}"
    assert outcomes == ["retry"] * (len(outcomes) - 1) + ["failure"]  # the last run's failure stands
