"""What the setting-name rules share: an edit that renames a key where it is assigned."""
from __future__ import annotations

from qlint.model import Edit, Span


def rename(span: Span, old: str, new: str) -> Edit:
    """Replace the key at the start of its assignment (a config module's or class's attribute)."""
    return Edit(Span(span.path, span.line, span.column, span.line, span.column + len(old)), new)
