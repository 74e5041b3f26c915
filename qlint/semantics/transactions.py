"""Which task sends run while the database transaction holds an uncommitted write.

Every function of the project (and every module body) is read as an entry point, in
statement order, with the writes, commits, transaction scopes and sends it makes, and the
project functions it calls followed up to MAX_CALL_DEPTH calls deep. Branches are read as
alternatives (a write in one arm of an `if` does not precede a send in the other); a loop
body is read once.

An entry runs in a transaction when it is a Django view under ATOMIC_REQUESTS, a model
admin's save or delete hook (the admin wraps them in `transaction.atomic()`), or a Pyramid
view of an app that includes pyramid_tm; inside it, `with transaction.atomic()`,
`@transaction.atomic`, `session.begin()`, `transaction.manager`, `request.tm` and project
context managers built on them open scopes. See db_writes.py for what counts as a write.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import Iterator

from qlint.semantics.callsites import SENDING, Context, _Walker, attr_name_span, calls, children, module_calls, render, \
    subexpressions, task_call
from qlint.model import Related, Span
from qlint.resolve.objects import ClassObj, FuncObj, ModuleRef, Sym, TaskObj
from qlint.resolve.project import Project
from qlint.resolve.resolved import Task
from qlint.semantics.db_writes import ANY_ORM, SESSION, ScopeOpen, Write, atomic_alias, classify_write, \
    ends_transaction, loaded_model, scope_opened
from qlint.semantics.delivery import always
from qlint.sources.paths import in_project, is_test_path
from qlint.sources import ir

MAX_CALL_DEPTH = 3

_NON_ATOMIC = frozenset({"django.db.transaction.non_atomic_requests"})
_METHOD_DECORATOR = frozenset({"django.utils.decorators.method_decorator"})
_CONTEXT_MANAGER = frozenset({"contextlib.contextmanager"})
_CELERY_TASK = frozenset({"celery.Task", "celery.app.task.Task", "celery.task.Task", "celery.app.Task"})
# Decorators only a view takes.
_VIEW_DECORATORS = frozenset({
    "rest_framework.decorators.api_view", "django.views.decorators.http.require_http_methods",
    "django.views.decorators.http.require_POST", "django.views.decorators.http.require_GET",
    "django.views.decorators.http.require_safe", "django.contrib.auth.decorators.login_required",
    "django.contrib.auth.decorators.permission_required", "django.views.decorators.csrf.csrf_exempt",
    "django.contrib.admin.views.decorators.staff_member_required",
})
_VIEW_MODULES = ("django.views.", "django.contrib.auth.views.", "rest_framework.views.", "rest_framework.viewsets.",
                 "rest_framework.generics.")
_VIEW_SUFFIXES = ("View", "ViewSet", "Viewset", "APIView")
# ModelAdmin hooks that django.contrib.admin calls inside transaction.atomic() (changeform_view,
# delete_view, the changelist's list_editable save); the second group runs after the object
# was saved in that transaction.
_ADMIN_HOOKS = frozenset({"save_model", "delete_model"})
_ADMIN_AFTER_SAVE = frozenset({"save_related", "save_formset", "response_add", "response_change"})
_PYRAMID_VIEW = frozenset({"pyramid.view.view_config"})
# Packages whose imported names may have a .delay() that is no Celery task's.
_OTHER_DELAYS = frozenset({"celery", "rq", "django_rq", "huey", "dramatiq", "kombu"})
# Methods the framework calls, not the project's code: a view's handler for each HTTP method,
# a management command's handle().
_FRAMEWORK_CALLED = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "dispatch", "handle"})
# Plain method names every Django model's manager has: modules call them everywhere.
_MANAGER_VERBS = frozenset({"create", "update", "delete", "get", "filter", "exclude", "count", "exists", "first",
                            "last", "all", "values"})
# Rounds of the second pass (callers of senders, read again): a view that saves a serializer whose
# create() calls a helper that sends is three calls from the send.
_CALLER_ROUNDS = 3
_SMARTMIN_CRUDL = frozenset({"smartmin.views.SmartCRUDL"})
_DRF_SERIALIZERS = frozenset({
    "rest_framework.serializers.BaseSerializer", "rest_framework.serializers.Serializer",
    "rest_framework.serializers.ModelSerializer", "rest_framework.serializers.HyperlinkedModelSerializer",
    "rest_framework.serializers.ListSerializer",
})
# Method names too common to stand for the one project function of that name when the
# receiver is unknown (framework hooks a project overrides in one class).
_COMMON_NAMES = frozenset({
    "get_queryset", "get_object", "get_context_data", "get_serializer", "get_form", "get_success_url",
    "form_valid", "form_invalid", "perform_create", "perform_update", "perform_destroy", "to_representation",
    "to_internal_value", "full_clean", "refresh_from_db", "is_valid", "set_password", "check_password",
    "get_or_create", "update_or_create", "bulk_create", "bulk_update", "save_model", "delete_model",
    "apply_async", "send_task", "delay_on_commit", "apply_async_on_commit", "on_commit", "as_view",
    "get_absolute_url", "has_permission", "has_object_permission", "send_mail", "add_message",
})


@dataclass(frozen=True)
class Pending:
    """An uncommitted write, and the scope that keeps it so (None: a session's own transaction)."""

    write: Write
    scope: ScopeOpen | None


@dataclass(frozen=True)
class Step:
    """A call to a project function on the way from an entry to a send."""

    span: Span
    text: str
    callee: "FuncInfo | None" = field(default=None, compare=False)


@dataclass(frozen=True)
class Send:
    span: Span  # the method name: `delay` in `notify.delay(...)`
    text: str  # `notify.delay`
    task: Task | None


@dataclass(frozen=True)
class SendPath:
    send: Send
    chain: tuple[Step, ...]
    pending: Pending | None
    cleared: frozenset[str]  # slots committed since the walk began ("*": every slot)
    after: bool = False  # the write comes after the send, in the same transaction, and the task reads it


@dataclass
class Summary:
    sends: list[SendPath]
    pending: dict[str, Pending]
    cleared: frozenset[str]


@dataclass
class _State:
    pending: dict[str, Pending]
    cleared: frozenset[str]
    slots: frozenset[str]  # open transactions: ORM writes to these stay uncommitted
    scopes: tuple[ScopeOpen, ...] = ()
    flags: tuple[tuple[str, object], ...] = ()  # parameters the caller passes a known constant
    loads: dict[str, str] = field(default_factory=dict)  # local name -> model it was loaded from a session
    waiting: list[tuple[SendPath, frozenset[str]]] = field(default_factory=list)  # sends in a scope, with reads
    # models whose row the code being read creates because a lookup found none (get-or-create)
    creating: frozenset[str] = frozenset()

    def copy(self) -> "_State":
        return _State(dict(self.pending), self.cleared, self.slots, self.scopes, self.flags, dict(self.loads),
                      list(self.waiting), self.creating)

    def become(self, other: "_State") -> None:
        self.pending, self.cleared, self.loads, self.waiting = other.pending, other.cleared, other.loads, other.waiting

    def merge(self, *others: "_State") -> None:
        """This state becomes the join of itself and others (each arm of a branch)."""
        for other in others:
            for slot, pending in other.pending.items():
                mine = self.pending.get(slot)
                if mine is None or pending.write.span < mine.write.span:
                    self.pending[slot] = pending
            self.cleared = _both(self.cleared, other.cleared)
            self.loads.update(other.loads)
            self.waiting += [w for w in other.waiting if w not in self.waiting]

    def commit(self, slots: frozenset[str]) -> None:
        for slot in list(self.pending):
            if _covered(slot, slots) or (slot.startswith(DIRTY) and "*" in slots):
                del self.pending[slot]
        self.cleared = _either(self.cleared, slots)
        if "*" in slots or not self.slots - slots:
            self.waiting = []

    def first_pending(self, cleared: frozenset[str] = frozenset(), reads: frozenset[str] = frozenset()) -> Pending | None:
        """The earliest write still uncommitted: any write, or a change to a loaded object
        when the task reads its model."""
        candidates = [p for slot, p in self.pending.items() if not _covered(slot, cleared)
                      and (not slot.startswith(DIRTY) or slot[len(DIRTY):] in reads)]
        return min(candidates, key=lambda p: p.write.span) if candidates else None

    def holds(self, slot: str) -> bool:
        return slot == SESSION or slot.startswith(DIRTY) or slot in self.slots or (
            slot.startswith("orm:") and ANY_ORM in self.slots)


def _holder(state: "_State", slot: str) -> ScopeOpen | None:
    """The outermost open scope that keeps a write to slot uncommitted: the one whose end
    commits it (an inner atomic() is only a savepoint)."""
    for scope in state.scopes:
        if slot in scope.slots or (slot.startswith("orm:") and ANY_ORM in scope.slots) or (
                SESSION in scope.slots and (slot == SESSION or slot.startswith(DIRTY))):
            return scope
    return None


def _in_scope(pending: Pending | None, state: "_State") -> Pending | None:
    """A callee's write, seen from the caller: the caller's scope may be what keeps it uncommitted."""
    if pending is None:
        return None
    holder = _holder(state, pending.write.slot)
    return Pending(pending.write, holder) if holder is not None else pending


def _covered(slot: str, cleared: frozenset[str]) -> bool:
    return "*" in cleared or slot in cleared


def _either(a: frozenset[str], b: frozenset[str]) -> frozenset[str]:
    return frozenset({"*"}) if "*" in a or "*" in b else a | b


def _both(a: frozenset[str], b: frozenset[str]) -> frozenset[str]:
    if "*" in a:
        return b
    if "*" in b:
        return a
    return a & b


_EMPTY = Summary([], {}, frozenset())
# Slots of changes to objects loaded from a session (`row.status = "done"`): flushed at commit,
# they count for a task that reads their model.
DIRTY = "dirty:"


@dataclass(frozen=True)
class FuncInfo:
    path: str
    func: ir.FuncDef
    cls: ir.ClassDef | None  # the class it is a method of


@dataclass(frozen=True)
class Hazard:
    """A send that runs while a transaction holds an uncommitted write."""

    primary: Span
    path: SendPath


@dataclass
class _Index:
    infos: dict[int, FuncInfo] = field(default_factory=dict)
    by_name: dict[str, list[FuncInfo]] = field(default_factory=dict)
    by_path: dict[str, list[FuncInfo]] = field(default_factory=dict)
    classes: dict[tuple[str, str], ir.ClassDef] = field(default_factory=dict)
    paths: set[str] = field(default_factory=set)
    # Every body indexed, kept alive: infos is keyed by id(), which Python hands out again once
    # the object it named is freed (a module's second reading, whose fresh functions are dropped).
    kept: list[tuple[ir.Stmt, ...]] = field(default_factory=list)
    outer: dict[int, FuncInfo] = field(default_factory=dict)  # a nested function's enclosing function

    def add_module(self, path: str, body: tuple[ir.Stmt, ...]) -> None:
        self.paths.add(path)
        self.kept.append(body)
        self._add(path, body, None)

    def read_more(self, path: str, body: tuple[ir.Stmt, ...]) -> list[FuncInfo]:
        """The module read again with more function bodies; returns the functions whose bodies
        are read only now. Each takes the place of its earlier reading, also where the resolver
        still holds that one (same place); the other functions keep theirs."""
        if path not in self.paths:
            self.add_module(path, body)
            return [info for info in self.by_path.get(path, ()) if info.func.body_read]
        earlier = {info.func.span: info for info in self.by_path.get(path, ())}
        self.kept.append(body)
        fresh = _Index()
        fresh.add_module(path, body)
        added = []
        for info in fresh.by_path.get(path, ()):
            old = earlier.get(info.func.span)
            if old is not None and (old.func.body_read or not info.func.body_read):
                self.infos[id(info.func)] = old
                continue
            added.append(info)
            self.infos[id(info.func)] = info
            self.by_name.setdefault(info.func.name, []).append(info)
            self.by_path[path].append(info)
            if old is not None:
                self.infos[id(old.func)] = info
                self.by_name[old.func.name].remove(old)
                self.by_path[path].remove(old)
        return added

    def _add(self, path: str, stmts: tuple[ir.Stmt, ...], cls: ir.ClassDef | None,
             outer: FuncInfo | None = None) -> None:
        for stmt in stmts:
            if isinstance(stmt, ir.FuncDef):
                info = FuncInfo(path, stmt, cls)
                self.infos[id(stmt)] = info
                self.by_name.setdefault(stmt.name, []).append(info)
                self.by_path.setdefault(path, []).append(info)
                if outer is not None:
                    self.outer[id(stmt)] = outer
                self._add(path, stmt.body, None, info)
            elif isinstance(stmt, ir.ClassDef):
                self.classes.setdefault((path, stmt.name), stmt)
                self._add(path, stmt.body, stmt)
            else:
                for name in ("body", "orelse", "finalbody"):
                    inner = getattr(stmt, name, None)
                    if isinstance(inner, tuple):
                        self._add(path, inner, cls, outer)
                if isinstance(stmt, ir.Try):
                    for _, handler in stmt.handlers:
                        self._add(path, handler, cls, outer)


def _calls_in_order(expr: ir.Expr) -> Iterator[ir.Call]:
    """The calls in an expression in the order Python makes them: a call's function and
    arguments first. Lambdas and comprehensions are opaque: their code runs later, if at all."""
    if isinstance(expr, ir.Call):
        for child in children(expr):
            yield from _calls_in_order(child)
        yield expr
        return
    for child in children(expr):
        yield from _calls_in_order(child)


def _qualname_of(ctx: Context, expr: ir.Expr) -> str | None:
    return ctx.qualname(expr.func if isinstance(expr, ir.Call) else expr)


class Transactions:
    """The project's sends that a worker may run before the transaction around them commits."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.index = _Index()
        self.modules = sorted(project.workspace.envs)
        for path in self.modules:
            facts = project.workspace.load_facts(path)
            if facts is not None and facts.error is None:
                self.index.add_module(path, facts.body)
        self._contexts: dict[str, dict[int, Context]] = {}
        self._memo: dict[tuple, Summary] = {}
        self._running: set[tuple] = set()
        self._entry_memo: dict[int, list[SendPath]] = {}
        self._class_objs: dict[int, ClassObj | None] = {}
        self._names_memo: dict[tuple[int, int], frozenset[str]] = {}
        self._bodies_read: set[tuple[str, int]] = set()
        self.atomic_requests = atomic_requests(project)
        self.pyramid_tm = _includes_pyramid_tm(project)

    # ------------------------------------------------------------ contexts and names

    def context(self, path: str, call: ir.Call, function: ir.FuncDef | None) -> Context:
        if path not in self._contexts:
            self._contexts[path] = {id(c): ctx for ctx, c in module_calls(self.project, path)}
        return self._contexts[path].get(id(call)) or Context(self.project, path, function, {})

    def module_context(self, path: str) -> Context:
        return Context(self.project, path, None, {})

    def info_of(self, func: ir.FuncDef, path: str) -> FuncInfo | None:
        info = self.index.infos.get(id(func))
        if info is None and path not in self.index.paths:
            facts = self.project.workspace.load_facts(path)
            if facts is not None and facts.error is None:
                self.index.add_module(path, facts.body)
            info = self.index.infos.get(id(func))
        if info is None:
            # The resolver's reading of a module that the second pass read again with more bodies.
            info = next((i for i in self.index.by_path.get(path, ()) if i.func.span == func.span), None)
            if info is not None:
                self.index.infos[id(func)] = info
        return info

    def class_obj(self, info: FuncInfo) -> ClassObj | None:
        if info.cls is None:
            return None
        key = id(info.cls)
        if key not in self._class_objs:
            value = self.project.module_value(info.path, info.cls.name)
            outer = self._outer_class(info.path, info.cls)
            if outer is not None:  # a class defined in a class (a smartmin CRUDL's views)
                value = outer.lookup(info.cls.name)
            obj = value.value if value is not None and value.status == "known" else None
            self._class_objs[key] = obj if isinstance(obj, ClassObj) and obj.span == info.cls.span else None
        return self._class_objs[key]

    def _outer_class(self, path: str, cls: ir.ClassDef) -> ClassObj | None:
        """The module-level class whose body defines cls, if one does."""
        facts = self.project.workspace.load_facts(path)
        for stmt in facts.body if facts is not None else ():
            if type(stmt) is ir.ClassDef and any(inner is cls or (type(inner) is ir.ClassDef and inner.span == cls.span)
                                                 for inner in stmt.body):
                value = self.project.module_value(path, stmt.name)
                outer = value.value if value is not None and value.status == "known" else None
                return outer if isinstance(outer, ClassObj) else None
        return None

    def callee(self, info: FuncInfo | None, ctx: Context, call: ir.Call, unread: bool = False) -> FuncInfo | None:
        """The project function a call runs: by name, as a method of the caller's class
        (`self.x()`, `super().x()`), or, for a distinctive method name called on an unknown
        receiver, the project's only function of that name. unread: also one that no module
        read so far defines (_read_body reads its body)."""
        func = call.func
        name = func.attr if isinstance(func, ir.Attr) else func.id if isinstance(func, ir.Name) else None
        cls = _instance_of(ctx, func.value) if isinstance(func, ir.Attr) else None
        if cls is None and isinstance(func, ir.Attr) and info is not None:
            cls = self._serializer_made(info, ctx, func.value) or self._view_object(info, ctx, func.value)
        if cls is not None:
            # a method of a class the receiver is known to be an instance of: its module is read
            # now if it was not (info_of)
            found = self._defined_in(cls, func.attr)
            if found is None and func.attr == "save" and cls.derives_from(_DRF_SERIALIZERS):
                # DRF's save() calls create(), or update() for a serializer made with an instance
                made = _constructions(ctx, func.value)[0]
                given = isinstance(made, ir.Call) and bool(made.args or made.kwarg("instance"))
                found = self._defined_in(cls, "update" if given else "create")
            return found
        if name not in self.index.by_name and not unread:
            # No module read so far defines it: a module read only now would be one with no
            # Celery or transaction marker, whose function bodies are left out.
            return None
        obj = ctx.resolve(func)
        if isinstance(obj, (FuncObj, TaskObj)):
            return self.info_of(obj.func, obj.module)
        if isinstance(func, ir.Name) and obj is None and info is not None:
            return self._nested(info, func.id)
        if not isinstance(func, ir.Attr) or obj is not None:
            return None
        receiver = func.value
        if info is not None and info.cls is not None:
            if isinstance(receiver, ir.Name) and receiver.id in ("self", "cls") and self._is_param(ctx, receiver.id):
                return self._method(info, func.attr)
            if isinstance(receiver, ir.Call) and isinstance(receiver.func, ir.Name) and receiver.func.id == "super":
                return self._super_method(info, func.attr)
        if isinstance(ctx.resolve(receiver), (Sym, ModuleRef)):
            return None
        return self._only_function(func.attr)

    def _nested(self, info: FuncInfo, name: str) -> FuncInfo | None:
        """A function defined inside the caller (or a function around it) by that name."""
        for outer in self._enclosing(info):
            for node in ir.nodes_until(outer.func.body, (ir.FuncDef, ir.ClassDef)):
                if type(node) is ir.FuncDef and node.name == name:
                    return self.index.infos.get(id(node))
        return None

    def _enclosing(self, info: FuncInfo) -> Iterator[FuncInfo]:
        """The function, then each function it is defined in."""
        seen: FuncInfo | None = info
        while seen is not None:
            yield seen
            seen = self.index.outer.get(id(seen.func))

    def _self_class(self, info: FuncInfo) -> ClassObj | None:
        """The class `self` is an instance of in a method, or in a function defined in one."""
        for outer in self._enclosing(info):
            if outer.cls is not None:
                return self.class_obj(outer)
        return None

    def _serializer_made(self, info: FuncInfo, ctx: Context, receiver: ir.Expr) -> ClassObj | None:
        """`ser = self.get_serializer(...)` in a DRF view: an instance of the view's
        serializer_class, unless the view chooses its serializer in code of its own."""
        if not _made_by_self(ctx, receiver, "get_serializer"):
            return None
        view = self._self_class(info)
        if view is None or any(self._defined_in(view, name) for name in ("get_serializer", "get_serializer_class")):
            return None
        found = view.lookup("serializer_class")
        return found.value if found is not None and found.status == "known" and isinstance(found.value, ClassObj) else None

    def _view_object(self, info: FuncInfo, ctx: Context, receiver: ir.Expr) -> ClassObj | None:
        """`obj = self.get_object()` in a Django generic view: an instance of the view's `model`
        (for a view nested in a smartmin SmartCRUDL, the CRUDL's, which smartmin gives its views),
        unless the project's own classes define get_object()."""
        if not _made_by_self(ctx, receiver, "get_object"):
            return None
        view = self._self_class(info)
        if view is None or self._defined_in(view, "get_object") is not None:
            return None
        for owner in (view, self._crudl_of(info)):
            found = owner.lookup("model") if owner is not None else None
            if found is not None and found.status == "known" and isinstance(found.value, ClassObj):
                return found.value
        return None

    def _crudl_of(self, info: FuncInfo) -> ClassObj | None:
        """The smartmin SmartCRUDL class a method's view class is defined in."""
        method = next((i for i in self._enclosing(info) if i.cls is not None), None)
        outer = self._outer_class(method.path, method.cls) if method is not None and method.cls is not None else None
        return outer if outer is not None and outer.derives_from(_SMARTMIN_CRUDL) else None

    @staticmethod
    def _is_param(ctx: Context, name: str) -> bool:
        found = ctx.lookup(name)
        return bool(found) and all(b.kind == "param" for b in found)

    def _method(self, info: FuncInfo, name: str) -> FuncInfo | None:
        cls = self.class_obj(info)
        if cls is not None:
            return self._defined_in(cls, name)
        assert info.cls is not None
        for stmt in info.cls.body:
            if isinstance(stmt, ir.FuncDef) and stmt.name == name:
                return self.index.infos.get(id(stmt))
        return None

    def _defined_in(self, cls: ClassObj, name: str) -> FuncInfo | None:
        """The project function a class (or its project bases) binds to name."""
        found = cls.lookup(name)
        obj = found.value if found is not None and found.status == "known" else None
        return self.info_of(obj.func, obj.module) if isinstance(obj, (FuncObj, TaskObj)) else None

    def _super_method(self, info: FuncInfo, name: str) -> FuncInfo | None:
        cls = self.class_obj(info)
        for base in cls.bases if cls is not None else ():
            if isinstance(base.value, ClassObj):
                found = base.value.lookup(name)
                obj = found.value if found is not None and found.status == "known" else None
                if isinstance(obj, (FuncObj, TaskObj)):
                    return self.info_of(obj.func, obj.module)
        return None

    def _only_function(self, name: str) -> FuncInfo | None:
        if "_" not in name.strip("_") or name.startswith("__") or name in _COMMON_NAMES:
            return None
        found = self.index.by_name.get(name, [])
        if len(found) != 1 or found[0].cls is None or is_test_path(found[0].path, self.project.root):
            return None
        return found[0]

    # ------------------------------------------------------------ sends

    def send_at(self, info: FuncInfo | None, ctx: Context, call: ir.Call) -> Send | None:
        found = task_call(ctx, call)
        if found is not None:
            return Send(found.method_span, render(call.func), found.task) if found.sends else None
        func = call.func
        if isinstance(func, ir.Attr) and func.attr in SENDING and _external_task(ctx.resolve(func.value)):
            return Send(attr_name_span(func), render(func), None)
        if isinstance(func, ir.Attr) and func.attr in SENDING and isinstance(func.value, ir.Name) \
                and func.value.id == "self" and info is not None and info.cls is not None:
            cls = self.class_obj(info)
            if cls is not None and cls.derives_from(_CELERY_TASK):
                return Send(attr_name_span(func), render(func), None)
        return None

    # ------------------------------------------------------------ scopes

    def decorator_scope(self, info: FuncInfo) -> ScopeOpen | None:
        ctx = self.module_context(info.path)
        for decorator in info.func.decorators:
            alias = atomic_alias(ctx, decorator)
            if alias is not None:
                return ScopeOpen(decorator.span, "the function runs in a transaction", frozenset({"orm:" + alias}))
        return None

    def with_scope(self, info: FuncInfo | None, ctx: Context, item: ir.Expr) -> ScopeOpen | None:
        found = scope_opened(ctx, item)
        if found is not None or not isinstance(item, ir.Call):
            return found
        manager = self.callee(info, ctx, item)
        if manager is None or not manager.func.body_read:
            return None
        mctx = self.module_context(manager.path)
        if not any(_qualname_of(mctx, d) in _CONTEXT_MANAGER for d in manager.func.decorators):
            return None
        inner = self.decorator_scope(manager) or self._scope_around_yield(manager, manager.func.body)
        if inner is None:
            return None
        where = f"{manager.path}:{inner.span.line}"
        return replace(inner, span=item.span, why=f"{render(item.func)}() opens a transaction here ({where})")

    def _scope_around_yield(self, info: FuncInfo, stmts: tuple[ir.Stmt, ...],
                            around: ScopeOpen | None = None) -> ScopeOpen | None:
        for stmt in stmts:
            if isinstance(stmt, ir.ExprStmt) and isinstance(stmt.value, ir.Opaque) and \
                    stmt.value.reason.startswith("Yield"):
                return around
            if isinstance(stmt, ir.Block) and stmt.kind == "with":
                inner = around
                for item in stmt.header:
                    inner = scope_opened(self.module_context(info.path), item) or inner
                found = self._scope_around_yield(info, stmt.body, inner)
            elif isinstance(stmt, (ir.If, ir.Try, ir.Block)):
                arms = [getattr(stmt, name, ()) or () for name in ("body", "orelse", "finalbody")]
                if isinstance(stmt, ir.Try):
                    arms += [handler for _, handler in stmt.handlers]
                found = next((f for arm in arms if (f := self._scope_around_yield(info, arm, around))), None)
            else:
                continue
            if found is not None:
                return found
        return None

    # ------------------------------------------------------------ walking

    def summary(self, info: FuncInfo, slots: frozenset[str], depth: int,
                flags: tuple[tuple[str, object], ...] = ()) -> Summary:
        key = (id(info.func), slots, depth, flags)
        if key in self._memo:
            return self._memo[key]
        if key in self._running or not info.func.body_read:
            return _EMPTY
        self._running.add(key)
        try:
            state = _State({}, frozenset(), slots, flags=flags)
            out: list[SendPath] = []
            own = self.decorator_scope(info)
            if own is not None:
                outermost = not all(state.holds(s) for s in own.slots)
                state.slots |= own.slots
                state.scopes = (own,)
            self._body(info, info.func.body, state, out, depth)
            if own is not None and outermost:
                state.commit(own.slots)
            result = Summary(out, state.pending, state.cleared)
        finally:
            self._running.discard(key)
        self._memo[key] = result
        return result

    def entry(self, info: FuncInfo) -> list[SendPath]:
        """The sends of a function read as an entry point, each with the write pending at it."""
        if id(info.func) in self._entry_memo:
            return self._entry_memo[id(info.func)]
        scope, initial = self.entry_scope(info)
        self._entry_memo[id(info.func)] = []  # a recursive look-up sees no hazard
        state = _State({}, frozenset(), scope.slots if scope is not None else frozenset())
        if scope is not None:
            state.scopes = (scope,)
        if initial is not None:
            state.pending[initial.slot] = Pending(initial, scope)
        out: list[SendPath] = []
        own = self.decorator_scope(info) if info.func.body_read else None
        if own is not None:
            state.slots |= own.slots
            state.scopes += (own,)
        if info.func.body_read:
            self._body(info, info.func.body, state, out, 0)
        self._entry_memo[id(info.func)] = out
        return out

    def module_entry(self, path: str, body: tuple[ir.Stmt, ...]) -> list[SendPath]:
        out: list[SendPath] = []
        self._body(None, body, _State({}, frozenset(), frozenset()), out, 0, path)
        return out

    def _body(self, info: FuncInfo | None, stmts: tuple[ir.Stmt, ...], state: _State, out: list[SendPath],
              depth: int, path: str | None = None) -> bool:
        """Reads the statements in order; True when they certainly end the function (a return
        or raise, or a branch the caller's constants decide that ends in one): what follows is
        not reached (`if not broadcast: return` under `save(broadcast=False)`)."""
        for stmt in stmts:
            if self._stmt(info, stmt, state, out, depth, path):
                return True
        return False

    def _stmt(self, info: FuncInfo | None, stmt: ir.Stmt, state: _State, out: list[SendPath], depth: int,
              path: str | None) -> bool:
        if isinstance(stmt, (ir.Assign, ir.AugAssign, ir.ExprStmt, ir.Return, ir.Raise)):
            if stmt.value is not None:
                self._expr(info, stmt.value, state, out, depth, path)
            if isinstance(stmt, ir.Assign):
                self._assigned(info, stmt, state, out, path)
            return isinstance(stmt, (ir.Return, ir.Raise))
        if isinstance(stmt, ir.If):
            self._expr(info, stmt.test, state, out, depth, path)
            known = _decided(stmt.test, dict(state.flags)) if state.flags else None
            if known is not None:
                return self._body(info, stmt.body if known else stmt.orelse, state, out, depth, path)
            other = state.copy()
            missing = _looked_up_and_missing(stmt.test, state.loads)
            creating = state.creating
            state.creating |= missing
            self._body(info, stmt.body, state, out, depth, path)
            state.creating = creating
            self._body(info, stmt.orelse, other, out, depth, path)
            state.merge(other)
        elif isinstance(stmt, ir.Try):
            self._body(info, stmt.body, state, out, depth, path)
            arms = []
            for arm in [handler for _, handler in stmt.handlers] + [stmt.orelse]:
                copy = state.copy()
                self._body(info, arm, copy, out, depth, path)
                arms.append(copy)
            if arms:
                first, *rest = arms
                first.merge(*rest)
                state.become(first)
            self._body(info, stmt.finalbody, state, out, depth, path)
        elif isinstance(stmt, ir.Block):
            self._block(info, stmt, state, out, depth, path)
        return False

    def _block(self, info: FuncInfo | None, stmt: ir.Block, state: _State, out: list[SendPath], depth: int,
               path: str | None) -> None:
        where = info.path if info is not None else path
        assert where is not None
        if stmt.kind != "with":
            for header in stmt.header:
                self._expr(info, header, state, out, depth, path)
            skipped = state.copy()
            model = loaded_model(self._ctx_for(info, where, stmt.header[0]), stmt.header[0]) \
                if stmt.kind == "for" and stmt.header else None
            for target in stmt.targets:
                if isinstance(target, ir.Name):
                    _bind_load(state, target.id, model)
            self._body(info, stmt.body, state, out, depth, path)
            state.merge(skipped)
            return
        opened: list[tuple[ScopeOpen, bool]] = []
        slots, scopes = state.slots, state.scopes
        for header in stmt.header:
            self._expr(info, header, state, out, depth, path)
            ctx = self._ctx_for(info, where, header)
            scope = self.with_scope(info, ctx, header)
            if scope is not None:
                outermost = not all(state.holds(s) for s in scope.slots)
                opened.append((scope, outermost))
                state.slots |= scope.slots
                state.scopes += (scope,)
        self._body(info, stmt.body, state, out, depth, path)
        state.slots, state.scopes = slots, scopes
        for scope, outermost in reversed(opened):
            if scope.commits and (outermost or SESSION in scope.slots):
                state.commit(frozenset({"*"}) if SESSION in scope.slots else scope.slots)

    def _ctx_for(self, info: FuncInfo | None, path: str, expr: ir.Expr) -> Context:
        function = info.func if info is not None else None
        if isinstance(expr, ir.Call):
            return self.context(path, expr, function)
        return Context(self.project, path, function, {})

    def _expr(self, info: FuncInfo | None, expr: ir.Expr, state: _State, out: list[SendPath], depth: int,
              path: str | None) -> None:
        where = info.path if info is not None else path
        assert where is not None
        for call in _calls_in_order(expr):
            ctx = self.context(where, call, info.func if info is not None else None)
            send = self.send_at(info, ctx, call)
            if send is not None:
                reads = self.task_reads(send.task)
                sent = SendPath(send, (), state.first_pending(reads=reads), state.cleared)
                out.append(sent)
                if sent.pending is None and reads and state.slots:
                    state.waiting.append((sent, reads))
                continue
            if ends_transaction(call):
                state.commit(frozenset({"*"}))
                continue
            callee = self.callee(info, ctx, call, unread=bool(state.slots)) if depth < MAX_CALL_DEPTH else None
            if callee is not None and not callee.func.body_read and state.slots:
                callee = self._read_body(callee)
            if callee is not None and callee.func.body_read and not is_test_path(callee.path, self.project.root):
                self._compose(call, callee, state, out, depth)
                continue
            write = classify_write(ctx, call)
            if write is not None and state.holds(write.slot):
                self._wrote(write, state, out)

    def _wrote(self, write: Write, state: _State, out: list[SendPath]) -> None:
        if write.model is not None and write.model in state.creating:
            # a default row made where the lookup found none: it matters to a task that reads
            # its model, as a change to a loaded row does
            write = replace(write, slot=DIRTY + write.model)
        scope = _holder(state, write.slot)
        state.pending.setdefault(write.slot, Pending(write, scope))
        if write.model is None or not state.waiting:
            return
        for waiting in list(state.waiting):
            sent, reads = waiting
            if write.model in reads:
                out.append(replace(sent, pending=Pending(write, scope), after=True))
                state.waiting.remove(waiting)

    def _assigned(self, info: FuncInfo | None, stmt: ir.Assign, state: _State, out: list[SendPath],
                  path: str | None) -> None:
        """`row = session.get(Model, id)` binds a loaded object; `row.field = value` changes one."""
        where = info.path if info is not None else path
        assert where is not None
        for target in stmt.targets:
            if isinstance(target, ir.Name):
                ctx = self._ctx_for(info, where, stmt.value)
                _bind_load(state, target.id, loaded_model(ctx, stmt.value))
            elif isinstance(target, ir.Attr) and isinstance(target.value, ir.Name) and target.value.id in state.loads:
                model = state.loads[target.value.id]
                write = Write(stmt.span, f"{target.value.id}.{target.attr} = …", DIRTY + model, model)
                self._wrote(write, state, out)

    def task_reads(self, task: Task | None) -> frozenset[str]:
        """The names a task's code (and the project functions it calls) mentions: a model
        written in the transaction is read by the task when the task names it."""
        if task is None:
            return frozenset()
        info = self.info_of(task.func, task.module)
        return self._names(info, 2) if info is not None else frozenset()

    def _names(self, info: FuncInfo, depth: int) -> frozenset[str]:
        key = (id(info.func), depth)
        if key in self._names_memo:
            return self._names_memo[key]
        self._names_memo[key] = frozenset()
        names: set[str] = set()
        for expr in _statement_exprs(info.func.body):
            for sub in subexpressions(expr):
                if isinstance(sub, ir.Name):
                    names.add(sub.id)
                elif type(sub) is ir.Call and depth > 0:
                    callee = self.callee(info, self.context(info.path, sub, info.func), sub)
                    if callee is not None and callee.func is not info.func:
                        names |= self._names(callee, depth - 1)
        found = frozenset(names)
        self._names_memo[key] = found
        return found

    def _compose(self, call: ir.Call, callee: FuncInfo, state: _State, out: list[SendPath], depth: int) -> None:
        sub = self.summary(callee, state.slots, depth + 1, _flags(call, callee, state.flags))
        func = call.func
        step = Step(attr_name_span(func) if isinstance(func, ir.Attr) else func.span, render(func) + "()", callee)
        for path in sub.sends:
            reads = self.task_reads(path.send.task)
            pending = _in_scope(path.pending, state) or state.first_pending(path.cleared, reads)
            out.append(SendPath(path.send, (step,) + path.chain, pending, _either(state.cleared, path.cleared)))
        if sub.cleared:
            state.commit(sub.cleared)
        for slot, pending in sub.pending.items():
            state.pending.setdefault(slot, _in_scope(pending, state))

    # ------------------------------------------------------------ entry points

    def entry_scope(self, info: FuncInfo) -> tuple[ScopeOpen | None, Write | None]:
        """The transaction an entry point runs in, and a write made in it before the entry runs."""
        if info.func.is_async:
            return None, None
        if self.atomic_requests is not None and self.is_view(info):
            where = self.atomic_requests
            return ScopeOpen(where.span, where.message, frozenset({"orm:default"})), None
        admin = self._admin_hook(info)
        if admin is not None:
            return admin
        if self.pyramid_tm is not None and self._pyramid_view(info):
            return ScopeOpen(self.pyramid_tm, "pyramid_tm runs every view in a transaction that commits after the "
                             "view returns", frozenset({ANY_ORM, SESSION})), None
        return None, None

    def is_view(self, info: FuncInfo) -> bool:
        """A Django view: a function that takes `request` in a views module or carries a view
        decorator, or a method of a view class (Django's View, DRF's APIView and viewsets,
        any base named ...View), unless excluded with non_atomic_requests."""
        ctx = self.module_context(info.path)
        if any(_non_atomic(ctx, d) for d in info.func.decorators):
            return False
        if info.cls is None:
            if any(_qualname_of(ctx, d) in _VIEW_DECORATORS for d in info.func.decorators):
                return True
            return _takes_request(info.func) and _is_view_module(info.path, self.project.root)
        if self._non_atomic_class(info.path, info.cls, 0):
            return False
        if _takes_request(info.func) and _is_view_module(info.path, self.project.root):
            return True
        return self._view_class(ctx, info.cls, self.class_obj(info))

    def _view_class(self, ctx: Context, cls: ir.ClassDef, obj: ClassObj | None) -> bool:
        if obj is not None and _derives(obj, _is_view_name):
            return True
        for base in cls.bases:
            resolved = ctx.resolve(base)
            name = resolved.qualname if isinstance(resolved, Sym) else render(base)
            if _is_view_name(name):
                return True
        return False

    def _non_atomic_class(self, path: str, cls: ir.ClassDef, depth: int) -> bool:
        """A class whose dispatch() is excluded from ATOMIC_REQUESTS (Django copies the flag from
        dispatch to the view as_view() returns), itself or through a project base class."""
        ctx = self.module_context(path)
        for decorator in cls.decorators:
            if isinstance(decorator, ir.Call) and _qualname_of(ctx, decorator) in _METHOD_DECORATOR and \
                    decorator.args and _non_atomic(ctx, decorator.args[0]):
                name = decorator.kwarg("name")
                if name is None or (isinstance(name, ir.Const) and name.value == "dispatch"):
                    return True
        for stmt in cls.body:
            if isinstance(stmt, ir.FuncDef) and stmt.name == "dispatch" and any(
                    _non_atomic(ctx, d) for d in stmt.decorators):
                return True
        if depth < 4:
            for base in cls.bases:
                resolved = ctx.resolve(base)
                if isinstance(resolved, ClassObj) and (resolved.module, resolved.name) in self.index.classes:
                    base_def = self.index.classes[(resolved.module, resolved.name)]
                    if base_def is not cls and self._non_atomic_class(resolved.module, base_def, depth + 1):
                        return True
        return False

    def _admin_hook(self, info: FuncInfo) -> tuple[ScopeOpen, Write | None] | None:
        name = info.func.name
        if info.cls is None or name not in _ADMIN_HOOKS | _ADMIN_AFTER_SAVE:
            return None
        obj = self.class_obj(info)
        if obj is None or not _derives(obj, _is_model_admin):
            return None
        scope = ScopeOpen(info.func.span, f"the Django admin calls {name}() inside transaction.atomic() "
                          "(ModelAdmin.changeform_view, delete_view)", frozenset({"orm:default"}))
        before = Write(info.func.span, "the admin's save of the object (save_model)", "orm:default") \
            if name in _ADMIN_AFTER_SAVE else None
        return scope, before

    def _pyramid_view(self, info: FuncInfo) -> bool:
        ctx = self.module_context(info.path)
        return any(_qualname_of(ctx, d) in _PYRAMID_VIEW for d in info.func.decorators)

    def hazards(self) -> Iterator[Hazard]:
        """Each send reached with an uncommitted write, once per place in an entry's own code:
        the send itself, or the call that leads to it. A send that is a hazard wherever its
        function is called is reported there, not again at every caller."""
        seen: set[Span] = set()
        root = self.project.root
        for path in self.modules:
            if path not in self.index.paths or is_test_path(path, root):
                continue
            facts = self.project.workspace.load_facts(path)
            assert facts is not None
            yield from self._module_hazards(path, facts.body, seen)
        for path, added in self._callers_read_again():
            yield from self._module_hazards(path, None, seen, added)

    def sender_names(self) -> dict[str, frozenset[str]]:
        """Names of the project functions found to send a task (themselves or through the
        functions they call) among the entries read so far. A method whose name other functions
        share, or that is too plain to stand for it on a receiver of unknown type (`release`),
        maps to its class names, one of which a caller's module names (it subclasses or imports
        the class): `self.x()`, or `x()` on an instance of the class, reaches it only there."""
        root = self.project.root
        names: dict[str, frozenset[str]] = {}
        for key, sends in self._entry_memo.items():
            info = self.index.infos.get(key)
            # an earlier reading's function, read again since (_Index.replace_module), has key
            if not sends or info is None or id(info.func) != key or is_test_path(info.path, root):
                continue
            name = info.func.name
            if info.cls is not None and self._is_serializer(info):
                # reached from a view, in a module that names the serializer: save() runs create()
                # and update(); any other method by its own name, common as it may be (bulk_create)
                called = "save" if name in ("create", "update") else name
                names[called] = names.get(called, frozenset()) | {info.cls.name}
                continue
            if name.startswith("__") or name in _COMMON_NAMES or (info.cls is not None and name in _FRAMEWORK_CALLED):
                continue
            if info.cls is not None and "_" not in name.strip("_"):
                # a plain method name (`release`): a caller reaches it only on a receiver of a
                # known class, in a module that names the class; one a Django manager also has
                # (`create`), where the module calls it on the class itself (`Channel.create(`)
                word = f"{info.cls.name}.{name}" if name in _MANAGER_VERBS else info.cls.name
                names[name] = names.get(name, frozenset()) | {word} if names.get(name, True) else frozenset()
                continue
            if info.cls is None or len(self.index.by_name.get(name, ())) == 1:
                names[name] = frozenset()
            elif names.get(name, True):
                names[name] = names.get(name, frozenset()) | {info.cls.name}
        return names

    def _is_serializer(self, info: FuncInfo) -> bool:
        cls = self.class_obj(info)
        return cls is not None and cls.derives_from(_DRF_SERIALIZERS)

    def _callers_read_again(self) -> Iterator[tuple[str, list[FuncInfo]]]:
        """The second pass: modules that call a function known to send, read with the bodies of
        those callers (a view in a module that mentions neither Celery nor a transaction, whose
        function bodies the first reading left out); each with the functions read only now. In
        _CALLER_ROUNDS rounds: a caller found in one can itself be a helper that sends."""
        root = self.project.root
        asked: frozenset[str] = frozenset()
        for _ in range(_CALLER_ROUNDS):
            names = {name: words for name, words in self.sender_names().items() if name not in asked}
            if not names:
                return
            found = self.project.workspace.read_callers(names, lambda path: not is_test_path(path, root))
            fresh = []
            for path, facts in sorted(found.items()):
                added = self.index.read_more(path, facts.body)
                if added:
                    self._read_calls(path, facts.body)
                if not added and asked and path in self.index.paths:
                    # Read before, when the function it calls was not known to send: read again.
                    added = list(self.index.by_path.get(path, ()))
                    for info in added:
                        self._entry_memo.pop(id(info.func), None)
                    self._memo.clear()
                if added:
                    fresh.append((path, added))
            asked |= frozenset(names)
            for _path, added in fresh:
                for info in added:
                    self.entry(info)
            yield from fresh

    def _read_body(self, info: FuncInfo) -> FuncInfo | None:
        """A function called in a transaction whose body the first reading left out (a service
        method in a module with no Celery or transaction marker), read now."""
        if is_test_path(info.path, self.project.root):
            return None
        read = self._read_version(info)
        if read is None and (info.path, info.func.span.line) not in self._bodies_read:
            # the top-level class or function that holds it, whose other methods may be called too
            self._bodies_read.add((info.path, info.func.span.line))
            facts = self.project.workspace.read_bodies(info.path, info.func.span.line)
            if facts is not None and self.index.read_more(info.path, facts.body):
                self._read_calls(info.path, facts.body)
            read = self._read_version(info)
        return read

    def _read_version(self, info: FuncInfo) -> FuncInfo | None:
        """The function at the same place, read with its body, if a reading gave it."""
        return next((i for i in self.index.by_path.get(info.path, ()) if i.func.span == info.func.span and i.func.body_read),
                    None)

    def _read_calls(self, path: str, body: tuple[ir.Stmt, ...]) -> None:
        """The contexts of the calls in a module read again (what its names are bound to there,
        `self` a parameter), as module_calls() gives them for the first reading."""
        walker = _Walker(Context(self.project, path, None, {}))
        walker.body(body)
        contexts = self._contexts.setdefault(path, {id(c): ctx for ctx, c in module_calls(self.project, path)})
        contexts.update((id(e), ctx) for ctx, root in walker.found for e in subexpressions(root) if type(e) is ir.Call)

    def _module_hazards(self, path: str, body: tuple[ir.Stmt, ...] | None, seen: set[Span],
                        functions: list[FuncInfo] | None = None) -> Iterator[Hazard]:
        """The hazards of a module's body (None: not again) and of its functions (by default all)."""
        entries = [self.module_entry(path, body)] if body is not None else []
        entries += [self.entry(info) for info in (functions if functions is not None
                                                   else list(self.index.by_path.get(path, ())))]
        for sends in entries:
            for send_path in sends:
                if send_path.pending is None:
                    continue
                if send_path.chain and self._hazard_in_callee(send_path):
                    continue
                primary = send_path.chain[0].span if send_path.chain else send_path.send.span
                if primary in seen:
                    continue
                seen.add(primary)
                yield Hazard(primary, send_path)

    def _hazard_in_callee(self, send_path: SendPath) -> bool:
        """Whether the first function called on the way is itself an entry where the send is a hazard."""
        callee = send_path.chain[0].callee
        if callee is None:
            return False
        sends = self.entry(callee)
        return any(p.send.span == send_path.send.span and p.pending is not None for p in sends)


# ---------------------------------------------------------------- helpers


def _external_task(obj: object) -> bool:
    """A task of another package (a worker shipped apart: `from ecommerce_worker.fulfillment.v1.tasks
    import fulfill_order`, `from ecommerce_worker.email.v1.api import send_offer_assignment_email`):
    a name imported from outside the project whose .delay()/.apply_async() is called, unless it
    comes from Celery itself or from a job queue that also spells a send `.delay()` (RQ, huey)."""
    return isinstance(obj, Sym) and "." in obj.qualname and obj.qualname.split(".")[0] not in _OTHER_DELAYS


def _instance_of(ctx: Context, receiver: ir.Expr) -> ClassObj | None:
    """The project class a receiver is an instance of, when it is a name assigned only from
    the class's constructor (`svc = Service(db)`, once or more) or from a Pyramid service lookup
    that names the class (`request.find_service(Service)`, pyramid_services: the service
    registered for that interface, which projects register under their own class)."""
    found = {id(cls): cls for cls in map(lambda made: _made_by(ctx, made), _constructions(ctx, receiver))}
    return next(iter(found.values())) if len(found) == 1 and None not in found.values() else None


def _constructions(ctx: Context, receiver: ir.Expr) -> list[ir.Expr]:
    """What a name was assigned, each time it was (a receiver that is no name: itself)."""
    if not isinstance(receiver, ir.Name):
        return [receiver]
    found = ctx.lookup(receiver.id)
    if found and len(found) > 1 and all(b.kind == "assign" and b.value is not None for b in found):
        return [ctx.follow(b.value) for b in found]
    return [ctx.follow(receiver)]


def _made_by_self(ctx: Context, receiver: ir.Expr, method: str) -> bool:
    """Whether the receiver was assigned only from `self.<method>(...)`."""
    made = _constructions(ctx, receiver)
    return bool(made) and all(type(m) is ir.Call and type(m.func) is ir.Attr and m.func.attr == method
                              and type(m.func.value) is ir.Name and m.func.value.id == "self" for m in made)


def _made_by(ctx: Context, made: ir.Expr) -> ClassObj | None:
    if not isinstance(made, ir.Call):
        return None
    target: ir.Expr | None = made.func
    if isinstance(made.func, ir.Attr) and made.func.attr == "find_service":
        target = made.args[0] if made.args else made.kwarg("iface")
    cls = ctx.resolve(target) if target is not None else None
    return cls if isinstance(cls, ClassObj) else None


def _looked_up_and_missing(test: ir.Expr, loads: dict[str, str]) -> frozenset[str]:
    """The model of a row the test finds missing: `if not row:` or `if row is None:` where row
    was loaded from a session (`row = session.query(M)....one_or_none()`)."""
    name = None
    if isinstance(test, ir.UnaryOp) and test.op == "not" and isinstance(test.operand, ir.Name):
        name = test.operand.id
    elif isinstance(test, ir.Compare) and isinstance(test.left, ir.Name) and len(test.ops) == 1:
        op, right = test.ops[0]
        if op == "is" and isinstance(right, ir.Const) and right.value is None:
            name = test.left.id
    return frozenset({loads[name]}) if name in loads else frozenset()


def _bind_load(state: _State, name: str, model: str | None) -> None:
    if model is None:
        state.loads.pop(name, None)
    else:
        state.loads[name] = model


def _statement_exprs(stmts: tuple[ir.Stmt, ...]) -> Iterator[ir.Expr]:
    """Every expression of the statements' own code (not of functions defined in them)."""
    for stmt in stmts:
        if isinstance(stmt, (ir.FuncDef, ir.ClassDef)):
            continue
        for name in ("value", "test"):
            expr = getattr(stmt, name, None)
            if expr is not None:
                yield expr
        if isinstance(stmt, ir.Assign):
            yield from stmt.targets
        if isinstance(stmt, ir.Block):
            yield from stmt.header
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, name, None)
            if isinstance(inner, tuple):
                yield from _statement_exprs(inner)
        if isinstance(stmt, ir.Try):
            for _, handler in stmt.handlers:
                yield from _statement_exprs(handler)


def _tested_params(func: ir.FuncDef) -> frozenset[str]:
    """Parameters an `if` of the function tests (`if notify:`, `if not x`, `if x is None`) and
    that the function never rebinds: a constant argument decides those branches."""
    params = {p.name for p in func.params if p.kind in ("posonly", "pos", "kwonly")}
    tested: set[str] = set()
    assigned: set[str] = set()
    stack = list(func.body)
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, ir.If):
            for test in stmt.test.values if isinstance(stmt.test, ir.BoolOp) else (stmt.test,):
                test = test.operand if isinstance(test, ir.UnaryOp) else test
                if isinstance(test, ir.Compare):
                    test = test.left
                if isinstance(test, ir.Name):
                    tested.add(test.id)
        elif isinstance(stmt, (ir.Assign, ir.AugAssign)):
            for target in stmt.targets if isinstance(stmt, ir.Assign) else (stmt.target,):
                if isinstance(target, ir.Name):
                    assigned.add(target.id)
        if isinstance(stmt, ir.Block):
            assigned.update(t.id for t in stmt.targets if isinstance(t, ir.Name))
        if not isinstance(stmt, (ir.FuncDef, ir.ClassDef)):
            for name in ("body", "orelse", "finalbody"):
                stack.extend(getattr(stmt, name, None) or ())
            if isinstance(stmt, ir.Try):
                stack.extend(s for _, handler in stmt.handlers for s in handler)
    return frozenset((tested & params) - assigned)


