"""QL502: revoke(..., terminate=True) called from application code."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from qlint.model import Finding, Fix
from qlint.semantics.callsites import Context, module_calls
from qlint.sources import ir
from qlint.resolve.project import Project
from qlint.semantics.revokes import revokes
from qlint.rule import Example, Rule
from qlint.resolve.workers import workers_of
from qlint.semantics.delivery import always
from qlint.sources.paths import in_project, is_test_path
from qlint.sources.python import _BODY_MARKERS as _READ_BODY

_APP = 'from celery import Celery\n\napp = Celery("proj")\n'
_TASKS = "from proj.celery import app\n\n@app.task\ndef build(x):\n    return x\n"
_STOPPER = {"proj/jobs.py": "from proj.celery import app\n\n\ndef stop_all(task_ids):\n    for task_id in task_ids:\n"
                            "        app.control.revoke(task_id, terminate=True)\n"}
_COMMAND = {"proj/management/__init__.py": "", "proj/management/commands/__init__.py": "",
            "proj/management/commands/stop_jobs.py":
                "from django.core.management.base import BaseCommand\n\nfrom proj.jobs import stop_all\n\n\n"
                "class Command(BaseCommand):\n    def add_arguments(self, parser):\n"
                "        parser.add_argument('task_ids', nargs='+')\n\n"
                "    def handle(self, *args, **options):\n        stop_all(options['task_ids'])\n"}


class TerminateInCode(Rule):
    code = "QL502"
    name = "terminate-in-code"
    severity = "warning"
    summary = "revoke(terminate=True) kills whatever the worker process is running when the signal lands."
    what = """
A call to `app.control.revoke(...)`, `AsyncResult(...).revoke(...)` or `.revoke(...)` on the result of
`.delay()` / `.apply_async()` with `terminate=True`, or to `app.control.terminate(...)`, outside test code
and outside Django management commands (`management/commands/`): a command is run by hand by an
operator, which is the one use Celery's documentation allows. A function (or method) that only commands
call counts as the command: silent where every call of it found, following callers up to four levels by
name, is in `management/commands/`, and nothing else can reach it unseen: no decorator exposes it (a task,
a view, a receiver), it is no method Celery calls itself (`run`, `apply_async`...), and no other module
that imports it has function bodies qlint did not read. Silent where every worker of the app in the
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
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS, **_STOPPER, **_COMMAND,
                 "proj/views.py": "from django.http import HttpResponse\n\nfrom proj.jobs import stop_all\n\n\n"
                                  "def stop(request):\n    stop_all(request.POST.getlist('id'))\n"
                                  "    return HttpResponse(status=204)\n"},
                note="the helper a command calls is also called from a view"),
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
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS, **_STOPPER,
                 **_COMMAND},
                note="a helper that only an operator's management command calls"),
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
            if _reached_only_from_commands(project, revoke.ctx):
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


# How many callers up the chain are followed from the revoke's function towards a command.
_CALLER_LEVELS = 4
_PLAIN_DECORATORS = frozenset({"staticmethod", "classmethod"})
# Methods of celery.app.task.Task that Celery calls itself (delay() calls apply_async(), the worker
# calls __call__ and run): an override of one is reached from places no call names.
_TASK_METHODS = frozenset({
    "__call__", "run", "apply_async", "delay", "apply", "retry", "replace", "on_failure", "on_success", "on_retry",
    "on_replace", "after_return", "before_start", "on_bound", "update_state", "send_event", "signature", "s", "si",
    "map", "starmap", "chunks", "AsyncResult",
})


def _reached_only_from_commands(project: Project, ctx: Context) -> bool:
    """Whether the function holding the revoke runs only when an operator runs a management command:
    every call of it found (by its name, a few callers up) is in management/commands/, at least one
    is found, and nothing else can call it unseen (a decorator that exposes it as a task, a view or a
    receiver; a caller whose body qlint did not read)."""
    while ctx.outer is not None and ctx.outer.function is not None:
        ctx = ctx.outer  # a nested function is reached through the function around it
    if ctx.function is None:
        return False
    revoking = frozenset((r.ctx.path, r.call.span) for r in revokes(project))
    return _only_commands(project, _Caller(ctx.path, ctx.function, _module_level(project, ctx.path, ctx.function)),
                          revoking, 0, frozenset())


