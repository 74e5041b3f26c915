"""Where the project calls its tasks: every expression of every module read, seen
with the local names bound around it, and task references resolved to Tasks.

Rules walk the IR through this module and never parse. A function body is read
sequentially: an assignment binds a name to the expression assigned; after an `if`,
a name bound differently in each branch has one alternative per branch; a `with`
target is bound to its context manager and a loop target to the loop's iterable.
What cannot be followed (parameters, unpacking, names bound elsewhere) resolves to
nothing, and rules stay silent on it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from qlint.model import Span
from qlint.semantics.name_history import NameHistory
from qlint.resolve.interpreter import EXTERNAL_TOP
from qlint.resolve.objects import AppObj, ClassObj, ModuleRef, Sym, TaskObj
from qlint.sources import ir

if TYPE_CHECKING:
    from qlint.resolve.project import Project
    from qlint.resolve.resolved import Task

MAX_DEPTH = 8
# Methods that change the object they are called on: after one, a name no longer stands
# for the expression it was assigned.
_MUTATORS = frozenset({
    "set", "set_immutable", "update", "append", "extend", "insert", "setdefault", "clear", "pop", "stamp",
})
_BUILTINS = frozenset({
    "open", "len", "str", "bytes", "list", "tuple", "dict", "set", "int", "repr", "sorted",
    "frozenset", "range", "map", "filter", "zip", "enumerate", "reversed", "iter",
})

# Methods of a task (or of its signature) that send it or build a signature of it.
SENDING = frozenset({"delay", "apply_async"})
SIGNING = frozenset({"s", "si", "signature", "subtask"})
CELERY_SIGNATURE = frozenset({"celery.signature", "celery.subtask", "celery.canvas.signature", "celery.canvas.subtask"})


@dataclass(frozen=True)
class Binding:
    """One way a local name got its value."""

    kind: str  # "assign" | "with" | "for" | "param" | "import" | "def"
    value: ir.Expr | None  # assigned expression, with-item, loop iterable or parameter default
    span: Span
    stmt: ir.Import | ir.ImportFrom | None = None
    imported: str = ""  # for imports: the name taken from the module


Bindings = Mapping[str, tuple[Binding, ...]]


@dataclass(frozen=True)
class Context:
    """The place of an expression: its module, enclosing function and local names."""

    project: "Project"
    path: str
    function: ir.FuncDef | None
    bindings: Bindings
    outer: "Context | None" = None
    # What pure functions of (this context, an expression) returned: several rules ask the
    # same question about the same expression (see remembered()).
    memo: dict[tuple[str, int], tuple[ir.Expr, object]] = field(default_factory=dict, compare=False, repr=False)

    def remembered(self, kind: str, expr: ir.Expr, compute: Callable[[], Any]) -> Any:
        """compute()'s result for expr, computed once per context; kind names the question."""
        key = (kind, id(expr))
        hit = self.memo.get(key)
        if hit is not None and hit[0] is expr:
            return hit[1]
        value = compute()
        self.memo[key] = (expr, value)
        return value

    # ------------------------------------------------------------ names

    def lookup(self, name: str) -> tuple[Binding, ...] | None:
        """The local bindings of a name (nearest scope first); None when it is module-level."""
        ctx: Context | None = self
        while ctx is not None:
            if name in ctx.bindings:
                return ctx.bindings[name]
            ctx = ctx.outer
        return None

    def follow(self, expr: ir.Expr) -> ir.Expr:
        """The expression a name stands for when it was assigned exactly once; else expr itself."""
        for _ in range(MAX_DEPTH):
            if not isinstance(expr, ir.Name):
                return expr
            found = self.lookup(expr.id)
            if not found or len(found) != 1 or found[0].kind != "assign" or found[0].value is None:
                return expr
            expr = found[0].value
        return expr

    def resolve(self, expr: ir.Expr, depth: int = 0) -> object | None:
        """The project object or library symbol an expression names (TaskObj, Sym, ModuleRef...)."""
        if depth == 0:
            return self.remembered("resolve", expr, lambda: self._resolve(expr, 0))
        return self._resolve(expr, depth)

    def _resolve(self, expr: ir.Expr, depth: int) -> object | None:
        if depth > MAX_DEPTH:
            return None
        if isinstance(expr, ir.Name):
            found = self.lookup(expr.id)
            if found is not None:
                if len(found) != 1:
                    return None
                binding = found[0]
                if binding.kind == "assign" and binding.value is not None:
                    return self.resolve(binding.value, depth + 1)
                if binding.kind == "import" and binding.stmt is not None:
                    return self._imported(binding)
                return None
            value = self.project.module_value(self.path, expr.id)
            if value is None:
                return Sym(f"builtins.{expr.id}") if expr.id in _BUILTINS else None
            return value.value if value.status == "known" else None
        if isinstance(expr, ir.Attr):
            base = self.resolve(expr.value, depth + 1)
            if isinstance(base, Sym):
                return base.attr(expr.attr)
            if isinstance(base, ModuleRef):
                env = self.project.workspace.module_env(base.path)
                if env is not None and expr.attr in env.names:
                    value = self.project.workspace.resolve(env.names[expr.attr])
                    return value.value if value.status == "known" else None
                sub = self.project.workspace.index.submodule(base.path, expr.attr)
                return ModuleRef(sub, f"{base.name}.{expr.attr}") if sub else None
            if isinstance(base, ClassObj):
                value = base.lookup(expr.attr)
                return value.value if value is not None and value.status == "known" else None
        return None

    def qualname(self, expr: ir.Expr) -> str | None:
        """The dotted name of a library symbol (`pandas.read_csv`), or None."""
        obj = self.resolve(expr)
        return obj.qualname if isinstance(obj, Sym) else None

    def task(self, expr: ir.Expr) -> "Task | None":
        obj = self.resolve(expr)
        return self.project.task_of(obj) if isinstance(obj, TaskObj) else None

    def _imported(self, binding: Binding) -> object | None:
        stmt = binding.stmt
        index = self.project.workspace.index
        if isinstance(stmt, ir.Import):
            dotted = binding.imported
            if dotted.split(".")[0] in EXTERNAL_TOP:
                return Sym(dotted)
            path = index.resolve(dotted, 0, self.path)
            return ModuleRef(path, index.module_name(path)) if path else Sym(dotted)
        assert isinstance(stmt, ir.ImportFrom)
        if stmt.level == 0 and stmt.module.split(".")[0] in EXTERNAL_TOP:
            return Sym(f"{stmt.module}.{binding.imported}")
        path = index.resolve(stmt.module, stmt.level, self.path)
        if path is None:
            return Sym(f"{stmt.module}.{binding.imported}") if stmt.level == 0 else None
        sub = index.submodule(path, binding.imported)
        if sub is not None:
            return ModuleRef(sub, index.module_name(sub))
        env = self.project.workspace.module_env(path)
        value = env.names.get(binding.imported) if env is not None else None
        if value is not None:
            value = self.project.workspace.resolve(value)
        return value.value if value is not None and value.status == "known" else None