_FORWARDED = "**"  # a flag's name in _State.flags when the function holds it in its **kwargs


def _flags(call: ir.Call, callee: FuncInfo, caller: tuple[tuple[str, object], ...] = ()) -> tuple[tuple[str, object], ...]:
    """The constants a call gives the parameters its callee branches on (or their defaults), and
    the keyword constants the callee takes in its **kwargs, to pass on (`save(broadcast=False)`
    reaching the base class's save through `super().save(*args, **kwargs)`). caller: the flags
    of the function making the call, whose forwarded ones a `**kwargs` in the call passes on."""
    keywords: dict[str, ir.Expr] = {}
    if any(k is None for k, _ in call.kwargs):
        keywords.update({name[len(_FORWARDED):]: ir.Const(value, call.span)
                         for name, value in caller if name.startswith(_FORWARDED)})
    keywords.update({k: v for k, v in call.kwargs if k is not None})
    given = dict(keywords)
    if not any(isinstance(a, ir.Starred) for a in call.args):
        params = [p for p in callee.func.params if p.kind in ("posonly", "pos")]
        if callee.cls is not None and params and params[0].name in ("self", "cls") and isinstance(call.func, ir.Attr):
            params = params[1:]
        given.update({p.name: a for p, a in zip(params, call.args)})
    tested = _tested_params(callee.func)
    found = []
    for param in callee.func.params:
        if param.name in tested:
            value = given.get(param.name, param.default if param.has_default else None)
            if _is_flag(value):
                found.append((param.name, value.value))
    if any(p.kind == "varkw" for p in callee.func.params):
        named = {p.name for p in callee.func.params}
        found.extend((_FORWARDED + key, value.value) for key, value in keywords.items()
                     if key not in named and _is_flag(value))
    return tuple(sorted(found, key=lambda item: item[0]))


