"""A soft time limit the task raises, catches and returns from, or catches and ignores, real Celery
against the reference worker: when each run ends and how (a hard limit kills the one that ignores it)."""
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
from celery.exceptions import SoftTimeLimitExceeded

app = Celery("softtest", broker=os.environ["QLINT_BROKER"])
app.conf.update(json.loads(os.environ["QLINT_CONF"]))
LOG = os.environ["QLINT_LOG"]


def _log(*record):
    with open(LOG, "a") as f:
        f.write(json.dumps([*record, time.time()]) + "\\n")


@app.task(name="work", bind=True)
def work(self, mode, seconds):
    _log("start", self.request.id)
    deadline = time.monotonic() + seconds
    while True:
        try:
            time.sleep(max(0.0, deadline - time.monotonic()))
            break
        except SoftTimeLimitExceeded:
            if mode == "raise":
                _log("end", self.request.id, "soft-time-limit")
                raise
            if mode == "catch":
                break
    _log("end", self.request.id, "success")
'''
CASES = {
    # (mode, settings)
    "raise": ("raise", {"task_soft_time_limit": 1}),
    "catch": ("catch", {"task_soft_time_limit": 1}),
    "ignore": ("ignore", {"task_soft_time_limit": 1}),
    "ignore-until-the-hard-limit": ("ignore", {"task_soft_time_limit": 1, "task_time_limit": 2}),
}


def celery_run(tmp_path: Path, url: str, mode: str, settings: dict) -> list[tuple]:
    (tmp_path / "softapp.py").write_text(APP)
    log = tmp_path / "runs.log"
    env = {**os.environ, "QLINT_BROKER": url, "QLINT_CONF": json.dumps(settings), "QLINT_LOG": str(log),
           "PYTHONPATH": str(tmp_path)}
    worker = start_worker(tmp_path, "softapp", env)
    try:
        t0 = publish(tmp_path, "softapp", env, f"softapp.app.send_task('work', args=[{mode!r}, 3], task_id='m')\n")
        time.sleep(max(0.0, t0 + 5 - time.time()))
    finally:
        worker.send_signal(signal.SIGQUIT)
        worker.wait(30)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    out = [(r[0], *r[2:-1], round(r[-1] - t0)) for r in records]
    if "Hard time limit" in (tmp_path / "worker.log").read_text():
        out.append(("end", "time-limit", None))
    return out


def model_run(mode: str, settings: dict) -> list[tuple]:
    scenario = {
        "settings": {**settings, "broker_url": "redis://localhost/0"},
        "workers": [{"name": "w1", "concurrency": 1, "without_mingle": True}],
        "tasks": {"work": {"duration": 3, "on_soft_limit": mode}},
        "submit": [{"at": 0, "task": "work", "id": "m", "args": [mode, 3]}],
        "until": 5,
    }
    trace = replay(json.dumps(scenario))
    out: list[tuple] = []
    for e in trace.executions:
        out.append(("start", round(e.start)))
        out.append(("end", e.outcome, None) if e.outcome == "time-limit" else ("end", e.outcome, round(e.end)))
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_soft_limit_matches_celery(name, redis_url, tmp_path):
    mode, settings = CASES[name]
    url = redis_url.rsplit("/", 1)[0] + f"/{1 + list(CASES).index(name)}"
    redis.Redis.from_url(url).flushdb()
    assert celery_run(tmp_path, url, mode, settings) == model_run(mode, settings)