# ---------------------------------------------------------------- walking


def walk(project: "Project") -> list[tuple[Context, ir.Expr]]:
    """Every root expression of every module read, with its context, in file order
    (computed once per project: several rules walk the same code)."""
    if "callsites.walk" not in project.derived:
        found: list[tuple[Context, ir.Expr]] = []
        workspace = project.workspace
        for path in sorted(workspace.envs):
            facts = workspace.load_facts(path)
            if facts is None or facts.error is not None:
                continue
            walker = _Walker(Context(project, path, None, {}))
            walker.body(facts.body)
            found.extend(walker.found)
        project.derived["callsites.walk"] = found
    return project.derived["callsites.walk"]


def walk_nested(project: "Project") -> list[tuple[Context, tuple[ir.Expr, ...]]]:
    """walk()'s roots, each as the subexpressions() of it (computed once per project: several
    rules look at every expression)."""
    if "callsites.walk_nested" not in project.derived:
        project.derived["callsites.walk_nested"] = [(ctx, tuple(subexpressions(root))) for ctx, root in walk(project)]
    return project.derived["callsites.walk_nested"]


def calls(project: "Project") -> list[tuple[Context, ir.Call]]:
    """Every call expression of every module read, nested ones included, with its context."""
    if "callsites.calls" not in project.derived:
        project.derived["callsites.calls"] = [
            (ctx, expr) for ctx, nested in walk_nested(project) for expr in nested if type(expr) is ir.Call
        ]
    return project.derived["callsites.calls"]


