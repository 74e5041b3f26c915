"""Task discovery: the tasks a worker registers, from every place Celery finds them.

A worker imports the modules named by `include=` and the `imports`/`include` settings, and
the `<package>.tasks` modules `app.autodiscover_tasks()` finds; tasks are also made by
project factories and decorator classes around `app.task`/`shared_task`, in modules that
import the app under any name. Where Celery itself can be asked (everything but Django's
app registry), the tasks qlint finds are compared with the ones a real Celery app
registers after importing what a worker imports, in a child process.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from qlint.sources.read import celery_markers
from tests.resolve.conftest import write_tree

APP = """
from celery import Celery

app = Celery("jobs", broker="memory://", include=["jobs.tasks"])
"""
TASKS = """
from .app import app


@app.task(acks_late=True, time_limit=900)
def rebuild_index(batch):
    return len(batch)
"""

_WORKER_PROBE = """
import importlib, json, sys
sys.path.insert(0, {root!r})
app = getattr(importlib.import_module({module!r}), {var!r})
app.loader.import_default_modules()  # what a worker imports before it consumes
out = {{}}
for name, task in sorted(app.tasks.items()):
    if not name.startswith("celery."):
        out[name] = {{option: getattr(task, option, None) for option in {options!r}}}
print(json.dumps(out))
"""
OPTIONS = ("acks_late", "time_limit", "soft_time_limit", "max_retries")


def celery_registers(root: Path, module: str, var: str = "app") -> dict[str, dict]:
    """The tasks (with some options) a real Celery app registers once the worker's modules are
    imported; run in a child process, so that the fixture's modules never enter this one."""
    code = _WORKER_PROBE.format(root=str(root), module=module, var=var, options=OPTIONS)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def qlint_tasks(project) -> dict[str, dict]:
    out = {}
    for task in project.tasks():
        values = {}
        for option in OPTIONS:
            value = task.option(option)
            values[option] = value.value if value.status in ("known", "default") else value.status
        out[task.name] = values
    return out


def test_include_names_a_module_that_imports_the_app_without_saying_celery(analyse_tree, tmp_path):
    project = analyse_tree({"jobs/__init__.py": "", "jobs/app.py": APP, "jobs/tasks.py": TASKS}).project
    assert qlint_tasks(project) == celery_registers(tmp_path, "jobs.app") == {
        "jobs.tasks.rebuild_index": {"acks_late": True, "time_limit": 900, "soft_time_limit": None, "max_retries": 3}}
    task = project.task_named("jobs.tasks.rebuild_index")
    assert task.app is project.apps[0] and task.defined_at.path == "jobs/tasks.py"


def test_imports_and_include_settings_of_a_configuration_module(analyse_tree, tmp_path):
    files = {
        "jobs/__init__.py": "",
        "jobs/app.py": 'from celery import Celery\n\napp = Celery("jobs")\napp.config_from_object("jobs.config")\n',
        "jobs/config.py": 'broker_url = "memory://"\nimports = ("jobs.mail",)\ninclude = "jobs.reports"\n',
        "jobs/mail.py": "from jobs.app import app\n\n\n@app.task(max_retries=10)\ndef send(to):\n    return to\n",
        "jobs/reports/__init__.py": "from jobs.app import app\n\n\n@app.task\ndef build(day):\n    return day\n",
    }
    project = analyse_tree(files).project
    assert qlint_tasks(project) == celery_registers(tmp_path, "jobs.app")
    assert set(qlint_tasks(project)) == {"jobs.mail.send", "jobs.reports.build"}


def test_autodiscover_tasks_of_listed_packages_and_a_related_name(analyse_tree, tmp_path):
    # The task modules use the app's own decorator (`@job`), which names nothing Celery: only
    # autodiscovery makes qlint (and the worker) read them.
    job = "from proj.worker import job\n\n\n@job\ndef {name}(x):\n    return x\n"
    files = {
        "proj/__init__.py": "",
        "proj/worker.py": 'from celery import Celery\n\napp = Celery("proj", broker="memory://")\n'
                          'app.autodiscover_tasks(["billing", "shop"], related_name="jobs")\n'
                          'app.autodiscover_tasks(packages=["shop"])\n\n\n'
                          'def job(func):\n    return app.task(soft_time_limit=60)(func)\n',
        "billing/__init__.py": "", "shop/__init__.py": "", "other/__init__.py": "",
        "billing/jobs.py": job.format(name="charge"),
        "billing/tasks.py": job.format(name="not_found"),
        "shop/tasks.py": job.format(name="ship"),
        "other/jobs.py": job.format(name="stray"),
    }
    project = analyse_tree(files).project
    assert qlint_tasks(project) == celery_registers(tmp_path, "proj.worker")
    assert set(qlint_tasks(project)) == {"billing.jobs.charge", "shop.tasks.ship"}


