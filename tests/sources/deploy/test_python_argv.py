"""Celery command lines that project code spells as argument lists and starts itself."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from qlint.sources.deploy.python_argv import read_python_argv

RUNNER = '''
import subprocess
import sys


class WorkerService:
    def __init__(self, queue, num):
        self.queue, self.num = queue, num

    @property
    def cmd(self):
        return [
            "celery", "-A", "proj", "worker",
            "-P", "threads",
            "-c", str(self.num),
            "-Q", self.queue,
        ]


def beat():
    subprocess.run([sys.executable, "-m", "celery", "-A", "proj", "beat", "-l", "INFO"])


NOT_A_COMMAND = ["celery", "kombu", "redis"]
ALSO_NOT = ("worker", "celery")
'''


def read(code: str, path: str = "proj/services.py"):
    return read_python_argv(path, textwrap.dedent(code).encode())


def test_each_list_that_spells_a_celery_command_is_a_process():
    facts = read(RUNNER)
    assert facts.kind == "python"
    worker, beat = facts.processes
    assert (worker.name, worker.command.kind, worker.command.app) == ("WorkerService.cmd", "worker", "proj")
    assert (beat.name, beat.command.kind, beat.command.app) == ("beat", "beat", "proj")
    pool = worker.command.option("pool")
    assert (pool.value.status, pool.value.value) == ("known", "threads")
    assert (pool.value_span.path, pool.value_span.line, pool.value_span.column) == ("proj/services.py", 14, 20)
    for name, source in (("concurrency", "str(self.num)"), ("queues", "self.queue")):
        value = worker.command.option(name).value
        assert (value.status, value.reason) == ("unknown", f"computed in Python ({source})")


def test_lists_that_start_no_celery_command_are_not_processes():
    assert read("ARGS = ['celery', 'kombu']\nOTHER = ['worker', 'celery', '-A', 'proj']\n") is None
    assert read("cmd = ['celery', '-A', 'proj', 'worker'\n") is None  # does not parse
    assert read("x = 1\n") is None


def test_a_started_worker_is_part_of_the_deployment(tmp_path):
    """The command that starts the workers runs the threads pool, where revoke(terminate=True)
    kills nothing (QL502 silent), and keeps no state db, so a restart forgets revokes (QL501)."""
    files = {
        "proj/__init__.py": "",
        "proj/celery.py": 'from celery import Celery\n\napp = Celery("proj")\n',
        "proj/tasks.py": "from proj.celery import app\n\n\n@app.task\ndef build(x):\n    return x\n",
        "proj/jobs.py": "from proj.celery import app\n\n\ndef stop(task_id):\n"
                        "    app.control.revoke(task_id, terminate=True)\n",
        "proj/services.py": textwrap.dedent(RUNNER),
        # a test that starts a worker is no deployment
        "tests/test_worker.py": "def test_worker():\n    run(['celery', '-A', 'proj', 'worker', '--statedb', 'x'])\n",
    }
    for rel, content in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(content, encoding="utf-8")
    done = subprocess.run([str(Path(sys.executable).parent / "qlint"), "check", "--no-cache", "--format", "json",
                           "--select", "QL501,QL502", "."], cwd=tmp_path, capture_output=True, text=True)
    found = [(f["code"], f["path"], f["line"]) for f in json.loads(done.stdout)["findings"]]
    assert found == [("QL501", "proj/jobs.py", 5)]
    config = subprocess.run([str(Path(sys.executable).parent / "qlint"), "config", "--no-cache", "."], cwd=tmp_path,
                            capture_output=True, text=True).stdout
    assert "worker 'WorkerService.cmd'  proj/services.py" in config and "tests/test_worker.py" not in config


def test_deep_expressions_are_read_without_recursion():
    chain = " + ".join(["n"] * 1500)
    facts = read(f"x = {chain}\ncmd = ['celery', '-A', 'proj', 'worker', '-c', {chain}]\n")
    (process,) = facts.processes
    assert process.command.option("concurrency").value.status == "unknown"
