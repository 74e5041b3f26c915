"""What kombu's JSON serializer cannot encode, among the values passed to a task.

kombu.utils.json.JSONEncoder (kombu 5.3+) encodes what the json module does plus
datetime, date, time, Decimal, UUID, bytes, Django's lazy strings and any object with a
`__json__` method; everything else raises TypeError, which kombu turns into EncodeError
when the message is published. unencodable() names a value only when its type is
certain: it narrows payloads.Classifier (every binding of a name must agree, a model
class must be a Django model) and adds the types that fail without carrying data
(sets, timedeltas, paths, iterators, functions, task objects, instances of the
project's own classes).
"""
from __future__ import annotations

from qlint.semantics.callsites import Context, render
from qlint.semantics.payloads import MANAGERS, Carried, Classifier, element_of
from qlint.resolve.objects import ClassObj, FuncObj, Sym, TaskObj
from qlint.sources import ir

FAILING_KINDS = frozenset({
    "model-instance", "model-instances", "queryset", "file-handle", "upload", "upload-list",
    "set", "timedelta", "path", "iterator", "function", "task", "instance",
})
DJANGO_MODEL_BASES = frozenset({
    "django.db.models.Model", "django.db.models.base.Model", "django.contrib.gis.db.models.Model",
    "django.contrib.auth.models.AbstractUser", "django.contrib.auth.models.AbstractBaseUser",
    "django.contrib.auth.base_user.AbstractBaseUser", "django.contrib.auth.models.User",
})
DJANGO_MODELS = frozenset({
    "django.contrib.auth.models.User", "django.contrib.auth.models.Group", "django.contrib.auth.models.Permission",
    "django.contrib.contenttypes.models.ContentType", "django.contrib.sites.models.Site",
})
_SETS = frozenset({"builtins.set", "builtins.frozenset"})
_ITERATORS = frozenset({
    "builtins.range", "builtins.map", "builtins.filter", "builtins.zip", "builtins.enumerate", "builtins.reversed",
    "builtins.iter",
})
_PATHS = frozenset({
    "pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "pathlib.WindowsPath", "pathlib.PurePosixPath",
    "pathlib.PureWindowsPath",
})
_PATH_METHODS = frozenset({"resolve", "absolute", "expanduser", "with_name", "with_suffix", "with_stem", "joinpath"})
_SET_METHODS = frozenset({"union", "intersection", "difference", "symmetric_difference", "copy"})
_SET_OPERATORS = frozenset({"|", "&", "-", "^"})
# ir.Opaque reasons (sources/python.py) of expressions whose value has a known type.
_OPAQUE = {
    "GeneratorExp expression": ("iterator", "a generator"),
    "Lambda expression": ("function", "a lambda"),
    "SetComp expression": ("set", "a set comprehension"),
}
_SHORTHAND = {"file-handle": "an open file", "upload-list": "a list of uploaded files"}


def unencodable(ctx: Context, expr: ir.Expr) -> Carried | None:
    """What expr certainly is when kombu's JSON encoder refuses it; None otherwise."""
    found = _JsonClassifier(ctx).kind(expr, 0)
    if found is None or found.kind not in FAILING_KINDS:
        return None
    if found.kind in _SHORTHAND:
        return Carried(found.kind, f"{_SHORTHAND[found.kind]} ({found.what})", found.origin)
    return found


def django_model(ctx: Context, expr: ir.Expr) -> bool:
    """True when expr names a Django model class without a __json__ method."""
    obj = ctx.resolve(expr)
    if isinstance(obj, Sym):
        return obj.qualname in DJANGO_MODELS
    return isinstance(obj, ClassObj) and obj.derives_from(DJANGO_MODEL_BASES) and obj.lookup("__json__") is None