@dataclass(frozen=True)
class _Caller:
    path: str
    function: ir.FuncDef | None  # None: the module's own code
    module_level: bool = False  # function is defined at the top of its module


def _only_commands(project: Project, here: _Caller, revoking: frozenset, level: int, seen: frozenset) -> bool:
    function = here.function
    key = (here.path, function.span) if function is not None else None
    if function is None or level >= _CALLER_LEVELS or key in seen or function.name in _TASK_METHODS \
            or function.name.startswith("__"):
        return False
    if any(not (isinstance(d, ir.Name) and d.id in _PLAIN_DECORATORS) for d in function.decorators):
        return False
    callers = _callers(project, here, revoking)
    if callers is None:
        return False
    for caller in callers:
        if _MANAGEMENT in f"/{in_project(caller.path, project.root)}":
            continue
        if not _only_commands(project, caller, revoking, level + 1, seen | {key}):
            return False
    # A command's body that does nothing Celery-related is not read: its import stands for its call.
    return bool(callers) or (here.module_level and any(_importers(project, here, commands=True)))


# Most modules Workspace.read_callers reads (analysis.MAX_CALLER_MODULES): past it, callers may be left out.
_MAX_CALLER_MODULES = 300


def _callers(project: Project, here: _Caller, revoking: frozenset) -> list[_Caller] | None:
    """Where here.function is called by name outside tests (itself and Celery's own revokes left out),
    or None when some call may have been left unseen."""
    function = here.function
    assert function is not None
    root = project.root
    read_callers = getattr(project.workspace, "read_callers", None)
    if read_callers is not None:
        # Every module whose text calls the name, with the bodies of those callers read.
        found = read_callers(frozenset({function.name}), lambda path: not is_test_path(in_project(path, root), "."))
        if len(found) >= _MAX_CALLER_MODULES:
            return None
        callers = [c for path, facts in sorted(found.items()) for c in _named_calls(path, facts.body, function.name,
                                                                                    revoking)]
        return [c for c in callers if c.function is None or (c.path, c.function.span) != (here.path, function.span)]
    callers = []
    for ctx, call in _every_call(project):
        if (ctx.path, call.span) in revoking or not _names(call, function.name) or _within(ctx, function):
            continue
        while ctx.outer is not None and ctx.outer.function is not None:
            ctx = ctx.outer
        module_level = ctx.function is not None and _module_level(project, ctx.path, ctx.function)
        callers.append(_Caller(ctx.path, ctx.function, module_level))
    return callers if _callers_visible(project, here) else None


def _named_calls(path: str, body: tuple[ir.Stmt, ...], name: str, revoking: frozenset) -> list[_Caller]:
    """The calls of name in a module's statements, each with the top-level function or method it is in."""
    found = []
    classes = [stmt for stmt in body if isinstance(stmt, ir.ClassDef)]
    for stmt in body:
        if isinstance(stmt, ir.FuncDef):
            found.extend(_Caller(path, stmt, True) for _ in _calls_in(path, stmt.body, name, revoking))
        elif not isinstance(stmt, ir.ClassDef):
            found.extend(_Caller(path, None) for _ in _calls_in(path, stmt, name, revoking))
    while classes:
        for member in classes.pop().body:
            if isinstance(member, ir.ClassDef):
                classes.append(member)
            elif isinstance(member, ir.FuncDef):
                found.extend(_Caller(path, member) for _ in _calls_in(path, member.body, name, revoking))
            else:
                found.extend(_Caller(path, None) for _ in _calls_in(path, member, name, revoking))
    return found


