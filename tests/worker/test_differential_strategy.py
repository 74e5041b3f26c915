"""The prefork pool's strategy, real Celery against the reference worker: one worker -c 2 (prefetch 8),
a 4 s task, then four 1 s tasks half a second later. The command line takes only -O default/fair, so
the real worker is started from Python, app.Worker(optimization=...). With fcfs each job is written to
the process Celery's event loop lists first, busy or not: the short tasks wait in the long task's pipe
and then run one after another there, while the other process stays idle. With fair (the control) the
idle process runs them at once. Which tasks share the long task's process, in what order they start and
when, must agree between real Celery, the virtual replay and --real.

Also, in virtual time only: what fcfs does to a warm shutdown, a hard time limit and a revoke of a job
waiting in a pipe, and the strategy's other names."""
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

from qlint.worker import ScenarioError, parse_scenario

from .celery_worker import READY_POLLS, publish
from .conftest import replay, replay_real, runs

APP = '''
import json, os, time
from celery import Celery

app = Celery("strategytest", broker=os.environ["QLINT_BROKER"])
LOG = os.environ["QLINT_LOG"]


@app.task(name="sleep", bind=True)
def sleep(self, seconds):
    start = time.time()
    time.sleep(seconds)
    with open(LOG, "a") as f:
        f.write(json.dumps([self.request.id, os.getpid(), start]) + "\\n")
'''
# -O only accepts default and fair (celery/bin/worker.py), so the worker is built as a program would.
WORKER = '''
import sys
from strategyapp import app

app.Worker(optimization=sys.argv[1], concurrency=2, pool="prefork", without_mingle=True, without_gossip=True,
           without_heartbeat=True, loglevel="INFO", hostname="w1@%h").start()
'''
LONG, SHORT, GAP = 4, 1, 0.5
SHORTS = ["s1", "s2", "s3", "s4"]
POLLS = 600  # of 50 ms

Run = tuple[str, bool, float]  # (message id, whether it ran in the long task's process, start in seconds)


