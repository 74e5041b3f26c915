"""Between qlint's model (1-based lines and columns, display paths) and LSP types."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from lsprotocol import types as lsp

from qlint.model import Edit, Finding, Span
from qlint.report.pages import page_url

SEVERITY = {"error": lsp.DiagnosticSeverity.Error, "warning": lsp.DiagnosticSeverity.Warning,
            "info": lsp.DiagnosticSeverity.Information}


def uri_to_path(uri: str) -> Path:
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        raise ValueError(f"not a file URI: {uri}")
    return Path(unquote(parsed.path)).resolve()


def path_to_uri(path: Path) -> str:
    return path.resolve().as_uri()


def to_range(span: Span) -> lsp.Range:
    end_line, end_column = span.end_line, span.end_column
    if (end_line, end_column) <= (span.line, span.column):
        end_line, end_column = span.line, span.column + 1
    return lsp.Range(lsp.Position(span.line - 1, span.column - 1), lsp.Position(end_line - 1, end_column - 1))


def diagnostic(finding: Finding, root: Path) -> lsp.Diagnostic:
    related = [
        lsp.DiagnosticRelatedInformation(lsp.Location(path_to_uri(root / r.span.path), to_range(r.span)), r.message)
        for r in finding.related
    ]
    message = finding.message if finding.fix is None else f"{finding.message}\nfix: {finding.fix.description}"
    href = page_url(finding.code)
    return lsp.Diagnostic(
        range=to_range(finding.span), message=message, severity=SEVERITY.get(finding.severity),
        code=finding.code, code_description=lsp.CodeDescription(href=href) if href else None,
        source="qlint", related_information=related or None, data={"name": finding.name},
    )


def text_edit(edit: Edit) -> lsp.TextEdit:
    """An edit's span as it is: an empty one inserts (to_range widens it, for diagnostics only)."""
    span = edit.span
    return lsp.TextEdit(lsp.Range(lsp.Position(span.line - 1, span.column - 1),
                                  lsp.Position(span.end_line - 1, span.end_column - 1)), edit.content)
