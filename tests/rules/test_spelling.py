"""qlint/semantics/spelling.py: fix texts name a setting as the app's configuration source spells it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qlint.pipeline.analysis import analyse
from qlint.semantics.spelling import dict_item, key

DJANGO_APP = ("import os\n\nfrom celery import Celery\n\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
              "app = Celery('proj')\napp.config_from_object('django.conf:settings', namespace='CELERY')\n")
MODULE_APP = "from celery import Celery\n\napp = Celery('proj')\napp.config_from_object('proj.celeryconfig')\n"


def app_of(root: Path, files: dict[str, str]):
    for rel, content in {"proj/__init__.py": "", **files}.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    (app,) = analyse(["."], cwd=root, root=root, use_cache=False).project.apps
    return app


@pytest.mark.parametrize(("files", "name", "expected"), [
    pytest.param({"proj/celery.py": DJANGO_APP, "proj/settings.py": "CELERY_BROKER_URL = 'redis://r'\n"},
                 "broker_transport_options", "CELERY_BROKER_TRANSPORT_OPTIONS", id="django-namespace"),
    pytest.param({"proj/celery.py": DJANGO_APP.replace("app = Celery('proj')\n", "app = Celery('proj')\n"
                                                       "app.conf.broker_transport_options = {'max_retries': 3}\n"),
                  "proj/settings.py": "CELERY_BROKER_URL = 'redis://r'\n"},
                 "broker_transport_options", "app.conf.broker_transport_options", id="django-written-on-the-app"),
    pytest.param({"proj/celery.py": DJANGO_APP.replace(", namespace='CELERY'", ""),
                  "proj/settings.py": "BROKER_URL = 'redis://r'\n"},
                 "broker_transport_options", "BROKER_TRANSPORT_OPTIONS", id="django-no-namespace-old-name"),
    pytest.param({"proj/celery.py": DJANGO_APP.replace(", namespace='CELERY'", ""),
                  "proj/settings.py": "BROKER_URL = 'redis://r'\n"},
                 "worker_disable_prefetch", "CELERYD_DISABLE_PREFETCH", id="django-no-namespace-generated-old-name"),
    pytest.param({"proj/celery.py": MODULE_APP, "proj/celeryconfig.py": "broker_url = 'redis://r'\n"},
                 "task_time_limit", "task_time_limit", id="module"),
    pytest.param({"proj/celery.py": MODULE_APP,
                  "proj/celeryconfig.py": "BROKER_URL = 'redis://r'\nCELERY_ACKS_LATE = True\n"},
                 "task_time_limit", "CELERYD_TASK_TIME_LIMIT", id="module-old-names-only"),
    pytest.param({"proj/celery.py": MODULE_APP.replace("'proj.celeryconfig'", "'proj.celeryconfig', namespace='CELERY'"),
                  "proj/celeryconfig.py": "broker_url = 'redis://r'\n"},
                 "broker_url", "broker_url", id="namespace-key-already-written-plain"),
    pytest.param({"proj/celery.py": MODULE_APP.replace("'proj.celeryconfig'", "'proj.celeryconfig', namespace='CELERY'"),
                  "proj/celeryconfig.py": "broker_url = 'redis://r'\n"},
                 "task_time_limit", "CELERY_TASK_TIME_LIMIT", id="namespace-module"),
    pytest.param({"proj/celery.py": "from celery import Celery\n\ncelery_app = Celery('proj')\n"
                                    "celery_app.conf.update(task_acks_late=True)\n"},
                 "task_time_limit", "celery_app.conf.task_time_limit", id="no-source"),
])
def test_key(tmp_path, files, name, expected):
    assert key(app_of(tmp_path, files), name) == expected


def test_dict_item_adds_to_a_dict_the_app_sets(tmp_path):
    app = app_of(tmp_path, {"proj/celery.py": DJANGO_APP,
                            "proj/settings.py": "CELERY_BROKER_TRANSPORT_OPTIONS = {'max_retries': 3}\n"})
    assert dict_item(app, "broker_transport_options", "visibility_timeout", "7200") == \
        "'visibility_timeout': 7200 in CELERY_BROKER_TRANSPORT_OPTIONS"


def test_ql101_fix_is_written_in_the_django_settings_spelling(tmp_path):
    app_of(tmp_path, {"proj/celery.py": DJANGO_APP,
                      "proj/settings.py": "CELERY_BROKER_URL = 'redis://redis:6379/0'\nCELERY_TASK_ACKS_LATE = True\n"
                                          "CELERY_TASK_TIME_LIMIT = 4 * 3600\n"})
    run = subprocess.run([sys.executable, "-m", "qlint", "check", "--no-cache", "--format", "json", "--select", "QL101", "."],
                         cwd=tmp_path, capture_output=True, text=True)
    (finding,) = json.loads(run.stdout)["findings"]
    assert finding["fix"]["description"].startswith(
        "set CELERY_BROKER_TRANSPORT_OPTIONS = {'visibility_timeout': 16440} (above the hard limit)")
