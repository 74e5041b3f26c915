"""Reading environment variables as Celery settings: os.environ, django-environ, python-decouple.

A read with a default gives status env-default with the default as its value. A
variable that is set arrives as a string unless the library casts it, so a default
of another type without a cast is flagged uncast.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Protocol

from qlint.model import Alternative, Span, Value, known, unknown
from qlint.resolve.environment import UNSET


@dataclass(frozen=True)
class EnvWrite:
    """os.environ.setdefault(var, value) or os.environ[var] = value, seen in module `path`."""

    var: str
    value: Value
    span: Span
    path: str
    # os.environ[var] = value: it beats whatever the deployment sets (setdefault does not)
    overrides: bool = False
from qlint.resolve.objects import EnvReader, Sym


class Environ(Protocol):
    """The variables the deployment sets (qlint.resolve.environment.Environment)."""

    def value(self, name: str) -> Value | None: ...

    def names(self) -> Iterable[str]: ...

_TRUE_STRINGS = frozenset({"true", "on", "ok", "y", "yes", "1"})


def env_bool(raw: str) -> bool:
    return raw.strip().lower() in _TRUE_STRINGS


def from_deployment(setting: Value, cast: Callable[[str], Any] | None, expects_string: bool,
                    fallback: Value) -> Value:
    """The value read from a variable the deployment sets, cast as the code casts it.

    expects_string is False when the code's default has another type and nothing
    casts: the string that arrives is flagged uncast. fallback is what the read gives
    where the variable is not set (some processes set it, others do not).
    """
    if setting.status == "several":
        return Value("several", alternatives=tuple(
            Alternative(from_deployment(alt.value, cast, expects_string, fallback), alt.condition)
            for alt in setting.alternatives
        ), origin=setting.origin, env=setting.env)
    if setting.status != "known":
        return setting
    if setting.value is UNSET:
        return fallback
    raw: Any = setting.value
    if cast is not None:
        try:
            raw = cast(raw)
        except (TypeError, ValueError):
            return unknown(f"environment variable {setting.env}={raw!r} does not cast as the code casts it", setting.origin)
    return Value("known", raw, setting.origin, env=setting.env, uncast=cast is None and not expects_string)


def _set_in(environ: Environ | None, name: str) -> Value | None:
    return environ.value(name) if environ is not None else None


def subscript(name: str, span: Span, environ: Environ | None) -> Value:
    """os.environ["X"]: the deployment's value, else unknown."""
    fallback = unknown(f"environment variable {name} (no default)", span)
    found = _set_in(environ, name)
    return from_deployment(found, None, True, fallback) if found is not None else fallback


def os_environ(pos: list[Value], kw: dict[str, Value], span: Span, environ: Environ | None = None) -> Value:
    """os.environ.get / os.getenv / os.environ.setdefault."""
    fallback = _os_environ_unset(pos, kw, span)
    name = pos[0] if pos else kw.get("key")
    found = _set_in(environ, name.value) if name is not None and isinstance(name.value, str) else None
    if found is None:
        return fallback
    default = pos[1] if len(pos) > 1 else kw.get("default") or kw.get("value")
    expects_string = default is None or not default.is_resolved or isinstance(default.value, (str, type(None)))
    return from_deployment(found, None, expects_string, fallback)


def _os_environ_unset(pos: list[Value], kw: dict[str, Value], span: Span) -> Value:
    name = pos[0] if pos else kw.get("key")
    if name is None or name.status != "known" or not isinstance(name.value, str):
        return unknown("environment variable whose name cannot be read", span)
    default = pos[1] if len(pos) > 1 else kw.get("default") or kw.get("value")
    if default is None:
        # env names the variable: os.environ.get(name) is None while it is unset (Scope.call_helper)
        return Value("unknown", None, span, env=name.value, reason=f"environment variable {name.value} (no default)")
    if default.status not in ("known", "env-default"):
        return unknown(f"environment variable {name.value} with a default qlint cannot read", span)
    raw = default.value
    # Whatever the default's type, a set variable arrives as a string.
    return Value("env-default", raw, span, env=name.value, uncast=not isinstance(raw, str) and raw is not None)


