"""What `django.conf:settings` stands for: the settings module, and its settings class.

Django reads DJANGO_SETTINGS_MODULE from the environment; projects set it with
os.environ.setdefault() (or os.environ[...] = ...) in the Celery app module,
manage.py, wsgi.py or asgi.py. django-configurations adds DJANGO_CONFIGURATION,
the name of a class in that module whose attributes are the settings. Django
copies only upper-case names into its settings object.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qlint.model import Span, Value, unknown
from qlint.resolve.env_reads import EnvWrite
from qlint.resolve import values as V
from qlint.resolve.objects import UNSET, ClassObj, Sym
from qlint.sources import ir

if TYPE_CHECKING:
    from qlint.resolve.host import Frame
    from qlint.resolve.host import Host

ENV_VARS = frozenset({"DJANGO_SETTINGS_MODULE", "DJANGO_CONFIGURATION"})
CONFIGURATION_BASES = frozenset({"configurations.Configuration", "configurations.base.Configuration"})


@dataclass
class DjangoSettings:
    """The settings Django would load, or why qlint cannot tell."""

    label: str
    path: str | None = None
    names: dict[str, Value] | None = None
    spans: dict[str, Span] | None = None
    problem: str | None = None
    # Where DJANGO_SETTINGS_MODULE was set, and why that place counts when the code and the
    # deployment disagree.
    named_at: Span | None = None
    named_by: str | None = None
    # Why a setting the module does not bind may be set all the same (ModuleEnv.unseen).
    unseen: str | None = None
    # Why the settings are those of other modules: the named one is not in the project.
    stand_in: str | None = None


def _choose(writes: list[EnvWrite], var: str, near: str) -> EnvWrite | None:
    """The write that counts: the app's own module first, then manage.py, then the rest."""
    found = [w for w in writes if w.var == var]
    found.sort(key=lambda w: (w.path != near, posixpath.basename(w.path) != "manage.py", w.path))
    return found[0] if found else None


def _as_string(write: EnvWrite) -> tuple[str | None, str]:
    value = write.value
    if value.status in ("known", "env-default") and isinstance(value.value, str):
        return value.value, ""
    return None, f"{write.var} cannot be read: {value.reason or 'not a string'}"


def locate(workspace: "Host", near: str) -> DjangoSettings:
    """The settings module (and class) for an app or task defined in module `near`."""
    cached = workspace.django_cache.get(near)
    if cached is not None:
        return cached
    workspace.module_env(near)
    for candidate in workspace.index.django_entry_files:
        workspace.module_env(candidate)
    write, because = effective_write(workspace, "DJANGO_SETTINGS_MODULE", near)
    result = _locate(workspace, near, write)
    result.named_at = write.span if write is not None else None
    result.named_by = "; ".join(why for why in (because, result.stand_in) if why) or None
    workspace.django_cache[near] = result
    return result


def effective_write(workspace: "Host", var: str, near: str) -> tuple[EnvWrite | None, str | None]:
    """The value of var the processes start with, and why, where the code and the
    deployment disagree: a deployment's value (Dockerfile ENV, compose or Kubernetes
    environment, an entrypoint's export) beats the code's os.environ.setdefault(), but
    not an assignment to os.environ."""
    write = _choose(workspace.environ_writes, var, near)
    if write is not None and write.overrides:
        return write, None
    deployed, others = _deployed(workspace, var)
    if deployed is None:
        return write, None
    text = deployed.value.value
    also = f" (also set to {', '.join(map(repr, others))} elsewhere)" if others else ""
    if write is None:
        return deployed, f"the deployment sets {var}={text!r} at {deployed.span}{also}"
    code = write.value.value if write.value.status in ("known", "env-default") else None
    if code == text:
        return write, None
    default = f"the default {code!r}" if code is not None else "the default"
    return deployed, (f"the deployment sets {var}={text!r} at {deployed.span}{also}, over {default} of "
                      f"os.environ.setdefault() at {write.span}")


