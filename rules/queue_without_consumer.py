"""QL404: tasks routed to a queue that no worker of the deployment files consumes."""
from __future__ import annotations

from typing import Iterable

from qlint.model import Finding, Fix, Related, Span
from qlint.resolve.project import Project
from qlint.resolve.resolved import App
from qlint.resolve.workers import CeleryProcess, workers_of
from qlint.rule import Example, Rule
from qlint.semantics.routing import destinations

_APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'
_TASKS = ("from proj.celery import app\n\n@app.task(queue='reports')\ndef report(x):\n    return x\n\n"
          "@app.task\ndef ping():\n    return 'pong'\n")


class QueueWithoutConsumer(Rule):
    code = "QL404"
    name = "queue-without-consumer"
    severity = "error"
    summary = "Tasks are routed to a queue that no worker in the deployment files consumes."
    what = """
A task's queue — its `queue=` option, a `task_routes` entry, or `task_default_queue` (`celery` unless set)
— is consumed by none of the app's workers found in the deployment files (compose, Kubernetes, Procfile,
supervisord, systemd, shell entrypoints), when every one of those workers names its queues (`-Q`, or
`task_queues`). A task goes where each of its sends puts it: the `queue=` of an `apply_async()` or
`send_task()`, or the `options` of its `beat_schedule` entries, override the routes; a task nothing in the
project sends goes where its routes say. A send whose queue cannot be read, or a signature of the task
(a canvas or `.set()` may choose the queue), leaves the task out. The message lists the files considered. A worker whose queues cannot be read, a deployment
file that qlint could not read (a Helm or Jinja template, a file with a syntax error: it may start the
consumer), or an app with no worker in those files, keeps the rule silent.
"""
    why = """
Celery publishes to a queue whether or not anything listens. With no consumer the messages pile up in the
broker: the work never runs, callers waiting on results time out, and Redis keeps every message in memory.
It happens after a route is added in code but not to the workers' `-Q` list, or when every worker is given
`-Q` and the default queue is left out.
"""
    example = """
```yaml
# docker-compose.yml: only the 'reports' queue is consumed
services:
  worker:
    command: celery -A proj worker -Q reports
```
```python
@app.task            # goes to the default queue 'celery', which nobody consumes
def ping(): ...
```
"""
    fix = """
Add the queue to a worker's `-Q` list (or start a worker for it), or route the task to a queue that is
consumed.
"""
    fix_safety = "No automatic fix: which worker should take the queue is a capacity decision."
    invalid = (
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/celeryconfig.py": "",
                 "proj/tasks.py": _TASKS,
                 "docker-compose.yml": "services:\n  worker:\n    command: celery -A proj worker -Q reports\n"},
                note="the default queue 'celery' is left out of -Q"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "task_routes = {'proj.tasks.ping': {'queue': 'fast'}}\n",
                 "proj/tasks.py": _TASKS,
                 "Procfile": "worker: celery -A proj worker -Q celery,reports\n"},
                note="a route to a queue no worker consumes"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/celeryconfig.py": "",
                 "proj/tasks.py": _TASKS + "\n\ndef later():\n    ping.apply_async(queue='slow')\n",
                 "Procfile": "worker: celery -A proj worker -Q celery,reports\n"},
                note="the call names a queue no worker consumes"),
    )
    valid = (
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/celeryconfig.py": "",
                 "proj/tasks.py": _TASKS,
                 "docker-compose.yml": "services:\n  worker:\n    command: celery -A proj worker -Q celery,reports\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/celeryconfig.py": "",
                 "proj/tasks.py": _TASKS,
                 "docker-compose.yml": "services:\n  worker:\n    command: celery -A proj worker\n"
                                       "  reports:\n    command: celery -A proj worker -Q reports\n"},
                note="a worker without -Q consumes the default queue"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/celeryconfig.py": "",
                 "proj/tasks.py": _TASKS,
                 "docker-compose.yml": "services:\n  worker:\n    command: celery -A proj worker -Q reports\n"
                                       "  other:\n    command: celery -A proj worker -Q ${QUEUES}\n"},
                note="one worker's queues come from a variable that is not set anywhere: unknown"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/celeryconfig.py": "",
                 "proj/tasks.py": _TASKS},
                note="no deployment files: nothing to compare with"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/celeryconfig.py": "",
                 "proj/tasks.py": _TASKS,
                 "docker-compose.yml": "services:\n  worker:\n    command: celery -A proj worker -Q reports\n",
                 "chart/templates/worker.yaml": "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n"
                                                "    spec:\n      containers:\n        - args: [celery, -A, proj, worker,"
                                                " -Q, {{ .Values.queues }}]\n"},
                note="a Helm template, not read, may start the consumer of the default queue"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "beat_schedule = {'ping': {'task': 'proj.tasks.ping', 'schedule': 60, "
                                         "'options': {'queue': 'reports'}}}\n",
                 "proj/tasks.py": _TASKS + "\n\ndef fan_out(items):\n    for item in items:\n"
                                           "        report.apply_async((item,), queue='reports')\n",
                 "docker-compose.yml": "services:\n  worker:\n    command: celery -A proj worker -Q reports\n"},
                note="every send names the queue: a call's queue= and beat's options beat the default queue"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/celeryconfig.py": "",
                 "proj/tasks.py": _TASKS + "\n\ndef later(options):\n    ping.apply_async(**options)\n",
                 "Procfile": "worker: celery -A proj worker -Q reports\n"},
                note="a send whose options cannot be read may name any queue"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        if project.deployment is None or project.deployment.skipped:
            return  # a template or an unreadable file may start the consumer
        for app in project.apps:
            workers = workers_of(project, app)
            consumed = _consumed(workers)
            if consumed is None:
                continue
            files = sorted({w.file for w in workers})
            by_queue: dict[str, list[tuple[Span, str]]] = {}
            for task in sorted(app.tasks.values(), key=lambda t: t.name):
                sent = destinations(project, task, app)
                if sent is None:
                    continue
                for queue, at in sent:
                    if queue.status not in ("known", "default") or queue.value in consumed:
                        continue
                    own = task.options.get("queue")
                    span = at or (queue.origin if queue.status == "known" and queue.origin and own is None else
                                  (own.origin if own is not None and own.origin else task.decorator_span))
                    if (span, task.name) not in by_queue.get(queue.value, []):
                        by_queue.setdefault(queue.value, []).append((span, task.name))
            for queue, spots in sorted(by_queue.items()):
                yield self._finding(app, queue, spots, workers, files)

    def _finding(self, app: App, queue: str, spots: list[tuple[Span, str]], workers: list[CeleryProcess],
                 files: list[str]) -> Finding:
        span, first = spots[0]
        names = [name for _, name in spots]
        tasks = f"task {first} goes" if len(names) == 1 else f"tasks {first} and {len(names) - 1} more go"
        related = [Related(s, f"{n} also goes to {queue!r}") for s, n in spots[1:6] if s != span]
        related += [Related(w.span, f"worker {w.name!r} consumes {', '.join(map(repr, w.queues().value))}")
                    for w in workers[:5]]
        return self.finding(
            f"{tasks} to queue {queue!r} of app {app.name!r}, which no worker consumes "
            f"(workers considered in {', '.join(files)}): the messages wait in the broker forever",
            span, related, Fix(f"add {queue!r} to a worker's -Q list, or route the task to a consumed queue"),
            depends_on=files,
        )


def _consumed(workers: list[CeleryProcess]) -> set[str] | None:
    """Every queue the workers consume; None when there are none or any is unknown."""
    if not workers:
        return None
    queues: set[str] = set()
    for worker in workers:
        if worker.kind != "worker":
            return None
        value = worker.queues()
        if value.status not in ("known", "default") or not isinstance(value.value, (list, tuple)):
            return None
        queues.update(q for q in value.value if isinstance(q, str))
    return queues
