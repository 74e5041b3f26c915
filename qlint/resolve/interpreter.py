"""Runs the statements of a module abstractly, never importing or executing it.

The result of a module is its namespace: each name bound to a Value with the
span where it was last assigned. Conditional code (`if DEBUG:`) that cannot be
decided yields values of status several. Celery apps constructed on the way, writes
to their configuration and task definitions are recorded in the workspace, which the
interpreter reaches through the Host interface of host.py and never imports.
"""
from __future__ import annotations

from typing import Iterable, Iterator

from qlint.model import Span, Value, known, unknown
from qlint.resolve import values as V
from qlint.resolve import django, flask_config, split_settings
from qlint.resolve.host import Host, ModuleEnv
from qlint.resolve.evaluate import CELERY_CLASSES, SHARED_TASK, Evaluator, dict_items, make_dict, with_item
from qlint.resolve.objects import (
    UNSET, AppObj, ClassObj, Closure, ConfEvent, ConfRef, EnvReader, FlaskApp, FlaskConfig, FuncObj, LazyName, ModuleRef, Sym, TaskDecorator,
    TaskObj,
)
from qlint.resolve.task_factories import makes_tasks
from qlint.sources import ir

# Names always taken to be the installed library, whatever the project holds.
EXTERNAL_TOP = frozenset({
    "os", "sys", "datetime", "celery", "kombu", "django", "environ", "decouple", "json", "pathlib",
    "typing", "logging", "dynaconf", "flask", "redis", "collections", "functools",
})


