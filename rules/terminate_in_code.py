"""QL502: revoke(..., terminate=True) called from application code."""
from __future__ import annotations

from typing import Iterable

from qlint.model import Finding, Fix
from qlint.callsites import Context
from qlint.sources import ir
from qlint.resolve.project import Project
from qlint.revokes import revokes
from qlint.rule import Example, Rule
from qlint.resolve.workers import workers_of
from qlint.rules._delivery import always
from qlint.rules._paths import in_project, is_test_path

_APP = 'from celery import Celery\n\napp = Celery("proj")\n'
_TASKS = "from proj.celery import app\n\n@app.task\ndef build(x):\n    return x\n"


class TerminateInCode(Rule):
    code = "QL502"
    name = "terminate-in-code"
    severity = "warning"
    summary = "revoke(terminate=True) kills whatever the worker process is running when the signal lands."
    what = """
A call to `app.control.revoke(...)`, `AsyncResult(...).revoke(...)` or `.revoke(...)` on the result of
`.delay()` / `.apply_async()` with `terminate=True`, or to `app.control.terminate(...)`, outside test code
and outside Django management commands (`management/commands/`): a command is run by hand by an
operator, which is the one use Celery's documentation allows. Silent where every worker of the app in the
deployment files runs the `threads` or `solo` pool: those pools cannot terminate a job (Celery logs that
`terminate_job` is not implemented), so no process is signalled.
"""
    why = """
Terminating signals (SIGTERM by default) the pool process recorded for the task when the worker handles
the revoke (`Request.terminate` → `pool.terminate_job(worker_pid, signal)`). The task may have finished
by then and the process moved on to another task, which is killed instead; even when it hits the right
task, the process dies mid-write — no `finally`, no rollback of external effects, the message acked and
the task marked revoked. With `signal="SIGUSR1"` the task gets `SoftTimeLimitExceeded` instead, and can
clean up, but the race is the same: the exception may land in another task. Celery's documentation
reserves `terminate` for an administrator dealing with a stuck task, never for program logic.
"""
    example = """
```python
result.revoke(terminate=True)      # SIGTERM to whatever that process runs now
```
"""
    fix = """
Revoke without terminating and let the task check for cancellation (a flag in the database or cache it
reads between steps); keep `terminate=True` for an operator's manual intervention.
"""
    fix_safety = "No automatic fix: cooperative cancellation needs code in the task."
    scenarios = ("examples/scenarios/revoke-running-bad.yaml", "examples/scenarios/revoke-running-fixed.yaml")
    invalid = (
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/views.py": "from proj.celery import app\n\n\ndef cancel(task_id):\n"
                                  "    app.control.revoke(task_id, terminate=True)\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/views.py": "from proj.tasks import build\n\n\ndef go():\n    result = build.delay(1)\n"
                                  "    result.revoke(terminate=True, signal='SIGKILL')\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/jobs.py": "from celery import current_app\n\n\ndef stop(task_id):\n"
                                 "    current_app.control.terminate(task_id, signal='SIGUSR1')\n"},
                note="control.terminate is revoke(terminate=True)"),
    )
    valid = (
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/views.py": "from proj.celery import app\n\n\ndef cancel(task_id):\n    app.control.revoke(task_id)\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "tests/test_cancel.py": "from proj.celery import app\n\n\ndef test_cancel():\n"
                                         "    app.control.revoke('x', terminate=True)\n"}, note="tests"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/views.py": "def cancel(job):\n    job.revoke(terminate=True)\n"},
                note="a receiver that is not known to be a Celery result"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/management/__init__.py": "", "proj/management/commands/__init__.py": "",
                 "proj/management/commands/kill_task.py":
                     "from django.core.management.base import BaseCommand\n\nfrom proj.celery import app\n\n\n"
                     "class Command(BaseCommand):\n    def handle(self, *args, **options):\n"
                     "        app.control.revoke(options['task_id'], terminate=True)\n"},
                note="an operator's management command"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/views.py": "from proj.celery import app\n\n\ndef cancel(task_id):\n"
                                  "    app.control.revoke(task_id, terminate=True)\n",
                 "Procfile": "worker: celery -A proj worker -P threads -c 8\n"},
                note="the threads pool cannot terminate a job: nothing is signalled"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        for revoke in revokes(project):
            where = in_project(revoke.ctx.path, project.root)
            if not revoke.terminate or is_test_path(where, ".") or _MANAGEMENT in f"/{where}":
                continue
            if _pools_cannot_terminate(project, revoke):
                continue
            flag = revoke.call.kwarg("terminate")
            if _soft(revoke.ctx, revoke.call.kwarg("signal")):
                effect = ("raises SoftTimeLimitExceeded in the worker process that was running the task when the "
                          "revoke arrives: by then it may run another task, which gets the exception instead")
            else:
                effect = ("signals the worker process that was running the task when the revoke arrives: by then it "
                          "may run another task, which is killed instead, and a killed task cleans nothing up")
            written = "control.terminate()" if flag is None else "revoke(terminate=True)"
            yield self.finding(f"{written} {effect}", flag.span if flag is not None else revoke.call.span, (),
                               Fix("revoke without terminate and let the task check for cancellation"))


_MANAGEMENT = "/management/commands/"
# Pools whose terminate_job is BasePool's, which raises NotImplementedError (celery/concurrency).
_NO_TERMINATE = frozenset({"threads", "solo"})


def _pools_cannot_terminate(project: Project, revoke) -> bool:
    """Whether every worker that may run the revoked task is known and runs a pool that cannot
    terminate a job."""
    apps = [a for a in project.apps if revoke.app is None or a.defined_at == revoke.app.span]
    workers = [w for app in apps for w in workers_of(project, app) if w.kind in ("worker", "multi")]
    return bool(workers) and all(always(w.setting("worker_pool"), lambda v: v in _NO_TERMINATE) for w in workers)


def _soft(ctx: Context, signal: ir.Expr | None) -> bool:
    """True when the signal is SIGUSR1, the soft time limit's signal (written as 'SIGUSR1', 'USR1' or signal.SIGUSR1)."""
    if signal is None:
        return False
    if isinstance(signal, ir.Const) and isinstance(signal.value, str):
        return signal.value.upper().removeprefix("SIG") == "USR1"
    return ctx.qualname(signal) == "signal.SIGUSR1"
