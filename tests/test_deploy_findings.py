"""Findings located in deployment files, end to end: every report format, lines and
columns in the file as written, and `# qlint: ignore` comments in YAML and Procfiles."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.resolve.conftest import write_tree

PROJECT = {
    "pyproject.toml": "[project]\nname = 'proj'\n",
    "proj/__init__.py": "",
    "proj/celery.py": "from celery import Celery\n\napp = Celery('proj')\napp.conf.task_time_limit = 7200\n",
    "proj/tasks.py": "from proj.celery import app\n\n@app.task\ndef build():\n    return 1\n",
    "docker-compose.yml": (
        "services:\n"
        "  worker:\n"
        "    image: proj\n"
        "    command: celery -A proj worker -B\n"
        "    deploy:\n"
        "      replicas: 2\n"
    ),
    "Procfile": "web: gunicorn proj.wsgi\nworker: celery -A proj worker -Q other\n",
}


def _check(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qlint", "check", "--no-cache", *args], cwd=root,
                          capture_output=True, text=True)


def test_every_format_points_into_the_deployment_files(tmp_path):
    write_tree(tmp_path, PROJECT)
    findings = json.loads(_check(tmp_path, "--format", "json", ".").stdout)["findings"]
    located = sorted((f["code"], f["path"], f["line"], f["column"]) for f in findings)
    # QL401 at the compose command (default prefetch, 2 h limit); QL503 at replicas: 2;
    # QL401 and QL404 for the Procfile worker, which is an alternative deployment.
    assert ("QL503", "docker-compose.yml", 6, 17) in located
    assert ("QL401", "docker-compose.yml", 4, 14) in located
    assert ("QL404", "proj/tasks.py", 3, 2) not in located  # the compose worker consumes 'celery'

    sarif = json.loads(_check(tmp_path, "--format", "sarif", ".").stdout)
    results = sarif["runs"][0]["results"]
    beat = next(r for r in results if r["ruleId"] == "QL503")
    location = beat["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("docker-compose.yml")
    assert location["region"]["startLine"] == 6 and location["region"]["startColumn"] == 17

    github = _check(tmp_path, "--format", "github", ".").stdout
    assert "::error file=docker-compose.yml,line=6,col=17" in github

    text = _check(tmp_path, ".").stdout
    assert "docker-compose.yml:6:17: QL503" in text and "replicas: 2" in text


def test_checking_one_deployment_file_reports_its_findings_only(tmp_path):
    write_tree(tmp_path, PROJECT)
    findings = json.loads(_check(tmp_path, "--format", "json", "Procfile").stdout)["findings"]
    assert findings and {f["path"] for f in findings} == {"Procfile"}


def test_suppression_comments_in_yaml_and_procfile(tmp_path):
    files = dict(PROJECT)
    files["docker-compose.yml"] = files["docker-compose.yml"].replace(
        "replicas: 2\n", "replicas: 2  # qlint: ignore[QL503] one beat is disabled by an env flag\n")
    files["docker-compose.yml"] = files["docker-compose.yml"].replace(
        "worker -B\n", "worker -B  # noqa: QL401\n")
    files["Procfile"] = "web: gunicorn proj.wsgi\nworker: celery -A proj worker -Q other  # qlint: ignore\n"
    write_tree(tmp_path, files)
    result = _check(tmp_path, "--format", "json", ".")
    assert json.loads(result.stdout)["findings"] == [], result.stdout
    assert result.returncode == 0
