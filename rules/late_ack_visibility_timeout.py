"""QL101: late acknowledgement with a hard time limit at or above the visibility timeout."""
from __future__ import annotations

from typing import Iterable

from qlint.semantics.durations import format_duration
from qlint.model import Edit, Finding, Fix, Related, Span, Value
from qlint.resolve.project import Project
from qlint.resolve.resolved import App, Task
from qlint.rule import Example, Rule
from qlint.resolve.workers import CeleryProcess
from qlint.semantics.delivery import (
    Transport, Visibility, always, apps_with_visibility_timeout, each_broker, per_worker, related,
    unknown_broker_deadlines,
)
from qlint.semantics.config_edits import Written, add_item, new_setting
from qlint.semantics.spelling import dict_item

_APP = '''from celery import Celery

app = Celery("proj")
app.config_from_object("proj.celeryconfig")
'''

_DJANGO = {
    "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'shop.settings')\n",
    "shop/__init__.py": "",
    "shop/celery.py": "from celery import Celery\n\napp = Celery('shop')\napp.config_from_object('django.conf:settings', namespace='CELERY')\n",
}


def _number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def late_acked(value: Value) -> bool:
    return always(value, lambda v: v is True or v == 1)


def limit_at_or_above(value: Value, seconds: float) -> bool:
    return always(value, lambda v: _number(v) and v >= seconds)


