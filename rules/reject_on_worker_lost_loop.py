"""QL105: late-acked tasks that are re-queued each time they die or time out."""
from __future__ import annotations

from typing import Iterable

from qlint.model import Finding, Fix, Related, Span, Value
from qlint.resolve.project import Project
from qlint.resolve.resolved import App, Task
from qlint.rule import Example, Rule
from qlint.semantics.delivery import always
from qlint.semantics.spelling import assignment, key
from qlint.rules.late_ack_visibility_timeout import late_acked

_APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'
_BASE = {"proj/__init__.py": "", "proj/celery.py": _APP}


def _true(value: Value) -> bool:
    return always(value, lambda v: v is True or v == 1)


def _false(value: Value) -> bool:
    return always(value, lambda v: v is False or v == 0)


def _limited(value: Value) -> bool:
    return always(value, lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0)


class RejectOnWorkerLostLoop(Rule):
    code = "QL105"
    name = "reject-on-worker-lost-loop"
    severity = "warning"
    summary = "A late-acked task that always crashes its worker or times out is re-queued forever."
    what = """
Late acknowledgement together with either `task_reject_on_worker_lost=True` (a task's
`reject_on_worker_lost`) without `task_retry_on_worker_lost`, or acknowledgement on timeout turned off
(`task_acks_on_timeout=False`, or `task_acks_on_failure_or_timeout=False` that it falls back to; Celery 5.5
and later, since up to 5.4 such a task is rejected without requeue and dropped) while a
hard time limit applies. Read from `Request.on_failure` of Celery 5.4, 5.5 and 5.7. One finding per place the option is
set: a decorator factory or base class that gives it to many tasks is reported once, where it sets it,
with the tasks it covers as related locations.
"""
    why = """
When the worker process dies (out of memory, a segfault, a kill) Celery re-queues the message if the task
rejects on worker lost; when the hard limit kills a task and timeouts are not acknowledged, it re-queues
it too. A task that dies every time — a file too big for memory, a query that never finishes — comes back
forever, takes a worker process each time, and no retry count stops it: Celery 5.7 bounds this by
`max_retries` only with `task_retry_on_worker_lost`.
"""
    example = """
```python
task_acks_late = True
task_reject_on_worker_lost = True      # an OOM-killed task returns to the queue, again and again
```
"""
    fix = """
Leave `task_reject_on_worker_lost` off and let failures be recorded, or use `task_retry_on_worker_lost`
(Celery 5.7) with `max_retries` so a crash is retried a bounded number of times; acknowledge timeouts.
"""
    fix_safety = "No automatic fix: it decides whether crashed work is retried."
    scenarios = ("examples/scenarios/requeue-loop-bad.yaml", "examples/scenarios/requeue-loop-fixed.yaml",
                 "examples/scenarios/worker-killed-late-ack.yaml")
    invalid = (
        Example({**_BASE, "proj/celeryconfig.py": "task_acks_late = True\ntask_reject_on_worker_lost = True\n"}),
        Example({**_BASE, "proj/celeryconfig.py": "task_acks_late = True\ntask_acks_on_failure_or_timeout = False\n"
                                                  "task_time_limit = 600\n"}, note="timeouts re-queued"),
        Example({**_BASE, "proj/celeryconfig.py": "",
                 "proj/tasks.py": "from proj.celery import app\n\n@app.task(acks_late=True, reject_on_worker_lost=True)\n"
                                  "def convert(path):\n    pass\n"}, note="one task"),
        Example({**_BASE, "proj/celeryconfig.py": "",
                 "proj/tasks.py": "from proj.celery import app\n\n\ndef durable_task(**options):\n"
                                  "    return app.task(acks_late=True, reject_on_worker_lost=True, **options)\n\n\n"
                                  "@durable_task()\ndef convert(path):\n    pass\n\n\n"
                                  "@durable_task(queue='media')\ndef resize(path):\n    pass\n"},
                count=1, note="a decorator factory: one finding where it sets the option, its tasks related"),
    )
    valid = (
        Example({**_BASE, "proj/celeryconfig.py": "task_acks_late = True\n"}),
        Example({**_BASE, "proj/celeryconfig.py": "task_reject_on_worker_lost = True\n"}, note="early ack"),
        Example({**_BASE, "proj/celeryconfig.py": "task_acks_late = True\ntask_reject_on_worker_lost = True\n"
                                                  "task_retry_on_worker_lost = True\n"},
                note="Celery 5.7 retries a bounded number of times instead"),
        Example({**_BASE, "proj/celeryconfig.py": "task_acks_late = True\ntask_acks_on_failure_or_timeout = False\n"
                                                  "task_time_limit = 600\n", "requirements.txt": "celery[redis]==5.4.0\n"},
                note="Celery 5.4 drops a task its hard limit killed instead of re-queueing it"),
        Example({**_BASE, "proj/celeryconfig.py": "task_acks_late = True\ntask_acks_on_failure_or_timeout = False\n"},
                note="no hard limit: nothing times out"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        for app in project.apps:
            loops = _timeouts_requeued(app)
            app_wide = self._hazard(app.setting("task_acks_late"), app.setting("task_reject_on_worker_lost"),
                                    app.setting("task_retry_on_worker_lost"), self._acks_on_timeout(app, None),
                                    app.setting("task_time_limit"), loops)
            if app_wide is not None:
                what, value = app_wide
                yield self._finding(f"tasks of app {app.name!r} are", what, value.origin or app.defined_at, app=app)
            # One finding per place the option is set: a decorator factory or base class gives it to
            # every task it makes, and those tasks are the finding's related locations.
            by_place: dict[tuple[Span, str], list[Task]] = {}
            for task in sorted(app.tasks.values(), key=lambda t: t.name):
                own = {"acks_late", "reject_on_worker_lost", "acks_on_failure_or_timeout", "time_limit"} & set(task.options)
                if not own:
                    continue
                found = self._hazard(task.option("acks_late"), task.option("reject_on_worker_lost"),
                                     app.setting("task_retry_on_worker_lost"), self._acks_on_timeout(app, task),
                                     task.option("time_limit"), loops)
                if found is not None and found != app_wide:
                    what, value = found
                    by_place.setdefault((value.origin or task.decorator_span, what), []).append(task)
            for (span, what), tasks in by_place.items():
                yield self._finding(_who(tasks), what, span, tasks, app)

    @staticmethod
    def _acks_on_timeout(app: App, task: Task | None) -> Value:
        own = app.setting("task_acks_on_timeout")
        if own.status != "default" and own.value is not None:
            return own
        if task is not None and "acks_on_failure_or_timeout" in task.options:
            return task.options["acks_on_failure_or_timeout"]
        return app.setting("task_acks_on_failure_or_timeout")

    @staticmethod
    def _hazard(late: Value, reject: Value, retry: Value, acks_on_timeout: Value, limit: Value,
                loops: bool = True) -> tuple[str, Value] | None:
        if not late_acked(late):
            return None
        if _true(reject) and not _true(retry):
            return "worker-lost", reject
        if loops and _false(acks_on_timeout) and _limited(limit):
            return "timeout", acks_on_timeout
        return None

    def _finding(self, who: str, what: str, span: Span, tasks: tuple[Task, ...] | list[Task] = (),
                 app: App | None = None) -> Finding:
        if what == "worker-lost":
            message = (f"{who} acknowledged late and rejected when the worker is lost: a task that kills its worker "
                       "process (out of memory, a crash) is re-queued and runs again, forever")
            reject = "reject_on_worker_lost" if tasks else key(app, "task_reject_on_worker_lost")
            fix = Fix(f"turn {reject} off, or use {key(app, 'task_retry_on_worker_lost')} with max_retries")
        else:
            message = (f"{who} acknowledged late and its timeouts are not acknowledged: a task that always hits its hard "
                       "time limit is re-queued and runs again, forever")
            fix = Fix(f"acknowledge timeouts ({assignment(app, 'task_acks_on_timeout', 'True')}), or raise the limit")
        related = [Related(t.decorator_span, f"task {t.name} takes it from there") for t in tasks if t.decorator_span != span]
        return self.finding(message, span, related, fix, depends_on=[r.span.path for r in related])


def _who(tasks: list[Task]) -> str:
    if len(tasks) == 1:
        return f"task {tasks[0].name} is"
    names = ", ".join(t.name for t in tasks[:3])
    more = f" and {len(tasks) - 3} more" if len(tasks) > 3 else ""
    return f"{len(tasks)} tasks ({names}{more}) are"


def _timeouts_requeued(app: App) -> bool:
    """Whether every Celery release the app may run requeues a late-acked task its hard limit
    killed when timeouts are not acknowledged: 5.5 and later do; up to 5.4 the worker rejects
    it without requeue (celery/worker/request.py, Request.on_failure), so nothing loops."""
    releases = getattr(app, "releases", ()) or ()
    return all(tuple(int(p) for p in release.split(".")[:2]) >= (5, 5) for release in releases)
