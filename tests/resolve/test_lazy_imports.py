"""Names imported from modules with nothing Celery-related in them are read when used:
the same values as reading every import at once, with fewer files parsed."""
from __future__ import annotations

from tests.resolve.conftest import where

PROJECT = {
    "proj/__init__.py": "",
    "proj/celery.py": "from celery import Celery\n\napp = Celery('proj')\napp.config_from_object('proj.celeryconfig')\n",
    "proj/celeryconfig.py": "from proj.limits import HOUR\n\ntask_time_limit = 2 * HOUR\n",
    "proj/limits.py": "from proj.units import MINUTE\n\nHOUR = 60 * MINUTE\n",
    "proj/units.py": "MINUTE = 60\n",
    "proj/models.py": "from proj.helpers import slugify\n\n\nclass Report:\n    pass\n",
    "proj/helpers.py": "def slugify(text):\n    return text\n",
    # no Celery marker, but it uses the app it imports: read at once
    "proj/jobs.py": "from proj.app_ref import app\nfrom proj.limits import HOUR\n\n\n@app.task(soft_time_limit=HOUR)\ndef rebuild():\n    return 1\n",
    "proj/app_ref.py": "from proj.celery import app\n",
    "proj/tasks.py": ("from proj.celery import app\nfrom proj.models import Report\nfrom proj import jobs\n\n\n"
                      "@app.task\ndef build(pk):\n    return Report\n"),
}


def test_unused_imports_of_quiet_modules_are_not_parsed(analyse_tree):
    analysis = analyse_tree(PROJECT)
    (app,) = analysis.project.apps
    assert app.setting("task_time_limit").value == 7200
    assert where(app.setting("task_time_limit")) == ("proj/celeryconfig.py", 3)
    assert sorted(app.tasks) == ["proj.jobs.rebuild", "proj.tasks.build"]
    assert app.tasks["proj.jobs.rebuild"].options["soft_time_limit"].value == 3600
    loaded = set(analysis.project.workspace.envs)
    assert "proj/models.py" not in loaded and "proj/helpers.py" not in loaded  # Report is never evaluated
    assert {"proj/limits.py", "proj/units.py", "proj/jobs.py"} <= loaded


def test_a_quiet_name_used_in_a_class_or_branch_is_read(analyse_tree):
    files = {**PROJECT, "proj/celeryconfig.py": (
        "import os\n\nfrom proj.limits import HOUR\nfrom proj.units import MINUTE\n\n"
        "if os.environ.get('FAST'):\n    from proj.units import MINUTE as task_time_limit\nelse:\n"
        "    task_time_limit = HOUR\n\n\nclass Extra:\n    from proj.units import MINUTE as soft\n")}
    (app,) = analyse_tree(files).project.apps
    limit = app.setting("task_time_limit")
    assert limit.status == "several" and sorted(a.value.value for a in limit.alternatives) == [60, 3600]


def test_what_a_type_checking_block_imports_is_never_read(analyse_tree):
    """`if TYPE_CHECKING:` does not run (typing.TYPE_CHECKING is False at run time): its
    imports are not read and bind nothing, so they close no import cycle; the else branch,
    and `if not TYPE_CHECKING:`, do run."""
    files = {**PROJECT,
             "proj/models.py": ("from typing import TYPE_CHECKING\nimport typing\n\nif TYPE_CHECKING:\n"
                                "    from proj.tasks import build\nelse:\n    LIMIT = 90\n\n"
                                "if not typing.TYPE_CHECKING:\n    SOFT = 30\n\n\nclass Report:\n    pass\n"),
             "proj/celeryconfig.py": "from proj.models import LIMIT, SOFT\n\ntask_time_limit = LIMIT\ntask_soft_time_limit = SOFT\n",
             "proj/tasks.py": ("from proj.celery import app\nfrom proj.models import Report\n\n\n"
                               "@app.task\ndef build(pk):\n    return Report\n")}
    analysis = analyse_tree(files)
    (app,) = analysis.project.apps
    assert (app.setting("task_time_limit").value, app.setting("task_soft_time_limit").value) == (90, 30)
    assert "build" not in analysis.project.workspace.envs["proj/models.py"].names
    assert not [note for note in analysis.project.notes if "import cycle" in note]
