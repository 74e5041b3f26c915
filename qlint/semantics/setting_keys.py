"""What the setting-name rules share: renaming a key where it is assigned, and finding
where the project's own code reads the key (a key the code reads is a project constant,
and renaming it alone would break that code)."""
from __future__ import annotations

from qlint.semantics.callsites import walk_nested
from qlint.model import Edit, Span
from qlint.resolve.project import Project
from qlint.sources import ir


def rename(span: Span, old: str, new: str) -> Edit:
    """Replace the key at the start of its assignment (a config module's or class's attribute)."""
    return Edit(Span(span.path, span.line, span.column, span.line, span.column + len(old)), new)


def references(project: Project, key: str, assigned_at: Span) -> list[Span]:
    """Where the project reads `key` by name (KEY, settings.KEY, config["KEY"],
    config.get("KEY")), other than its assignment; each span covers the name itself."""
    spans = [_name_span(node) for node in _names_read(project).get(key, ())]
    return [s for s in spans if (s.path, s.line, s.column) != (assigned_at.path, assigned_at.line, assigned_at.column)]


def _name_span(node: ir.Name | ir.Attr | ir.Const) -> Span:
    if not isinstance(node, ir.Attr):
        return node.span
    end = node.span  # an attribute's name is where its expression ends
    return Span(end.path, end.end_line, end.end_column - len(node.attr), end.end_line, end.end_column)


def _is_key(expr: ir.Expr) -> bool:
    return isinstance(expr, ir.Const) and isinstance(expr.value, str)


def _is_environ(expr: ir.Expr) -> bool:
    """os.environ (or environ): a variable of the same name is not the setting."""
    return (isinstance(expr, ir.Attr) and expr.attr == "environ") or (isinstance(expr, ir.Name) and expr.id == "environ")


def _names_read(project: Project) -> dict[str, list[ir.Name | ir.Attr | ir.Const]]:
    if "setting_keys.names_read" not in project.derived:
        found: dict[str, list[ir.Name | ir.Attr | ir.Const]] = {}
        for _, nested in walk_nested(project):
            for expr in nested:
                if isinstance(expr, ir.Name):
                    found.setdefault(expr.id, []).append(expr)
                elif isinstance(expr, ir.Attr):
                    found.setdefault(expr.attr, []).append(expr)
                elif isinstance(expr, ir.Sub) and _is_key(expr.index) and not _is_environ(expr.value):
                    found.setdefault(expr.index.value, []).append(expr.index)
                elif isinstance(expr, ir.Call) and isinstance(expr.func, ir.Attr) and expr.func.attr == "get" \
                        and expr.args and _is_key(expr.args[0]) and not _is_environ(expr.func.value):
                    found.setdefault(expr.args[0].value, []).append(expr.args[0])
        project.derived["setting_keys.names_read"] = found
    return project.derived["setting_keys.names_read"]
