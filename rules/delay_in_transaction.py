"""QL305: a task sent from inside a database transaction."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Iterable, Iterator

from qlint.callsites import Context, render, task_calls
from qlint.model import Finding, Fix, Related, Span
from qlint.resolve.project import Project
from qlint.rule import Example, Rule
from qlint.rules._delivery import always
from qlint.rules._paths import in_project, is_test_path
from qlint.sources import ir

_APP = 'from celery import Celery\n\napp = Celery("proj")\n'
_TASKS = "from proj.celery import app\n\n@app.task\ndef index(pk):\n    return pk\n"
_DJANGO_APP = ('import os\n\nfrom celery import Celery\n\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")\n'
               'app = Celery("proj")\napp.config_from_object("django.conf:settings", namespace="CELERY")\n')
_DJANGO_SETTINGS = ('DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "shop",\n'
                    '                         "ATOMIC_REQUESTS": True}}\nCELERY_BROKER_URL = "redis://localhost:6379/0"\n')


def _django(views: str) -> dict[str, str]:
    return {"proj/__init__.py": "", "proj/celery.py": _DJANGO_APP, "proj/settings.py": _DJANGO_SETTINGS,
            "proj/tasks.py": _TASKS, "proj/views.py": views}


_ATOMIC = frozenset({"django.db.transaction.atomic"})
_NON_ATOMIC = frozenset({"django.db.transaction.non_atomic_requests"})


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


@dataclass(frozen=True)
class Transaction:
    """Lines of `owner`'s own code (not of functions nested in it) that run inside a transaction."""

    first: int
    last: int
    where: Span
    owner: ir.FuncDef | None  # None: module level
    why: str

    def holds(self, ctx: Context, line: int) -> bool:
        return ctx.function is self.owner and self.first <= line <= self.last


def atomic_ranges(ctx: Context, stmts: tuple[ir.Stmt, ...], owner: ir.FuncDef | None = None) -> Iterator[Transaction]:
    """Every `with transaction.atomic()` block and `@transaction.atomic` function in stmts, nested ones included."""
    for stmt in stmts:
        inner_owner = owner
        if isinstance(stmt, ir.Block) and stmt.kind == "with" and any(_is_atomic(ctx, h) for h in stmt.header):
            yield Transaction(stmt.span.line, stmt.span.end_line, stmt.header[0].span, owner, "the transaction opens here")
        elif isinstance(stmt, ir.FuncDef):
            inner_owner = stmt
            if any(_is_atomic(ctx, d) for d in stmt.decorators):
                yield Transaction(stmt.span.line, _end_line(stmt.body, stmt.span.line), stmt.decorators[0].span, stmt,
                                  "the function runs in a transaction")
        elif isinstance(stmt, ir.ClassDef):
            inner_owner = None
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, name, None)
            if isinstance(inner, tuple):
                yield from atomic_ranges(ctx, inner, inner_owner)
        if isinstance(stmt, ir.Try):
            for _, handler in stmt.handlers:
                yield from atomic_ranges(ctx, handler, owner)


def _atomic_requests(project: Project) -> Related | None:
    """Where ATOMIC_REQUESTS is set, when every Django settings module of the project's apps
    certainly turns it on for the default database."""
    found: list[Related] = []
    for app in project.apps:
        if app.source_kind != "django" or app.source_path is None:
            continue
        databases = project.module_value(app.source_path, "DATABASES")
        default = databases.item("default") if databases is not None and databases.status == "known" else None
        flag = default.item("ATOMIC_REQUESTS") if default is not None else None
        if flag is None or not always(flag, lambda v: v is True):
            return None
        found.append(Related(flag.origin or app.defined_at, "ATOMIC_REQUESTS wraps every view in a transaction"))
    return found[0] if found else None


def _is_view_module(path: str, root: str) -> bool:
    parts = PurePosixPath(in_project(path, root)).with_suffix("").parts
    return "views" in parts and not is_test_path(path, root)