def _deployed(workspace: "Host", var: str) -> tuple[EnvWrite | None, list[str]]:
    """What the deployment files set var to, and the other values it is set to where they
    differ (a production module is preferred to the others)."""
    environ = getattr(workspace, "environ", None)
    value = environ.value(var) if environ is not None else None
    if value is None:
        return None, []
    options = value.possible() if value.status == "several" else [value]
    texts = {}
    for option in options:
        if option.status in ("known", "env-default") and isinstance(option.value, str) and option.value:
            texts.setdefault(option.value, option)
    if not texts:
        return None, []
    chosen = sorted(texts, key=lambda t: ("prod" not in t.lower(), t))[0]
    option = texts[chosen]
    span = option.origin or value.origin
    if span is None:
        return None, []
    return EnvWrite(var, Value("known", chosen, span, env=var), span, span.path), sorted(t for t in texts if t != chosen)


def _locate(workspace: "Host", near: str, module_write: EnvWrite | None) -> DjangoSettings:
    if module_write is None:
        return DjangoSettings("django.conf:settings", problem=(
            "DJANGO_SETTINGS_MODULE is not set by os.environ.setdefault() in the app module, "
            "manage.py, wsgi.py or asgi.py, nor by a deployment file"))
    dotted, problem = _as_string(module_write)
    if dotted is None:
        return DjangoSettings("django.conf:settings", problem=problem)
    path = workspace.index.find(dotted, near)
    if path is None:
        missing = f"settings module {dotted!r} (DJANGO_SETTINGS_MODULE) is not in the project"
        return _stand_ins(workspace, dotted, missing) or DjangoSettings(dotted, problem=missing)
    env = workspace.root_env(path)
    if env is None:
        return DjangoSettings(dotted, path, problem=f"settings module {dotted!r} cannot be read")
    workspace.resolved_names(env)
    facts = workspace.load_facts(path)
    if facts is not None and facts.error is not None:
        return DjangoSettings(dotted, path, problem=f"settings module {dotted!r} cannot be analysed: {facts.error}")
    if env.opaque is not None:
        return DjangoSettings(dotted, path, problem=f"settings module {dotted!r}: {env.opaque}")
    config_write, _ = effective_write(workspace, "DJANGO_CONFIGURATION", near)
    classes = {
        name: value.value for name, value in env.names.items()
        if isinstance(value.value, ClassObj) and value.value.derives_from(CONFIGURATION_BASES)
    }
    if config_write is None:
        if classes:
            return DjangoSettings(dotted, path, problem=(
                f"settings module {dotted!r} defines settings classes ({', '.join(sorted(classes))}) and "
                "DJANGO_CONFIGURATION, which picks one, is not set in the code"))
        return DjangoSettings(dotted, path, upper(env.names), env.spans, unseen=env.unseen)
    class_name, problem = _as_string(config_write)
    if class_name is None:
        return DjangoSettings(dotted, path, problem=problem)
    cls = env.names.get(class_name)
    if cls is None or not isinstance(cls.value, ClassObj):
        return DjangoSettings(f"{dotted}.{class_name}", path, problem=(
            f"settings class {class_name!r} (DJANGO_CONFIGURATION) is not defined in {dotted!r}"))
    return DjangoSettings(f"{dotted}.{class_name}", path, upper(cls.value.all_attrs()), cls.value.all_attr_spans())


