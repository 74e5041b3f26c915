"""A real Redis server for the real-time tests, on a free loopback port."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator

import pytest
import redis

from qlint.worker import parse_scenario, simulate
from qlint.worker.trace import Trace


def replay(text: str) -> Trace:
    scenario = parse_scenario(text)
    return simulate(scenario, scenario.settings or {})


def replay_real(text: str, url: str, folder: Path, scale: float = 1.0) -> SimpleNamespace:
    """`qlint simulate --real --time-scale scale` in a process of its own, as a user runs it,
    read back from its JSON: events and executions as objects with the same fields as a Trace's,
    tasks (id -> task name) and the summary. A pytest worker that has run hundreds of tests
    before is a poor parent for the replay's forked pool processes (some were never seen to
    exit, in the full suite only). The scenario is written to folder, where its `call:` modules
    are found."""
    scenario = folder / "scenario-real.json"
    scenario.write_text(text, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "qlint", "simulate", "--real", "--broker", url, "--format", "json",
                           "--time-scale", str(scale), "--no-cache", str(scenario)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    executions = [SimpleNamespace(**e) for e in found["executions"]]
    return SimpleNamespace(events=[SimpleNamespace(**e) for e in found["events"]], executions=executions,
                           tasks={e.id: e.task for e in executions}, summary=found["summary"], mode=found["mode"])


def runs(trace: Trace, mid: str) -> int:
    return trace.summary()["executions_per_id"].get(mid, 0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = _free_port()
    workdir: Path = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(host="127.0.0.1", port=port)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if proc.poll() is not None:
                pytest.fail(f"redis-server exited with {proc.returncode}")
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        proc.terminate()
        proc.wait(10)
