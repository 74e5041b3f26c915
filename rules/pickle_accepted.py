"""QL203: pickle among the content types workers or clients accept."""
from __future__ import annotations

from typing import Iterable

from qlint.model import Finding, Fix, Related
from qlint.resolve.project import Project
from qlint.resolve.resolved import App
from qlint.rule import Example, Rule
from qlint.semantics.serialization import PICKLE, certain_string, names
from qlint.semantics.spelling import assignment, key

_APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'
_BASE = {"proj/__init__.py": "", "proj/celery.py": _APP}


class PickleAccepted(Rule):
    code = "QL203"
    name = "pickle-accepted"
    severity = "warning"
    summary = "Pickle is an accepted or chosen serializer: whoever can write to the broker can run code on workers."
    what = """
`pickle` (`application/x-python-serialize`) in `accept_content` or `result_accept_content`, or as
`task_serializer`/`result_serializer`. An error when the workers may run as root: Celery refuses to start
a root worker that accepts pickle unless `C_FORCE_ROOT` is set, so a `C_FORCE_ROOT` in the code or in a
deployment file means exactly that.
"""
    why = """
Unpickling runs code chosen by whoever wrote the message. Accepting pickle turns every client of the
broker — a web process with a bug, a leaked Redis password, an exposed port — into remote code execution
on the workers, with their credentials and, as root, the whole machine. JSON is the default since Celery 4.
"""
    example = """
```python
accept_content = ["json", "pickle"]
task_serializer = "pickle"
```
"""
    fix = """
Use JSON (the default) and pass ids instead of objects; if a payload really needs more types, register a
safe serializer (msgpack) or sign messages (`task_serializer = "auth"` with certificates).
"""
    fix_safety = "No automatic fix: tasks that send objects must be changed to send plain data."
    invalid = (
        Example({**_BASE, "proj/celeryconfig.py": "accept_content = ['json', 'pickle']\n"}),
        Example({**_BASE, "proj/celeryconfig.py": "task_serializer = 'pickle'\naccept_content = ['pickle']\n"}),
        Example({**_BASE, "proj/celeryconfig.py": "accept_content = ['application/x-python-serialize']\n",
                 "docker-compose.yml": "services:\n  worker:\n    command: celery -A proj worker\n"
                                       "    environment:\n      C_FORCE_ROOT: 'true'\n"},
                note="root workers forced to accept pickle: error"),
    )
    valid = (
        Example({**_BASE, "proj/celeryconfig.py": "accept_content = ['json']\n"}),
        Example({**_BASE, "proj/celeryconfig.py": "import os\naccept_content = os.environ['ACCEPT'].split(',')\n"},
                note="unknown"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        forced = self._forced_root(project)
        for app in project.apps:
            yield from self._app(app, forced)

    def _app(self, app: App, forced: list[Related]) -> Iterable[Finding]:
        severity = "error" if forced else None
        root = "; C_FORCE_ROOT lets workers run as root with it" if forced else ""
        for setting in ("accept_content", "result_accept_content"):
            value = app.setting(setting)
            accepted = names(value)
            if value.status == "default" or value.origin is None or accepted is None:
                continue
            if any(a in PICKLE for a in accepted):
                yield self.finding(
                    f"{setting} accepts pickle for app {app.name!r}: any client of the broker can run code on the "
                    f"workers{root}", value.origin, forced, Fix(f"remove pickle from {key(app, setting)}"), severity=severity)
        for setting in ("task_serializer", "result_serializer"):
            value = app.setting(setting)
            if value.origin is not None and certain_string(value) in PICKLE:
                yield self.finding(
                    f"{setting} is pickle for app {app.name!r}: messages carry pickled objects{root}",
                    value.origin, forced, Fix(f"set {assignment(app, setting, repr('json'))} and pass plain data"), severity=severity)

    @staticmethod
    def _forced_root(project: Project) -> list[Related]:
        found: list[Related] = []
        environ = project.workspace.environ
        for var in (environ.definitions.get("C_FORCE_ROOT", []) if environ is not None else []):
            if var.value.status == "known" and var.value.value:
                found.append(Related(var.span, "C_FORCE_ROOT is set here"))
        for write in project.workspace.environ_writes:
            if write.var == "C_FORCE_ROOT":
                found.append(Related(write.span, "C_FORCE_ROOT is set here"))
        return found
