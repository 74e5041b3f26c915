"""QL401: workers reserve several messages while tasks are long."""
from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from qlint.semantics.durations import format_duration
from qlint.model import Edit, Finding, Fix, Related, Value
from qlint.resolve.project import Project
from qlint.resolve.resolved import App
from qlint.rule import Example, Rule
from qlint.semantics.callsites import task_calls
from qlint.semantics.config_edits import Written, new_setting, replace_value
from qlint.resolve.routing import beat_queues
from qlint.resolve.workers import CeleryProcess, workers_of
from qlint.semantics.delivery import CONSUMER_TIMEOUT, VISIBILITY_DEFAULTS, always, brokers, transport, visibility_timeout
from qlint.sources.paths import is_test_path
from qlint.semantics.routing import destinations
from qlint.semantics.spelling import assignment
from qlint.semantics.thresholds import DEFAULT_LONG_TASK_SECONDS

_APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'
# An app-wide or worker-wide limit is a cap that every task gets, the shortest included:
# 5 to 30 minute caps are boilerplate (Celery's own Django guide sets task_time_limit =
# 30 * 60). Such a cap only shows that tasks run long when nobody would set it for short
# ones; a limit on one task is set for that task and counts from long-task-seconds.
CAP_LONG = 3600
_DJANGO = {
    "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'shop.settings')\n",
    "shop/__init__.py": "",
    "shop/celery.py": "from celery import Celery\n\napp = Celery('shop')\napp.config_from_object('django.conf:settings', namespace='CELERY')\n",
}
# A long task routed to its own queue, for the examples with one worker per queue.
_ROUTED_LONG = {
    "proj/__init__.py": "", "proj/celery.py": _APP,
    "proj/celeryconfig.py": "task_routes = {'proj.tasks.build': {'queue': 'long'}}\n",
    "proj/tasks.py": "from proj.celery import app\n\n@app.task(time_limit=4 * 3600)\ndef build(x):\n    return x\n",
    "proj/views.py": "from proj.tasks import build\n\n\ndef start(x):\n    build.delay(x)\n",
}


def _long(value: Value, threshold: float) -> bool:
    return always(value, lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= threshold)