class Scope:
    """Name lookup for one running module (or class body), plus hooks into the workspace."""

    def __init__(self, workspace: Host, module: ModuleEnv, outer: "Scope | None" = None) -> None:
        self.workspace = workspace
        self.module = module
        self.outer = outer
        self.names: dict[str, Value] = module.names if outer is None else {}
        self.spans: dict[str, Span] = module.spans if outer is None else {}
        self.imported: set[str] = module.imported if outer is None else set()
        self.conditions: list[str] = []
        # os.environ["X"] = value run here: what the code after it reads of X in this frame
        self.env_set: dict[str, Value] = {}
        self.evaluator = Evaluator(self)

    @property
    def module_name(self) -> str:
        return self.module.name

    @property
    def module_path(self) -> str:
        return self.module.path

    def lookup(self, name: str) -> Value | None:
        if name in self.names:
            value = self.names[name]
            if isinstance(value.value, LazyName):
                value = self.workspace.bind_resolved(self.names, self.spans, name, value, self.module.path)
            if value.value is UNSET and value.status != "several":
                return None
            return value
        if self.outer is not None:
            return self.outer.lookup(name)
        return None

    def module_attr(self, ref: ModuleRef, name: str) -> Value | None:
        env = self.workspace.module_env(ref.path)
        if env is None:
            return None
        if name in env.names:
            return self.workspace.resolve(env.names[name], self.module.path)
        sub = self.workspace.index.submodule(ref.path, name)
        if sub is not None:
            return known(ModuleRef(sub, f"{ref.name}.{name}"), None)
        return None

    def django_setting(self, name: str, span: Span, missing_ok: bool = False) -> Value | None:
        """settings.NAME; None when it is not set and missing_ok (getattr with a default)."""
        return django.setting_value(self.workspace, self.module.path, name, span, missing_ok)

    def conf_value(self, app: AppObj, key: str) -> Value | None:
        for event in reversed(app.events):
            if event.kind == "set" and event.key == key and event.value is not None:
                return event.value
        return None

    def is_celery_class(self, cls: ClassObj) -> bool:
        return cls.derives_from(CELERY_CLASSES)

    def new_app(self, expr: ir.Call, subclass: ClassObj | None = None) -> Value:
        pos, kw, _ = self.evaluator.args(expr)
        main = pos[0] if pos else kw.pop("main", known(None, expr.span))
        app = AppObj("", self.module.path, expr.span, main, kw, subclass=subclass.name if subclass else None)
        self.workspace.apps.append(app)
        if subclass is not None:
            self._run_configuring_methods(subclass, app, expr.span)
        return known(app, expr.span)

    def _run_configuring_methods(self, cls: ClassObj, app: AppObj, span: Span) -> None:
        """Methods of a project subclass of Celery that configure the app they are called on
        (`self.conf[...] = ...`, `self.conf.update(...)`, `self.config_from_object(...)`): __init__
        runs as the app is made; another (init_app()) writes when it is called, so what it writes
        holds only if it is, and after what the module itself writes."""
        active = self.workspace.running_functions
        for name, value in cls.all_attrs().items():
            func = value.value
            if not isinstance(func, FuncObj) or not func.func.params or not _configures_self(func.func):
                continue
            if id(func.func) in active or len(active) >= MAX_CALL_DEPTH:
                continue
            home_env = self.module if func.module == self.module.path else self.workspace.module_env(func.module)
            if home_env is None:
                continue
            local = Scope(self.workspace, home_env, outer=Scope(self.workspace, home_env))
            local.conditions = list(self.conditions) + ([] if name == "__init__" else [f"{cls.name}.{name}() is called"])
            for param in func.func.params:
                local.names[param.name] = unknown(f"argument {param.name} of {cls.name}.{name}()", span)
                local.spans[param.name] = span
            local.names[func.func.params[0].name] = known(app, span)
            before = len(app.events)
            active.add(id(func.func))
            try:
                _FunctionRun(local).run(func.func.body)
            finally:
                active.discard(id(func.func))
            if name != "__init__":
                app.late_events.extend(app.events[before:])
                del app.events[before:]

    def call_function(self, func: FuncObj, expr: ir.Call) -> Value | None:
        """Run a project function called by module code when it builds and returns an app (the
        factory of Flask's old guide: `def make_celery(app): celery = Celery(...); return celery`)
        or is handed one (`configure(app)`, or a Flask app whose config it copies), so that what it writes to the app's configuration
        counts. None for any other function, which is left unevaluated."""
        active = self.workspace.running_functions
        if id(func.func) in active or len(active) >= MAX_CALL_DEPTH:
            return None
        args = self.evaluator.args(expr) if expr.args or expr.kwargs else None
        handed = args is not None and any(isinstance(v.value, (AppObj, ConfRef, FlaskApp))
                                          for v in (*args[0], *args[1].values()))
        if not func.func.body_read and (handed or self._imports_flask(func.module)):
            # a module with no Celery marker: its function bodies were left out when it was read
            func = self.workspace.function_with_body(func) or func
        builds = builds_app(func.func) or builds_flask_app(func.func)
        if not builds and not handed:
            return None
        pos, kw, opaque = args if args is not None else self.evaluator.args(expr)
        home_env = self.module if func.module == self.module.path else self.workspace.module_env(func.module)
        if home_env is None:
            return None
        local = Scope(self.workspace, home_env, outer=Scope(self.workspace, home_env))
        local.conditions = list(self.conditions)
        _bind_parameters(local, func.func, pos, kw, opaque, expr.span)
        # Read before as a configurer nobody calls (run_uncalled_configurers): this call replaces that guess.
        for app in self.workspace.apps:
            app.late_events = [e for e in app.late_events if e.extra.get("configurer") != id(func.func)]
        made_before = len(self.workspace.apps)
        runner = _FunctionRun(local)
        active.add(id(func.func))
        self.workspace.ran_functions.add(id(func.func))
        try:
            runner.run(func.func.body)
        finally:
            active.discard(id(func.func))
        for app in self.workspace.apps[made_before:]:
            # Celery finds the app where the caller binds it (-A module:name), not in the factory.
            app.module, app.var = self.module.path, ""
        for kind in (AppObj, FlaskApp):
            returned = {id(v.value): v.value for v in runner.returns if isinstance(v.value, kind)}
            if len(returned) == 1 and all(isinstance(v.value, kind) for v in runner.returns):
                return known(next(iter(returned.values())), expr.span)
        return None

    def _imports_flask(self, module: str) -> bool:
        """Whether a module imports Flask: a function of it may be an application factory."""
        facts = self.workspace.load_facts(module)
        return facts is not None and any(
            (isinstance(stmt, ir.ImportFrom) and (stmt.module or "").split(".")[0] == "flask" and not stmt.level)
            or (isinstance(stmt, ir.Import) and any(name.split(".")[0] == "flask" for name, _ in stmt.names))
            for stmt in facts.body)

    def call_helper(self, func: FuncObj, expr: ir.Call) -> Value | None:
        """The result of a small pure function of the project, such as a settings helper around
        the environment (`def get_bool(name, default): value = os.environ.get(name) ...`), as
        Celery would see it: its parameters bound to the call's arguments, the variable as the
        deployment sets it or unset. Only functions that assign local names, branch, return and
        raise are run, a few statements long; any other gives None (left unevaluated). The
        result stands at the call, and names the variable it depends on."""
        active = self.workspace.running_functions
        body = func.func.body
        if id(func.func) in active or len(active) >= MAX_CALL_DEPTH or not _is_small_pure(body, [0]):
            return None
        home_env = self.module if func.module == self.module.path else self.workspace.module_env(func.module)
        if home_env is None:
            return None
        pos, kw, opaque = self.evaluator.args(expr)
        local = Scope(self.workspace, home_env, outer=Scope(self.workspace, home_env))
        _bind_parameters(local, func.func, pos, kw, opaque, expr.span)
        runner = _HelperRun(local)
        active.add(id(func.func))
        try:
            result = runner.returned(body)
        finally:
            active.discard(id(func.func))
        if result is None:
            return None
        env = result.env or runner.env
        if result.status == "known" and runner.env is not None:
            return Value("env-default", result.value, expr.span, env=env, uncast=result.uncast)
        if result.status in ("known", "env-default", "default"):
            return Value(result.status, result.value, expr.span, env=env, uncast=result.uncast)
        return V.with_origin(result, expr.span) if result.status == "several" else result

    def task_factory(self, func: FuncObj, expr: ir.Call) -> Value | None:
        """`job("harvest", queue="low")`: a project function that makes task decorators
        (task_factories.py), run with the call's arguments. The task decorator it returns, or
        the decorator it defines and returns (with the run's scope, which its options live in);
        None for any other function."""
        if not makes_tasks(func, self.workspace):
            return None
        pos, kw, opaque = self.evaluator.args(expr)
        for returned in self._run_isolated(func, pos, kw, opaque, expr.span):
            made = returned.value
            if isinstance(made, TaskDecorator):
                return known(made, expr.span)
            if isinstance(made, (FuncObj, Closure)) and made is not func:
                return returned
        return None

    def apply_decorator(self, dec: Value, expr: ir.Expr, func: ir.FuncDef) -> Value | None:
        """The task decorator a project decorator applies to func: a function (`@job`), the
        decorator a factory returned (`@job(...)`), or an instance of a decorator class (its
        __call__) that calls app.task or shared_task on the function it is given. None when it
        makes no task."""
        target = dec.value
        decorated = known(FuncObj(func, self.module.path), expr.span)
        if isinstance(target, ClassObj) and isinstance(expr, ir.Call):
            method = target.lookup("__call__")
            if method is None or not isinstance(method.value, FuncObj):
                return None
            runner, pos = method.value, [known(target, expr.span), decorated]
        elif isinstance(target, (FuncObj, Closure)):
            runner, pos = target, [decorated]
        else:
            return None
        if not makes_tasks(runner.func if isinstance(runner, Closure) else runner, self.workspace):
            return None
        for returned in self._run_isolated(runner, pos, {}, False, expr.span):
            if isinstance(returned.value, TaskObj):
                return known(returned.value.decorator, expr.span)
        return None

    def _run_isolated(self, func: FuncObj | Closure, pos: list[Value], kw: dict[str, Value], opaque: bool,
                      span: Span) -> list[Value]:
        """What the function returns, run with these arguments; whatever the run made or wrote
        (apps, configuration, tasks of functions it defines) is undone: only what it returns
        counts."""
        closure = func.scope if isinstance(func, Closure) else None
        func = func.func if isinstance(func, Closure) else func
        active = self.workspace.running_functions
        if id(func.func) in active or len(active) >= MAX_CALL_DEPTH:
            return []
        home_env = self.module if func.module == self.module.path else self.workspace.module_env(func.module)
        if home_env is None:
            return []
        local = Scope(self.workspace, home_env, outer=closure or Scope(self.workspace, home_env))
        local.conditions = list(self.conditions)
        _bind_parameters(local, func.func, pos, kw, opaque, span)
        if not opaque:
            _bind_rest(local, func.func, pos, kw, span)
        workspace = self.workspace
        saved = (len(workspace.apps), len(workspace.tasks), len(workspace.classes), len(workspace.environ_writes),
                 [(app, len(app.events), len(app.late_events)) for app in workspace.apps])
        runner = _FunctionRun(local)
        active.add(id(func.func))
        try:
            runner.run(func.func.body)
        finally:
            active.discard(id(func.func))
            apps, tasks, classes, writes, events = saved
            del workspace.apps[apps:], workspace.tasks[tasks:], workspace.classes[classes:]
            del workspace.environ_writes[writes:]
            for app, before, late in events:
                del app.events[before:], app.late_events[late:]
        return [Value(v.status, Closure(v.value, local), v.origin) if _defined_in(v, func) else v
                for v in runner.returns]

    def run_uncalled_configurers(self, body: tuple[ir.Stmt, ...]) -> None:
        """Module functions that configure an app the module makes (`def init_celery(flask_app):
        celery.config_from_object(flask_app.config)`, or `celery.conf.update(...)`) but that no
        module code qlint ran calls: another module or the framework calls them, so what they
        load is the app's source, as a possibility and after the module's own writes, as for
        a subclass's init_app(). Without this the app was taken to have no source at all."""
        active = self.workspace.running_functions
        for stmt in body:
            if not isinstance(stmt, ir.FuncDef) or id(stmt) in self.workspace.ran_functions or id(stmt) in active:
                continue
            bound = self.names.get(stmt.name)
            if bound is None or not isinstance(bound.value, FuncObj) or bound.value.func is not stmt:
                continue
            # Only apps made in this module: a test module's function that reconfigures the app it
            # imports says nothing about the deployment.
            apps = [getattr(self.lookup(name), "value", None) for name in _config_loader_receivers(stmt)]
            if not any(isinstance(app, AppObj) and app.module == self.module.path for app in apps):
                continue
            local = Scope(self.workspace, self.module, outer=self)
            local.conditions = list(self.conditions) + [f"{stmt.name}() is called"]
            _bind_parameters(local, stmt, [], {}, True, stmt.span)
            before = {id(app): len(app.events) for app in self.workspace.apps}
            made_before = len(self.workspace.apps)
            active.add(id(stmt))
            try:
                _FunctionRun(local).run(stmt.body)
            finally:
                active.discard(id(stmt))
            # An app the function makes exists only at run time, where no -A can name it.
            del self.workspace.apps[made_before:]
            for app in self.workspace.apps:
                start = before.get(id(app), 0)
                for event in app.events[start:]:
                    event.extra["configurer"] = id(stmt)
                app.late_events.extend(app.events[start:])
                del app.events[start:]

    def new_flask_app(self, expr: ir.Call) -> Value:
        return flask_config.new_app(self, expr)

    def flask_config_call(self, config: FlaskConfig, name: str, expr: ir.Call) -> Value:
        return flask_config.call(self, config, name, expr)

    def flask_config_key(self, config: FlaskConfig, key: Value, span: Span) -> Value:
        return flask_config.read_key(config, key, span)

    def flask_config_value(self, config: FlaskConfig, span: Span) -> Value:
        return flask_config.as_value(config, span)

    def include_settings(self, expr: ir.Call) -> Value:
        return split_settings.include(self, expr, Interpreter(self).run)

    def app_method(self, obj: AppObj | ConfRef, name: str, expr: ir.Call) -> Value:
        app = obj.app if isinstance(obj, ConfRef) else obj
        pos, kw, opaque = self.evaluator.args(expr)
        if pos and isinstance(pos[0].value, FlaskConfig):  # celery.conf.update(flask_app.config)
            pos[0] = flask_config.as_value(pos[0].value, span=expr.span)
        conditions = tuple(self.conditions)
        span = expr.span
        if isinstance(obj, AppObj) and name in ("config_from_object", "config_from_envvar"):
            source = pos[0] if pos else kw.get("obj") or kw.get("variable_name")
            if source is None:
                source = unknown("config_from_object() without an argument", span)
            if name == "config_from_envvar" and source.status == "known":
                source = unknown(f"configuration module named by environment variable {source.value}", span)
            namespace = kw.get("namespace")
            app.events.append(ConfEvent("source", None, source, span, conditions, extra={"namespace": namespace, "scope": self.module.path}))
        elif isinstance(obj, ConfRef) and name in ("update", "setdefault", "add_defaults"):
            if name == "setdefault" and len(pos) == 2 and pos[0].status == "known":
                app.events.append(ConfEvent("setdefault", str(pos[0].value), pos[1], span, conditions))
            elif pos and (pos[0].status != "known" or not isinstance(pos[0].value, dict)) or opaque:
                reason = pos[0].reason if pos and pos[0].status == "unknown" else "a value qlint cannot read"
                app.events.append(ConfEvent("opaque-update", None, unknown(f"app.conf.{name}() with {reason}", span), span, conditions))
            else:
                items = dict_items(pos[0]) if pos else {}
                items.update(kw)
                kind = "set" if name == "update" else "default"
                for key, value in items.items():
                    app.events.append(ConfEvent(kind, str(key), V.with_origin(value, value.origin or span), span, conditions))
        elif isinstance(obj, AppObj) and name == "autodiscover_tasks":
            packages = pos[0] if pos else kw.get("packages")
            related = pos[1] if len(pos) > 1 else kw.get("related_name")
            app.events.append(ConfEvent("autodiscover", None, packages, span, conditions,
                                        extra={"related_name": related}))
        return unknown(f"result of app.{name}()", span)

    # ------------------------------------------------------------ binding

    def bind(self, name: str, value: Value, span: Span) -> None:
        if isinstance(value.value, AppObj) and not value.value.var:
            value.value.var = name
        self.names[name] = value
        self.spans[name] = span
        self.imported.discard(name)

    def bind_import(self, name: str, value: Value, span: Span) -> None:
        self.bind(name, value, span)
        if isinstance(value.value, Sym):
            self.imported.add(name)


