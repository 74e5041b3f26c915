"""The reference worker replays a project with the Celery release its dependency files pin,
where releases behave differently (a late-acked task killed by its hard limit)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.resolve.conftest import write_tree

PROJECT = {
    "proj/__init__.py": "",
    "proj/celery.py": 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n',
    "proj/celeryconfig.py": "broker_url = 'redis://redis:6379/0'\ntask_acks_late = True\n"
                            "task_acks_on_failure_or_timeout = False\n",
    "proj/tasks.py": "from proj.celery import app\n\n\n@app.task(time_limit=4)\ndef build():\n    pass\n",
    "scenario.yaml": "project: .\nunresolved: default\ntasks:\n  proj.tasks.build: {duration: 20}\n"
                     "workers:\n  - {name: w1, concurrency: 1}\nsubmit:\n  - {task: proj.tasks.build, at: 0}\nuntil: 30\n",
}


@pytest.mark.parametrize(("pin", "runs_again"), [("celery[redis]==5.4.0", False), ("celery[redis]==5.5.3", True)])
def test_the_project_release_decides_what_a_timed_out_task_does(tmp_path: Path, pin: str, runs_again: bool):
    write_tree(tmp_path, {**PROJECT, "requirements.txt": pin + "\n"})
    done = subprocess.run([sys.executable, "-m", "qlint", "simulate", "--no-cache", "scenario.yaml"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert ("duplicate executions: 0" not in done.stdout) == runs_again, done.stdout
