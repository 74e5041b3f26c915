from __future__ import annotations

from pathlib import Path

import pytest

from qlint.report import FORMATS, render
from tests.report.conftest import RULES


def test_unknown_format_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown report format 'xml'; choose one of text, json, sarif, github"):
        render([], "xml", root=Path("."), rules=RULES, color=False)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_ends_with_a_newline_or_is_empty(fmt: str, findings, project: Path) -> None:
    for batch in ([], findings):
        out = render(batch, fmt, root=project, rules=RULES, color=False)
        assert out == "" or out.endswith("\n")
        assert out != "" or (fmt == "github" and not batch)
