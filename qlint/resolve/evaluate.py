"""Evaluating expressions of the IR to Values, in the scope of one module.

Knows the handful of library calls that matter for Celery settings: os.environ and
os.getenv, django-environ, python-decouple, timedelta, casts and string methods.
Anything else is unknown, with the reason.
"""
from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any, Callable

from qlint.model import Span, Value, known, unknown
from qlint.resolve import env_reads, split_settings
from qlint.resolve import values as V
from qlint.resolve.objects import (
    UNSET, AppObj, BoundMethod, ClassObj, ConfRef, DynaconfDjango, EnvReader, FlaskApp, FlaskConfig, FuncObj, ModuleRef, Sym,
    TaskDecorator, TaskObj,
)
from qlint.sources import ir

if TYPE_CHECKING:
    from qlint.resolve.host import Frame

CELERY_CLASSES = frozenset({"celery.Celery", "celery.app.Celery", "celery.app.base.Celery"})
FLASK_CLASSES = frozenset({"flask.Flask", "flask.app.Flask"})
SHARED_TASK = frozenset({"celery.shared_task", "celery.app.shared_task", "celery.decorators.task"})
TASK_CLASSES = frozenset({"celery.Task", "celery.app.task.Task", "celery.task.Task"})
ENV_GET = frozenset({"os.environ.get", "os.getenv", "os.environ.setdefault"})
TIMEDELTA = frozenset({"datetime.timedelta"})
BUILTINS = frozenset({"int", "float", "str", "bytes", "bool", "dict", "list", "tuple", "set", "len", "min", "max", "abs",
                      "round", "frozenset", "sorted", "getattr", "vars", "isinstance"})
_STR_METHODS = frozenset({
    "lower", "upper", "strip", "lstrip", "rstrip", "split", "startswith", "endswith", "replace",
    "title", "capitalize", "casefold", "isdigit", "format", "join", "rsplit", "removeprefix", "removesuffix",
})
_DICT_METHODS = frozenset({"get", "copy", "keys", "values", "items"})
_MAX_MEMBERS = 10_000
_BUILTIN_TYPES = {f"builtins.{t.__name__}": t for t in (str, bytes, int, float, bool, list, tuple, dict, set, frozenset)}
_FILE_TESTS = frozenset({"os.path.isfile", "os.path.exists", "posixpath.isfile", "posixpath.exists"})
_PATH_STEPS = frozenset({"os.path.dirname", "os.path.abspath", "os.path.realpath", "os.path.normpath"})


def seconds_of_timedelta(kwargs: dict[str, Any], args: list[Any]) -> float:
    units = ["days", "seconds", "microseconds", "milliseconds", "minutes", "hours", "weeks"]
    factors = {"days": 86400, "seconds": 1, "microseconds": 1e-6, "milliseconds": 1e-3, "minutes": 60, "hours": 3600, "weeks": 604800}
    total = 0.0
    for unit, amount in list(zip(units, args)) + list(kwargs.items()):
        if unit not in factors or not isinstance(amount, (int, float)) or isinstance(amount, bool):
            raise TypeError(unit)
        total += amount * factors[unit]
    return int(total) if float(total).is_integer() else total


