"""Version-aware Celery semantics end to end: `qlint check` and `qlint config` on small projects
on disk, judged by the Celery release their dependency files install."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qlint.pipeline.analysis import analyse
from qlint.lsp.hover import hover_text
from tests.resolve.conftest import write_tree

DJANGO = {
    "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site.settings')\n",
    "site/__init__.py": "",
    "site/celery.py": """
        from celery import Celery

        app = Celery("site")
        app.config_from_object("django.conf:settings", namespace="CELERY")
    """,
    # The settings of issue 17's table: old names under the namespace.
    "site/settings.py": """
        CELERY_BROKER_URL = "redis://localhost:6379/0"
        CELERY_QUEUES = ["default", "reports"]
        CELERY_ACKS_LATE = True
        CELERYD_PREFETCH_MULTIPLIER = 1
    """,
}


def qlint(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qlint", *args], cwd=cwd, capture_output=True, text=True, check=False)


def _config(root: Path) -> dict:
    done = qlint(root, "config", "--format", "json", "--no-cache", "--all")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize(
    ("pin", "queues", "acks_late", "prefetch"),
    [
        ("celery==5.2.3", None, False, 4),
        ("celery==5.4.0", None, False, 4),
        ("celery==5.5.3", None, False, 4),
        ("celery==5.6.3", None, False, 4),
        ("celery==5.7.0", ["default", "reports"], True, 1),
    ],
)
def test_the_table_of_issue_17_through_qlint_config(tmp_path, pin, queues, acks_late, prefetch):
    write_tree(tmp_path, {**DJANGO, "requirements.txt": f"{pin}\n"})
    report = _config(tmp_path)
    settings = report["apps"][0]["settings"]
    assert settings["task_queues"]["value"] == queues
    assert settings["task_acks_late"]["value"] is acks_late
    assert settings["worker_prefetch_multiplier"]["value"] == prefetch
    assert report["versions"]["celery"]["choices"][0]["versions"] == [pin.split("==")[1]]


def test_check_reports_ignored_old_names_as_errors_on_the_pinned_release(tmp_path):
    write_tree(tmp_path, {**DJANGO, "requirements.txt": "Django==4.2.16\ncelery[redis]==5.5.3\n"})
    done = qlint(tmp_path, "check", "--no-cache", "--format", "json", "--select", "QL002")
    assert done.returncode == 1, done.stderr
    found = json.loads(done.stdout)["findings"]
    assert [(f["line"], f["severity"]) for f in found] == [(2, "error"), (3, "error"), (4, "error")]
    assert found[1]["message"].startswith("Celery 5.5 ignores CELERY_ACKS_LATE under namespace 'CELERY': "
                                          "late acknowledgement is off")


def test_check_on_57_reports_the_same_keys_as_deprecated(tmp_path):
    write_tree(tmp_path, {**DJANGO, "poetry.lock": '[[package]]\nname = "celery"\nversion = "5.7.0"\n'})
    done = qlint(tmp_path, "check", "--no-cache", "--format", "json", "--select", "QL002")
    found = json.loads(done.stdout)["findings"]
    assert {f["severity"] for f in found} == {"warning"} and len(found) == 3
    assert all("Celery 5.7 still reads it" in f["message"] for f in found)


def test_config_prints_the_versions_and_where_each_came_from(tmp_path):
    write_tree(tmp_path, {**DJANGO, "requirements.txt": "celery[redis]>=5.6,<5.8\n"})
    done = qlint(tmp_path, "config", "--no-cache")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "celery 5.6–5.7      the range in requirements.txt:1 admits Celery 5.6–5.7"
    assert lines[1].startswith("kombu  5.6 and 5.7  no dependency file pins kombu: celery 5.6.3 requires kombu>=5.6.0")
    assert "    task_acks_late                    False if Celery 5.6 | True if Celery 5.7 (site/settings.py:3)" in lines
    assert any("CELERY_ACKS_LATE  site/settings.py:3  (old name of task_acks_late, which Celery 5.6 does not read "
               "under a namespace)" in line for line in lines)


def test_config_names_the_configured_release(tmp_path):
    write_tree(tmp_path, {**DJANGO, "requirements.txt": "celery==5.7.0\n",
                          "pyproject.toml": '[tool.qlint]\ncelery-version = "5.4"\n'})
    report = _config(tmp_path)
    assert report["versions"]["celery"]["how"] == "config"
    assert report["versions"]["celery"]["explanation"] == "celery-version = '5.4' in pyproject.toml:2"
    assert report["apps"][0]["settings"]["task_acks_late"]["value"] is False
    done = qlint(tmp_path, "check", "--no-cache", "--select", "QL002", "--no-source")
    assert "Celery 5.4 ignores CELERY_ACKS_LATE" in done.stdout


def test_a_bad_configured_release_is_a_usage_error(tmp_path):
    write_tree(tmp_path, {**DJANGO, "pyproject.toml": '[tool.qlint]\ncelery-version = "5.9"\n'})
    for command in ("check", "config"):
        done = qlint(tmp_path, command, "--no-cache")
        assert done.returncode == 2, (command, done.stdout)
        assert "'5.9' is not a Celery release qlint knows" in done.stderr


def test_a_setting_of_a_later_release_is_ql001_end_to_end(tmp_path):
    files = {**DJANGO, "site/settings.py": "CELERY_BROKER_URL = 'redis://'\nCELERY_WORKER_DISABLE_PREFETCH = True\n",
             "Dockerfile": "FROM python:3.11-slim\nRUN pip install 'celery[redis]==5.4.0' django\n"
                           'CMD ["celery", "-A", "site", "worker"]\n'}
    write_tree(tmp_path, files)
    done = qlint(tmp_path, "check", "--no-cache", "--select", "QL001", "--no-source")
    assert done.returncode == 1
    assert ("site/settings.py:2:1: QL001 CELERY_WORKER_DISABLE_PREFETCH is worker_disable_prefetch, added in "
            "Celery 5.6; this project installs Celery 5.4, which ignores it") in done.stdout
    assert "Dockerfile:2" in done.stdout


def test_a_broken_lock_is_ql000_and_the_check_goes_on(tmp_path):
    write_tree(tmp_path, {**DJANGO, "uv.lock": '[[package]]\nname = "celery"\nversion = "5.5\n',
                          "requirements.txt": "celery==5.5.3\n"})
    done = qlint(tmp_path, "check", "--no-cache", "--format", "json")
    found = json.loads(done.stdout)["findings"]
    assert any(f["code"] == "QL000" and f["path"] == "uv.lock" for f in found), found
    assert any(f["code"] == "QL002" and f["severity"] == "error" for f in found)
    assert "Traceback" not in done.stderr


def test_hover_shows_the_release(tmp_path):
    write_tree(tmp_path, {**DJANGO, "requirements.txt": "celery==5.4.0\n"})
    analysis = analyse(["."], cwd=tmp_path, root=tmp_path, use_cache=False)
    text = hover_text("CELERY_WORKER_DISABLE_PREFETCH", analysis)
    assert "Celery 5.4 (5.4.0): pinned in requirements.txt:1" in text
    assert "Added in Celery 5.6" in text
    assert "App `site`: `None` — Celery 5.4 has no setting worker_disable_prefetch" in text