class PrefetchLongTasks(Rule):
    code = "QL401"
    name = "prefetch-long-tasks"
    severity = "warning"
    summary = ("Workers reserve several messages each while tasks run for minutes or hours: reserved work waits while "
               "other workers idle, unacknowledged until the broker delivers it again.")
    what = """
Long tasks — a time limit, or a duration declared in `[tool.qlint.tasks]`, at or above
`long-task-seconds` (300 s by default) — while the effective `worker_prefetch_multiplier` is not 1
(default 4; 0 means no limit at all), unless `worker_disable_prefetch` is on with a Redis broker.
Where a soft limit is set it stands for the expected run time and the hard limit is only a kill cap, so
the soft limit decides; a hard limit counts only where no soft limit is set. A limit for every task
(`task_time_limit`, `task_soft_time_limit`, `--time-limit`) is a cap that short tasks get too, often a
generic safety net of a few minutes: it counts only from an hour up (or from `long-task-seconds`, when
that is longer). A worker of the deployment files that is the only consumer of its queues there (one
replica of a compose service, Kubernetes workload, supervisord program or systemd unit, no other worker on
any of its queues) is left alone: what it reserves no other worker could take, and would wait as long in
the broker. Workers started by files under test or CI folders, and apps defined there, are a test
environment and are left out. A task's own limit counts whoever sends it: code of the project (`.delay()`,
`.apply_async()`, a signature, `send_task`), or a sender the project does not show — a task no code sends
and no `beat_schedule` entry names is still sent by someone (another service's `send_task`, the admin, a
scheduler's database, flower), at any rate. Only a task that the project's own `beat_schedule` alone
sends, under Celery's default scheduler (`beat_scheduler` and every beat's `--scheduler`), is left out on
a worker with several processes: beat sends one message per period, and the worker's other processes take
what it reserves; with a database scheduler (django-celery-beat, RedBeat) the admin may schedule or run it
at any rate, and it counts. A task's messages go to the queue its `beat_schedule` entry names in
`options`, which beats the routes.
"""
    why = """
A worker reserves up to `worker_prefetch_multiplier × concurrency` messages from the broker. Reserved
messages are handed only to that worker's own idle processes: once long tasks occupy all of them (one
hour-long task on a `-c 1` worker, or a burst of long tasks on a bigger one, which then reserves more long
tasks than it runs), the reserved messages wait for hours, even when every other worker is idle. `-O fair` (the default since Celery 4) only decides
which of the worker's own processes gets a job; it does not change how many messages are reserved.
A reserved message also stays unacknowledged while it waits (early acknowledgement acks it only when a
process starts it), so where the worker is the only consumer of its queue — and nobody else could run it
sooner — the harm is the broker's ack deadline: on Redis (and SQS) a restore sweep pushes a message that
waited past the visibility timeout back to the queue and it runs twice; RabbitMQ closes the worker's
channel once a delivery stays unacknowledged past `consumer_timeout` (30 min by default) and re-queues
everything the worker held. The message says which of the two applies, and names each worker by its
`--hostname`.
"""
    example = """
```python
CELERY_TASK_TIME_LIMIT = 4 * 60 * 60      # long tasks
# CELERY_WORKER_PREFETCH_MULTIPLIER left at its default of 4
```
"""
    fix = """
Set `worker_prefetch_multiplier = 1` (`--prefetch-multiplier=1`) for the workers that run long tasks, and
acknowledge them late so a worker reserves nothing beyond what it runs; better, route long tasks to a
queue of their own served by such workers. On Redis, `worker_disable_prefetch = True` stops reserving
ahead altogether.

With `--unsafe-fixes`, `--fix` writes 1 where the workers of the finding read the multiplier: over the
`--prefetch-multiplier` value of the worker's command line (a Procfile, a compose `command`, a
Dockerfile `CMD`...); over the value the app's configuration writes
(`CELERY_WORKER_PREFETCH_MULTIPLIER = 4` in Django settings, `worker_prefetch_multiplier = 4` in a
config module, `app.conf.worker_prefetch_multiplier = 4`,
`app.conf.update(worker_prefetch_multiplier=4)`); where nothing sets it, as a new line of the
configuration module after its last Celery setting, spelled as that module is read
(`CELERY_WORKER_PREFETCH_MULTIPLIER = 1` under `namespace="CELERY"`). Late acknowledgement is left to
you.
"""
    fix_safety = (
        "Unsafe fix: with a multiplier of 1 each process asks the broker for its next message only once it has "
        "started the last one, so short tasks run at a lower rate, and every worker that reads the changed setting "
        "gets it. So the fix of a worker that reads the app's setting changes it only when every worker reading it "
        "is reported too; else the fix is described only, as it is where the value comes from a variable or the "
        "environment (set it there) or where the app has no configuration module to add the line to."
    )
    scenarios = ("examples/scenarios/prefetch-behind-long-task-bad.yaml", "examples/scenarios/prefetch-behind-long-task-fixed.yaml")
    invalid = (
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "task_time_limit = 4 * 3600\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "worker_prefetch_multiplier = 0\n",
                 "proj/tasks.py": "from proj.celery import app\n\n@app.task(soft_time_limit=1200)\ndef render(x):\n    return x\n",
                 "proj/views.py": "from proj.tasks import render\n\n\ndef show(x):\n    render.delay(x)\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "worker_prefetch_multiplier = 8\n",
                 "proj/tasks.py": "from proj.celery import app\n\n@app.task\ndef build(x):\n    return x\n",
                 "proj/views.py": "from proj.tasks import build\n\n\ndef start(x):\n    build.apply_async((x,))\n"},
                config={"tasks": {"proj.tasks.build": "3h"}}, note="a declared duration"),
        Example({**_ROUTED_LONG, "docker-compose.yml": "services:\n  fast:\n    command: celery -A proj worker -Q celery --prefetch-multiplier=1\n"
                                       "  slow:\n    command: celery -A proj worker -Q long -c 4\n    deploy:\n      replicas: 2\n"},
                note="per worker: the two workers that consume the long queue keep the default multiplier"),
        Example({**_ROUTED_LONG, "docker-compose.yml": "services:\n  all:\n    command: celery -A proj worker -Q celery,long\n"
                                       "  slow:\n    command: celery -A proj worker -Q long\n"},
                note="two workers share the long queue: either may hold long tasks' messages the other could run"),
        Example({**_ROUTED_LONG, "proj/views.py": "", "docker-compose.yml": "services:\n  slow:\n    command: celery -A proj worker -Q long -c 1\n"
                                                                       "    deploy:\n      replicas: 2\n"},
                note="no code sends the long task (beat does), but a worker with one process holds what it reserves behind it"),
        Example({**_ROUTED_LONG, "proj/views.py": "",
                  "proj/celeryconfig.py": _ROUTED_LONG["proj/celeryconfig.py"]
                  + "beat_schedule = {'b': {'task': 'proj.tasks.build', 'schedule': 3600, 'options': {'queue': 'celery'}}}\n",
                  "docker-compose.yml": "services:\n  slow:\n    command: celery -A proj worker -Q celery -c 1\n"
                                        "    deploy:\n      replicas: 2\n"},
                note="beat sends the long task to the queue its entry names, over the routes"),
        Example({**_ROUTED_LONG, "deploy/entrypoint.sh": "#!/bin/sh\nexec celery -A proj worker -Q long "
                                                         "--prefetch-multiplier=\"${PREFETCH:-4}\"\n"},
                note="the multiplier's default on the command line, the variable set nowhere"),
        Example({**_ROUTED_LONG, "proj/views.py": "",
                 "docker-compose.yml": "services:\n  slow:\n    command: celery -A proj worker -Q long -c 4\n"
                                       "    deploy:\n      replicas: 2\n"},
                note="no code of the project sends the long task: another service sends it by name, at any rate"),
        Example({**_ROUTED_LONG, "proj/views.py": "",
                 "proj/celeryconfig.py": _ROUTED_LONG["proj/celeryconfig.py"]
                 + "beat_schedule = {'b': {'task': 'proj.tasks.build', 'schedule': 86400}}\n"
                 + "beat_scheduler = 'django_celery_beat.schedulers:DatabaseScheduler'\n",
                 "docker-compose.yml": "services:\n  slow:\n    command: celery -A proj worker -Q long -c 4\n"
                                       "    deploy:\n      replicas: 2\n"},
                note="beat schedules it, but from a database the admin edits: it may be scheduled or run at any rate"),
        Example({**_DJANGO, "shop/settings.py": "CELERY_BROKER_URL = 'redis://redis:6379/0'\n"
                                                "CELERY_TASK_SOFT_TIME_LIMIT = 2 * 3600\nCELERY_WORKER_PREFETCH_MULTIPLIER = 4\n"},
                note="Django settings write the multiplier: the fix writes 1 over it"),
        Example({**_DJANGO, "shop/settings.py": "import os\n\nDEBUG = os.environ.get('DEBUG') == '1'\nCELERY_TASK_TIME_LIMIT = 4 * 3600\n"
                                                "if DEBUG:\n    CELERY_TASK_ALWAYS_EAGER = True\n\nLANGUAGE_CODE = 'en'\n"},
                note="nothing sets the multiplier: the fix adds CELERY_WORKER_PREFETCH_MULTIPLIER = 1 after the Celery settings"),
        Example({"proj/__init__.py": "", "proj/celeryconfig.py": "task_time_limit = 4 * 3600\n",
                 "proj/celery.py": _APP + "app.conf.update(\n    worker_prefetch_multiplier=4,\n)\n"},
                note="app.conf.update() writes it"),
        Example({"proj/__init__.py": "", "proj/celeryconfig.py": "task_time_limit = 4 * 3600\n",
                 "proj/celery.py": _APP + "app.conf.worker_prefetch_multiplier = 2  # tuned for the API\n"},
                note="app.conf writes it"),
        Example({**_ROUTED_LONG, "Procfile": "web: gunicorn proj.wsgi\nworker: celery -A proj worker -Q long --prefetch-multiplier 4\n"},
                note="a Procfile worker's own --prefetch-multiplier: the fix writes 1 over its value"),
        Example({**_ROUTED_LONG, "Dockerfile": 'FROM python:3.12\nCMD ["celery", "-A", "proj", "worker", "-Q", "long", '
                                               '"--prefetch-multiplier=8"]\n'},
                note="in a Dockerfile's exec form"),
    )
    valid = (
        Example({"lib/__init__.py": "", "lib/tasks.py": "from celery import shared_task\n\n@shared_task(soft_time_limit=7200)\n"
                                                          "def sync(x):\n    return x\n\n\ndef start(x):\n    sync.delay(x)\n",
                 "tests/__init__.py": "", "tests/manage.py": "", "tests/proj/__init__.py": "",
                 "tests/proj/celery.py": 'from celery import Celery\n\napp = Celery("proj")\n',
                 "tests/docker-entrypoint.sh": "#!/bin/sh\ncelery -A proj worker &\npython manage.py runserver\n"},
                note="a library's test project and the entrypoint of its test container"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "task_time_limit = 30 * 60\ntask_soft_time_limit = 60\n"},
                note="a soft limit of a minute: the 30 min hard limit is only a kill cap"),
        Example({**_ROUTED_LONG, "docker-compose.yml": "services:\n  fast:\n    command: celery -A proj worker -Q celery\n"
                                       "  slow:\n    command: celery -A proj worker -Q long --prefetch-multiplier=1\n"},
                note="the long queue's worker reserves one message; the other worker never gets long tasks"),
        Example({**_ROUTED_LONG, "docker-compose.yml": "services:\n  worker:\n    command: celery -A proj worker -Q celery,long\n"},
                note="the only worker of the deployment, one container: what it reserves no other worker could run"),
        Example({**_ROUTED_LONG, "docker-compose.yml": "services:\n  fast:\n    command: celery -A proj worker -Q celery\n"
                                       "  slow:\n    command: celery -A proj worker -Q long -c 4\n"},
                note="the long queue has one consumer: its reserved messages would wait as long in the broker"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "beat_schedule = {'nightly': {'task': 'proj.tasks.rebuild', 'schedule': 86400}}\n",
                 "proj/tasks.py": "from proj.celery import app\n\n@app.task(soft_time_limit=3 * 3600)\ndef rebuild():\n    pass\n"},
                note="a long task only beat sends: one at a time, the worker's other processes take what it reserves"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "task_time_limit = 4 * 3600\nworker_prefetch_multiplier = 1\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "task_time_limit = 120\n"}, note="short tasks"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "task_soft_time_limit = 15 * 60\ntask_time_limit = 30 * 60\n"},
                note="a cap of a quarter of an hour for every task is a safety net, not a sign of long tasks"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": 'broker_url = "redis://r"\ntask_time_limit = 7200\nworker_disable_prefetch = True\n'}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "import os\ntask_time_limit = 7200\nworker_prefetch_multiplier = int(os.environ['PREFETCH'])\n"},
                note="multiplier from an environment variable with no default: unknown"),
        Example({**_ROUTED_LONG, "proj/celeryconfig.py": "",
                 "proj/views.py": "from proj.tasks import build\n\n\ndef start(x):\n    build.apply_async((x,), queue='long')\n",
                 "docker-compose.yml": "services:\n  fast:\n    command: celery -A proj worker -Q celery\n    deploy:\n      replicas: 2\n"
                                       "  slow:\n    command: celery -A proj worker -Q long --prefetch-multiplier=1\n"},
                note="the only send names the queue 'long': the default queue's workers never get the task"),
        Example({**_ROUTED_LONG, "proj/views.py": "",
                 "proj/celeryconfig.py": _ROUTED_LONG["proj/celeryconfig.py"]
                 + "beat_schedule = {'b': {'task': 'proj.tasks.build', 'schedule': 3600, 'options': {'queue': 'long'}}}\n",
                 "docker-compose.yml": "services:\n  fast:\n    command: celery -A proj worker -Q celery -c 1\n"
                                       "    deploy:\n      replicas: 2\n"},
                note="the routes send the long task to 'long' and so does its beat entry: the -c 1 workers on 'celery' never get it"),
        Example({**_ROUTED_LONG, "docker-compose.yml": "services:\n  slow:\n    command: celery -A proj worker -Q long "
                                                       "--prefetch-multiplier=${PREFETCH}\n"},
                note="${PREFETCH} on the command line, with no default and set nowhere: unknown, silent"),
        Example({**_ROUTED_LONG, "docker-compose.yml": "services:\n  slow:\n    command: celery -A proj worker -Q long "
                                                       "--prefetch-multiplier=${PREFETCH:-4}\n", ".env": "PREFETCH=1\n"},
                note="the .env beside the compose file sets the variable its default would replace"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        threshold = float(getattr(project.config, "long_task_seconds", None) or DEFAULT_LONG_TASK_SECONDS)
        durations = dict(getattr(project.config, "tasks", None) or {})
        for app in project.apps:
            # A test or CI environment (tests/docker-entrypoint.sh, an app under tests/) is not the
            # deployment whose throughput this is about.
            workers = [w for w in workers_of(project, app)
                       if w.kind == "worker" and not is_test_path(w.file, project.root)]
            if workers:
                found = [(worker, self._worker(project, app, worker, threshold, durations)) for worker in workers]
                flagged = {id(worker) for worker, finding in found if finding is not None}
                for worker, finding in found:
                    if finding is not None:
                        yield replace(finding, fix=_worker_fix(project, app, worker, flagged))
                continue
            if is_test_path(app.defined_at.path, project.root):
                continue
            multiplier = app.setting("worker_prefetch_multiplier")
            if not _prefetches(multiplier) or self._prefetch_disabled(project, app, app.setting("worker_disable_prefetch")):
                continue
            limits = [(n, app.setting(n)) for n in ("task_time_limit", "task_soft_time_limit")]
            evidence = self._long_tasks(project, app, limits, threshold, durations, None,
                                        _one_process(app.setting("worker_concurrency"), None))
            if not evidence:
                continue
            value = _most(multiplier)
            where = "set here" if multiplier.status != "default" else "Celery's default"
            span = multiplier.origin or evidence[0].span
            message = (f"app {app.name!r} has long tasks ({evidence[0].message}) but each worker reserves {_reserved(value)} "
                       f"(worker_prefetch_multiplier={value}, {where}): {_harm(project, app, None)}")
            text = (f"set {assignment(app, 'worker_prefetch_multiplier', '1')} (or --prefetch-multiplier=1) on "
                    "workers that run long tasks, with late acknowledgement")
            yield self.finding(message, span, [r for r in evidence if r.span != span][:5],
                               _written(text, *_app_edit(project, app, multiplier)),
                               depends_on=[r.span.path for r in evidence])

    def _worker(self, project: Project, app: App, worker: CeleryProcess, threshold: float,
                durations: dict) -> Finding | None:
        """One worker of the deployment files: its own multiplier, limits and queues (the
        finding's fix is check()'s, which knows the other workers)."""
        multiplier = worker.setting("worker_prefetch_multiplier")
        if not _prefetches(multiplier) or self._prefetch_disabled(project, app, worker.setting("worker_disable_prefetch")):
            return None
        limits = [(n, worker.setting(n)) for n in ("task_time_limit", "task_soft_time_limit")]
        evidence = self._long_tasks(project, app, limits, threshold, durations, worker.queues(),
                                    _one_process(worker.setting("worker_concurrency"), worker))
        if not evidence or _sole_consumer(project, worker):
            return None
        value = _most(multiplier)
        on_command_line = multiplier.origin is not None and multiplier.origin.path == worker.file
        span = multiplier.origin if on_command_line else worker.span
        where = ("on its command line" if on_command_line else
                 "Celery's default" if multiplier.status == "default" else f"from {multiplier.origin}")
        related = [r for r in evidence if r.span != span][:5]
        if multiplier.origin is not None and not on_command_line:
            related.insert(0, Related(multiplier.origin, f"worker_prefetch_multiplier={value} set here"))
        message = (f"worker {worker.label} runs long tasks ({evidence[0].message}) but reserves {_reserved(value)} "
                   f"(prefetch multiplier {value}, {where}): {_harm(project, app, worker)}")
        return self.finding(message, span, related, None, depends_on=[r.span.path for r in related])

    @staticmethod
    def _prefetch_disabled(project: Project, app: App, disabled: Value) -> bool:
        kind = transport(app, project)
        return kind is not None and kind.kind == "redis" and always(disabled, bool)

    def _long_tasks(self, project: Project, app: App, limits: list[tuple[str, Value]], threshold: float,
                    durations: dict, queues: Value | None, one_process: bool) -> list[Related]:
        """What makes the tasks long; with queues, only tasks that reach those queues count. On a
        worker with several processes a long task holds reserved messages only when long tasks fill
        every process: one that only beat's fixed schedule sends (one message per period) cannot do that alone."""
        found: list[Related] = []
        sent = _sent_by_code(project)
        for name, value in _deciding(dict(limits), "task_soft_time_limit", "task_time_limit"):
            if _long(value, max(threshold, CAP_LONG)) and value.origin is not None:
                found.append(Related(value.origin, f"{name} {format_duration(max(v.value for v in value.possible()))}"))
        for task in sorted(app.tasks.values(), key=lambda t: t.name):
            if not one_process and id(task) not in sent and _beat_only(project, task, app):
                continue
            if queues is not None and not any(_may_consume(queues, q) for q in _queues_of(project, task, app)):
                continue
            for option, own in _deciding(task.options, "soft_time_limit", "time_limit"):
                if _long(own, threshold):
                    found.append(Related(own.origin or task.decorator_span,
                                         f"{task.name} {option} {format_duration(max(v.value for v in own.possible()))}"))
            declared = durations.get(task.name)
            if declared is not None and declared >= threshold:
                found.append(Related(task.defined_at, f"{task.name} declared to take {format_duration(declared)}"))
        return found


def _written(text: str, edit: Edit | None, why: str) -> Fix:
    if edit is None:
        return Fix(f"{text} (not written by --fix: {why})")
    return Fix(text, (edit,), "unsafe")


def _app_edit(project: Project, app: App, multiplier: Value) -> Written:
    """1 written over the multiplier the app's configuration sets, or a line setting it where nothing does."""
    if multiplier.status == "default":
        return new_setting(project, app, "worker_prefetch_multiplier", "1")
    return replace_value(project, multiplier, "1")


def _worker_fix(project: Project, app: App, worker: CeleryProcess, flagged: set[int]) -> Fix:
    """The worker's own --prefetch-multiplier set to 1 where its command line writes one. A
    worker that reads the app's setting gets it changed there only when every worker reading
    it is reported too: the others may run short tasks, whose throughput it would cut."""
    option = worker.option("prefetch_multiplier")
    if option is not None:
        text = f"set --prefetch-multiplier=1 on the command of worker {worker.label}, with late acknowledgement"
        if option.flag.startswith("$"):
            return _written(text, None, f"the worker reads it from the variable {option.flag[1:]}: set it there")
        at = option.value_span
        if option.value.status != "known" or at is None or at.line != at.end_line or "$" in (option.raw or ""):
            return _written(text, None, "the value on its command line comes from a variable")
        return _written(text, Edit(at, "1"), "")
    text = f"add --prefetch-multiplier=1 to the command of worker {worker.label}, with late acknowledgement"
    multiplier = app.setting("worker_prefetch_multiplier")
    if worker.setting("worker_prefetch_multiplier") != multiplier:
        return _written(text, None, "the worker's environment decides its value")
    others = [w for w in workers_of(project, app) if id(w) not in flagged and w.option("prefetch_multiplier") is None
              and not is_test_path(w.file, project.root)]
    if others:
        return _written(text, None, f"the app's setting also governs worker {others[0].label}, which is not reported")
    text = (f"set {assignment(app, 'worker_prefetch_multiplier', '1')} (every worker that reads it is reported), "
            f"or --prefetch-multiplier=1 on the command of worker {worker.label}, with late acknowledgement")
    return _written(text, *_app_edit(project, app, multiplier))


def _queues_of(project: Project, task, app: App) -> list[Value]:
    """Where the task's messages go (qlint/semantics/routing.py); an unknown queue when a send's cannot be read."""
    sent = destinations(project, task, app)
    if sent is None:
        return [Value("unknown", reason="a send of the task names a queue qlint cannot read")]
    return [queue for queue, _ in sent]


# Celery's own scheduler, which sends only the entries of beat_schedule (celery/beat.py).
_FILE_SCHEDULERS = frozenset({"celery.beat:PersistentScheduler", "celery.beat.PersistentScheduler",
                              "celery.beat:Scheduler", "celery.beat.Scheduler"})


def _beat_only(project: Project, task, app: App) -> bool:
    """True when the project shows that beat alone sends the task, from entries of beat_schedule
    under Celery's default scheduler: one message per period. A task that neither code nor
    beat_schedule sends is sent from outside (another service, the admin), at any rate."""
    if not beat_queues(task, app):  # no entry names it, or beat_schedule cannot be read
        return False
    view = getattr(project, "deployment", None)
    beats = [p for p in (view.processes if view is not None else ()) if p.app is app and p.runs_beat]
    schedulers = [app.setting("beat_scheduler")] + [beat.setting("beat_scheduler") for beat in beats]
    return all(always(value, lambda name: name in _FILE_SCHEDULERS) for value in schedulers)


def _one_process(concurrency: Value, worker: CeleryProcess | None) -> bool:
    """True when the worker certainly runs one task at a time (-c 1, no --autoscale above 1)."""
    if worker is not None and worker.option("autoscale") is not None:
        scale = worker.option("autoscale").value
        return scale.status in ("known", "env-default") and isinstance(scale.value, (list, tuple)) \
            and bool(scale.value) and scale.value[0] == 1
    return always(concurrency, lambda v: v == 1 and not isinstance(v, bool))


def _sent_by_code(project: Project) -> set[int]:
    """The tasks some code of the project sends or signs (.delay, .apply_async, .s, send_task by name)."""
    key = "prefetch_long_tasks.sent"
    if key not in project.derived:
        project.derived[key] = {id(call.task) for _, call in task_calls(project) if call.task is not None}
    return project.derived[key]


# Deployment kinds whose one replica is one running process: a Procfile's dyno count and the
# runs of an entrypoint script are decided elsewhere.
_COUNTED_KINDS = frozenset({"compose", "kubernetes", "supervisord", "systemd"})


def _sole_consumer(project: Project, worker: CeleryProcess) -> bool:
    """True when no other worker can take what this one reserves: one replica, not autoscaled,
    and no other worker of its deployment consumes any of its queues. Its reserved messages
    would wait just as long in the broker, so prefetching delays nothing."""
    replicas = worker.process.replicas
    if worker.process.autoscaled or replicas.status not in ("known", "default") or replicas.value != 1:
        return False
    if any(d.kind not in _COUNTED_KINDS for d in worker.deployments):
        return False
    return getattr(project, "deployment", None) is not None and not _other_consumers(project, worker)


def _other_consumers(project: Project, worker: CeleryProcess) -> list[CeleryProcess]:
    """The other workers of the deployment that consume (or may consume) one of its queues."""
    view = getattr(project, "deployment", None)
    mine = worker.queues()
    found: dict[int, CeleryProcess] = {}
    for group in (view.groups() if view is not None else ()):
        if worker not in group:
            continue
        for other in group:
            if other is not worker and other.kind in ("worker", "multi") and _overlap(mine, other.queues()):
                found.setdefault(id(other), other)
    return list(found.values())


def _harm(project: Project, app: App, worker: CeleryProcess | None) -> str:
    """What reserving ahead costs here. Where other workers take the same queue, the reserved
    messages wait while those idle. Where the worker is the only consumer the deployment shows (or
    no worker is shown), nobody else could run them sooner; the harm is that they wait
    unacknowledged, so the broker's ack deadline runs out and they are delivered again."""
    if worker is not None:
        others = [other.label for other in _other_consumers(project, worker)]
        replicas = worker.process.replicas
        if worker.process.autoscaled or (replicas.status in ("known", "default") and isinstance(replicas.value, int)
                                         and replicas.value > 1):
            others.insert(0, "its other replicas")
        if others:
            names = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
            return f"reserved messages wait behind a long task while other consumers of its queues idle ({names})"
    wait = "reserved messages wait unacknowledged behind a long task"
    if worker is None:
        wait += " (other workers, if any, cannot take them)"
    redelivery = _redelivery(project, app)
    return f"{wait}; {redelivery}" if redelivery else f"{wait}, as long as the long task runs"


def _redelivery(project: Project, app: App) -> str:
    """What each broker the app may run on does with a message left unacknowledged that long."""
    parts = []
    for kind in brokers(app, project):
        if kind.kind == "amqp":
            parts.append(f"on RabbitMQ, one unacknowledged past consumer_timeout ({format_duration(CONSUMER_TIMEOUT)} "
                         "by default) gets the worker's channel closed and all it holds re-queued")
        elif kind.kind in VISIBILITY_DEFAULTS:
            vt = visibility_timeout(app, kind.kind)
            # an unreadable timeout still ends: only when is unknown
            timeout = vt.describe(kind.kind) if vt is not None else "the visibility timeout (not readable here)"
            parts.append(f"on {kind.label}, one that waits past {timeout} is delivered again and runs twice")
    return "; ".join(parts)


def _overlap(a: Value, b: Value) -> bool:
    """False only when both queue lists are known and share no queue."""
    if a.status not in ("known", "default") or b.status not in ("known", "default"):
        return True
    return bool(set(a.value or ()) & set(b.value or ()))


def _deciding(values: dict[str, Value], soft: str, hard: str) -> list[tuple[str, Value]]:
    """The limit that says how long tasks run: the soft one where it is set, else the hard one."""
    soft_value = values.get(soft)
    if soft_value is not None and soft_value.status != "default" and soft_value.value is not None:
        return [(soft, soft_value)]
    return [(hard, values[hard])] if hard in values else []


def _prefetches(multiplier: Value) -> bool:
    return always(multiplier, lambda v: isinstance(v, int) and not isinstance(v, bool) and v != 1)


def _most(multiplier: Value) -> int:
    values = [v.value for v in multiplier.possible()]
    return 0 if 0 in values else max(values)


def _reserved(value: int) -> str:
    return "every message it can get" if value == 0 else f"{value} messages per process"


def _may_consume(queues: Value, queue: Value) -> bool:
    """False only when both are known and the worker does not consume the task's queue."""
    if queues.status not in ("known", "default") or queue.status not in ("known", "default"):
        return True
    return queue.value in (queues.value or ())