class Evaluator:
    """Evaluates expressions against a Scope (see interpreter.py)."""

    def __init__(self, scope: "Frame") -> None:
        self.scope = scope

    def eval(self, expr: ir.Expr) -> Value:
        method: Callable[[Any], Value] = getattr(self, f"_{type(expr).__name__}", self._other)
        return method(expr)

    # ------------------------------------------------------------ simple nodes

    def _Const(self, expr: ir.Const) -> Value:
        return known(expr.value, expr.span)

    def _Name(self, expr: ir.Name) -> Value:
        found = self.scope.lookup(expr.id)
        if found is not None:
            return found
        if expr.id in BUILTINS:
            return known(Sym(f"builtins.{expr.id}"), expr.span)
        if expr.id == "__name__":
            return known(self.scope.module_name, expr.span)
        if expr.id == "__file__":
            return known(self.scope.module_path, expr.span)
        return unknown(f"name {expr.id!r} is not defined where qlint can see it", expr.span)

    def _Opaque(self, expr: ir.Opaque) -> Value:
        if expr.comp is not None:
            return self.comprehension(expr.comp, expr.span)
        return unknown(f"{expr.reason} is not evaluated", expr.span)

    def comprehension(self, comp: ir.Comp, span: Span) -> Value:
        """A comprehension over a mapping or sequence whose members are known, run as Python
        would: the filters and the key of each member must be known for the result to be."""
        members = self.iterated(comp.iter)
        if isinstance(members, Value):
            return members
        if len(members) > _MAX_MEMBERS:
            return unknown(f"comprehension not evaluated: {len(members):,} members", span)
        inner = type(self.scope)(self.scope.workspace, self.scope.module, outer=self.scope)
        items: dict[Any, Value] = {}
        elements: list[Value] = []
        for member in members:
            if not _bind(inner.names, comp.target, member):
                return unknown("comprehension not evaluated: its target cannot be read", span)
            tests = [inner.evaluator.eval(test) for test in comp.ifs]
            if any(t.status != "known" for t in tests):
                return unknown("comprehension not evaluated: its filter cannot be read", span)
            if not all(t.value for t in tests):
                continue
            value = inner.evaluator.eval(comp.value)
            if comp.key is None:
                elements.append(value)
                continue
            key = inner.evaluator.eval(comp.key)
            if key.status != "known" or not V.is_plain(key.value) or isinstance(key.value, (list, dict)):
                return unknown("comprehension not evaluated: a key cannot be read", span)
            items[key.value] = value
        if comp.key is not None:
            return make_dict(items, span)
        maker = frozenset if comp.kind == "set" else list
        return V.combine(elements, lambda *raw: maker(raw), span, f"{comp.kind} comprehension")

    def module_namespace(self, ref: ModuleRef, span: Span) -> Value:
        """A module's __dict__ (vars(module)): every name it binds, as a dict."""
        workspace = self.scope.workspace
        env = workspace.module_env(ref.path)
        if env is None or env.opaque is not None or env.unseen is not None:
            why = (env.opaque or env.unseen) if env is not None else "it cannot be read"
            return unknown(f"the namespace of module {ref.name}: {why}", span)
        names = workspace.resolved_names(env)
        return make_dict({name: V.with_origin(value, env.spans[name]) if name in env.spans else value
                          for name, value in names.items()
                          if not name.startswith("__") and not (value.value is UNSET and value.status != "several")}, span)

    def iterated(self, expr: ir.Expr) -> list[Value | tuple[Value, ...]] | Value:
        """The members a `for` clause walks: (key, value) pairs for .items(); or why not."""
        method = None
        if isinstance(expr, ir.Call) and isinstance(expr.func, ir.Attr) and not expr.args and not expr.kwargs \
                and expr.func.attr in ("items", "keys", "values"):
            method, expr = expr.func.attr, expr.func.value
        source = self.eval(expr)
        if isinstance(source.value, FlaskConfig):
            source = self.scope.flask_config_value(source.value, expr.span)
        if source.status != "known":
            return unknown(f"comprehension not evaluated: it walks a value qlint cannot read ({source.reason or 'not known'})",
                           expr.span)
        if isinstance(source.value, dict):
            members = dict_items(source)
            if method == "items":
                return [(known(k, v.origin), v) for k, v in members.items()]
            if method == "values":
                return list(members.values())
            return [known(k, source.origin) for k in members]
        if method is None and isinstance(source.value, (list, tuple, frozenset)):
            return [known(x, source.origin) for x in source.value]
        return unknown("comprehension not evaluated: it walks a value qlint does not iterate", expr.span)

    def _other(self, expr: Any) -> Value:
        return unknown("expression is not evaluated", getattr(expr, "span", None))

    def _Starred(self, expr: ir.Starred) -> Value:
        return unknown("starred expression", expr.span)

    def _FStr(self, expr: ir.FStr) -> Value:
        parts = [known(p, expr.span) if isinstance(p, str) else self.eval(p) for p in expr.parts]
        return V.combine(parts, lambda *raw: "".join(str(r) for r in raw), expr.span, "f-string")

    def _Coll(self, expr: ir.Coll) -> Value:
        if any(isinstance(e, ir.Starred) for e in expr.elts):
            items: list[Value] = []
            for e in expr.elts:
                if isinstance(e, ir.Starred):
                    inner = self.eval(e.value)
                    if inner.status != "known" or not isinstance(inner.value, (list, tuple, set)):
                        return unknown("unpacks a value that cannot be read", expr.span)
                    items.extend(known(x, e.span) for x in inner.value)
                else:
                    items.append(self.eval(e))
        else:
            items = [self.eval(e) for e in expr.elts]
        maker = {"list": list, "tuple": tuple, "set": frozenset}[expr.kind]
        if all(v.status == "known" and v.value is not UNSET for v in items):
            # objects are kept too: environ.Env(X=(int, 3600)) needs the cast
            try:
                return known(maker(v.value for v in items), expr.span)
            except TypeError:
                return unknown(f"{expr.kind} of values that cannot be combined", expr.span)
        return V.combine(items, lambda *raw: maker(raw), expr.span, expr.kind)

    def _DictE(self, expr: ir.DictE) -> Value:
        items: dict[Any, Value] = {}
        for key_expr, value_expr in expr.items:
            if key_expr is None:
                spread = self.eval(value_expr)
                if spread.status != "known" or not isinstance(spread.value, dict):
                    return unknown("dict unpacks a value that cannot be read", expr.span)
                for k, v in dict_items(spread).items():
                    items[k] = v
                continue
            key = self.eval(key_expr)
            if key.status != "known" or not V.is_plain(key.value) or isinstance(key.value, (list, dict)):
                return unknown("dict key cannot be read", expr.span)
            items[key.value] = self.eval(value_expr)
        return make_dict(items, expr.span)

    def _IfExp(self, expr: ir.IfExp) -> Value:
        test = self.eval(expr.test)
        decided = V.truth(test)
        if decided is True:
            return self.eval(expr.body)
        if decided is False:
            return self.eval(expr.orelse)
        cond = V.describe_condition(expr.test_source, test)
        return V.several([(self.eval(expr.body), cond), (self.eval(expr.orelse), f"not ({cond})")], expr.span)

    def _BinOp(self, expr: ir.BinOp) -> Value:
        left, right = self.eval(expr.left), self.eval(expr.right)
        if expr.op == "|" and isinstance(left.value, dict) and isinstance(right.value, dict):
            merged = dict_items(left)
            merged.update(dict_items(right))
            return make_dict(merged, expr.span)
        return V.binop(expr.op, left, right, expr.span)

    def _UnaryOp(self, expr: ir.UnaryOp) -> Value:
        operand = self.eval(expr.operand)
        fns = {"-": lambda a: -a, "+": lambda a: +a, "not": lambda a: not a, "~": lambda a: ~a}
        return V.combine([operand], fns.get(expr.op, lambda a: (_ for _ in ()).throw(TypeError())), expr.span, expr.op)

    def _BoolOp(self, expr: ir.BoolOp) -> Value:
        result = self.eval(expr.values[0])
        for value_expr in expr.values[1:]:
            decided = V.truth(result)
            if decided is None:
                other = self.eval(value_expr)
                if result.status == "env-default" and other.status in ("known", "env-default"):
                    fn = (lambda a, b: a and b) if expr.op == "and" else (lambda a, b: a or b)
                    return V.combine([result, other], fn, expr.span, expr.op)
                return unknown(f"'{expr.op}' of a value that cannot be decided", expr.span)
            if (expr.op == "and" and not decided) or (expr.op == "or" and decided):
                return result
            result = self.eval(value_expr)
        return result

    def _Compare(self, expr: ir.Compare) -> Value:
        left = self.eval(expr.left)
        ops = [(op, self.eval(e)) for op, e in expr.ops]
        return V.compare(left, ops, expr.span)

    def _Sub(self, expr: ir.Sub) -> Value:
        base = self.eval(expr.value)
        index = self.eval(expr.index)
        if isinstance(base.value, Sym) and base.value.qualname == "os.environ" and index.status == "known":
            if str(index.value) in self.scope.env_set:
                return self.scope.env_set[str(index.value)]
            return env_reads.subscript(str(index.value), expr.span, self.scope.workspace.environ)
        if isinstance(base.value, FlaskConfig):
            return self.scope.flask_config_key(base.value, index, expr.span)
        if isinstance(base.value, dict) and index.status == "known":
            member = base.item(str(index.value)) if base.items is not None else None
            if member is not None:
                return member
            if index.value in base.value:
                return Value(base.status, base.value[index.value], base.origin, base.env)
            return unknown(f"key {index.value!r} is not in the dict", expr.span)
        return V.combine([base, index], lambda b, i: b[i], expr.span, "subscript")

    def _Attr(self, expr: ir.Attr) -> Value:
        base = self.eval(expr.value)
        obj = base.value
        if isinstance(obj, Sym):
            if obj.qualname == "django.conf.settings":
                return self.scope.django_setting(expr.attr, expr.span)
            return V.external(f"{obj.qualname}.{expr.attr}", expr.span)
        if isinstance(obj, ModuleRef):
            if expr.attr == "__dict__":
                return self.module_namespace(obj, expr.span)
            found = self.scope.module_attr(obj, expr.attr)
            if found is not None:
                return found
            return unknown(f"{obj.name}.{expr.attr} is not defined", expr.span)
        if isinstance(obj, AppObj):
            if expr.attr == "conf":
                return known(ConfRef(obj), expr.span)
            if expr.attr == "task":
                return known(TaskDecorator(obj, span=expr.span), expr.span)
            return known(BoundMethod(base, expr.attr), expr.span)
        if isinstance(obj, ConfRef):
            current = self.scope.conf_value(obj.app, expr.attr)
            if current is not None and expr.attr not in ("update", "setdefault", "get", "add_defaults"):
                return current
            return known(BoundMethod(base, expr.attr), expr.span)
        if isinstance(obj, FlaskApp):
            if expr.attr == "config":
                return known(obj.config, expr.span)
            return unknown(f"attribute {expr.attr} of a Flask app", expr.span)
        if isinstance(obj, FlaskConfig):
            return known(BoundMethod(base, expr.attr), expr.span)
        if isinstance(obj, ClassObj):
            found = obj.lookup(expr.attr)
            if found is not None:
                return found
            return unknown(f"class {obj.name} has no attribute {expr.attr}", expr.span)
        if isinstance(obj, EnvReader) or (base.status in ("known", "env-default") and V.is_plain(obj)):
            return known(BoundMethod(base, expr.attr), expr.span)
        if base.status == "unknown":
            return unknown(base.reason or "unknown value", expr.span)
        return unknown(f"attribute {expr.attr} of a value qlint does not model", expr.span)

    # ------------------------------------------------------------ calls

    def _Call(self, expr: ir.Call) -> Value:
        func = self.eval(expr.func)
        target = func.value
        if isinstance(target, Sym):
            return self.call_symbol(target.qualname, expr)
        if isinstance(target, BoundMethod):
            return self.call_method(target, expr)
        if isinstance(target, EnvReader):
            return self.env_read(target, None, expr)
        if isinstance(target, TaskDecorator):
            return self.task_decorator_call(target, expr)
        if isinstance(target, ClassObj):
            if self.scope.is_celery_class(target):
                return self.scope.new_app(expr, subclass=target)
            if target.derives_from(FLASK_CLASSES):
                return self.scope.new_flask_app(expr)
            return known(target, expr.span)  # an instance: attributes read through the class
        if isinstance(target, FuncObj):
            made = self.scope.call_function(target, expr)
            if made is None:
                made = self.scope.task_factory(target, expr)
            if made is None:
                made = self.scope.call_helper(target, expr)
            if made is not None:
                return made
        if isinstance(target, (FuncObj, TaskObj)):
            return unknown(f"result of calling {target.func.name}()", expr.span)
        if func.status == "unknown":
            return unknown(func.reason or "call of an unknown function", expr.span)
        return unknown("call is not evaluated", expr.span)

    def args(self, expr: ir.Call) -> tuple[list[Value], dict[str, Value], bool]:
        """Positional and keyword argument values; the flag says **/* could not be read."""
        positional: list[Value] = []
        keywords: dict[str, Value] = {}
        opaque = False
        for arg in expr.args:
            if isinstance(arg, ir.Starred):
                inner = self.eval(arg.value)
                if inner.status == "known" and isinstance(inner.value, (list, tuple)):
                    positional.extend(known(v, arg.span) for v in inner.value)
                else:
                    opaque = True
            else:
                positional.append(self.eval(arg))
        for key, value_expr in expr.kwargs:
            value = self.eval(value_expr)
            if key is None:
                if value.status == "known" and isinstance(value.value, dict):
                    keywords.update({str(k): v for k, v in dict_items(value).items()})
                else:
                    opaque = True
            else:
                keywords[key] = value
        return positional, keywords, opaque

    def call_symbol(self, qualname: str, expr: ir.Call) -> Value:
        span = expr.span
        if qualname in CELERY_CLASSES:
            return self.scope.new_app(expr)
        if qualname in FLASK_CLASSES:
            return self.scope.new_flask_app(expr)
        if qualname in split_settings.INCLUDE:
            return self.scope.include_settings(expr)
        if qualname in SHARED_TASK:
            return self.task_decorator_call(TaskDecorator(None, span=span), expr)
        if qualname in ENV_GET:
            return self.os_env(expr)
        if qualname in TIMEDELTA:
            pos, kw, opaque = self.args(expr)
            if opaque:
                return unknown("timedelta() with arguments that cannot be read", span)
            names = list(kw)
            return V.combine(pos + [kw[n] for n in names],
                             lambda *raw: seconds_of_timedelta(dict(zip(names, raw[len(pos):])), list(raw[: len(pos)])),
                             span, "timedelta()")
        if qualname in ("environ.Env", "environ.environ.Env", "environ.FileAwareEnv", "environ.environ.FileAwareEnv"):
            _, kw, _ = self.args(expr)
            schema = []
            for var, spec in kw.items():
                raw = spec.value
                if spec.status == "known" and isinstance(raw, tuple) and len(raw) == 2:
                    schema.append((var, raw[0], raw[1]))
            return known(EnvReader("environ", tuple(schema)), span)
        if qualname in ("dynaconf.DjangoDynaconf", "dynaconf.contrib.DjangoDynaconf",
                        "dynaconf.contrib.django_dynaconf_v2.load"):
            return self.dynaconf_django(expr)
        if qualname in ("decouple.config",):
            return self.env_read(EnvReader("decouple"), None, expr)
        if qualname in ("decouple.AutoConfig", "decouple.Config"):
            return known(EnvReader("decouple"), span)
        if qualname in ("os.path.basename", "posixpath.basename") and len(expr.args) == 1 and not expr.kwargs:
            return self.basename(expr)
        if qualname in _FILE_TESTS and len(expr.args) == 1 and not expr.kwargs:
            return self.image_file_test(expr)
        if qualname.startswith("builtins."):
            return self.builtin(qualname.split(".", 1)[1], expr)
        if qualname in ("kombu.Queue", "kombu.entity.Queue"):
            pos, kw, _ = self.args(expr)
            name = pos[0] if pos else kw.get("name")
            if name is not None and name.status == "known":
                return known({"__queue__": name.value}, span)
            return unknown("Queue() whose name cannot be read", span)
        if qualname.startswith("celery.schedules."):
            return known(f"{qualname.rsplit('.', 1)[1]}(...)", span)
        return unknown(f"call to {qualname}() is not evaluated", span)

    def image_file_test(self, expr: ir.Call) -> Value:
        """os.path.isfile("/etc/app/app.conf") of a path a Dockerfile of the project copies a file
        to: true where the app runs in that image. Any other path may or may not be there."""
        path = self.eval(expr.args[0])
        if path.status == "known" and isinstance(path.value, str) and path.value in self.scope.workspace.image_files:
            return known(True, expr.span)
        return unknown(f"whether {path.value if path.status == 'known' else 'a path'} exists where the app runs", expr.span)

    def basename(self, expr: ir.Call) -> Value:
        """os.path.basename(): of a string, or of a folder of this file (`basename(dirname(__file__))`,
        the package's name), which is the same whichever folder the project is checked out in."""
        path = self._path_below_root(expr.args[0])
        if path is None:
            value = self.eval(expr.args[0])
            if value.status != "known" or not isinstance(value.value, str):
                return unknown("os.path.basename() of a value that cannot be read", expr.span)
            return known(posixpath.basename(value.value), expr.span)
        name = posixpath.basename(path)
        if not name:  # the checkout folder itself, whose name qlint does not know
            return unknown("os.path.basename() of the folder the project is checked out in", expr.span)
        return known(name, expr.span)

    def _path_below_root(self, expr: ir.Expr) -> str | None:
        """`__file__` and os.path.dirname/abspath/realpath of it, as a path below the checked root."""
        if isinstance(expr, ir.Name) and expr.id == "__file__" and self.scope.lookup("__file__") is None:
            return self.scope.module_path
        if isinstance(expr, ir.Call) and len(expr.args) == 1 and not expr.kwargs:
            func = self.eval(expr.func)
            name = func.value.qualname if isinstance(func.value, Sym) else None
            inner = self._path_below_root(expr.args[0]) if name in _PATH_STEPS else None
            if inner is not None:
                return posixpath.dirname(inner) if name.endswith("dirname") else inner
        return None

    def dynaconf_django(self, expr: ir.Call) -> Value:
        _, kw, opaque = self.args(expr)
        files = kw.get("settings_files") or kw.get("SETTINGS_FILE_FOR_DYNACONF")
        if opaque or (files is not None and files.status != "known"):
            return unknown("DjangoDynaconf() with settings files that cannot be read", expr.span)
        names = files.value if files is not None else None
        if isinstance(names, str):
            names = tuple(n.strip() for n in names.replace(";", ",").split(",") if n.strip())
        if names is not None and not all(isinstance(n, str) for n in names):
            return unknown("DjangoDynaconf() with settings files that cannot be read", expr.span)
        return known(DynaconfDjango(tuple(names) if names is not None else None), expr.span)

    def builtin(self, name: str, expr: ir.Call) -> Value:
        pos, kw, opaque = self.args(expr)
        span = expr.span
        if opaque:
            return unknown(f"{name}() with arguments that cannot be read", span)
        if name == "getattr" and len(pos) in (2, 3) and not kw:
            return self.getattr_(pos, span)
        if name in ("int", "float", "str", "bool") and len(pos) == 1 and not kw:
            arg = pos[0]
            if name == "bool" and arg.status == "env-default" and isinstance(arg.value, str):
                return Value("env-default", bool(arg.value), span, env=arg.env)
            return V.cast(name, arg, span)
        if name == "dict" and not pos:
            return make_dict(dict(kw), span)
        if name == "dict" and len(pos) == 1:
            return self.dict_of(expr.args[0], pos[0], kw, span)
        if name == "vars" and len(pos) == 1 and not kw and isinstance(pos[0].value, ModuleRef):
            return self.module_namespace(pos[0].value, span)
        if name in ("list", "tuple", "set", "frozenset", "sorted") and len(pos) == 1:
            maker = {"list": list, "tuple": tuple, "set": frozenset, "frozenset": frozenset, "sorted": sorted}[name]
            return V.combine(pos, maker, span, f"{name}()")
        if name == "isinstance" and len(pos) == 2 and not kw:
            return self.isinstance_(pos[0], pos[1], span)
        if name in ("min", "max", "abs", "round", "len") and not kw:
            fn = {"min": min, "max": max, "abs": abs, "round": round, "len": len}[name]
            return V.combine(pos, fn, span, f"{name}()")
        return unknown(f"{name}() is not evaluated here", span)

    def isinstance_(self, value: Value, kinds: Value, span: Span) -> Value:
        """isinstance() of a plain value (a string, number, list...) against builtin types."""
        names = kinds.value if kinds.status == "known" and isinstance(kinds.value, tuple) else (kinds.value,)
        types = [_BUILTIN_TYPES.get(n.qualname) if isinstance(n, Sym) else None for n in names]
        if kinds.status != "known" or None in types:
            return unknown("isinstance() of a type qlint does not model", span)
        return V.combine([value], lambda v: isinstance(v, tuple(types)), span, "isinstance()")

    def dict_of(self, arg: ir.Expr, first: Value, kw: dict[str, Value], span: Span) -> Value:
        """dict(mapping, **kw), or dict() of (key, value) pairs made by a comprehension."""
        comp = arg.comp if isinstance(arg, ir.Opaque) else None
        if comp is not None and comp.kind in ("gen", "list") and isinstance(comp.value, ir.Coll) \
                and comp.value.kind == "tuple" and len(comp.value.elts) == 2:
            key, value = comp.value.elts
            first = self.comprehension(ir.Comp("dict", key, value, comp.target, comp.iter, comp.ifs), span)
        if first.status != "known" or not isinstance(first.value, dict):
            return unknown(first.reason or "dict() of a value qlint cannot read", span)
        return make_dict({**dict_items(first), **kw}, span)

    def getattr_(self, pos: list[Value], span: Span) -> Value:
        """getattr(obj, "NAME", default): settings, modules and classes of the project."""
        target, attr = pos[0].value, pos[1]
        if attr.status != "known" or not isinstance(attr.value, str):
            return unknown("getattr() with a name that cannot be read", span)
        found: Value | None = None
        if isinstance(target, Sym) and target.qualname == "django.conf.settings":
            found = self.scope.django_setting(attr.value, span, missing_ok=len(pos) == 3)
        elif isinstance(target, ModuleRef):
            found = self.scope.module_attr(target, attr.value)
        elif isinstance(target, ClassObj):
            found = target.lookup(attr.value)
        else:
            return unknown("getattr() of a value qlint does not model", span)
        if found is not None:
            return found
        return pos[2] if len(pos) == 3 else unknown(f"attribute {attr.value} is not set", span)

    def os_env(self, expr: ir.Call) -> Value:
        pos, kw, _ = self.args(expr)
        return env_reads.os_environ(pos, kw, expr.span, self.scope.workspace.environ)

    def env_read(self, reader: EnvReader, method: str | None, expr: ir.Call) -> Value:
        pos, kw, _ = self.args(expr)
        return env_reads.library(reader, method, pos, kw, expr.span, self.scope.workspace.environ)

    def call_method(self, method: BoundMethod, expr: ir.Call) -> Value:
        target, name = method.target, method.name
        obj = target.value
        span = expr.span
        if isinstance(obj, EnvReader):
            return self.env_read(obj, name, expr)
        if isinstance(obj, (AppObj, ConfRef)):
            return self.scope.app_method(obj, name, expr)
        if isinstance(obj, FlaskConfig):
            return self.scope.flask_config_call(obj, name, expr)
        if isinstance(obj, dict) and name in _DICT_METHODS:
            pos, _, _ = self.args(expr)
            if name == "get" and pos:
                key = pos[0]
                if key.status == "known":
                    member = target.item(str(key.value)) if target.items is not None else None
                    if member is not None:
                        return member
                    if key.value in obj:
                        return Value(target.status, obj[key.value], span, target.env)
                    return pos[1] if len(pos) > 1 else known(None, span)
            if name == "copy":
                return target
            return unknown(f"dict.{name}() is not evaluated", span)
        if isinstance(obj, str) and name in _STR_METHODS:
            pos, kw, opaque = self.args(expr)
            if opaque or kw:
                return unknown(f"str.{name}() with arguments that cannot be read", span)
            return V.combine([target] + pos, lambda s, *a: getattr(s, name)(*a), span, f"str.{name}()")
        if isinstance(obj, (int, float)) and name == "total_seconds":
            return target
        if target.status == "unknown":
            return unknown(target.reason or "unknown value", span)
        return unknown(f".{name}() is not evaluated", span)

    def task_decorator_call(self, decorator: TaskDecorator, expr: ir.Call) -> Value:
        """`app.task(...)` / `shared_task(...)`: a factory of decorators, or applied to a function,
        which it registers as a task there: `app.task(func, name="runner")` and
        `app.task(**options)(func)` (Celery.task takes one callable argument as the function)."""
        pos, kw, opaque = self.args(expr)
        options = tuple(kw.items())
        merged = TaskDecorator(
            decorator.app,
            decorator.options + options,
            expr.span,
            "options unpacked from a value qlint cannot read" if opaque else decorator.unknown_options,
        )
        if len(pos) == 1 and isinstance(pos[0].value, FuncObj):
            func = pos[0].value
            task = TaskObj(func.func, func.module, merged, expr.span)
            tasks = self.scope.workspace.tasks
            if not any(t.func is task.func and t.decorator_span == task.decorator_span for t in tasks):
                tasks.append(task)
            return known(task, expr.span)
        return known(merged, expr.span)


