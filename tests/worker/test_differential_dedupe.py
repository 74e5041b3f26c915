"""worker_deduplicate_successful_tasks, real Celery against the reference worker: a late-acked task
longer than the visibility timeout, with restore sweeps every second, is handed out again while it
runs. The copy that starts before the first run succeeds runs all the same; one that starts after
it is skipped when the result backend keeps the success (Redis here). With no result backend the
copy fails at once, and that failure calls its errbacks (link_error) as any other does. Runs, errbacks
and their order must agree."""
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


@app.task(name="on_error")
def on_error(task_id):
    with open(LOG, "a") as f:
        f.write(json.dumps(["errback", task_id, time.time()]) + "\\n")
'''
FAST = {"visibility_timeout": 3, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}
LATE = {"task_acks_late": True, "broker_transport_options": FAST}
DEDUPE = {**LATE, "worker_deduplicate_successful_tasks": True}
TASK_SECONDS, WATCH = 7, 14

CASES = {
    # (settings, with a Redis result backend, with a link_error errback)
    "late-ack": (LATE, True, False),
    "dedupe-redis-backend": (DEDUPE, True, False),
    "dedupe-no-backend": (DEDUPE, False, False),
    # the copy that fails at once (no backend to ask) calls the errbacks, as any failure does
    "dedupe-no-backend-errback": (DEDUPE, False, True),
}


def celery_run(tmp_path: Path, url: str, backend: str | None, settings: dict,
               errback: bool) -> list[tuple[str, float]]:
    (tmp_path / "dedupeapp.py").write_text(APP)
    log = tmp_path / "runs.log"
    env = {**os.environ, "QLINT_BROKER": url, "QLINT_BACKEND": backend or "", "QLINT_CONF": json.dumps(settings),
           "QLINT_LOG": str(log), "PYTHONPATH": str(tmp_path)}
    worker = start_worker(tmp_path, "dedupeapp", env, concurrency=2)
    try:
        t0 = publish(tmp_path, "dedupeapp", env, f"dedupeapp.app.send_task('sleep', args=[{TASK_SECONDS}], task_id='m'"
                                                 f"{', link_error=dedupeapp.on_error.s()' if errback else ''})\n")
        time.sleep(max(0.0, t0 + WATCH - time.time()))
    finally:
        worker.send_signal(signal.SIGQUIT)
        worker.wait(30)
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return [(f"{kind} {mid}" if kind == "errback" else kind, round(at - t0, 1)) for kind, mid, at in records]


def model_run(settings: dict, backend: bool, errback: bool) -> tuple[list[tuple[str, float]], list[str]]:
    scenario = {
        "settings": {**settings, "broker_url": "redis://localhost/0",
                     **({"result_backend": "redis://localhost/1"} if backend else {})},
        "workers": [{"name": "w1", "concurrency": 2, "without_mingle": True}],
        "tasks": {"sleep": {"duration": TASK_SECONDS}, "on_error": {"duration": 0, "params": 1}},
        "submit": [{"at": 0, "task": "sleep", "id": "m", **({"link_error": {"task": "on_error"}} if errback else {})}],
        "until": WATCH,
    }
    trace = replay(json.dumps(scenario))
    sleeps = [e for e in trace.executions if e.task == "sleep"]
    runs = sorted([("start", e.start) for e in sleeps]
                  + [("end", e.end) for e in sleeps if e.end is not None and e.outcome == "success"]
                  + [(f"errback {e.args[0]}", e.start) for e in trace.executions if e.task == "on_error"],
                  key=lambda r: (r[1], r[0] == "start"))  # a run that ends frees the slot the next takes
    return runs, [e.kind for e in trace.events]


@pytest.mark.parametrize("name", list(CASES))
def test_deduplication_matches_celery(name, redis_url, tmp_path):
    settings, backend, errback = CASES[name]
    base = redis_url.rsplit("/", 1)[0]
    url, backend_url = f"{base}/{1 + list(CASES).index(name)}", f"{base}/15"
    redis.Redis.from_url(url).flushdb()
    redis.Redis.from_url(backend_url).flushdb()
    real = celery_run(tmp_path, url, backend_url if backend else None, settings, errback)
    model, _ = model_run(settings, backend, errback)
    assert ("errback m" in [kind for kind, _ in real]) == errback, f"celery {real}"
    assert [kind for kind, _ in real] == [kind for kind, _ in model], f"celery {real}, the reference worker {model}"
    for (_, real_at), (_, model_at) in zip(real, model):
        assert abs(real_at - model_at) < 1.5, f"celery {real}, the reference worker {model}"
