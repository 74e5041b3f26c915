"""QL000 parse-error: an unreadable file is an error, or a note when it mentions no Celery."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

APP = "from celery import Celery\n\nfrom scripts.legacy import BROKER\n\napp = Celery('proj', broker=BROKER)\n"
PYTHON2 = "import sys\n\nBROKER = 'redis://localhost'\n\nif len(sys.argv) < 2:\n    print 'usage: legacy.py DB'\n"


def write(root: Path, files: dict[str, str]) -> None:
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")


def qlint(root: Path) -> tuple[int, list[dict]]:
    run = subprocess.run([sys.executable, "-m", "qlint", "check", "--no-cache", "--format", "json", "."],
                         cwd=root, capture_output=True, text=True)
    assert run.returncode in (0, 1), run.stderr
    return run.returncode, [f for f in json.loads(run.stdout)["findings"] if f["code"] == "QL000"]


def test_a_python_2_script_without_celery_is_a_note_that_does_not_fail_the_run(tmp_path):
    write(tmp_path, {"proj/__init__.py": "", "proj/celery.py": APP, "scripts/__init__.py": "", "scripts/legacy.py": PYTHON2})
    status, (finding,) = qlint(tmp_path)
    assert status == 0
    assert finding["severity"] == "info" and finding["path"] == "scripts/legacy.py" and finding["line"] == 6
    assert finding["message"].endswith("the file mentions no Celery, so this is only a note")


def test_a_broken_file_with_celery_in_it_is_an_error(tmp_path):
    write(tmp_path, {"proj/__init__.py": "", "proj/celery.py": APP, "scripts/__init__.py": "", "scripts/legacy.py": PYTHON2,
                     "proj/tasks.py": "from proj.celery import app\n\n@app.task\ndef go(:\n    pass\n"})
    status, found = qlint(tmp_path)
    assert status == 1
    assert sorted((f["path"], f["severity"]) for f in found) == [("proj/tasks.py", "error"), ("scripts/legacy.py", "info")]