def _is_flag(value: ir.Expr | None) -> bool:
    return isinstance(value, ir.Const) and isinstance(value.value, (bool, int, str, type(None)))


def _decided(test: ir.Expr, flags: dict[str, object]) -> bool | None:
    """The outcome of an `if` test on a parameter whose value the caller fixed, else None."""
    if isinstance(test, ir.BoolOp):
        outcomes = [_decided(value, flags) for value in test.values]
        deciding = test.op == "or"  # the value that decides the whole: True for or, False for and
        if deciding in outcomes:
            return deciding
        return (not deciding) if all(o is not None for o in outcomes) else None
    if isinstance(test, ir.UnaryOp) and test.op == "not":
        inner = _decided(test.operand, flags)
        return None if inner is None else not inner
    if isinstance(test, ir.Name) and test.id in flags:
        return bool(flags[test.id])
    if isinstance(test, ir.Compare) and isinstance(test.left, ir.Name) and test.left.id in flags and len(test.ops) == 1:
        op, right = test.ops[0]
        if isinstance(right, ir.Const) and right.value is None and op in ("is", "is not"):
            return (flags[test.left.id] is None) == (op == "is")
    return None


def atomic_requests(project: Project) -> Related | None:
    """Where ATOMIC_REQUESTS is set, when every Django settings module of the project's apps
    (the one each app's module names in DJANGO_SETTINGS_MODULE, whether or not Celery reads its
    configuration there) certainly turns it on for the default database."""
    found: list[Related] = []
    for app in project.apps:
        # an app configured some other way still runs beside the Django project that names it
        databases = project.settings_near(app.defined_at.path, "DATABASES")
        if databases is None and app.source_kind != "django":
            continue
        # one alternative per settings module that may be the deployed one
        options = databases.possible() if databases is not None else []
        flags = [default.item("ATOMIC_REQUESTS") if (default := option.item("default")) is not None else None
                 for option in options]
        if not flags or any(flag is None or not always(flag, lambda v: v is True) for flag in flags):
            return None
        found.append(Related(flags[0].origin or app.defined_at, "ATOMIC_REQUESTS wraps every view in a transaction"))
    return found[0] if found else None


