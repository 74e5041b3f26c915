"""QL502: revoke(..., terminate=True) called from application code."""
from __future__ import annotations

from typing import Iterable

from qlint.model import Finding, Fix
from qlint.resolve.project import Project
from qlint.revokes import revokes
from qlint.rule import Example, Rule
from qlint.rules._paths import is_test_path

_APP = 'from celery import Celery\n\napp = Celery("proj")\n'
_TASKS = "from proj.celery import app\n\n@app.task\ndef build(x):\n    return x\n"


class TerminateInCode(Rule):
    code = "QL502"
    name = "terminate-in-code"
    severity = "warning"
    summary = "revoke(terminate=True) kills whatever the worker process is running when the signal lands."
    what = """
A call to `app.control.revoke(...)`, `AsyncResult(...).revoke(...)` or the result of `.delay()` /
`.apply_async()` with `terminate=True`, outside test code.
"""
    why = """
Terminating sends a signal (SIGTERM by default) to the pool process that was running the task when the
worker handled the revoke. The task may have finished by then and the process moved on to another
task, which is killed instead; even when it hits the right task it dies mid-write — no `finally`, no
rollback of external effects, a late-acked message handled as failed. Celery's documentation reserves it
for stuck tasks, as a last resort by an operator.
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
    )

    def check(self, project: Project) -> Iterable[Finding]:
        for revoke in revokes(project):
            if not revoke.terminate or is_test_path(revoke.ctx.path):
                continue
            flag = revoke.call.kwarg("terminate")
            yield self.finding(
                "revoke(terminate=True) signals the worker process that was running the task when the revoke arrives: "
                "by then it may run another task, which is killed instead, and a killed task cleans nothing up",
                flag.span if flag is not None else revoke.call.span, (),
                Fix("revoke without terminate and let the task check for cancellation"),
            )