def _bind(names: dict[str, Value], target: ir.Expr, member: "Value | tuple[Value, ...]") -> bool:
    """Bind a `for` target (a name, or a tuple of names) to one member."""
    if isinstance(target, ir.Name):
        names[target.id] = V.combine(list(member), lambda *raw: raw, None, "tuple") if isinstance(member, tuple) else member
        return True
    if isinstance(target, ir.Coll) and target.kind in ("tuple", "list"):
        parts = list(member) if isinstance(member, tuple) else None
        if parts is None and member.status == "known" and isinstance(member.value, (tuple, list)):
            parts = [known(x, member.origin) for x in member.value]
        if parts is None or len(parts) != len(target.elts):
            return False
        return all(_bind(names, t, part) for t, part in zip(target.elts, parts))
    return False


def dict_items(value: Value) -> dict[Any, Value]:
    """A dict Value's members as Values (synthesised from the plain dict when needed)."""
    if value.items is not None:
        return dict(value.items)
    if isinstance(value.value, dict):
        return {k: Value(value.status, v, value.origin, value.env) for k, v in value.value.items()}
    return {}


def make_dict(items: dict[Any, Value], span: Span | None) -> Value:
    plain = {k: (v.value if v.status in ("known", "env-default", "default") else None) for k, v in items.items()}
    if not all(V.is_plain(v) for v in plain.values()):
        plain = {k: (v if V.is_plain(v) else describe_object(v)) for k, v in plain.items()}
    return Value("known", plain, span, items=tuple((str(k), v) for k, v in items.items()))


