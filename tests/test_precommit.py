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


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """This checkout's working tree committed once into a repository of its own, so that every
    project below uses one installed hook (try-repo would install it again for each)."""
    repo = tmp_path_factory.mktemp("hook-repo")
    shutil.copytree(ROOT, repo, dirs_exist_ok=True, ignore=shutil.ignore_patterns(
        ".git", "__pycache__", "*.egg-info", "build", ".qlint_cache", ".pytest_cache", "benchmarks"))
    env = {**os.environ, **_GIT}
    for command in (["git", "init", "-q"], ["git", "add", "."], ["git", "commit", "-q", "-m", "hook"]):
        subprocess.run(command, cwd=repo, env=env, check=True)
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, env=env, check=True, capture_output=True, text=True)
    return repo, rev.stdout.strip()


_GIT = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com"}

_PROJECT = {
    "proj/__init__.py": "",
    "proj/celery.py": 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.settings")\n',
    "proj/settings.py": 'broker_url = "redis://redis:6379/0"\n',
    "proj/tasks.py": "from proj.celery import app\n\n\n@app.task\ndef refresh(account_id):\n    return account_id\n",
}
# A worker whose soft time limit outlasts its hard one: QL402 on the command line itself.
_WORKER = "celery -A proj worker --time-limit=300 --soft-time-limit=600"

# Each kind of deployment file qlint reads, with the worker in it: the finding stands in that file.
DEPLOYMENT_KINDS = {
    "Procfile": f"web: gunicorn proj.wsgi\nworker: {_WORKER}\n",
    "deploy/celery-worker.service": f"[Unit]\nDescription=worker\n\n[Service]\nExecStart=/srv/venv/bin/{_WORKER}\n",
    "deploy/supervisord.conf": f"[program:worker]\ncommand={_WORKER}\n",
    "Dockerfile": f"FROM python:3.12-slim\nCOPY . /app\nCMD {_WORKER}\n",
    "docker/worker.Dockerfile": f"FROM python:3.12-slim\nCMD {_WORKER}\n",
    "docker-compose.yml": f"services:\n  worker:\n    build: .\n    command: {_WORKER}\n",
    "deploy/k8s/worker.yaml": ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: worker}\nspec:\n  template:\n"
                               "    spec:\n      containers:\n        - name: worker\n          command: [celery, -A, proj, "
                               "worker, --time-limit=300, --soft-time-limit=600]\n"),
    "docker-entrypoint.sh": f"#!/bin/sh\nset -e\nexec {_WORKER}\n",
    "bin/start-worker": f"#!/bin/sh\nexec {_WORKER}\n",
}
# Files qlint reads for what they set or install, with nothing wrong in them: the hook must
# run on them (a change there changes what the rest means), and pass.
QUIET_KINDS = {
    ".env": "BROKER_URL=redis://redis:6379/0\n",
    ".env.production": "BROKER_URL=redis://redis:6379/1\n",
    "requirements.txt": "celery[redis]==5.5.3\n",
    "requirements/base.in": "celery>=5.5\n",
    "settings.toml": "[production]\nCELERY_WORKER_PREFETCH_MULTIPLIER = 1\n",
    "config/celery.yaml": "CELERY_TASK_ACKS_LATE: false\n",
    "setup.cfg": "[options]\ninstall_requires =\n    celery>=5.5\n",
}


def _run_hook(tmp_path: Path, home: Path, hook: tuple[Path, str], files: dict[str, str],
              changed: str) -> subprocess.CompletedProcess:
    repo = tmp_path / "project"
    for rel, text in {**_PROJECT, **files}.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text, encoding="utf-8")
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hook[0]}\n    rev: {hook[1]}\n    hooks:\n      - id: qlint\n", encoding="utf-8")
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), **_GIT}
    for command in (["git", "init", "-q"], ["git", "add", "."], ["git", "commit", "-q", "-m", "project"]):
        subprocess.run(command, cwd=repo, env=env, check=True)
    return subprocess.run([sys.executable, "-m", "pre_commit", "run", "--files", changed],
                          cwd=repo, env=env, capture_output=True, text=True)


@pytest.mark.parametrize("name", DEPLOYMENT_KINDS)
def test_hook_runs_on_each_deployment_file_kind(tmp_path, pre_commit_home, hook_repo, name):
    run = _run_hook(tmp_path, pre_commit_home, hook_repo, {name: DEPLOYMENT_KINDS[name]}, name)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Skipped" not in run.stdout and "Failed" in run.stdout
    assert f"{name}:" in run.stdout and "QL402" in run.stdout, run.stdout


@pytest.mark.parametrize("name", QUIET_KINDS)
def test_hook_runs_on_environment_settings_and_dependency_files(tmp_path, pre_commit_home, hook_repo, name):
    run = _run_hook(tmp_path, pre_commit_home, hook_repo, {name: QUIET_KINDS[name]}, name)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Passed" in run.stdout and "no files to check" not in run.stdout, run.stdout


def test_hook_skips_files_qlint_does_not_read(tmp_path, pre_commit_home, hook_repo):
    run = _run_hook(tmp_path, pre_commit_home, hook_repo, {"docs/index.md": "# Docs\n"}, "docs/index.md")
    assert run.returncode == 0 and "no files to check" in run.stdout, run.stdout


def test_hook_file_pattern_covers_every_name_qlint_reads():
    """The hook's `files` pattern against qlint's own tests on a name: every file of the bundled
    examples that qlint would read, and the kinds above, match it."""
    import re

    import yaml

    from qlint.scan.deploy_files import candidate
    from qlint.scan.discovery import walk_files
    from qlint.sources.dependencies import dependency_kind

    [hook] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    pattern = re.compile(hook["files"])
    names = [rel for rel, _ in walk_files(EXAMPLES)] + [*DEPLOYMENT_KINDS, *QUIET_KINDS, *_PROJECT]
    read = [n for n in names if n.endswith(".py") or candidate(n) or dependency_kind(n)]
    assert len(read) > 40
    assert [n for n in read if not pattern.search(n)] == []
    assert not pattern.search("docs/index.md") and not pattern.search("static/logo.png")
