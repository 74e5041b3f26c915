"""Celery canvases as written in the project: chains, groups, chords, links and errbacks.

build() turns an expression into a small tree of signatures; placements() says, for
every signature in a canvas, what Celery puts before its own arguments when it calls
the task (celery/canvas.py `Signature._merge`, celery/backends/base.py
`_call_task_errbacks`):

- in a chain, each step after the first receives the previous step's result; a step
  after a group is a chord body and receives the list of the group's results;
- the members of a group receive what the group receives; a chord body receives the
  list of the header's results; a `link=` callback receives the parent's result;
- an immutable signature (`.si()`, `immutable=True`) receives nothing;
- an errback is called inline with (request, exc, traceback) when its task is not
  bound and takes more than one positional argument (or takes *args); otherwise it is
  sent as a task with the failed task's id in front of its own arguments. Up to Celery
  5.6 every positional parameter of the function counts
  (`arity_greater(errback.type.__header__, 1)`); from 5.7 only those its stored
  arguments leave (`Backend._errback_arity_greater`). A chord's errback (`on_error`) is
  linked to its body, and gets the body's id.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, Union

from qlint.semantics.callsites import SENDING, Context, TaskCall, children, positional_params, render, task_call, walk
from qlint.catalog import releases as catalog_releases
from qlint.sources import ir

if TYPE_CHECKING:
    from qlint.resolve.project import Project
    from qlint.resolve.resolved import Task

CHAIN = frozenset({"celery.chain", "celery.canvas.chain", "celery.canvas._chain"})
GROUP = frozenset({"celery.group", "celery.canvas.group"})
CHORD = frozenset({"celery.chord", "celery.canvas.chord", "celery.canvas._chord"})
_CALLBACK_METHODS = {"link": "link", "link_error": "link_error", "on_error": "link_error"}
_MAX_DEPTH = 8


@dataclass(frozen=True)
class Sig:
    call: TaskCall

    @property
    def immutable(self) -> bool:
        return self.call.immutable


@dataclass(frozen=True)
class Eager:
    """`x.delay(...)` or `x.apply_async(...)` written where a signature belongs."""

    call: ir.Call
    method: str
    certain: bool  # the receiver is a task or canvas of the project


@dataclass(frozen=True)
class Chain:
    parts: tuple["Node | None", ...]


@dataclass(frozen=True)
class Group:
    parts: tuple["Node | None", ...]


@dataclass(frozen=True)
class Chord:
    header: tuple["Node | None", ...]
    body: "Node | None"


Node = Union[Sig, Eager, Chain, Group, Chord]
COMPOSITE = (Chain, Group, Chord)


def build(ctx: Context, expr: ir.Expr, depth: int = 0) -> Node | None:
    """The canvas an expression builds, or None when it is not one qlint can read."""
    kind = type(expr)
    if kind is not ir.Call and kind is not ir.Name and (kind is not ir.BinOp or expr.op != "|"):
        return None  # what _build() answers, without the memo: most expressions are these
    if depth == 0:
        # Every rule about canvases builds every expression of the project.
        return ctx.remembered("canvas.build", expr, lambda: _build(ctx, expr, 0))
    return _build(ctx, expr, depth)


def _build(ctx: Context, expr: ir.Expr, depth: int) -> Node | None:
    if depth > _MAX_DEPTH:
        return None
    expr = ctx.follow(expr)
    if isinstance(expr, ir.BinOp) and expr.op == "|":
        left, right = build(ctx, expr.left, depth + 1), build(ctx, expr.right, depth + 1)
        if not (_is_canvas(left) or _is_canvas(right)):
            return None
        return Chain(_flatten(left) + _flatten(right))
    if not isinstance(expr, ir.Call):
        return None
    call = task_call(ctx, expr)
    if call is not None and not call.sends:
        return Sig(call)
    func = expr.func
    if isinstance(func, ir.Attr) and func.attr in SENDING:
        certain = call is not None or _is_canvas(build(ctx, func.value, depth + 1))
        return Eager(expr, func.attr, certain)
    if isinstance(func, ir.Attr) and func.attr == "set":
        inner = build(ctx, func.value, depth + 1)
        return Sig(_with_set(inner.call, expr)) if isinstance(inner, Sig) else inner
    qualname = ctx.qualname(func)
    if qualname in CHAIN:
        return Chain(_parts(ctx, expr.args, depth))
    if qualname in GROUP:
        return Group(_parts(ctx, expr.args, depth))
    if qualname in CHORD:
        body = expr.args[1] if len(expr.args) > 1 else expr.kwarg("body")
        header = expr.args[0] if expr.args else expr.kwarg("header")
        return Chord(_header(ctx, header, depth), build(ctx, body, depth + 1) if body is not None else None)
    if isinstance(func, ir.Call) and ctx.qualname(func.func) in CHORD and expr.args:
        header = func.args[0] if func.args else func.kwarg("header")
        return Chord(_header(ctx, header, depth), build(ctx, expr.args[0], depth + 1))
    return None


def _is_canvas(node: Node | None) -> bool:
    return isinstance(node, (Sig, *COMPOSITE)) or (isinstance(node, Eager) and node.certain)


def _flatten(node: Node | None) -> tuple[Node | None, ...]:
    return node.parts if isinstance(node, Chain) else (node,)


def _with_set(call: TaskCall, set_call: ir.Call) -> TaskCall:
    """The signature after `.set(**options)`: its options updated, immutable when set to a literal bool."""
    options = {**call.options, **{k: v for k, v in set_call.kwargs if k is not None}}
    immutable = set_call.kwarg("immutable")
    frozen = immutable.value if isinstance(immutable, ir.Const) and isinstance(immutable.value, bool) else call.immutable
    return TaskCall(call.call, call.method, call.task, call.label, call.args, call.kwargs, call.args_expr,
                    call.kwargs_expr, options, frozen)


def _parts(ctx: Context, args: tuple[ir.Expr, ...], depth: int) -> tuple[Node | None, ...]:
    if len(args) == 1:
        single = ctx.follow(args[0])
        if isinstance(single, ir.Coll) and single.kind in ("list", "tuple"):
            args = single.elts
    return tuple(None if isinstance(a, ir.Starred) else build(ctx, a, depth + 1) for a in args)


def _header(ctx: Context, expr: ir.Expr | None, depth: int) -> tuple[Node | None, ...]:
    if expr is None:
        return (None,)
    followed = ctx.follow(expr)
    if isinstance(followed, ir.Coll) and followed.kind in ("list", "tuple"):
        return _parts(ctx, (followed,), depth)
    node = build(ctx, followed, depth + 1)
    return node.parts if isinstance(node, Group) else (node,)


# ---------------------------------------------------------------- where each signature sits


@dataclass(frozen=True)
class Incoming:
    """What Celery puts before a signature's own arguments; values None when not known here."""

    values: tuple[str, ...] | None
    where: str  # "follows build_report in a chain"
    parent: "Task | None" = None
    errback: bool = False
    # Whose id an errback sent as a task receives first.
    failed: str = "the failed task"


