from __future__ import annotations

import re
from pathlib import Path

from qlint.model import Finding, Span
from qlint.report import render
from tests.report.conftest import RULES, LateAck, late_ack, payload, prefetch, tabbed, wide


def text(findings: list[Finding], root: Path, **options) -> str:
    options.setdefault("color", False)
    return render(findings, "text", root=root, rules=RULES, **options)


def block(output: str, head: str) -> list[str]:
    """The lines of the block that starts with head, up to the blank line."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(head))
    end = lines.index("", start)
    return lines[start:end]


def caret_column(snippet: list[str]) -> tuple[int, int]:
    """(offset, width) of the marker relative to the start of the code on the line above it."""
    code_line, marker_line = snippet[1], snippet[2]
    code_start = code_line.index("| ") + 2
    marker = re.search(r"\^+", marker_line)
    assert marker is not None
    return marker.start() - code_start, len(marker.group())


def test_header_source_marker_notes_and_fix(project: Path) -> None:
    lines = block(text([late_ack()], project), "settings/production.py:3:1:")
    assert lines == [
        "settings/production.py:3:1: QL101 late-acked tasks may run 24 h, past Redis' 1 h visibility timeout",
        "   |",
        " 3 | CELERY_TASK_TIME_LIMIT = 24 * 60 * 60  # a day",
        "   | " + "^" * 37,
        "   |",
        "  = note: settings/base.py:1:1: late acknowledgement is turned on here",
        "  = note: settings/base.py:2:1: the broker is Redis, whose default visibility timeout is 1 h",
        "  = fix: set broker_transport_options['visibility_timeout'] above the time limit",
    ]


def test_findings_are_sorted_and_summarised(project: Path, findings: list[Finding]) -> None:
    output = text(findings, project)
    heads = [line for line in output.splitlines() if line and not line.startswith(" ")]
    assert heads == [
        "deploy/Procfile:2:9: QL401 this worker reserves 32 messages behind long tasks",
        "settings/production.py:3:1: QL101 late-acked tasks may run 24 h, past Redis' 1 h visibility timeout",
        "views.py:2:5: QL201 the file's contents are sent through the broker",
        "Found 3 findings (1 error, 1 warning, 1 info).",
    ]
    assert output.endswith("Found 3 findings (1 error, 1 warning, 1 info).\n")


def test_summary_wording() -> None:
    root = Path("/nonexistent")
    assert text([], root) == "All checks passed.\n"
    assert text([late_ack()], root).endswith("\nFound 1 finding (1 error).\n")
    two = [payload(), tabbed()]
    assert text(two, root).endswith("\nFound 2 findings (2 warnings).\n")


def test_procfile_and_yaml_lines_are_shown(project: Path) -> None:
    lines = block(text([prefetch()], project), "deploy/Procfile:2:9:")
    assert lines[2] == " 2 | worker: celery -A proj worker -c 8"
    assert caret_column(lines[1:4]) == (8, 26)
    assert lines[5] == "  = note: deploy/worker.yaml:3:14: another worker with the default multiplier"


def test_multiline_span_marks_the_first_line_to_its_end(project: Path) -> None:
    lines = block(text([payload()], project), "views.py:2:5:")
    assert lines[2] == " 2 |     process.delay("
    assert caret_column(lines[1:4]) == (4, len("process.delay("))


def test_tab_expands_and_the_marker_follows(project: Path) -> None:
    lines = block(text([tabbed()], project), "settings/production.py:4:2:")
    assert lines[2] == " 4 |     CELERY_X = 1"
    assert caret_column(lines[1:4]) == (4, len("CELERY_X"))


def test_wide_characters_take_two_cells(project: Path) -> None:
    lines = block(text([wide()], project), "settings/production.py:5:8:")
    assert lines[2] == " 5 | NAME = '日本語' + VALUE"
    # "NAME = " is 7 cells; the quoted string is 2 quotes and 3 wide characters.
    assert caret_column(lines[1:4]) == (7, 2 + 3 * 2)


def test_marker_at_end_of_line_and_past_it(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    at_end = LateAck().finding("m", Span("a.py", 1, 6))
    past = LateAck().finding("m", Span("a.py", 1, 40, 1, 50))
    for finding in (at_end, past):
        lines = block(text([finding], tmp_path), "a.py:1:")
        assert caret_column(lines[1:4]) == (5, 1)


def test_control_characters_are_shown_as_pictures(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = '\x1b[31m'\n")
    lines = block(text([LateAck().finding("m", Span("a.py", 1, 1, 1, 2))], tmp_path), "a.py:1:1:")
    assert "\x1b" not in "\n".join(lines)
    assert lines[2] == " 1 | x = '\u241b[31m'"


def test_long_line_numbers_keep_the_gutter_aligned(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("\n" * 119 + "value = 1\n")
    lines = block(text([LateAck().finding("m", Span("a.py", 120, 9, 120, 10))], tmp_path), "a.py:120:9:")
    assert lines[1:5] == ["     |", " 120 | value = 1", "     |         ^", "     |"]


def test_missing_or_undecodable_file_is_shown_without_source(project: Path) -> None:
    (project / "deploy" / "bad.yaml").write_bytes(b"command: caf\xe9\n")
    gone = LateAck().finding("gone", Span("deleted.py", 3, 1))
    bad = LateAck().finding("bad bytes", Span("deploy/bad.yaml", 1, 1))
    short = LateAck().finding("no such line", Span("settings/base.py", 99, 1))
    output = text([gone, bad, short], project)
    assert block(output, "deleted.py:3:1:") == ["deleted.py:3:1: QL101 gone"]
    assert block(output, "deploy/bad.yaml:1:1:") == ["deploy/bad.yaml:1:1: QL101 bad bytes"]
    assert block(output, "settings/base.py:99:1:") == ["settings/base.py:99:1: QL101 no such line"]


def test_python_source_in_a_declared_encoding(tmp_path: Path) -> None:
    (tmp_path / "legacy.py").write_bytes("# -*- coding: latin-1 -*-\nNAME = 'café'\n".encode("latin-1"))
    lines = block(text([LateAck().finding("m", Span("legacy.py", 2, 8, 2, 14))], tmp_path), "legacy.py:2:8:")
    assert lines[2] == " 2 | NAME = 'café'"
    assert caret_column(lines[1:4]) == (7, 6)


def test_without_source(project: Path, findings: list[Finding]) -> None:
    output = text(findings, project, show_source=False)
    assert "|" not in output
    assert block(output, "settings/production.py:3:1:")[1] == "  = note: settings/base.py:1:1: late acknowledgement is turned on here"


def test_colour_only_when_asked(project: Path, findings: list[Finding]) -> None:
    plain = text(findings, project, color=False)
    coloured = text(findings, project, color=True)
    assert "\x1b[" not in plain
    assert "\x1b[1;31mQL101\x1b[0m" in coloured
    assert "\x1b[1;33mQL201\x1b[0m" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain


def test_statistics(project: Path) -> None:
    findings = [payload(), late_ack(), tabbed(), wide(), prefetch(), late_ack()]
    output = text(findings, project, statistics=True)
    assert output.splitlines() == [
        "3  QL201  large-payload-argument",
        "2  QL101  late-ack-visibility-timeout",
        "1  QL401  prefetch-long-tasks",
        "Found 6 findings (2 errors, 3 warnings, 1 info).",
    ]