def module_calls(project: "Project", path: str) -> list[tuple[Context, ir.Call]]:
    """calls() of one module, also of a module the resolver read after calls() was computed
    (a rule that follows a call into another module may make it read one)."""
    cache: dict[str, list[tuple[Context, ir.Call]]] = project.derived.setdefault("callsites.module_calls", {})
    if not cache:
        for ctx, call in calls(project):
            cache.setdefault(ctx.path, []).append((ctx, call))
        cache.setdefault("", [])  # computed, even for a project without calls
    if path not in cache:
        facts = project.workspace.load_facts(path)
        found: list[tuple[Context, ir.Call]] = []
        if facts is not None and facts.error is None:
            walker = _Walker(Context(project, path, None, {}))
            walker.body(facts.body)
            found = [(ctx, e) for ctx, root in walker.found for e in subexpressions(root) if type(e) is ir.Call]
        cache[path] = found
    return cache[path]


def task_calls(project: "Project") -> list[tuple[Context, "TaskCall"]]:
    """Every call that sends a task or builds a signature of one."""
    if "callsites.task_calls" not in project.derived:
        project.derived["callsites.task_calls"] = [
            (ctx, call) for ctx, expr in calls(project) if (call := task_call(ctx, expr)) is not None
        ]
    return project.derived["callsites.task_calls"]


class _Walker:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.names: NameHistory[tuple[Binding, ...]] = NameHistory(ctx.bindings)
        self.found: list[tuple[Context, ir.Expr]] = []
        self.module_level = ctx.function is None and ctx.outer is None

    def here(self) -> Context:
        return Context(self.ctx.project, self.ctx.path, self.ctx.function, self.names.snapshot(), self.ctx.outer)

    def emit(self, expr: ir.Expr | None) -> None:
        if expr is not None:
            self.found.append((self.here(), expr))

    def bind(self, target: ir.Expr, binding: Binding) -> None:
        if isinstance(target, ir.Name):
            self.names.set(target.id, (binding,))
        elif isinstance(target, (ir.Coll, ir.Starred)):
            for name in _target_names(target):
                self.names.set(name, (Binding("unpacked", None, binding.span),))

    def mutated(self, target: ir.Expr, span: Span) -> None:
        """`x.args = ...`, `x[k] = ...`, `x.update(...)`: x is no longer what it was assigned."""
        if not isinstance(target, (ir.Attr, ir.Sub)):
            return
        base = target.value
        while isinstance(base, (ir.Attr, ir.Sub)):
            base = base.value
        if isinstance(base, ir.Name) and base.id in self.names:
            self.names.set(base.id, (Binding("mutated", None, span),))

    def body(self, stmts: tuple[ir.Stmt, ...]) -> None:
        for stmt in stmts:
            self.stmt(stmt)

    def stmt(self, stmt: ir.Stmt) -> None:
        if isinstance(stmt, ir.Assign):
            self.emit(stmt.value)
            for target in stmt.targets:
                self.bind(target, Binding("assign", stmt.value, stmt.span))
                self.mutated(target, stmt.span)
        elif isinstance(stmt, ir.AugAssign):
            self.emit(stmt.value)
            self.mutated(stmt.target, stmt.span)
            if isinstance(stmt.target, ir.Name):
                self.names.set(stmt.target.id, (Binding("augmented", None, stmt.span),))
        elif isinstance(stmt, ir.ExprStmt):
            self.emit(stmt.value)
            call = stmt.value
            if isinstance(call, ir.Call) and isinstance(call.func, ir.Attr) and call.func.attr in _MUTATORS:
                self.mutated(call.func, stmt.span)
        elif isinstance(stmt, (ir.Return, ir.Raise)):
            self.emit(stmt.value)
        elif isinstance(stmt, (ir.Import, ir.ImportFrom)):
            if not self.module_level:
                self.bind_import(stmt)
        elif isinstance(stmt, ir.If):
            self.emit(stmt.test)
            self.branches([stmt.body, stmt.orelse])
        elif isinstance(stmt, ir.Try):
            self.body(stmt.body)
            self.branches([handler for _, handler in stmt.handlers] + [stmt.orelse])
            self.body(stmt.finalbody)
        elif isinstance(stmt, ir.Block):
            self.block(stmt)
        elif isinstance(stmt, ir.FuncDef):
            self.function(stmt)
        elif isinstance(stmt, ir.ClassDef):
            self.class_body(stmt, self.ctx if self.module_level else self.here())

    def class_body(self, cls: ir.ClassDef, module_ctx: Context) -> None:
        """A class's methods, and those of the classes defined in it (a smartmin CRUDL's views)."""
        for inner in cls.body:
            if isinstance(inner, ir.FuncDef):
                self.nested(inner, module_ctx)
            elif isinstance(inner, ir.ClassDef):
                self.class_body(inner, module_ctx)

    def block(self, stmt: ir.Block) -> None:
        for header in stmt.header:
            self.emit(header)
        if stmt.kind == "with":
            # The IR keeps with-items and their targets apart: pair them only when each item has one.
            paired = len(stmt.targets) == len(stmt.header)
            for i, target in enumerate(stmt.targets):
                self.bind(target, Binding("with", stmt.header[i] if paired else None, stmt.span))
            self.body(stmt.body)
            return
        for target in stmt.targets:
            self.bind(target, Binding("for", stmt.header[0] if stmt.header else None, stmt.span))
        self.branches([stmt.body, ()])

    def branches(self, arms: list[tuple[ir.Stmt, ...]]) -> None:
        """Walk each arm from the same bindings; afterwards a name an arm changed may hold
        any of the arms' bindings, or be unbound if some arm leaves it unbound."""
        before = self.names.snapshot()
        outcomes: list[dict[str, tuple[Binding, ...] | None]] = []
        for arm in arms:
            self.names.restore(before)
            start = self.names.clock
            self.body(arm)
            outcomes.append({name: self.names.get(name) for name in self.names.changed_since(start)})
        self.names.restore(before)
        for name in sorted(set().union(*outcomes)):
            merged: tuple[Binding, ...] = ()
            unbound = False
            for outcome in outcomes:
                bindings = outcome[name] if name in outcome else before.get(name)
                if bindings is None:
                    unbound = True
                    continue
                merged += tuple(b for b in bindings if b not in merged)
            if unbound:
                merged += (Binding("unbound", None, Span(self.ctx.path, 1)),)
            self.names.set(name, merged)

    def bind_import(self, stmt: ir.Import | ir.ImportFrom) -> None:
        if isinstance(stmt, ir.Import):
            for dotted, alias in stmt.names:
                name = alias or dotted.split(".")[0]
                self.names.set(name, (Binding("import", None, stmt.span, stmt, dotted if alias else name),))
        else:
            for name, alias in stmt.names:
                self.names.set(alias or name, (Binding("import", None, stmt.span, stmt, name),))

    def function(self, func: ir.FuncDef) -> None:
        if not self.module_level:
            self.names.set(func.name, (Binding("def", None, func.span),))
        self.nested(func, self.ctx if self.module_level else self.here())

    def nested(self, func: ir.FuncDef, outer: Context) -> None:
        if not func.body_read:
            return
        params = {p.name: (Binding("param", p.default, func.span),) for p in func.params}
        inner = _Walker(Context(self.ctx.project, self.ctx.path, func, params, outer))
        inner.module_level = False
        inner.body(func.body)
        self.found.extend(inner.found)


