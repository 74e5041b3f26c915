"""Configuration modules and classes, and code on the app, compared with what real Celery reads."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.resolve.conftest import celery_reads, where, write_tree

IMPORT_APP = "from proj.celery import app\n"


def compare_with_celery(tmp_path, app, names, setup=IMPORT_APP):
    """qlint's value of each setting equals the one real Celery ends up with."""
    real = celery_reads(tmp_path, setup, names)
    for name in names:
        ours = app.setting(name)
        assert ours.status in ("known", "default"), (name, ours)
        expected = real[name]
        got = list(ours.value) if isinstance(ours.value, tuple) else ours.value
        assert got == expected, name


def test_module_named_by_string_with_new_names(analyse_tree, tmp_path):
    files = {
        "proj/__init__.py": "",
        "proj/celery.py": 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n',
        "proj/celeryconfig.py": """
            from datetime import timedelta

            broker_url = "redis://localhost:6379/3"
            task_acks_late = True
            worker_prefetch_multiplier = 1
            result_expires = timedelta(hours=2)
            task_time_limit = 30 * 60
            report_dir = "/srv/reports"
        """,
    }
    (app,) = analyse_tree(files).project.apps
    assert (app.source, app.source_kind, app.source_path) == ("proj.celeryconfig", "module", "proj/celeryconfig.py")
    expires = app.setting("result_expires")
    assert (expires.value, where(expires)) == (7200, ("proj/celeryconfig.py", 6))
    assert where(app.setting("task_acks_late")) == ("proj/celeryconfig.py", 4)
    assert {(u.key, u.kind) for u in app.unread} == {("report_dir", "unrelated")}
    compare_with_celery(tmp_path, app, ["broker_url", "task_acks_late", "worker_prefetch_multiplier",
                                        "result_expires", "task_time_limit", "task_soft_time_limit"])


def test_module_object_with_old_names(analyse_tree, tmp_path):
    files = {
        "proj/__init__.py": "",
        "proj/celery.py": """
            from celery import Celery

            from proj import celeryconfig

            app = Celery("proj")
            app.config_from_object(celeryconfig)
        """,
        "proj/celeryconfig.py": """
            BROKER_URL = "redis://localhost:6379/4"
            CELERYD_PREFETCH_MULTIPLIER = 1
            CELERY_ACKS_LATE = True
            CELERYD_TASK_TIME_LIMIT = 600
        """,
    }
    (app,) = analyse_tree(files).project.apps
    assert (app.source_kind, app.source_path) == ("module", "proj/celeryconfig.py")
    assert where(app.setting("worker_prefetch_multiplier")) == ("proj/celeryconfig.py", 2)
    assert app.setting("task_time_limit").value == 600
    assert app.unread == []
    compare_with_celery(tmp_path, app, ["broker_url", "worker_prefetch_multiplier", "task_acks_late", "task_time_limit"])


def test_plain_import_of_a_top_level_module(analyse_tree, tmp_path):
    files = {
        "celeryconfig.py": "task_serializer = 'pickle'\naccept_content = ['pickle', 'json']\n",
        "tasks.py": """
            import celeryconfig
            from celery import Celery

            app = Celery("tasks", broker="redis://localhost:6379/5")
            app.config_from_object(celeryconfig)
        """,
    }
    (app,) = analyse_tree(files).project.apps
    assert app.source_path == "celeryconfig.py"
    assert where(app.setting("broker_url")) == ("tasks.py", 4)
    compare_with_celery(tmp_path, app, ["task_serializer", "accept_content", "broker_url"], "from tasks import app\n")


@pytest.mark.parametrize("spelling", ['"proj.config:Config"', '"proj.config.Config"', "Config"])
def test_class_as_source(analyse_tree, tmp_path, spelling):
    files = {
        "proj/__init__.py": "",
        "proj/config.py": """
            class Base:
                task_acks_late = True
                task_time_limit = 300


            class Config(Base):
                task_time_limit = 900
                worker_prefetch_multiplier = 1
        """,
        "proj/celery.py": f"""
            from celery import Celery

            from proj.config import Config

            app = Celery("proj")
            app.config_from_object({spelling})
        """,
    }
    (app,) = analyse_tree(files).project.apps
    assert (app.source_kind, app.source_path) == ("class", "proj/config.py")
    assert where(app.setting("task_acks_late")) == ("proj/config.py", 2)
    limit = app.setting("task_time_limit")
    assert (limit.value, where(limit)) == (900, ("proj/config.py", 7))
    compare_with_celery(tmp_path, app, ["task_acks_late", "task_time_limit", "worker_prefetch_multiplier"])


