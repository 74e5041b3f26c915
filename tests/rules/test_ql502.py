"""QL502 terminate-in-code: which revokes terminate, the message per signal, and where the rule stays silent."""
from __future__ import annotations

from pathlib import Path

import pytest

from qlint.pipeline.analysis import analyse
from qlint.model import Finding
from qlint.rules.terminate_in_code import TerminateInCode

APP = 'from celery import Celery\n\napp = Celery("proj")\n'
TASKS = "from proj.celery import app\n\n\n@app.task\ndef build(x):\n    return x\n"
HEADER = ("import signal\n\nfrom celery import current_app\nfrom celery.result import AsyncResult\n\n"
          "from proj.celery import app\nfrom proj.tasks import build\n\n\n")
KILLED = "is killed instead, and a killed task cleans nothing up"


def check(root: Path, code: str, module: str = "proj/jobs.py") -> list[Finding]:
    files = {"proj/__init__.py": "", "proj/celery.py": APP, "proj/tasks.py": TASKS, module: HEADER + code}
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return list(TerminateInCode().check(analyse(["."], cwd=root, root=root, use_cache=False).project))


FLAGGED = [
    ("def stop(task_id):\n    app.control.revoke(task_id, terminate=True)\n", "revoke(terminate=True)", KILLED),
    ("def stop(task_id):\n    AsyncResult(task_id).revoke(terminate=True, signal='SIGKILL')\n", "revoke(terminate=True)",
     KILLED),
    ("def stop():\n    result = build.delay(1)\n    result.revoke(terminate=True)\n", "revoke(terminate=True)", KILLED),
    ("def stop(task_id):\n    current_app.control.terminate(task_id)\n", "control.terminate()", KILLED),
    ("def stop(task_id):\n    app.control.revoke(task_id, terminate=True, signal='USR1')\n", "revoke(terminate=True)",
     "gets the exception instead"),
    ("def stop(task_id):\n    app.control.terminate(task_id, signal=signal.SIGUSR1)\n", "control.terminate()",
     "gets the exception instead"),
]


@pytest.mark.parametrize(("code", "written", "effect"), FLAGGED)
def test_terminating_revokes(tmp_path, code, written, effect):
    (finding,) = check(tmp_path, code)
    assert finding.message.startswith(f"{written} ") and finding.message.endswith(effect)
    line = HEADER.count("\n") + 1 + code.count("\n") - 1
    assert finding.span.line == line
    text = (HEADER + code).splitlines()[line - 1]
    marked = text[finding.span.column - 1:finding.span.end_column - 1]
    assert marked == "True" if "terminate=True" in code else marked == text.strip()


SILENT = [
    "def stop(task_id):\n    app.control.revoke(task_id)\n",
    "def stop(task_id):\n    app.control.revoke(task_id, terminate=False)\n",
    "def stop(job):\n    job.revoke(terminate=True)\n",  # not known to be a Celery result
    "def stop(proc):\n    proc.terminate()\n",
]


@pytest.mark.parametrize("code", SILENT)
def test_silent(tmp_path, code):
    assert check(tmp_path, code) == []


@pytest.mark.parametrize("module", ["tests/test_jobs.py", "proj/management/commands/kill_task.py"])
def test_tests_and_management_commands(tmp_path, module):
    assert check(tmp_path, "def stop(task_id):\n    app.control.revoke(task_id, terminate=True)\n", module) == []