MAX_CALL_DEPTH = 3


def _bind_rest(local: Scope, func: ir.FuncDef, pos: list[Value], kw: dict[str, Value], span: Span) -> None:
    """*args and **kwargs bound to the arguments no other parameter takes, which a factory
    hands on (`return app.task(name=name, **options)`)."""
    named = {p.name for p in func.params if p.kind not in ("varargs", "varkw", "posonly")}
    taken = len([p for p in func.params if p.kind in ("posonly", "pos")])
    for param in func.params:
        if param.kind == "varkw":
            local.names[param.name] = make_dict({k: v for k, v in kw.items() if k not in named}, span)
        elif param.kind == "varargs":
            rest = pos[taken:]
            if all(v.status == "known" for v in rest):
                local.names[param.name] = known(tuple(v.value for v in rest), span)


def _defined_in(value: Value, func: FuncObj) -> bool:
    """True for a function defined inside func (a closure over func's run)."""
    inner = value.value
    return isinstance(inner, FuncObj) and inner is not func and any(
        node is inner.func for node in ir.nodes_until(func.func.body, ()) if type(node) is ir.FuncDef)


def _is_globals_call(expr: ir.Expr, scope: Scope) -> bool:
    return (isinstance(expr, ir.Call) and isinstance(expr.func, ir.Name) and expr.func.id == "globals"
            and not expr.args and scope.lookup("globals") is None)


