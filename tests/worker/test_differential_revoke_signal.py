"""revoke(terminate=True, signal=...), real Celery against the reference worker: SIGTERM ends the
process (the chain stops); SIGUSR1 raises SoftTimeLimitExceeded in the task, which fails (the chain
stops) or returns (the next step runs). The message is gone in every case."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from .conftest import replay
from .celery_worker import start_worker

APP = '''
import json, os, time
from celery import Celery
from celery.exceptions import SoftTimeLimitExceeded

app = Celery("revoketest", broker=os.environ["QLINT_BROKER"])
LOG = os.environ["QLINT_LOG"]


def _log(*record):
    with open(LOG, "a") as f:
        f.write(json.dumps(record) + "\\n")


@app.task(name="work", bind=True)
def work(self, mode):
    _log("start", "work")
    deadline = time.monotonic() + 4
    while True:
        try:
            time.sleep(max(0.0, deadline - time.monotonic()))
            break
        except SoftTimeLimitExceeded:
            if mode == "raise":
                _log("end", "work", "soft-time-limit")
                raise
            if mode == "catch":
                break
    _log("end", "work", "success")
    return 1


@app.task(name="after")
def after(x):
    _log("start", "after")
    _log("end", "after", "success")
'''
CASES = {
    # (signal, what the task does with SoftTimeLimitExceeded)
    "sigterm": ("SIGTERM", "raise"),
    "sigusr1-raised": ("SIGUSR1", "raise"),
    "sigusr1-caught": ("SIGUSR1", "catch"),
}


def celery_run(tmp_path: Path, url: str, sig: str, mode: str) -> tuple[list, int]:
    (tmp_path / "revokeapp.py").write_text(APP)
    log = tmp_path / "runs.log"
    env = {**os.environ, "QLINT_BROKER": url, "QLINT_LOG": str(log), "PYTHONPATH": str(tmp_path)}
    worker = start_worker(tmp_path, "revokeapp", env)
    try:
        done = subprocess.run(
            [sys.executable, "-c", "import sys, time, revokeapp as m\nfrom celery import chain\n"
             f"chain(m.work.si({mode!r}).set(task_id='m'), m.after.s()).apply_async()\n"
             "time.sleep(1)\n"
             f"m.app.control.revoke('m', terminate=True, signal={sig!r})\n"
             "time.sleep(5)\n"], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    finally:
        worker.send_signal(signal.SIGQUIT)
        worker.wait(30)
    client = redis.Redis.from_url(url)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    runs = [[r[1], next((e[2] for e in records[i:] if e[0] == "end" and e[1] == r[1]), "terminated")]
            for i, r in enumerate(records) if r[0] == "start"]
    return runs, client.llen("celery") + client.hlen("unacked")


def model_run(sig: str, mode: str) -> tuple[list, int]:
    scenario = {
        "settings": {"broker_url": "redis://localhost/0"},
        "workers": [{"name": "w1", "concurrency": 1, "without_mingle": True}],
        "tasks": {"work": {"duration": 4, "returns": 1, "on_soft_limit": mode}, "after": {"duration": 0.1}},
        "submit": [{"at": 0, "id": "m", "chain": [{"task": "work", "args": [mode], "immutable": True},
                                                  {"task": "after"}]}],
        "faults": [{"at": 1, "revoke": "m", "terminate": True, "signal": sig}],
        "until": 6,
    }
    trace = replay(json.dumps(scenario))
    return [[e.task, e.outcome] for e in trace.executions], trace.broker_bytes_end


@pytest.mark.parametrize("name", list(CASES))
def test_revoke_signal_matches_celery(name, redis_url, tmp_path):
    sig, mode = CASES[name]
    url = redis_url.rsplit("/", 1)[0] + f"/{1 + list(CASES).index(name)}"
    redis.Redis.from_url(url).flushdb()
    real, real_left = celery_run(tmp_path, url, sig, mode)
    model, model_left = model_run(sig, mode)
    assert real == model, f"celery {real}, the reference worker {model}"
    assert real_left == model_left == 0
