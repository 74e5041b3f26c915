"""QL402: a soft time limit at or above the hard one, so the soft limit never fires."""
from __future__ import annotations

from dataclasses import fields
from typing import Iterable, get_args

from qlint.semantics.callsites import render, task_calls
from qlint.semantics.durations import format_duration
from qlint.model import Finding, Fix, Related, Span, Value
from qlint.resolve.objects import Sym
from qlint.resolve.project import Project
from qlint.resolve.resolved import Task
from qlint.resolve.workers import workers_of
from qlint.rule import Example, Rule
from qlint.semantics.delivery import literal_seconds
from qlint.sources import ir

_APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'
_BASE = {"proj/__init__.py": "", "proj/celery.py": _APP}


def _seconds(value: Value | None) -> float | None:
    """The one number a limit certainly has; None when unset, several or unknown."""
    if value is None:
        return None
    options = value.possible()
    if not options or any(not isinstance(v.value, (int, float)) or isinstance(v.value, bool) for v in options):
        return None
    numbers = {v.value for v in options}
    if len(numbers) != 1:
        return None
    return float(numbers.pop()) or None  # 0 means no limit


_EXPRESSIONS = get_args(ir.Expr)


def same_expression(a: ir.Expr | None, b: ir.Expr | None) -> bool:
    """The same code written twice (`settings.TIMEOUT` and `settings.TIMEOUT`): equal when evaluated
    together, whatever the value. Spans aside; an expression qlint keeps no text of never matches."""
    if a is None or b is None or type(a) is not type(b) or isinstance(a, ir.Opaque):
        return False
    for f in fields(a):
        if f.name == "span":
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        if not _same_part(x, y):
            return False
    return True


def _same_part(x: object, y: object) -> bool:
    if isinstance(x, tuple) and isinstance(y, tuple):
        return len(x) == len(y) and all(_same_part(i, j) for i, j in zip(x, y))
    if isinstance(x, _EXPRESSIONS) or isinstance(y, _EXPRESSIONS):
        return same_expression(x, y)  # type: ignore[arg-type]
    return type(x) is type(y) and x == y


def _unread_number(value: Value) -> bool:
    """A limit whose number qlint cannot read: unknown, or a name from outside the project."""
    return value.status == "unknown" or (value.status == "known" and isinstance(value.value, Sym))


def _decorator_keywords(task: Task) -> dict[str, ir.Expr]:
    """The keyword arguments of the task's decorator call (`@app.task(soft_time_limit=...)`)."""
    for decorator in task.func.decorators:
        if isinstance(decorator, ir.Call) and decorator.span == task.decorator_span:
            return {k: v for k, v in decorator.kwargs if k is not None}
    return {}