FACTORIES = """
import functools

from celery import Celery, shared_task

app = Celery("jobs", broker="memory://", include=["jobs.tasks"])


def job(name, **options):
    return app.task(name=name, bind=True, acks_late=True, **options)


def retried(func):
    return app.task(max_retries=8)(func)


def locked(**options):
    def decorate(func):
        @shared_task(acks_late=True, **options)
        @functools.wraps(func)
        def run(*args, **kwargs):
            return func(*args, **kwargs)
        return run
    return decorate


class periodic:
    def __init__(self, every):
        self.every = every

    def __call__(self, func):
        return app.task(soft_time_limit=30)(func)
"""
FACTORY_TASKS = """
from .app import job, locked, periodic, retried


@job("harvest", time_limit=3600)
def harvest(self, source_id):
    return source_id


@retried
def notify(user_id):
    return user_id


@locked(time_limit=120)
def export(report_id):
    return report_id


@periodic(every=60)
def sweep():
    return None


def helper(x):
    return x
"""


def test_factories_decorators_and_decorator_classes_around_app_task(analyse_tree, tmp_path):
    project = analyse_tree({"jobs/__init__.py": "", "jobs/app.py": FACTORIES, "jobs/tasks.py": FACTORY_TASKS}).project
    found = qlint_tasks(project)
    assert found == celery_registers(tmp_path, "jobs.app")
    assert found["harvest"] == {"acks_late": True, "time_limit": 3600, "soft_time_limit": None, "max_retries": 3}
    assert set(found) == {"harvest", "jobs.tasks.notify", "jobs.tasks.export", "jobs.tasks.sweep"}
    harvest = project.task_named("harvest")
    assert harvest.bind and [p.name for p in harvest.func.params] == ["self", "source_id"]
    assert harvest.defined_at.path == "jobs/tasks.py" and harvest.decorator_span.line == 4
    # running a factory leaves nothing behind: no task for the wrapper it defines, no second app
    assert len(project.apps) == 1 and "jobs.app.run" not in found


def test_a_chain_of_factories_with_options_qlint_cannot_read(analyse_tree):
    # udata's job() -> task() -> celery.task(); task() rewrites its **kwargs in a loop
    files = {
        "u/__init__.py": "",
        "u/tasks.py": """
            from celery import Celery

            celery = Celery(include=["u.harvest"])


            def task(*args, **kwargs):
                for arg in "queue", "routing_key":
                    if arg in kwargs:
                        kwargs["default_{0}".format(arg)] = kwargs.pop(arg)
                return celery.task(*args, **kwargs)


            def job(name, **kwargs):
                return task(name=name, schedulable=True, bind=True, **kwargs)
        """,
        "u/harvest.py": """
            from u.tasks import job, task


            @job("harvest", route="low.harvest")
            def harvest(self, ident):
                return ident


            @task(ignore_result=False)
            def harvest_item(job_id, item_id):
                return item_id
        """,
    }
    project = analyse_tree(files).project
    tasks = {task.func.name: task for task in project.tasks()}
    assert set(tasks) == {"harvest", "harvest_item"}
    assert all(task.option("acks_late").status == "unknown" for task in tasks.values())


def test_autodiscover_in_django_finds_each_installed_apps_tasks_module(analyse_tree):
    # The tasks use the app's own decorator (`@job`): nothing but autodiscovery reads their modules.
    worker = """
        import os

        from celery import Celery
        from django.conf import settings

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
        app = Celery("proj")
        app.config_from_object("django.conf:settings", namespace="CELERY")
        {call}


        def job(func):
            return app.task(func)
    """
    apps = {
        "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n",
        "proj/__init__.py": "",
        # an AppConfig in its app's package, and one in a module of its own, named by its `name`
        "proj/settings.py": 'INSTALLED_APPS = ["django.contrib.admin", "billing.apps.Billing", "appconfigs.Shop"]\n',
        "appconfigs.py": "from django.apps import AppConfig\n\n\nclass Shop(AppConfig):\n    name = 'shop'\n",
        "billing/__init__.py": "",
        "billing/apps.py": "from django.apps import AppConfig\n\n\nclass Billing(AppConfig):\n    name = 'billing'\n",
        "billing/tasks.py": "from proj.worker import job\n\n\n@job\ndef charge(x):\n    return x\n",
        "billing/jobs.py": "from proj.worker import job\n\n\n@job\ndef nightly(x):\n    return x\n",
        "shop/__init__.py": "",
        "shop/tasks/__init__.py": "from proj.worker import job\n\n\n@job\ndef ship(x):\n    return x\n",
        "other/__init__.py": "",
        "other/tasks.py": "from proj.worker import job\n\n\n@job\ndef stray(x):\n    return x\n",
    }
    expected = {
        "app.autodiscover_tasks()": {"billing.tasks.charge", "shop.tasks.ship"},
        "app.autodiscover_tasks(lambda: settings.INSTALLED_APPS)": {"billing.tasks.charge", "shop.tasks.ship"},
        "app.autodiscover_tasks(related_name='jobs')": {"billing.jobs.nightly"},
        # no packages (None or an empty list): Celery asks its fixups, Django's installed apps
        "app.autodiscover_tasks([], related_name='jobs')": {"billing.jobs.nightly"},
        # a list qlint cannot read, with no Django settings to fall back on: any package's tasks module
        "app.autodiscover_tasks(find_packages())": {"billing.tasks.charge", "shop.tasks.ship", "other.tasks.stray"},
    }
    for call, names in expected.items():
        files = dict(apps, **{"proj/worker.py": textwrap.dedent(worker).format(call=call)})
        if "find_packages" in call:
            files["proj/settings.py"] = "DEBUG = False\n"
        project = analyse_tree(files).project
        assert {task.name for task in project.tasks()} == names, call


