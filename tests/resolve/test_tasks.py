"""Tasks: names, parameters and effective options from every place Celery takes them."""
from __future__ import annotations

import inspect

from celery import Task as CeleryTask
from celery.app.autoretry import add_autoretry_behaviour

from qlint.resolve.resolved import TASK_OPTION_DEFAULTS, TASK_OPTION_SETTINGS
from tests.resolve.conftest import where

APP = """
from celery import Celery

app = Celery("proj", broker="redis://localhost:6379/0")
app.conf.task_acks_late = False
app.conf.task_time_limit = 600
"""


def tree(**modules: str) -> dict[str, str]:
    return {"proj/__init__.py": "from .celery import app as celery_app\n", "proj/celery.py": APP, **modules}


def test_option_table_follows_celery():
    assert tuple(TASK_OPTION_SETTINGS.items()) == CeleryTask.from_config
    checked = 0
    for option, default in TASK_OPTION_DEFAULTS.items():
        # bind is a decorator argument (Task.bind is a method); typing None means the app's strict_typing
        if option not in ("bind", "typing") and hasattr(CeleryTask, option):
            assert getattr(CeleryTask, option) == default, option
            checked += 1
    assert checked >= 3
    # the autoretry options are read from the decorator with these defaults
    source = inspect.getsource(add_autoretry_behaviour)
    for option in ("retry_backoff", "retry_backoff_max", "retry_jitter"):
        assert f"getattr(task, '{option}', {TASK_OPTION_DEFAULTS[option]!r})" in source.replace('"', "'"), option


def test_app_task_with_literal_options_and_automatic_name(analyse_tree):
    project = analyse_tree(tree(**{"proj/tasks.py": """
        from proj.celery import app


        @app.task(acks_late=True, time_limit=3600, soft_time_limit=3500)
        def process_upload(upload_id, *, force=False):
            return upload_id
    """})).project
    task = project.task_named("proj.tasks.process_upload")
    assert (task.module, where_span(task.defined_at), where_span(task.decorator_span)) == (
        "proj/tasks.py", ("proj/tasks.py", 5), ("proj/tasks.py", 4))
    assert [(p.name, p.kind, p.has_default) for p in task.func.params] == [("upload_id", "pos", False), ("force", "kwonly", True)]
    acks = task.option("acks_late")
    assert (acks.status, acks.value, where(acks)) == ("known", True, ("proj/tasks.py", 4))
    assert task.option("time_limit").value == 3600
    # options it does not set come from the app, then from the Task class
    assert where(task.option("acks_on_failure_or_timeout")) is None
    assert task.option("acks_on_failure_or_timeout").value is True
    assert task.option("max_retries").value == 3
    assert task.app is project.apps[0] and not task.bind


def where_span(span):
    return (span.path, span.line)


def test_shared_task_bind_name_and_app_fallback(analyse_tree):
    project = analyse_tree(tree(**{"reports/__init__.py": "", "reports/tasks.py": """
        from celery import shared_task


        @shared_task(bind=True, name="reports.build")
        def build(self, report_id):
            return report_id


        @shared_task
        def cleanup():
            pass
    """})).project
    build = project.task_named("reports.build")
    assert build.bind and build.app is project.apps[0]
    limit = build.option("time_limit")
    assert (limit.value, where(limit)) == (600, ("proj/celery.py", 5))
    assert project.task_named("reports.tasks.cleanup").option("acks_late").value is False


def test_any_app_variable_and_empty_call(analyse_tree):
    project = analyse_tree(tree(**{"proj/jobs.py": """
        from proj import celery_app


        @celery_app.task
        def one():
            pass


        @celery_app.task()
        def two():
            pass
    """})).project
    assert {t.name for t in project.tasks()} == {"proj.jobs.one", "proj.jobs.two"}


def test_options_from_constants_settings_and_unpacked_dict(analyse_tree):
    files = tree(**{
        "manage.py": 'import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")\n',
        "proj/settings.py": "LONG_LIMIT = 2 * 60 * 60\nCELERY_TASK_ACKS_LATE = True\n",
        "proj/tasks.py": """
            from datetime import timedelta

            from celery import shared_task
            from django.conf import settings

            RETRIES = 5
            COMMON = {"acks_late": True, "max_retries": RETRIES}


            @shared_task(time_limit=settings.LONG_LIMIT, soft_time_limit=timedelta(minutes=110).total_seconds())
            def slow():
                pass


            @shared_task(**COMMON, rate_limit="10/m")
            def common():
                pass


            @shared_task(time_limit=settings.NOT_THERE)
            def missing():
                pass
        """,
    })
    project = analyse_tree(files).project
    slow = project.task_named("proj.tasks.slow")
    limit = slow.option("time_limit")
    assert (limit.value, where(limit)) == (7200, ("proj/settings.py", 1))
    assert slow.option("soft_time_limit").value == 6600
    common = project.task_named("proj.tasks.common")
    assert common.option("acks_late").value is True and where(common.option("acks_late")) == ("proj/tasks.py", 7)
    retries = common.option("max_retries")
    assert (retries.value, where(retries)) == (5, ("proj/tasks.py", 6))
    assert common.option("rate_limit").value == "10/m"
    missing = project.task_named("proj.tasks.missing").option("time_limit")
    assert missing.status == "unknown" and "NOT_THERE" in missing.reason


