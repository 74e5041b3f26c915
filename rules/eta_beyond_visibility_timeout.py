"""QL104: a countdown, eta or retry delay at or above the visibility timeout."""
from __future__ import annotations

from typing import Iterable

from qlint.callsites import task_calls, walk_nested
from qlint.durations import format_duration
from qlint.model import Finding, Fix, Related, Span, Value
from qlint.resolve.project import Project
from qlint.rule import Example, Rule
from qlint.rules._delivery import (
    Transport, Visibility, always, apps_with_visibility_timeout, literal_seconds, related,
)
from qlint.sources import ir

_APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'
_REDIS = {"proj/__init__.py": "", "proj/celery.py": _APP, "proj/celeryconfig.py": "broker_url = 'redis://r'\n"}


def _at_or_above(value: Value | None, seconds: float) -> bool:
    return value is not None and always(value, lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
                                        and v >= seconds)


class EtaBeyondVisibilityTimeout(Rule):
    code = "QL104"
    name = "eta-beyond-visibility-timeout"
    severity = "error"
    summary = "A task waits on a countdown or eta at least as long as the visibility timeout: it is delivered again, and runs twice."
    what = """
On Redis or SQS: `apply_async(countdown=…)`, `self.retry(countdown=…)`, a task's `default_retry_delay`,
or `retry_backoff_max` with `autoretry_for` and `retry_backoff`, at or above the effective visibility
timeout. Delays written as numbers (literals and arithmetic on them) and resolved options are compared.
"""
    why = """
A message with an ETA is delivered at once and held by the worker, unacknowledged, until its time comes.
On Redis (and SQS) an unacknowledged message older than the visibility timeout is put back in the queue,
so another worker — or the same one — receives it again and schedules it a second time: the task runs
once per sweep that caught it. Retries with a countdown are ETA messages too.
"""
    example = """
```python
remind.apply_async((user_id,), countdown=2 * 60 * 60)   # 2 h on Redis's default 1 h timeout
```
"""
    fix = """
Keep countdowns and retry delays below the visibility timeout, or raise `visibility_timeout` in
`broker_transport_options` above the longest delay; for long delays, schedule with beat or store the
due time in a database and poll.
"""
    fix_safety = "No automatic fix: the delay is part of the application's behaviour."
    scenarios = ("examples/scenarios/eta-beyond-visibility-bad.yaml", "examples/scenarios/eta-beyond-visibility-fixed.yaml")
    invalid = (
        Example({**_REDIS, "proj/tasks.py": "from proj.celery import app\n\n@app.task\ndef remind(u):\n    pass\n\n\n"
                                            "def later(u):\n    remind.apply_async((u,), countdown=2 * 60 * 60)\n"}),
        Example({**_REDIS, "proj/tasks.py": "from proj.celery import app\n\n@app.task(bind=True)\ndef sync(self):\n"
                                            "    try:\n        pass\n    except OSError as exc:\n"
                                            "        raise self.retry(exc=exc, countdown=4000)\n"}),
        Example({**_REDIS, "proj/tasks.py": "from proj.celery import app\n\n@app.task(default_retry_delay=7200)\n"
                                            "def sync():\n    pass\n"}),
    )
    valid = (
        Example({**_REDIS, "proj/tasks.py": "from proj.celery import app\n\n@app.task\ndef remind(u):\n    pass\n\n\n"
                                            "def later(u):\n    remind.apply_async((u,), countdown=600)\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "broker_url = 'redis://r'\nbroker_transport_options = {'visibility_timeout': 3 * 3600}\n",
                 "proj/tasks.py": "from proj.celery import app\n\n@app.task\ndef remind(u):\n    pass\n\n\n"
                                  "def later(u):\n    remind.apply_async((u,), countdown=2 * 60 * 60)\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/celeryconfig.py": "broker_url = 'amqp://'\n",
                 "proj/tasks.py": "from proj.celery import app\n\n@app.task(default_retry_delay=7200)\ndef sync():\n    pass\n"},
                note="AMQP has no visibility timeout (see QL103)"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        apps = {id(app): (kind, vt) for app, kind, vt in apps_with_visibility_timeout(project)}
        if not apps:
            return
        for app_id, (kind, vt) in apps.items():
            app = next(a for a in project.apps if id(a) == app_id)
            for task in sorted(app.tasks.values(), key=lambda t: t.name):
                yield from self._task_options(task, kind, vt)
        for _, call in task_calls(project):
            if call.method != "apply_async" or call.task is None or id(call.task.app) not in apps:
                continue
            expr = call.options.get("countdown")
            seconds = literal_seconds(expr)
            kind, vt = apps[id(call.task.app)]
            if expr is not None and seconds is not None and seconds >= vt.seconds:
                yield self._delay(f"{call.label}.apply_async(countdown={format_duration(seconds)})", expr.span, kind, vt)
        yield from self._retries(project, apps)

    def _task_options(self, task, kind: Transport, vt: Visibility) -> Iterable[Finding]:
        delay = task.options.get("default_retry_delay")
        if _at_or_above(delay, vt.seconds):
            yield self._delay(f"task {task.name} retries after default_retry_delay "
                              f"{format_duration(max(v.value for v in delay.possible()))}",
                              delay.origin or task.decorator_span, kind, vt)
        if "autoretry_for" in task.options and always(task.option("retry_backoff"), lambda v: bool(v)):
            cap = task.option("retry_backoff_max")
            if _at_or_above(cap, vt.seconds):
                yield self._delay(f"task {task.name} backs off up to retry_backoff_max "
                                  f"{format_duration(max(v.value for v in cap.possible()))}",
                                  cap.origin or task.decorator_span, kind, vt)

    def _retries(self, project: Project, apps: dict) -> Iterable[Finding]:
        by_func = {id(t.func): t for t in project.tasks() if t.bind}
        for ctx, nested in walk_nested(project):
            task = by_func.get(id(ctx.function)) if ctx.function is not None else None
            if task is None or id(task.app) not in apps:
                continue
            for expr in nested:
                if isinstance(expr, ir.Call) and isinstance(expr.func, ir.Attr) and expr.func.attr == "retry" \
                        and isinstance(expr.func.value, ir.Name) and expr.func.value.id == "self":
                    countdown = expr.kwarg("countdown")
                    seconds = literal_seconds(countdown)
                    kind, vt = apps[id(task.app)]
                    if countdown is not None and seconds is not None and seconds >= vt.seconds:
                        yield self._delay(f"task {task.name} retries with countdown {format_duration(seconds)}",
                                          countdown.span, kind, vt)

    def _delay(self, what: str, span: Span, kind: Transport, vt: Visibility) -> Finding:
        extra: list[Related] = related(vt.origin, "visibility timeout set here") if vt.origin else \
            related(kind.origin, f"the broker is {kind.kind}, with its default visibility timeout")
        return self.finding(
            f"{what}, at or above {vt.describe(kind.kind)}: the waiting message is delivered again and the task runs twice",
            span, extra, Fix("keep the delay below the visibility timeout, or raise visibility_timeout above it"),
            depends_on=[s.path for s in (vt.origin, kind.origin) if s is not None])
