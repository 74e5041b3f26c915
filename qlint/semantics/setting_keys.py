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
    """Where the project reads `key` by name (KEY, settings.KEY), other than its assignment;
    each span covers the name itself."""
    spans = [_name_span(node) for node in _names_read(project).get(key, ())]
    return [s for s in spans if (s.path, s.line, s.column) != (assigned_at.path, assigned_at.line, assigned_at.column)]


def _name_span(node: ir.Name | ir.Attr) -> Span:
    if isinstance(node, ir.Name):
        return node.span
    end = node.span  # an attribute's name is where its expression ends
    return Span(end.path, end.end_line, end.end_column - len(node.attr), end.end_line, end.end_column)


def _names_read(project: Project) -> dict[str, list[ir.Name | ir.Attr]]:
    if "setting_keys.names_read" not in project.derived:
        found: dict[str, list[ir.Name | ir.Attr]] = {}
        for _, nested in walk_nested(project):
            for expr in nested:
                if isinstance(expr, ir.Name):
                    found.setdefault(expr.id, []).append(expr)
                elif isinstance(expr, ir.Attr):
                    found.setdefault(expr.attr, []).append(expr)
        project.derived["setting_keys.names_read"] = found
    return project.derived["setting_keys.names_read"]
