"""The pre-commit hook, run by the real pre-commit tool against this checkout."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One isolated environment for the module: pre-commit installs qlint into it once.
    return tmp_path_factory.mktemp("pre-commit-home")


def _try_repo(example: str, tmp_path: Path, home: Path) -> subprocess.CompletedProcess:
    repo = tmp_path / example
    shutil.copytree(EXAMPLES / example, repo, ignore=shutil.ignore_patterns(".qlint_cache", "__pycache__"))
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    for command in (["git", "init", "-q"], ["git", "add", "."], ["git", "commit", "-q", "-m", "example"]):
        subprocess.run(command, cwd=repo, env=env, check=True)
    return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "qlint", "--all-files"],
                          cwd=repo, env=env, capture_output=True, text=True)


def test_hook_fails_on_the_incident_and_passes_on_the_fix(tmp_path, pre_commit_home):
    incident = _try_repo("incident", tmp_path, pre_commit_home)
    assert incident.returncode == 1, incident.stdout + incident.stderr
    assert "qlint" in incident.stdout and "Failed" in incident.stdout
    for code in ("QL101", "QL201", "QL301", "QL401"):
        assert code in incident.stdout

    fixed = _try_repo("fixed", tmp_path, pre_commit_home)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "Passed" in fixed.stdout
