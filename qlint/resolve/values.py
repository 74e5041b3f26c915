"""Operations on resolved Values: arithmetic, casts, comparisons, conditions.

Each operation keeps track of how sure the result is: an operand read from an
environment variable makes the result env-default; a conditional operand makes it
several (computed per alternative); an unknown operand makes it unknown.
"""
from __future__ import annotations

import operator
from itertools import product
from typing import Any, Callable

from qlint.model import Alternative, Span, Value, known, unknown
from qlint.resolve.objects import UNSET, Sym

MAX_ALTERNATIVES = 16

_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "//": operator.floordiv, "%": operator.mod, "**": operator.pow, "|": operator.or_,
    "&": operator.and_, "^": operator.xor, "<<": operator.lshift, ">>": operator.rshift,
}
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
    ">=": operator.ge, "in": lambda a, b: a in b, "not in": lambda a, b: a not in b,
    "is": operator.is_, "is not": operator.is_not,
}

# Library names whose value Python fixes at run time: an `if TYPE_CHECKING:` block never
# runs, so what it imports is neither bound nor read.
_RUNTIME_CONSTANTS: dict[str, Any] = {"typing.TYPE_CHECKING": False, "typing_extensions.TYPE_CHECKING": False}


def external(qualname: str, span: Span | None) -> Value:
    """A name from outside the project: its run-time value where that is fixed, else a Sym."""
    if qualname in _RUNTIME_CONSTANTS:
        return known(_RUNTIME_CONSTANTS[qualname], span)
    return known(Sym(qualname), span)


PLAIN_TYPES = (int, float, str, bytes, bool, type(None), list, tuple, dict, set, frozenset)


def is_plain(value: Any) -> bool:
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(is_plain(k) and is_plain(v) for k, v in value.items())
    return isinstance(value, PLAIN_TYPES)


def with_origin(value: Value, origin: Span) -> Value:
    """The same value, now said to be set at origin (an assignment)."""
    if value.status == "several":
        return Value("several", None, origin, alternatives=value.alternatives)
    return Value(value.status, value.value, origin, value.env, value.alternatives, value.reason, value.uncast, value.items)


def several(alternatives: list[tuple[Value, str]], origin: Span | None) -> Value:
    """Merge alternatives; identical concrete values collapse into one."""
    flat: list[Alternative] = []
    for value, condition in alternatives:
        if value.status == "several":
            for alt in value.alternatives:
                cond = f"{condition} and {alt.condition}" if condition and alt.condition else condition or alt.condition
                flat.append(Alternative(alt.value, cond))
        else:
            flat.append(Alternative(value, condition))
    if len(flat) > MAX_ALTERNATIVES:
        return unknown("too many alternatives to follow", origin)
    firsts = flat[0].value
    if all(_same(alt.value, firsts) for alt in flat[1:]):
        return firsts
    return Value("several", None, origin, alternatives=tuple(flat))


def identical(a: Value, b: Value) -> bool:
    """The same value, compared whole (origins included); a value whose own comparison fails is
    a different value."""
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception:
        return False


def _same(a: Value, b: Value) -> bool:
    return (
        a.status == b.status and a.status in ("known", "default", "env-default")
        and type(a.value) is type(b.value) and is_plain(a.value) and a.value == b.value and a.env == b.env
    )


def combine(values: list[Value], fn: Callable[..., Any], origin: Span | None, what: str) -> Value:
    """Apply fn to the concrete values of operands, tracking certainty."""
    for v in values:
        if v.status == "unknown":
            return unknown(v.reason or "an operand is unknown", origin)
    if any(v.status == "several" for v in values):
        options = [v.alternatives if v.status == "several" else (Alternative(v, ""),) for v in values]
        combos = list(product(*options))
        if len(combos) > MAX_ALTERNATIVES:
            return unknown("too many alternatives to follow", origin)
        results = []
        for combo in combos:
            result = combine([alt.value for alt in combo], fn, origin, what)
            cond = " and ".join(alt.condition for alt in combo if alt.condition)
            results.append((result, cond))
        return several(results, origin)
    raw = [v.value for v in values]
    if any(r is UNSET for r in raw):
        return unknown("uses a name that is not set on every path", origin)
    if not all(is_plain(r) for r in raw):
        return unknown(f"{what} of a value qlint does not model", origin)
    try:
        result = fn(*raw)
    except Exception as exc:  # an operation Python itself would reject
        return unknown(f"{what} fails: {type(exc).__name__}", origin)
    env_values = [v for v in values if v.status == "env-default"]
    if env_values:
        return Value("env-default", result, origin, env=env_values[0].env, uncast=False)
    # A variable the deployment sets stays named, so `qlint config` can say where.
    from_env = next((v.env for v in values if v.env), None)
    return Value("known", result, origin, env=from_env)


