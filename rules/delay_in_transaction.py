"""QL305: a task sent from inside a database transaction."""
from __future__ import annotations

from typing import Iterable, Iterator

from qlint.callsites import Context, task_calls
from qlint.model import Finding, Fix, Related, Span
from qlint.resolve.project import Project
from qlint.rule import Example, Rule
from qlint.sources import ir

_APP = 'from celery import Celery\n\napp = Celery("proj")\n'
_TASKS = "from proj.celery import app\n\n@app.task\ndef index(pk):\n    return pk\n"
_ATOMIC = frozenset({"django.db.transaction.atomic"})


def _is_atomic(ctx: Context, expr: ir.Expr) -> bool:
    """transaction.atomic on the default database. A transaction on another connection
    (atomic(using=replica)) may only read, and is left alone."""
    target = expr.func if isinstance(expr, ir.Call) else expr
    if ctx.qualname(target) not in _ATOMIC:
        return False
    using = expr.kwarg("using") if isinstance(expr, ir.Call) else None
    return using is None or (isinstance(using, ir.Const) and using.value == "default")


def _end_line(stmts: tuple[ir.Stmt, ...], start: int) -> int:
    end = start
    for stmt in stmts:
        end = max(end, stmt.span.end_line)
        inner = getattr(stmt, "body", None)
        if isinstance(inner, tuple):
            end = max(end, _end_line(inner, end))
    return end


def atomic_ranges(ctx: Context, stmts: tuple[ir.Stmt, ...]) -> Iterator[tuple[int, int, Span]]:
    """(first line, last line, where) of every `with transaction.atomic()` block and
    `@transaction.atomic` function in stmts, nested ones included."""
    for stmt in stmts:
        if isinstance(stmt, ir.Block) and stmt.kind == "with" and any(_is_atomic(ctx, h) for h in stmt.header):
            yield stmt.span.line, stmt.span.end_line, stmt.header[0].span
        elif isinstance(stmt, ir.FuncDef) and any(_is_atomic(ctx, d) for d in stmt.decorators):
            yield stmt.span.line, _end_line(stmt.body, stmt.span.line), stmt.decorators[0].span
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, name, None)
            if isinstance(inner, tuple):
                yield from atomic_ranges(ctx, inner)
        if isinstance(stmt, ir.Try):
            for _, handler in stmt.handlers:
                yield from atomic_ranges(ctx, handler)


class DelayInTransaction(Rule):
    code = "QL305"
    name = "delay-in-transaction"
    severity = "warning"
    summary = "A task is sent inside a database transaction: the worker can run it before the data is committed."
    what = """
`.delay()` or `.apply_async()` of a project task inside `with transaction.atomic():` or in a function
decorated with `@transaction.atomic` (Django), rather than from `transaction.on_commit(...)` or with
Celery 5.4+'s `delay_on_commit()`. Transactions on another connection (`atomic(using="replica")`) are
left alone: they are often read-only.
"""
    why = """
The message reaches the broker at once, while the transaction that created or changed the rows is still
open. A worker can pick the task up within milliseconds and read the database before the commit: it finds
no row (`DoesNotExist`), or the old values. If the transaction rolls back, the task runs for data that
never existed. Tests rarely show it: there the worker is eager or slower than the commit.
"""
    example = """
```python
with transaction.atomic():
    order = Order.objects.create(...)
    send_receipt.delay(order.pk)        # may run before the order is committed
```
"""
    fix = """
Send after commit: `transaction.on_commit(lambda: send_receipt.delay(order.pk))`, or
`send_receipt.delay_on_commit(order.pk)` with Celery 5.4+'s Django task class.
"""
    fix_safety = "No automatic fix: code after the call may rely on the task having been sent."
    invalid = (
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/views.py": "from django.db import transaction\nfrom proj.tasks import index\n\n\n"
                                  "def save(pk):\n    with transaction.atomic():\n        index.delay(pk)\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/views.py": "from django.db.transaction import atomic\nfrom proj.tasks import index\n\n\n"
                                  "@atomic\ndef save(pk):\n    x = pk\n    index.apply_async((x,))\n"}),
    )
    valid = (
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/views.py": "from django.db import transaction\nfrom proj.tasks import index\n\n\n"
                                  "def save(pk):\n    with transaction.atomic():\n        pass\n"
                                  "    transaction.on_commit(lambda: index.delay(pk))\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/views.py": "from django.db import transaction\nfrom proj.tasks import index\n\n\n"
                                  "def save(pk):\n    with transaction.atomic():\n        pass\n    index.delay(pk)\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/views.py": "from django.db import transaction\nfrom proj.tasks import index\n\n\n"
                                  "def save(pk):\n    with transaction.atomic(using='replica'):\n        index.delay(pk)\n"},
                note="a transaction on a replica connection reads only"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        ranges: dict[str, list[tuple[int, int, Span]]] = {}
        for path in sorted(project.workspace.envs):
            facts = project.workspace.load_facts(path)
            if facts is not None and facts.error is None:
                found = list(atomic_ranges(Context(project, path, None, {}), facts.body))
                if found:
                    ranges[path] = found
        if not ranges:
            return
        for ctx, call in task_calls(project):
            if not call.sends or call.method == "send_task":
                continue
            span = call.call.span
            for first, last, where in ranges.get(ctx.path, ()):
                if first <= span.line <= last:
                    yield self.finding(
                        f"{call.label}.{call.method}() inside a database transaction: a worker may run the task "
                        "before the transaction commits, and read missing or old rows",
                        call.method_span, [Related(where, "the transaction opens here")],
                        Fix(f"send it after commit: transaction.on_commit(lambda: {call.label}.{call.method}(...))"))
                    break
