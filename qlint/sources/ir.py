"""A small, picklable picture of Python source: the per-file facts.

Extraction turns a syntax tree into these nodes once per file (and caches them by
content hash); resolution evaluates them. Only what qlint reasons about is kept:
expressions, assignments, imports, conditionals, classes and function signatures.
Every node carries the Span it came from.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any, Iterator, Union

from qlint.model import Span

# Expressions may nest up to MAX_DEPTH levels (see python.py); walking, evaluating or
# pickling them takes a few Python frames per level, more than the default limit allows.
MAX_DEPTH = 400
RECURSION_LIMIT = 6000


@contextmanager
def deep_recursion() -> Iterator[None]:
    """Raise the recursion limit (never lower it) for work on deep IR trees."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, RECURSION_LIMIT))
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Const:
    value: Any
    span: Span


@dataclass(frozen=True, slots=True)
class Name:
    id: str
    span: Span


@dataclass(frozen=True, slots=True)
class Attr:
    value: "Expr"
    attr: str
    span: Span


@dataclass(frozen=True, slots=True)
class Sub:
    value: "Expr"
    index: "Expr"
    span: Span


@dataclass(frozen=True, slots=True)
class Starred:
    value: "Expr"
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    func: "Expr"
    args: tuple["Expr", ...]  # Starred for *x
    kwargs: tuple[tuple[str | None, "Expr"], ...]  # None for **x
    span: Span

    def kwarg(self, name: str) -> "Expr | None":
        for key, value in self.kwargs:
            if key == name:
                return value
        return None


@dataclass(frozen=True, slots=True)
class BinOp:
    op: str
    left: "Expr"
    right: "Expr"
    span: Span


