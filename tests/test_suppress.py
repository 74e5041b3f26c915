from __future__ import annotations

import re
from pathlib import Path

import pytest

from qlint.model import Edit, Finding, Span
from qlint.user_config.suppress import SuppressionResult, UnusedSuppression, apply_suppressions, skip_file


def finding(path: str, line: int, code: str = "QL101", end_line: int | None = None, end_column: int = 0,
            name: str = "late-ack-visibility-timeout") -> Finding:
    return Finding(code, name, "error", "m", Span(path, line, 1, end_line or line, end_column or 2))


class Project:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.reads: list[str] = []

    def write(self, rel: str, text: str) -> str:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return rel

    def read_text(self, rel: str) -> str | None:
        self.reads.append(rel)
        try:
            return (self.root / rel).read_text(encoding="utf-8")
        except OSError:
            return None

    def apply(self, findings: list[Finding], files: tuple[str, ...] = ()) -> SuppressionResult:
        return apply_suppressions(findings, self.read_text, files=files)

    def kept(self, findings: list[Finding]) -> list[Finding]:
        return self.apply(findings).kept


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def codes(findings: list[Finding]) -> list[tuple[str, int, str]]:
    return [(f.span.path, f.span.line, f.code) for f in findings]


def apply_edit(text: str, edit: Edit) -> str:
    lines = text.splitlines(keepends=True)

    def offset(line: int, column: int) -> int:
        return sum(len(x) for x in lines[: line - 1]) + column - 1

    return text[: offset(edit.span.line, edit.span.column)] + edit.content + text[offset(edit.span.end_line, edit.span.end_column):]


def test_qlint_ignore_with_codes_prefixes_and_names(project: Project) -> None:
    path = project.write("settings.py", (
        "A = 1  # qlint: ignore[QL101]\n"
        "B = 1  # qlint: ignore[QL101, QL2]\n"
        "C = 1  # qlint:ignore[large-payload-argument]\n"
        "D = 1  # qlint: ignore\n"
        "E = 1\n"
    ))
    findings = [finding(path, n, code, name=name) for n in range(1, 6)
                for code, name in (("QL101", "late-ack-visibility-timeout"), ("QL201", "large-payload-argument"), ("QL401", "prefetch-long-tasks"))]
    result = project.apply(findings)
    assert codes(result.kept) == [
        (path, 1, "QL201"), (path, 1, "QL401"),
        (path, 2, "QL401"),
        (path, 3, "QL101"), (path, 3, "QL401"),
        (path, 5, "QL101"), (path, 5, "QL201"), (path, 5, "QL401"),
    ]
    assert len(result.suppressed) == 7
    assert result.unused == []


def test_noqa_forms(project: Project) -> None:
    path = project.write("settings.py", (
        "A = 1  # noqa: QL101\n"
        "B = 1  # noqa:QL101,QL201\n"
        "C = 1  # noqa\n"
        "D = 1  # NOQA: E501\n"
        "E = 1  # noqa: QL1 because the limit is checked elsewhere\n"
        "F = 1  # type: ignore  # noqa: QL201\n"
    ))
    findings = [finding(path, n, code) for n in range(1, 7) for code in ("QL101", "QL201")]
    assert codes(project.kept(findings)) == [
        (path, 1, "QL201"),
        (path, 4, "QL101"), (path, 4, "QL201"),
        (path, 5, "QL201"),
        (path, 6, "QL101"),
    ]


def test_text_inside_python_strings_is_not_a_comment(project: Project) -> None:
    path = project.write("tasks.py", (
        'HELP = "# qlint: ignore"\n'
        "DOC = '''\n"
        "# noqa\n"
        "# qlint: skip-file\n"
        "'''\n"
    ))
    findings = [finding(path, 1), finding(path, 3)]
    assert project.kept(findings) == findings


def test_python_that_does_not_tokenize_falls_back_to_lines(project: Project) -> None:
    path = project.write("broken.py", "CELERY_TASK_ACKS_LATE = (True  # qlint: ignore[QL101]\nX = 'a # noqa'\n")
    assert project.kept([finding(path, 1), finding(path, 2)]) == [finding(path, 2)]


@pytest.mark.parametrize("name, text", [
    ("deploy/worker.yaml", "command: 'celery # worker'  # qlint: ignore[QL401]\nname: \"a # noqa\"\n"),
    ("pyproject.toml", "broker = \"redis://x#y\" # noqa: QL401\nhelp = 'x # qlint: ignore'\n"),
    ("Procfile", "worker: celery -A proj worker -c 8  # qlint: ignore[QL4]\nweb: echo '# noqa'\n"),
    ("bin/start.sh", "celery -A proj worker # noqa: QL401\necho \"it's # noqa\"\n"),
    (".env", "CELERY_PREFETCH=4 # qlint: ignore\nURL='redis://x#noqa'\n"),
    ("supervisord.conf", "command=celery -A proj worker  ; # qlint: ignore[QL401]\ncommand=\"x # noqa\"\n"),
    ("celery.service", "ExecStart=/usr/bin/celery worker # noqa: QL401\nDescription=it's \"# noqa\" here\n"),
])
def test_deployment_files_use_hash_comments_outside_quotes(project: Project, name: str, text: str) -> None:
    path = project.write(name, text)
    findings = [finding(path, 1, "QL401"), finding(path, 2, "QL401")]
    assert project.kept(findings) == [findings[1]]