class LateAckVisibilityTimeout(Rule):
    code = "QL101"
    name = "late-ack-visibility-timeout"
    severity = "error"
    summary = "Late-acked tasks may run longer than the broker's visibility timeout: the broker hands them out again while they run."
    what = """
A task acknowledged late (`task_acks_late=True`, or the task's own `acks_late=True`) on a broker with a
visibility timeout (Redis, `rediss://`, Redis Sentinel, SQS), whose hard time limit (`time_limit`, else
`task_time_limit`) is at or above that timeout (`broker_transport_options["visibility_timeout"]`, else
3600 s on Redis and 1800 s on SQS).
"""
    why = """
With late acknowledgement the message stays unacknowledged while the task runs. On Redis, kombu keeps
every delivered message in the `unacked` hash and, at each restore sweep (when a worker connects, then
about every 100 s), pushes back to the head of the queue every message delivered more than
`visibility_timeout` seconds ago — whether or not a worker is still running it. SQS makes the message
visible again when its timeout expires. A task allowed to run longer than the timeout is therefore
delivered again while it runs: another worker starts the same job, then another, until every slot of
every worker runs the same task and new work waits. Defaults: `task_acks_late=False`,
`task_time_limit=None`, visibility timeout 3600 s (Redis) / 1800 s (SQS).
"""
    example = """
```python
# settings.py (Django, namespace CELERY), broker on Redis
CELERY_BROKER_URL = "redis://redis:6379/0"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_TIME_LIMIT = 24 * 60 * 60   # 24 h, far above Redis' default 1 h visibility timeout
```
"""
    fix = """
Raise the visibility timeout above the longest hard time limit (with a margin), in the broker transport
options of every app whose workers share the Redis database (kombu reads it nowhere else, see QL106):
`CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 25 * 60 * 60}`. Or lower the hard time limit
below the timeout, or acknowledge these tasks early. Each finding's fix spells the setting as the app's
configuration reads it: `CELERY_BROKER_TRANSPORT_OPTIONS` in Django settings under `namespace="CELERY"`,
`broker_transport_options` in a config module, `app.conf.broker_transport_options` where the app sets it.

With `--unsafe-fixes`, `--fix` writes a timeout of the longest hard limit plus a tenth and ten minutes,
on Redis (and on SQS, up to its 12 h maximum): over the timeout written as a number in the transport
options; as a new `"visibility_timeout"` key of the options dict where that is written as a literal
without one; where the app sets no transport options, as a new line of its configuration module after
its last Celery setting (`CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 95640}` for the
example above).
"""
    fix_safety = (
        "Unsafe fix on Redis (or SQS, up to its 12 h maximum) where qlint can write the timeout: over a number in "
        "the dict of broker transport options the app reads, as a new key of that dict written as a literal, or as "
        "the whole setting in the app's configuration module where nothing sets it. A longer timeout changes when "
        "the broker delivers unacknowledged messages again: the tasks of a worker that dies wait that long before "
        "another worker gets them. Described only where the broker is not known, the timeout comes from a variable "
        "or the environment (other code may share it), the options are not a dict literal, or the app has no "
        "configuration module to add the line to."
    )
    scenarios = ("examples/scenarios/long-task-incident-bad.yaml", "examples/scenarios/long-task-incident-fixed.yaml")
    invalid = (
        Example({
            "proj/__init__.py": "",
            "proj/celery.py": _APP,
            "proj/celeryconfig.py": 'import os\nbroker_url = os.environ["BROKER_URL"]\ntask_acks_late = True\ntask_time_limit = 86400\n',
        }, note="broker not known: a 24 h limit outlasts the deadline of Redis, RabbitMQ and SQS alike"),
        Example({
            "proj/__init__.py": "",
            "proj/celery.py": _APP,
            "proj/celeryconfig.py": 'import os\nbroker_url = os.environ["BROKER_URL"]\ntask_acks_late = True\ntask_time_limit = 7200\n',
            "docker-compose.yml": "services:\n  worker:\n    command: celery -A proj worker\n  cache:\n    image: redis:7-alpine\n",
        }, note="broker not known from the code; the deployment runs Redis and no other broker"),
        Example({
            "proj/__init__.py": "",
            "proj/celery.py": _APP,
            "proj/celeryconfig.py": 'broker_url = "redis://localhost:6379/0"\ntask_acks_late = True\ntask_time_limit = 7200\n',
        }, note="app-wide late ack, 2 h limit, Redis default 1 h visibility timeout"),
        Example({
            "proj/__init__.py": "",
            "proj/celery.py": _APP,
            "proj/celeryconfig.py": 'broker_url = "sqs://"\nbroker_transport_options = {"visibility_timeout": 600}\n',
            "proj/tasks.py": "from proj.celery import app\n\n@app.task(acks_late=True, time_limit=900)\ndef crunch(x):\n    return x\n",
        }, note="a task's own options on SQS"),
        Example({
            "proj/__init__.py": "",
            "proj/celery.py": _APP,
            "proj/celeryconfig.py": 'broker_url = "redis://localhost:6379/0"\ntask_acks_late = True\ntask_time_limit = 7200\n'
                                    'broker_transport_options = {\n    "visibility_timeout": 3600,  # one hour\n'
                                    '    "max_retries": 3,\n}\n',
        }, note="a visibility timeout set below the limit"),
        Example({
            "proj/__init__.py": "",
            "proj/celery.py": 'from celery import Celery\nfrom datetime import timedelta\n\napp = Celery("proj", broker="rediss://cache:6380/1")\n'
                              'app.conf.update(task_acks_late=True, task_time_limit=timedelta(hours=1))\n',
        }, note="a limit exactly at the default timeout"),
        Example({
            "proj/__init__.py": "",
            "proj/celery.py": _APP,
            "proj/celeryconfig.py": 'broker_url = "redis://localhost:6379/0"\ntask_acks_late = True\ntask_time_limit = 600\n',
            "Procfile": "web: gunicorn proj.wsgi\nworker: celery -A proj worker --time-limit=7200 -c 2\n",
        }, note="the worker's --time-limit overrides the short task_time_limit"),
        Example({
            "proj/__init__.py": "",
            "proj/celery.py": _APP,
            "proj/celeryconfig.py": 'broker_url = "redis://localhost:6379/0"\ntask_acks_late = True\n',
            "deploy/entrypoint.sh": '#!/bin/sh\nexec celery -A proj worker --time-limit="${LIMIT:-14400}"\n',
        }, note="the limit is the command line's default for a variable set nowhere"),
        Example({
            **_DJANGO,
            "shop/settings.py": 'CELERY_BROKER_URL = "redis://redis:6379/0"\nCELERY_TASK_ACKS_LATE = True\n'
                                'CELERY_TASK_TIME_LIMIT = 6 * 60 * 60\nCELERY_BROKER_TRANSPORT_OPTIONS = {\n'
                                '    "max_retries": 3,  # then give up\n}\nTIME_ZONE = "UTC"\n',
        }, note="transport options without a visibility timeout: the fix adds the key to the dict"),
        Example({
            **_DJANGO,
            "shop/settings.py": 'CELERY_BROKER_URL = "redis://redis:6379/0"\nCELERY_TASK_ACKS_LATE = True\n'
                                'CELERY_TASK_TIME_LIMIT = 24 * 60 * 60\nTIME_ZONE = "UTC"\n',
        }, note="no transport options: the fix adds CELERY_BROKER_TRANSPORT_OPTIONS after the Celery settings"),
    )
    valid = (
        Example({
            "proj/__init__.py": "",
            "proj/celery.py": _APP,
            "proj/celeryconfig.py": 'broker_url = "redis://localhost:6379/0"\ntask_acks_late = True\ntask_time_limit = 7200\n',
            "Procfile": "worker: celery -A proj worker --time-limit=1800\n",
        }, note="every worker runs with --time-limit below the visibility timeout"),
        Example({
            "proj/__init__.py": "",
            "proj/celery.py": _APP,
            "proj/celeryconfig.py": 'broker_url = "redis://localhost:6379/0"\ntask_acks_late = True\n',
            "docker-compose.yml": "services:\n  worker:\n    command: celery -A proj worker --time-limit=${LIMIT}\n",
        }, note="${LIMIT} with no default, set nowhere: the limit is unknown"),
        Example({
            "proj/__init__.py": "",
            "proj/celery.py": _APP,
            "proj/celeryconfig.py": 'broker_url = "redis://localhost"\ntask_acks_late = True\ntask_time_limit = 7200\n'
                                    'broker_transport_options = {"visibility_timeout": 10800}\n',
        }, note="timeout above the limit"),
        Example({
            "proj/__init__.py": "",
            "proj/celery.py": _APP,
            "proj/celeryconfig.py": 'broker_url = "amqp://guest@rabbit//"\ntask_acks_late = True\ntask_time_limit = 86400\n',
        }, note="RabbitMQ has no visibility timeout"),
        Example({
            "proj/__init__.py": "",
            "proj/celery.py": _APP,
            "proj/celeryconfig.py": 'import os\nbroker_url = os.environ["BROKER_URL"]\ntask_acks_late = True\ntask_time_limit = 2400\n',
        }, note="broker not known, and on Redis (visibility timeout 1 h) a 40 min limit is safe: silent"),
        Example({
            "proj/__init__.py": "",
            "proj/celery.py": _APP,
            "proj/celeryconfig.py": 'broker_url = "redis://localhost"\ntask_time_limit = 86400\n',
        }, note="early acknowledgement"),
        Example({
            "proj/__init__.py": "",
            "proj/celery.py": _APP,
            "proj/celeryconfig.py": 'broker_url = "redis://localhost"\ntask_acks_late = True\ntask_time_limit = 1800\n',
        }, note="limit below the timeout"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        for app, kind, vt in apps_with_visibility_timeout(project):
            app_late = app.setting("task_acks_late")
            if late_acked(app_late):
                for worker, limit in per_worker(project, app, "task_time_limit"):
                    if limit_at_or_above(limit, vt.seconds):
                        yield self._app_finding(project, app, vt, kind, app_late, limit, worker)
            for task in sorted(app.tasks.values(), key=lambda t: t.name):
                if "acks_late" not in task.options and "time_limit" not in task.options:
                    continue
                late, limit = task.option("acks_late"), task.option("time_limit")
                if late_acked(late) and limit_at_or_above(limit, vt.seconds):
                    yield self._task_finding(project, task, vt, kind, late, limit)
        yield from self._unknown_broker(project)

    def _unknown_broker(self, project: Project) -> Iterable[Finding]:
        """The broker is not known, and the limit is at or above the deadline of every broker
        it may be: the hazard holds whichever it is."""
        for app in project.apps:
            deadlines = unknown_broker_deadlines(app, project)
            if deadlines is None:
                continue
            longest = max(d.seconds for d in deadlines)
            app_late = app.setting("task_acks_late")
            if late_acked(app_late):
                for worker, limit in per_worker(project, app, "task_time_limit"):
                    if limit_at_or_above(limit, longest):
                        who = (f"worker {worker.label} acknowledges tasks of app {app.name!r} late and lets them run"
                               if worker is not None else f"tasks of app {app.name!r} are acknowledged late and may run")
                        span = (limit.origin or worker.span) if worker is not None else (
                            app_late.origin or limit.origin or app.defined_at)
                        yield self.finding(
                            f"{who} {format_duration(_max(limit))}, longer than the ack deadline of every broker the app "
                            f"may run on, so a running task is delivered again: {each_broker(deadlines)}",
                            span, related(app_late.origin, "late acknowledgement is turned on here")
                            + related(limit.origin, f"hard time limit {format_duration(_max(limit))} set here"),
                            self._fix(project, app, _max(limit)), depends_on=_files(None, app_late, limit))
            for task in sorted(app.tasks.values(), key=lambda t: t.name):
                if "acks_late" not in task.options and "time_limit" not in task.options:
                    continue
                late, limit = task.option("acks_late"), task.option("time_limit")
                if late_acked(late) and limit_at_or_above(limit, longest):
                    own = task.options.get("time_limit") or task.options.get("acks_late")
                    yield self.finding(
                        f"task {task.name} is acknowledged late and may run {format_duration(_max(limit))}, longer than "
                        f"the ack deadline of every broker it may run on: {each_broker(deadlines)}",
                        own.origin if own is not None and own.origin is not None else task.decorator_span,
                        related(limit.origin, f"hard time limit {format_duration(_max(limit))} set here"),
                        self._fix(project, task.app, _max(limit)), depends_on=_files(None, late, limit))

    def _related(self, vt: Visibility, kind: Transport, late: Value, limit: Value) -> list[Related]:
        out = related(late.origin, "late acknowledgement is turned on here")
        out += related(limit.origin, f"hard time limit {format_duration(_max(limit))} set here")
        if vt.origin is not None:
            out += related(vt.origin, f"visibility timeout {format_duration(vt.seconds)} set here")
        else:
            out += related(kind.origin, f"the broker is {kind.kind}: no visibility_timeout in broker_transport_options, "
                                        f"so the default of {format_duration(vt.seconds)} applies")
        return out

    def _app_finding(self, project: Project, app: App, vt: Visibility, kind: Transport, late: Value, limit: Value,
                     worker: CeleryProcess | None) -> Finding:
        if worker is not None:
            span = limit.origin or worker.span
            who = f"worker {worker.label} acknowledges tasks of app {app.name!r} late and lets them run"
            source = "--time-limit"
        else:
            span = late.origin or limit.origin or app.defined_at
            who = f"tasks of app {app.name!r} are acknowledged late and may run"
            source = "task_time_limit"
        message = (
            f"{who} {format_duration(_max(limit))} ({source}), at or above {vt.describe(kind.kind)}: "
            "the broker re-delivers a running task to other workers at each restore sweep"
        )
        return self.finding(message, span, self._related(vt, kind, late, limit),
                            self._fix(project, app, _max(limit), kind, vt),
                            depends_on=_files(vt, late, limit))

    def _task_finding(self, project: Project, task: Task, vt: Visibility, kind: Transport, late: Value, limit: Value) -> Finding:
        own = task.options.get("time_limit") or task.options.get("acks_late")
        span = own.origin if own is not None and own.origin is not None else task.decorator_span
        message = (
            f"task {task.name} is acknowledged late and may run {format_duration(_max(limit))}, at or above "
            f"{vt.describe(kind.kind)}: the broker re-delivers it to other workers while it runs"
        )
        return self.finding(message, span, self._related(vt, kind, late, limit),
                            self._fix(project, task.app, _max(limit), kind, vt),
                            depends_on=_files(vt, late, limit))

    @staticmethod
    def _fix(project: Project, app: App | None, limit: float, kind: Transport | None = None,
             vt: Visibility | None = None) -> Fix:
        timeout = int(limit * 1.1 + 600)
        text = (f"set {dict_item(app, 'broker_transport_options', 'visibility_timeout', str(timeout))} (above the "
                "hard limit), or lower the hard time limit below the visibility timeout")
        edit = _raised_in_place(app, kind, vt, timeout)
        why = ""
        if edit is None:
            edit, why = _added(project, app, kind, vt, timeout)
        return Fix(f"{text} (not written by --fix: {why})") if edit is None else Fix(text, (edit,), "unsafe")


# AWS refuses a longer visibility timeout on an SQS queue.
SQS_LONGEST_VISIBILITY = 12 * 60 * 60


def _raised_in_place(app: App | None, kind: Transport | None, vt: Visibility | None, timeout: int) -> Edit | None:
    """The edit writing timeout over the visibility timeout, where it is written in the dict of
    broker transport options the app reads (not in a variable or an environment read that
    other code may share)."""
    if app is None or kind is None or vt is None or vt.value is None or vt.origin is None:
        return None
    if kind.kind not in ("redis", "sqs") or (kind.kind == "sqs" and timeout > SQS_LONGEST_VISIBILITY):
        return None
    options = app.setting("broker_transport_options")
    if vt.value.status != "known" or vt.value.origin != vt.origin or options.status != "known" or options.origin is None:
        return None
    return Edit(vt.origin, str(timeout)) if _inside(vt.origin, options.origin) else None


def _added(project: Project, app: App | None, kind: Transport | None, vt: Visibility | None, timeout: int) -> Written:
    """The edit setting the visibility timeout where none is set: the key added to the dict of
    transport options written as a literal, or the whole setting on a line of the app's
    configuration module. Only on Redis and SQS, whose transports read it."""
    if kind is None or vt is None:
        return None, "the broker is not known"
    if kind.kind not in ("redis", "sqs"):
        return None, f"qlint does not write transport options for {kind.label}"
    if kind.kind == "sqs" and timeout > SQS_LONGEST_VISIBILITY:
        return None, "SQS refuses a visibility timeout above 12 h: lower the limit instead"
    if vt.origin is not None:
        return None, "the timeout is not written as a number in the transport options"
    options = app.setting("broker_transport_options") if app is not None else None
    if options is None or options.status == "default":
        return new_setting(project, app, "broker_transport_options", f'{{"visibility_timeout": {timeout}}}')
    return add_item(project, options, "visibility_timeout", str(timeout))


def _inside(inner: Span, outer: Span) -> bool:
    return (inner.path == outer.path and (outer.line, outer.column) <= (inner.line, inner.column)
            and (inner.end_line, inner.end_column) <= (outer.end_line, outer.end_column))


def _max(value: Value) -> float:
    return max(v.value for v in value.possible())


def _files(vt: Visibility | None, *values: Value) -> list[str]:
    spans = [v.origin for v in values if v.origin is not None] + ([vt.origin] if vt is not None and vt.origin else [])
    return [s.path for s in spans]
