"""Messages a worker holds delivered and unacknowledged until they are due, and how long
each broker lets a delivery stay unacknowledged.

A message with a countdown or an eta is delivered at once; the worker keeps it on a
timer, unacknowledged, until its time comes (celery/worker/strategy.py). Such messages
come from sends (`apply_async(countdown=…, eta=…)`, the same options on a signature)
and from retries: `Task.retry` publishes the task again with its `countdown` or `eta`,
else with the task's `default_retry_delay` (celery/app/task.py), and `autoretry_for`
retries with `retry_kwargs`, or with an exponential backoff when `retry_backoff` is set
(celery/app/autoretry.py, celery/utils/time.py get_exponential_backoff_interval).

Delays are read where they are written: numbers and arithmetic, local names, module
constants (also imported ones), Django settings (`settings.EXPORTS_TTL`,
`getattr(settings, "X", 600)`), `timedelta(...)` and its `.total_seconds()`, and an eta
written as now plus a duration. What cannot be read gives an unknown value: rules stay
silent on it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from qlint.semantics.callsites import SIGNING, Context, TaskCall, calls, render, task_call, task_calls
from qlint.semantics.durations import format_duration
from qlint.model import Related, Span, Value, known, unknown
from qlint.resolve import values as V
from qlint.resolve.django import setting_value
from qlint.resolve.evaluate import seconds_of_timedelta
from qlint.resolve.objects import ClassObj, ModuleRef
from qlint.resolve.project import Project
from qlint.resolve.resolved import App, Task
from qlint.semantics.delivery import (
    CONSUMER_TIMEOUT, VISIBILITY_DEFAULTS, Deadline, always, single, unknown_broker_deadlines, visibility_timeout,
)
from qlint.sources.paths import is_test_path
from qlint.sources import ir

MAX_DEPTH = 8
# How many retries a manual backoff (`countdown=2 ** self.request.retries`) is followed over
# when max_retries is None: 2 ** 32 s is past any deadline.
MANUAL_BACKOFF_RETRIES = 32
_DJANGO_SETTINGS = "django.conf.settings"
_TIMEDELTA = frozenset({"datetime.timedelta"})
# Calls that give the current time: `now() + timedelta(hours=2)` is an eta two hours ahead.
_NOW = frozenset({
    "datetime.datetime.now", "datetime.datetime.utcnow", "datetime.datetime.today", "django.utils.timezone.now",
    "arrow.now", "arrow.utcnow", "pendulum.now",
})
_NUMERIC_BUILTINS = frozenset({"int", "float", "round", "abs", "min", "max"})
# Signature methods that send it or set its options: `sig.set(countdown=…)`, `sig.apply_async(countdown=…)`.
_SIGNATURE_OPTIONS = frozenset({"set", "apply_async"})


def number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def longest(value: Value) -> float:
    return max(v.value for v in value.possible())


# ---------------------------------------------------------------- deadlines


def native_delayed_delivery(app: App) -> bool:
    """Whether Celery may publish the app's ETA messages through RabbitMQ's native delayed
    delivery (5.5 and later): with quorum queues and an exchange that is not direct,
    Celery.send_task routes a countdown to the celery_delayed_27 exchanges and the worker
    receives the message only when it is due. Queues made quorum only through task_queues'
    queue_arguments are not seen, and a queue type qlint cannot read counts as the default,
    classic: quorum queues are a deliberate choice few projects make."""
    queue_type = app.setting("task_default_queue_type")
    exchange_type = app.setting("task_default_exchange_type")
    quorum = any(v.value == "quorum" for v in queue_type.possible())
    topic = exchange_type.status == "unknown" or any(v.value != "direct" for v in exchange_type.possible())
    return quorum and topic


def ack_deadlines(app: App, project: Project) -> list[Deadline] | None:
    """How long each broker the app may run on leaves a delivery unacknowledged before it
    hands the message out again (Redis, SQS) or closes the channel (RabbitMQ): one entry
    when the broker is known, one per plausible broker when it is not. None when a
    plausible broker has no such deadline, one qlint cannot read, or holds no ETA message
    (RabbitMQ's native delayed delivery): the delay may be safe there."""
    kind = single(app, project)
    if kind is None:
        found = unknown_broker_deadlines(app, project)
    elif kind.kind == "amqp":
        found = [Deadline(kind, CONSUMER_TIMEOUT, None)]
    elif kind.kind in VISIBILITY_DEFAULTS:
        vt = visibility_timeout(app, kind.kind)
        found = [Deadline(kind, vt.seconds, vt)] if vt is not None else None
    else:
        found = None
    if found and any(d.transport.kind == "amqp" for d in found) and native_delayed_delivery(app):
        return None
    return found


def deadline_related(deadline: Deadline) -> list[Related]:
    vt, transport = deadline.visibility, deadline.transport
    if vt is not None and vt.origin is not None:
        return [Related(vt.origin, f"visibility timeout {format_duration(vt.seconds)} set here")]
    if transport.origin is None:
        return []
    if transport.how:
        return [Related(transport.origin, f"the deployment runs {transport.label} here")]
    what = "with its default visibility timeout" if vt is not None else "(AMQP)"
    return [Related(transport.origin, f"the broker is {transport.label} {what}")]


# ---------------------------------------------------------------- values where they are written


def value_at(ctx: Context, expr: ir.Expr | None) -> Value:
    """What expr evaluates to at its place in the code (numbers; durations as seconds)."""
    return Reader(ctx).value(expr)


class Reader:
    """Evaluates an expression at its place in the code. In a task's retry, `retries` stands
    for the task's `request.retries` (how many times it was retried so far)."""

    def __init__(self, ctx: Context, task: Task | None = None, retries: Value | None = None) -> None:
        self.ctx = ctx
        self.task = task
        self.retries = retries
        self.used_retries = False

    def value(self, expr: ir.Expr | None, depth: int = 0) -> Value:
        if expr is None:
            return unknown("not given")
        if depth > MAX_DEPTH:
            return unknown("too many names to follow", expr.span)
        if isinstance(expr, ir.Const):
            return known(expr.value, expr.span)
        if isinstance(expr, ir.Name):
            return self._name(expr, depth)
        if isinstance(expr, ir.Attr):
            return self._attribute(expr, depth)
        if isinstance(expr, ir.BinOp):
            if expr.op == "+" and (is_now(self.ctx, expr.left) or is_now(self.ctx, expr.right)):
                return unknown("a point in time, not a duration", expr.span)
            return V.binop(expr.op, self.value(expr.left, depth + 1), self.value(expr.right, depth + 1), expr.span)
        if isinstance(expr, ir.UnaryOp) and expr.op in ("-", "+"):
            sign = -1 if expr.op == "-" else 1
            return V.combine([self.value(expr.operand, depth + 1)], lambda a: sign * a, expr.span, expr.op)
        if isinstance(expr, ir.IfExp):
            return V.several([(self.value(expr.body, depth + 1), expr.test_source),
                              (self.value(expr.orelse, depth + 1), f"not ({expr.test_source})")], expr.span)
        if isinstance(expr, ir.Call):
            return self._call(expr, depth)
        return unknown("expression is not evaluated", expr.span)

    def _name(self, expr: ir.Name, depth: int) -> Value:
        bindings = self.ctx.lookup(expr.id)
        if bindings is None:
            value = self.ctx.project.module_value(self.ctx.path, expr.id)
            if value is None:
                return unknown(f"name {expr.id!r} is not defined where qlint can see it", expr.span)
            return value
        options = []
        for binding in bindings:
            if binding.kind != "assign" or binding.value is None:
                return unknown(f"{expr.id} is a {binding.kind} binding, not a value written here", expr.span)
            options.append((self.value(binding.value, depth + 1), f"{expr.id} as assigned at line {binding.span.line}"))
        return options[0][0] if len(options) == 1 else V.several(options, expr.span)

    def _attribute(self, expr: ir.Attr, depth: int) -> Value:
        ctx = self.ctx
        if self._is_request_retries(expr):
            self.used_retries = True
            return self.retries if self.retries is not None else unknown("request.retries", expr.span)
        if ctx.qualname(expr.value) == _DJANGO_SETTINGS:
            return setting_value(ctx.project.workspace, ctx.path, expr.attr, expr.span) or unknown("not set", expr.span)
        base = ctx.resolve(expr.value)
        if isinstance(base, ModuleRef):
            value = ctx.project.module_value(base.path, expr.attr)
            return value if value is not None else unknown(f"{base.name}.{expr.attr} is not defined", expr.span)
        if isinstance(base, ClassObj):
            value = base.lookup(expr.attr)
            return value if value is not None else unknown(f"class {base.name} has no attribute {expr.attr}", expr.span)
        return unknown(f"{render(expr)} is not evaluated", expr.span)

    def _is_request_retries(self, expr: ir.Attr) -> bool:
        """`self.request.retries` of the retrying task (its bound parameter, or the task by name)."""
        request = expr.value
        if self.task is None or expr.attr != "retries" or not isinstance(request, ir.Attr) or request.attr != "request":
            return False
        return _retrying_task(self.ctx, request.value, {self.task.func.span: self.task}) is self.task

    def _call(self, expr: ir.Call, depth: int) -> Value:
        ctx, func = self.ctx, expr.func
        if any(isinstance(a, ir.Starred) for a in expr.args) or any(k is None for k, _ in expr.kwargs):
            return unknown("call with unpacked arguments", expr.span)
        if isinstance(func, ir.Attr) and func.attr == "total_seconds" and not expr.args and not expr.kwargs:
            return self.value(func.value, depth + 1)  # a timedelta is already its seconds here
        name = _builtin(ctx, func)
        if name == "getattr" and len(expr.args) == 3 and ctx.qualname(expr.args[0]) == _DJANGO_SETTINGS \
                and isinstance(expr.args[1], ir.Const) and isinstance(expr.args[1].value, str):
            found = setting_value(ctx.project.workspace, ctx.path, expr.args[1].value, expr.span, missing_ok=True)
            return found if found is not None else self.value(expr.args[2], depth + 1)
        if name in _NUMERIC_BUILTINS and not expr.kwargs:
            values = [self.value(a, depth + 1) for a in expr.args]
            fn = {"int": int, "float": float, "round": round, "abs": abs, "min": min, "max": max}[name]
            return V.combine(values, lambda *raw: fn(*raw), expr.span, f"{name}()")
        if ctx.qualname(func) in _TIMEDELTA:
            args = [self.value(a, depth + 1) for a in expr.args]
            names = [k for k, _ in expr.kwargs if k is not None]
            kwargs = [self.value(v, depth + 1) for _, v in expr.kwargs]
            return V.combine(args + kwargs, lambda *raw: seconds_of_timedelta(dict(zip(names, raw[len(args):])),
                                                                              list(raw[:len(args)])),
                             expr.span, "timedelta()")
        return unknown(f"call to {render(func)}() is not evaluated", expr.span)

    def eta(self, expr: ir.Expr | None) -> Value:
        """How far ahead an eta is, when written as now plus a duration; else unknown."""
        if expr is None:
            return unknown("no eta")
        expr = self.ctx.follow(expr)
        if isinstance(expr, ir.BinOp) and expr.op == "+":
            if is_now(self.ctx, expr.left):
                return self.value(expr.right)
            if is_now(self.ctx, expr.right):
                return self.value(expr.left)
        return unknown("an eta qlint cannot measure", expr.span)


def _builtin(ctx: Context, func: ir.Expr) -> str | None:
    if not isinstance(func, ir.Name) or func.id not in _NUMERIC_BUILTINS | {"getattr"}:
        return None
    if ctx.lookup(func.id) is not None or ctx.project.module_value(ctx.path, func.id) is not None:
        return None  # rebound by the project
    return func.id


def shown(expr: ir.Expr, depth: int = 0) -> str:
    """An expression for a message, arithmetic included (`2 * 60 * 60`)."""
    if isinstance(expr, ir.BinOp) and depth < 4:
        return f"{shown(expr.left, depth + 1)} {expr.op} {shown(expr.right, depth + 1)}"
    if isinstance(expr, ir.UnaryOp) and expr.op in ("-", "+") and depth < 4:
        return f"{expr.op}{shown(expr.operand, depth + 1)}"
    if isinstance(expr, ir.Call) and depth < 4 and len(expr.args) + len(expr.kwargs) <= 3 \
            and not any(isinstance(a, ir.Starred) for a in expr.args) and all(k for k, _ in expr.kwargs):
        inner = [shown(a, depth + 1) for a in expr.args] + [f"{k}={shown(v, depth + 1)}" for k, v in expr.kwargs]
        return f"{render(expr.func)}({', '.join(inner)})"
    return render(expr)


def is_now(ctx: Context, expr: ir.Expr) -> bool:
    expr = ctx.follow(expr)
    return isinstance(expr, ir.Call) and ctx.qualname(expr.func) in _NOW


def eta_delay(ctx: Context, expr: ir.Expr | None) -> Value:
    """How far ahead an eta is, when written as now plus a duration; else unknown."""
    return Reader(ctx).eta(expr)


# ---------------------------------------------------------------- held messages


@dataclass(frozen=True)
class Held:
    """One place that makes a worker hold a task message unacknowledged until it is due."""

    app: App
    what: str  # the subject of a sentence: "remind.apply_async(countdown=…) waits 2 h"
    seconds: Value  # the longest delay, in every variant it may take
    span: Span
    related: tuple[Related, ...] = ()
    # Celery draws the delay at random between 0 and seconds (retry_jitter): a long one is
    # possible, not certain.
    jitter: bool = False
    tasks: tuple[str, ...] = ()  # the tasks whose options make the delay

    @property
    def files(self) -> list[str]:
        return [s.path for s in (self.span, *(r.span for r in self.related))]

    @property
    def subject(self) -> str:
        """what, and the other tasks that share the same delay (set on a base class)."""
        if len(self.tasks) < 2:
            return self.what
        return f"{self.what} (so do tasks {', '.join(self.tasks[1:])})"


def held_messages(project: Project) -> list[Held]:
    """Every delay a worker holds a message for, in the project (computed once per run)."""
    if "delays.held" not in project.derived:
        found = [*_sends(project), *_retry_calls(project), *_autoretries(project)]
        # A test sends with the worker mocked or eager: its delays reach no broker.
        project.derived["delays.held"] = _grouped([h for h in found if not is_test_path(h.span.path, project.root)])
    return project.derived["delays.held"]


def _app_of(call: TaskCall, project: Project) -> App | None:
    if call.task is not None:
        return call.task.app
    return project.apps[0] if len(project.apps) == 1 else None


def _duration(value: Value) -> str:
    if value.possible() and all(number(v.value) for v in value.possible()):
        return format_duration(max(0.0, longest(value)))
    return "an unknown time"


def _set_at(value: Value, here: Span) -> list[Related]:
    """Where a delay written by name was set, when that is elsewhere."""
    out = []
    for option in value.possible() or [value]:
        origin = option.origin
        if origin is not None and origin.path and (origin.path, origin.line) != (here.path, here.line):
            out.append(Related(origin, f"{_duration(option)} set here"))
    return out


def _sends(project: Project) -> list[Held]:
    out = []
    for ctx, call in task_calls(project):
        if call.method not in ("apply_async", "send_task", "signature", "subtask", "signature()"):
            continue
        app = _app_of(call, project)
        if app is not None:
            named = f"{call.label}, " if call.method in ("send_task", "signature()") else ""
            out.extend(_options(ctx, app, call.options, f"{render(call.call.func)}({named}"))
    for ctx, expr in calls(project):
        func = expr.func
        if not isinstance(func, ir.Attr) or func.attr not in _SIGNATURE_OPTIONS:
            continue
        signature = _signature(ctx, func.value)
        if signature is None:
            continue
        app = _app_of(signature, project)
        options = {k: v for k, v in expr.kwargs if k is not None}
        if app is not None:
            out.extend(_options(ctx, app, options, f"{render(func.value)}.{func.attr}("))
    return out


def _signature(ctx: Context, expr: ir.Expr, depth: int = 0) -> TaskCall | None:
    """The task signature expr builds (`remind.s(u)`, `remind.s(u).set(queue="q")`, or a
    name assigned one of them), else None."""
    expr = ctx.follow(expr)
    if not isinstance(expr, ir.Call) or depth > MAX_DEPTH:
        return None
    if isinstance(expr.func, ir.Attr) and expr.func.attr == "set":
        return _signature(ctx, expr.func.value, depth + 1)
    found = task_call(ctx, expr)
    return found if found is not None and (found.method in SIGNING or found.method == "signature()") else None


def _options(ctx: Context, app: App, options: dict, opening: str) -> list[Held]:
    out = []
    countdown, eta = options.get("countdown"), options.get("eta")
    if countdown is not None:
        seconds = value_at(ctx, countdown)
        out.append(Held(app, f"{opening}countdown={shown(countdown)}) waits {_duration(seconds)}", seconds,
                        countdown.span, tuple(_set_at(seconds, countdown.span))))
    if eta is not None:
        seconds = eta_delay(ctx, eta)
        out.append(Held(app, f"{opening}eta={shown(eta)}) waits {_duration(seconds)}", seconds, eta.span,
                        tuple(_set_at(seconds, eta.span))))
    return out


def _retry_calls(project: Project) -> list[Held]:
    """`self.retry(...)` in a bound task, `some_task.retry(...)` anywhere it names a task."""
    bound = {t.func.span: t for t in project.tasks() if t.bind}
    by_default: dict[int, tuple[Task, list[ir.Call]]] = {}
    out = []
    for ctx, expr in calls(project):
        func = expr.func
        if not isinstance(func, ir.Attr) or func.attr != "retry":
            continue
        task = _retrying_task(ctx, func.value, bound)
        if task is None or task.app is None:
            continue
        if any(k is None for k, _ in expr.kwargs) or any(isinstance(a, ir.Starred) for a in expr.args):
            continue
        countdown = expr.kwarg("countdown") or (expr.args[5] if len(expr.args) > 5 else None)
        eta = expr.kwarg("eta") or (expr.args[4] if len(expr.args) > 4 else None)
        limit = expr.kwarg("max_retries")
        tries = value_at(ctx, limit) if limit is not None else task.option("max_retries")
        if always(tries, lambda v: number(v) and v <= 0):
            continue  # the first retry already exceeds max_retries: nothing is sent
        if countdown is not None and not (isinstance(countdown, ir.Const) and countdown.value is None):
            seconds, when = _over_retries(ctx, task, tries, lambda reader: reader.value(countdown))
            out.append(Held(task.app, f"task {task.name} retries with countdown={shown(countdown)} ({when})",
                            seconds, countdown.span,
                            tuple(_set_at(seconds, countdown.span)), tasks=(task.name,)))
        elif eta is not None and not (isinstance(eta, ir.Const) and eta.value is None):
            seconds, when = _over_retries(ctx, task, tries, lambda reader: reader.eta(eta), " ahead")
            out.append(Held(task.app, f"task {task.name} retries with eta={shown(eta)} ({when})", seconds, eta.span,
                            tuple(_set_at(seconds, eta.span)), tasks=(task.name,)))
        else:
            by_default.setdefault(id(task), (task, []))[1].append(expr)
    for task, retries in by_default.values():
        out.append(_default_delay(task, [Related(r.span, "retries without a countdown") for r in retries]))
    return out


def _over_retries(ctx: Context, task: Task, tries: Value, read: Callable[[Reader], Value],
                  ahead: str = "") -> tuple[Value, str]:
    """A retry's delay, and how long it is for a message: written with `self.request.retries`
    (a manual backoff, `60 * 2 ** self.request.retries`), the longest over the retries
    max_retries allows (request.retries 0 .. max_retries - 1; MANUAL_BACKOFF_RETRIES of them
    when unbounded)."""
    first = Reader(ctx, task, known(0, None))
    seconds = read(first)
    if not first.used_retries:
        return seconds, f"{_duration(seconds)}{ahead}"
    limits = tries.possible()
    if len(limits) != 1 or not (limits[0].value is None or number(limits[0].value)):
        return unknown("max_retries cannot be read"), "an unknown time"
    count = MANUAL_BACKOFF_RETRIES if limits[0].value is None else min(int(limits[0].value), MANUAL_BACKOFF_RETRIES)
    longest_at, best = 0, None
    for retries in range(count):
        value = read(Reader(ctx, task, known(retries, None)))
        if not value.possible() or not all(number(v.value) for v in value.possible()):
            return unknown("the delay of some retry cannot be read"), "an unknown time"
        if best is None or longest(value) > longest(best):
            longest_at, best = retries, value
    if best is None:
        return unknown("no retry is sent"), "no retry"
    if limits[0].value is None and longest_at == count - 1:
        return best, "longer with every retry, without end: max_retries is None"
    return best, f"{_duration(best)}{ahead} at its retry {longest_at + 1}"


def _retrying_task(ctx: Context, receiver: ir.Expr, bound: dict[Span, Task]) -> Task | None:
    if isinstance(receiver, ir.Name):
        bindings = ctx.lookup(receiver.id)
        if bindings is not None and len(bindings) == 1 and bindings[0].kind == "param":
            task = bound.get(bindings[0].span)
            params = [p for p in task.func.params if p.kind in ("posonly", "pos")] if task is not None else []
            return task if params and params[0].name == receiver.id else None
    return ctx.task(receiver)


def _default_delay(task: Task, users: list[Related]) -> Held:
    """A retry that names no delay waits the task's default_retry_delay (180 s by default)."""
    delay = task.option("default_retry_delay")
    span = delay.origin if delay.origin is not None else users[0].span
    related = [r for r in users if r.span != span]
    if not any(r.span == task.decorator_span for r in users):
        related.append(Related(task.decorator_span, f"task {task.name}"))
    return Held(task.app, f"task {task.name} retries after its default_retry_delay of {_duration(delay)}", delay,
                span, tuple(related), tasks=(task.name,))


def _autoretries(project: Project) -> list[Held]:
    out = []
    for task in project.tasks():
        if task.app is None or not _retries_on_errors(project, task):
            continue
        held = _autoretry(task)
        if held is not None:
            out.append(held)
    return out


def _retries_on_errors(project: Project, task: Task) -> bool:
    """Whether autoretry_for is a non-empty tuple: the exception classes in it need not be
    known (`(Exception,)`, `(requests.RequestException,)`), only that there is one."""
    value = task.option("autoretry_for")
    if value.status != "unknown":
        return always(value, bool)
    written = _written_at(project, value.origin)
    return isinstance(written, ir.Coll) and bool(written.elts) \
        and not any(isinstance(e, ir.Starred) for e in written.elts)


def _written_at(project: Project, origin: Span | None) -> ir.Expr | None:
    """The expression written at origin (an option's value, or an attribute's assignment)."""
    if origin is None:
        return None
    by_path = project.derived.setdefault("delays.written", {})
    if origin.path not in by_path:
        facts = project.workspace.load_facts(origin.path)
        nodes = ir.nodes_until(facts.body, ()) if facts is not None and facts.error is None else ()
        by_path[origin.path] = {node.span: node for node in nodes if isinstance(node, (ir.Assign, ir.Coll))}
    node = by_path[origin.path].get(origin)
    return node.value if isinstance(node, ir.Assign) else node


def _autoretry(task: Task) -> Held | None:
    backoff, cap = task.option("retry_backoff"), task.option("retry_backoff_max")
    kwargs = task.option("retry_kwargs")
    if kwargs.status not in ("known", "default") or not isinstance(kwargs.value, (dict, type(None))):
        return None
    tries = _item(kwargs, "max_retries") or task.option("max_retries")
    if always(tries, lambda v: number(v) and v <= 0):
        return None  # the first retry already exceeds max_retries: nothing is sent
    decorator = Related(task.decorator_span, f"task {task.name} retries on the exceptions of autoretry_for")
    if always(backoff, lambda v: not v):
        countdown = _item(kwargs, "countdown")
        if countdown is None:
            return _default_delay(task, [decorator])
        return Held(task.app, f"task {task.name} retries with retry_kwargs countdown {_duration(countdown)}", countdown,
                    countdown.origin or task.decorator_span, (decorator,), tasks=(task.name,))
    if not always(backoff, bool):
        return None
    peak = V.combine([backoff, cap, tries], _backoff_peak, backoff.origin, "exponential backoff")
    capped = always(V.combine([peak, cap], lambda p, c: p is not None and p >= int(c), None, "cap"), bool)
    jitter = not always(task.option("retry_jitter"), lambda v: not v)
    where = (cap if capped and cap.origin is not None else backoff).origin or task.decorator_span
    factor = ", ".join(f"{name}={_plain(value)}"
                       for name, value in (("retry_backoff", backoff), ("max_retries", tries)))
    what = (f"task {task.name} retries with exponential backoff ({factor}) up to {_duration(peak)}"
            + (" (its retry_backoff_max)" if capped else ""))
    related = [decorator] + [Related(v.origin, f"{name} set here") for name, v in
                             (("retry_backoff", backoff), ("retry_backoff_max", cap), ("max_retries", tries))
                             if v.origin is not None and v.origin != where]
    return Held(task.app, what, peak, where, tuple(related), jitter=jitter, tasks=(task.name,))


def _item(mapping: Value, key: str) -> Value | None:
    """mapping[key] as a Value, None when the dict does not hold key."""
    if not isinstance(mapping.value, dict) or key not in mapping.value:
        return None
    return mapping.item(key) or Value(mapping.status, mapping.value[key], mapping.origin)


def _backoff_peak(backoff: Any, cap: Any, tries: Any) -> int | None:
    """The longest countdown get_exponential_backoff_interval gives over the retries allowed:
    min(cap, factor * 2 ** retries) for retries 0 .. max_retries - 1 (Task.retry refuses the
    one after); None when no retry is sent."""
    factor, cap = int(max(1.0, float(backoff))), int(cap)
    if tries is None or tries > 64:
        return cap
    if tries <= 0:
        return None
    return min(cap, factor * 2 ** (int(tries) - 1))


def _plain(value: Value) -> str:
    options = value.possible()
    if len(options) == 1:
        return repr(options[0].value)
    return "several values" if options else "unknown"


def _grouped(found: list[Held]) -> list[Held]:
    """One entry per place: a default_retry_delay or backoff set on a base class is one
    finding, with every task that uses it among its related locations."""
    out: dict[tuple, Held] = {}
    for held in found:
        options = held.seconds.possible()
        key: tuple = (id(held.app), held.span, held.jitter, tuple(v.value for v in options))
        if not options or not all(number(v.value) for v in options):
            key = (id(held),)
        if key not in out:
            out[key] = held
            continue
        first = out[key]
        extra = tuple(r for r in held.related if r not in first.related)
        tasks = first.tasks + tuple(t for t in held.tasks if t not in first.tasks)
        out[key] = Held(first.app, first.what, first.seconds, first.span, first.related + extra, first.jitter, tasks)
    return list(out.values())