def test_unquoted_apostrophe_does_not_hide_a_comment(project: Project) -> None:
    path = project.write("deploy/worker.yaml", "note: don't prefetch # qlint: ignore[QL401]\n")
    assert project.kept([finding(path, 1, "QL401")]) == []


def test_multiline_span_first_or_last_line(project: Project) -> None:
    path = project.write("views.py", (
        "process.delay(  # qlint: ignore[QL201]\n"
        "    data,\n"
        ")\n"
        "process.delay(\n"
        "    data,  # qlint: ignore[QL201]\n"
        ")\n"
        "process.delay(\n"
        "    data,\n"
        ")  # qlint: ignore[QL201]\n"
        "other(\n"
        "    data)  # qlint: ignore[QL201]\n"
        "after = 1\n"
    ))
    first = finding(path, 1, "QL201", end_line=3, end_column=2)
    middle = finding(path, 4, "QL201", end_line=6, end_column=2)
    last = finding(path, 7, "QL201", end_line=9, end_column=2)
    # Ends at column 1 of line 12 (exclusive): its last line is 11.
    exclusive_end = finding(path, 10, "QL201", end_line=12, end_column=1)
    result = project.apply([first, middle, last, exclusive_end])
    assert result.kept == [middle]
    assert codes(result.unused) == [(path, 5, "QL009")]


def test_skip_file(project: Project) -> None:
    skipped = project.write("legacy.py", "X = 1  # noqa: QL101\n\n# qlint: skip-file\n")
    kept = project.write("other.py", "S = '# qlint: skip-file'\n")
    findings = [finding(skipped, 1), finding(skipped, 2, "QL201"), finding(kept, 1)]
    result = project.apply(findings)
    assert result.kept == [finding(kept, 1)]
    assert result.unused == []  # comments of a skipped file are not reported
    assert skip_file((project.root / skipped).read_text())
    assert not skip_file((project.root / kept).read_text())
    assert skip_file("a: 'x'  # qlint: skip-file\n", "deploy/worker.yaml")
    assert not skip_file("a: '# qlint: skip-file'\n", "deploy/worker.yaml")


def test_unused_suppressions_are_reported_with_a_fix(project: Project) -> None:
    text = (
        "A = 1  # qlint: ignore[QL101]\n"
        "B = 1  # qlint: ignore[QL201]\n"
        "# qlint: ignore\n"
        "C = 1  # type: ignore  # noqa: QL401\n"
        "D = 1  # noqa\n"
        "E = 1  # noqa: E501\n"
        "F = 1  # noqa: E501, QL301\n"
    )
    path = project.write("settings.py", text)
    result = project.apply([finding(path, 1), finding(path, 5, "QL201")])
    assert codes(result.kept) == []
    assert [(u.span.line, u.span.column, u.span.end_column, u.message) for u in result.unused] == [
        (2, 8, 30, "unused suppression: `# qlint: ignore[QL201]` matched no finding"),
        (3, 1, 16, "unused suppression: `# qlint: ignore` matched no finding"),
        (4, 24, 37, "unused suppression: `# noqa: QL401` matched no finding"),
        (7, 8, 27, "unused suppression: `# noqa: E501, QL301` matched no finding"),
    ]
    for unused in result.unused:
        assert (unused.code, unused.name, unused.severity) == (UnusedSuppression.code, UnusedSuppression.name, "warning")
        assert unused.fix is not None and unused.fix.applicability == "safe"
    fixed = [apply_edit(text, u.fix.edits[0]).splitlines() for u in result.unused]
    assert fixed[0][1] == "B = 1"
    assert fixed[1][2] == "C = 1  # type: ignore  # noqa: QL401"  # the comment-only line is gone
    assert len(fixed[1]) == len(text.splitlines()) - 1
    assert fixed[2][3] == "C = 1  # type: ignore"
    assert fixed[3][6] == "F = 1"


def test_unused_in_files_without_findings_needs_the_file_list(project: Project) -> None:
    path = project.write("deploy/Procfile", "worker: celery worker  # qlint: ignore[QL401]\n")
    assert project.apply([]).unused == []
    [unused] = project.apply([], files=(path,)).unused
    assert (unused.span.path, unused.span.line, unused.span.column) == (path, 1, 24)


def test_each_file_is_read_once(project: Project) -> None:
    a = project.write("a.py", "X = 1  # qlint: ignore\nY = 2\n")
    b = project.write("b.yaml", "x: 1\n")
    findings = [finding(a, 1), finding(a, 2), finding(b, 1), finding(a, 1, "QL201"), finding(b, 1, "QL401")]
    project.apply(findings, files=(a, b))
    assert sorted(project.reads) == [a, b]


def test_unreadable_or_missing_files_keep_their_findings(project: Project) -> None:
    (project.root / "bad.py").write_bytes(b"X = 1  # qlint: ignore\n\xff\xfe\n")
    findings = [finding("gone.py", 1), finding("bad.py", 1)]

    def strict(rel: str) -> str | None:
        try:
            return (project.root / rel).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    assert apply_suppressions(findings, strict).kept == findings


def test_carriage_returns_and_bom(project: Project) -> None:
    path = "crlf.py"
    (project.root / path).write_bytes(b"\xef\xbb\xbfA = 1\r\nB = 2  # qlint: ignore[QL101]\r\n")
    assert project.kept([finding(path, 1), finding(path, 2)]) == [finding(path, 1)]


def test_unused_suppression_rule_is_documented() -> None:
    doc = UnusedSuppression.documentation()
    assert doc.startswith("# QL009 unused-suppression")
    assert re.search(r"## Fix safety\nSafe", doc)