# Libraries whose functions are handed __name__ only to label things (loggers, warning filters).
_LABELLING_CALLS = ("logging.", "warnings.", "structlog.")


def _module_handle(expr: ir.Expr, scope: Scope) -> str | None:
    """How an argument hands a function the running module itself, so that it can bind names
    in it: __name__ (sys.modules[name] is the module), globals(), vars(), sys.modules[__name__]."""
    if isinstance(expr, ir.Name) and expr.id == "__name__":
        bound = scope.lookup("__name__")
        if bound is None or (bound.origin is None and bound.value == scope.module.name):
            return "__name__"
        return None
    if isinstance(expr, ir.Call) and isinstance(expr.func, ir.Name) and expr.func.id in ("globals", "vars", "locals") \
            and not expr.args and not expr.kwargs and scope.lookup(expr.func.id) is None:
        return f"{expr.func.id}()"
    if isinstance(expr, ir.Sub) and isinstance(expr.value, ir.Attr) and expr.value.attr == "modules" \
            and isinstance(expr.value.value, ir.Name) and expr.value.value.id == "sys" \
            and _module_handle(expr.index, scope) == "__name__":
        return "sys.modules[__name__]"
    return None


def _is_main_guard(test: ir.Expr) -> bool:
    if not isinstance(test, ir.Compare) or len(test.ops) != 1 or test.ops[0][0] != "==":
        return False
    sides = (test.left, test.ops[0][1])
    return any(isinstance(s, ir.Name) and s.id == "__name__" for s in sides) \
        and any(isinstance(s, ir.Const) and s.value == "__main__" for s in sides)


def _is_definition(value: Value) -> bool:
    """An import, function, class, app or reader: what a settings overlay does not replace."""
    raw = value.value
    return value.status == "known" and isinstance(
        raw, (Sym, ModuleRef, FuncObj, ClassObj, AppObj, TaskObj, LazyName, EnvReader, ConfRef, TaskDecorator))


def _render_callee(func: ir.Expr) -> str:
    return func.id if isinstance(func, ir.Name) else "globals().update" if isinstance(func, ir.Attr) else "call"


def _callee_text(func: ir.Expr) -> str:
    """`name` or `a.b.name` as written; "a call" for anything else."""
    if isinstance(func, ir.Name):
        return func.id
    if isinstance(func, ir.Attr):
        base = _callee_text(func.value)
        return f"{base}.{func.attr}" if base != "a call" else func.attr
    return "a call"


def _bind_parameters(local: Scope, func: ir.FuncDef, pos: list[Value], kw: dict[str, Value], opaque: bool,
                     span: Span) -> None:
    positional = [p for p in func.params if p.kind in ("posonly", "pos")]
    for param in func.params:
        index = positional.index(param) if param in positional else None
        if param.kind in ("varargs", "varkw"):
            value = unknown(f"*{param.name} of {func.name}()", span)
        elif index is not None and index < len(pos):
            value = pos[index]
        elif param.name in kw:
            value = kw[param.name]
        elif opaque:
            value = unknown(f"argument {param.name} of {func.name}() cannot be read", span)
        elif param.default is not None and local.outer is not None:
            value = local.outer.evaluator.eval(param.default)
        else:
            value = unknown(f"argument {param.name} of {func.name}() is missing", span)
        local.names[param.name] = value
        local.spans[param.name] = span


_CONF_ATTRS = ("conf", "config_from_object", "config_from_envvar")