def library(reader: EnvReader, method: str | None, pos: list[Value], kw: dict[str, Value], span: Span,
            environ: Environ | None = None) -> Value:
    """django-environ env("X")/env.int("X", default=...) and decouple config("X", default=..., cast=...)."""
    name = pos[0] if pos else kw.get("var") or kw.get("option")
    if name is None or name.status != "known" or not isinstance(name.value, str):
        return unknown("environment variable whose name cannot be read", span)
    var = name.value
    default = kw.get("default")
    if default is None and len(pos) > 1 and reader.kind == "environ":
        default = pos[1]
    cast_fn: Any = None
    if reader.kind == "environ":
        schema = {v: (c, d) for v, c, d in reader.schema}
        if default is None and var in schema:
            schema_cast, schema_default = schema[var]
            default = known(schema_default, span)
            if method in (None, "str"):
                cast_fn = schema_cast if isinstance(schema_cast, Sym) else None
        if method in ("int", "float", "bool", "str"):
            cast_fn = Sym(f"builtins.{method}")
        elif method not in (None, "str"):
            cast_fn = Sym(f"environ.{method}")
    else:
        cast_value = kw.get("cast")
        cast_fn = cast_value.value if cast_value is not None and cast_value.status == "known" else None
        builtin_cast = isinstance(cast_fn, Sym) and cast_fn.qualname in ("builtins.int", "builtins.float", "builtins.bool", "builtins.str")
        if cast_value is not None and not builtin_cast:
            return unknown(f"environment variable {var} with a cast qlint does not apply", span)
    fallback = _library_unset(var, default, cast_fn, reader, method, span)
    found = _set_in(environ, var)
    if found is not None:
        return _library_from_deployment(found, cast_fn, reader, method, default, fallback)
    return fallback


def _library_unset(var: str, default: Value | None, cast_fn: Any, reader: EnvReader, method: str | None,
                   span: Span) -> Value:
    if default is None:
        return unknown(f"environment variable {var} (no default)", span)
    if default.status not in ("known", "env-default"):
        return unknown(f"environment variable {var} with a default qlint cannot read", span)
    raw = default.value
    if isinstance(cast_fn, Sym) and cast_fn.qualname.startswith("builtins."):
        kind = cast_fn.qualname.split(".", 1)[1]
        try:
            if kind == "bool" and isinstance(raw, str):
                raw = env_bool(raw)
            elif kind in ("int", "float", "str", "bool") and raw is not None:
                raw = {"int": int, "float": float, "str": str, "bool": bool}[kind](raw)
        except (TypeError, ValueError):
            return unknown(f"environment variable {var}: default {raw!r} does not cast to {kind}", span)
        return Value("env-default", raw, span, env=var)
    if cast_fn is None and reader.kind == "environ" and method in (None, "str"):
        return Value("env-default", raw, span, env=var, uncast=not isinstance(raw, str) and raw is not None)
    if cast_fn is None and reader.kind == "decouple":
        return Value("env-default", raw, span, env=var, uncast=not isinstance(raw, str) and raw is not None)
    return Value("env-default", raw, span, env=var)


_CASTS: dict[str, Callable[[str], Any]] = {"int": int, "float": float, "str": str, "bool": env_bool}


def _library_from_deployment(found: Value, cast_fn: Any, reader: EnvReader, method: str | None,
                             default: Value | None, fallback: Value) -> Value:
    if isinstance(cast_fn, Sym) and cast_fn.qualname.startswith("builtins."):
        return from_deployment(found, _CASTS[cast_fn.qualname.split(".", 1)[1]], True, fallback)
    if cast_fn is None and (reader.kind == "decouple" or method in (None, "str")):
        expects_string = default is None or not default.is_resolved or isinstance(default.value, (str, type(None)))
        return from_deployment(found, None, expects_string, fallback)
    return unknown(f"environment variable {found.env} with a cast qlint does not apply", found.origin)