def view_transactions(ctx: Context, stmts: tuple[ir.Stmt, ...], where: Related) -> Iterator[Transaction]:
    """Django views (functions and methods that take `request`, in a views module) run in a
    transaction under ATOMIC_REQUESTS, unless decorated with non_atomic_requests; async views
    cannot be (Django refuses ATOMIC_REQUESTS for them)."""
    for stmt in stmts:
        if isinstance(stmt, ir.ClassDef):
            yield from view_transactions(ctx, stmt.body, where)
        elif isinstance(stmt, ir.FuncDef) and not stmt.is_async and _takes_request(stmt) and not any(
                ctx.qualname(d) in _NON_ATOMIC for d in stmt.decorators):
            yield Transaction(stmt.span.line, _end_line(stmt.body, stmt.span.line), where.span, stmt, where.message)


def _takes_request(func: ir.FuncDef) -> bool:
    names = [p.name for p in func.params if p.kind in ("posonly", "pos")]
    if names and names[0] in ("self", "cls"):
        names = names[1:]
    return bool(names) and names[0] == "request"


class DelayInTransaction(Rule):
    code = "QL305"
    name = "delay-in-transaction"
    severity = "warning"
    summary = "A task is sent inside a database transaction: the worker can run it before the data is committed."
    what = """
`.delay()`, `.apply_async()` or `send_task()` written inside `with transaction.atomic():`, in a function
decorated with `@transaction.atomic` (Django), or — when the Django settings turn on `ATOMIC_REQUESTS` for
the default database — in a view (a function or method of a `views` module that takes `request`, not
decorated with `non_atomic_requests`, not async), rather than from `transaction.on_commit(...)` or with
Celery 5.4+'s `delay_on_commit()`. Code in a function defined inside the block (an `on_commit` callback)
is not in the transaction. Transactions on another connection (`atomic(using="replica")`) are left alone:
they are often read-only.
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
`send_receipt.delay_on_commit(order.pk)` (or `apply_async_on_commit`) with the task class of Celery 5.4+'s
Django integration (`celery.contrib.django.task.DjangoTask`, the default for apps that load Django settings).
"""
    fix_safety = "No automatic fix: code after the call may rely on the task having been sent."
    invalid = (
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/views.py": "from django.db import transaction\nfrom proj.tasks import index\n\n\n"
                                  "def save(pk):\n    with transaction.atomic():\n        index.delay(pk)\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/views.py": "from django.db.transaction import atomic\nfrom proj.tasks import index\n\n\n"
                                  "@atomic\ndef save(pk):\n    x = pk\n    index.apply_async((x,))\n"}),
        Example(_django("from django.views import View\nfrom proj.tasks import index\n\n\n"
                        "def save(request, pk):\n    index.delay(pk)\n\n\n"
                        "class Save(View):\n    def post(self, request, pk):\n        index.delay(pk)\n"),
                count=2, note="views under ATOMIC_REQUESTS"),
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
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/views.py": "from django.db import transaction\nfrom proj.tasks import index\n\n\n"
                                  "def save(pk):\n    with transaction.atomic():\n        def after():\n"
                                  "            index.delay(pk)\n        transaction.on_commit(after)\n"},
                note="a callback defined in the block runs after commit"),
        Example(_django("from django.db import transaction\nfrom proj.tasks import index\n\n\n"
                        "@transaction.non_atomic_requests\ndef save(request, pk):\n    index.delay(pk)\n"),
                note="a view excluded from ATOMIC_REQUESTS"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        requests = _atomic_requests(project)
        ranges: dict[str, list[Transaction]] = {}
        for path in sorted(project.workspace.envs):
            facts = project.workspace.load_facts(path)
            if facts is None or facts.error is not None:
                continue
            ctx = Context(project, path, None, {})
            found = list(atomic_ranges(ctx, facts.body))
            if requests is not None and _is_view_module(path, project.root):
                found += view_transactions(ctx, facts.body, requests)
            if found:
                ranges[path] = found
        if not ranges:
            return
        for ctx, call in task_calls(project):
            if not call.sends:
                continue
            line = call.call.span.line
            for transaction in ranges.get(ctx.path, ()):
                if transaction.holds(ctx, line):
                    written = render(call.call.func)
                    yield self.finding(
                        f"{written}() inside a database transaction: a worker may run the task before the "
                        "transaction commits, and read missing or old rows",
                        call.method_span, [Related(transaction.where, transaction.why)],
                        Fix(f"send it after commit: transaction.on_commit(lambda: {written}(...))"))
                    break