@dataclass(frozen=True, slots=True)
class UnaryOp:
    op: str
    operand: "Expr"
    span: Span


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # "and" | "or"
    values: tuple["Expr", ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Compare:
    left: "Expr"
    ops: tuple[tuple[str, "Expr"], ...]
    span: Span


@dataclass(frozen=True, slots=True)
class IfExp:
    test: "Expr"
    body: "Expr"
    orelse: "Expr"
    span: Span
    test_source: str = ""


@dataclass(frozen=True, slots=True)
class Coll:
    kind: str  # "list" | "tuple" | "set"
    elts: tuple["Expr", ...]
    span: Span


@dataclass(frozen=True, slots=True)
class DictE:
    items: tuple[tuple["Expr | None", "Expr"], ...]  # key None for **x
    span: Span


@dataclass(frozen=True, slots=True)
class FStr:
    parts: tuple["str | Expr", ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Opaque:
    """An expression qlint does not evaluate (lambda, comprehension, await...)."""

    reason: str
    span: Span
    # A comprehension with one `for` clause: what the resolver can still evaluate over a
    # mapping or sequence it knows. Walks do not enter it: to rules it stays opaque.
    comp: "Comp | None" = None


@dataclass(frozen=True, slots=True)
class Comp:
    kind: str  # "dict" | "list" | "set" | "gen"
    key: "Expr | None"  # a dict comprehension's key
    value: "Expr"  # the element, or a dict comprehension's value
    target: "Expr"
    iter: "Expr"
    ifs: tuple["Expr", ...]


Expr = Union[Const, Name, Attr, Sub, Starred, Call, BinOp, UnaryOp, BoolOp, Compare, IfExp, Coll, DictE, FStr, Opaque]

# ---------------------------------------------------------------- statements


@dataclass(frozen=True, slots=True)
class Assign:
    targets: tuple[Expr, ...]  # Name, Attr, Sub, or Coll of those
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class AugAssign:
    target: Expr
    op: str
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class ExprStmt:
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Return:
    value: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class Raise:
    """`raise X`: rules look at X (`raise self.retry(...)`); the interpreter ignores it."""

    value: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class Import:
    names: tuple[tuple[str, str | None], ...]  # (dotted module, alias)
    span: Span


@dataclass(frozen=True, slots=True)
class ImportFrom:
    module: str  # may be "" for "from . import x"
    level: int
    names: tuple[tuple[str, str | None], ...]  # empty for "*"
    span: Span

    @property
    def star(self) -> bool:
        return not self.names


@dataclass(frozen=True, slots=True)
class If:
    test: Expr
    test_source: str
    body: tuple["Stmt", ...]
    orelse: tuple["Stmt", ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Try:
    body: tuple["Stmt", ...]
    handlers: tuple[tuple[str, tuple["Stmt", ...]], ...]  # (exception source, body)
    orelse: tuple["Stmt", ...]
    finalbody: tuple["Stmt", ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Block:
    """A with/for/while/match body: its statements may or may not run."""

    kind: str
    header: tuple[Expr, ...]  # with-items / iterable / test
    targets: tuple[Expr, ...]  # names bound by the header (for x in..., with ... as x)
    body: tuple["Stmt", ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    kind: str  # "posonly" | "pos" | "kwonly" | "varargs" | "varkw"
    has_default: bool
    default: Expr | None = None


@dataclass(frozen=True, slots=True)
class FuncDef:
    name: str
    params: tuple[Param, ...]
    decorators: tuple[Expr, ...]
    body: tuple["Stmt", ...]
    span: Span  # the def line (name)
    is_async: bool = False
    # False when the body was not converted (nothing Celery-related in it).
    body_read: bool = True


@dataclass(frozen=True, slots=True)
class ClassDef:
    name: str
    bases: tuple[Expr, ...]
    keywords: tuple[tuple[str, Expr], ...]
    decorators: tuple[Expr, ...]
    body: tuple["Stmt", ...]
    span: Span


Stmt = Union[Assign, AugAssign, ExprStmt, Return, Raise, Import, ImportFrom, If, Try, Block, FuncDef, ClassDef]


@dataclass(frozen=True)
class ModuleFacts:
    """Everything extracted from one Python file."""

    path: str
    body: tuple[Stmt, ...]
    error: str | None = None  # set when the file could not be parsed
    error_span: Span | None = None
    lines: int = 0
    mentions_celery: bool = True
    notes: tuple[str, ...] = field(default=())


def _pickled_by_fields(cls: type) -> None:
    """Pickle as (class, field values): the slots dataclasses' own __setstate__ looks up
    the field list for every object, which made loading cached facts slower than parsing."""
    names = tuple(f.name for f in fields(cls))

    def __reduce__(self: object) -> tuple:
        return cls, tuple([getattr(self, name) for name in names])

    cls.__reduce__ = __reduce__  # type: ignore[method-assign]


_NODE_CLASSES = (Const, Name, Attr, Sub, Starred, Call, BinOp, UnaryOp, BoolOp, Compare, IfExp, Coll, DictE, FStr,
                 Opaque, Assign, AugAssign, ExprStmt, Return, Raise, Import, ImportFrom, If, Try, Block, Param, FuncDef,
                 ClassDef)
for _cls in (*_NODE_CLASSES, Comp):
    _pickled_by_fields(_cls)

_NODE_FIELDS: dict[type, tuple[str, ...]] = {cls: tuple(f.name for f in fields(cls)) for cls in (*_NODE_CLASSES, Comp)}
# The fields that can hold nodes, last first (the order a stack is filled in): a walk has no
# need to look into spans, names and flags, which are most of the fields of most nodes.
_LEAF_TYPES = frozenset({"Span", "str", "int", "bool", "Any", "str | None", "tuple[tuple[str, str | None], ...]",
                         "Comp | None"})
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {
    cls: tuple(reversed([f.name for f in fields(cls) if str(f.type) not in _LEAF_TYPES])) for cls in _NODE_CLASSES}


def shift_lines(node: Any, delta: int) -> Any:
    """A copy of an IR tree whose spans all sit `delta` lines lower in the file."""
    if isinstance(node, Span):
        return Span(node.path, node.line + delta, node.column, node.end_line + delta, node.end_column)
    names = _NODE_FIELDS.get(type(node))
    if names is not None:
        return type(node)(*[shift_lines(getattr(node, name), delta) for name in names])
    if type(node) is tuple:
        return tuple([shift_lines(item, delta) for item in node])
    return node


def own_nodes(func: FuncDef) -> Iterator[Any]:
    """Every node of the function's own code, outermost first and in field order: not the
    functions and classes defined in it, and not their parts (spans, names, constants)."""
    return (node for node in nodes_until(func.body, (FuncDef, ClassDef)) if not isinstance(node, (FuncDef, ClassDef)))


def names_in(node: Any) -> set[str]:
    """Every name an IR tree reads or binds (the ids of its Name nodes)."""
    return {found.id for found in nodes_until(node, ()) if type(found) is Name}


def nodes_until(node: Any, stop: tuple[type, ...]) -> Iterator[Any]:
    """Every node of an IR tree, outermost first; a node of a `stop` type is given but
    not entered."""
    stack: list[Any] = [node]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is tuple or kind is list:
            stack.extend(reversed(node))
            continue
        names = _CHILD_FIELDS.get(kind)
        if names is None:
            continue
        yield node
        if names and not isinstance(node, stop):
            stack.extend([getattr(node, name) for name in names])