def test_a_task_module_nothing_names_is_read_when_it_defines_a_task(analyse_tree, tmp_path):
    # As for @shared_task: a task the project defines is one it means to run, whichever way
    # the worker comes to import it (`-A jobs.tasks`, an import qlint does not follow), even
    # where this app alone would not import it.
    project = analyse_tree({"jobs/__init__.py": "", "jobs/app.py": APP.replace(', include=["jobs.tasks"]', ""),
                            "jobs/tasks.py": TASKS}).project
    assert [task.name for task in project.tasks()] == ["jobs.tasks.rebuild_index"]
    assert celery_registers(tmp_path, "jobs.app") == {}


def test_the_pre_filter_takes_task_definitions_not_attributes_named_task():
    assert celery_markers(b"from .app import app\n\n@app.task\ndef f():\n    pass\n")
    assert celery_markers(b"from .app import app\n\n@app.task(bind=True)\ndef f(self):\n    pass\n")
    assert celery_markers(b"from .app import app\nf = app.task(func)\r\n")
    assert celery_markers(b"@worker.task  # the cleanup job\ndef f():\n    pass\n")
    assert not celery_markers(b"job.task = None\nif run.task.id:\n    pass\n")
    assert not celery_markers(b"from myapp.tasks import helpers\nself.tasks.append(x)\n")


def test_a_discovered_module_that_configures_the_app_counts(analyse_tree):
    files = {
        "jobs/__init__.py": "",
        "jobs/app.py": APP,
        "jobs/tasks.py": TASKS + "\napp.conf.task_routes = {'jobs.tasks.rebuild_index': {'queue': 'slow'}}\n"
                                 "app.conf.include = ['jobs.more']\n",
        "jobs/more.py": "from .app import app\n\n\n@app.task\ndef later(x):\n    return x\n",
    }
    project = analyse_tree(files).project
    [app] = project.apps
    assert app.setting("task_routes").value == {"jobs.tasks.rebuild_index": {"queue": "slow"}}
    assert set(app.tasks) == {"jobs.tasks.rebuild_index", "jobs.more.later"}


def test_discovery_of_what_cannot_be_read_gives_no_traceback(analyse_tree):
    files = {
        "jobs/__init__.py": "",
        "jobs/app.py": 'from celery import Celery\n\napp = Celery("jobs", include=["jobs.missing", "jobs.broken", 42])\n'
                       "app.autodiscover_tasks(42)\napp.autodiscover_tasks('jobs', related_name=7)\n"
                       "app.conf.imports = 'jobs.selfish'\n",
        "jobs/broken.py": "from .app import app\n\n@app.task\ndef f(:\n",
        "jobs/selfish.py": "from jobs.selfish import *\nfrom .app import app\n\n\n@app.task\ndef g():\n    pass\n",
    }
    analysis = analyse_tree(files)
    assert {task.name for task in analysis.project.tasks()} == {"jobs.selfish.g"}
    assert [problem.path for problem in analysis.problems] == ["jobs/broken.py"]


def test_a_rule_reports_on_a_task_only_discovery_finds(tmp_path):
    files = {"jobs/__init__.py": "", "jobs/app.py": APP,
             "jobs/tasks.py": "from .app import app\n\n\n@app.task(soft_time_limit=600, time_limit=300)\n"
                              "def rebuild(batch):\n    return batch\n"}
    write_tree(tmp_path, files)
    done = subprocess.run([sys.executable, "-m", "qlint", "check", "--no-cache", "--format", "json", "."],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert ("QL402", "jobs/tasks.py") in {(f["code"], f["path"]) for f in json.loads(done.stdout)["findings"]}


def test_app_task_called_on_a_function_registers_it(analyse_tree, tmp_path):
    # turbinia's app.py: `app.task(task_utils.task_runner, name='task_runner')`
    files = {
        "runner/__init__.py": "",
        "runner/utils.py": "def task_runner(obj):\n    return obj\n\n\ndef cleanup(days):\n    return days\n",
        "runner/app.py": 'import celery\n\nfrom runner import utils\n\napp = celery.Celery("runner", broker="memory://")\n'
                         'app.task(utils.task_runner, name="task_runner", acks_late=True)\n'
                         'cleanup = app.task(time_limit=60)(utils.cleanup)\n',
    }
    project = analyse_tree(files).project
    assert qlint_tasks(project) == celery_registers(tmp_path, "runner.app") == {
        "task_runner": {"acks_late": True, "time_limit": None, "soft_time_limit": None, "max_retries": 3},
        "runner.utils.cleanup": {"acks_late": False, "time_limit": 60, "soft_time_limit": None, "max_retries": 3}}
    assert project.task_named("task_runner").defined_at.path == "runner/utils.py"