def _conf_receivers(func: ir.FuncDef) -> Iterator[str]:
    """The names the function's own code (not nested functions) takes `.conf` of or calls
    config_from_object()/config_from_envvar() on, in code order."""
    for node in ir.own_nodes(func):
        if type(node) is ir.Attr and type(node.value) is ir.Name and node.attr in _CONF_ATTRS:
            yield node.value.id


def _configures_self(func: ir.FuncDef) -> bool:
    """True when the method's own code (not nested functions) names `self.conf` or calls
    `self.config_from_object`/`self.config_from_envvar`, `self` being its first parameter."""
    first = func.params[0].name
    return any(name == first for name in _conf_receivers(func))


def _config_loader_receivers(func: ir.FuncDef) -> set[str]:
    """Names whose `.conf` the function's own code (not nested functions) uses, or that it calls
    config_from_object() or config_from_envvar() on, other than its parameters."""
    params = {p.name for p in func.params}
    return {name for name in _conf_receivers(func) if name not in params}


def builds_flask_app(func: ir.FuncDef) -> bool:
    """True when the function's own code returns something and loads a Flask app's config
    (`app.config.from_object(...)`): an application factory (`def create_app(config=None)`),
    whose app a caller hands to Celery (`celery.conf.update(create_app().config)`)."""
    returns = loads = False
    for node in ir.own_nodes(func):
        if type(node) is ir.Return:
            returns = True
        elif type(node) is ir.Attr and node.attr in flask_config.WRITES and type(node.value) is ir.Attr \
                and node.value.attr == "config":
            loads = True
        if returns and loads:
            return True
    return False


def builds_app(func: ir.FuncDef) -> bool:
    """True when the function's own code (not the functions nested in it) returns something
    and calls something named Celery."""
    returns = celery = False
    for node in ir.own_nodes(func):
        if type(node) is ir.Return:
            returns = True
        elif type(node) is ir.Call:
            callee = node.func
            celery = celery or (callee.id if type(callee) is ir.Name else callee.attr if type(callee) is ir.Attr
                                else None) == "Celery"
        if returns and celery:
            return True
    return False


