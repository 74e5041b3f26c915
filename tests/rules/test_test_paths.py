"""Rules that leave tests alone judge a path from the project root, not from the folders above it."""
from __future__ import annotations

from pathlib import Path

import pytest

from qlint.pipeline.analysis import analyse
from qlint.sources.paths import in_project, is_test_path
from qlint.rules.delay_in_transaction import DelayInTransaction
from qlint.rules.prefetch_long_tasks import PrefetchLongTasks

APP = ('import os\n\nfrom celery import Celery\n\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")\n'
       'app = Celery("proj")\napp.config_from_object("django.conf:settings", namespace="CELERY")\n')
SETTINGS = ('DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "shop"}}\n'
            'CELERY_BROKER_URL = "redis://localhost:6379/0"\n')
TASKS = "from proj.celery import app\n\n\n@app.task(soft_time_limit=7200)\ndef index(pk):\n    return pk\n"
VIEWS = ("from django.db import transaction\n\nfrom proj.models import Order\nfrom proj.tasks import index\n\n\n"
         "def save(pk):\n    with transaction.atomic():\n        Order.objects.create(pk=pk)\n        index.delay(pk)\n")


@pytest.mark.parametrize("path, root, relative, test", [
    ("proj/tests/test_views.py", ".", "proj/tests/test_views.py", True),
    ("ci/tests/shop/proj/views.py", "ci/tests/shop", "proj/views.py", False),
    ("../../tmp/test_x0/proj/celery.py", "../../tmp/test_x0", "proj/celery.py", False),
    ("../../tmp/test_x0/tests/celery.py", "../../tmp/test_x0", "tests/celery.py", True),
    ("other/ci/run.sh", "proj", "other/ci/run.sh", True),
])
def test_paths_are_judged_inside_the_project(path, root, relative, test):
    assert in_project(path, root) == relative
    assert is_test_path(path, root) is test


def write(root: Path, files: dict[str, str]) -> None:
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(content, encoding="utf-8")


def test_project_checked_out_under_ci_and_tests_folders_is_still_checked(tmp_path):
    project = tmp_path / "ci" / "tests" / "shop"
    write(project, {"manage.py": "", "proj/__init__.py": "", "proj/celery.py": APP, "proj/settings.py": SETTINGS,
                    "proj/tasks.py": TASKS, "proj/views.py": VIEWS})
    result = analyse(["ci/tests/shop"], cwd=tmp_path, root=project, use_cache=False)
    assert result.project.root == "ci/tests/shop"
    assert [f.span.path for f in DelayInTransaction().check(result.project)] == ["ci/tests/shop/proj/views.py"]
    assert [f.code for f in PrefetchLongTasks().check(result.project)] == ["QL401"]