def test_decorator_factory_in_a_variable(analyse_tree):
    project = analyse_tree(tree(**{"proj/tasks.py": """
        from celery import shared_task

        from proj.celery import app

        retrying_task = shared_task(acks_late=True, max_retries=10)
        slow_task = app.task(time_limit=7200)


        @retrying_task
        def fetch(url):
            pass


        @slow_task(soft_time_limit=7000)
        def crunch():
            pass
    """})).project
    fetch = project.task_named("proj.tasks.fetch")
    assert fetch.option("acks_late").value is True and where(fetch.option("acks_late")) == ("proj/tasks.py", 5)
    assert fetch.option("max_retries").value == 10
    crunch = project.task_named("proj.tasks.crunch")
    assert (crunch.option("time_limit").value, crunch.option("soft_time_limit").value) == (7200, 7000)


def test_task_subclass_as_base(analyse_tree):
    project = analyse_tree(tree(**{
        "proj/base.py": """
            from celery import Task


            class ReliableTask(Task):
                acks_late = True
                reject_on_worker_lost = True
                autoretry_for = (ConnectionError,)


            class SlowTask(ReliableTask):
                time_limit = 7200
        """,
        "proj/tasks.py": """
            from proj.base import SlowTask
            from proj.celery import app


            @app.task(base=SlowTask, time_limit=60)
            def quick():
                pass


            @app.task(base=SlowTask)
            def slow():
                pass
        """,
    })).project
    quick = project.task_named("proj.tasks.quick")
    assert where(quick.option("acks_late")) == ("proj/base.py", 5)
    assert quick.option("time_limit").value == 60
    slow = project.task_named("proj.tasks.slow")
    assert (slow.option("time_limit").value, where(slow.option("time_limit"))) == (7200, ("proj/base.py", 11))
    assert slow.option("reject_on_worker_lost").value is True


def test_task_cls_of_the_app(analyse_tree):
    files = tree(**{
        "proj/base.py": "from celery import Task\n\n\nclass Base(Task):\n    acks_late = True\n",
        "proj/tasks.py": "from proj.celery import app\n\n\n@app.task\ndef job():\n    pass\n",
    })
    files["proj/celery.py"] = 'from celery import Celery\n\napp = Celery("proj", task_cls="proj.base:Base")\n'
    project = analyse_tree(files).project
    acks = project.task_named("proj.tasks.job").option("acks_late")
    assert (acks.value, where(acks)) == (True, ("proj/base.py", 5))


def test_task_annotations_override_decorator_options(analyse_tree):
    files = tree(**{"proj/tasks.py": """
        from proj.celery import app


        @app.task(rate_limit="1/s", acks_late=False)
        def add(x, y):
            return x + y


        @app.task
        def other():
            pass
    """})
    files["proj/celery.py"] = APP + """app.conf.task_annotations = {
    "proj.tasks.add": {"rate_limit": "10/s"},
    "*": {"acks_late": True},
}
"""
    project = analyse_tree(files).project
    add = project.task_named("proj.tasks.add")
    rate = add.option("rate_limit")
    assert (rate.value, where(rate)) == ("10/s", ("proj/celery.py", 7))
    acks = add.option("acks_late")
    assert (acks.value, where(acks)) == (True, ("proj/celery.py", 8))
    assert project.task_named("proj.tasks.other").option("rate_limit").status == "default"


def test_option_set_to_none_falls_back_to_the_app(analyse_tree):
    project = analyse_tree(tree(**{"proj/tasks.py": (
        "from proj.celery import app\n\n\n@app.task(time_limit=None)\ndef job():\n    pass\n")})).project
    limit = project.task_named("proj.tasks.job").option("time_limit")
    assert (limit.value, where(limit)) == (600, ("proj/celery.py", 5))


def test_unreadable_unpacked_options_make_the_rest_unknown(analyse_tree):
    project = analyse_tree(tree(**{"proj/tasks.py": """
        from proj.celery import app
        from proj.options import load_options


        @app.task(**load_options(), time_limit=5)
        def job():
            pass
    """, "proj/options.py": "def load_options():\n    return {}\n"})).project
    task = project.task_named("proj.tasks.job")
    assert task.option("time_limit").value == 5
    assert task.option("acks_late").status == "unknown"


def test_getattr_of_settings_with_a_default(analyse_tree):
    files = tree(**{
        "manage.py": 'import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")\n',
        "proj/settings.py": "LONG_LIMIT = 7200\n",
        "proj/tasks.py": """
            from celery import shared_task
            from django.conf import settings

            from proj import settings as project_settings


            @shared_task(
                time_limit=getattr(settings, "LONG_LIMIT", 60),
                soft_time_limit=getattr(settings, "SOFT_LIMIT", 7000),
                max_retries=getattr(project_settings, "RETRIES", 2),
            )
            def slow():
                pass
        """,
    })
    task = analyse_tree(files).project.task_named("proj.tasks.slow")
    limit = task.option("time_limit")
    assert (limit.value, where(limit)) == (7200, ("proj/settings.py", 1))
    soft = task.option("soft_time_limit")
    assert (soft.value, where(soft)) == (7000, ("proj/tasks.py", 9))
    assert task.option("max_retries").value == 2
