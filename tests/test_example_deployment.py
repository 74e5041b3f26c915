"""The bundled deployment example, checked as a user checks it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "deployment"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qlint", *args, "--no-cache", "."], cwd=EXAMPLE,
                          capture_output=True, text=True)


def test_findings_come_from_the_deployment_files():
    result = _run("check", "--format", "json")
    assert result.returncode == 1, result.stderr
    found = sorted((f["code"], f["path"], f["line"]) for f in json.loads(result.stdout)["findings"])
    # QL101/QL102: the broker URL comes from a Kubernetes secret, and late acknowledgement with a
    # two-hour limit outlasts the deadline of every broker it may be (README of the example)
    assert found == [("QL101", "shop/tasks.py", 4), ("QL102", "shop/settings.py", 6), ("QL401", "Procfile", 2),
                     ("QL503", "deploy/k8s/workers.yaml", 32)]


def test_config_lists_each_worker_with_its_own_environment():
    report = json.loads(_run("config", "--format", "json").stdout)
    assert sorted(report["deployment_files"]) == [
        "Procfile", "deploy/celery-worker.service", "deploy/docker-compose.yml", "deploy/entrypoint.sh",
        "deploy/k8s/workers.yaml", "deploy/supervisord.conf",
    ]
    prefetch = {(p["defined_at"]["path"], p["name"]): p["prefetch_multiplier"]["value"]
                for p in report["processes"] if p["kind"] == "worker"}
    assert prefetch[("deploy/docker-compose.yml", "default")] == 8
    assert prefetch[("Procfile", "worker")] == 4
    assert prefetch[("deploy/docker-compose.yml", "exports")] == 1
    beats = [(p["name"], p["profiles"]) for p in report["processes"] if p["beat"]]
    assert ("beat", ["prod"]) in beats and ("dev-worker", ["dev"]) in beats
    assert report["environment"]["REDIS_URL"][0]["path"] == ".env"


def test_the_incident_is_fixed_on_the_command_line_too():
    examples = EXAMPLE.parent

    def worker(name: str) -> dict:
        run = subprocess.run([sys.executable, "-m", "qlint", "config", "--format", "json", "--no-cache", "."],
                             cwd=examples / name, capture_output=True, text=True, check=True)
        [process] = [p for p in json.loads(run.stdout)["processes"] if p["kind"] == "worker"]
        return process

    bad, fixed = worker("incident"), worker("fixed")
    assert (bad["prefetch_multiplier"]["value"], bad["prefetch_multiplier"]["status"]) == (4, "default")
    # --prefetch-multiplier=1 on the compose command line, which beats the app's setting
    assert fixed["prefetch_multiplier"] == {"value": 1, "status": "known",
                                            "origin": {"path": "docker-compose.yml", "line": 13}}
    assert "--prefetch-multiplier=1" in (examples / "incident" / "docker-compose.yml").read_text()  # the comment
