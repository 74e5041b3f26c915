"""`qlint config`: the JSON contract and the text report, run as a user runs them."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema

from tests.resolve.conftest import write_tree
from tests.conftest import cache_of

PROJECT = {
    "manage.py": 'import os\n\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "insights.settings.production")\n',
    "insights/__init__.py": "from .celery import app as celery_app\n",
    "insights/celery.py": """
        import os

        from celery import Celery

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "insights.settings.production")

        app = Celery("insights")
        app.config_from_object("django.conf:settings", namespace="CELERY")
        app.autodiscover_tasks()
    """,
    "insights/settings/__init__.py": "",
    "insights/settings/base.py": """
        import os
        from datetime import timedelta

        DEBUG = os.environ.get("DEBUG") == "1"
        CELERY_TASK_ACKS_LATE = True
        CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT", 7200))
        CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": timedelta(hours=2)}
        CELERY_RESULT_EXPIRES = timedelta(days=2)
        CELERY_WORKER_CONCURRENCY = os.environ.get("CONCURRENCY", 4)
        CELERY_TASK_ACK_LATE = True
    """,
    "insights/settings/production.py": """
        from .base import *
        from .secrets import load_secret

        if DEBUG:
            CELERY_TASK_ALWAYS_EAGER = True
        CELERY_RESULT_BACKEND = load_secret("backend")
    """,
    "insights/settings/secrets.py": "def load_secret(name):\n    return name\n",
    "uploads/__init__.py": "",
    "uploads/tasks.py": """
        from celery import shared_task


        @shared_task(acks_late=True, time_limit=60 * 60)
        def process_upload(upload_id):
            return upload_id
    """,
}

ORIGIN = {"oneOf": [
    {"type": "object", "required": ["path", "line"],
     "properties": {"path": {"type": "string"}, "line": {"type": "integer", "minimum": 1}}},
    {"const": "default"},
    {"type": "null"},
]}
VALUE = {
    "type": "object",
    "required": ["value", "origin", "status"],
    "properties": {
        "origin": ORIGIN,
        "status": {"enum": ["known", "default", "env-default", "several", "unknown"]},
        "env": {"type": "string"},
        "reason": {"type": "string"},
        "alternatives": {"type": "array", "items": {"type": "object", "required": ["condition", "value", "status"]}},
    },
    "allOf": [
        {"if": {"properties": {"status": {"const": "env-default"}}}, "then": {"required": ["env"]}},
        {"if": {"properties": {"status": {"const": "unknown"}}}, "then": {"required": ["reason"]}},
        {"if": {"properties": {"status": {"const": "several"}}}, "then": {"required": ["alternatives"]}},
        {"if": {"properties": {"status": {"const": "default"}}}, "then": {"properties": {"origin": {"const": "default"}}}},
    ],
}
CONTRACT = {
    "type": "object",
    "required": ["apps"],
    "properties": {"apps": {"type": "array", "items": {
        "type": "object",
        "required": ["name", "defined_at", "settings", "tasks"],
        "properties": {
            "name": {"type": "string"},
            "defined_at": ORIGIN,
            "settings": {"type": "object", "propertyNames": {"pattern": "^[a-z][a-z0-9_]*$"},
                         "additionalProperties": VALUE},
            "tasks": {"type": "object", "additionalProperties": {
                "type": "object", "required": ["defined_at", "options"],
                "properties": {"defined_at": ORIGIN, "options": {"type": "object", "additionalProperties": VALUE}},
            }},
        },
    }}},
}


def qlint(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qlint", "config", *args], cwd=cwd, capture_output=True, text=True, check=False)


def test_json_contract(tmp_path):
    write_tree(tmp_path, PROJECT)
    done = qlint(tmp_path, "--format", "json", "--no-cache")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    jsonschema.validate(report, CONTRACT)
    (app,) = report["apps"]
    assert (app["name"], app["defined_at"]) == ("insights", {"path": "insights/celery.py", "line": 7})
    settings = app["settings"]
    assert settings["task_acks_late"] == {"value": True, "status": "known",
                                          "origin": {"path": "insights/settings/base.py", "line": 5}}
    assert settings["worker_prefetch_multiplier"] == {"value": 4, "status": "default", "origin": "default"}
    limit = settings["task_time_limit"]
    assert (limit["value"], limit["status"], limit["env"], limit["origin"]) == (
        7200, "env-default", "CELERY_TASK_TIME_LIMIT", {"path": "insights/settings/base.py", "line": 6})
    transport = settings["broker_transport_options"]
    assert (transport["value"], transport["origin"]["line"]) == ({"visibility_timeout": 7200}, 7)
    assert settings["result_expires"]["value"] == 172800
    concurrency = settings["worker_concurrency"]
    assert (concurrency["value"], concurrency["uncast"]) == (4, True)
    eager = settings["task_always_eager"]
    assert eager["status"] == "several"
    assert [(a["value"], a["condition"]) for a in eager["alternatives"]] == [
        (True, "DEBUG"), (False, "not (DEBUG)")]
    backend = settings["result_backend"]
    assert backend["status"] == "unknown" and "load_secret" in backend["reason"]
    assert "task_ack_late" not in settings
    assert {"key": "CELERY_TASK_ACK_LATE", "kind": "unknown", "setting": None,
            "origin": {"path": "insights/settings/base.py", "line": 10}} in app["unread_keys"]
    task = app["tasks"]["uploads.tasks.process_upload"]
    assert task["defined_at"] == {"path": "uploads/tasks.py", "line": 5}
    assert task["options"]["acks_late"]["value"] is True
    assert task["options"]["acks_late"]["origin"] == {"path": "uploads/tasks.py", "line": 4}
    assert task["options"]["time_limit"]["value"] == 3600
    assert task["parameters"] == ["upload_id"]
    effective = task["effective"]
    assert effective["acks_late"]["origin"] == {"path": "uploads/tasks.py", "line": 4}
    assert effective["acks_on_failure_or_timeout"] == {"value": True, "status": "default", "origin": "default"}
    assert effective["soft_time_limit"]["status"] == "default"


def test_paths_are_relative_to_where_qlint_runs(tmp_path):
    write_tree(tmp_path / "repo", PROJECT)
    done = qlint(tmp_path, "--format", "json", "--no-cache", "repo")
    (app,) = json.loads(done.stdout)["apps"]
    assert app["defined_at"] == {"path": "repo/insights/celery.py", "line": 7}
    assert app["settings"]["task_acks_late"]["origin"]["path"] == "repo/insights/settings/base.py"


def test_all_lists_every_setting_of_the_catalog(tmp_path):
    from qlint import catalog

    write_tree(tmp_path, PROJECT)
    report = json.loads(qlint(tmp_path, "--format", "json", "--all", "--no-cache").stdout)
    assert set(report["apps"][0]["settings"]) >= set(catalog.settings())
    jsonschema.validate(report, CONTRACT)


def test_text_report(tmp_path):
    write_tree(tmp_path, PROJECT)
    done = qlint(tmp_path, "--no-cache")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # the Celery and kombu releases first (none pinned here: the newest), then each app
    assert lines[0] == "celery 5.7  no dependency file names celery: the newest release qlint knows is assumed"
    assert lines[1].startswith("kombu  5.7  no dependency file pins kombu: celery 5.7.0 requires kombu>=5.7.0")
    lines = lines[3:]
    assert lines[0] == "app 'insights'  defined at insights/celery.py:7"
    assert "configuration source: django.conf:settings (insights.settings.production), namespace 'CELERY'" in lines[1]
    assert lines[2] == "  DJANGO_SETTINGS_MODULE set at insights/celery.py:5"
    text = done.stdout
    assert "insights/settings/base.py:6, environment variable CELERY_TASK_TIME_LIMIT, default used" in text
    assert any(line.split()[:3] == ["worker_prefetch_multiplier", "4", "Celery"] for line in lines)
    assert "True if DEBUG | False if not (DEBUG)" in text
    assert "unknown: " in text and "uploads.tasks.process_upload  (uploads/tasks.py:5)" in text
    assert "CELERY_TASK_ACK_LATE  insights/settings/base.py:10  (not a Celery setting)" in text


def test_cache_warm_run_is_identical_and_no_cache_writes_nothing(tmp_path):
    write_tree(tmp_path, PROJECT)
    uncached = qlint(tmp_path, "--format", "json", "--no-cache").stdout
    assert not cache_of(tmp_path).exists()
    cold = qlint(tmp_path, "--format", "json").stdout
    assert any(p.is_file() for p in cache_of(tmp_path).rglob("*"))
    warm = qlint(tmp_path, "--format", "json").stdout
    assert uncached == cold == warm


def test_problems_and_missing_paths(tmp_path):
    write_tree(tmp_path, {**PROJECT, "uploads/broken.py": "from celery import shared_task\ndef x(:\n"})
    done = qlint(tmp_path, "--no-cache")
    assert done.returncode == 0 and "Traceback" not in done.stderr
    assert "uploads/broken.py:2: cannot analyse: syntax error" in done.stdout
    missing = qlint(tmp_path, "nowhere")
    assert missing.returncode == 2 and "no such file or folder: nowhere" in missing.stderr


def test_no_app(tmp_path):
    write_tree(tmp_path, {"lib.py": "X = 1\n"})
    done = qlint(tmp_path, "--no-cache")
    assert done.stdout.startswith("No Celery app found under .")
    assert json.loads(qlint(tmp_path, "--format", "json", "--no-cache").stdout)["apps"] == []


def test_entrypoint_passing_its_arguments_on(tmp_path):
    # `"$@"` hands the worker whatever the container is started with: the options it may
    # hold are named as not read, and reading the script finishes.
    write_tree(tmp_path, {
        "proj/__init__.py": "",
        "proj/celery.py": "from celery import Celery\n\napp = Celery('proj')\n",
        "docker/entrypoint.sh": '#!/bin/sh\nset -e\nexec gosu app celery -A proj worker -B \\\n    --concurrency 4 \\\n    "$@"\n',
    })
    text = qlint(tmp_path, "--no-cache")
    assert text.returncode == 0, text.stderr
    assert "    not read             $@: unresolved, the options it holds are not read\n" in text.stdout
    (worker,) = json.loads(qlint(tmp_path, "--format", "json", "--no-cache").stdout)["processes"]
    assert worker["concurrency"]["value"] == 4
    assert worker["not_read"] == ["$@: unresolved, the options it holds are not read"]


def test_queue_objects_are_shown_as_written(tmp_path):
    write_tree(tmp_path, {
        "proj/__init__.py": "",
        "proj/celery.py": ("from celery import Celery\nfrom kombu import Queue\n\napp = Celery('proj')\n"
                           "app.conf.task_queues = (Queue('tasks'), Queue('transient', routing_key='t.#'))\n"),
        "Procfile": "worker: celery -A proj worker\n",
    })
    text = qlint(tmp_path, "--no-cache").stdout
    assert "(Queue('tasks'), Queue('transient'))  proj/celery.py:5" in text
    assert "    queues               ('tasks', 'transient')  proj/celery.py:5" in text


def test_a_member_that_cannot_be_read_shows_as_unknown(tmp_path):
    write_tree(tmp_path, {
        "proj/__init__.py": "",
        "proj/celery.py": ("import os\nfrom datetime import timedelta\n\nfrom celery import Celery\nfrom pytimeparse import parse\n\n"
                           "app = Celery('proj')\napp.conf.beat_schedule = {'expire': {'task': 'proj.expire',\n"
                           "    'schedule': timedelta(seconds=parse(os.environ.get('EVERY', '5 minutes'))), 'args': None}}\n"),
    })
    text = qlint(tmp_path, "--no-cache").stdout
    assert "{'expire': {'task': 'proj.expire', 'schedule': ?, 'args': None}}  proj/celery.py:8" in text


def test_code_that_may_write_unseen_settings_is_named_once(tmp_path):
    """An update qlint cannot read, and a settings module handed to a function: the report says
    where, once, and lists the settings it relies on as unknown, not every setting of the catalog."""
    write_tree(tmp_path, {
        "proj/__init__.py": "",
        "proj/celery.py": "from celery import Celery\n\nfrom proj.web import config\n\napp = Celery('proj')\n"
                          "app.conf.update(config.CELERY)\napp.conf.task_acks_late = True\n",
        "proj/web.py": "def load():\n    return {}\n\n\nconfig = load()\n",
        "site/__init__.py": "",
        "site/celery.py": "import os\n\nfrom celery import Celery\n\n"
                          "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site.settings')\n"
                          "app = Celery('site')\napp.config_from_object('django.conf:settings', namespace='CELERY')\n",
        "site/settings.py": "from site.classes import Base\n\n\nclass Settings(Base):\n    CELERY_TASK_ACKS_LATE = True\n\n\n"
                            "Settings.load_settings(__name__)\nCELERY_TASK_TIME_LIMIT = 60\n",
        "site/classes.py": "class Base:\n    pass\n",
    })
    done = qlint(tmp_path, "--no-cache")
    assert done.returncode == 0, done.stderr
    proj, site = done.stdout.split("\n\napp ")[-2:]  # after the Celery and kombu releases
    assert "  ! proj/celery.py:6: app.conf.update() with result of calling load(): the settings not written after it " \
           "are unknown" in proj
    assert proj.count("the settings not written after it are unknown") == 1
    assert "task_acks_late                    True" in proj and "arangodb_backend_settings" not in proj
    assert "  ! site/settings.py:8: Settings.load_settings(__name__) is handed the module and may set names qlint " \
           "does not see: the settings it does not set after that are unknown" in site
    assert "task_time_limit                   60" in site
    report = json.loads(qlint(tmp_path, "--format", "json", "--no-cache").stdout)
    jsonschema.validate(report, CONTRACT)
    by_name = {a["name"]: a for a in report["apps"]}
    assert by_name["proj"]["updated_unseen"]["origin"] == {"path": "proj/celery.py", "line": 6}
    assert "load_settings(__name__)" in by_name["site"]["settings_may_be_set_unseen"]
    assert by_name["site"]["settings"]["worker_prefetch_multiplier"]["status"] == "unknown"
