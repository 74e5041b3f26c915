"""QL205: stored task results that are never removed."""
from __future__ import annotations

from typing import Iterable

from qlint.semantics.callsites import calls
from qlint.model import Finding, Fix, Related
from qlint.resolve.project import Project
from qlint.resolve.resolved import App
from qlint.rule import Example, Rule
from qlint.semantics.delivery import always
from qlint.semantics.serialization import certain_string
from qlint.sources.paths import in_project, is_test_path
from qlint.semantics.spelling import key
from qlint.sources import ir

_APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'
_BASE = {"proj/__init__.py": "", "proj/celery.py": _APP}
# Backends that expire results on their own (supports_autoexpire) and those cleaned by
# the celery.backend_cleanup task that beat schedules (celery/backends/*.py).
AUTOEXPIRE = ("redis", "rediss", "sentinel", "valkey", "cache", "memcached", "mongodb", "cassandra", "couchbase",
              "dynamodb", "elasticsearch", "arangodb", "cosmosdbsql", "azureblockblob", "s3", "gs")
CLEANED_BY_BEAT = ("db", "django-db", "database")


def _scheme(url: str) -> str:
    scheme = url.split("://", 1)[0].lower() if "://" in url else url.lower()
    return scheme.split("+", 1)[0]


class ResultsNeverExpire(Rule):
    code = "QL205"
    name = "results-never-expire"
    severity = "warning"
    summary = "Task results are stored and never removed."
    what = """
A result backend is configured and its results are never removed: `result_expires` is `None` or `0`
(Celery's default is one day), or the backend is a database (`db+…`, `django-db`), which only the
`celery.backend_cleanup` task empties, and the deployment files start no beat to schedule it (unless the
project's own code deletes old results: `TaskResult.objects.filter(...).delete()` or
`app.backend.cleanup()` in a command or task of its own). Apps whose tasks all ignore results
(`task_ignore_result`) are left alone.
"""
    why = """
Every task that does not ignore its result writes one: on Redis a key per task with no TTL, in a database
a row. With nothing removing them, Redis memory (shared with the broker when it is the same server) and
the results table grow with every task run until the server evicts broker data or runs out of space.
Database backends do not expire rows by themselves: beat adds the daily `celery.backend_cleanup` only
when `result_expires` is set, and only if beat runs.
"""
    example = """
```python
result_backend = "redis://localhost:6379/1"
result_expires = None        # results stay forever
```
"""
    fix = """
Leave `result_expires` at its default (one day) or set a duration; run beat for database backends; or
set `task_ignore_result = True` where nobody reads results.
"""
    fix_safety = "No automatic fix: code that reads old results would stop finding them."
    invalid = (
        Example({**_BASE, "proj/celeryconfig.py": "result_backend = 'redis://localhost/1'\nresult_expires = None\n"}),
        Example({**_BASE, "proj/celeryconfig.py": "result_backend = 'db+postgresql://db/results'\n",
                 "Procfile": "worker: celery -A proj worker\n"},
                note="a database backend and no beat in the deployment"),
    )
    valid = (
        Example({**_BASE, "proj/celeryconfig.py": "result_backend = 'redis://localhost/1'\n"}, note="default one day"),
        Example({**_BASE, "proj/celeryconfig.py": "result_backend = 'db+postgresql://db/results'\n",
                 "Procfile": "worker: celery -A proj worker\nbeat: celery -A proj beat\n"}),
        Example({**_BASE, "proj/celeryconfig.py": "result_backend = 'db+postgresql://db/results'\n"},
                note="no deployment files: whether beat runs is unknown"),
        Example({**_BASE, "proj/celeryconfig.py": "result_backend = 'django-db'\n",
                 "Procfile": "worker: celery -A proj worker\n",
                 "proj/management/commands/prune_results.py":
                     "from django_celery_results.models import TaskResult\n\n\ndef handle(days):\n"
                     "    TaskResult.objects.filter(date_done__lt=days).delete()\n"},
                note="the project deletes old results itself"),
        Example({**_BASE, "proj/celeryconfig.py": "result_backend = 'redis://localhost/1'\nresult_expires = None\n"
                                                  "task_ignore_result = True\n"}),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        for app in project.apps:
            backend = app.setting("result_backend")
            url = certain_string(backend)
            if url is None or backend.origin is None or always(app.setting("task_ignore_result"), lambda v: v is True):
                continue
            scheme = _scheme(url)
            expires = app.setting("result_expires")
            never = expires.status != "default" and always(expires, lambda v: v is None or v == 0)
            if never and (scheme in AUTOEXPIRE or scheme in CLEANED_BY_BEAT):
                yield self.finding(
                    f"result_expires is {expires.possible()[0].value!r} for app {app.name!r}: results in the "
                    f"{scheme} backend are never removed and grow with every task",
                    expires.origin or backend.origin, [Related(backend.origin, f"result backend {scheme} set here")],
                    Fix(f"remove {key(app, 'result_expires')} (one day by default) or set a duration"),
                    depends_on=[backend.origin.path])
            elif scheme in CLEANED_BY_BEAT and self._no_beat(project, app) and not _cleaned_by_project(project):
                yield self.finding(
                    f"app {app.name!r} stores results in a database ({scheme}) and no deployment file runs beat: "
                    "celery.backend_cleanup never runs, so expired results are never deleted",
                    backend.origin, [], Fix("run a beat process (or another scheduler) that sends celery.backend_cleanup"),
                    depends_on=list(project.deployment.files))

    @staticmethod
    def _no_beat(project: Project, app: App) -> bool:
        view = project.deployment
        if view is None or not view.processes:
            return False
        mine = [p for p in view.processes if p.app is app]
        some_unknown = any(p.app is None for p in view.processes)
        return bool(mine) and not some_unknown and not any(p.runs_beat for p in mine)


def _cleaned_by_project(project: Project) -> bool:
    """Whether the project's own code (outside tests) deletes stored results, as beat's
    celery.backend_cleanup would: `TaskResult.objects.filter(...).delete()` (django-celery-results)
    or `app.backend.cleanup()`, run by a command or a task of its own."""
    for ctx, call in calls(project):
        func = call.func
        if not isinstance(func, ir.Attr) or is_test_path(in_project(ctx.path, project.root), "."):
            continue
        if func.attr == "cleanup" and isinstance(func.value, ir.Attr) and func.value.attr == "backend":
            return True
        # ctx.follow: `old = TaskResult.objects.filter(...)` then `old.delete()`
        if func.attr == "delete" and any(_names_result_model(node) for node in _receivers(ctx.follow(func.value))):
            return True
    return False


def _receivers(expr: ir.Expr):
    while isinstance(expr, (ir.Attr, ir.Call, ir.Sub)):
        yield expr
        expr = expr.func if isinstance(expr, ir.Call) else expr.value
    yield expr


def _names_result_model(node: ir.Expr) -> bool:
    return (isinstance(node, ir.Name) and node.id in _RESULT_MODELS) or (
        isinstance(node, ir.Attr) and node.attr in _RESULT_MODELS)


_RESULT_MODELS = frozenset({"TaskResult", "GroupResult", "ChordCounter"})
