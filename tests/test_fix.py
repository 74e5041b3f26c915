"""`qlint check --fix`, `--diff` and `--unsafe-fixes`, through the command line on real files, and
the passes of qlint/pipeline/fixes.py on fixes made up for the purpose (overlaps, breakage)."""
from __future__ import annotations

import ast
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from qlint.model import Edit, Finding, Fix, Span
from qlint.pipeline.engine import CheckResult
from qlint.pipeline.fixes import MAX_PASSES, fix_paths, write_files
from qlint.rules import all_rules
from tests.rule_harness import write_project

MARKER = "qlint-fix-test: this comment stays"
_DJANGO = {
    "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site.settings')\n",
    "site/__init__.py": "",
    "site/celery.py": "from celery import Celery\napp = Celery('site')\n"
                      "app.config_from_object('django.conf:settings', namespace='CELERY')\n",
}


def qlint(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qlint", *args], cwd=cwd, capture_output=True, text=True)


def findings(root: Path, *args: str) -> list[dict]:
    run = qlint("check", ".", "--no-cache", "--format", "json", *args, cwd=root)
    assert run.returncode in (0, 1), run.stderr
    return json.loads(run.stdout)["findings"]


def fixable(finding: dict, unsafe: bool) -> bool:
    fix = finding.get("fix") or {}
    return bool(fix.get("edits")) and fix.get("applicability") in (("safe", "unsafe") if unsafe else ("safe",))


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def with_comments(path: Path) -> None:
    """A comment line above and below the file's own text (what a fix must keep)."""
    text = path.read_text(encoding="utf-8")
    path.write_text(f"# {MARKER} (above)\n{text}{'' if text.endswith(chr(10)) or not text else chr(10)}"
                    f"# {MARKER} (below)\n", encoding="utf-8")


def loads(path: Path) -> None:
    """Raises when the file no longer parses as what its name says it is."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".py":
        ast.parse(text)
    elif path.suffix in (".yml", ".yaml"):
        list(YAML(typ="rt").load_all(text))
    elif path.suffix == ".toml":
        tomllib.loads(text)


# ------------------------------------------------------------ every rule's examples

# A rule that carries a fix says how safe it is; the others say there is none.
FIXING_RULES = [rule for rule in all_rules() if not rule.fix_safety.startswith("No automatic fix")]
EXAMPLES = [pytest.param(rule, example, id=f"{rule.code}-{i}")
            for rule in FIXING_RULES for i, example in enumerate(rule.invalid)]


def _selection(code: str) -> list[str]:
    return ["--select", code, "--report-unused-ignores"] if code == "QL009" else ["--select", code]


@pytest.mark.parametrize(("rule", "example"), EXAMPLES)
def test_fix_on_each_rule_example(tmp_path, rule, example):
    write_project(tmp_path, example)
    for rel in example.files:
        with_comments(tmp_path / rel)
    before_files = files_of(tmp_path)
    select = _selection(rule.code)
    before = [f for f in findings(tmp_path, *select) if f["code"] == rule.code]
    assert before, f"{rule.code}'s example no longer triggers it"
    unsafe = any(fixable(f, True) and not fixable(f, False) for f in before)
    to_fix = [f for f in before if fixable(f, unsafe)]

    run = qlint("check", ".", "--no-cache", "--fix", *(["--unsafe-fixes"] if unsafe else []), *select, cwd=tmp_path)
    assert "Traceback" not in run.stderr and run.returncode in (0, 1), run.stderr
    after = [f for f in findings(tmp_path, *select) if f["code"] == rule.code]

    assert not [f for f in after if fixable(f, unsafe)], f"fixable findings left: {after}"
    assert len(after) == len(before) - len(to_fix)
    if to_fix:
        assert files_of(tmp_path) != before_files
        assert re.search(rf"Found {len(before)} findings? \({len(to_fix)} fixed, {len(after)} remaining\)\.", run.stdout), run.stdout
    else:
        assert files_of(tmp_path) == before_files
    for rel in example.files:
        path = tmp_path / rel
        loads(path)
        text = path.read_text(encoding="utf-8")
        assert f"# {MARKER} (above)" in text and f"# {MARKER} (below)" in text, text


@pytest.mark.parametrize("rule", FIXING_RULES, ids=lambda r: r.code)
def test_each_rule_with_a_fix_has_an_example_that_fixes(tmp_path, rule):
    """The test above proves something only where an example's finding has a fix to apply."""
    from tests.rule_harness import run_example

    for i, example in enumerate(rule.invalid):
        result = run_example(tmp_path / str(i), example, select=[rule.code, "QL009"] if rule.code == "QL009" else [rule.code])
        if any(f.code == rule.code and f.fix is not None and f.fix.edits and f.fix.applicability != "display-only"
               for f in [*result.findings, *result.unused_suppressions]):
            return
    pytest.fail(f"{rule.code} says it has a fix, but none of its examples carries one")


# ------------------------------------------------------------ the command line

def old_names_project(root: Path, settings: str = "CELERY_ACKS_LATE = True  # keep this\n"
                                                  "CELERYD_PREFETCH_MULTIPLIER = 1\n") -> Path:
    for rel, content in {**_DJANGO, "site/settings.py": settings}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(content, encoding="utf-8")
    return root / "site/settings.py"


def test_fix_renames_keeps_comments_and_reports_what_remains(tmp_path):
    settings = old_names_project(tmp_path)
    run = qlint("check", ".", "--no-cache", "--fix", cwd=tmp_path)
    assert settings.read_text() == "CELERY_TASK_ACKS_LATE = True  # keep this\nCELERY_WORKER_PREFETCH_MULTIPLIER = 1\n"
    remaining = findings(tmp_path)
    assert remaining and all(f["code"] != "QL002" for f in remaining)
    assert f"Found {2 + len(remaining)} findings (2 fixed, {len(remaining)} remaining)." in run.stdout
    assert run.returncode == 1  # what remains are warnings


def test_exit_status_follows_what_remains(tmp_path):
    settings = old_names_project(tmp_path, "CELERYD_PREFETCH_MULTIPLIER = 1\n")
    assert qlint("check", ".", "--no-cache", cwd=tmp_path).returncode == 1
    run = qlint("check", ".", "--no-cache", "--fix", cwd=tmp_path)
    assert run.returncode == 0, run.stdout
    assert "Found 1 finding (1 fixed, 0 remaining)." in run.stdout
    assert settings.read_text() == "CELERY_WORKER_PREFETCH_MULTIPLIER = 1\n"
    again = qlint("check", ".", "--no-cache", "--fix", cwd=tmp_path)
    assert again.returncode == 0 and "All checks passed." in again.stdout


def test_diff_writes_nothing_and_applies_as_a_patch(tmp_path):
    project = tmp_path / "p"
    project.mkdir()
    old_names_project(project, "# settings\r\nCELERY_ACKS_LATE = True\r\nCELERYD_PREFETCH_MULTIPLIER = 1")  # CRLF, no last newline
    before = files_of(project)
    stamps = {p: p.stat().st_mtime_ns for p in project.rglob("*")}
    # In bytes: the lines of a CRLF file end in CRLF in the diff too.
    diff = subprocess.run([sys.executable, "-m", "qlint", "check", ".", "--no-cache", "--diff"], cwd=project,
                          capture_output=True)
    assert diff.returncode == 1, diff.stderr
    assert files_of(project) == before and {p: p.stat().st_mtime_ns for p in project.rglob("*")} == stamps
    assert diff.stdout.startswith(b"--- a/site/settings.py\n+++ b/site/settings.py\n")
    assert b"Would fix 2 findings." in diff.stderr

    fixed = tmp_path / "fixed"
    shutil.copytree(project, fixed)
    assert qlint("check", ".", "--no-cache", "--fix", cwd=fixed).returncode == 1
    for tool in (["patch", "-p1", "--quiet"], ["git", "apply"]):
        if shutil.which(tool[0]) is None:
            continue
        copy = tmp_path / tool[0]
        shutil.copytree(project, copy)
        applied = subprocess.run([*tool], cwd=copy, input=diff.stdout, capture_output=True)
        assert applied.returncode == 0, applied.stderr
        assert files_of(copy) == files_of(fixed)
    assert (fixed / "site/settings.py").read_bytes() == (
        b"# settings\r\nCELERY_TASK_ACKS_LATE = True\r\nCELERY_WORKER_PREFETCH_MULTIPLIER = 1")


def test_diff_with_nothing_to_fix_exits_0(tmp_path):
    old_names_project(tmp_path, "CELERY_WORKER_PREFETCH_MULTIPLIER = 1\n")
    run = qlint("check", ".", "--no-cache", "--diff", cwd=tmp_path)
    assert run.returncode == 0 and run.stdout == "", run.stdout + run.stderr


def test_unsafe_fixes_are_hidden_until_asked(tmp_path):
    settings = old_names_project(tmp_path, "CELERY_TASK_ACK_LATE = True\n")  # a near miss: QL001, unsafe rename
    shown = qlint("check", ".", "--no-cache", cwd=tmp_path)
    assert "No fixes available (1 hidden fix can be enabled with the `--unsafe-fixes` option)." in shown.stdout
    offered = qlint("check", ".", "--no-cache", "--unsafe-fixes", cwd=tmp_path)
    assert "[*] 1 fixable with the `--fix` option." in offered.stdout
    safe_only = qlint("check", ".", "--no-cache", "--fix", cwd=tmp_path)
    assert settings.read_text() == "CELERY_TASK_ACK_LATE = True\n"
    assert "1 hidden fix can be enabled" in safe_only.stdout and safe_only.returncode == 1
    qlint("check", ".", "--no-cache", "--fix", "--unsafe-fixes", cwd=tmp_path)
    assert settings.read_text() == "CELERY_TASK_ACKS_LATE = True\n"


def test_display_only_fixes_are_never_applied(tmp_path):
    # A visibility timeout read from the environment is not qlint's to rewrite: QL101's fix is described only.
    settings = old_names_project(tmp_path, "import os\nCELERY_BROKER_URL = 'redis://'\nCELERY_TASK_ACKS_LATE = True\n"
                                           "CELERY_TASK_TIME_LIMIT = 24 * 3600\nCELERY_BROKER_TRANSPORT_OPTIONS = "
                                           "{'visibility_timeout': int(os.environ.get('VT', 3600))}\n")
    before = settings.read_bytes()
    run = qlint("check", ".", "--no-cache", "--select", "QL101", "--fix", "--unsafe-fixes", "--format", "json", cwd=tmp_path)
    (finding,) = json.loads(run.stdout)["findings"]
    assert finding["fix"]["applicability"] == "display-only" and run.returncode == 1
    assert "not written by --fix: the timeout is not written as a number" in finding["fix"]["description"]
    assert settings.read_bytes() == before


def test_read_only_file_is_left_with_a_message(tmp_path):
    settings = old_names_project(tmp_path)
    settings.chmod(0o444)
    before = settings.read_bytes()
    run = qlint("check", ".", "--no-cache", "--fix", cwd=tmp_path)
    assert "Traceback" not in run.stderr
    assert "site/settings.py: the file is read-only" in run.stderr
    assert settings.read_bytes() == before and run.returncode == 1
    assert "QL002" in run.stdout


def test_fixed_file_keeps_its_mode_encoding_and_line_endings(tmp_path):
    settings = old_names_project(tmp_path)
    settings.write_bytes("# -*- coding: latin-1 -*-\r\n# café\r\nCELERY_ACKS_LATE = True\r\n".encode("latin-1"))
    settings.chmod(0o640)
    qlint("check", ".", "--no-cache", "--fix", cwd=tmp_path)
    assert settings.read_bytes() == "# -*- coding: latin-1 -*-\r\n# café\r\nCELERY_TASK_ACKS_LATE = True\r\n".encode("latin-1")
    assert stat.S_IMODE(settings.stat().st_mode) == 0o640
    assert not [p for p in settings.parent.iterdir() if p.name.startswith(".settings.py.")]  # no temporary left


def test_only_the_paths_checked_are_written(tmp_path):
    old_names_project(tmp_path, "BROKER_URL = 'redis://'\nCELERY_RESULT_BACKEND = BROKER_URL\n")
    (tmp_path / "site/tasks.py").write_text("from celery import shared_task\nfrom django.conf import settings\n\n\n"
                                            "@shared_task\ndef ping():\n    return settings.BROKER_URL\n")
    other = (tmp_path / "site/tasks.py").read_bytes()
    run = qlint("check", "site/settings.py", "--no-cache", "--fix", "--unsafe-fixes", cwd=tmp_path)
    assert (tmp_path / "site/tasks.py").read_bytes() == other
    assert "not fixed (QL002) in site/tasks.py: outside the paths checked" in run.stderr
    assert "BROKER_URL = " in (tmp_path / "site/settings.py").read_text()  # a fix is all its edits or none
    # Checked as a whole, the rename reaches the code that reads the key too.
    qlint("check", ".", "--no-cache", "--fix", "--unsafe-fixes", cwd=tmp_path)
    assert "settings.CELERY_BROKER_URL" in (tmp_path / "site/tasks.py").read_text()


def test_a_fixed_tree_does_not_get_the_cached_result(tmp_path):
    old_names_project(tmp_path, "CELERYD_PREFETCH_MULTIPLIER = 1\n")
    for _ in range(2):  # the second run answers from the run cache
        assert "QL002" in qlint("check", ".", cwd=tmp_path).stdout
    assert qlint("check", ".", "--fix", cwd=tmp_path).returncode == 0
    after = qlint("check", ".", cwd=tmp_path)
    assert "QL002" not in after.stdout and after.returncode == 0, after.stdout


# ------------------------------------------------------------ the passes, on made-up fixes

class Doubles:
    """A checker whose findings are every "aa" in notes.txt, each fixed by `replacement`
    (overlapping ones included), computed from the text as the fixes so far leave it."""

    def __init__(self, root: Path, replacement: str, applicability: str = "safe") -> None:
        self.root, self.replacement, self.applicability, self.calls = root, replacement, applicability, 0

    def __call__(self, overrides: dict[str, bytes] | None) -> CheckResult:
        self.calls += 1
        data = (overrides or {}).get("notes.txt") or (self.root / "notes.txt").read_bytes()
        out = []
        for number, line in enumerate(data.decode().splitlines(), 1):
            for column in range(len(line) - 1):
                if line[column:column + 2] == "aa":
                    span = Span("notes.txt", number, column + 1, number, column + 3)
                    out.append(Finding("QL999", "doubles", "warning", "aa", span,
                                       fix=Fix("one a", (Edit(span, self.replacement),), self.applicability)))
        return CheckResult(out)


def fix(root: Path, check, unsafe: bool = False, paths: tuple[str, ...] = (".",)):
    return fix_paths(check, cwd=root, root=root, paths=list(paths), unsafe=unsafe, writing=True)


def test_overlapping_fixes_wait_for_the_next_pass(tmp_path):
    (tmp_path / "notes.txt").write_text("x aaaa y\nkeep\n")
    check = Doubles(tmp_path, "a")
    run = fix(tmp_path, check)
    # Pass 1 takes "aa" at 3 and at 5 (4 overlaps both) -> "x aa y"; pass 2 -> "x a y".
    assert [s.text for s in run.changed] == ["x a y\nkeep\n"]
    assert len(run.fixed) == 3 and check.calls == 3 and run.result.findings == []
    assert (tmp_path / "notes.txt").read_text() == "x aaaa y\nkeep\n"  # nothing written yet
    assert write_files(run) == []
    assert (tmp_path / "notes.txt").read_text() == "x a y\nkeep\n"


def test_a_file_changed_meanwhile_is_not_overwritten(tmp_path):
    (tmp_path / "notes.txt").write_text("aa\n")
    run = fix(tmp_path, Doubles(tmp_path, "a"))
    (tmp_path / "notes.txt").write_text("aa, edited meanwhile\n")
    assert write_files(run) == [("notes.txt", "it changed while qlint ran")]
    assert (tmp_path / "notes.txt").read_text() == "aa, edited meanwhile\n"


def test_passes_are_bounded(tmp_path):
    (tmp_path / "notes.txt").write_text("aa\n")
    check = Doubles(tmp_path, "aaa")  # every fix makes more to fix
    run = fix(tmp_path, check)
    assert check.calls == MAX_PASSES + 1 and run.result.findings


def test_unsafe_and_display_only_applicability(tmp_path):
    (tmp_path / "notes.txt").write_text("aa\n")
    assert fix(tmp_path, Doubles(tmp_path, "a", "unsafe")).fixed == []
    assert len(fix(tmp_path, Doubles(tmp_path, "a", "unsafe"), unsafe=True).fixed) == 1
    assert fix(tmp_path, Doubles(tmp_path, "a", "display-only"), unsafe=True).fixed == []


class OneFix:
    """A checker that finds, on the files as they are on disk, one finding per (span, content)
    given, each fixed by that one edit; and nothing once they are fixed."""

    def __init__(self, path: str, span: Span, content: str, *more: tuple[Span, str]) -> None:
        self.edits = [(span, content), *more]

    def __call__(self, overrides):
        if overrides:
            return CheckResult([])
        return CheckResult([Finding("QL999", "x", "warning", "x", span, fix=Fix("x", (Edit(span, content),), "safe"))
                            for span, content in self.edits])


def test_a_fix_that_breaks_python_is_refused(tmp_path):
    (tmp_path / "settings.py").write_text("X = 1  # one\nY = 2\n")
    run = fix(tmp_path, OneFix("settings.py", Span("settings.py", 1, 5, 1, 6), "("))
    assert run.fixed == [] and run.changed == []
    assert run.refused and "syntax error" in run.refused[0].reason
    # Beside a fix that breaks the file, the others of the file are still applied.
    run = fix(tmp_path, OneFix("settings.py", Span("settings.py", 1, 5, 1, 6), "(",
                               (Span("settings.py", 2, 5, 2, 6), "3")))
    assert [s.text for s in run.changed] == ["X = 1  # one\nY = 3\n"]
    assert len(run.fixed) == 1 and [f.fix.edits[0].content for f in run.refused[0].findings] == ["("]


def test_a_fix_whose_own_edits_overlap_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("abcdef\n")
    span = Span("notes.txt", 1, 1, 1, 4)
    finding = Finding("QL999", "x", "warning", "x", span,
                      fix=Fix("x", (Edit(span, "x"), Edit(Span("notes.txt", 1, 3, 1, 5), "y")), "safe"))
    run = fix(tmp_path, lambda overrides: CheckResult([] if overrides else [finding]))
    assert run.fixed == [] and run.refused[0].reason == "the fix's own edits overlap"


def test_a_fix_that_breaks_yaml_or_toml_is_refused(tmp_path):
    (tmp_path / "settings.yaml").write_text("celery:\n  x: 1\n")
    run = fix(tmp_path, OneFix("settings.yaml", Span("settings.yaml", 2, 3, 2, 4), "[x"))
    assert run.fixed == [] and "YAML" in run.refused[0].reason
    (tmp_path / "settings.toml").write_text("[celery]\nx = 1\n")
    run = fix(tmp_path, OneFix("settings.toml", Span("settings.toml", 2, 5, 2, 6), "= ="))
    assert run.fixed == [] and "TOML" in run.refused[0].reason


def test_a_link_out_of_the_tree_is_not_followed(tmp_path):
    outside = tmp_path / "outside.py"
    outside.write_text("X = 1\n")
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "settings.py").symlink_to(outside)
    run = fix(tree, OneFix("settings.py", Span("settings.py", 1, 5, 1, 6), "2"))
    assert run.fixed == [] and run.refused[0].reason == "a link to a file outside the paths checked"
    assert outside.read_text() == "X = 1\n"


