"""QL003 mixed-setting-names agrees with Celery 5.7's detect_settings on which sources it refuses."""
from __future__ import annotations

import pytest
from celery import Celery
from celery.exceptions import ImproperlyConfigured

from qlint.rules.mixed_setting_names import MixedSettingNames
from tests.rules.test_ql001 import django, findings, load_module

MODULE_APP = {"proj/__init__.py": "",
              "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('proj.celeryconfig')\n"}

SOURCES = [
    ("BROKER_URL = 'redis://'\nCELERY_RESULT_BACKEND = 'redis://'\ntask_acks_late = True\n", "task_acks_late"),
    ("broker_url = 'redis://'\ntask_acks_late = True\nCELERY_ACKS_LATE = True\n", None),
    ("broker_url = 'redis://'\ntask_time_limit = 5\nCELERY_ACKS_LATE = True\n", "CELERY_ACKS_LATE"),
    ("BROKER_URL = 'redis://'\ntask_acks_late = True\n", "BROKER_URL"),
    ("BROKER_URL = 'redis://'\nCELERY_ACKS_LATE = True\nworker_cancel_long_running_tasks_on_connection_loss = True\n",
     "worker_cancel_long_running_tasks_on_connection_loss"),
    ("BROKER_URL = 'redis://'\nCELERY_ACKS_LATE = True\n", None),
    ("broker_url = 'redis://'\ntask_acks_late = True\nDEBUG = True\n", None),
]


def celery_refuses(module) -> str | None:
    app = Celery("check", set_as_current=False)
    app.config_from_object(module)
    try:
        app.conf.task_acks_late
    except ImproperlyConfigured as exc:
        return str(exc)
    return None


@pytest.mark.parametrize(("source", "named"), SOURCES)
def test_agrees_with_celery(tmp_path, source, named):
    found = findings(tmp_path, MixedSettingNames(), {**MODULE_APP, "proj/celeryconfig.py": source})
    refusal = celery_refuses(load_module(tmp_path / "proj/celeryconfig.py"))
    assert bool(found) == bool(refusal)
    if named is not None:
        assert named in refusal
        line = next(i for i, text in enumerate(source.splitlines(), 1) if text.startswith(named))
        assert [(f.span.line, named in f.message) for f in found] == [(line, True)]


def test_no_check_under_a_namespace(tmp_path):
    settings = "CELERY_BROKER_URL = 'redis://'\nCELERY_ACKS_LATE = True\nCELERY_TASK_TIME_LIMIT = 5\n"
    assert findings(tmp_path, MixedSettingNames(), django(settings)) == []
    app = Celery("check", set_as_current=False)
    app.config_from_object(load_module(tmp_path / "site/settings.py"), namespace="CELERY")
    assert app.conf.task_acks_late is True and app.conf.task_time_limit == 5
