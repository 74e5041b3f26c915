"""QL004 setting-type: strings in bool and numeric settings, and what Celery 5.7 does with them."""
from __future__ import annotations

import subprocess
import sys

import pytest
from celery import Celery
from celery.result import EagerResult

from qlint.rules.setting_type import SettingType
from tests.rules.test_ql001 import django, findings, load_module

MODULE_APP = {"proj/__init__.py": "",
              "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('proj.celeryconfig')\n"}


def test_env_read_without_cast_in_a_bool_setting(tmp_path, monkeypatch):
    found = findings(tmp_path, SettingType(), django("import os\nCELERY_TASK_ALWAYS_EAGER = os.environ.get('EAGER', False)\n"))
    assert [f.span.line for f in found] == [2]
    assert "EAGER" in found[0].message and "'False' and '0' included" in found[0].message
    # What the finding predicts: with EAGER=False in the environment, Celery runs tasks inline.
    monkeypatch.setenv("EAGER", "False")
    app = Celery("check", set_as_current=False)
    app.config_from_object(load_module(tmp_path / "site/settings.py"), namespace="CELERY")

    @app.task(shared=False)
    def add(x, y):
        return x + y

    assert isinstance(add.delay(1, 2), EagerResult)


def test_string_literal_in_a_numeric_setting_breaks_celery(tmp_path):
    found = findings(tmp_path, SettingType(), {**MODULE_APP, "proj/celeryconfig.py": "broker_url = 'memory://'\n"
                                                                                     "broker_pool_limit = '10'\n"})
    assert [(f.span.line, "broker_pool_limit" in f.message) for f in found] == [(2, True)]
    # In a process of its own: app.pool sets kombu's process-wide pool limit.
    script = ("import sys\nsys.path.insert(0, sys.argv[1])\nfrom celery import Celery\n"
              "app = Celery('check')\napp.config_from_object('proj.celeryconfig')\n"
              "with app.pool.acquire(block=True):\n    pass\n")
    run = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True)
    assert run.returncode != 0 and "TypeError" in run.stderr


@pytest.mark.parametrize("settings", [
    "import os\nCELERY_TASK_TIME_LIMIT = int(os.getenv('LIMIT', 300))\n",
    "import environ\nenv = environ.Env()\nCELERY_TASK_TIME_LIMIT = env.int('LIMIT', default=300)\n",
    "from decouple import config\nCELERY_TASK_TIME_LIMIT = config('LIMIT', default=300, cast=int)\n",
    "import os\nCELERY_WORKER_PREFETCH_MULTIPLIER = os.getenv('PREFETCH', 4)\n",
    "import os\nCELERY_BROKER_URL = os.getenv('BROKER', 'redis://')\nCELERY_TASK_DEFAULT_QUEUE = os.getenv('Q', 'x')\n",
    "import os\nCELERY_TASK_TIME_LIMIT = os.environ['LIMIT']\n",
])
def test_cast_converted_string_or_unknown_values_are_left_alone(tmp_path, settings):
    assert findings(tmp_path, SettingType(), django(settings)) == []


@pytest.mark.parametrize(("settings", "line", "setting"), [
    ("import os\nCELERY_TASK_TIME_LIMIT = os.getenv('LIMIT', 300)\n", 2, "task_time_limit"),
    ("import environ\nenv = environ.Env()\nCELERY_TASK_ACKS_LATE = env('ACKS', default=True)\n", 3, "task_acks_late"),
    ("from decouple import config\nCELERY_WORKER_MAX_TASKS_PER_CHILD = config('MAX', default=100)\n", 2,
     "worker_max_tasks_per_child"),
    ("import os\nCELERY_BROKER_CONNECTION_TIMEOUT = os.getenv('TIMEOUT', '4')\n", 2, "broker_connection_timeout"),
])
def test_env_reads_that_give_strings(tmp_path, settings, line, setting):
    found = findings(tmp_path, SettingType(), django(settings))
    assert [(f.span.line, f.message.split(" ", 1)[0]) for f in found] == [(line, setting)]


def test_each_branch_is_checked(tmp_path):
    settings = ("import os\nDEBUG = os.getenv('DEBUG') == '1'\nif DEBUG:\n    CELERY_BROKER_HEARTBEAT = 10\n"
                "else:\n    CELERY_BROKER_HEARTBEAT = os.getenv('HEARTBEAT', 20)\n")
    found = findings(tmp_path, SettingType(), django(settings))
    assert len(found) == 1 and "HEARTBEAT" in found[0].message


def test_the_value_a_compose_file_sets(tmp_path):
    files = django("import os\nCELERY_TASK_TIME_LIMIT = os.getenv('LIMIT', 300)\n")
    files["docker-compose.yml"] = ("services:\n  worker:\n    image: shop\n    command: celery -A site worker\n"
                                   "    environment:\n      LIMIT: '600'\n")
    found = findings(tmp_path, SettingType(), files)
    assert len(found) == 1 and "the deployment sets LIMIT='600'" in found[0].message
