"""QL102: late acknowledgement with no hard time limit on a broker with a visibility timeout."""
from __future__ import annotations

from typing import Iterable

from qlint.semantics.durations import format_duration
from qlint.model import Finding, Fix
from qlint.resolve.project import Project
from qlint.rule import Example, Rule
from qlint.semantics.delivery import (
    always, apps_with_visibility_timeout, each_broker, per_worker, related, unknown_broker_deadlines,
)
from qlint.semantics.spelling import key
from qlint.rules.late_ack_visibility_timeout import late_acked

_APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'


def unbounded(value) -> bool:
    return always(value, lambda v: v is None or v == 0)


class LateAckUnbounded(Rule):
    code = "QL102"
    name = "late-ack-unbounded"
    severity = "warning"
    summary = "Late-acked tasks have no hard time limit on a broker with a visibility timeout."
    what = """
Late acknowledgement (`task_acks_late` or a task's `acks_late`) on Redis or SQS with no hard time limit
at all (`task_time_limit=None`, the default, and no `time_limit` on the task). Also where the broker is not
known (`broker_url` from an environment variable with no default, and no broker service in the deployment
files): every broker it may be (Redis, RabbitMQ, SQS) hands out again a message left unacknowledged too
long, so the hazard holds whichever it is; the message says what each broker does. QL103 reports the same
on a known RabbitMQ.
"""
    why = """
Nothing bounds how long such a task holds its message unacknowledged. Once a run outlasts the visibility
timeout (3600 s on Redis, 1800 s on SQS unless `broker_transport_options["visibility_timeout"]` says
otherwise) the broker delivers the message again while it still runs, exactly as in QL101; a task that
hangs is re-delivered forever. Declared durations in `[tool.qlint.tasks]` at or above the timeout are
named in the message.
"""
    example = """
```python
broker_url = "redis://localhost:6379/0"
task_acks_late = True      # and no task_time_limit
```
"""
    fix = """
Give late-acked tasks a hard time limit below the visibility timeout (`task_time_limit`, or `time_limit`
on the long tasks), or raise the visibility timeout above the longest run you accept.
"""
    fix_safety = "No automatic fix: a time limit kills tasks that run longer."
    scenarios = ("examples/scenarios/long-task-incident-bad.yaml", "examples/scenarios/long-task-incident-fixed.yaml")
    invalid = (
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "import os\nbroker_url = os.environ['URL']\ntask_acks_late = True\n"},
                note="broker not known: Redis, SQS and RabbitMQ all hand out again a message left unacknowledged too long"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": 'broker_url = "redis://localhost"\ntask_acks_late = True\n'}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": 'broker_url = "sqs://"\n',
                 "proj/tasks.py": "from proj.celery import app\n\n@app.task(acks_late=True)\ndef sync(x):\n    return x\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "task_acks_late = True\n"},
                config={"broker": "redis"}, note="broker assumed from [tool.qlint]"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": 'broker_url = "redis://localhost"\ntask_acks_late = True\n',
                 "Procfile": "fast: celery -A proj worker -Q celery --time-limit=600\nslow: celery -A proj worker -Q slow\n"},
                note="one worker's --time-limit bounds that worker only"),
    )
    valid = (
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": 'broker_url = "redis://localhost"\ntask_acks_late = True\ntask_time_limit = 600\n'}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": 'broker_url = "amqp://"\ntask_acks_late = True\n'}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": 'broker_url = "redis://localhost"\n'}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "import os\nbroker_url = os.environ['URL']\ntask_acks_late = True\n"
                                         "broker_transport_options = {'visibility_timeout': int(os.environ['VT'])}\n"},
                note="broker not known, and its visibility timeout unreadable: on Redis it may be long enough"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": 'broker_url = "redis://localhost"\ntask_acks_late = True\n',
                 "docker-compose.yml": "services:\n  worker:\n    command: celery -A proj worker --time-limit=${LIMIT:-1800}\n"
                                       "    deploy: {replicas: 3}\n"},
                note="every worker has a hard limit on its command line, the default of an unset variable"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        yield from self._known_broker(project)
        yield from self._unknown_broker(project)

    def _unknown_broker(self, project: Project) -> Iterable[Finding]:
        """Whatever the broker turns out to be, it hands out again a message left unacknowledged
        too long: Redis and SQS after the visibility timeout, RabbitMQ after consumer_timeout."""
        for app in project.apps:
            deadlines = unknown_broker_deadlines(app, project)
            if deadlines is None:
                continue
            shortest = min(d.seconds for d in deadlines)
            late = app.setting("task_acks_late")
            unbounded_anywhere = late_acked(late) and any(unbounded(v) for _, v in per_worker(project, app, "task_time_limit"))
            fix = Fix(f"set {key(app, 'task_time_limit')} below {format_duration(shortest)} (the shortest of them), or raise the "
                      "broker's timeout above the longest run")
            if unbounded_anywhere:
                yield self.finding(
                    f"tasks of app {app.name!r} are acknowledged late with no hard time limit, and every broker the app "
                    f"may run on delivers a message again once it has waited too long: {each_broker(deadlines)}",
                    late.origin or app.defined_at, [], fix)
            for task in sorted(app.tasks.values(), key=lambda t: t.name):
                if "acks_late" not in task.options and "time_limit" not in task.options:
                    continue
                if late_acked(task.option("acks_late")) and unbounded(task.option("time_limit")) and not unbounded_anywhere:
                    own = task.options.get("acks_late") or task.options.get("time_limit")
                    yield self.finding(
                        f"task {task.name} is acknowledged late with no hard time limit, and every broker it may run "
                        f"on delivers a message again once it has waited too long: {each_broker(deadlines)}",
                        own.origin if own is not None and own.origin else task.decorator_span, [], fix)

    def _known_broker(self, project: Project) -> Iterable[Finding]:
        durations = dict(getattr(project.config, "tasks", None) or {})
        for app, kind, vt in apps_with_visibility_timeout(project):
            late = app.setting("task_acks_late")
            # With workers in the deployment files, a --time-limit on one bounds that worker only.
            unbounded_anywhere = late_acked(late) and any(unbounded(v) for _, v in per_worker(project, app, "task_time_limit"))
            if unbounded_anywhere:
                long = [n for n, t in app.tasks.items() if durations.get(n, 0) >= vt.seconds and "time_limit" not in t.options]
                extra = f"; {', '.join(sorted(long))} may run longer than that" if long else ""
                yield self.finding(
                    f"tasks of app {app.name!r} are acknowledged late with no hard time limit: a run longer than "
                    f"{vt.describe(kind.kind)} is delivered again while it runs{extra}",
                    late.origin or app.defined_at,
                    related(vt.origin, "visibility timeout set here"),
                    Fix(f"set {key(app, 'task_time_limit')} below {format_duration(vt.seconds)}, or raise the visibility timeout"),
                )
            for task in sorted(app.tasks.values(), key=lambda t: t.name):
                if "acks_late" not in task.options and "time_limit" not in task.options:
                    continue
                t_late, t_limit = task.option("acks_late"), task.option("time_limit")
                if late_acked(t_late) and unbounded(t_limit) and not unbounded_anywhere:
                    own = task.options.get("acks_late") or task.options.get("time_limit")
                    yield self.finding(
                        f"task {task.name} is acknowledged late with no hard time limit: a run longer than "
                        f"{vt.describe(kind.kind)} is delivered again while it runs",
                        own.origin if own is not None and own.origin else task.decorator_span,
                        related(vt.origin, "visibility timeout set here"),
                        Fix("give the task a time_limit below the visibility timeout"),
                    )