def test_edits_at_the_end_of_a_file_without_a_last_newline(tmp_path):
    (tmp_path / "notes.txt").write_text("one\ntwo")
    run = fix(tmp_path, OneFix("notes.txt", Span("notes.txt", 2, 1, 3, 1), ""))
    assert [s.text for s in run.changed] == ["one\n"]
    run = fix(tmp_path, OneFix("notes.txt", Span("notes.txt", 4, 1, 4, 1), "x"))
    assert run.fixed == [] and "not in the file" in run.refused[0].reason


def test_the_language_server_places_edits_where_fix_does(tmp_path):
    """--fix and the editor's quick fix read an edit's span the same way, an empty one as an insertion."""
    from qlint.lsp.convert import text_edit

    (tmp_path / "notes.txt").write_text("ab\ncd\n")
    for span, content in ((Span("notes.txt", 1, 2, 1, 2), "X"), (Span("notes.txt", 1, 2, 2, 2), "-")):
        run = fix(tmp_path, OneFix("notes.txt", span, content))
        lines = (tmp_path / "notes.txt").read_text().splitlines(keepends=True)
        edit = text_edit(Edit(span, content))
        start, end = edit.range.start, edit.range.end
        by_lsp = "".join(lines[:start.line]) + lines[start.line][:start.character] + content + \
            lines[end.line][end.character:] + "".join(lines[end.line + 1:])
        assert [s.text for s in run.changed] == [by_lsp]
    assert by_lsp == "a-d\n"