class _JsonClassifier(Classifier):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx, limit=1 << 62)

    # ------------------------------------------------------------ names: every binding must agree

    def _Name(self, expr: ir.Name, depth: int) -> Carried | None:
        bindings = self.ctx.lookup(expr.id)
        if bindings is None:
            return self._module_name(expr)
        found: list[Carried] = []
        for binding in bindings:
            if binding.kind == "def":
                found.append(Carried("function", f"the function {expr.id}", binding.span))
                continue
            if binding.kind == "param":
                inner = self._parameter(expr, binding.span)  # the instance a signal hands its receiver
            else:
                inner = self.kind(binding.value, depth) if binding.value is not None and binding.kind in (
                    "assign", "with", "for") else None
            if inner is not None and binding.kind == "for":
                inner = element_of(inner)
            if inner is None or (binding.kind == "with" and inner.kind != "file-handle"):
                return None
            found.append(inner)
        return found[0] if found else None

    def _module_name(self, expr: ir.Name) -> Carried | None:
        value = self.ctx.project.module_value(self.ctx.path, expr.id)
        if value is None or value.status != "known":
            return None
        return _object_kind(value.value, expr.id, value.origin or expr.span) or (
            Carried("set", f"the set {expr.id}", value.origin or expr.span)
            if isinstance(value.value, (set, frozenset)) else None)

    # ------------------------------------------------------------ literals and operators

    def _Coll(self, expr: ir.Coll, depth: int) -> Carried | None:
        if expr.kind == "set":
            return Carried("set", "a set literal", expr.span)
        return self._first_failing(expr.elts, f"a {expr.kind}", depth)

    def _DictE(self, expr: ir.DictE, depth: int) -> Carried | None:
        return self._first_failing(tuple(v for _, v in expr.items), "a dict", depth)

    def _first_failing(self, elts: tuple[ir.Expr, ...], container: str, depth: int) -> Carried | None:
        for elt in elts:
            inner = self.kind(elt, depth)
            if inner is not None and inner.kind in FAILING_KINDS:
                if inner.kind == "model-instance":
                    return Carried("model-instances", f"{container} holding {inner.what}", inner.origin)
                return Carried(inner.kind, f"{container} holding {inner.what}", inner.origin)
        return None

    def _Opaque(self, expr: ir.Opaque, depth: int) -> Carried | None:
        known = _OPAQUE.get(expr.reason)
        return Carried(known[0], known[1], expr.span) if known else None

    def _BinOp(self, expr: ir.BinOp, depth: int) -> Carried | None:
        left = self.kind(expr.left, depth)
        if left is not None and (left.kind, expr.op) == ("path", "/"):
            return Carried("path", f"a path object ({render(expr.left)} / {render(expr.right)})", expr.span)
        if left is not None and left.kind == "set" and expr.op in _SET_OPERATORS:
            return left
        return None

    def _IfExp(self, expr: ir.IfExp, depth: int) -> Carried | None:
        return self._all_failing((expr.body, expr.orelse), depth)

    def _BoolOp(self, expr: ir.BoolOp, depth: int) -> Carried | None:
        return self._all_failing(expr.values, depth)

    def _all_failing(self, options: tuple[ir.Expr, ...], depth: int) -> Carried | None:
        found = [self.kind(e, depth) for e in options]
        return found[0] if all(f is not None and f.kind in FAILING_KINDS for f in found) else None

    def _FStr(self, expr: ir.FStr, depth: int) -> Carried | None:
        return None  # a string

    # ------------------------------------------------------------ attributes and calls

    def _Attr(self, expr: ir.Attr, depth: int) -> Carried | None:
        if expr.attr in MANAGERS and not django_model(self.ctx, expr.value):
            return None
        found = super()._Attr(expr, depth)
        if found is not None:
            return found
        if expr.attr == "parent":
            base = self.kind(expr.value, depth)
            if base is not None and base.kind == "path":
                return Carried("path", f"a path object ({render(expr)})", expr.span)
        return _object_kind(self.ctx.resolve(expr), render(expr), expr.span)

    def _Call(self, expr: ir.Call, depth: int) -> Carried | None:
        target = self.ctx.resolve(expr.func)
        # A module-level instance resolves to its class too: only a call of the class by its name makes one.
        if isinstance(target, ClassObj) and render(expr.func).rsplit(".", 1)[-1] == target.name:
            return self._instance(target, expr)
        func = expr.func
        if isinstance(func, ir.Attr) and func.attr == "open":
            base = self.kind(func.value, depth)
            if base is not None and base.kind == "path":
                return Carried("file-handle", render(expr), expr.span)
            return base if base is not None and base.kind == "upload" else None
        return super()._Call(expr, depth)

    def _library_call(self, qualname: str, expr: ir.Call, depth: int) -> Carried | None:
        if qualname in _SETS:
            return Carried("set", f"a set ({render(expr)})", expr.span)
        if qualname in _ITERATORS:
            return Carried("iterator", f"a {qualname.split('.')[1]} object ({render(expr)})", expr.span)
        if qualname == "datetime.timedelta":
            return Carried("timedelta", f"a timedelta ({render(expr)})", expr.span)
        if qualname in _PATHS:
            return Carried("path", f"a path object ({render(expr)})", expr.span)
        if qualname in ("django.shortcuts.get_object_or_404", "django.shortcuts.get_list_or_404"):
            if not expr.args or not django_model(self.ctx, expr.args[0]):
                return None
        return super()._library_call(qualname, expr, depth)

    def _method(self, base: Carried, method: str, expr: ir.Call) -> Carried | None:
        if base.kind == "path" and method in _PATH_METHODS:
            return Carried("path", f"a path object ({render(expr)})", expr.span)
        if base.kind == "set" and method in _SET_METHODS:
            return base
        return super()._method(base, method, expr)

    def _instance(self, cls: ClassObj, expr: ir.Call) -> Carried | None:
        if cls.lookup("__json__") is not None:
            return None
        if cls.derives_from(DJANGO_MODEL_BASES):
            return Carried("model-instance", f"a model instance ({render(expr)})", expr.span)
        if _plain_class(self.ctx, cls):
            return Carried("instance", f"an instance of the class {cls.name} ({render(expr)})", expr.span)
        return None


