"""Apps built by a project function and returned (Flask's old `make_celery` guide), compared
with what real Celery holds once the module has run."""
from __future__ import annotations

from tests.resolve.conftest import where
from tests.resolve.test_config_modules import compare_with_celery

FACTORY = """
    from celery import Celery

    CONFIG = {"task_acks_late": True, "task_time_limit": 600}


    def make_celery(name, broker="redis://localhost:6379/0", config=CONFIG):
        celery = Celery(name, broker=broker)
        celery.conf.update(config)

        class ContextTask(celery.Task):
            def __call__(self, *args, **kwargs):
                return self.run(*args, **kwargs)

        celery.Task = ContextTask
        return celery
"""


def test_factory_in_the_same_module(analyse_tree, tmp_path):
    files = {
        "proj/__init__.py": "",
        "proj/worker.py": FACTORY + """

    celery_app = make_celery("proj", broker="redis://cache:6379/1")


    @celery_app.task(soft_time_limit=30)
    def ping():
        return "pong"
""",
    }
    (app,) = analyse_tree(files).project.apps
    assert (app.name, app.var, app.module) == ("proj", "celery_app", "proj/worker.py")
    assert where(app.setting("task_acks_late")) == ("proj/worker.py", 3)
    assert app.setting("broker_url").value == "redis://cache:6379/1"
    (task,) = app.tasks.values()
    assert task.name == "proj.worker.ping" and task.options["soft_time_limit"].value == 30
    compare_with_celery(tmp_path, app, ["broker_url", "task_acks_late", "task_time_limit"],
                        setup="from proj.worker import celery_app as app\n")


def test_factory_imported_from_another_module_is_found_where_it_is_bound(analyse_tree, tmp_path):
    files = {
        "proj/__init__.py": "",
        "proj/factory.py": FACTORY,
        "proj/tasks.py": "from proj.factory import make_celery\n\napp = make_celery('proj')\n",
        "Procfile": "worker: celery -A proj.tasks:app worker --concurrency 2\n",
    }
    analysis = analyse_tree(files)
    (app,) = analysis.project.apps
    assert (app.module, app.var) == ("proj/tasks.py", "app")
    assert app.setting("broker_url").value == "redis://localhost:6379/0"
    (worker,) = analysis.project.deployment.workers()
    assert worker.app is app and worker.setting("task_time_limit").value == 600
    compare_with_celery(tmp_path, app, ["broker_url", "task_acks_late", "task_time_limit"],
                        setup="from proj.tasks import app\n")


def test_configuration_the_factory_cannot_read_stays_unknown(analyse_tree):
    files = {
        "proj/__init__.py": "",
        "proj/app.py": """
            from celery import Celery
            from flask import Flask


            def make_celery(flask_app):
                celery = Celery(flask_app.import_name, broker=flask_app.config["CELERY_BROKER_URL"])
                celery.conf.update(flask_app.config)
                return celery


            flask_app = Flask(__name__)
            flask_app.config.from_envvar("PROJ_SETTINGS")  # a file that only the deployment names
            celery = make_celery(flask_app)
        """,
    }
    (app,) = analyse_tree(files).project.apps
    assert app.setting("task_acks_late").status == "unknown"
    assert app.setting("broker_url").status == "unknown"


def test_a_function_handed_the_app_configures_it(analyse_tree, tmp_path):
    files = {
        "proj/__init__.py": "",
        "proj/setup.py": """
            import os


            def configure(celery, prefetch=1):
                celery.conf.worker_prefetch_multiplier = prefetch
                if os.environ.get("LATE"):
                    celery.conf.task_acks_late = True
        """,
        "proj/celery.py": """
            from celery import Celery

            from proj.setup import configure

            app = Celery("proj")
            configure(app)
        """,
    }
    (app,) = analyse_tree(files).project.apps
    assert app.setting("worker_prefetch_multiplier").value == 1
    assert where(app.setting("worker_prefetch_multiplier")) == ("proj/setup.py", 5)
    assert app.setting("task_acks_late").status == "several"
    compare_with_celery(tmp_path, app, ["worker_prefetch_multiplier"])


def test_functions_that_neither_build_nor_receive_an_app_are_not_run(analyse_tree):
    files = {
        "proj/__init__.py": "",
        "proj/celery.py": """
            from celery import Celery


            def make(name):
                return make(name)


            def unrelated(conf):
                conf.task_acks_late = True


            app = Celery("proj")
            other = make("x")
            unrelated(object())
        """,
    }
    (app,) = analyse_tree(files).project.apps
    assert app.setting("task_acks_late").status == "default"


SUBCLASS = """
    import os

    from celery import Celery


    class ProjCelery(Celery):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.conf.task_acks_late = True

        def init_app(self, app):
            self.conf["task_serializer"] = "pickle"
            self.conf["accept_content"] = ["json", "pickle"]
            self.conf["task_time_limit"] = app.config["LIMIT"]


    celery = ProjCelery("proj")
    celery.conf.task_serializer = "json"
"""


