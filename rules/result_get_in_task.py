"""QL304: waiting on another task's result inside a task."""
from __future__ import annotations

from typing import Iterable

from qlint.callsites import SENDING, Context, subexpressions, walk
from qlint.model import Finding, Fix
from qlint.resolve.project import Project
from qlint.rule import Example, Rule
from qlint.sources import ir

_APP = 'from celery import Celery\n\napp = Celery("proj")\n'
_WAITS = frozenset({"get", "wait", "join", "join_native"})
_CANVAS = frozenset({"celery.group", "celery.chain", "celery.chord", "celery.canvas.group", "celery.canvas.chain",
                     "celery.canvas.chord"})
_RESULTS = frozenset({"celery.result.AsyncResult", "celery.result.GroupResult", "celery.AsyncResult"})


def _is_result(ctx: Context, expr: ir.Expr) -> bool:
    """True when expr certainly is a Celery result: what sending a task or canvas returns."""
    expr = ctx.follow(expr)
    if not isinstance(expr, ir.Call):
        return False
    func = expr.func
    if isinstance(func, ir.Attr) and func.attr in SENDING:
        base = ctx.follow(func.value)
        if ctx.task(func.value) is not None:
            return True
        if isinstance(base, ir.Call) and (ctx.qualname(base.func) in _CANVAS or
                                          (isinstance(base.func, ir.Attr) and base.func.attr in ("s", "si", "signature"))):
            return True
        return False
    if isinstance(func, ir.Attr) and func.attr == "AsyncResult":
        return True
    return ctx.qualname(func) in _RESULTS


class ResultGetInTask(Rule):
    code = "QL304"
    name = "result-get-in-task"
    severity = "error"
    summary = "A task waits for another task's result: Celery refuses it, and allowing it can deadlock the workers."
    what = """
Inside a task's body, `.get()`, `.wait()` or `.join()` on a result that certainly comes from Celery: what
`.delay()`/`.apply_async()` of a task, signature or canvas returned, or an `AsyncResult(...)`. Reported
as such by default (Celery raises), and with the message adjusted when `disable_sync_subtasks=False`
turns the safety check off.
"""
    why = """
A task that blocks on another task holds a worker process while waiting for a process to run the other
one. By default Celery raises `RuntimeError: Never call result.get() within a task!`. With
`disable_sync_subtasks=False` the call goes through, and when every process of every worker is waiting
on a subtask that sits in the queue behind them, nothing runs again — a deadlock that appears only under
load.
"""
    example = """
```python
@app.task
def report(user_id):
    data = fetch.delay(user_id).get()     # blocks a worker process on another task
```
"""
    fix = """
Chain the work instead: `chain(fetch.s(user_id), render.s())`, or a chord for several subtasks; the next
task receives the result without anyone waiting.
"""
    fix_safety = "No automatic fix: the code must be split into tasks."
    invalid = (
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/tasks.py": "from proj.celery import app\n\n@app.task\ndef fetch(u):\n    return u\n\n\n"
                                  "@app.task\ndef report(u):\n    data = fetch.delay(u).get()\n    return data\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/tasks.py": "from proj.celery import app\n\n@app.task\ndef fetch(u):\n    return u\n\n\n"
                                  "@app.task\ndef report(u):\n    result = fetch.apply_async((u,))\n"
                                  "    return result.get(disable_sync_subtasks=False)\n"}),
    )
    valid = (
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/tasks.py": "from proj.celery import app\n\n@app.task\ndef fetch(u):\n    return u\n\n\n"
                                  "def view(u):\n    return fetch.delay(u).get(timeout=10)\n"}, note="not in a task"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/tasks.py": "from proj.celery import app\n\n@app.task\ndef report(options):\n"
                                  "    return options.get('x')\n"}, note="dict.get"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        tasks = {id(t.func): t for t in project.tasks()}
        for ctx, root in walk(project):
            task = tasks.get(id(ctx.function)) if ctx.function is not None else None
            if task is None:
                continue
            for expr in subexpressions(root):
                if not (isinstance(expr, ir.Call) and isinstance(expr.func, ir.Attr) and expr.func.attr in _WAITS):
                    continue
                if not _is_result(ctx, expr.func.value):
                    continue
                unsafe = expr.kwarg("disable_sync_subtasks")
                if isinstance(unsafe, ir.Const) and unsafe.value is False:
                    message = (f"task {task.name} waits for another task's result with disable_sync_subtasks=False: "
                               "when every worker process waits like this, the subtasks never run (deadlock)")
                else:
                    message = (f"task {task.name} calls .{expr.func.attr}() on another task's result: Celery raises "
                               "RuntimeError (never wait for a result within a task)")
                yield self.finding(message, expr.func.span, (),
                                   Fix("chain the tasks (chain(a.s(), b.s())) so the next one receives the result"))