def _object_kind(obj: object, written: str, span) -> Carried | None:
    if isinstance(obj, TaskObj):
        return Carried("task", f"the task object {written}", span)
    if isinstance(obj, FuncObj) and not _class_property(obj.func):
        return Carried("function", f"the function {written}", span)
    return None


def _class_property(func: ir.FuncDef) -> bool:
    """A method read as a value on its class: Django's @classproperty, or @classmethod over
    @property (Python 3.9 to 3.12), so `Config.python_path` is what it returns."""
    names = {d.attr if isinstance(d, ir.Attr) else d.id for d in func.decorators if isinstance(d, (ir.Attr, ir.Name))}
    return "classproperty" in names or {"classmethod", "property"} <= names


def _plain_class(ctx: Context, cls: ClassObj, seen: frozenset[int] = frozenset()) -> bool:
    """True when every class in cls's hierarchy is the project's own, or object: nothing
    there can make its instances JSON (a dict or str base, a __json__ from a library)."""
    if id(cls) in seen:
        return False
    for base, written in zip(cls.bases, _base_expressions(ctx, cls)):
        if isinstance(base.value, ClassObj):
            if not _plain_class(ctx, base.value, seen | {id(cls)}):
                return False
        elif not (isinstance(written, ir.Name) and written.id == "object"
                  and ctx.project.module_value(cls.module, "object") is None):
            return False
    return len(cls.bases) == len(_base_expressions(ctx, cls))


def _base_expressions(ctx: Context, cls: ClassObj) -> tuple[ir.Expr, ...]:
    """The bases of cls as written, from the facts of its module."""
    facts = ctx.project.workspace.load_facts(cls.module)
    stack = list(facts.body) if facts is not None else []
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, ir.ClassDef) and stmt.span == cls.span:
            return stmt.bases
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, name, None)
            if isinstance(inner, tuple):
                stack.extend(inner)
        if isinstance(stmt, ir.Try):
            stack.extend(s for _, body in stmt.handlers for s in body)
    return ()
