"""Reading environment variables as Celery settings: os.environ, django-environ, python-decouple.

A read with a default gives status env-default with the default as its value. A
variable that is set arrives as a string unless the library casts it, so a default
of another type without a cast is flagged uncast.
"""
from __future__ import annotations

from typing import Any

from qlint.model import Span, Value, known, unknown
from qlint.resolve.objects import EnvReader, Sym

_TRUE_STRINGS = frozenset({"true", "on", "ok", "y", "yes", "1"})


def env_bool(raw: str) -> bool:
    return raw.strip().lower() in _TRUE_STRINGS


def os_environ(pos: list[Value], kw: dict[str, Value], span: Span) -> Value:
    """os.environ.get / os.getenv / os.environ.setdefault."""
    name = pos[0] if pos else kw.get("key")
    if name is None or name.status != "known" or not isinstance(name.value, str):
        return unknown("environment variable whose name cannot be read", span)
    default = pos[1] if len(pos) > 1 else kw.get("default") or kw.get("value")
    if default is None:
        return unknown(f"environment variable {name.value} (no default)", span)
    if default.status not in ("known", "env-default"):
        return unknown(f"environment variable {name.value} with a default qlint cannot read", span)
    raw = default.value
    # Whatever the default's type, a set variable arrives as a string.
    return Value("env-default", raw, span, env=name.value, uncast=not isinstance(raw, str) and raw is not None)


def library(reader: EnvReader, method: str | None, pos: list[Value], kw: dict[str, Value], span: Span) -> Value:
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
