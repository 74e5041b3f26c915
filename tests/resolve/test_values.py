"""Value forms in a configuration module: how sure qlint is, and where each value comes from."""
from __future__ import annotations

import pytest

from tests.resolve.conftest import where

CELERY = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.conf")\n'


def settings_of(analyse_tree, conf: str, **extra: str):
    files = {"proj/__init__.py": "", "proj/celery.py": CELERY, "proj/conf.py": conf, **extra}
    (app,) = analyse_tree(files).project.apps
    return app


def test_literals_names_star_imports_and_arithmetic(analyse_tree):
    app = settings_of(analyse_tree, """
        from proj.constants import *

        HOUR = 60 * 60
        task_time_limit = 2 * HOUR
        task_soft_time_limit = task_time_limit - MARGIN
        broker_url = f"redis://{REDIS_HOST}:6379/0"
        accept_content = ["json"] + EXTRA_CONTENT
        task_default_queue = "celery" if False else "work"
        worker_prefetch_multiplier = -(-3)
    """, **{"proj/constants.py": 'MARGIN = 300\nREDIS_HOST = "cache"\nEXTRA_CONTENT = ["msgpack"]\n_PRIVATE = 1\n'})
    limit = app.setting("task_time_limit")
    assert (limit.status, limit.value, where(limit)) == ("known", 7200, ("proj/conf.py", 4))
    assert app.setting("task_soft_time_limit").value == 6900
    assert app.setting("broker_url").value == "redis://cache:6379/0"
    assert app.setting("accept_content").value == ["json", "msgpack"]
    assert app.setting("task_default_queue").value == "work"
    assert app.setting("worker_prefetch_multiplier").value == 3


def test_timedelta_in_seconds(analyse_tree):
    app = settings_of(analyse_tree, """
        import datetime
        from datetime import timedelta as td

        result_expires = td(days=1, hours=12)
        task_time_limit = datetime.timedelta(minutes=90).total_seconds()
        task_soft_time_limit = td(0, 30)
        visibility = td(hours=2)
        broker_transport_options = {"visibility_timeout": visibility.total_seconds()}
    """)
    assert app.setting("result_expires").value == 129600
    assert app.setting("task_time_limit").value == 5400
    assert app.setting("task_soft_time_limit").value == 30
    assert app.setting("broker_transport_options").value == {"visibility_timeout": 7200}


def test_casts_of_known_values(analyse_tree):
    app = settings_of(analyse_tree, """
        task_time_limit = int("3600")
        task_soft_time_limit = float(3000)
        task_default_queue = str(42)
        task_acks_late = bool(1)
    """)
    assert [app.setting(n).value for n in ("task_time_limit", "task_soft_time_limit", "task_default_queue", "task_acks_late")] == [
        3600, 3000.0, "42", True]


def test_os_environ_reads_with_defaults(analyse_tree):
    app = settings_of(analyse_tree, """
        import os
        from os import getenv

        broker_url = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
        task_time_limit = int(os.getenv("TIME_LIMIT", "3600"))
        task_soft_time_limit = getenv("SOFT_LIMIT", 3000)
        worker_prefetch_multiplier = os.environ.get("PREFETCH", "4")
        task_acks_late = os.getenv("ACKS_LATE", "true").lower() == "true"
        task_always_eager = os.environ.get("EAGER", "0") in ("1", "yes")
        result_backend = os.environ["RESULT_URL"]
        worker_concurrency = os.getenv("CONCURRENCY")
    """)
    broker = app.setting("broker_url")
    assert (broker.status, broker.value, broker.env, broker.uncast, where(broker)) == (
        "env-default", "redis://localhost:6379/0", "REDIS_URL", False, ("proj/conf.py", 4))
    limit = app.setting("task_time_limit")
    assert (limit.status, limit.value, limit.env, limit.uncast) == ("env-default", 3600, "TIME_LIMIT", False)
    soft = app.setting("task_soft_time_limit")
    assert (soft.status, soft.value, soft.env, soft.uncast) == ("env-default", 3000, "SOFT_LIMIT", True)
    prefetch = app.setting("worker_prefetch_multiplier")
    assert (prefetch.value, prefetch.uncast) == ("4", True)
    acks = app.setting("task_acks_late")
    assert (acks.status, acks.value, acks.env, acks.uncast) == ("env-default", True, "ACKS_LATE", False)
    eager = app.setting("task_always_eager")
    assert (eager.status, eager.value, eager.env) == ("env-default", False, "EAGER")
    backend = app.setting("result_backend")
    assert backend.status == "unknown" and "RESULT_URL" in backend.reason
    concurrency = app.setting("worker_concurrency")
    assert concurrency.status == "unknown" and "CONCURRENCY" in concurrency.reason