class Interpreter:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.ev = scope.evaluator

    def run(self, body: Iterable[ir.Stmt]) -> None:
        for stmt in body:
            self.stmt(stmt)

    def stmt(self, stmt: ir.Stmt) -> None:
        getattr(self, f"_{type(stmt).__name__}", lambda s: None)(stmt)

    # ------------------------------------------------------------ imports

    def _Import(self, stmt: ir.Import) -> None:
        for dotted, alias in stmt.names:
            self._run_app_user(self.scope.workspace.index.resolve(dotted, 0, self.scope.module.path))
            if alias:
                self.scope.bind_import(alias, self.import_module(dotted, 0, stmt.span), stmt.span)
            else:
                top = dotted.split(".")[0]
                self.scope.bind_import(top, self.import_module(top, 0, stmt.span), stmt.span)

    def _run_app_user(self, path: str | None) -> None:
        """Importing a module runs it: one that may define tasks on an app it imports (without
        naming Celery) is read now, as Python would, even when only the module is bound."""
        users = self.scope.workspace.app_users
        if path is not None and path in users and path not in self.scope.workspace.envs:
            self.scope.workspace.module_env(path, importer=self.scope.module.path)

    def import_module(self, dotted: str, level: int, span: Span) -> Value:
        if level == 0 and dotted.split(".")[0] in EXTERNAL_TOP:
            return known(Sym(dotted), span)
        path = self.scope.workspace.index.resolve(dotted, level, self.scope.module.path)
        if path is None:
            if level:
                return unknown(f"module {'.' * level}{dotted} not found in the project", span)
            return known(Sym(dotted), span)
        return known(ModuleRef(path, self.scope.workspace.index.module_name(path)), span)

    def _ImportFrom(self, stmt: ir.ImportFrom) -> None:
        workspace = self.scope.workspace
        if stmt.level == 0 and stmt.module.split(".")[0] in EXTERNAL_TOP:
            for name, alias in stmt.names:
                self.scope.bind_import(alias or name, V.external(f"{stmt.module}.{name}", stmt.span), stmt.span)
            return
        path = workspace.index.resolve(stmt.module, stmt.level, self.scope.module.path)
        if path is None:
            self.scope.module.failed_imports.append(stmt.module)
            for name, alias in stmt.names:
                if stmt.level:
                    self.scope.bind_import(alias or name, unknown(f"module {'.' * stmt.level}{stmt.module} not found", stmt.span), stmt.span)
                else:
                    self.scope.bind_import(alias or name, V.external(f"{stmt.module}.{name}", stmt.span), stmt.span)
            return
        if stmt.star:
            env = workspace.module_env(path, importer=self.scope.module.path)
            if env is None:
                return
            if env.opaque is not None and self.scope.outer is None:
                self.scope.module.opaque = env.opaque
            if env.unseen is not None and self.scope.outer is None:
                self.scope.module.unseen = env.unseen
            exported = env.all_names or tuple(n for n in env.names if not n.startswith("_"))
            for name in exported:
                if name in env.names:
                    self.scope.names[name] = env.names[name]
                    if name in env.spans:
                        self.scope.spans[name] = env.spans[name]
                    if name in env.imported:
                        self.scope.imported.add(name)
                    else:
                        self.scope.imported.discard(name)
            return
        module_name = workspace.index.module_name(path)
        env = None
        lazy = workspace.quiet is not None and path in workspace.quiet and path not in workspace.envs
        for name, alias in stmt.names:
            sub = workspace.index.submodule(path, name)
            if sub is not None:
                self._run_app_user(sub)
                self.scope.bind_import(alias or name, known(ModuleRef(sub, f"{module_name}.{name}"), stmt.span), stmt.span)
                continue
            if lazy:
                self.scope.names[alias or name] = known(LazyName(path, name), stmt.span)
                self.scope.spans[alias or name] = stmt.span
                continue
            env = env or workspace.module_env(path, importer=self.scope.module.path)
            if env is not None and name in env.names:
                self.scope.names[alias or name] = env.names[name]
                self.scope.spans[alias or name] = env.spans.get(name, stmt.span)
            else:
                self.scope.bind_import(alias or name, unknown(f"{module_name}.{name} could not be resolved", stmt.span), stmt.span)

    # ------------------------------------------------------------ assignments

    def _Assign(self, stmt: ir.Assign) -> None:
        value = self.ev.eval(stmt.value)
        if len(stmt.targets) == 1 and isinstance(stmt.targets[0], ir.Sub):
            django.record_environ_item(self.scope, stmt.targets[0], stmt.value, stmt.span)
        for target in stmt.targets:
            self.assign(target, value, stmt.span)

    def assign(self, target: ir.Expr, value: Value, span: Span) -> None:
        if isinstance(target, ir.Name):
            self.scope.bind(target.id, V.with_origin(value, span), span)
            if target.id == "__all__" and value.status == "known" and isinstance(value.value, (list, tuple)):
                self.scope.module.all_names = tuple(str(v) for v in value.value)
        elif isinstance(target, ir.Coll):
            raw = value.value
            if value.status == "known" and isinstance(raw, (list, tuple)) and len(raw) == len(target.elts):
                for elt, item in zip(target.elts, raw):
                    self.assign(elt, known(item, span), span)
            else:
                for elt in target.elts:
                    self.assign(elt, unknown("unpacked from a value that cannot be read", span), span)
        elif isinstance(target, ir.Attr):
            base = self.ev.eval(target.value)
            if isinstance(base.value, ConfRef):
                base.value.app.events.append(ConfEvent("set", target.attr, V.with_origin(value, span), span, tuple(self.scope.conditions)))
            elif isinstance(base.value, AppObj) and target.attr == "namespace":
                # Celery reads app.namespace when it loads the configuration (Celery._load_config)
                base.value.events.append(ConfEvent("namespace", None, value, span, tuple(self.scope.conditions)))
        elif isinstance(target, ir.Sub):
            self.assign_item(target, value, span)

    def _writes_unseen_names(self, func: ir.Expr) -> bool:
        """exec(...) or globals().update(...) at module level: names appear that no statement binds."""
        if self.scope.outer is not None:
            return False
        if isinstance(func, ir.Name) and func.id == "exec":
            return self.scope.lookup("exec") is None
        return isinstance(func, ir.Attr) and func.attr in ("update", "setdefault") and _is_globals_call(func.value, self.scope)

    def names_may_change(self, reason: str) -> None:
        """Code qlint cannot follow may bind any name of the module here: the data bound so far
        becomes unknown (imports, functions and classes are kept, so that the statements after it
        still evaluate), and names never bound are unknown rather than absent."""
        module = self.scope.module
        for name, value in list(self.scope.names.items()):
            if name.startswith("__") or _is_definition(value):
                continue
            self.scope.names[name] = unknown(reason, value.origin)
        module.unseen = module.unseen or reason

    def _handed_the_module(self, expr: ir.Call) -> str | None:
        """A module-level call handed the module itself (`Settings.load_settings(__name__)`,
        `apply(globals())`): what it binds there, no statement shows. The reason, or None."""
        if self.scope.outer is not None:
            return None
        handles = [h for h in (_module_handle(a, self.scope) for a in (*expr.args, *(v for _, v in expr.kwargs))) if h]
        if not handles:
            return None
        func = self.ev.eval(expr.func)
        if isinstance(func.value, Sym) and (func.value.qualname.startswith(_LABELLING_CALLS)
                                            or func.value.qualname in split_settings.INCLUDE):
            return None
        return f"{expr.span}: {_callee_text(expr.func)}({handles[0]}) is handed the module and may set names qlint does not see"

    def assign_item(self, target: ir.Sub, value: Value, span: Span) -> None:
        if self.scope.outer is None and _is_globals_call(target.value, self.scope):
            self.names_may_change(f"{span}: globals()[...] = ... sets a name qlint does not see")
            return
        key = self.ev.eval(target.index)
        base_expr = target.value
        if isinstance(base_expr, ir.Attr):
            owner = self.ev.eval(base_expr.value)
            if isinstance(owner.value, ConfRef) and key.status == "known":
                owner.value.app.events.append(ConfEvent("item", base_expr.attr, V.with_origin(value, span), span,
                                                        tuple(self.scope.conditions), item=str(key.value)))
                return
        base = self.ev.eval(base_expr)
        if isinstance(base.value, FlaskConfig):
            if key.status == "known" and isinstance(key.value, str):
                flask_config.write(self.scope, base.value, key.value, value, span)
            else:
                flask_config.lost(base.value, "app.config[...] = ... with a key qlint cannot read", span)
            return
        if isinstance(base.value, Sym) and base.value.qualname == "os.environ":
            if key.status == "known" and isinstance(key.value, str):
                if self.scope.conditions:
                    earlier = self.scope.env_set.get(key.value) or self.ev.eval(target)
                    condition = " and ".join(self.scope.conditions)
                    value = V.several([(value, condition), (earlier, f"not ({condition})")], span)
                self.scope.env_set[key.value] = V.with_origin(value, span)
            return
        if isinstance(base.value, ConfRef):
            if key.status == "known":
                base.value.app.events.append(ConfEvent("set", str(key.value), V.with_origin(value, span), span, tuple(self.scope.conditions)))
            return
        if isinstance(base_expr, ir.Name) and isinstance(base.value, dict) and key.status == "known":
            self.rebind(base_expr.id, with_item(base, key.value, V.with_origin(value, span), span), span)
        elif isinstance(base_expr, ir.Name) and base.status != "unknown":
            self.rebind(base_expr.id, unknown(f"{base_expr.id} changed by an item assignment qlint cannot follow", span), span)

    def rebind(self, name: str, value: Value, span: Span) -> None:
        self.scope.bind(name, value, span)

    def _AugAssign(self, stmt: ir.AugAssign) -> None:
        if isinstance(stmt.target, ir.Name):
            current = self.ev.eval(stmt.target)
            addition = self.ev.eval(stmt.value)
            if stmt.op == "|" and isinstance(current.value, dict) and isinstance(addition.value, dict):
                merged = dict_items(current)
                merged.update(dict_items(addition))
                self.rebind(stmt.target.id, make_dict(merged, stmt.span), stmt.span)
                return
            self.rebind(stmt.target.id, V.with_origin(V.binop(stmt.op, current, addition, stmt.span), stmt.span), stmt.span)
        elif isinstance(stmt.target, ir.Sub):
            current = self.ev.eval(stmt.target)
            self.assign_item(stmt.target, V.binop(stmt.op, current, self.ev.eval(stmt.value), stmt.span), stmt.span)
        elif isinstance(stmt.target, ir.Attr):
            current = self.ev.eval(stmt.target)
            self.assign(stmt.target, V.binop(stmt.op, current, self.ev.eval(stmt.value), stmt.span), stmt.span)

    def _ExprStmt(self, stmt: ir.ExprStmt) -> None:
        expr = stmt.value
        if not isinstance(expr, ir.Call):
            return
        func = expr.func
        if self._writes_unseen_names(func):
            self.names_may_change(f"{stmt.span}: {_render_callee(func)}() may set names qlint does not see")
        else:
            handed = self._handed_the_module(expr)
            if handed is not None:
                self.names_may_change(handed)
        if isinstance(func, ir.Attr) and isinstance(func.value, ir.Name) and func.attr in ("update", "setdefault", "append", "extend"):
            base = self.ev.eval(func.value)
            if isinstance(base.value, dict) and func.attr in ("update", "setdefault"):
                self.dict_update(func.value.id, base, func.attr, expr, stmt.span)
                return
            if isinstance(base.value, (list, tuple)) and func.attr in ("append", "extend"):
                arg = self.ev.eval(expr.args[0]) if expr.args else unknown("no argument", stmt.span)
                combined = V.combine([base, arg], (lambda b, a: list(b) + [a]) if func.attr == "append" else (lambda b, a: list(b) + list(a)),
                                     stmt.span, func.attr)
                self.rebind(func.value.id, V.with_origin(combined, stmt.span), stmt.span)
                return
        result = self.ev.eval(expr)
        if isinstance(func, ir.Attr) and isinstance(func.value, ir.Attr) and func.attr == "setdefault":
            django.record_setdefault(self.scope, expr, stmt.span)
        del result

    def dict_update(self, name: str, base: Value, method: str, expr: ir.Call, span: Span) -> None:
        pos, kw, opaque = self.ev.args(expr)
        items = dict_items(base)
        if method == "setdefault":
            if pos and pos[0].status == "known" and pos[0].value not in items:
                items[pos[0].value] = V.with_origin(pos[1] if len(pos) > 1 else known(None, span), span)
        else:
            if opaque or (pos and (pos[0].status != "known" or not isinstance(pos[0].value, dict))):
                self.rebind(name, unknown(f"{name}.update() with a value qlint cannot read", span), span)
                return
            if pos:
                items.update({k: V.with_origin(v, span) for k, v in dict_items(pos[0]).items()})
            items.update({k: V.with_origin(v, span) for k, v in kw.items()})
        self.rebind(name, make_dict(items, span), span)

    # ------------------------------------------------------------ control flow

    def _If(self, stmt: ir.If) -> None:
        if self.scope.outer is None and _is_main_guard(stmt.test):
            # `if __name__ == "__main__":` runs when the file is the script (manage.py before
            # Django 2.0 sets DJANGO_SETTINGS_MODULE there): its writes count, as in main().
            django.record_environ_in_function(self.scope, stmt.body)
        test = self.ev.eval(stmt.test)
        decided = V.truth(test)
        if decided is True:
            self.run(stmt.body)
            return
        if decided is False:
            self.run(stmt.orelse)
            return
        condition = V.describe_condition(stmt.test_source, test)
        self.branch([(stmt.body, condition), (stmt.orelse, f"not ({condition})")], stmt.span)

    def branch(self, arms: list[tuple[tuple[ir.Stmt, ...], str]], span: Span) -> None:
        """Run each arm on a copy of the namespace and merge what they bound."""
        before = dict(self.scope.names)
        before_spans = dict(self.scope.spans)
        results: list[tuple[dict[str, Value], dict[str, Span], str]] = []
        for body, condition in arms:
            self.scope.names.clear()
            self.scope.names.update(before)
            self.scope.spans.clear()
            self.scope.spans.update(before_spans)
            self.scope.conditions.append(condition)
            try:
                self.run(body)
            finally:
                self.scope.conditions.pop()
            results.append((dict(self.scope.names), dict(self.scope.spans), condition))
        self.scope.names.clear()
        self.scope.spans.clear()
        self.scope.names.update(before)
        self.scope.spans.update(before_spans)
        changed = {name for names, _, _ in results for name, value in names.items() if before.get(name) is not value}
        for name in changed:
            alternatives = []
            where = span
            for names, spans, condition in results:
                value = names.get(name)
                if value is not None and isinstance(value.value, LazyName):
                    value = self.scope.workspace.bind_resolved(names, spans, name, value, self.scope.module.path)
                if value is None:
                    value = Value("default", UNSET, None)
                alternatives.append((value, condition))
                if names.get(name) is not before.get(name):
                    where = spans.get(name, where)
            merged = V.several(alternatives, where)
            self.scope.names[name] = merged
            self.scope.spans[name] = where

    def _Try(self, stmt: ir.Try) -> None:
        failed_before = len(self.scope.module.failed_imports)
        self.run(stmt.body)
        if len(self.scope.module.failed_imports) != failed_before:
            for _, handler in stmt.handlers:
                self.run(handler)
        else:
            self.run(stmt.orelse)
        self.run(stmt.finalbody)

    def _Block(self, stmt: ir.Block) -> None:
        if stmt.kind == "with":
            for target in stmt.targets:
                self.assign(target, unknown("bound by a with statement", stmt.span), stmt.span)
            self.run(stmt.body)
            return
        for target in stmt.targets:
            self.assign(target, unknown(f"bound by a {stmt.kind} loop", stmt.span), stmt.span)
        self.branch([(stmt.body, f"inside a {stmt.kind} block"), ((), f"the {stmt.kind} body does not run")], stmt.span)

    # ------------------------------------------------------------ definitions

    def _FuncDef(self, stmt: ir.FuncDef) -> None:
        if self.scope.outer is None:
            django.record_environ_in_function(self.scope, stmt.body)
        value = known(FuncObj(stmt, self.scope.module.path), stmt.span)
        for decorator in reversed(stmt.decorators):
            dec = self.ev.eval(decorator)
            if isinstance(dec.value, Sym) and dec.value.qualname in SHARED_TASK:
                dec = known(TaskDecorator(None, span=decorator.span), decorator.span)
            elif not isinstance(dec.value, TaskDecorator) and not isinstance(value.value, TaskObj):
                dec = self.scope.apply_decorator(dec, decorator, stmt) or dec
            if isinstance(dec.value, TaskDecorator):
                task = TaskObj(stmt, self.scope.module.path, dec.value, decorator.span)
                self.scope.workspace.tasks.append(task)
                value = known(task, stmt.span)
        self.scope.bind(stmt.name, value, stmt.span)

    def _ClassDef(self, stmt: ir.ClassDef) -> None:
        bases = tuple(self.ev.eval(b) for b in stmt.bases)
        class_scope = Scope(self.scope.workspace, self.scope.module, outer=self.scope)
        Interpreter(class_scope).run(stmt.body)
        attrs = dict(self.scope.workspace.resolved_names_of(class_scope.names, class_scope.spans, self.scope.module.path))
        cls = ClassObj(stmt.name, self.scope.module.path, stmt.span, bases, attrs, dict(class_scope.spans))
        self.scope.workspace.classes.append(cls)
        self.scope.bind(stmt.name, known(cls, stmt.span), stmt.span)