def _target_names(target: ir.Expr) -> Iterator[str]:
    if isinstance(target, ir.Name):
        yield target.id
    elif isinstance(target, ir.Starred):
        yield from _target_names(target.value)
    elif isinstance(target, ir.Coll):
        for elt in target.elts:
            yield from _target_names(elt)


_CHILDREN: dict[type, Callable[[Any], tuple[ir.Expr, ...]]] = {
    ir.Call: lambda e: (e.func, *e.args, *(v for _, v in e.kwargs)),
    ir.Attr: lambda e: (e.value,),
    ir.Starred: lambda e: (e.value,),
    ir.Sub: lambda e: (e.value, e.index),
    ir.BinOp: lambda e: (e.left, e.right),
    ir.UnaryOp: lambda e: (e.operand,),
    ir.BoolOp: lambda e: e.values,
    ir.Compare: lambda e: (e.left, *(x for _, x in e.ops)),
    ir.IfExp: lambda e: (e.test, e.body, e.orelse),
    ir.Coll: lambda e: e.elts,
    ir.DictE: lambda e: tuple(x for pair in e.items for x in pair if x is not None),
    ir.FStr: lambda e: tuple(p for p in e.parts if not isinstance(p, str)),
}


def _no_children(expr: ir.Expr) -> tuple[ir.Expr, ...]:
    return ()


def children(expr: ir.Expr) -> tuple[ir.Expr, ...]:
    # By exact type: the IR classes have no subclasses, and this runs for every node of every module.
    return _CHILDREN.get(type(expr), _no_children)(expr)


def subexpressions(expr: ir.Expr) -> Iterator[ir.Expr]:
    """expr and everything nested in it, outermost first."""
    stack = [expr]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


# ---------------------------------------------------------------- task calls


