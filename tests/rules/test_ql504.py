"""QL504 unregistered-task-name: names in beat schedules, routes, send_task and signature() against the
tasks the project defines."""
from __future__ import annotations

from pathlib import Path

import pytest

from qlint.pipeline.analysis import analyse
from qlint.model import Finding
from qlint.rules.unregistered_task_name import UnregisteredTaskName

TASKS = ("from celery import shared_task\n\nfrom proj.celery import app\n\n\n@app.task\ndef cleanup():\n    pass\n\n\n"
         "@shared_task(name='reports.nightly')\ndef nightly():\n    pass\n")
MODULE_APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'
DJANGO_APP = ('import os\n\nfrom celery import Celery\n\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")\n'
              'app = Celery("proj")\napp.config_from_object("django.conf:settings", namespace="CELERY")\n')


def check(root: Path, files: dict[str, str]) -> list[Finding]:
    files = {"proj/__init__.py": "", "proj/tasks.py": TASKS, **files}
    files.setdefault("proj/celery.py", MODULE_APP)
    files.setdefault("proj/celeryconfig.py", "")
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return list(UnregisteredTaskName().check(analyse(["."], cwd=root, root=root, use_cache=False).project))


def test_beat_entry_in_a_config_module(tmp_path):
    config = "beat_schedule = {\n    'nightly': {'task': 'proj.tasks.clean_up', 'schedule': 60},\n}\n"
    (finding,) = check(tmp_path, {"proj/celeryconfig.py": config})
    assert finding.message == ("beat_schedule entry 'nightly' names task 'proj.tasks.clean_up', which the project does "
                               "not define; proj.tasks defines proj.tasks.cleanup: workers discard the message as an "
                               "unregistered task")
    assert (finding.span.path, finding.span.line) == ("proj/celeryconfig.py", 2)


def test_beat_schedule_under_the_django_namespace(tmp_path):
    settings = "CELERY_BEAT_SCHEDULE = {'nightly': {'task': 'proj.tasks.cleanupp', 'schedule': 60}}\n"
    (finding,) = check(tmp_path, {"proj/celery.py": DJANGO_APP, "proj/settings.py": settings})
    assert "'proj.tasks.cleanupp'" in finding.message and finding.span.path == "proj/settings.py"


def test_beat_schedule_set_on_app_conf(tmp_path):
    app = MODULE_APP + "app.conf.beat_schedule = {'n': {'task': 'proj.tasks.gone', 'schedule': 60.0}}\n"
    (finding,) = check(tmp_path, {"proj/celery.py": app})
    assert "'proj.tasks.gone'" in finding.message and finding.span.path == "proj/celery.py"


def test_routes_send_task_and_signature(tmp_path):
    config = ("task_routes = {'proj.tasks.cleanup': {'queue': 'a'}, 'proj.tasks.old': {'queue': 'b'},\n"
              "               'proj.tasks.*': {'queue': 'c'}}\n")
    calls = ("from celery import signature\n\nfrom proj.celery import app\n\n\ndef go():\n"
             "    app.send_task('proj.tasks.cleanup')\n    app.send_task('proj.tasks.clenup')\n"
             "    signature('proj.tasks.nope').delay()\n    app.send_task('reports.nightly')\n")
    found = check(tmp_path, {"proj/celeryconfig.py": config, "proj/views.py": calls})
    assert sorted((f.span.path, f.message.split(" names task ")[0]) for f in found) == [
        ("proj/celeryconfig.py", "task_routes"), ("proj/views.py", "send_task"), ("proj/views.py", "signature")]


@pytest.mark.parametrize("name", [
    "proj.tasks.cleanup",          # defined
    "reports.nightly",             # name= of a shared task
    "celery.backend_cleanup",      # Celery's own
    "django_celery_beat.tasks.x",  # an installed package
    "billing.charge_all",          # a module the project does not have
    "cleanup",                     # no module to look in
    "proj.tasks.helper",           # the module binds the name (imported, or a task defined another way)
])
def test_silent_on_names_the_project_may_define(tmp_path, name):
    tasks = TASKS + "\nfrom proj.util import helper\n"
    config = f"beat_schedule = {{'x': {{'task': {name!r}, 'schedule': 60}}}}\n"
    files = {"proj/celeryconfig.py": config, "proj/tasks.py": tasks, "proj/util.py": "def helper():\n    pass\n"}
    assert check(tmp_path, files) == []


def test_silent_when_the_module_star_imports_what_qlint_cannot_read(tmp_path):
    tasks = TASKS + "\nfrom vendor_tasks import *\n"
    config = "beat_schedule = {'x': {'task': 'proj.tasks.vendored', 'schedule': 60}}\n"
    assert check(tmp_path, {"proj/celeryconfig.py": config, "proj/tasks.py": tasks}) == []


def test_a_route_for_a_task_that_no_longer_exists_is_dead_configuration(tmp_path):
    config = "task_routes = {\n    'proj.tasks.cleanup': {'queue': 'a'},\n    'proj.tasks.purge_old': {'queue': 'maintenance'},\n}\n"
    (finding,) = check(tmp_path, {"proj/celeryconfig.py": config})
    assert finding.severity == "warning" and (finding.span.path, finding.span.line) == ("proj/celeryconfig.py", 3)
    assert finding.message == (
        "task_routes names task 'proj.tasks.purge_old', which the project does not define; proj.tasks defines "
        "proj.tasks.cleanup: the route is dead configuration, and if the task was renamed its messages no longer "
        "reach the queue this route names")
    assert "discard" not in finding.message