def test_config_source_keyword(analyse_tree, tmp_path):
    files = {
        "proj/__init__.py": "",
        "proj/settings.py": "task_acks_late = True\n",
        "proj/celery.py": 'from celery import Celery\n\napp = Celery("proj", config_source="proj.settings")\n',
    }
    (app,) = analyse_tree(files).project.apps
    assert where(app.setting("task_acks_late")) == ("proj/settings.py", 1)
    compare_with_celery(tmp_path, app, ["task_acks_late"])


def test_namespace_on_a_module_reads_prefixed_plain_and_old_names(analyse_tree, tmp_path):
    files = {
        "proj/__init__.py": "",
        "proj/conf.py": """
            CELERY_TASK_TIME_LIMIT = 30
            task_time_limit = 60
            task_soft_time_limit = 20
            CELERY_ACKS_LATE = True
            CELERYD_PREFETCH_MULTIPLIER = 2
            CELERY_WORKER_PREFETCH_MULTIPLIER = 3
            CELERY_TASK_ACK_LATE = False
        """,
        "proj/celery.py": 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.conf", namespace="CELERY")\n',
    }
    (app,) = analyse_tree(files).project.apps
    assert app.namespace == "CELERY"
    assert where(app.setting("task_time_limit")) == ("proj/conf.py", 1)
    assert where(app.setting("task_soft_time_limit")) == ("proj/conf.py", 3)
    assert where(app.setting("task_acks_late")) == ("proj/conf.py", 4)
    assert where(app.setting("worker_prefetch_multiplier")) == ("proj/conf.py", 6)
    assert {(u.key, u.kind, u.setting) for u in app.unread} == {
        ("task_time_limit", "shadowed", "task_time_limit"),
        ("CELERYD_PREFETCH_MULTIPLIER", "old-name", "worker_prefetch_multiplier"),
        ("CELERY_TASK_ACK_LATE", "unknown", None),
    }
    compare_with_celery(tmp_path, app, ["task_time_limit", "task_soft_time_limit", "task_acks_late",
                                        "worker_prefetch_multiplier"])


APP_CODE = """
from celery import Celery

app = Celery(
    "proj",
    broker="redis://kw:6379/0",
    backend="redis://kw:6379/1",
    include=["proj.tasks"],
)
app.config_from_object("proj.conf")
app.conf.update(task_soft_time_limit=50, result_expires=600)
app.conf.update({"task_default_queue": "work", "worker_concurrency": 3})
app.conf.task_time_limit = 99
app.conf["task_serializer"] = "pickle"
app.conf.broker_transport_options["visibility_timeout"] = 7200
"""

CONF = """
broker_url = "redis://file:6379/0"
task_time_limit = 10
task_soft_time_limit = 5
task_default_queue = "file"
task_serializer = "json"
accept_content = ["json", "pickle"]
broker_transport_options = {"max_retries": 3}
worker_prefetch_multiplier = 2
"""


def test_code_on_the_app_wins_over_the_source(analyse_tree, tmp_path):
    files = {"proj/__init__.py": "", "proj/conf.py": CONF, "proj/celery.py": APP_CODE}
    (app,) = analyse_tree(files).project.apps
    assert where(app.setting("broker_url")) == ("proj/celery.py", 5)
    assert where(app.setting("result_backend")) == ("proj/celery.py", 6)
    assert app.setting("include").value == ["proj.tasks"]
    assert where(app.setting("task_soft_time_limit")) == ("proj/celery.py", 10)
    assert where(app.setting("worker_concurrency")) == ("proj/celery.py", 11)
    assert where(app.setting("task_time_limit")) == ("proj/celery.py", 12)
    assert where(app.setting("task_serializer")) == ("proj/celery.py", 13)
    assert where(app.setting("worker_prefetch_multiplier")) == ("proj/conf.py", 8)
    options = app.setting("broker_transport_options")
    assert options.value == {"max_retries": 3, "visibility_timeout": 7200}
    assert where(options.item("max_retries")) == ("proj/conf.py", 7)
    assert where(options.item("visibility_timeout")) == ("proj/celery.py", 14)
    compare_with_celery(tmp_path, app, [
        "broker_url", "result_backend", "task_soft_time_limit", "result_expires", "task_default_queue",
        "worker_concurrency", "task_time_limit", "task_serializer", "accept_content", "broker_transport_options",
        "worker_prefetch_multiplier",
    ])


