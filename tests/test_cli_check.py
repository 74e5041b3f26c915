"""`qlint check` end to end, as a user runs it, on the bundled examples and small projects."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import cache_of

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def qlint(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qlint", *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture()
def incident(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES / "incident", tmp_path / "incident")
    return tmp_path / "incident"


def test_incident_reports_the_long_task_hazards(incident: Path):
    run = qlint("check", ".", "--no-cache", "--format", "json", cwd=incident)
    assert run.returncode == 1, run.stderr
    findings = json.loads(run.stdout)["findings"]
    codes = {f["code"] for f in findings}
    assert {"QL101", "QL401"} <= codes
    ql101 = next(f for f in findings if f["code"] == "QL101")
    assert ql101["path"] == "insights/settings/base.py" and ql101["line"] == 11
    assert {"path", "line", "column", "end_line", "end_column", "related", "fix", "severity", "name", "message"} <= set(ql101)
    assert any(r["line"] == 12 for r in ql101["related"])  # where the 24 h limit is set


def test_fixed_twin_is_clean():
    run = qlint("check", "examples/fixed", "--no-cache", cwd=REPO)
    assert run.returncode == 0, run.stdout + run.stderr


def test_single_file_is_checked_in_its_project(incident: Path):
    run = qlint("check", "insights/settings/base.py", "--no-cache", "--format", "json", cwd=incident)
    assert run.returncode == 1, run.stderr
    assert "QL101" in {f["code"] for f in json.loads(run.stdout)["findings"]}
    # A file that takes no part in the hazard reports nothing.
    run = qlint("check", "manage.py", "--no-cache", "--format", "json", cwd=incident)
    assert json.loads(run.stdout)["findings"] == [] and run.returncode == 0


def test_lowering_the_timeout_in_production_surfaces_ql101(incident: Path):
    base = incident / "insights/settings/base.py"
    base.write_text(base.read_text().replace("CELERY_TASK_TIME_LIMIT = 24 * 60 * 60", "CELERY_TASK_TIME_LIMIT = 1200"))
    prod = incident / "insights/settings/production.py"
    assert qlint("check", "insights/settings/production.py", "--no-cache", cwd=incident).returncode == 0
    prod.write_text(prod.read_text() + 'CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}\n')
    run = qlint("check", "insights/settings/production.py", "--no-cache", "--format", "json", "--select", "QL101", cwd=incident)
    findings = json.loads(run.stdout)["findings"]
    assert [f["code"] for f in findings] == ["QL101"]
    assert any(r["path"] == "insights/settings/production.py" for r in findings[0]["related"])


def test_parse_error_is_reported_and_the_rest_still_checked(incident: Path):
    (incident / "uploads/broken.py").write_text("from celery import shared_task\ndef oops(:\n")
    run = qlint("check", ".", "--no-cache", "--format", "json", cwd=incident)
    codes = [f["code"] for f in json.loads(run.stdout)["findings"]]
    assert "QL000" in codes and "QL101" in codes
    assert "Traceback" not in run.stderr


def test_select_and_ignore(incident: Path):
    run = qlint("check", ".", "--no-cache", "--format", "json", "--select", "QL4", cwd=incident)
    assert {f["code"] for f in json.loads(run.stdout)["findings"]} == {"QL401"}
    run = qlint("check", ".", "--no-cache", "--format", "json", "--ignore", "QL", cwd=incident)
    assert json.loads(run.stdout)["findings"] == [] and run.returncode == 0


def test_bad_configuration_is_a_usage_error(incident: Path):
    (incident / "pyproject.toml").write_text("[tool.qlint]\nlong-task-second = 10\n")
    run = qlint("check", ".", cwd=incident)
    assert run.returncode == 2
    assert "long-task-seconds" in run.stderr and "Traceback" not in run.stderr


def test_unknown_code_and_missing_path_are_usage_errors(incident: Path):
    assert qlint("check", ".", "--select", "QL999", cwd=incident).returncode == 2
    run = qlint("check", "nope/", cwd=incident)
    assert run.returncode == 2 and "no such file" in run.stderr


def test_suppression_comment_silences_the_finding(incident: Path):
    base = incident / "insights/settings/base.py"
    base.write_text(base.read_text().replace("CELERY_TASK_ACKS_LATE = True", "CELERY_TASK_ACKS_LATE = True  # qlint: ignore[QL101]"))
    run = qlint("check", ".", "--no-cache", "--format", "json", "--select", "QL101", cwd=incident)
    assert json.loads(run.stdout)["findings"] == []


def test_warm_cache_gives_the_same_report(incident: Path):
    cold = qlint("check", ".", "--format", "json", cwd=incident)
    assert cache_of(incident).is_dir()
    warm = qlint("check", ".", "--format", "json", cwd=incident)
    assert cold.stdout == warm.stdout and cold.returncode == warm.returncode == 1


def test_quiet_prints_only_finding_lines(incident: Path):
    run = qlint("check", ".", "--no-cache", "--quiet", cwd=incident)
    lines = run.stdout.splitlines()
    assert lines and all(": QL" in line for line in lines)


def test_unused_suppression_is_reported_on_request(incident: Path):
    views = incident / "uploads/views.py"
    views.write_text(views.read_text().replace("def upload(request):", "def upload(request):  # qlint: ignore[QL401]"))
    plain = json.loads(qlint("check", ".", "--no-cache", "--format", "json", cwd=incident).stdout)["findings"]
    assert "QL009" not in {f["code"] for f in plain}
    run = qlint("check", ".", "--no-cache", "--format", "json", "--report-unused-ignores", cwd=incident)
    unused = [f for f in json.loads(run.stdout)["findings"] if f["code"] == "QL009"]
    assert [(f["path"], f["line"]) for f in unused] == [("uploads/views.py", 6)]


def test_failed_imports_inside_undecided_branches_do_not_crash(tmp_path: Path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg/__init__.py").write_text("")
    (tmp_path / "pkg/mod.py").write_text(
        "import celery\nif x:\n    from missing_a import a\nfrom .missing_b import b\n"
        "try:\n    from .missing_c import *\nexcept ImportError:\n    Y = 1\n"
    )
    run = qlint("check", ".", "--no-cache", cwd=tmp_path)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr


def test_a_cookiecutter_template_is_skipped_with_a_note(tmp_path):
    # Jinja in .py files under a {{cookiecutter.*}} folder, or on the line where Python's
    # parser stops: not Python until rendered, so a note rather than QL000.
    slug = tmp_path / "{{cookiecutter.project_slug}}"
    (slug / "config").mkdir(parents=True)
    (slug / "config" / "settings.py").write_text("import os\n{%- if cookiecutter.use_celery == 'y' %}\nimport ssl\n{%- endif %}\n")
    (tmp_path / "hooks").mkdir()
    (tmp_path / "hooks" / "post_gen.py").write_text("from celery import Celery\n{% if x %}\napp = Celery('a')\n{% endif %}\n")
    (tmp_path / "broken.py").write_text("from celery import Celery\napp = Celery(\n")
    run = qlint("check", ".", "--no-cache", "--format", "json", cwd=tmp_path)
    assert [(f["code"], f["path"]) for f in json.loads(run.stdout)["findings"]] == [("QL000", "broken.py")]
    config = qlint("config", ".", "--no-cache", cwd=tmp_path).stdout
    assert "note: hooks/post_gen.py: a template (Jinja markers), not Python; skipped" in config
    assert "note: {{cookiecutter.project_slug}}/config/settings.py: a template (Jinja markers), not Python; skipped" in config


def test_a_template_folders_python_is_skipped_without_libcst(tmp_path):
    """A file under a placeholder folder that CPython cannot parse is a template: libcst, which
    reads what CPython cannot, is not imported for it (its import costs each process 0.25 s)."""
    source = tmp_path / "tasks.py"
    source.write_text("from celery import shared_task\n{% if cookiecutter.use_celery %}\nx = 1\n{% endif %}\n")
    probe = ("import sys\nfrom qlint.sources.python import parse_file\n"
             f"facts = parse_file('{{{{cookiecutter.project_slug}}}}/tasks.py', open({str(source)!r}, 'rb').read())\n"
             "print(facts.error)\nprint('libcst' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert done.stdout.splitlines() == ["a template (Jinja markers), not Python; skipped", "False"], done.stderr
