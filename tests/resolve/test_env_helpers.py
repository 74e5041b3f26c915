"""Settings helpers around the environment, evaluated where settings call them: small pure
functions of the project (get_string, get_bool, env_int built on another), as Celery sees
their result with the variable unset, or as the deployment sets it."""
from __future__ import annotations

from qlint.resolve.values import to_json

HELPERS = '''\
"""Reading the environment the way this project likes it."""
import os

TRUE = ("1", "true", "yes", "on")


def get_string(name, default=None):
    return os.environ.get(name, default)


def get_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in TRUE


def env_int(name, default):
    """An integer, built on get_string."""
    return int(get_string(name, default))


def required(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} must be set")
    return value


def remember(name, default):
    CACHE[name] = default
    return default


CACHE = {}
'''
APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'
CONFIG = '''\
from proj.env import env_int, get_bool, get_string, remember, required

broker_url = get_string("BROKER_URL", "redis://localhost:6379/0")
task_acks_late = get_bool("ACKS_LATE", True)
task_time_limit = env_int("TIME_LIMIT", 7200)
result_backend = required("RESULT_URL")
task_soft_time_limit = remember("SOFT", 60)
'''
FILES = {"proj/__init__.py": "", "proj/celery.py": APP, "proj/env.py": HELPERS, "proj/celeryconfig.py": CONFIG}


def settings(analysis, *names):
    app = analysis.project.apps[0]
    return {name: to_json(app.setting(name)) for name in names}


def test_helpers_give_their_default_when_the_variable_is_unset(analyse_tree):
    found = settings(analyse_tree(FILES), "broker_url", "task_acks_late", "task_time_limit")
    assert found["broker_url"] == {"value": "redis://localhost:6379/0", "status": "env-default",
                                   "origin": {"path": "proj/celeryconfig.py", "line": 3}, "env": "BROKER_URL"}
    assert (found["task_acks_late"]["value"], found["task_acks_late"]["env"]) == (True, "ACKS_LATE")
    assert (found["task_time_limit"]["value"], found["task_time_limit"]["env"]) == (7200, "TIME_LIMIT")


def test_a_helper_that_raises_or_writes_outside_itself_is_not_guessed(analyse_tree):
    found = settings(analyse_tree(FILES), "result_backend", "task_soft_time_limit")
    assert found["result_backend"]["status"] == "unknown"
    assert found["task_soft_time_limit"]["status"] == "unknown"  # it writes CACHE: not run


def test_the_deployment_sets_the_variable_the_helper_reads(analyse_tree):
    compose = ("services:\n  worker:\n    command: celery -A proj worker\n    environment:\n"
               "      ACKS_LATE: 'no'\n      BROKER_URL: amqp://rabbit//\n")
    found = settings(analyse_tree({**FILES, "docker-compose.yml": compose}), "broker_url", "task_acks_late")
    assert found["broker_url"]["value"] == "amqp://rabbit//" and found["broker_url"]["status"] == "known"
    assert found["task_acks_late"]["value"] is False


def test_the_result_drives_the_rules(analyse_tree):
    from qlint.pipeline.engine import check
    from qlint.user_config.project_config import QlintConfig

    analysis = analyse_tree(FILES)
    codes = {f.code for f in check(analysis, QlintConfig(), ["."]).findings}
    assert "QL101" in codes  # late ack, a 2 h limit, Redis' default 1 h visibility timeout