def binop(op: str, left: Value, right: Value, origin: Span | None) -> Value:
    fn = _BINOPS.get(op)
    if fn is None:
        return unknown(f"operator {op} is not evaluated", origin)

    def guarded(a: Any, b: Any) -> Any:
        if op == "**" and isinstance(b, (int, float)) and abs(b) > 64:
            raise OverflowError
        if op == "*" and isinstance(a, (str, bytes, list, tuple)) or op == "*" and isinstance(b, (str, bytes, list, tuple)):
            count = b if isinstance(a, (str, bytes, list, tuple)) else a
            if isinstance(count, int) and count > 1_000_000:
                raise OverflowError
        return fn(a, b)

    return combine([left, right], guarded, origin, f"operator {op}")


def compare(left: Value, ops: list[tuple[str, Value]], origin: Span | None) -> Value:
    operands = [left] + [v for _, v in ops]
    names = [op for op, _ in ops]

    def chain(*raw: Any) -> bool:
        for i, name in enumerate(names):
            if not _COMPARE[name](raw[i], raw[i + 1]):
                return False
        return True

    return combine(operands, chain, origin, "comparison")


def truth(value: Value) -> bool | None:
    """The truth of a value when certain (known or env-default); None otherwise."""
    if value.status in ("known", "default") and is_plain(value.value):
        return bool(value.value)
    return None


def describe_condition(test_source: str, value: Value) -> str:
    if value.status == "env-default":
        return f"{test_source} (environment variable {value.env})"
    return test_source


def cast(kind: str, value: Value, origin: Span | None) -> Value:
    """int(), float(), str(), bool() applied to a value."""
    casts: dict[str, Callable[[Any], Any]] = {"int": int, "float": float, "str": str, "bool": bool}
    fn = casts[kind]
    result = combine([value], fn, origin, f"{kind}()")
    if result.status == "env-default":
        return Value("env-default", result.value, origin, env=result.env)
    return result


def to_plain(value: Value) -> Any:
    """A JSON-friendly picture of a value (objects become their description)."""
    raw = value.value
    if is_plain(raw) and raw is not UNSET:
        return raw
    return None


def to_json(value: Value) -> dict[str, Any]:
    """The JSON picture of a value in `qlint config --format json`."""
    out: dict[str, Any] = {"value": json_safe(to_plain(value)), "status": value.status}
    if value.origin is not None:
        out["origin"] = value.origin.to_json()
    else:
        out["origin"] = "default" if value.status == "default" else None
    if value.env:
        out["env"] = value.env
    if value.reason:
        out["reason"] = value.reason
    if value.uncast:
        out["uncast"] = True
    if value.status == "several":
        out["alternatives"] = [{"condition": a.condition, **to_json(a.value)} for a in value.alternatives]
    if value.items and value.status != "default":
        out["items"] = {key: to_json(item) for key, item in value.items}
    return out


def json_safe(raw: Any) -> Any:
    """Plain data JSON can hold: string keys, lists for tuples and sets, text for bytes."""
    if isinstance(raw, dict):
        return {k if isinstance(k, str) else repr(k): json_safe(v) for k, v in raw.items()}
    if isinstance(raw, (list, tuple)):
        return [json_safe(v) for v in raw]
    if isinstance(raw, (set, frozenset)):
        return sorted((json_safe(v) for v in raw), key=repr)
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "replace")
    if isinstance(raw, float) and (raw != raw or raw in (float("inf"), float("-inf"))):
        return repr(raw)
    return raw