def test_code_on_the_app_without_a_source(analyse_tree, tmp_path):
    files = {"proj/__init__.py": "", "proj/conf.py": CONF,
             "proj/celery.py": APP_CODE.replace('app.config_from_object("proj.conf")\n', "")}
    (app,) = analyse_tree(files).project.apps
    assert app.source_kind == "none"
    options = app.setting("broker_transport_options")
    assert options.value == {"visibility_timeout": 7200}
    compare_with_celery(tmp_path, app, ["broker_url", "task_serializer", "broker_transport_options", "task_time_limit"])


def test_update_from_an_object_qlint_cannot_read_is_unknown(analyse_tree):
    files = {
        "proj/__init__.py": "",
        "proj/celery.py": """
            from celery import Celery
            from flask import Flask

            flask_app = Flask(__name__)
            flask_app.config.update(vault.read_settings())

            app = Celery("proj", broker="redis://localhost/0")
            app.conf.update(flask_app.config)
        """,
    }
    (app,) = analyse_tree(files).project.apps
    acks = app.setting("task_acks_late")
    assert acks.status == "unknown"
    assert "app.conf.update()" in acks.reason and where(acks) == ("proj/celery.py", 8)


def test_unknown_configuration_module(analyse_tree):
    files = {"proj/__init__.py": "",
             "proj/celery.py": 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.missing")\n'}
    (app,) = analyse_tree(files).project.apps
    value = app.setting("task_acks_late")
    assert value.status == "unknown" and "'proj.missing' is not in the project" in value.reason


def test_celery_subclass_and_setdefault(analyse_tree):
    files = {
        "proj/__init__.py": "",
        "proj/celery.py": """
            from celery import Celery


            class App(Celery):
                pass


            app = App("proj")
            app.conf.setdefault("task_time_limit", 120)
            app.conf.task_acks_late = True
        """,
    }
    (app,) = analyse_tree(files).project.apps
    assert app.name == "proj"
    assert app.setting("task_time_limit").value == 120
    assert where(app.setting("task_acks_late")) == ("proj/celery.py", 10)


def test_two_sources_the_last_one_counts(analyse_tree, tmp_path):
    files = {
        "proj/__init__.py": "",
        "proj/a.py": "task_time_limit = 1\n",
        "proj/b.py": "task_time_limit = 2\n",
        "proj/celery.py": 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.a")\napp.config_from_object("proj.b")\n',
    }
    (app,) = analyse_tree(files).project.apps
    assert where(app.setting("task_time_limit")) == ("proj/b.py", 1)
    compare_with_celery(tmp_path, app, ["task_time_limit"])


def test_write_tree_helper_is_used_by_probe(tmp_path):
    # The probe imports the project from disk: a module that fails to import fails the probe.
    write_tree(tmp_path, {"broken.py": "raise RuntimeError('x')\n"})
    with pytest.raises(AssertionError):
        celery_reads(tmp_path, "import broken\n", [])


def test_mixing_old_and_new_names_is_what_celery_refuses(analyse_tree, tmp_path):
    files = {
        "proj/__init__.py": "",
        "proj/conf.py": "BROKER_URL = 'redis://a/0'\nCELERY_ACKS_LATE = True\ntask_time_limit = 5\nresult_expires = 10\nCELERY_TASK_RESULT_EXPIRES = 10\n",
        "proj/celery.py": 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.conf")\n',
    }
    (app,) = analyse_tree(files).project.apps
    assert app.config_error is not None
    # the majority is old (3 to 2): task_time_limit has no old counterpart set, result_expires has one
    assert "in the old format: task_time_limit -> CELERYD_TASK_TIME_LIMIT" in app.config_error
    assert "result_expires" not in app.config_error
    probe = 'from proj.celery import app\ntry:\n    app.conf.task_time_limit\nexcept Exception as exc:\n    print(exc)\n    raise SystemExit(0)\n'
    done = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n" + probe],
                          capture_output=True, text=True, cwd=tmp_path, check=True)
    assert "Cannot mix new setting names with old setting names" in done.stdout
    assert "task_time_limit" in done.stdout and "CELERYD_TASK_TIME_LIMIT" in done.stdout
    assert "result_expires" not in done.stdout


def test_consistent_old_names_load(analyse_tree):
    files = {
        "proj/__init__.py": "",
        "proj/conf.py": "BROKER_URL = 'redis://a/0'\nCELERY_ACKS_LATE = True\n",
        "proj/celery.py": 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.conf")\n',
    }
    (app,) = analyse_tree(files).project.apps
    assert app.config_error is None