@dataclass(frozen=True)
class Placement:
    ctx: Context
    sig: Sig
    incoming: Incoming


@dataclass(frozen=True)
class Misplaced:
    """An eager call used as a canvas element."""

    ctx: Context
    eager: Eager
    where: str


def canvas_uses(project: "Project") -> list[Placement | Misplaced]:
    """Every signature and eager call inside every canvas, link and errback of the project."""
    if "canvas.uses" not in project.derived:
        project.derived["canvas.uses"] = [use for ctx, root in walk(project) for use in _roots(ctx, root)]
    return project.derived["canvas.uses"]


def _roots(ctx: Context, expr: ir.Expr) -> Iterator[Placement | Misplaced]:
    if isinstance(expr, ir.Call):
        func = expr.func
        if isinstance(func, ir.Attr) and func.attr in SENDING:
            parent = build(ctx, func.value)
            applied = not expr.args and expr.kwarg("args") is None
            if isinstance(parent, COMPOSITE):
                yield from _place(ctx, parent, Incoming(() if applied else None, "is the first step"))
            callbacks = [(k, v) for k, v in expr.kwargs if k in ("link", "link_error")]
            if callbacks:
                owner = parent if parent is not None else _task_sig(ctx, expr)
                for kind, value in callbacks:
                    yield from _callbacks(ctx, owner, kind, value)
            if isinstance(parent, COMPOSITE):
                return
        elif isinstance(func, ir.Attr) and func.attr in _CALLBACK_METHODS and len(expr.args) == 1:
            owner = build(ctx, func.value)
            if owner is not None:
                yield from _callbacks(ctx, owner, _CALLBACK_METHODS[func.attr], expr.args[0])
        elif not expr.args and not expr.kwargs and _is_composite(build(ctx, func)):
            node = build(ctx, func)
            assert node is not None
            yield from _place(ctx, node, Incoming((), "is the first step"))
            return
    node = build(ctx, expr)
    if isinstance(node, COMPOSITE):
        yield from _place(ctx, node, Incoming(None, "is the first step"))
        return
    for child in children(expr):
        yield from _roots(ctx, child)


