"""Hostile trees and files, through `qlint check` and `qlint config` as a user runs them:
a clear problem or note, never a traceback, and bounded work (issue 15)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
INCIDENT = REPO / "examples" / "incident"


def qlint(*args: str, cwd: Path, limit_memory: int | None = None) -> subprocess.CompletedProcess:
    """qlint in a child process with a UTF-8 locale; limit_memory caps its address space (bytes)."""
    env = {**os.environ, "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
    limit = None
    if limit_memory is not None:
        def limit() -> None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (limit_memory, limit_memory))
    return subprocess.run([sys.executable, "-m", "qlint", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, preexec_fn=limit)


def findings(run: subprocess.CompletedProcess) -> list[tuple[str, str, int]]:
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode in (0, 1), run.stderr
    return sorted((f["code"], f["path"], f["line"]) for f in json.loads(run.stdout))


@pytest.fixture()
def incident(tmp_path: Path) -> Path:
    shutil.copytree(INCIDENT, tmp_path / "incident")
    return tmp_path / "incident"


def test_file_and_folder_names_that_are_not_utf8(incident: Path):
    expected = findings(qlint("check", ".", "--no-cache", "--format", "json", cwd=incident))
    root = os.fsencode(incident)
    with open(root + b"/notes-\xff.txt", "wb") as handle:
        handle.write(b"notes\n")
    with open(root + b"/uploads/broken-\xe9.py", "wb") as handle:
        handle.write(b"from celery import shared_task\n\ndef oops(:\n")
    os.mkdir(root + b"/d\xe9ploiement")
    with open(root + b"/d\xe9ploiement/docker-compose.yml", "wb") as handle:
        handle.write(b"services:\n  worker:\n    command: celery -A insights worker -O fair\n")
    for args in (["--no-cache"], [], []):  # without the caches, a cold run, a warm run
        assert findings(qlint("check", ".", "--format", "json", *args, cwd=incident)) == expected
    for fmt in ("text", "sarif", "github"):
        run = qlint("check", ".", "--format", fmt, cwd=incident)
        assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    run = qlint("config", ".", cwd=incident)
    assert run.returncode == 0 and "Traceback" not in run.stderr and "insights" in run.stdout


def test_a_40kb_or_expression_leaves_the_rest_of_its_file_checked(incident: Path):
    expected = findings(qlint("check", ".", "--no-cache", "--format", "json", cwd=incident))
    assert ("QL301", "uploads/tasks.py", 22) in expected  # the chain in the file that gets the expression
    tasks = incident / "uploads/tasks.py"
    long_or = "FLAGS = " + " or ".join(["a"] * 8_000) + "\n"
    long_and = "def check(a):\n    return " + " and ".join(["a"] * 8_000) + "\n"
    tasks.write_text(tasks.read_text() + long_or + long_and)
    for args in (["--no-cache"], [], []):
        run = qlint("check", ".", "--format", "json", *args, cwd=incident)
        assert "internal error" not in run.stderr
        assert findings(run) == expected