class SoftLimitNotBelowHard(Rule):
    code = "QL402"
    name = "soft-limit-not-below-hard"
    severity = "warning"
    summary = "The soft time limit is at or above the hard limit: the task is killed before the soft limit fires."
    what = """
A soft time limit that is not below the hard time limit it runs under: `task_soft_time_limit` against
`task_time_limit`; a task's `soft_time_limit` against its own `time_limit` or the app's; a worker's
`--soft-time-limit` against its `--time-limit`; `apply_async(soft_time_limit=…, time_limit=…)` at a call.
Only limits whose values are certain are compared, or both limits bound to one value: one definition that
depends on a condition or that qlint cannot read (`LIMIT = int(os.environ["LIMIT"])`), or the same
expression written for both (`time_limit=settings.EXPORT_TIMEOUT, soft_time_limit=settings.EXPORT_TIMEOUT`):
the soft limit equals the hard one whatever the value is, unless it may be no limit at all (`None`, 0). A
task's finding stands on its `soft_time_limit=` keyword, the one to change.
"""
    why = """
The soft limit exists so that a task can clean up: at the soft limit the pool raises
`SoftTimeLimitExceeded` inside the task, which can catch it, release locks, save partial work and
re-queue itself. The hard limit kills the process outright. When the soft limit is not earlier, the kill
comes first (or at the same moment), the handler never runs, and a late-acknowledged task is treated as
failed or re-delivered with its locks and temporary files left behind.
"""
    example = """
```python
task_time_limit = 600
task_soft_time_limit = 600     # never fires: the process is killed at 600 s
```
"""
    fix = """
Set the soft limit clearly below the hard one, leaving the task time to clean up (for example hard = soft
+ 60 s).
"""
    fix_safety = "No automatic fix: the right margin depends on what the task cleans up."
    invalid = (
        Example({**_BASE, "proj/celeryconfig.py": "task_time_limit = 600\ntask_soft_time_limit = 600\n"}),
        Example({**_BASE, "proj/celeryconfig.py": "task_time_limit = 600\n",
                 "proj/tasks.py": "from proj.celery import app\n\n@app.task(soft_time_limit=900)\ndef crunch():\n    pass\n"},
                note="a task's soft limit above the app's hard limit"),
        Example({**_BASE, "proj/celeryconfig.py": "",
                 "proj/tasks.py": "from proj.celery import app\n\n@app.task\ndef crunch():\n    pass\n\n\n"
                                  "def go():\n    crunch.apply_async(soft_time_limit=60 * 10, time_limit=300)\n"},
                note="per call"),
        Example({**_BASE, "proj/celeryconfig.py": "", "proj/limits.py": "HOURS_23 = 23 * 3600\n",
                 "proj/tasks.py": "from proj.celery import app\nfrom proj.limits import HOURS_23\n\n"
                                  "@app.task(time_limit=HOURS_23, soft_time_limit=HOURS_23)\ndef maintain():\n    pass\n"},
                note="one constant for both limits: reported at the task, which pairs them"),
        Example({**_BASE, "proj/celeryconfig.py": "",
                 "proj/tasks.py": "import os\n\nfrom proj.celery import app\n\nTIMEOUT = 300 if os.environ.get('FAST') else 3600\n\n\n"
                                  "@app.task(time_limit=TIMEOUT, soft_time_limit=TIMEOUT)\ndef send():\n    pass\n"},
                note="one value for both limits, whichever branch it takes"),
        Example({**_BASE, "proj/celeryconfig.py": "",
                 "proj/tasks.py": "from django.conf import settings\n\nfrom proj.celery import app\n\n\n"
                                  "@app.task(time_limit=settings.EXPORT_TIMEOUT, soft_time_limit=settings.EXPORT_TIMEOUT)\n"
                                  "def export():\n    pass\n"},
                note="one expression for both limits: equal whatever it reads"),
        Example({**_BASE, "proj/celeryconfig.py": "task_soft_time_limit = 3600\n",
                 "Procfile": "worker: celery -A proj worker --time-limit=1800\n"},
                note="the worker's --time-limit is below the soft limit of the settings"),
    )
    valid = (
        Example({**_BASE, "proj/celeryconfig.py": "task_time_limit = 660\ntask_soft_time_limit = 600\n"}),
        Example({**_BASE, "proj/celeryconfig.py": "task_soft_time_limit = 600\n"}, note="no hard limit"),
        Example({**_BASE, "proj/celeryconfig.py": "task_time_limit = 600\n",
                 "proj/tasks.py": "from proj.celery import app\n\n@app.task(soft_time_limit=900, time_limit=1000)\n"
                                  "def crunch():\n    pass\n"},
                note="the task's own hard limit is above its soft limit"),
        Example({**_BASE, "proj/celeryconfig.py": "import os\ntask_time_limit = int(os.environ['HARD'])\n"
                                                  "task_soft_time_limit = 600\n"},
                note="hard limit unknown"),
        Example({**_BASE, "proj/celeryconfig.py": "",
                 "proj/tasks.py": "from django.conf import settings\n\nfrom proj.celery import app\n\n\n"
                                  "@app.task(time_limit=settings.EXPORT_TIMEOUT + 60, soft_time_limit=settings.EXPORT_TIMEOUT)\n"
                                  "def export():\n    pass\n"},
                note="two expressions whose values qlint cannot read are not compared"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        for app in project.apps:
            soft, hard = app.setting("task_soft_time_limit"), app.setting("task_time_limit")
            workers = [w for w in workers_of(project, app) if w.kind == "worker"]
            pairs = [(w.setting("task_soft_time_limit"), w.setting("task_time_limit"), f"worker {w.label}")
                     for w in workers] or [(soft, hard, f"app {app.name!r}")]
            for w_soft, w_hard, who in pairs:
                finding = self._compare(w_soft, w_hard, who)
                if finding is not None:
                    yield finding
            for task in sorted(app.tasks.values(), key=lambda t: t.name):
                finding = self._task(task, hard)
                if finding is not None:
                    yield finding
        yield from self._calls(project)

    def _task(self, task: Task, app_hard: Value) -> Finding | None:
        own_soft = task.options.get("soft_time_limit")
        if own_soft is None:
            return None
        own_hard = task.options.get("time_limit") or app_hard
        keywords = _decorator_keywords(task)
        keyword = keywords.get("soft_time_limit")
        # Both limits from one definition (time_limit=LIMIT, soft_time_limit=LIMIT): that definition
        # is not wrong, the task that uses it for both is, and its soft_time_limit= is what to change.
        shared = own_soft.origin is not None and own_soft.origin == own_hard.origin
        at = keyword.span if keyword is not None else task.decorator_span if shared else None
        who = f"task {task.name}"
        if "time_limit" in task.options and same_expression(keyword, keywords.get("time_limit")):
            found = self._compare(own_soft, own_hard, who, at, shared=True)
            return found or self._one_expression(own_soft, who, render(keyword), keyword.span)  # type: ignore[arg-type]
        return self._compare(own_soft, own_hard, who, at, shared)

    def _compare(self, soft: Value, hard: Value, who: str, at: Span | None = None, shared: bool = False) -> Finding | None:
        soft_s, hard_s = _seconds(soft), _seconds(hard)
        if soft_s is None or hard_s is None:
            return self._same(soft, hard, who, at, shared)
        if soft_s >= hard_s:
            return self._finding(soft, hard, soft_s, hard_s, who, at, shared)
        return None

    def _same(self, soft: Value, hard: Value, who: str, at: Span | None, one_binding: bool = False) -> Finding | None:
        """Both limits one value that depends on a condition (time_limit=T, soft_time_limit=T with
        T = 300 if X else 3600), or that qlint cannot read (T = int(os.environ["T"])): whatever it
        is, the soft limit equals the hard one. An unread value counts only where both limits are
        a task's options bound to one name: settings left unknown by one cause (an update qlint
        cannot read) share their origin without being one value."""
        if soft.origin is None or soft.origin != hard.origin:
            return None
        if one_binding and _unread_number(soft) and soft.status == hard.status and soft.reason == hard.reason \
                and (soft.status == "unknown" or soft.value == hard.value):
            what = f"one value ({soft.reason})" if soft.status == "unknown" and soft.reason else "one value, whatever it is"
            return self._equal(who, what, at or soft.origin, soft.origin)
        if soft.status != "several":
            return None
        branches = [(alt.value.status, alt.value.value, alt.condition) for alt in soft.alternatives]
        if branches != [(alt.value.status, alt.value.value, alt.condition) for alt in hard.alternatives]:
            return None
        numbers = [v for status, v, _ in branches]
        if not all(status in ("known", "env-default") for status, _, _ in branches) \
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in numbers):
            return None
        shown = " or ".join(dict.fromkeys(format_duration(v) for v in numbers))
        return self._equal(who, f"one value ({shown}, depending on a condition)", at or soft.origin, soft.origin)

    def _one_expression(self, soft: Value, who: str, written: str, at: Span) -> Finding | None:
        """time_limit=settings.X, soft_time_limit=settings.X: one expression, so one value, even
        when qlint cannot read it; unless it certainly sets no limit."""
        options = soft.alternatives if soft.status == "several" else ()
        values = [alt.value for alt in options] or [soft]
        if not all(_unread_number(v) or (isinstance(v.value, (int, float)) and not isinstance(v.value, bool)
                                          and v.value > 0) for v in values):
            return None
        return self._equal(who, f"the same expression, {written}", at, None)

    def _equal(self, who: str, what: str, span: Span, value_at: Span | None) -> Finding:
        related = [Related(value_at, "the value both limits take")] if value_at is not None and span != value_at else []
        return self.finding(
            f"{who}: soft and hard time limit are {what}: the soft limit is never below the hard one, and the "
            "process is killed before SoftTimeLimitExceeded can be handled",
            span, related, Fix("set the soft time limit below the hard one, with time to clean up"),
            depends_on=[value_at.path] if value_at is not None else [],
        )

    def _finding(self, soft: Value, hard: Value, soft_s: float, hard_s: float, who: str, at: Span | None,
                 shared: bool = False) -> Finding | None:
        span = at or soft.origin or hard.origin
        if span is None:
            return None
        if shared and soft.origin is not None:
            related = [Related(soft.origin, f"soft and hard time limit both {format_duration(hard_s)}, from here")]
        else:
            related = [Related(hard.origin, f"hard time limit {format_duration(hard_s)} set here")] if hard.origin else []
            if soft.origin is not None and soft.origin != span:
                related.insert(0, Related(soft.origin, f"soft time limit {format_duration(soft_s)} set here"))
        return self.finding(
            f"{who}: soft time limit {format_duration(soft_s)} is not below the hard limit {format_duration(hard_s)}: "
            "the process is killed before SoftTimeLimitExceeded can be handled",
            span, related, Fix("set the soft time limit below the hard one, with time to clean up"),
            depends_on=[s.path for s in (soft.origin, hard.origin) if s is not None],
        )

    def _calls(self, project: Project) -> Iterable[Finding]:
        for _, call in task_calls(project):
            if call.method != "apply_async":
                continue
            soft_expr, hard_expr = call.options.get("soft_time_limit"), call.options.get("time_limit")
            soft_s = literal_seconds(soft_expr)
            hard_s = literal_seconds(hard_expr)
            if soft_s is None and same_expression(soft_expr, hard_expr):
                yield self._equal(f"{call.label}.apply_async()", f"the same expression, {render(soft_expr)}",  # type: ignore[arg-type]
                                  soft_expr.span, None)  # type: ignore[union-attr]
                continue
            if hard_s is None and hard_expr is None and call.task is not None:
                hard_s = _seconds(call.task.option("time_limit"))
            if soft_s is None or not hard_s or soft_s < hard_s:
                continue
            span: Span = soft_expr.span  # type: ignore[union-attr]
            yield self.finding(
                f"{call.label}.apply_async(): soft time limit {format_duration(soft_s)} is not below the hard limit "
                f"{format_duration(hard_s)}: the process is killed before SoftTimeLimitExceeded can be handled",
                span, (), Fix("pass a soft_time_limit below time_limit"),
            )
