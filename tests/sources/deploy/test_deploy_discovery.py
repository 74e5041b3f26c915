"""Recognising deployment files by name and content, and telling alternatives apart."""
from __future__ import annotations

from pathlib import Path

import pytest

from qlint.sources.deploy import classify_path, read_deploy_file

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("path,head,kind", [
    ("docker-compose.yml", b"services:\n  w:\n    command: celery -A p worker\n", "compose"),
    ("deploy/compose.prod.yaml", b"services:\n  w:\n    command: celery worker\n", "compose"),
    # read even without celery: a compose file may build the image that runs celery, or run its broker
    ("docker-compose.override.yml", b"services:\n  web:\n    image: nginx\n", "compose"),
    ("k8s/worker.yaml", b"apiVersion: apps/v1\nkind: Deployment\n  args: [celery]\n", "kubernetes"),
    ("k8s/web.yaml", b"apiVersion: apps/v1\nkind: Deployment\n  args: [gunicorn]\n", None),
    ("Procfile", b"worker: celery -A p worker\n", "procfile"),
    ("Procfile.dev", b"worker: celery -A p worker\n", "procfile"),
    ("Procfile", b"web: gunicorn app\n", None),
    ("etc/supervisor/conf.d/celery.conf", b"[program:w]\ncommand=celery worker\n", "supervisord"),
    ("nginx.conf", b"server { celery }\n", None),
    ("celery.service", b"[Service]\nExecStart=celery -A p worker\n", "systemd"),
    ("scripts/start-worker.sh", b"#!/bin/bash\nexec celery -A p worker\n", "shell"),
    ("docker-entrypoint", b"#!/bin/sh\nexec celery -A p worker\n", "shell"),
    ("bin/run-worker", b"#!/usr/bin/env bash\ncelery -A p worker\n", "shell"),
    ("bin/run-worker", b"#!/usr/bin/env python\nimport celery\n", None),
    (".env", b"DEBUG=1\n", "dotenv"),
    (".env.example", b"DEBUG=1\n", "dotenv"),
    ("config/prod.env", b"DEBUG=1\n", "dotenv"),
    ("settings.toml", b"[default]\nCELERY_BROKER_URL = 'redis://'\n", "settings-toml"),
    ("pyproject.toml", b"[project]\ndependencies = ['celery>=5']\n", None),
    ("config/celery.yaml", b"production:\n  CELERY_TASK_ACKS_LATE: true\n", "settings-yaml"),
    (".github/workflows/ci.yml", b"jobs:\n  test:\n    run: pip install celery\n", None),
    ("docker-compose.yml", b"\x00\x00celery", "binary"),
    ("Procfile", b"\x00\x00", "binary"),
    ("data/blob.yaml", b"\x00\x00celery", None),
])
def test_classify_path(path, head, kind):
    assert classify_path(path, head) == kind


def test_non_deployment_file_gives_none():
    assert read_deploy_file("README.md", "Run celery -A proj worker") is None


def test_procfile_and_compose_of_the_same_app_are_distinct_deployments():
    compose = read_deploy_file("docker-compose.yml", (DATA / "docker-compose.yml").read_text())
    procfile = read_deploy_file("Procfile", (DATA / "Procfile").read_text())
    identities = {d.identity for d in compose.deployments} | {d.identity for d in procfile.deployments}
    assert identities == {"docker-compose.yml", "Procfile"}
    # one beat in the Procfile, and at most one per compose profile set: never two in one deployment
    for deployment in compose.deployments + procfile.deployments:
        beats = [p for p in deployment.processes
                 if p.command.kind == "beat" or "beat" in p.command.options]
        assert len(beats) <= 1