def test_django_environ(analyse_tree):
    app = settings_of(analyse_tree, """
        import environ

        env = environ.Env(TIME_LIMIT=(int, 3600), EAGER=(bool, False))

        task_time_limit = env("TIME_LIMIT")
        task_always_eager = env("EAGER")
        task_soft_time_limit = env.int("SOFT_LIMIT", default=3000)
        broker_url = env("REDIS_URL", default="redis://localhost:6379/0")
        task_acks_late = env.bool("ACKS_LATE", default=True)
        worker_prefetch_multiplier = env("PREFETCH", default=4)
        result_expires = env.float("EXPIRES", 60.5)
    """)
    expected = {
        "task_time_limit": (3600, "TIME_LIMIT", False),
        "task_always_eager": (False, "EAGER", False),
        "task_soft_time_limit": (3000, "SOFT_LIMIT", False),
        "broker_url": ("redis://localhost:6379/0", "REDIS_URL", False),
        "task_acks_late": (True, "ACKS_LATE", False),
        "worker_prefetch_multiplier": (4, "PREFETCH", True),
        "result_expires": (60.5, "EXPIRES", False),
    }
    for name, (value, env, uncast) in expected.items():
        got = app.setting(name)
        assert (got.status, got.value, got.env, got.uncast) == ("env-default", value, env, uncast), name


def test_python_decouple(analyse_tree):
    app = settings_of(analyse_tree, """
        from decouple import Csv, config

        task_time_limit = config("TIME_LIMIT", default=3600, cast=int)
        task_acks_late = config("ACKS_LATE", default="yes", cast=bool)
        worker_prefetch_multiplier = config("PREFETCH", default="1")
        broker_url = config("BROKER_URL", default="redis://localhost:6379/0")
        accept_content = config("CONTENT", default="json", cast=Csv())
        task_soft_time_limit = config("SOFT_LIMIT")
    """)
    limit = app.setting("task_time_limit")
    assert (limit.status, limit.value, limit.env, limit.uncast) == ("env-default", 3600, "TIME_LIMIT", False)
    acks = app.setting("task_acks_late")
    assert (acks.value, acks.uncast) == (True, False)
    prefetch = app.setting("worker_prefetch_multiplier")
    assert (prefetch.value, prefetch.uncast) == ("1", True)
    assert app.setting("broker_url").uncast is False
    assert app.setting("accept_content").status == "unknown"
    soft = app.setting("task_soft_time_limit")
    assert soft.status == "unknown" and "SOFT_LIMIT" in soft.reason


def test_if_else_gives_several_with_conditions(analyse_tree):
    app = settings_of(analyse_tree, """
        import os
        import sys

        if sys.platform == "win32":
            worker_pool = "solo"
        elif os.environ.get("POOL"):
            worker_pool = "threads"
        task_time_limit = 60 if os.getenv("FAST") else 600
    """)
    pool = app.setting("worker_pool")
    assert pool.status == "several"
    assert [(a.value.status, a.value.value, a.condition) for a in pool.alternatives] == [
        ("known", "solo", 'sys.platform == "win32"'),
        ("known", "threads", 'not (sys.platform == "win32") and os.environ.get("POOL")'),
        ("default", "prefork", 'not (sys.platform == "win32") and not (os.environ.get("POOL"))'),
    ]
    limit = app.setting("task_time_limit")
    assert [a.value.value for a in limit.alternatives] == [60, 600]


@pytest.mark.parametrize("expression, reason", [
    ("compute_limit()", "compute_limit"),
    ("[x for x in range(3)]", "not evaluated"),
    ("undefined_name * 2", "undefined_name"),
    ("1 / 0", "ZeroDivisionError"),
    ("10 ** 100000", "fails"),
    ('"x" * 10 ** 9', "fails"),
])
def test_anything_else_is_unknown_with_a_reason(analyse_tree, expression, reason):
    app = settings_of(analyse_tree, f"def compute_limit():\n    return 5\n\n\ntask_time_limit = {expression}\n")
    value = app.setting("task_time_limit")
    assert value.status == "unknown" and reason in value.reason
    assert where(value) == ("proj/conf.py", 5)


def test_objects_inside_dicts_are_named_not_dumped(analyse_tree):
    app = settings_of(analyse_tree, """
        from celery.schedules import crontab, schedule


        class Every(schedule):
            pass


        beat_schedule = {
            "a": {"task": "proj.tasks.a", "schedule": Every},
            "b": {"task": "proj.tasks.b", "schedule": crontab(minute=0)},
            "c": {"task": "proj.tasks.c", "schedule": schedule},
        }
    """)
    value = app.setting("beat_schedule").value
    assert value["a"]["schedule"] == "<class Every>"
    assert value["b"]["schedule"] == "crontab(...)"
    assert value["c"]["schedule"] == "<celery.schedules.schedule>"
