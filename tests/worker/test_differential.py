"""The same small scenarios on real Celery workers and on the reference worker:
executions per message and their order must agree."""
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

app = Celery("difftest", broker=os.environ["QLINT_BROKER"])
app.conf.update(json.loads(os.environ["QLINT_CONF"]))
LOG = os.environ["QLINT_LOG"]


def _log(kind, task_id):
    with open(LOG, "a") as f:
        f.write(json.dumps([kind, task_id, time.time()]) + "\\n")


@app.task(name="sleep", bind=True)
def sleep(self, seconds):
    _log("start", self.request.id)
    time.sleep(seconds)
    _log("end", self.request.id)
'''

FAST = {"visibility_timeout": 3, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}

# (settings, concurrency, submissions as (id, seconds, countdown), how long to watch,
#  events as (seconds after the first publish, "revoke", id) or (seconds, "stop", None): a warm
#  shutdown, SIGTERM)
CASES = {
    "late-ack-long-task": ({"task_acks_late": True, "broker_transport_options": FAST}, 2,
                           [("m", 5, None)], 11, []),
    "fifo-short-tasks": ({}, 1, [("a", 1, None), ("b", 1, None), ("c", 1, None)], 5, []),
    "eta-beyond-visibility": ({"broker_transport_options": FAST}, 2, [("e", 1, 5)], 9, []),
    # b waits reserved behind a; the revoke reaches the worker before b's turn: b never runs.
    "revoke-reserved": ({}, 1, [("a", 3, None), ("b", 1, None), ("c", 1, None)], 6, [(1, "revoke", "b")]),
    # A warm shutdown lets a finish, starts neither reserved message, and gives both back.
    "warm-shutdown": ({}, 1, [("a", 3, None), ("b", 1, None), ("c", 1, None)], 6, [(1, "stop", None)]),
}


def reference(settings: dict, concurrency: int, submits: list, watch: float, events: list) -> tuple[list[str], list[str]]:
    tasks = {f"sleep{sec}": {"duration": sec} for _, sec, _ in submits}
    scenario = {
        "settings": {**settings, "broker_url": "redis://localhost/0"},
        "workers": [{"name": "w1", "concurrency": concurrency, "without_mingle": True}],
        "tasks": tasks,
        "submit": [{"at": 0, "task": f"sleep{sec}", "id": mid, **({"countdown": cd} if cd else {})}
                   for mid, sec, cd in submits],
        "faults": [{"at": at, "revoke": mid} if kind == "revoke" else {"at": at, "stop": "w1"}
                   for at, kind, mid in events],
        "until": watch,
    }
    trace = replay(json.dumps(scenario))
    ran = {e.id for e in trace.executions}
    return ([e.id for e in sorted(trace.executions, key=lambda e: e.start)],
            sorted(mid for mid in trace.pending_at_end if mid not in ran))


def celery_run(tmp_path: Path, url: str, settings: dict, concurrency: int, submits: list,
               watch: float, events: list) -> tuple[list[str], list[str]]:
    (tmp_path / "diffapp.py").write_text(APP)
    log = tmp_path / "runs.log"
    env = {**os.environ, "QLINT_BROKER": url, "QLINT_CONF": json.dumps(settings), "QLINT_LOG": str(log),
           "PYTHONPATH": str(tmp_path)}
    worker = start_worker(tmp_path, "diffapp", env, concurrency=concurrency)
    try:
        publisher = subprocess.run(
            [sys.executable, "-c",
             "import json, sys, time, diffapp\n"
             "t0 = time.monotonic()\n"
             "for mid, sec, cd in json.loads(sys.argv[1]):\n"
             "    diffapp.app.send_task('sleep', args=[sec], task_id=mid, countdown=cd)\n"
             "for at, mid in json.loads(sys.argv[2]):\n"
             "    time.sleep(max(0, at - (time.monotonic() - t0)))\n"
             "    diffapp.app.control.revoke(mid)\n",
             json.dumps(submits), json.dumps([(at, mid) for at, kind, mid in events if kind == "revoke"])],
            cwd=tmp_path, env=env, capture_output=True, text=True)
        assert publisher.returncode == 0, publisher.stderr
        started = time.monotonic()
        for at, kind, _ in events:
            if kind == "stop":
                time.sleep(max(0.0, at - (time.monotonic() - started)))
                worker.send_signal(signal.SIGTERM)  # warm shutdown
        time.sleep(max(0.0, watch - (time.monotonic() - started)))  # let the scenario play out; nothing is timed
    finally:
        worker.send_signal(signal.SIGQUIT)
        worker.wait(30)
    starts = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    ran = [mid for kind, mid, _ in sorted(starts, key=lambda r: r[2]) if kind == "start"]
    queued = [json.loads(raw)["headers"]["id"] for raw in redis.Redis.from_url(url).lrange("celery", 0, -1)]
    return ran, sorted(mid for mid in queued if mid not in ran)


@pytest.mark.parametrize("name", list(CASES))
def test_reference_worker_matches_celery(name, redis_url, tmp_path):
    settings, concurrency, submits, watch, events = CASES[name]
    db = list(CASES).index(name) + 1
    url = redis_url.rsplit("/", 1)[0] + f"/{db}"
    redis.Redis.from_url(url).flushdb()
    real, real_left = celery_run(tmp_path, url, settings, concurrency, submits, watch, events)
    model, model_left = reference(settings, concurrency, submits, watch, events)
    assert real == model, f"celery ran {real}, the reference worker {model}"
    # Messages never run and back in the queue at the end (a warm shutdown's): the same.
    assert real_left == model_left, f"left in celery's queue: {real_left}, in the reference worker's: {model_left}"