def _is_composite(node: Node | None) -> bool:
    return isinstance(node, COMPOSITE)


def _task_sig(ctx: Context, expr: ir.Call) -> Node | None:
    call = task_call(ctx, expr)
    return Sig(call) if call is not None and call.task is not None else None


def _callbacks(ctx: Context, owner: Node | None, kind: str, value: ir.Expr) -> Iterator[Placement | Misplaced]:
    followed = ctx.follow(value)
    values = followed.elts if isinstance(followed, ir.Coll) and followed.kind in ("list", "tuple") else (value,)
    parent_name = describe(owner)
    for item in values:
        node = build(ctx, item)
        if isinstance(node, Eager):
            yield Misplaced(ctx, node, f"as the {kind} callback of {parent_name}")
        elif isinstance(node, Sig):
            if kind == "link":
                incoming = Incoming((f"<result of {parent_name}>",), f"is a link callback of {parent_name}", last_task(owner))
            else:
                failed = "the chord body" if _ends_in_chord(owner) else "the failed task"
                incoming = Incoming(None, f"is an errback (link_error) of {parent_name}", last_task(owner), errback=True,
                                    failed=failed)
            yield Placement(ctx, node, incoming)
        elif node is not None:
            yield from _place(ctx, node, Incoming((f"<result of {parent_name}>",) if kind == "link" else None,
                                                  f"is a {kind} callback of {parent_name}", last_task(owner)))


def _place(ctx: Context, node: Node, incoming: Incoming, container: str = "a canvas") -> Iterator[Placement | Misplaced]:
    if isinstance(node, Sig):
        yield Placement(ctx, node, incoming)
    elif isinstance(node, Eager):
        yield Misplaced(ctx, node, f"in {container}")
    elif isinstance(node, Chain):
        current = incoming
        for part in node.parts:
            if part is not None:
                yield from _place(ctx, part, current, "a chain")
            current = _after(part)
    elif isinstance(node, Group):
        for part in node.parts:
            if part is not None:
                yield from _place(ctx, part, incoming, "a group")
    elif isinstance(node, Chord):
        for part in node.header:
            if part is not None:
                yield from _place(ctx, part, incoming, "a chord header")
        if node.body is not None:
            names = [describe(p) for p in node.header]
            header = f"chord over ({', '.join(names)})" if node.header and None not in node.header else "chord"
            yield from _place(ctx, node.body, Incoming(("<list of header results>",), f"is the body of a {header}"),
                              "a chord body")


def _after(part: Node | None) -> Incoming:
    """What the step following `part` in a chain receives."""
    if isinstance(part, Group) or (isinstance(part, Chain) and part.parts and isinstance(part.parts[-1], Group)):
        return Incoming(("<list of results of the group>",), "follows a group in a chain (a chord body)")
    name = describe(part)
    return Incoming((f"<result of {name}>",), f"follows {name} in a chain", last_task(part))


def describe(node: Node | None) -> str:
    if isinstance(node, Sig):
        return node.call.task.func.name if node.call.task is not None else node.call.label.strip("'\"")
    if isinstance(node, Chain) and node.parts:
        return describe(node.parts[-1])
    if isinstance(node, Chord):
        return describe(node.body)
    if isinstance(node, Group):
        return "the group"
    if isinstance(node, Eager):
        return render(node.call.func)
    return "the previous step"


def _ends_in_chord(node: Node | None) -> bool:
    return isinstance(node, Chord) or (isinstance(node, Chain) and bool(node.parts) and _ends_in_chord(node.parts[-1]))


def last_task(node: Node | None) -> "Task | None":
    if isinstance(node, Sig):
        return node.call.task
    if isinstance(node, Chain) and node.parts:
        return last_task(node.parts[-1])
    if isinstance(node, Chord):
        return last_task(node.body)
    return None


# ---------------------------------------------------------------- how Celery calls a signature


@dataclass(frozen=True)
class ErrbackCall:
    """One way Celery calls an errback: what it puts before the signature's own arguments, in
    words, and the releases that call it so (all the app may run when they agree)."""

    values: tuple[str, ...]
    how: str
    releases: tuple[str, ...]
    as_task: bool


