"""QL504: a task named by string that the project does not define."""
from __future__ import annotations

from bisect import bisect_left
from typing import Iterable

from qlint.semantics.callsites import task_calls
from qlint.model import Finding, Fix, Span, Value
from qlint.resolve.project import Project
from qlint.resolve.resolved import App
from qlint.rule import Example, Rule

_APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'
_TASKS = "from proj.celery import app\n\n@app.task\ndef cleanup():\n    pass\n"


class UnregisteredTaskName(Rule):
    code = "QL504"
    name = "unregistered-task-name"
    severity = "error"
    summary = "A beat entry, send_task call or route names a task that the project does not define."
    what = """
A task name written as a string — a `beat_schedule` entry's `task`, `send_task("…")`,
`signature("…")`, an exact key of `task_routes` — whose module is a module of the project that defines
no task of that name and nothing else under that name either. Names of other packages (`celery.*`,
installed libraries, other services) and modules qlint cannot see are left alone. A route for a task that
no longer exists sends nothing anywhere: it is reported as dead configuration, a warning.
"""
    why = """
Celery sends a message for any name; only the worker finds out the task is unknown, logs "Received
unregistered task" and discards the message. A renamed or moved task leaves beat entries and routes that
silently stop working — the nightly job that no longer runs is noticed weeks later. A route matches names
as the sender writes them: a route for a name nobody sends does nothing, and the renamed task it was meant
for now goes to the default queue (or wherever other routes send it).
"""
    example = """
```python
beat_schedule = {"nightly": {"task": "proj.tasks.clean_up", "schedule": 86400}}   # defined as cleanup
```
"""
    fix = "Use the task's registered name (its `name=`, or `module.function`), or define the task."
    fix_safety = "No automatic fix: which task was meant is a guess."
    invalid = (
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/celeryconfig.py": "beat_schedule = {'nightly': {'task': 'proj.tasks.clean_up', 'schedule': 60}}\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS, "proj/celeryconfig.py": "",
                 "proj/views.py": "from proj.celery import app\n\n\ndef go():\n    app.send_task('proj.tasks.clenup')\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/celeryconfig.py": "task_routes = {'proj.tasks.purge': {'queue': 'maintenance'}}\n"},
                note="a route for a task that no longer exists: dead configuration"),
    )
    valid = (
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/celeryconfig.py": "beat_schedule = {'nightly': {'task': 'proj.tasks.cleanup', 'schedule': 60},\n"
                                         "                 'builtin': {'task': 'celery.backend_cleanup', 'schedule': 60},\n"
                                         "                 'other': {'task': 'billing.charge_all', 'schedule': 60}}\n"},
                note="defined, built in, or from a package that is not in the project"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/celeryconfig.py": "",
                 "proj/tasks.py": "from celery import Task\nfrom proj.celery import app\n\n"
                                  "class Cleanup(Task):\n    name = 'proj.tasks.cleanup'\n\n\ncleanup = app.register_task(Cleanup())\n",
                 "proj/views.py": "from proj.celery import app\n\n\ndef go():\n    app.send_task('proj.tasks.cleanup')\n"},
                note="the module defines the name some other way"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        known = {name for app in project.apps for name in app.tasks}
        # Looked up by bisection and once per module, not by a scan for each name: a schedule
        # may have 100,000 entries.
        self._sorted = sorted(known)
        self._strings: dict[str, frozenset[str]] = {}
        for app in project.apps:
            for name, span, where in self._named_in_settings(app):
                finding = self._check(project, known, name, span, where)
                if finding is not None:
                    yield finding
        for _, call in task_calls(project):
            if call.method in ("send_task", "signature()") and call.task is None:
                name = call.label.strip("'\"")
                span = call.call.args[0].span if call.call.args else call.call.span
                finding = self._check(project, known, name, span, call.method.rstrip("()"))
                if finding is not None:
                    yield finding

    @staticmethod
    def _named_in_settings(app: App) -> Iterable[tuple[str, Span, str]]:
        schedule = app.setting("beat_schedule")
        if schedule.status == "known" and isinstance(schedule.value, dict):
            items = _first_items(schedule)
            for entry, body in schedule.value.items():
                if isinstance(body, dict) and isinstance(body.get("task"), str):
                    item = items.get(str(entry))
                    span = (item.origin if item is not None else None) or schedule.origin
                    if span is not None:
                        yield body["task"], span, f"beat_schedule entry {entry!r}"
        routes = app.setting("task_routes")
        if routes.status == "known" and isinstance(routes.value, dict):
            items = _first_items(routes)
            for key in routes.value:
                if isinstance(key, str) and "*" not in key:
                    item = items.get(key)
                    span = (item.origin if item is not None else None) or routes.origin
                    if span is not None:
                        yield key, span, "task_routes"

    def _check(self, project: Project, known: set[str], name: str, span: Span, where: str) -> Finding | None:
        if name in known or "." not in name:
            return None
        module, _, attr = name.rpartition(".")
        path = project.workspace.index.find(module)
        if path is None:
            return None
        env = project.workspace.module_env(path)
        if env is None or attr in env.names or env.failed_imports:
            return None
        if path not in self._strings:
            names = project.workspace.resolved_names(env)
            self._strings[path] = frozenset(v.value for v in names.values()
                                            if v.status == "known" and isinstance(v.value, str))
        if name in self._strings[path]:
            return None
        start = bisect_left(self._sorted, f"{module}.")
        defined = [n for n in self._sorted[start:start + 3] if n.startswith(f"{module}.")]
        hint = f"; {module} defines {', '.join(defined[:3])}" if defined else ""
        if where == "task_routes":
            # Nothing sends the name, so nothing is lost: the route is dead, and a renamed task's
            # messages no longer go where it says.
            return self.finding(
                f"task_routes names task {name!r}, which the project does not define{hint}: the route is dead "
                "configuration, and if the task was renamed its messages no longer reach the queue this route names",
                span, (), Fix("route the task's registered name, or remove the route"), severity="warning")
        return self.finding(
            f"{where} names task {name!r}, which the project does not define{hint}: workers discard the message "
            "as an unregistered task", span, (), Fix("use the registered name of the task"))


def _first_items(value: Value) -> dict[str, Value]:
    """Value.item() of every key at once (the first entry of a key, as item() finds it)."""
    out: dict[str, Value] = {}
    for key, item in value.items or ():
        out.setdefault(key, item)
    return out
