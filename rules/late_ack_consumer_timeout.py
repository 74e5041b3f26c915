"""QL103: on RabbitMQ, a message held unacknowledged longer than the consumer timeout."""
from __future__ import annotations

from typing import Iterable

from qlint.semantics.durations import format_duration
from qlint.model import Finding, Fix, Related, Span, Value
from qlint.resolve.project import Project
from qlint.rule import Example, Rule
from qlint.semantics.delivery import CONSUMER_TIMEOUT, always, per_worker, related, transport
from qlint.rules.late_ack_unbounded import unbounded
from qlint.rules.late_ack_visibility_timeout import late_acked

_APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'
_AMQP = {"proj/__init__.py": "", "proj/celery.py": _APP}


def _at_or_above(value: Value, seconds: float) -> bool:
    return always(value, lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= seconds)


class LateAckConsumerTimeout(Rule):
    code = "QL103"
    name = "late-ack-consumer-timeout"
    severity = "error"
    summary = "On RabbitMQ, a message stays unacknowledged past the consumer timeout: the broker closes the worker's channel."
    what = """
AMQP broker (RabbitMQ): late-acknowledged tasks whose hard time limit (`task_time_limit`, a task's
`time_limit`, a worker's `--time-limit`) or declared duration (`[tool.qlint.tasks]`) is at or above
RabbitMQ's `consumer_timeout`, 30 minutes by default since RabbitMQ 3.8.15; late-acknowledged tasks with
no hard time limit at all (a warning: nothing bounds how long the delivery stays unacknowledged). Where
the broker is not known, QL101 and QL102 report the hazards that hold on RabbitMQ and on every other
plausible broker alike. Messages that wait unacknowledged on a countdown, an eta or a retry delay hit the
same timeout whatever the acknowledgement mode: QL104 reports those, on RabbitMQ as on every broker, so
that one rule covers every delay and this one the tasks that run too long.
"""
    why = """
RabbitMQ expects every delivery to be acknowledged within `consumer_timeout`. When one is not, it closes
the channel with a PRECONDITION_FAILED error: the worker loses its connection, every message it held goes
back to the queue and is delivered again — the long task starts over elsewhere while the first run may
still be going, and the reserved short tasks are redelivered too.
"""
    example = """
```python
broker_url = "amqp://rabbit"
task_acks_late = True
task_time_limit = 2 * 60 * 60     # a 2 h task is never acked within 30 min
```
"""
    fix = """
Raise `consumer_timeout` on the RabbitMQ server (or per queue with the `x-consumer-timeout` argument)
above the longest task, or acknowledge long tasks early.
"""
    fix_safety = "No automatic fix: the timeout lives in the broker's configuration."
    invalid = (
        Example({**_AMQP, "proj/celeryconfig.py": "broker_url = 'amqp://rabbit'\ntask_acks_late = True\n"
                                                  "task_time_limit = 7200\n"}),
        Example({**_AMQP, "proj/celeryconfig.py": "broker_url = 'amqp://rabbit'\ntask_acks_late = True\n"},
                note="no hard time limit at all: a warning"),
    )
    valid = (
        Example({**_AMQP, "proj/celeryconfig.py": "broker_url = 'amqp://rabbit'\ntask_acks_late = True\n"
                                                  "task_time_limit = 600\n"}),
        Example({**_AMQP, "proj/celeryconfig.py": "broker_url = 'amqp://rabbit'\ntask_time_limit = 7200\n"},
                note="early ack"),
        Example({**_AMQP, "proj/celeryconfig.py": "broker_url = 'redis://r'\ntask_acks_late = True\n"
                                                  "task_time_limit = 7200\n"}, note="Redis: see QL101"),
        Example({**_AMQP, "proj/celeryconfig.py": "broker_url = 'pyamqp://rabbit'\n",
                 "proj/tasks.py": "from proj.celery import app\n\n@app.task\ndef remind(u):\n    pass\n\n\n"
                                  "def later(u):\n    remind.apply_async((u,), countdown=3600)\n"},
                note="a countdown past consumer_timeout is QL104's"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        for app in project.apps:
            kind = transport(app, project)
            if kind is None or kind.kind != "amqp":
                continue
            late = app.setting("task_acks_late")
            if late_acked(late):
                for worker, limit in per_worker(project, app, "task_time_limit"):
                    if _at_or_above(limit, CONSUMER_TIMEOUT):
                        who = f"worker {worker.name!r}" if worker else f"tasks of app {app.name!r}"
                        yield self._held(f"{who}: late ack with a hard time limit of {self._most(limit)}",
                                         limit.origin or late.origin or app.defined_at, kind.origin,
                                         related(late.origin, "late acknowledgement turned on here"))
                    elif unbounded(limit):
                        who = f"worker {worker.name!r}" if worker else f"tasks of app {app.name!r}"
                        yield self._held(f"{who}: late ack with no hard time limit, so nothing keeps a run under it",
                                         late.origin or app.defined_at, kind.origin, [], severity="warning",
                                         verb="may stay unacknowledged")
            for task in sorted(app.tasks.values(), key=lambda t: t.name):
                own = task.options.get("time_limit")
                if own is not None and late_acked(task.option("acks_late")) and _at_or_above(own, CONSUMER_TIMEOUT):
                    yield self._held(f"task {task.name}: late ack with a hard time limit of {self._most(own)}",
                                     own.origin or task.decorator_span, kind.origin, [])

    @staticmethod
    def _most(value: Value) -> str:
        return format_duration(max(v.value for v in value.possible()))

    def _held(self, what: str, span: Span, broker: Span | None, extra: list[Related], severity: str | None = None,
              verb: str = "") -> Finding:
        where = f"{verb} past" if verb else "at or above"
        return self.finding(
            f"{what}, {where} RabbitMQ's default consumer_timeout of 30 min: the broker closes the worker's channel "
            "and re-delivers everything it held",
            span, extra + related(broker, "the broker is RabbitMQ (AMQP)"),
            Fix("raise consumer_timeout on RabbitMQ above the longest task, or acknowledge early"),
            severity=severity,
        )