def test_writes_on_the_app_under_a_namespace(analyse_tree, tmp_path):
    files = {
        "proj/__init__.py": "",
        "proj/celery.py": """
            from celery import Celery

            app = Celery("proj", namespace="CELERY")
            app.conf.update(CELERY_TASK_TIME_LIMIT=5)
            app.conf.task_time_limit = 10
            app.conf.CELERY_ACKS_LATE = True
            app.conf.task_soft_time_limit = 3
            app.conf.CELERY_TASK_SOFT_TIME_LIMIT = 4
            app.conf.CELERY_TASK_TIME_LIMT = 1
        """,
    }
    (app,) = analyse_tree(files).project.apps
    assert where(app.setting("task_time_limit")) == ("proj/celery.py", 4)
    assert where(app.setting("task_acks_late")) == ("proj/celery.py", 6)
    assert where(app.setting("task_soft_time_limit")) == ("proj/celery.py", 8)
    assert {(u.key, u.kind) for u in app.unread} == {
        ("task_time_limit", "shadowed"), ("CELERY_TASK_TIME_LIMT", "unknown")}
    assert all(name == name.lower() for name in app.settings)
    compare_with_celery(tmp_path, app, ["task_time_limit", "task_acks_late", "task_soft_time_limit"])


def test_prefixed_writes_without_a_namespace_are_not_settings(analyse_tree, tmp_path):
    files = {
        "proj/__init__.py": "",
        "proj/celery.py": 'from celery import Celery\n\napp = Celery("proj")\napp.conf.update(CELERY_TASK_TIME_LIMIT=5)\n',
    }
    (app,) = analyse_tree(files).project.apps
    assert app.setting("task_time_limit").status == "default"
    assert "CELERY_TASK_TIME_LIMIT" not in app.settings
    assert [(u.key, u.kind) for u in app.unread] == [("CELERY_TASK_TIME_LIMIT", "unknown")]
    compare_with_celery(tmp_path, app, ["task_time_limit"])


def test_conditional_write_on_the_app(analyse_tree):
    files = {
        "proj/__init__.py": "",
        "proj/conf.py": "task_acks_late = False\n",
        "proj/celery.py": """
            import os

            from celery import Celery

            app = Celery("proj")
            app.config_from_object("proj.conf")
            if os.environ.get("PROD"):
                app.conf.task_acks_late = True
        """,
    }
    (app,) = analyse_tree(files).project.apps
    acks = app.setting("task_acks_late")
    assert acks.status == "several"
    assert [(a.value.value, where(a.value), a.condition) for a in acks.alternatives] == [
        (True, ("proj/celery.py", 8), 'os.environ.get("PROD")'),
        (False, ("proj/conf.py", 1), 'not (os.environ.get("PROD"))'),
    ]


@pytest.mark.parametrize("injection", [
    "globals().update(load_overrides())",
    "exec(open('/etc/proj/celery_local.py').read())",
    "globals()['task_acks_late'] = load_overrides()",
])
def test_a_module_that_sets_names_no_statement_binds_is_unknown(analyse_tree, injection):
    files = {"proj/__init__.py": "",
             "proj/celery.py": 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n',
             "proj/celeryconfig.py": f"from proj.overrides import load_overrides\n\ntask_time_limit = 60\n{injection}\n",
             "proj/overrides.py": "def load_overrides():\n    return {}\n"}
    (app,) = analyse_tree(files).project.apps
    value = app.setting("task_acks_late")
    assert value.status == "unknown" and "qlint does not see" in value.reason
    starred = {**files, "proj/celeryconfig.py": "from proj.base import *\n",
               "proj/base.py": files["proj/celeryconfig.py"]}
    assert "qlint does not see" in analyse_tree(starred).project.apps[0].setting("task_acks_late").reason


def test_a_dict_given_to_config_from_object(analyse_tree, tmp_path):
    """Celery's loader takes a mapping as it is: old names, consistently, are read."""
    files = {
        "proj/__init__.py": "",
        "proj/celery.py": """
            from celery import Celery

            app = Celery("proj")
            app.config_from_object({
                "BROKER_URL": "amqp://10.0.2.2",
                "CELERY_RESULT_BACKEND": "rpc://",
                "CELERYD_PREFETCH_MULTIPLIER": 1,
            })
        """,
    }
    (app,) = analyse_tree(files).project.apps
    assert (app.source, app.source_kind) == ("a dict", "dict")
    prefetch = app.setting("worker_prefetch_multiplier")
    assert where(prefetch) == ("proj/celery.py", 7)
    assert app.unread == [] and app.config_error is None
    compare_with_celery(tmp_path, app, ["broker_url", "result_backend", "worker_prefetch_multiplier"])
