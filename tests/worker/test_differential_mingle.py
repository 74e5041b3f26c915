"""Mingle, real Celery against the reference worker: a worker is SIGKILLed while it runs a late-acked
task; a second worker starts once the delivery is older than the visibility timeout. Its start-up
restore sweep (on connect) pushes the message back at once, and it takes the message when its
consumer starts: about 1 s later with mingle (it first waits for its peers' replies), at once with
--without-mingle. The real run, the virtual replay and the --real replay (on the same Redis) must
agree on the runs and on when the second one starts after the sweep."""
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


from .celery_worker import publish
from .conftest import replay, replay_real

APP = '''
import json, os, time
from celery import Celery

app = Celery("mingletest", broker=os.environ["QLINT_BROKER"])
app.conf.update(json.loads(os.environ["QLINT_CONF"]))
LOG = os.environ["QLINT_LOG"]


@app.task(name="sleep", bind=True)
def sleep(self, seconds):
    with open(LOG, "a") as f:
        f.write(json.dumps(["start", self.request.id, time.time()]) + "\\n")
    time.sleep(seconds)
'''
VISIBILITY = 2  # default sweep timing: only the sweep on connect falls in the run
SETTINGS = {"task_acks_late": True, "broker_transport_options": {"visibility_timeout": VISIBILITY}}
TASK_SECONDS = 30
CASES = {"mingle": (), "without-mingle": ("--without-mingle",)}
POLLS = 600  # of 50 ms


def _worker(folder: Path, env: dict, name: str, options: tuple[str, ...]) -> subprocess.Popen:
    with open(folder / f"{name}.log", "w") as out:
        # its own process group: a SIGKILL of the group takes the pool processes with it
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "mingleapp", "worker", "-c", "1", "-P", "prefork",
             "--without-gossip", "--without-heartbeat", "-l", "INFO", "-n", f"{name}@%h", *options],
            cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for(what: str, check, proc: subprocess.Popen, log: Path) -> None:
    for _ in range(POLLS):
        if check():
            return
        if proc.poll() is not None:
            pytest.fail(f"celery worker exited before {what}:\n" + log.read_text())
        time.sleep(0.05)
    pytest.fail(f"no {what}:\n" + log.read_text())


def celery_run(tmp_path: Path, url: str, options: tuple[str, ...]) -> dict[str, float]:
    """Seconds after the publish: the kill, b's start-up sweep (the message leaves the unacked index)
    and each run's start."""
    (tmp_path / "mingleapp.py").write_text(APP)
    log = tmp_path / "runs.log"
    env = {**os.environ, "QLINT_BROKER": url, "QLINT_CONF": json.dumps(SETTINGS), "QLINT_LOG": str(log),
           "PYTHONPATH": str(tmp_path)}
    client = redis.Redis.from_url(url)
    starts = lambda: [r[2] for r in map(json.loads, log.read_text().splitlines())] if log.exists() else []  # noqa: E731
    a = _worker(tmp_path, env, "a", ("--without-mingle",))
    b = None
    try:
        _wait_for("ready worker a", lambda: "ready." in (tmp_path / "a.log").read_text(), a, tmp_path / "a.log")
        t0 = publish(tmp_path, "mingleapp", env, f"mingleapp.app.send_task('sleep', args=[{TASK_SECONDS}], task_id='m')\n")
        _wait_for("first run", lambda: len(starts()) == 1, a, tmp_path / "a.log")
        os.killpg(a.pid, signal.SIGKILL)
        killed = time.time()
        a.wait(30)
        (tag,) = client.zrange("unacked_index", 0, -1)
        delivered = client.zscore("unacked_index", tag)
        time.sleep(max(0.0, delivered + VISIBILITY + 1 - time.time()))
        b = _worker(tmp_path, env, "b", options)
        while client.zscore("unacked_index", tag) == delivered:  # until b's sweep takes it out
            if b.poll() is not None:
                pytest.fail("celery worker b exited:\n" + (tmp_path / "b.log").read_text())
            time.sleep(0.002)
        swept = time.time()
        _wait_for("second run", lambda: len(starts()) == 2, b, tmp_path / "b.log")
    finally:
        for proc in (a, b):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)
    first, second = starts()
    return {"kill": killed - t0, "sweep": swept - t0, "run1": first - t0, "run2": second - t0}


def scenario(real: dict[str, float], mingle: bool) -> str:
    return json.dumps({
        "settings": {**SETTINGS, "broker_url": "redis://localhost/0"},
        "workers": [{"name": "a", "concurrency": 1, "without_mingle": True},
                    {"name": "b", "concurrency": 1, "start": round(real["sweep"], 3), "without_mingle": not mingle}],
        "tasks": {"sleep": {"duration": TASK_SECONDS}},
        "submit": [{"at": 0, "task": "sleep", "id": "m"}],
        "faults": [{"at": round(real["kill"], 3), "kill": "a"}],
        "until": real["sweep"] + 3,
    })


def runs(trace) -> list[tuple[str, float]]:
    return [(e.worker, e.start) for e in trace.executions]


@pytest.mark.parametrize("name", list(CASES))
def test_mingle_delay_matches_celery(name, redis_url, tmp_path):
    base = redis_url.rsplit("/", 1)[0]
    url, real_url = f"{base}/{10 + list(CASES).index(name)}", f"{base}/{12 + list(CASES).index(name)}"
    redis.Redis.from_url(url).flushdb()
    mingle = name == "mingle"
    real = celery_run(tmp_path, url, CASES[name])
    delay = real["run2"] - real["sweep"]
    text = scenario(real, mingle)
    virtual = runs(replay(text))
    in_real_time = runs(replay_real(text, real_url, tmp_path))
    figures = (f"celery: sweep {real['sweep']:.3f} s, second run {real['run2']:.3f} s (+{delay:.3f}); "
               f"virtual {virtual}; --real {in_real_time}")
    print(figures)
    # what real Celery does: the second run waits for mingle, or starts at once without it
    assert (0.9 < delay < 1.5) if mingle else (delay < 0.3), figures
    for model in (virtual, in_real_time):
        assert [w for w, _ in model] == ["a", "b"], figures
        assert abs(model[0][1] - real["run1"]) < 0.3, figures
        assert abs(model[1][1] - real["run2"]) < 0.3, figures