def test_methods_of_a_celery_subclass_configure_the_app(analyse_tree):
    """__init__ runs with the app; init_app() writes when it is called, after the module,
    so its values are one possibility next to what holds without it."""
    files = {"proj/__init__.py": "", "proj/core.py": SUBCLASS}
    (app,) = analyse_tree(files).project.apps
    acks = app.setting("task_acks_late")
    assert (acks.status, acks.value, where(acks)) == ("known", True, ("proj/core.py", 9))
    serializer = app.setting("task_serializer")
    assert serializer.status == "several"
    assert [(a.value.value, a.condition) for a in serializer.alternatives] == [
        ("pickle", "ProjCelery.init_app() is called"), ("json", "not (ProjCelery.init_app() is called)")]
    accept = app.setting("accept_content")
    assert [a.value.value for a in accept.alternatives] == [["json", "pickle"], ("json",)]
    limit = app.setting("task_time_limit")
    assert [a.value.status for a in limit.alternatives] == ["unknown", "default"]


def test_an_init_app_that_updates_from_the_web_config_makes_every_setting_unknown(analyse_tree):
    files = {"proj/__init__.py": "", "proj/core.py": SUBCLASS.replace(
        'self.conf["task_time_limit"] = app.config["LIMIT"]', "self.conf.update(app.config)")}
    (app,) = analyse_tree(files).project.apps
    assert app.setting("worker_prefetch_multiplier").status == "unknown"


INIT_FUNCTION = """
    from celery import Celery

    celery = Celery(__name__)


    def init_celery(app):
        celery.config_from_object(app.config, namespace="CELERY")
        app.celery = celery
"""


def test_a_module_function_that_loads_the_web_config_makes_every_setting_unknown(analyse_tree):
    """superdesk: the web app's factory calls init_celery(app) from another module; what it
    loads cannot be read, so no setting is Celery's default (QL401 read prefetch 4 where the
    settings set 1)."""
    files = {"proj/__init__.py": "", "proj/celery_app.py": INIT_FUNCTION,
             "proj/factory.py": "from proj.celery_app import init_celery\n\n\ndef get_app(flask_app):\n"
                                "    init_celery(flask_app)\n    return flask_app\n",
             "proj/tasks.py": "from proj.celery_app import celery\n\n\n@celery.task(soft_time_limit=1800)\n"
                              "def ingest():\n    pass\n\n\ndef go():\n    ingest.delay()\n"}
    analysis = analyse_tree(files)
    (app,) = analysis.project.apps
    assert app.namespace == "CELERY"
    assert app.setting("worker_prefetch_multiplier").status == "unknown"
    assert app.source_problem is not None and "init_celery()" in app.source_problem


def test_a_module_function_that_names_its_settings_module(analyse_tree):
    files = {"proj/__init__.py": "", "proj/celeryconfig.py": "worker_prefetch_multiplier = 1\n",
             "proj/celery_app.py": INIT_FUNCTION.replace('app.config, namespace="CELERY"', '"proj.celeryconfig"')}
    (app,) = analyse_tree(files).project.apps
    prefetch = app.setting("worker_prefetch_multiplier")
    assert (prefetch.status, prefetch.value, where(prefetch)) == ("known", 1, ("proj/celeryconfig.py", 1))


def test_a_test_module_function_that_reconfigures_the_imported_app_is_not_the_deployment(analyse_tree):
    files = {"proj/__init__.py": "",
             "proj/celery_app.py": "from celery import Celery\n\ncelery = Celery('proj')\n"
                                   "celery.config_from_object('proj.celeryconfig')\n",
             "proj/celeryconfig.py": "worker_prefetch_multiplier = 1\n",
             "tests/__init__.py": "",
             "tests/conftest.py": "from proj.celery_app import celery\n\n\ndef eager():\n"
                                  "    celery.config_from_object({'task_always_eager': True})\n",
             "tests/test_tasks.py": "import tests.conftest\n"}
    (app,) = analyse_tree(files).project.apps
    assert app.setting("worker_prefetch_multiplier").value == 1
    assert app.setting("task_always_eager").status == "default"


def test_a_module_function_that_updates_the_app_from_the_web_config(analyse_tree):
    """Flask's pattern: the app factory calls init_celery(app), which copies the web config
    into the Celery app; what it copies cannot be read, so settings are not Celery's defaults,
    and what the function writes itself holds only if it is called."""
    files = {"proj/__init__.py": "", "proj/celery_app.py": (
        "from celery import Celery\n\ncelery = Celery(__name__, broker='redis://redis:6379/0')\n\n\n"
        "def init_celery(app):\n    celery.conf.update(app.config)\n    celery.conf.task_acks_late = True\n\n\n"
        "def queue_name():\n    return celery.conf.task_default_queue\n")}
    (app,) = analyse_tree(files).project.apps
    assert app.setting("worker_prefetch_multiplier").status == "unknown"
    acks = app.setting("task_acks_late")
    assert acks.status == "several"
    assert [(a.value.value, a.condition) for a in acks.alternatives if a.value.status == "known"] == [
        (True, "init_celery() is called")]


def test_an_app_made_inside_such_a_function_is_not_a_project_app(analyse_tree):
    # codabench's app_for_vhost() copies the module app's task_queues into a new app per vhost
    files = {"proj/__init__.py": "", "proj/celery_app.py": (
        "from celery import Celery\n\napp = Celery('proj')\napp.config_from_object('proj.celeryconfig')\n\n\n"
        "def app_for_vhost(vhost):\n    vhost_app = Celery()\n    vhost_app.conf.task_queues = app.conf.task_queues\n"
        "    return vhost_app\n"), "proj/celeryconfig.py": "worker_prefetch_multiplier = 1\n"}
    (app,) = analyse_tree(files).project.apps
    assert app.setting("worker_prefetch_multiplier").value == 1