HELPER_STATEMENTS = 30


def _is_small_pure(body: tuple[ir.Stmt, ...], count: list[int]) -> bool:
    """Whether body only binds local names, branches, returns and raises, in at most
    HELPER_STATEMENTS statements (a docstring aside): nothing it does reaches outside it."""
    for stmt in body:
        count[0] += 1
        if count[0] > HELPER_STATEMENTS:
            return False
        if isinstance(stmt, ir.Assign):
            if not all(isinstance(t, ir.Name) for t in stmt.targets):
                return False
        elif isinstance(stmt, ir.If):
            if not (_is_small_pure(stmt.body, count) and _is_small_pure(stmt.orelse, count)):
                return False
        elif isinstance(stmt, ir.Try):
            handlers = tuple(s for _, handler in stmt.handlers for s in handler)
            if not all(_is_small_pure(part, count) for part in (stmt.body, handlers, stmt.orelse, stmt.finalbody)):
                return False
        elif isinstance(stmt, ir.ExprStmt):
            if not isinstance(stmt.value, ir.Const):
                return False
        elif not isinstance(stmt, (ir.Return, ir.Raise)):
            return False
    return True


class _HelperRun(Interpreter):
    """Runs a small pure function (Scope.call_helper) along the one path its tests decide,
    stopping at the first return; None where a test cannot be decided or the path raises.
    env names the environment variable a decided test depended on (its default was taken)."""

    def __init__(self, scope: Scope) -> None:
        super().__init__(scope)
        self.env: str | None = None

    def returned(self, body: tuple[ir.Stmt, ...]) -> Value | None:
        outcome = self._path(body)
        return outcome if isinstance(outcome, Value) else None

    def _path(self, body: tuple[ir.Stmt, ...]) -> Value | bool | None:
        """The returned value; False when the body ends without returning; None when undecided."""
        for stmt in body:
            if isinstance(stmt, ir.Return):
                return self.ev.eval(stmt.value) if stmt.value is not None else known(None, stmt.span)
            if isinstance(stmt, ir.Raise):
                return None
            if isinstance(stmt, ir.If):
                test = self.ev.eval(stmt.test)
                decided = V.truth(test)
                if test.status == "env-default" and V.is_plain(test.value):
                    decided, self.env = bool(test.value), test.env or self.env
                if decided is None:
                    return None
                outcome = self._path(stmt.body if decided else stmt.orelse)
            elif isinstance(stmt, ir.Try):
                outcome = self._path(stmt.body)  # a handler runs only on an error nothing here can show
                if outcome is None:
                    return None
            elif isinstance(stmt, ir.Assign):
                value = self.ev.eval(stmt.value)
                if value.status == "unknown" and value.env and isinstance(stmt.value, ir.Call) \
                        and len(stmt.value.args) == 1 and not stmt.value.kwargs:
                    value = Value("env-default", None, value.origin, env=value.env)  # .get(name): None while unset
                for target in stmt.targets:
                    self.assign(target, value, stmt.span)
                continue
            else:
                self.run((stmt,))
                continue
            if outcome is not False:
                return outcome
        return False


class _FunctionRun(Interpreter):
    """Runs a function body abstractly and keeps what its return statements give."""

    def __init__(self, scope: Scope) -> None:
        super().__init__(scope)
        self.returns: list[Value] = []

    def _Return(self, stmt: ir.Return) -> None:
        self.returns.append(self.ev.eval(stmt.value) if stmt.value is not None else known(None, stmt.span))
