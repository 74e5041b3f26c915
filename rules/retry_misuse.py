"""QL403: self.retry() where it cannot work, or where the code around it misreads what it does."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from qlint.model import Finding, Fix, Related, Span
from qlint.resolve.project import Project
from qlint.resolve.resolved import Task
from qlint.rule import Example, Rule
from qlint.sources import ir

_APP = 'from celery import Celery\n\napp = Celery("proj", broker="redis://redis:6379/0")\n'
_HEAD = "from proj.celery import app\n\n\n"
# Handlers that catch celery.exceptions.Retry (an Exception subclass) when written this way.
_BROAD = frozenset({"", "Exception", "BaseException"})
# Handlers that catch Retry itself: one of them before a broad handler lets nothing reach it.
_RETRY_CLASSES = frozenset({"Retry", "TaskPredicate", "CeleryError"})
# Statements after a retry() that change nothing when they never run.
_HARMLESS_AFTER = (ir.Return, ir.Raise)


def _project(tasks: str) -> dict[str, str]:
    return {"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _HEAD + tasks}


@dataclass(frozen=True)
class _Handler:
    """An `except` clause around a retry() call, as far as it matters here."""

    names: frozenset[str]  # the exception names written, "" for a bare except
    body: tuple[ir.Stmt, ...]
    try_span: Span


@dataclass(frozen=True)
class _Retry:
    """One `receiver.retry(...)` call that is a statement of its own, with its surroundings."""

    call: ir.Call
    how: str  # "raise" | "return" | "statement" | "assigned"
    after: tuple[ir.Stmt, ...]  # what follows it in its block
    around: tuple[tuple[_Handler, ...], ...]  # handlers of the try bodies it is in, innermost first


def _is_retry(expr: ir.Expr | None, receiver: str) -> bool:
    return isinstance(expr, ir.Call) and isinstance(expr.func, ir.Attr) and expr.func.attr == "retry" \
        and isinstance(expr.func.value, ir.Name) and expr.func.value.id == receiver


def _own_call(stmt: ir.Stmt, receiver: str) -> tuple[ir.Call, str] | None:
    kinds = {ir.Raise: "raise", ir.Return: "return", ir.ExprStmt: "statement", ir.Assign: "assigned"}
    value = getattr(stmt, "value", None) if type(stmt) in kinds else None
    return (value, kinds[type(stmt)]) if _is_retry(value, receiver) else None


def _handler_names(source: str) -> frozenset[str]:
    text = source.strip().strip("()")
    return frozenset(part.strip().rsplit(".", 1)[-1] for part in text.split(",")) if text else frozenset({""})


def retries(stmts: tuple[ir.Stmt, ...], receiver: str,
            around: tuple[tuple[_Handler, ...], ...] = ()) -> Iterator[_Retry]:
    """Every retry() on receiver written as a statement of its own in stmts, nested functions left out."""
    for i, stmt in enumerate(stmts):
        own = _own_call(stmt, receiver)
        if own is not None:
            yield _Retry(own[0], own[1], stmts[i + 1:], around)
        if isinstance(stmt, ir.If):
            yield from retries(stmt.body, receiver, around)
            yield from retries(stmt.orelse, receiver, around)
        elif isinstance(stmt, ir.Block):
            yield from retries(stmt.body, receiver, around)
        elif isinstance(stmt, ir.Try):
            handlers = tuple(_Handler(_handler_names(src), body, stmt.span) for src, body in stmt.handlers)
            yield from retries(stmt.body, receiver, (handlers, *around))
            for _, body in stmt.handlers:
                yield from retries(body, receiver, around)
            yield from retries(stmt.orelse, receiver, around)
            yield from retries(stmt.finalbody, receiver, around)


def _throw(call: ir.Call) -> bool | None:
    """The `throw` argument: True by default, None when it cannot be read."""
    if any(key is None for key, _ in call.kwargs) or any(isinstance(a, ir.Starred) for a in call.args):
        return None
    value = call.kwarg("throw")
    if value is None:
        return True
    return value.value if isinstance(value, ir.Const) and isinstance(value.value, bool) else None


def _catcher(retry: _Retry, exception_rebound: bool) -> _Handler | None:
    """The handler that receives the Retry exception raised by this call, if a broad one does."""
    for handlers in retry.around:
        for handler in handlers:
            if handler.names & _RETRY_CLASSES:
                return None
            if handler.names & _BROAD and not (exception_rebound and "" not in handler.names):
                return handler
    return None


def _reraises(body: tuple[ir.Stmt, ...]) -> bool:
    return any(isinstance(s, ir.Raise) and s.value is None for s in body)


def _calls_retry(body: tuple[ir.Stmt, ...], receiver: str) -> bool:
    return any(True for _ in retries(body, receiver))


def _receiver(task: Task) -> tuple[str, bool] | None:
    """(name of the task's first parameter, whether it is bound to the task); None when unsure."""
    params = [p for p in task.func.params if p.kind in ("posonly", "pos")]
    if task.bind:
        return (params[0].name, True) if params else None
    bind = task.options.get("bind")
    if task.unknown_options or (bind is not None and bind.status != "known"):
        return None
    return ("self", False) if params and params[0].name == "self" else None


class RetryMisuse(Rule):
    code = "QL403"
    name = "retry-misuse"
    severity = "warning"
    summary = "self.retry() in a task that is not bound, swallowed by a broad except, told not to raise, or followed by code that never runs."
    what = """
Calls of `self.retry(...)` written as statements in a task's body (the first parameter of a
`bind=True` task, whatever its name):

- in a task without `bind=True` whose first parameter is `self` (error);
- inside the `try` body of a `try` whose handler catches Celery's `Retry` — a bare `except:`,
  `except Exception` or `except BaseException` with no earlier `except Retry` — unless the handler
  re-raises with a bare `raise` (error);
- with `throw=False`, not raised: the task goes on;
- not raised, followed in the same block by statements other than `return`/`raise`: they never run.

A `self.retry()` that is the last statement of its block is not reported: Celery raises `Retry` itself,
and `raise self.retry()` only makes that visible. Nor is a manual retry in a task with
`autoretry_for=(Exception,)`: Celery's autoretry wrapper lets `Retry` through (celery/app/autoretry.py),
so the two do not retry twice. Calls with `**options` or a `throw` qlint cannot read are left alone.
"""
    why = """
`Task.retry` (celery/app/task.py) publishes the retry message first, then raises `Retry` to tell the
worker that the run ended in a retry — unless `throw=False`, when it returns. So:

- without `bind=True`, `self` is the first argument the caller passed, not the task: `self.retry()`
  fails with AttributeError and the task fails instead of retrying;
- `Retry` is an `Exception`: a broad handler around the call catches it after the retry is queued. If
  the handler retries again, every run queues two retries and the runs multiply (with `max_retries=2`,
  seven runs instead of three); if it returns, the run is recorded as a success and runs again anyway;
- with `throw=False` the run continues after queueing the retry: it ends with its own state and return
  value, callers waiting on the result receive it, and `link` callbacks and the next steps of a chain
  run for this run and again for the retry;
- with `throw` left at True, statements after the call never run (when called directly, outside a
  worker, `retry()` raises too).

Observed with Celery 5.7 on a real worker.
"""
    example = """
```python
@app.task(bind=True, max_retries=5)
def sync(self, account_id):
    try:
        push(account_id)
        if not confirmed(account_id):
            raise self.retry(countdown=60)     # caught by the handler below
    except Exception as exc:
        raise self.retry(exc=exc)           # a second retry per run
```
"""
    fix = """
Bind the task (`@app.task(bind=True)`) to use `self.retry()`. Call `retry()` outside the `try`, or put
`except Retry: raise` (from `celery.exceptions`) before the broad handler, or catch only the errors you
mean to retry. Drop `throw=False` and write `raise self.retry(...)`; move code that must run before
the retry above the call.
"""
    fix_safety = "No automatic fix: retries change what the task does and how often it runs."
    invalid = (
        Example(_project("@app.task\ndef sync(self, account_id):\n    try:\n        return account_id\n"
                         "    except OSError as exc:\n        raise self.retry(exc=exc)\n"), note="not bound"),
        Example(_project("@app.task(bind=True, max_retries=5)\ndef sync(self, account_id):\n    try:\n"
                         "        if not account_id:\n            raise self.retry(countdown=60)\n"
                         "    except Exception as exc:\n        raise self.retry(exc=exc)\n"),
                note="the handler catches the Retry of the first call and retries again"),
        Example(_project("@app.task(bind=True)\ndef sync(self, account_id):\n    if not account_id:\n"
                         "        self.retry(countdown=10, throw=False)\n    return account_id\n"),
                note="throw=False: the run goes on"),
        Example(_project("@app.task(bind=True)\ndef sync(task, account_id):\n    if not account_id:\n"
                         "        task.retry(countdown=10)\n        notify(account_id)\n    return account_id\n"),
                note="notify() never runs; the bound parameter is called task here"),
    )
    valid = (
        Example(_project("@app.task(bind=True)\ndef sync(self, account_id):\n    try:\n        return account_id\n"
                         "    except OSError as exc:\n        raise self.retry(exc=exc)\n")),
        Example(_project("@app.task(bind=True)\ndef sync(self, account_id):\n    if not account_id:\n"
                         "        self.retry(countdown=10)\n    return account_id\n"),
                note="an un-raised retry() at the end of its block raises all the same"),
        Example(_project("from celery.exceptions import Retry\n\n\n@app.task(bind=True)\ndef sync(self, account_id):\n"
                         "    try:\n        raise self.retry(countdown=60)\n    except Retry:\n        raise\n"
                         "    except Exception as exc:\n        raise self.retry(exc=exc)\n"),
                note="Retry is let through before the broad handler"),
        Example(_project("@app.task(bind=True, autoretry_for=(Exception,), max_retries=3)\ndef sync(self, account_id):\n"
                         "    try:\n        return account_id\n    except ValueError as exc:\n"
                         "        raise self.retry(exc=exc, countdown=5)\n"),
                note="autoretry_for lets the manual retry's Retry through"),
        Example(_project("@app.task\ndef sync(account_id):\n    try:\n        return account_id\n"
                         "    except OSError as exc:\n        raise sync.retry(exc=exc)\n"),
                note="the task object retries its current request without bind"),
        Example(_project("@app.task(bind=True)\ndef sync(self, account_id):\n    try:\n        raise self.retry()\n"
                         "    except Exception:\n        log()\n        raise\n"), note="the handler re-raises"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        for task in sorted(project.tasks(), key=lambda t: (t.module, t.defined_at.line)):
            receiver = _receiver(task) if task.func.body_read else None
            if receiver is None:
                continue
            name, bound = receiver
            rebound = project.module_value(task.module, "Exception") is not None
            for retry in retries(task.func.body, name):
                if not bound:
                    yield self._unbound(task, retry)
                    continue
                yield from self._bound(task, retry, name, rebound)

    def _unbound(self, task: Task, retry: _Retry) -> Finding:
        return self.finding(
            f"task {task.name} is not bound: `self` is the first argument its caller passes, not the task, so "
            "self.retry() fails (AttributeError) and the task fails instead of retrying",
            retry.call.func.span, [Related(task.decorator_span, "add bind=True here")],
            Fix("add bind=True to the task decorator"), severity="error")

    def _bound(self, task: Task, retry: _Retry, receiver: str, rebound: bool) -> Iterator[Finding]:
        call = f"{receiver}.retry()"
        throw = _throw(retry.call)
        if throw is None:
            return
        if not throw and retry.how != "raise":
            yield self.finding(
                f"{call} with throw=False returns after queueing the retry: task {task.name} goes on and ends with "
                "this run's own state and result, which callers receive; links and chain steps run for this run "
                "and again for the retry",
                retry.call.span, (), Fix(f"drop throw=False and write `raise {receiver}.retry(...)`"))
            return
        if not throw:
            return
        handler = _catcher(retry, rebound)
        if handler is not None and not _reraises(handler.body):
            again = _calls_retry(handler.body, receiver)
            what = ("which retries again: every run queues two retries and the runs multiply" if again else
                    "which decides how the run ends while the retry, already queued, runs anyway")
            written = "a bare except" if "" in handler.names else f"except {sorted(handler.names & _BROAD)[0]}"
            yield self.finding(
                f"{call} in task {task.name} raises Retry after queueing the retry, and {written} around it catches "
                f"that Retry, {what}",
                retry.call.span, [Related(handler.try_span, "the try whose handler catches Retry")],
                Fix("call retry() outside the try, or add `except Retry: raise` before the broad handler"),
                severity="error")
        elif retry.how in ("statement", "assigned"):
            dead = [s for s in retry.after if not isinstance(s, _HARMLESS_AFTER)]
            if dead:
                yield self.finding(
                    f"{call} raises Retry (throw defaults to True): the statements after it in task {task.name} "
                    "never run",
                    retry.call.span, [Related(dead[0].span, "never runs")],
                    Fix(f"write `raise {receiver}.retry(...)` and move what must run before it"))
