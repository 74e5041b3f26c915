"""Celery settings in Dynaconf's TOML/YAML files, laid over a Django settings module."""
from __future__ import annotations

from tests.resolve.conftest import where

PROJECT = {
    "manage.py": 'import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "site.settings")\n',
    "site/__init__.py": "",
    "site/celery.py": """
        import os
        from celery import Celery

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site.settings")
        app = Celery("site")
        app.config_from_object("django.conf:settings", namespace="CELERY")
    """,
    "site/settings.py": """
        CELERY_TASK_ACKS_LATE = False
        CELERY_TASK_TIME_LIMIT = 60

        import dynaconf  # noqa
        settings = dynaconf.DjangoDynaconf(__name__)  # noqa
    """,
    "site/settings.toml": """
        [default]
        CELERY_TASK_ACKS_LATE = true
        CELERY_BROKER_URL = "redis://localhost:6379/0"

        [development]
        CELERY_TASK_TIME_LIMIT = 300

        [production]
        CELERY_TASK_TIME_LIMIT = 7200
        CELERY_BROKER_TRANSPORT_OPTIONS = {visibility_timeout = 3600}
    """,
}


def test_file_values_override_the_module_in_the_default_environment(analyse_tree):
    app = analyse_tree(PROJECT).project.apps[0]
    assert app.setting("task_acks_late").value is True
    assert where(app.setting("task_acks_late")) == ("site/settings.toml", 2)
    # DJANGO_ENV is set nowhere: Dynaconf's default environment is development.
    assert app.setting("task_time_limit").value == 300
    assert app.setting("broker_url").value == "redis://localhost:6379/0"


def test_the_deployment_chooses_the_environment(analyse_tree):
    analysis = analyse_tree({**PROJECT, "Procfile": "worker: celery -A site worker\n",
                             ".env": "DJANGO_ENV=production\n"})
    app = analysis.project.apps[0]
    assert app.setting("task_time_limit").value == 7200
    assert app.setting("broker_transport_options").value == {"visibility_timeout": 3600}


def test_environments_that_differ_between_processes_give_alternatives(analyse_tree):
    analysis = analyse_tree({**PROJECT, "docker-compose.yml": """
        services:
          worker:
            command: celery -A site worker
            environment: {DJANGO_ENV: production}
          dev:
            command: celery -A site worker
            environment: {DJANGO_ENV: development}
    """})
    app = analysis.project.apps[0]
    limit = app.setting("task_time_limit")
    assert limit.status == "several" and sorted(v.value for v in limit.possible()) == [300, 7200]
    by_worker = {w.name: w.setting("task_time_limit").value for w in analysis.project.deployment.workers()}
    assert by_worker == {"worker": 7200, "dev": 300}


def test_prefixed_variable_overrides_every_file(analyse_tree):
    analysis = analyse_tree({**PROJECT, ".env": "DJANGO_CELERY_TASK_TIME_LIMIT=45\n"})
    limit = analysis.project.apps[0].setting("task_time_limit")
    assert limit.value == 45 and limit.origin.path == ".env"


def test_without_dynaconf_the_files_are_not_settings(analyse_tree):
    files = dict(PROJECT)
    files["site/settings.py"] = "CELERY_TASK_ACKS_LATE = False\nCELERY_TASK_TIME_LIMIT = 60\n"
    app = analyse_tree(files).project.apps[0]
    assert app.setting("task_acks_late").value is False and app.setting("task_time_limit").value == 60
