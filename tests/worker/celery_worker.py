"""A real Celery worker for the differential tests: one prefork worker on a test app module,
started with mingle, gossip and heartbeats off (they only add broadcast traffic), and waited
for until it logs that it is ready; and the client that sends the tests' messages."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Mapping

import pytest

READY_POLLS = 600  # of 50 ms


def start_worker(folder: Path, app: str, env: Mapping[str, str], concurrency: int = 1, name: str = "w1@%h",
                 options: tuple[str, ...] = (), log: str = "worker.log") -> subprocess.Popen:
    """`celery -A app worker` in folder, its output in folder/log; returns once it is ready."""
    out = open(folder / log, "w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", app, "worker", "-c", str(concurrency), "-P", "prefork",
         "--without-mingle", "--without-gossip", "--without-heartbeat", "-l", "INFO", "-n", name, *options],
        cwd=folder, env=dict(env), stdout=out, stderr=subprocess.STDOUT)
    out.close()  # the child keeps its own descriptor
    for _ in range(READY_POLLS):
        if "ready." in (folder / log).read_text():
            return worker
        if worker.poll() is not None:
            pytest.fail("celery worker exited:\n" + (folder / log).read_text())
        time.sleep(0.05)
    worker.kill()
    pytest.fail("celery worker never got ready:\n" + (folder / log).read_text())


def publish(folder: Path, app: str, env: Mapping[str, str], sends: str, *argv: str) -> float:
    """Runs `sends` (Python, with json, sys, time and the app module imported) in a client
    process in folder; returns the time just before it sent, the tests' time zero."""
    done = subprocess.run([sys.executable, "-c", f"import json, sys, time, {app}\nprint(time.time())\n" + sends, *argv],
                          cwd=folder, env=dict(env), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return float(done.stdout.split()[0])