def test_fixes_of_one_place_overlap_and_settle_over_passes(tmp_path):
    """Two QL101 findings (the app's 2 h limit, a task's 4 h one) each raise the one visibility
    timeout written in the settings: one edit per pass, until no limit outlasts it."""
    files = {
        "proj/__init__.py": "",
        "proj/celery.py": 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n',
        "proj/celeryconfig.py": 'broker_url = "redis://localhost:6379/0"\ntask_acks_late = True\ntask_time_limit = 7200\n'
                                'broker_transport_options = {"visibility_timeout": 3600}  # raised by qlint\n',
        "proj/tasks.py": "from proj.celery import app\n\n\n@app.task(time_limit=4 * 3600)\ndef build(x):\n    return x\n",
    }
    for rel, content in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(content)
    before = [f for f in findings(tmp_path, "--select", "QL101") if fixable(f, True)]
    assert len(before) == 2 and len({json.dumps(f["fix"]["edits"][0], sort_keys=True) for f in before}) == 2
    assert len({(e["line"], e["column"]) for f in before for e in f["fix"]["edits"]}) == 1  # the same range
    run = qlint("check", ".", "--no-cache", "--select", "QL101", "--fix", "--unsafe-fixes", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert findings(tmp_path, "--select", "QL101") == []
    written = (tmp_path / "proj/celeryconfig.py").read_text().splitlines()[-1]
    found = re.fullmatch(r'broker_transport_options = \{"visibility_timeout": (\d+)\}  # raised by qlint', written)
    assert found and int(found.group(1)) > 4 * 3600, written


def _config_project(root: Path, config: str) -> Path:
    files = {"proj/__init__.py": "", "proj/celeryconfig.py": config,
             "proj/celery.py": 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'}
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(content)
    return root / "proj/celeryconfig.py"


def test_a_new_setting_after_the_last_line_of_a_file_without_a_line_ending(tmp_path):
    config = _config_project(tmp_path, "task_time_limit = 4 * 3600  # four hours")
    run = qlint("check", ".", "--no-cache", "--select", "QL401", "--fix", "--unsafe-fixes", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert config.read_text() == "task_time_limit = 4 * 3600  # four hours\nworker_prefetch_multiplier = 1"


@pytest.mark.parametrize(("options", "fixed"), [
    ("{}", '{"visibility_timeout": 8520}'),
    ('{"max_retries": 3}', '{"visibility_timeout": 8520, "max_retries": 3}'),
])
def test_the_visibility_timeout_is_added_to_a_dict_on_one_line(tmp_path, options, fixed):
    head = 'broker_url = "redis://r:6379/0"\ntask_acks_late = True\ntask_time_limit = 7200\n'
    config = _config_project(tmp_path, f"{head}broker_transport_options = {options}\n")
    run = qlint("check", ".", "--no-cache", "--select", "QL101", "--fix", "--unsafe-fixes", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert config.read_text() == f"{head}broker_transport_options = {fixed}\n"


def test_two_findings_with_the_same_fix_are_both_fixed(tmp_path):
    """Two workers that read the app's multiplier get the same edit: applied once, both counted."""
    _config_project(tmp_path, "task_routes = {'proj.tasks.build': {'queue': 'long'}}\n")
    (tmp_path / "proj/tasks.py").write_text("from proj.celery import app\n\n\n@app.task(time_limit=4 * 3600)\n"
                                            "def build(x):\n    return x\n")
    (tmp_path / "docker-compose.yml").write_text("services:\n  all:\n    command: celery -A proj worker -Q celery,long\n"
                                                 "  slow:\n    command: celery -A proj worker -Q long\n")
    assert len(findings(tmp_path, "--select", "QL401")) == 2
    run = qlint("check", ".", "--no-cache", "--select", "QL401", "--fix", "--unsafe-fixes", cwd=tmp_path)
    assert "Found 2 findings (2 fixed, 0 remaining)." in run.stdout, run.stdout
    assert (tmp_path / "proj/celeryconfig.py").read_text().count("worker_prefetch_multiplier = 1") == 1