def errback_calls(sig: Sig, failed: str = "the failed task") -> list[ErrbackCall]:
    """How Celery calls an errback, one entry per group of the app's releases that agree."""
    task = sig.call.task
    assert task is not None
    releases = tuple(getattr(task.app, "releases", ()) or ()) or (catalog_releases.newest(),)
    groups: dict[tuple, list[str]] = {}
    for release in releases:
        groups.setdefault(errback_incoming(sig, _counts_stored_args(release), failed), []).append(release)
    return [ErrbackCall(values, how, tuple(names), values == (f"<id of {failed}>",))
            for (values, how), names in groups.items()]


def _counts_stored_args(release: str) -> bool:
    """Whether `release` classifies an errback by the parameters its stored arguments leave
    (Celery 5.7's Backend._errback_arity_greater) rather than by all of them."""
    found = catalog_releases.get_release(release)
    return found is None or found.key >= (5, 7)


def errback_incoming(sig: Sig, counts_stored: bool = True, failed: str = "the failed task") -> tuple[tuple[str, ...], str]:
    """What Celery passes an errback before its own arguments, and how it calls it."""
    task = sig.call.task
    assert task is not None
    the_id = f"<id of {failed}>"
    if sig.immutable:
        return (), "as a task with its own arguments only"
    if task.bind:
        return (the_id,), "as a task (bound tasks are never called inline)"
    params = positional_params(task)
    given = len(sig.call.args or ())
    keywords = {k for k, _ in sig.call.kwargs or ()}
    varargs = any(p.kind == "varargs" for p in task.func.params)
    if not counts_stored:
        count = len(params)
    elif given <= len(params) or varargs:
        remaining = []
        for param in params[given:]:
            if param.name in keywords:
                break  # bound by keyword: it and every later parameter become keyword-only
            remaining.append(param)
        count = len(remaining)
    else:
        count = len(params)
    if varargs or count > 1:
        return ("<request>", "<exception>", "<traceback>"), "inline, because it takes more than one positional argument"
    return (the_id,), "as a task, because it takes at most one positional argument"


def id_problem(task: "Task", call: TaskCall) -> str | None:
    """Why an errback sent as a task, with the failed task's id in front, gets its arguments wrong
    although the call fits: its own positional arguments were meant for its first parameters,
    and the first of them now receives the id instead (call_problem() says when it does not fit)."""
    if not call.args:
        return None
    params = positional_params(task)
    if not params or _names_an_id(params[0].name):
        return None
    moved = f", and {render(call.args[0])} goes to {params[1].name!r}" if len(params) > 1 else ""
    return f"{task.func.name}'s parameter {params[0].name!r} receives that id{moved}"


def _names_an_id(name: str) -> bool:
    """A parameter named for a task id (task_id, uuid, failed_task_id, tid): it expects the id."""
    lower = name.lower().strip("_")
    words = lower.split("_")
    return lower in ("id", "uuid", "tid", "request_id", "result_id") or (
        any("task" in w for w in words) and (words[-1] in ("id", "uuid") or lower.endswith("taskid")))


def call_problem(task: "Task", incoming: tuple[str, ...], call: TaskCall) -> str | None:
    """Why calling task with incoming + the signature's own arguments raises TypeError, or None."""
    if call.args is None or call.kwargs is None:
        return None
    name = task.func.name
    params = positional_params(task)
    varargs = any(p.kind == "varargs" for p in task.func.params)
    varkw = any(p.kind == "varkw" for p in task.func.params)
    count = len(incoming) + len(call.args)
    if count > len(params) and not varargs:
        plural = "" if len(params) == 1 else "s"
        return f"{name} takes {len(params)} positional argument{plural}"
    filled = {p.name for p in params[:count]}
    by_keyword = {p.name for p in params if p.kind == "pos"} | {p.name for p in task.func.params if p.kind == "kwonly"}
    for key, _ in call.kwargs:
        if key in filled:
            return f"{name} receives two values for {key!r}"
        if key not in by_keyword and not varkw:
            return f"{name} has no parameter {key!r}"
    given = {k for k, _ in call.kwargs}
    missing = [p.name for p in params[count:] if not p.has_default and p.name not in given]
    missing += [p.name for p in task.func.params if p.kind == "kwonly" and not p.has_default and p.name not in given]
    if missing:
        return f"{name} also requires {', '.join(repr(m) for m in missing)}"
    return None


def rendered_call(task: "Task", incoming: tuple[str, ...], call: TaskCall) -> str:
    own = [render(a) for a in call.args or ()] + [f"{k}={render(v)}" for k, v in call.kwargs or ()]
    return f"{task.func.name}({', '.join(list(incoming) + own)})"