def _includes_pyramid_tm(project: Project) -> Span | None:
    """Where the app includes pyramid_tm (`config.include("pyramid_tm")`), if code qlint read does."""
    for _, call in calls(project):
        if isinstance(call.func, ir.Attr) and call.func.attr == "include" and call.args and \
                isinstance(call.args[0], ir.Const) and call.args[0].value == "pyramid_tm":
            return call.span
    return None


def _non_atomic(ctx: Context, decorator: ir.Expr) -> bool:
    """`@non_atomic_requests`, `@non_atomic_requests()`, `@non_atomic_requests(using="default")`,
    or the same wrapped in method_decorator()."""
    if isinstance(decorator, ir.Call) and _qualname_of(ctx, decorator) in _METHOD_DECORATOR and decorator.args:
        return _non_atomic(ctx, decorator.args[0])
    if _qualname_of(ctx, decorator) not in _NON_ATOMIC:
        return False
    if isinstance(decorator, ir.Call):
        using = decorator.kwarg("using") or (decorator.args[0] if decorator.args else None)
        return using is None or (isinstance(using, ir.Const) and using.value == "default")
    return True


def _takes_request(func: ir.FuncDef) -> bool:
    names = [p.name for p in func.params if p.kind in ("posonly", "pos")]
    if names and names[0] in ("self", "cls"):
        names = names[1:]
    return bool(names) and names[0] == "request"


def _is_view_module(path: str, root: str) -> bool:
    parts = PurePosixPath(in_project(path, root)).with_suffix("").parts
    return "views" in parts and not is_test_path(path, root)


def _is_view_name(qualname: str) -> bool:
    return qualname.startswith(_VIEW_MODULES) or ".views." in qualname or qualname.endswith(_VIEW_SUFFIXES)


def _is_model_admin(qualname: str) -> bool:
    return qualname.startswith("django.contrib.") and qualname.endswith("Admin")


def _derives(cls: ClassObj, test, seen: frozenset[int] = frozenset()) -> bool:
    """Whether a class or one of its bases is a library class whose name passes test (a base the
    resolver could not follow counts by the name of its class)."""
    if test(cls.name) and seen:
        return True
    for base in cls.bases:
        obj = base.value
        if isinstance(obj, Sym) and test(obj.qualname):
            return True
        if isinstance(obj, ClassObj) and id(obj) not in seen and _derives(obj, test, seen | {id(cls)}):
            return True
    return False