def _stand_ins(workspace: "Host", dotted: str, missing: str) -> DjangoSettings | None:
    """A settings module the repository does not hold, read as each complete settings module
    beside it. Such a module is written per deployment, as a copy of a sample or a star import
    of a common module; the complete modules named like it (`settings_dev`, `settings_common`
    for `settings`: those that bind INSTALLED_APPS) are what it can plausibly be. A setting they
    agree on has that value; one they differ on has one alternative per module."""
    found = []
    for path in workspace.index.named_like(dotted):
        env = workspace.root_env(path)
        facts = workspace.load_facts(path)
        if env is None or env.opaque is not None or (facts is not None and facts.error is not None):
            continue
        workspace.resolved_names(env)
        if "INSTALLED_APPS" in env.names:
            found.append((workspace.index.module_name(path), env))
    if not found:
        return None
    names: dict[str, Value] = {}
    spans: dict[str, Span] = {}
    for name in sorted({name for _, env in found for name in upper(env.names)}):
        alternatives = [(env.names.get(name) or Value("default", UNSET, None), f"{dotted} is {module}")
                        for module, env in found]
        span = next((env.spans[name] for _, env in found if name in env.spans), None)
        if span is not None:
            spans[name] = span
        first = alternatives[0][0]
        # the same binding in each (a star import of a common module) is that binding
        same = all(V.identical(value, first) for value, _ in alternatives[1:])
        names[name] = first if same else V.several(alternatives, span)
    unseen = next((env.unseen for _, env in found if env.unseen is not None), None)
    return DjangoSettings(dotted, None, names, spans, unseen=unseen, stand_in=(
        f"{missing}; read as each settings module beside it that it can be: {', '.join(m for m, _ in found)}"))


def upper(names: dict[str, Value]) -> dict[str, Value]:
    return {k: v for k, v in names.items() if k.isupper()}


def setting_value(workspace: "Host", near: str, name: str, span: Span, missing_ok: bool = False) -> Value | None:
    """`settings.NAME` after `from django.conf import settings`, in module `near`;
    None when it is not set and missing_ok."""
    found = locate(workspace, near)
    if found.problem is not None or found.names is None:
        return unknown(f"django settings.{name}: {found.problem}", span)
    if name in found.names:
        return found.names[name]
    if found.unseen is not None:
        return unknown(f"settings.{name} is not bound in {found.label}, and {found.unseen}", span)
    if missing_ok:
        return None
    return unknown(f"settings.{name} is not set in {found.label}", span)


# ---------------------------------------------------------------- recording writes


def record_setdefault(scope: "Frame", expr: ir.Call, span: Span) -> None:
    """os.environ.setdefault("DJANGO_SETTINGS_MODULE", ...)."""
    func = scope.evaluator.eval(expr.func)
    if isinstance(func.value, Sym) and func.value.qualname == "os.environ.setdefault" and len(expr.args) >= 2:
        _record(scope, scope.evaluator.eval(expr.args[0]), expr.args[1], span, overrides=False)


def record_environ_item(scope: "Frame", target: ir.Sub, value: ir.Expr, span: Span) -> None:
    """os.environ["DJANGO_SETTINGS_MODULE"] = ..."""
    base = scope.evaluator.eval(target.value)
    if isinstance(base.value, Sym) and base.value.qualname == "os.environ":
        _record(scope, scope.evaluator.eval(target.index), value, span, overrides=True)


def record_environ_in_function(scope: "Frame", body: tuple[ir.Stmt, ...]) -> None:
    """manage.py sets DJANGO_SETTINGS_MODULE inside main(): read such writes without running the function."""
    for stmt in body:
        if isinstance(stmt, ir.ExprStmt) and isinstance(stmt.value, ir.Call):
            func = stmt.value.func
            if isinstance(func, ir.Attr) and func.attr == "setdefault":
                record_setdefault(scope, stmt.value, stmt.span)
        elif isinstance(stmt, ir.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ir.Sub):
            record_environ_item(scope, stmt.targets[0], stmt.value, stmt.span)
        elif isinstance(stmt, ir.If):
            record_environ_in_function(scope, stmt.body + stmt.orelse)
        elif isinstance(stmt, ir.Try):
            handlers = tuple(s for _, handler in stmt.handlers for s in handler)
            record_environ_in_function(scope, stmt.body + handlers + stmt.orelse + stmt.finalbody)
        elif isinstance(stmt, ir.Block):
            record_environ_in_function(scope, stmt.body)


def _record(scope: "Frame", key: Value, value: ir.Expr, span: Span, overrides: bool) -> None:
    if key.status == "known" and key.value in ENV_VARS:
        write = EnvWrite(key.value, scope.evaluator.eval(value), span, scope.module.path, overrides)
        scope.workspace.environ_writes.append(write)
