"""The configuration a deployment runs with, where it is written outside the settings:
a Dockerfile's ENV, compose's environment and build, an entrypoint the image copies in,
and env templates standing in for a `.env` that is not committed. Run through the real
`qlint` command on projects written to disk."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.resolve.conftest import write_tree

CELERY_APP = """\
import os
from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings.local")
app = Celery("shop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
"""
DJANGO = {
    "manage.py": 'import os\n\nif __name__ == "__main__":\n'
                 '    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings.local")\n',
    "shop/__init__.py": "",
    "shop/celery.py": CELERY_APP,
    "shop/settings/__init__.py": "",
    "shop/settings/base.py": 'CELERY_BROKER_URL = "redis://redis:6379/0"\n',
    "shop/settings/local.py": "from .base import *\nCELERY_TASK_ALWAYS_EAGER = True\n",
    "shop/settings/production.py": "from .base import *\nCELERY_TASK_ACKS_LATE = True\nCELERY_TASK_TIME_LIMIT = 6 * 3600\n",
}


def qlint(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qlint", *args, "--no-cache", "."], cwd=root, capture_output=True,
                          text=True)


def findings(root: Path) -> list[tuple[str, str, int]]:
    done = qlint(root, "check", "--format", "json")
    assert done.returncode in (0, 1), done.stderr
    return sorted((f["code"], f["path"], f["line"]) for f in json.loads(done.stdout)["findings"])


def app_config(root: Path) -> dict:
    done = qlint(root, "config", "--format", "json")
    assert done.returncode == 0, done.stderr
    [app] = json.loads(done.stdout)["apps"]
    return app


def test_a_settings_module_named_only_in_the_dockerfile_is_the_deployed_one(tmp_path):
    write_tree(tmp_path, {**DJANGO, "Dockerfile": (
        "FROM python:3.11-slim\nENV DJANGO_SETTINGS_MODULE=shop.settings.production\nWORKDIR /app\nCOPY . /app\n"
        'COPY docker/entrypoint.sh /entrypoint.sh\nENTRYPOINT ["/entrypoint.sh"]\n'),
        "docker/entrypoint.sh": "#!/bin/sh\nexec celery -A shop worker -c 4\n"})
    assert ("QL101", "shop/settings/production.py", 2) in findings(tmp_path)
    app = app_config(tmp_path)
    assert app["config_source"] == "django.conf:settings (shop.settings.production)"
    assert app["settings_module_named_at"]["path"] == "Dockerfile"
    because = app["settings_module_chosen_because"]
    assert "Dockerfile:2" in because and "'shop.settings.local'" in because and "shop/celery.py:4" in because
    text = qlint(tmp_path, "config").stdout
    assert "DJANGO_SETTINGS_MODULE: the deployment sets DJANGO_SETTINGS_MODULE='shop.settings.production'" in text


def test_compose_environment_beats_setdefault_but_not_an_assignment(tmp_path):
    compose = ("services:\n  worker:\n    build: .\n    command: celery -A shop worker\n    environment:\n"
               "      DJANGO_SETTINGS_MODULE: shop.settings.production\n  redis:\n    image: redis:7\n")
    write_tree(tmp_path, {**DJANGO, "docker-compose.yml": compose})
    assert app_config(tmp_path)["config_source"] == "django.conf:settings (shop.settings.production)"
    assigned = CELERY_APP.replace('os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings.local")',
                                  'os.environ["DJANGO_SETTINGS_MODULE"] = "shop.settings.local"')
    write_tree(tmp_path, {"shop/celery.py": assigned})
    app = app_config(tmp_path)
    assert app["config_source"] == "django.conf:settings (shop.settings.local)"
    assert app["settings_module_chosen_because"] is None


def test_a_built_service_without_a_command_runs_the_dockerfiles_with_its_environment(tmp_path):
    compose = ("services:\n  worker:\n    build:\n      context: .\n      dockerfile: docker/Dockerfile.worker\n"
               "    deploy:\n      replicas: 3\n"
               "    environment:\n      - DJANGO_SETTINGS_MODULE=shop.settings.production\n")
    dockerfile = "FROM python:3.11\nCOPY . /app\nCMD celery -A shop worker --concurrency=8\n"
    write_tree(tmp_path, {**DJANGO, "docker-compose.yml": compose, "docker/Dockerfile.worker": dockerfile})
    found = findings(tmp_path)
    # three workers prefetch (multiplier 4, 8 processes each) while tasks may run 6 h
    assert ("QL401", "docker/Dockerfile.worker", 3) in found  # where the command is written
    processes = json.loads(qlint(tmp_path, "config", "--format", "json").stdout)["processes"]
    assert [(p["name"], p["deployment"], p["concurrency"]["value"]) for p in processes] == [
        ("worker", "docker-compose.yml", 8)]


def test_an_env_file_that_is_not_committed_is_read_from_its_template(tmp_path):
    settings = ('import os\nCELERY_BROKER_URL = os.environ["BROKER_URL"]\nCELERY_TASK_ACKS_LATE = True\n'
                'CELERY_TASK_TIME_LIMIT = 4 * 3600\n')
    compose = "services:\n  worker:\n    command: celery -A shop worker\n    env_file: .env\n"
    write_tree(tmp_path, {**DJANGO, "shop/settings/local.py": settings, "docker-compose.yml": compose,
                          ".env.example": "BROKER_URL=redis://redis:6379/1\n"})
    broker = app_config(tmp_path)["settings"]["broker_url"]
    assert (broker["value"], broker["env"]) == ("redis://redis:6379/1", "BROKER_URL")
    assert json.loads(qlint(tmp_path, "config", "--format", "json").stdout)["environment"]["BROKER_URL"] == [
        {"path": ".env.example", "line": 1}]
    assert "environment variable BROKER_URL set in .env.example:1" in qlint(tmp_path, "config").stdout
    assert ("QL101", "shop/settings/local.py", 3) in findings(tmp_path)


def test_a_makefile_that_copies_a_template_to_the_env_file(tmp_path):
    settings = 'import os\nCELERY_BROKER_URL = os.environ["BROKER_URL"]\n'
    write_tree(tmp_path, {**DJANGO, "shop/settings/local.py": settings,
                          "docker-compose.yml": "services:\n  worker:\n    command: celery -A shop worker\n"
                                                "    env_file: envs/.env\n",
                          "envs/dev.env": "BROKER_URL=amqp://rabbit//\n",
                          "Makefile": "setup:\n\tcp envs/dev.env envs/.env\n\tdocker compose up\n"})
    assert app_config(tmp_path)["settings"]["broker_url"]["value"] == "amqp://rabbit//"
    assert "environment variable BROKER_URL set in envs/dev.env:1" in qlint(tmp_path, "config").stdout


UNKNOWN_BROKER = {
    "proj/__init__.py": "",
    "proj/celery.py": 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n',
    "proj/celeryconfig.py": 'import os\n\nbroker_url = os.environ["BROKER_URL"]\ntask_acks_late = True\n'
                            "task_time_limit = 3 * 3600\n",
}


def test_an_unknown_broker_stands_for_every_broker_and_the_hazard_that_holds_on_all_is_reported(tmp_path):
    write_tree(tmp_path, UNKNOWN_BROKER)
    done = qlint(tmp_path, "check", "--format", "json")
    [finding] = [f for f in json.loads(done.stdout)["findings"] if f["code"] == "QL101"]
    assert (finding["path"], finding["line"]) == ("proj/celeryconfig.py", 4)
    for part in ("on Redis, after the Redis default visibility timeout of 1 h", "on RabbitMQ, its consumer_timeout",
                 "on SQS, after the SQS default visibility timeout of 30 min", "BROKER_URL (no default)"):
        assert part in finding["message"]
    text = qlint(tmp_path, "config").stdout
    assert "broker: environment variable BROKER_URL (no default): any of Redis, RabbitMQ, SQS" in text
    assert app_config(tmp_path)["broker"]["kinds"] == ["redis", "amqp", "sqs"]
    # a 40-minute limit is safe on Redis, one of the plausible brokers: silent
    write_tree(tmp_path, {"proj/celeryconfig.py": UNKNOWN_BROKER["proj/celeryconfig.py"].replace("3 * 3600", "2400")})
    assert not [f for f in findings(tmp_path) if f[0] in ("QL101", "QL102", "QL103")]


def test_the_deployment_shows_which_broker_runs(tmp_path):
    compose = ("services:\n  worker:\n    build: .\n    command: celery -A proj worker\n"
               "  queue:\n    image: docker.io/library/rabbitmq:3.13-management\n  db:\n    image: postgres:16\n")
    write_tree(tmp_path, {**UNKNOWN_BROKER, "docker-compose.yml": compose})
    app = app_config(tmp_path)
    assert app["broker"]["kinds"] == ["amqp"] and app["broker"]["origin"]["path"] == "docker-compose.yml"
    assert "the deployment runs a RabbitMQ server (docker-compose.yml:5" in qlint(tmp_path, "config").stdout
    assert ("QL103", "proj/celeryconfig.py", 5) in findings(tmp_path)
    both = compose + "  cache:\n    image: redis:7\n"
    write_tree(tmp_path, {"docker-compose.yml": both})
    assert app_config(tmp_path)["broker"]["kinds"] == ["redis", "amqp"]
    assert ("QL101", "proj/celeryconfig.py", 4) in findings(tmp_path)


def test_a_deployment_file_that_cannot_be_read_is_reported_not_skipped(tmp_path):
    from qlint.scan.deploy_files import load_deploy_files

    files = {"docker-compose.yml": None, "Procfile": b"worker: celery -A proj worker\n", "notes.sh": None}
    loaded = load_deploy_files(list(files), files.get)
    by_path = {f.path: f for f in loaded.facts}
    assert by_path["docker-compose.yml"].error.startswith("the file cannot be read")
    assert by_path["Procfile"].error is None and "notes.sh" not in by_path