@dataclass(frozen=True)
class TaskCall:
    """A call that sends a task or builds its signature, with the arguments it gives.

    args/kwargs are None when they cannot be read (`*args`, `args=some_variable`, `**kw`).
    """

    call: ir.Call
    method: str  # delay | apply_async | s | si | signature | subtask | send_task | signature()
    task: "Task | None"
    label: str  # how the task is written at the call: `notify_owner`, `"reports.build"`
    args: tuple[ir.Expr, ...] | None
    kwargs: tuple[tuple[str, ir.Expr], ...] | None
    args_expr: ir.Expr | None = None  # args=... of apply_async/signature/send_task as written
    kwargs_expr: ir.Expr | None = None
    options: Mapping[str, ir.Expr] = field(default_factory=dict)
    immutable: bool = False

    @property
    def sends(self) -> bool:
        return self.method in SENDING or self.method == "send_task"

    @property
    def method_span(self) -> Span:
        """The span of the method name alone (`delay` in `task.delay(...)`)."""
        return attr_name_span(self.call.func) if isinstance(self.call.func, ir.Attr) else self.call.func.span

    def param_name(self, position: int) -> str | None:
        """The task parameter that receives positional argument `position` (self excluded)."""
        if self.task is None:
            return None
        params = positional_params(self.task)
        return params[position].name if position < len(params) else None


def arguments(call: TaskCall) -> Iterator[tuple[str, ir.Expr]]:
    """Each argument the call gives the task, with the name it has in the task."""
    if call.args is not None:
        for i, expr in enumerate(call.args):
            yield positional_label(call, i), expr
    elif call.args_expr is not None:
        yield "the positional arguments", call.args_expr
    else:
        starred = False
        for i, expr in enumerate(call.call.args):
            if isinstance(expr, ir.Starred):
                starred = True
                yield f"`*{render(expr.value)}`", expr.value
            else:
                yield ("an argument" if starred else positional_label(call, i)), expr
    if call.kwargs is not None:
        for name, expr in call.kwargs:
            yield f"`{name}`", expr
    elif call.kwargs_expr is not None:
        yield "the keyword arguments", call.kwargs_expr


def positional_label(call: TaskCall, position: int) -> str:
    name = call.param_name(position)
    return f"`{name}`" if name else f"positional argument {position + 1}"


def attr_name_span(attr: ir.Attr) -> Span:
    span = attr.span
    return Span(span.path, span.end_line, span.end_column - len(attr.attr), span.end_line, span.end_column)


def positional_params(task: "Task") -> list[ir.Param]:
    params = [p for p in task.func.params if p.kind in ("posonly", "pos")]
    return params[1:] if task.bind and params else params


def task_call(ctx: Context, call: ir.Call) -> TaskCall | None:
    func = call.func
    if isinstance(func, ir.Attr):
        method = func.attr
        if method in SENDING or method in SIGNING:
            task = ctx.task(func.value)
            if task is None:
                return None
            label = render(func.value)
            if method in ("delay", "s", "si"):
                args, kwargs = _direct(call)
                return TaskCall(call, method, task, label, args, kwargs, immutable=method == "si")
            return _packed(ctx, call, method, task, label)
        if method == "send_task" and _is_app(ctx, func.value):
            return _named(ctx, call, "send_task")
        if method in ("signature", "subtask") and _is_app(ctx, func.value):
            return _named(ctx, call, "signature()")
    elif isinstance(func, ir.Name) and func.id in _signature_names(ctx) and ctx.qualname(func) in CELERY_SIGNATURE:
        return _named(ctx, call, "signature()")
    return None


def _signature_names(ctx: Context) -> frozenset[str]:
    """Names that may stand for celery's signature() in ctx's module: resolving every plain
    call's name instead would read each project module those names come from."""
    cache = ctx.project.derived.setdefault("callsites.signature_names", {})
    if ctx.path not in cache:
        names = {"signature", "subtask"}
        facts = ctx.project.workspace.load_facts(ctx.path)
        stack = list(facts.body) if facts is not None else []
        while stack:
            stmt = stack.pop()
            if isinstance(stmt, ir.ImportFrom):
                names.update(alias for name, alias in stmt.names if alias and name in ("signature", "subtask"))
            for inner in ("body", "orelse", "finalbody"):
                stack.extend(getattr(stmt, inner, ()) or ())
            if isinstance(stmt, ir.Try):
                stack.extend(s for _, handler in stmt.handlers for s in handler)
        cache[ctx.path] = frozenset(names)
    return cache[ctx.path]


