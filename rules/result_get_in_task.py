"""QL304: waiting on another task's result inside a task."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from qlint.semantics.callsites import SENDING, Context, walk_nested
from qlint.semantics.canvas import COMPOSITE, Sig, build
from qlint.model import Finding, Fix
from qlint.resolve.project import Project
from qlint.rule import Example, Rule
from qlint.sources.paths import is_test_path
from qlint.sources import ir

_APP = 'from celery import Celery\n\napp = Celery("proj")\n'
_WAITS = frozenset({"get", "wait", "join", "join_native", "collect"})
_RESULTS = frozenset({"celery.result.AsyncResult", "celery.result.GroupResult", "celery.AsyncResult"})
_ALLOW_JOIN = frozenset({"celery.result.allow_join_result"})


def _is_result(ctx: Context, expr: ir.Expr) -> bool:
    """True when expr certainly is a Celery result: what sending a task or canvas returns,
    calling a group, chain or chord, or an AsyncResult(...)."""
    expr = ctx.follow(expr)
    if not isinstance(expr, ir.Call):
        return False
    func = expr.func
    if isinstance(func, ir.Attr) and func.attr in SENDING:
        return ctx.task(func.value) is not None or isinstance(build(ctx, func.value), (Sig, *COMPOSITE))
    if isinstance(func, ir.Attr) and func.attr == "AsyncResult":
        return True
    if ctx.qualname(func) in _RESULTS:
        return True
    return isinstance(build(ctx, func), COMPOSITE)  # group(...)() applies the group


def _ran_here(ctx: Context, expr: ir.Expr) -> bool:
    """True when expr is what `.apply()` returned: an EagerResult, whose task already ran in this
    process, so waiting on it waits for nothing."""
    expr = ctx.follow(expr)
    return isinstance(expr, ir.Call) and isinstance(expr.func, ir.Attr) and expr.func.attr == "apply"


@dataclass(frozen=True)
class _Allowed:
    """A `with allow_join_result():` block in owner's own code."""

    first: int
    last: int
    owner: ir.FuncDef | None


def _allowed_blocks(ctx: Context, stmts: tuple[ir.Stmt, ...], owner: ir.FuncDef | None = None) -> Iterator[_Allowed]:
    for stmt in stmts:
        inner_owner = stmt if isinstance(stmt, ir.FuncDef) else None if isinstance(stmt, ir.ClassDef) else owner
        if isinstance(stmt, ir.Block) and stmt.kind == "with" and any(
                isinstance(h, ir.Call) and ctx.qualname(h.func) in _ALLOW_JOIN for h in stmt.header):
            yield _Allowed(stmt.span.line, stmt.span.end_line, owner)
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, name, None)
            if isinstance(inner, tuple):
                yield from _allowed_blocks(ctx, inner, inner_owner)
        if isinstance(stmt, ir.Try):
            for _, handler in stmt.handlers:
                yield from _allowed_blocks(ctx, handler, owner)