def with_item(base: Value, key: Any, item: Value, span: Span | None) -> Value:
    """The dict Value base with key set to item (`d[key] = item`). A settings module may set
    thousands of keys one by one (a beat schedule): what is already there is copied, not
    looked into again, so each write costs a copy, not a walk over every value."""
    if base.items is None or not isinstance(base.value, dict):
        items = dict_items(base)
        items[key] = item
        return make_dict(items, span)
    plain = dict(base.value)
    raw = item.value if item.status in ("known", "env-default", "default") else None
    plain[key] = raw if V.is_plain(raw) else describe_object(raw)
    if key in base.value:
        pairs = tuple((k, item if k == str(key) else v) for k, v in base.items)
    else:
        pairs = base.items + ((str(key), item),)
    return Value("known", plain, span, items=pairs)


def describe_object(obj: Any) -> str:
    """A short stand-in for an object inside plain data: "<class MySchedule>"."""
    if isinstance(obj, (ClassObj, FuncObj, TaskObj)):
        kind = {ClassObj: "class", FuncObj: "function", TaskObj: "task"}[type(obj)]
        return f"<{kind} {obj.name if isinstance(obj, ClassObj) else obj.func.name}>"
    if isinstance(obj, Sym):
        return f"<{obj.qualname}>"
    if isinstance(obj, ModuleRef):
        return f"<module {obj.name}>"
    return f"<{type(obj).__name__}>"


__all__ = ["Evaluator", "dict_items", "make_dict", "with_item", "UNSET"]
