"""worker_deduplicate_successful_tasks, real Celery against the reference worker: a late-acked task
longer than the visibility timeout, with restore sweeps every second, is handed out again while it
runs. The copy that starts before the first run succeeds runs all the same; one that starts after
it is skipped when the result backend keeps the success (Redis here). Runs and their order must
agree."""
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
from .celery_worker import start_worker

APP = '''
import json, os, time
from celery import Celery

app = Celery("dedupetest", broker=os.environ["QLINT_BROKER"], backend=os.environ.get("QLINT_BACKEND") or None)
app.conf.update(json.loads(os.environ["QLINT_CONF"]))
LOG = os.environ["QLINT_LOG"]


@app.task(name="sleep", bind=True)
def sleep(self, seconds):
    with open(LOG, "a") as f:
        f.write(json.dumps(["start", self.request.id, time.time()]) + "\\n")
    time.sleep(seconds)
    with open(LOG, "a") as f:
        f.write(json.dumps(["end", self.request.id, time.time()]) + "\\n")
'''
FAST = {"visibility_timeout": 3, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}
LATE = {"task_acks_late": True, "broker_transport_options": FAST}
DEDUPE = {**LATE, "worker_deduplicate_successful_tasks": True}
TASK_SECONDS, WATCH = 7, 14

CASES = {
    # (settings, with a Redis result backend)
    "late-ack": (LATE, True),
    "dedupe-redis-backend": (DEDUPE, True),
    "dedupe-no-backend": (DEDUPE, False),
}


def celery_run(tmp_path: Path, url: str, backend: str | None, settings: dict) -> list[tuple[str, float]]:
    (tmp_path / "dedupeapp.py").write_text(APP)
    log = tmp_path / "runs.log"
    env = {**os.environ, "QLINT_BROKER": url, "QLINT_BACKEND": backend or "", "QLINT_CONF": json.dumps(settings),
           "QLINT_LOG": str(log), "PYTHONPATH": str(tmp_path)}
    worker = start_worker(tmp_path, "dedupeapp", env, concurrency=2)
    try:
        published = subprocess.run(
            [sys.executable, "-c", "import sys, time, dedupeapp\nprint(time.time())\n"
             f"dedupeapp.app.send_task('sleep', args=[{TASK_SECONDS}], task_id='m')\n"],
            cwd=tmp_path, env=env, capture_output=True, text=True)
        assert published.returncode == 0, published.stderr
        t0 = float(published.stdout.split()[0])
        time.sleep(max(0.0, t0 + WATCH - time.time()))
    finally:
        worker.send_signal(signal.SIGQUIT)
        worker.wait(30)
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return [(kind, round(at - t0, 1)) for kind, _, at in records]


def model_run(settings: dict, backend: bool) -> tuple[list[tuple[str, float]], list[str]]:
    scenario = {
        "settings": {**settings, "broker_url": "redis://localhost/0",
                     **({"result_backend": "redis://localhost/1"} if backend else {})},
        "workers": [{"name": "w1", "concurrency": 2, "without_mingle": True}],
        "tasks": {"sleep": {"duration": TASK_SECONDS}},
        "submit": [{"at": 0, "task": "sleep", "id": "m"}],
        "until": WATCH,
    }
    trace = replay(json.dumps(scenario))
    runs = sorted([("start", e.start) for e in trace.executions]
                  + [("end", e.end) for e in trace.executions if e.end is not None and e.outcome == "success"],
                  key=lambda r: (r[1], r[0] == "start"))  # a run that ends frees the slot the next takes
    return runs, [e.kind for e in trace.events]


@pytest.mark.parametrize("name", list(CASES))
def test_deduplication_matches_celery(name, redis_url, tmp_path):
    settings, backend = CASES[name]
    base = redis_url.rsplit("/", 1)[0]
    url, backend_url = f"{base}/{1 + list(CASES).index(name)}", f"{base}/15"
    redis.Redis.from_url(url).flushdb()
    redis.Redis.from_url(backend_url).flushdb()
    real = celery_run(tmp_path, url, backend_url if backend else None, settings)
    model, _ = model_run(settings, backend)
    assert [kind for kind, _ in real] == [kind for kind, _ in model], f"celery {real}, the reference worker {model}"
    for (_, real_at), (_, model_at) in zip(real, model):
        assert abs(real_at - model_at) < 1.5, f"celery {real}, the reference worker {model}"
