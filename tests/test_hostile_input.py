"""Hostile trees and files, through `qlint check` and `qlint config` as a user runs them:
a clear problem or note, never a traceback, and bounded work (issue 15)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
INCIDENT = REPO / "examples" / "incident"


def qlint(*args: str, cwd: Path, limit_memory: int | None = None) -> subprocess.CompletedProcess:
    """qlint in a child process with a UTF-8 locale; limit_memory caps its address space (bytes)."""
    env = {**os.environ, "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
    limit = None
    if limit_memory is not None:
        def limit() -> None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (limit_memory, limit_memory))
    return subprocess.run([sys.executable, "-m", "qlint", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, preexec_fn=limit)


def reported(run: subprocess.CompletedProcess) -> list[dict]:
    """The findings of a JSON report (an object that holds them, or an array of them)."""
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode in (0, 1), run.stderr
    data = json.loads(run.stdout)
    return data["findings"] if isinstance(data, dict) else data


def findings(run: subprocess.CompletedProcess) -> list[tuple[str, str, int]]:
    return sorted((f["code"], f["path"], f["line"]) for f in reported(run))


@pytest.fixture()
def incident(tmp_path: Path) -> Path:
    shutil.copytree(INCIDENT, tmp_path / "incident")
    return tmp_path / "incident"


def test_file_and_folder_names_that_are_not_utf8(incident: Path):
    expected = findings(qlint("check", ".", "--no-cache", "--format", "json", cwd=incident))
    root = os.fsencode(incident)
    with open(root + b"/notes-\xff.txt", "wb") as handle:
        handle.write(b"notes\n")
    with open(root + b"/uploads/broken-\xe9.py", "wb") as handle:
        handle.write(b"from celery import shared_task\n\ndef oops(:\n")
    os.mkdir(root + b"/d\xe9ploiement")
    with open(root + b"/d\xe9ploiement/docker-compose.yml", "wb") as handle:
        handle.write(b"services:\n  worker:\n    command: celery -A insights worker -O fair\n")
    for args in (["--no-cache"], [], []):  # without the caches, a cold run, a warm run
        assert findings(qlint("check", ".", "--format", "json", *args, cwd=incident)) == expected
    for fmt in ("text", "sarif", "github"):
        run = qlint("check", ".", "--format", fmt, cwd=incident)
        assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    # each is named in a note, its odd bytes escaped
    run = qlint("check", ".", cwd=incident)
    for name in ("notes-\\xff.txt", "uploads/broken-\\xe9.py", "d\\xe9ploiement"):
        assert f"note: {name}: a name that is not UTF-8; not checked" in run.stderr, run.stderr
    run = qlint("config", ".", cwd=incident)
    assert run.returncode == 0 and "Traceback" not in run.stderr and "insights" in run.stdout


def test_a_40kb_or_expression_leaves_the_rest_of_its_file_checked(incident: Path):
    expected = findings(qlint("check", ".", "--no-cache", "--format", "json", cwd=incident))
    assert ("QL301", "uploads/tasks.py", 22) in expected  # the chain in the file that gets the expression
    tasks = incident / "uploads/tasks.py"
    long_or = "FLAGS = " + " or ".join(["a"] * 8_000) + "\n"
    long_and = "def check(a):\n    return " + " and ".join(["a"] * 8_000) + "\n"
    tasks.write_text(tasks.read_text() + long_or + long_and)
    for args in (["--no-cache"], [], []):
        run = qlint("check", ".", "--format", "json", *args, cwd=incident)
        assert "internal error" not in run.stderr
        assert findings(run) == expected


def test_a_chain_of_1500_star_imported_modules(tmp_path: Path):
    files = {
        "proj/__init__.py": "", "proj/s/__init__.py": "",
        "proj/celery.py": "import os\n\nfrom celery import Celery\n\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', "
                          "'proj.settings')\napp = Celery('proj')\napp.config_from_object('django.conf:settings', "
                          "namespace='CELERY')\n",
        "proj/settings.py": "from proj.s.m0 import *\n\nCELERY_TASK_ACKS_LATE = True\n"
                            "CELERY_TASK_TIME_LIMIT = 7200\n",
    }
    for i in range(1_500):
        files[f"proj/s/m{i}.py"] = (f"from proj.s.m{i + 1} import *\n" if i < 1_499 else "") + f"V{i} = {i}\n"
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    runs = [qlint("check", ".", "--format", "json", *args, cwd=tmp_path) for args in (["--no-cache"], [], [])]
    assert [findings(run) for run in runs] == [findings(runs[0])] * 3
    assert not any(code == "QL000" for code, _, _ in findings(runs[0]))
    config = qlint("config", ".", "--format", "json", cwd=tmp_path)
    assert config.returncode == 0 and "Traceback" not in config.stderr
    (app,) = json.loads(config.stdout)["apps"]
    assert {k: app["settings"][k]["value"] for k in ("task_acks_late", "task_time_limit")} == \
        {"task_acks_late": True, "task_time_limit": 7200}
    assert any("imports nest more than 100 modules deep" in note for note in json.loads(config.stdout)["notes"])


def test_files_too_large_to_parse_are_a_clear_problem_in_bounded_memory(incident: Path):
    expected = findings(qlint("check", ".", "--no-cache", "--format", "json", cwd=incident))
    uploads = incident / "uploads"
    # a 7.9 MB list literal (4.1 GB and 26 s to parse) and a million-line module (3.3 GB, 40 s)
    (uploads / "data.py").write_text("from celery import shared_task\nDATA = ["
                                     + ", ".join(str(i) for i in range(1_000_000)) + "]\n")
    (uploads / "generated.py").write_text("import celery\n" + "a = 1\n" * 1_000_000)
    for args in (["--no-cache"], []):
        run = qlint("check", ".", "--format", "json", *args, cwd=incident, limit_memory=1 << 30)
        assert findings(run) == sorted(expected + [("QL000", "uploads/data.py", 1), ("QL000", "uploads/generated.py", 1)])
        messages = {f["path"]: f["message"] for f in reported(run) if f["code"] == "QL000"}
        assert "file too large to check (6,000,014 characters, 1,000,002 lines; qlint parses Python files of up to " \
               "1,048,576)" in messages["uploads/generated.py"]


@pytest.mark.parametrize("value", ["[" * 1_000 + "]" * 1_000, "{a = " * 1_000 + "1" + "}" * 1_000], ids=["arrays", "tables"])
def test_a_pyproject_nested_1000_deep_is_a_configuration_error(incident: Path, value: str):
    pyproject = incident / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + f"\n[tool.other]\ndeep = {value}\n")
    for command in ("check", "config"):
        run = qlint(command, ".", cwd=incident)
        assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
        assert "cannot parse pyproject.toml: arrays or tables nested too deeply" in run.stderr