def celery_run(tmp_path: Path, url: str, optimization: str) -> list[Run]:
    (tmp_path / "strategyapp.py").write_text(APP)
    (tmp_path / "strategyworker.py").write_text(WORKER)
    log, out = tmp_path / "runs.log", tmp_path / "worker.log"
    env = {**os.environ, "QLINT_BROKER": url, "QLINT_LOG": str(log), "PYTHONPATH": str(tmp_path)}
    with open(out, "w") as handle:
        worker = subprocess.Popen([sys.executable, "strategyworker.py", optimization], cwd=tmp_path, env=env,
                                  stdout=handle, stderr=subprocess.STDOUT)
    records = lambda: [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []  # noqa: E731
    try:
        for _ in range(READY_POLLS):
            if "ready." in out.read_text():
                break
            if worker.poll() is not None:
                pytest.fail("celery worker exited:\n" + out.read_text())
            time.sleep(0.05)
        else:
            pytest.fail("celery worker never got ready:\n" + out.read_text())
        # The long task reaches the pool alone, then the short ones: Celery hands the pool one job at a time.
        t0 = publish(tmp_path, "strategyapp", env,
                     f"strategyapp.sleep.apply_async([{LONG}], task_id='long')\n"
                     f"time.sleep({GAP})\n"
                     f"for mid in {SHORTS!r}:\n"
                     f"    strategyapp.sleep.apply_async([{SHORT}], task_id=mid)\n")
        for _ in range(POLLS):
            if len(records()) == 1 + len(SHORTS):
                break
            if worker.poll() is not None:
                pytest.fail("celery worker exited:\n" + out.read_text())
            time.sleep(0.05)
        else:
            pytest.fail(f"not every task ran: {records()}\n" + out.read_text())
    finally:
        worker.send_signal(signal.SIGQUIT)
        worker.wait(30)
    done = sorted(records(), key=lambda r: r[2])
    process = {mid: pid for mid, pid, _ in done}
    return [(mid, pid == process["long"], round(at - t0, 3)) for mid, pid, at in done]


def scenario(optimization: str, extra: dict | None = None) -> str:
    return json.dumps({
        "settings": {"broker_url": "redis://localhost/0"},
        "workers": [{"name": "w1", "concurrency": 2, "without_mingle": True, "optimization": optimization}],
        "tasks": {"long": {"duration": LONG}, "short": {"duration": SHORT}},
        "submit": [{"at": 0, "task": "long", "id": "long"}]
                  + [{"at": GAP, "task": "short", "id": mid} for mid in SHORTS],
        "until": LONG + len(SHORTS) * SHORT + 2,
        **(extra or {}),
    })


def model_runs(trace) -> list[Run]:
    done = sorted(trace.executions, key=lambda e: e.start)
    slot = {e.id: e.slot for e in done}
    return [(e.id, e.slot == slot["long"], round(e.start, 3)) for e in done]


@pytest.mark.parametrize("optimization", ["fcfs", "fair"])
def test_pool_strategy_matches_celery(optimization, redis_url, tmp_path):
    base = redis_url.rsplit("/", 1)[0]
    url, real_url = f"{base}/3", f"{base}/4"
    redis.Redis.from_url(url).flushdb()
    real = celery_run(tmp_path, url, optimization)
    text = scenario(optimization)
    virtual = model_runs(replay(text))
    in_real_time = model_runs(replay_real(text, real_url, tmp_path))
    figures = f"celery {real}\nvirtual {virtual}\n--real {in_real_time}"
    print(figures)
    behind = [mid for mid, shared, _ in real if shared and mid != "long"]
    # what the strategy decides: fcfs queues every short task in the long task's process, fair none
    assert behind == (SHORTS if optimization == "fcfs" else []), figures
    for model in (virtual, in_real_time):
        assert [(mid, shared) for mid, shared, _ in real] == [(mid, shared) for mid, shared, _ in model], figures
        for (_, _, real_at), (_, _, model_at) in zip(real, model):
            # the publish and the hand-over to a process take a few ms in the real worker
            assert abs(real_at - model_at) < 0.5, figures


def test_fcfs_burst_goes_two_by_two():
    """Six short tasks published together to a -c 4 worker busy with a long one: Redis gives the worker
    one message per turn of its event loop, which writes it in the next turn with the one read then, to
    the first and the second process. Celery 5.7 (run twice, the same each time): s2 ran at once on
    another process; s1, s3, s4, s5 and s6 started at 3.03, 3.33, 3.63, 3.93 and 4.23 s, one after the
    other in the long task's process (s4 once s2 had freed the semaphore)."""
    extra = {"workers": [{"name": "w1", "concurrency": 4, "without_mingle": True, "optimization": "fcfs"}],
             "tasks": {"long": {"duration": 3}, "short": {"duration": 0.3}},
             "submit": [{"at": 0, "task": "long", "id": "long"}]
                       + [{"at": GAP, "task": "short", "id": f"s{i}"} for i in range(1, 7)]}
    ran = model_runs(replay(scenario("fcfs", extra)))
    assert ran == [("long", True, 0), ("s2", False, 0.5), ("s1", True, 3), ("s3", True, 3.3), ("s4", True, 3.6),
                   ("s5", True, 3.9), ("s6", True, 4.2)], ran


def test_names_of_the_strategies():
    """Celery's other names: default is fair, fast is fcfs; anything else is refused."""
    assert model_runs(replay(scenario("fast"))) == model_runs(replay(scenario("fcfs")))
    assert model_runs(replay(scenario("default"))) == model_runs(replay(scenario("fair")))
    with pytest.raises(ScenarioError, match="optimization"):
        parse_scenario(scenario("fifo"))


def test_fcfs_warm_shutdown_runs_what_the_pipe_holds_and_restores_it():
    """A warm shutdown drops the jobs no process accepted, but the one in the long task's pipe is still
    read and run, and its message, never acked, goes back to the queue with s2's: a second worker runs s1
    again. Observed with Celery 5.7 (-c 2, SIGTERM at 1 s): s1 ran after the long task, then s1 and s2
    were restored, about 31 s after s1 ended; the model restores them when s1 ends."""
    extra = {"workers": [{"name": "w1", "concurrency": 2, "without_mingle": True, "optimization": "fcfs"},
                         {"name": "w2", "concurrency": 1, "without_mingle": True, "start": 10}],
             "submit": [{"at": 0, "task": "long", "id": "long"},
                        {"at": GAP, "task": "short", "id": "s1"}, {"at": GAP, "task": "short", "id": "s2"}],
             "faults": [{"at": 1, "stop": "w1"}], "until": 20}
    trace = replay(scenario("fcfs", extra))
    ran = [(e.id, e.worker, e.start) for e in sorted(trace.executions, key=lambda e: e.start)]
    assert ran == [("long", "w1", 0), ("s1", "w1", LONG), ("s1", "w2", 10), ("s2", "w2", 10 + SHORT)], ran
    assert runs(trace, "s1") == 2


def test_fcfs_time_limit_puts_the_pipe_back():
    """A process killed at its hard limit takes no job with it: those in its pipe go to the other process.
    Observed with Celery 5.7, once billiard noticed the death (3 s after the limit, which the model, as
    for any killed process, does not wait)."""
    trace = replay(scenario("fcfs", {"settings": {"broker_url": "redis://localhost/0", "task_time_limit": 2}}))
    first = {e.id: (e.slot, e.start) for e in sorted(trace.executions, key=lambda e: -e.start)}
    assert first["long"] == (1, 0)
    assert first["s1"] == (2, 2)  # it waited in w1/1's pipe until the kill
    assert all(runs(trace, mid) == 1 for mid in ["long", *SHORTS])


def test_fcfs_revoke_of_a_piped_job():
    """Revoked while in a pipe: without terminate it still runs (the revoked check was made when it went
    to the pool); with terminate the process is killed as soon as it takes the job. Both observed with
    Celery 5.7. There the next jobs started on the other process once billiard noticed the death (1.9 s
    later); the model, as for any killed process, replaces it at once."""
    plain = replay(scenario("fcfs", {"faults": [{"at": 1, "revoke": "s1"}]}))
    assert runs(plain, "s1") == 1
    killed = replay(scenario("fcfs", {"faults": [{"at": 1, "revoke": "s1", "terminate": True}]}))
    s1 = next(e for e in killed.executions if e.id == "s1")
    assert (s1.start, s1.end, s1.outcome) == (LONG, LONG, "terminated")
    assert all(runs(killed, mid) == 1 for mid in SHORTS)
