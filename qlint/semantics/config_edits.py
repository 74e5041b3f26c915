"""Edits that write a setting into an app's configuration, for the fixes that change a value:
over the value where it is written, as a new item of a dict written as a literal, or as a new
line of the configuration source module, spelled as that source reads it (spelling.py).

Each function returns the edit, or why qlint cannot write one there (for the fix's text).
"""
from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any

from qlint.model import Edit, Span, Value
from qlint.resolve.project import Project
from qlint.resolve.resolved import App
from qlint.semantics.spelling import key
from qlint.sources import ir

Written = tuple[Edit | None, str]  # the edit, or None and why not


def written(project: Project, origin: Span | None) -> ir.Expr | None:
    """The expression a setting's value is written as, given where the setting is set: the value
    of a plain assignment whose span is origin (KEY = ..., app.conf.key = ...), or the expression
    that is origin (a keyword of app.conf.update() or Celery()). None elsewhere: a tuple
    unpacking or chained assignment, a file that is not Python."""
    if origin is None or not origin.path.endswith(".py"):
        return None
    facts = project.workspace.load_facts(origin.path)
    if facts is None or facts.error is not None:
        return None
    with ir.deep_recursion():
        return _find(facts.body, origin)


_EXPRESSIONS = (ir.Const, ir.Name, ir.Attr, ir.Sub, ir.Call, ir.BinOp, ir.UnaryOp, ir.BoolOp, ir.Compare, ir.IfExp,
                ir.Coll, ir.DictE, ir.FStr)


def _find(node: Any, origin: Span) -> ir.Expr | None:
    if isinstance(node, tuple):
        for item in node:
            found = _find(item, origin)
            if found is not None:
                return found
        return None
    if not is_dataclass(node):
        return None
    if isinstance(node, ir.Assign) and node.span == origin:
        plain = len(node.targets) == 1 and isinstance(node.targets[0], (ir.Name, ir.Attr))
        return node.value if plain else None
    if isinstance(node, _EXPRESSIONS) and node.span == origin:
        return node
    for f in fields(node):
        if f.name != "span":
            found = _find(getattr(node, f.name), origin)
            if found is not None:
                return found
    return None


def replace_value(project: Project, value: Value, content: str) -> Written:
    """content written over the expression that sets value."""
    if value.status != "known":
        return None, _why_not_known(value)
    expr = written(project, value.origin)
    if expr is None:
        return None, "qlint cannot tell which expression to rewrite"
    return Edit(expr.span, content), ""


def _why_not_known(value: Value) -> str:
    if value.status == "env-default":
        return f"the value comes from the environment ({value.env}): set it there" if value.env else \
            "the value comes from the environment: set it there"
    if value.status == "several":
        return "the value depends on a condition"
    return "the value cannot be read"


def add_item(project: Project, value: Value, item: str, content: str) -> Written:
    """`"item": content` added to the dict literal that sets value (which lacks item)."""
    expr = written(project, value.origin) if value.status == "known" else None
    if not isinstance(expr, ir.DictE):
        return None, "the options are not written as a dict literal qlint can add to"
    pair = f'"{item}": {content}'
    span = expr.span
    first = expr.items[0][0] if expr.items else None
    if first is None:  # {} or {**other, ...}: just after the brace
        at = Span(span.path, span.line, span.column + 1, span.line, span.column + 1)
        return Edit(at, pair + (", " if expr.items else "")), ""
    at = Span(first.span.path, first.span.line, first.span.column, first.span.line, first.span.column)
    if first.span.line == span.line:
        return Edit(at, pair + ", "), ""
    # One item per line: the new one on a line of its own, indented as the first.
    return Edit(at, pair + ",\n" + " " * (first.span.column - 1)), ""


def new_setting(project: Project, app: App | None, name: str, content: str) -> Written:
    """`KEY = content` on a line of its own in the app's configuration source module, after the
    last top-level statement that sets a Celery setting there (so that what follows, such as a
    `from .local import *` at the end of Django settings, still overrides it)."""
    if app is None or app.source_kind not in ("module", "django") or not (app.source_path or "").endswith(".py"):
        return None, "the app has no configuration module to add it to"
    spelled = key(app, name)
    if "." in spelled:
        return None, f"the app reads it only as {spelled}, not from its configuration module"
    path = app.source_path
    facts = project.workspace.load_facts(path)
    if facts is None or facts.error is not None:
        return None, f"{path} cannot be read"
    body = facts.body
    last = -1
    for span in app.read_keys.values():
        if span.path == path:
            last = max(last, _top_level(body, span))
    if last < 0:
        return None, f"{path} sets no Celery setting of its own to put it after"
    line = f"{spelled} = {content}"
    anchor = body[last]
    if isinstance(anchor, (ir.Assign, ir.AugAssign, ir.ExprStmt, ir.Try, ir.Import, ir.ImportFrom)):
        end = anchor.span.end_line
        if end >= facts.lines:  # the file ends on that line, without a line ending
            return Edit(Span(path, end + 1, 1, end + 1, 1), "\n" + line), ""
        return Edit(Span(path, end + 1, 1, end + 1, 1), line + "\n"), ""
    # A compound statement's span does not say where its body ends: put the line before the next one.
    if last + 1 >= len(body):
        return None, f"qlint cannot tell where the statement at {anchor.span} ends in {path}"
    following = _start_line(body[last + 1])
    return Edit(Span(path, following, 1, following, 1), line + "\n"), ""


def _top_level(body: tuple, span: Span) -> int:
    """The index of the top-level statement that holds span, or -1."""
    for i, stmt in enumerate(body):
        if isinstance(stmt, (ir.FuncDef, ir.ClassDef)):
            continue
        if isinstance(stmt, (ir.If, ir.Block)):
            ends_before = _start_line(body[i + 1]) if i + 1 < len(body) else None
            if stmt.span.line <= span.line and (ends_before is None or span.line < ends_before):
                return i
        elif (stmt.span.line, stmt.span.column) <= (span.line, span.column) and \
                (span.end_line, span.end_column) <= (stmt.span.end_line, stmt.span.end_column):
            return i
    return -1


def _start_line(stmt: Any) -> int:
    """The first line of a statement, its decorators included."""
    decorators = getattr(stmt, "decorators", ())
    return min([stmt.span.line, *(d.span.line for d in decorators)])