def _calls_in(path: str, node: object, name: str, revoking: frozenset) -> list[ir.Call]:
    return [n for n in ir.nodes_until(node, ()) if type(n) is ir.Call and _names(n, name)
            and (path, n.span) not in revoking]


def _every_call(project: Project) -> list[tuple[Context, ir.Call]]:
    """The calls of every module outside tests, also of those the resolver never read (a management
    command that imports no app)."""
    if "ql502.calls" not in project.derived:
        project.derived["ql502.calls"] = [
            found for path in project.workspace.index.every_file()
            if not is_test_path(in_project(path, project.root), ".") for found in module_calls(project, path)
        ]
    return project.derived["ql502.calls"]


def _names(call: ir.Call, name: str) -> bool:
    func = call.func
    return (isinstance(func, ir.Name) and func.id == name) or (isinstance(func, ir.Attr) and func.attr == name)


def _within(ctx: Context, function: ir.FuncDef) -> bool:
    here: Context | None = ctx
    while here is not None:
        if here.function is function:
            return True
        here = here.outer
    return False


def _callers_visible(project: Project, here: _Caller) -> bool:
    """Whether no call of here.function outside tests and commands can hide in a body qlint did not
    read. qlint reads every body of a module that mentions Celery whose text calls Celery-related
    names (so `.revoke(` there is always seen), and in such a module the callers of a body it reads
    (so callers in the function's own module are seen); a module that mentions no Celery has no body
    read. A method may be called as `.name(` from any module; a module-level function only from
    modules that import it or its module."""
    assert here.function is not None
    marked = _READ_BODY.search(f".{here.function.name}(") is not None
    if here.module_level:
        candidates = _importers(project, here, commands=False)
    else:
        candidates = []
        for other in project.workspace.index.every_file():
            where = in_project(other, project.root)
            module = project.workspace.load_facts(other)
            if other != here.path and not is_test_path(where, ".") and _MANAGEMENT not in f"/{where}" \
                    and module is not None and module.error is None:
                candidates.append(module)
    return not any(_some_body_unread(module.body) and not (marked and module.mentions_celery) for module in candidates)


def _module_level(project: Project, path: str, function: ir.FuncDef) -> bool:
    facts = project.workspace.load_facts(path)
    return facts is not None and any(s is function for s in facts.body)


def _importers(project: Project, here: _Caller, commands: bool) -> list[ir.ModuleFacts]:
    """The modules outside tests (management commands, or the others) that import a module-level
    function or its module."""
    assert here.function is not None
    workspace = project.workspace
    found = []
    for other in workspace.index.every_file():
        where = in_project(other, project.root)
        if other == here.path or is_test_path(where, ".") or (_MANAGEMENT in f"/{where}") != commands:
            continue
        module = workspace.load_facts(other)
        if module is not None and module.error is None and _imports(workspace, other, module.body, here.path,
                                                                    here.function.name):
            found.append(module)
    return found


def _imports(workspace, importer: str, body: tuple[ir.Stmt, ...], path: str, name: str) -> bool:
    """Whether the module-level imports of body bring in name from the module at path, or that module."""
    index = workspace.index
    for stmt in body:
        if isinstance(stmt, ir.ImportFrom):
            source = index.resolve(stmt.module, stmt.level, importer)
            if source == path and (stmt.star or any(n == name for n, _ in stmt.names)):
                return True
            if source is not None and any(index.submodule(source, n) == path for n, _ in stmt.names):
                return True
        elif isinstance(stmt, ir.Import):
            if any(index.resolve(dotted, 0, importer) == path for dotted, _ in stmt.names):
                return True
    return False


def _some_body_unread(body: tuple[ir.Stmt, ...]) -> bool:
    for stmt in body:
        if isinstance(stmt, ir.FuncDef) and not stmt.body_read:
            return True
        if isinstance(stmt, ir.ClassDef) and _some_body_unread(stmt.body):
            return True
    return False


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