def _is_app(ctx: Context, expr: ir.Expr) -> bool:
    obj = ctx.resolve(expr)
    if isinstance(obj, AppObj):
        return True
    if isinstance(obj, Sym) and obj.qualname in ("celery.current_app", "celery.app.current_app"):
        return True
    return isinstance(expr, ir.Attr) and expr.attr == "app"  # self.app inside a bound task


def _direct(call: ir.Call) -> tuple[tuple[ir.Expr, ...] | None, tuple[tuple[str, ir.Expr], ...] | None]:
    args = None if any(isinstance(a, ir.Starred) for a in call.args) else call.args
    kwargs = None if any(k is None for k, _ in call.kwargs) else tuple((k, v) for k, v in call.kwargs if k is not None)
    return args, kwargs


def _packed(ctx: Context, call: ir.Call, method: str, task: "Task | None", label: str, skip: int = 0) -> TaskCall:
    """apply_async(args, kwargs, **options), signature(args, kwargs, **options), send_task(name, args, kwargs, ...)."""
    positional = call.args[skip:]
    args_expr = positional[0] if positional else call.kwarg("args")
    kwargs_expr = positional[1] if len(positional) > 1 else call.kwarg("kwargs")
    if any(isinstance(a, ir.Starred) for a in positional) or any(k is None for k, _ in call.kwargs):
        args = kwargs = None
    else:
        args = _unpack_args(ctx, args_expr)
        kwargs = _unpack_kwargs(ctx, kwargs_expr)
    options = {k: v for k, v in call.kwargs if k is not None and k not in ("args", "kwargs")}
    immutable = method == "si" or _true(options.get("immutable"))
    return TaskCall(call, method, task, label, args, kwargs, args_expr, kwargs_expr, options, immutable)


def _named(ctx: Context, call: ir.Call, method: str) -> TaskCall | None:
    first = call.args[0] if call.args else call.kwarg("name") or call.kwarg("varies")
    if not isinstance(first, ir.Const) or not isinstance(first.value, str):
        return None
    task = ctx.project.task_named(first.value)
    skip = 1 if call.args else 0
    return _packed(ctx, call, method, task, repr(first.value), skip)


def _unpack_args(ctx: Context, expr: ir.Expr | None) -> tuple[ir.Expr, ...] | None:
    if expr is None or (isinstance(expr, ir.Const) and expr.value is None):
        return ()
    expr = ctx.follow(expr)
    if isinstance(expr, ir.Coll) and expr.kind in ("list", "tuple") and not any(isinstance(e, ir.Starred) for e in expr.elts):
        return expr.elts
    return None


def _unpack_kwargs(ctx: Context, expr: ir.Expr | None) -> tuple[tuple[str, ir.Expr], ...] | None:
    if expr is None or (isinstance(expr, ir.Const) and expr.value is None):
        return ()
    expr = ctx.follow(expr)
    if isinstance(expr, ir.DictE):
        out = []
        for key, value in expr.items:
            if not isinstance(key, ir.Const) or not isinstance(key.value, str):
                return None
            out.append((key.value, value))
        return tuple(out)
    if isinstance(expr, ir.Call) and isinstance(expr.func, ir.Name) and expr.func.id == "dict" and not expr.args:
        return None if any(k is None for k, _ in expr.kwargs) else tuple((k, v) for k, v in expr.kwargs if k is not None)
    return None


def _true(expr: ir.Expr | None) -> bool:
    return isinstance(expr, ir.Const) and expr.value is True


def render(expr: ir.Expr, depth: int = 0) -> str:
    """A short source-like rendering of an expression, for messages."""
    if depth > 6:
        return "…"
    if isinstance(expr, ir.Name):
        return expr.id
    if isinstance(expr, ir.Const):
        text = repr(expr.value)
        return text if len(text) <= 30 else text[:12] + "…" + text[-4:]
    if isinstance(expr, ir.Attr):
        return f"{render(expr.value, depth + 1)}.{expr.attr}"
    if isinstance(expr, ir.Sub):
        return f"{render(expr.value, depth + 1)}[{render(expr.index, depth + 1)}]"
    if isinstance(expr, ir.Call):
        inner = ", ".join(
            [render(a, depth + 1) for a in expr.args]
            + [f"{k}={render(v, depth + 1)}" if k else f"**{render(v, depth + 1)}" for k, v in expr.kwargs]
        )
        if len(inner) > 40:
            inner = "…"
        return f"{render(expr.func, depth + 1)}({inner})"
    if isinstance(expr, ir.Starred):
        return f"*{render(expr.value, depth + 1)}"
    return "…"

