"""worker_disable_prefetch on Redis, real Celery against the reference worker: when each message
is received (the worker's own log), which process runs it, and in what order. With prefetch a
worker busy with a long task still receives the short ones at once; without, it receives the next
only when its process is free, and an idle peer takes them."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import redis

from .celery_worker import publish
from .conftest import replay

APP = '''
import json, os, time
from celery import Celery

app = Celery("prefetchtest", broker=os.environ["QLINT_BROKER"])
app.conf.update(json.loads(os.environ["QLINT_CONF"]))


@app.task(name="sleep")
def sleep(seconds):
    time.sleep(seconds)
'''
READY = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): INFO/MainProcess\] \S+ ready\.")
RECEIVED = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): INFO/MainProcess\] Task sleep\[(\w+)\] received")
SUCCEEDED = re.compile(r"Task sleep\[(\w+)\] succeeded")
SUBMITS = [("long", 4.5), ("s1", 1), ("s2", 1), ("s3", 1)]  # no two runs end together

CASES = {
    # (settings, workers): one worker -c 1 busy with the long task
    "prefetch": ({}, ["w1"]),
    "disable-prefetch": ({"worker_disable_prefetch": True}, ["w1"]),
    # the second worker starts after the messages are published, so the first holds what it reserved
    "disable-prefetch-two-workers": ({"worker_disable_prefetch": True}, ["w1", "w2"]),
}


def _at(stamp: str, t0: float) -> float:
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp() - t0


def celery_run(tmp_path: Path, url: str, settings: dict, workers: list[str]) -> tuple[dict, dict[str, float]]:
    (tmp_path / "prefetchapp.py").write_text(APP)
    env = {**os.environ, "QLINT_BROKER": url, "QLINT_CONF": json.dumps(settings), "PYTHONPATH": str(tmp_path)}
    procs, logs = [], []
    try:
        t0 = None
        for i, name in enumerate(workers):
            log = tmp_path / f"{name}.log"
            logs.append((name, log))
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "prefetchapp", "worker", "-c", "1", "-P", "prefork",
                 "--without-mingle", "--without-gossip", "--without-heartbeat", "-l", "INFO", "-n", f"{name}@%h"],
                cwd=tmp_path, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT))
            for _ in range(600):
                if "ready." in log.read_text():
                    break
                if procs[-1].poll() is not None:
                    pytest.fail("celery worker exited:\n" + log.read_text())
                time.sleep(0.05)
            if i == 0:
                t0 = publish(tmp_path, "prefetchapp", env, "for mid, sec in json.loads(sys.argv[1]):\n"
                             "    prefetchapp.app.send_task('sleep', args=[sec], task_id=mid)\n", json.dumps(SUBMITS))
                time.sleep(1)  # the second worker comes up after the first has taken what it may
        time.sleep(max(0.0, t0 + 8 - time.time()))
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGQUIT)
            proc.wait(30)
    received: dict[str, tuple[str, float]] = {}
    starts: dict[str, float] = {}
    for name, log in logs:
        text = log.read_text()
        assert len(SUCCEEDED.findall(text)) == sum(1 for line in text.splitlines() if RECEIVED.match(line))
        for line in text.splitlines():
            if m := READY.match(line):
                starts[name] = max(0.0, _at(m.group(1), t0))
            if m := RECEIVED.match(line):
                received[m.group(2)] = (name, _at(m.group(1), t0))
    return received, starts


def model_run(settings: dict, starts: dict[str, float]) -> tuple[dict[str, tuple[str, float]], list[str]]:
    scenario = {
        "settings": {**settings, "broker_url": "redis://localhost/0"},
        "workers": [{"name": name, "concurrency": 1, "start": at, "without_mingle": True}
                    for name, at in starts.items()],
        "tasks": {f"sleep{sec}": {"duration": sec} for _, sec in SUBMITS},
        "submit": [{"at": 0, "task": f"sleep{sec}", "id": mid} for mid, sec in SUBMITS],
        "until": 8,
    }
    trace = replay(json.dumps(scenario))
    first = {}
    for d in trace.deliveries:
        first.setdefault(d.id, (d.worker, d.at))
    return first, [e.id for e in sorted(trace.executions, key=lambda e: e.start)]


@pytest.mark.parametrize("name", list(CASES))
def test_disable_prefetch_matches_celery(name, redis_url, tmp_path):
    settings, workers = CASES[name]
    url = redis_url.rsplit("/", 1)[0] + f"/{14 + list(CASES).index(name) % 2}"
    redis.Redis.from_url(url).flushdb()
    real, starts = celery_run(tmp_path, url, settings, workers)
    model, order = model_run(settings, starts)
    assert set(real) == set(model) == {mid for mid, _ in SUBMITS}, (real, model)
    for mid in real:
        # the same worker; the same moment within kombu's one-second BRPOP cycle and start-up
        assert real[mid][0] == model[mid][0], f"{mid}: celery {real}, the reference worker {model}"
        assert abs(real[mid][1] - model[mid][1]) < 1.5, f"{mid}: celery {real}, the reference worker {model}"
    assert sorted(order) == sorted(real), "each message runs once in both"