class ResultGetInTask(Rule):
    code = "QL304"
    name = "result-get-in-task"
    severity = "error"
    summary = "A task waits for another task's result: Celery refuses it, and allowing it can deadlock the workers."
    what = """
Inside a task's body, `.get()`, `.wait()`, `.join()`, `.join_native()` or `.collect()` on a result that
certainly comes from Celery: what `.delay()`/`.apply_async()` of a task, signature or canvas returned, a
called group/chain/chord, or an `AsyncResult(...)`. Also, anywhere outside tests, a wait with Celery's guard
switched off — `disable_sync_subtasks=False`, or a wait on a Celery result inside
`with allow_join_result():` — since that is only ever written to wait inside a worker.
"""
    why = """
A task that blocks on another task holds a worker process while waiting for a process to run the other
one. Celery's prefork, solo and threads pools refuse: `RuntimeError: Never call result.get() within a
task!` (`celery.result.assert_will_not_block`; gevent and eventlet pools do not check and simply block).
With `disable_sync_subtasks=False` or `allow_join_result()` the wait goes through, and when every process
of every worker is waiting on a subtask that sits in the queue behind them, nothing runs again — a
deadlock that appears only under load.
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
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/tasks.py": "from celery import group\nfrom celery.result import allow_join_result\n"
                                  "from proj.celery import app\n\n@app.task\ndef fetch(u):\n    return u\n\n\n"
                                  "@app.task\ndef report(us):\n    pending = group(fetch.s(u) for u in us).apply_async()\n"
                                  "    with allow_join_result():\n        return pending.join()\n"},
                note="allow_join_result() switches the guard off"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/waiting.py": "from celery.result import ResultSet\n\n\ndef collect(results):\n"
                                    "    values = []\n    for result in results:\n"
                                    "        values.append(result.get(disable_sync_subtasks=False))\n"
                                    "    return values\n"},
                note="only Celery's results take disable_sync_subtasks, and it only matters in a worker"),
    )
    valid = (
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/tasks.py": "from proj.celery import app\n\n@app.task\ndef fetch(u):\n    return u\n\n\n"
                                  "def view(u):\n    return fetch.delay(u).get(timeout=10)\n"}, note="not in a task"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/tasks.py": "from proj.celery import app\n\n@app.task\ndef report(options):\n"
                                  "    return options.get('x')\n"}, note="dict.get"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/tasks.py": "from celery.result import allow_join_result\nfrom proj.celery import app\n\n"
                                  "@app.task\ndef report(cache, key):\n    with allow_join_result():\n"
                                  "        return cache.get(key)\n"}, note="not a Celery result"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/tasks.py": "from proj.celery import app\n\n@app.task\ndef fetch(u):\n    return u\n\n\n"
                                  "@app.task\ndef report(u):\n    return fetch.s(u)().get('x')\n"},
                note="calling a signature runs the task here and returns its value"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/dispatch.py": "def run_here(signature):\n    eager = signature.apply()\n"
                                     "    return eager.get(propagate=True, disable_sync_subtasks=False)\n"},
                note="apply() ran the task in this process: its EagerResult holds the value already"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        tasks = {id(t.func): t for t in project.tasks()}
        allowed: dict[str, list[_Allowed]] = {}
        for ctx, nested in walk_nested(project):
            if is_test_path(ctx.path, project.root):
                continue
            if ctx.path not in allowed:
                facts = project.workspace.load_facts(ctx.path)
                allowed[ctx.path] = list(_allowed_blocks(Context(project, ctx.path, None, {}), facts.body)) if facts else []
            task = tasks.get(id(ctx.function)) if ctx.function is not None else None
            for expr in nested:
                if not (isinstance(expr, ir.Call) and isinstance(expr.func, ir.Attr) and expr.func.attr in _WAITS):
                    continue
                wait = f".{expr.func.attr}()"
                flag = expr.kwarg("disable_sync_subtasks")
                if isinstance(flag, ir.Const) and flag.value is False and not _ran_here(ctx, expr.func.value):
                    switched_off = "disable_sync_subtasks=False"
                elif _is_result(ctx, expr.func.value) and any(
                        b.owner is ctx.function and b.first <= expr.span.line <= b.last for b in allowed[ctx.path]):
                    switched_off = "allow_join_result()"
                elif task is not None and _is_result(ctx, expr.func.value):
                    yield self.finding(
                        f"task {task.name} calls {wait} on another task's result: Celery's prefork, solo and threads "
                        "pools raise RuntimeError (never call result.get() within a task); gevent and eventlet block",
                        expr.func.span, (), _FIX)
                    continue
                else:
                    continue
                where = f"task {task.name}" if task is not None else "this code"
                yield self.finding(
                    f"{where} waits for a task result with Celery's guard switched off ({switched_off}): each waiting "
                    "worker process holds its slot until the subtask runs, and when every process waits, nothing "
                    "runs the subtasks (deadlock)",
                    expr.func.span, (), _FIX)


_FIX = Fix("chain the tasks (chain(a.s(), b.s())) so the next one receives the result")
