"""django-split-settings' include(): the included files run in the settings module's own
namespace. Compared with a stand-in that does what the library does (glob next to the
including file, exec in its globals), run in a child process."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.resolve.conftest import where, write_tree

CELERY_PY = """
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")

app = Celery("proj")
app.config_from_object("django.conf:settings", namespace="CELERY")
"""

# What split_settings.tools.include does, in a few lines: kept outside the checked tree.
STAND_IN = """
import glob, os, sys

def optional(name):
    return _Optional(name or "")

class _Optional(str):
    pass

def include(*patterns):
    scope = sys._getframe(1).f_globals
    done = scope.setdefault("__included_files__", [])
    here = os.path.dirname(scope.get("__included_file__", scope["__file__"]))
    for pattern in patterns:
        if isinstance(pattern, _Optional) and not pattern:
            continue
        saved = scope.get("__included_file__")
        found = glob.glob(os.path.join(here, pattern))
        if not found and not isinstance(pattern, _Optional):
            raise OSError(pattern)
        for path in found:
            path = os.path.abspath(path)
            if path in done:
                continue
            done.append(path)
            scope["__included_file__"] = path
            with open(path) as handle:
                exec(compile(handle.read(), path, "exec"), scope)
        if saved:
            scope["__included_file__"] = saved
        else:
            scope.pop("__included_file__", None)
"""

PROJECT = {
    "proj/__init__.py": "",
    "proj/celery.py": CELERY_PY,
    "proj/settings/__init__.py": """
        from split_settings.tools import include, optional

        include("components/base.py", "components/queues.py", optional("local_settings.py"), optional(""))
    """,
    "proj/settings/components/base.py": """
        CELERY_TASK_ACKS_LATE = True
        CELERY_TASK_TIME_LIMIT = 600
        include("../overrides/*.py")
    """,
    "proj/settings/overrides/limits.py": "CELERY_TASK_TIME_LIMIT = CELERY_TASK_TIME_LIMIT * 2\n",
    "proj/settings/components/queues.py": "CELERY_TASK_DEFAULT_QUEUE = 'main'\nCELERY_TASK_ACKS_LATE = False\n",
}


def _real(tmp_path, names):
    (tmp_path / "stand_in/split_settings").mkdir(parents=True)
    (tmp_path / "stand_in/split_settings/__init__.py").write_text("")
    (tmp_path / "stand_in/split_settings/tools.py").write_text(STAND_IN)
    code = (f"import importlib, json, sys\nsys.path[:0] = [{str(tmp_path / 'tree')!r}, {str(tmp_path / 'stand_in')!r}]\n"
            f"m = importlib.import_module('proj.settings')\nprint(json.dumps({{n: getattr(m, n) for n in {names!r}}}))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_included_files_share_the_settings_namespace(tmp_path, analyse_tree):
    (app,) = analyse_tree({f"tree/{k}": v for k, v in PROJECT.items()}).project.apps
    names = ["CELERY_TASK_ACKS_LATE", "CELERY_TASK_TIME_LIMIT", "CELERY_TASK_DEFAULT_QUEUE"]
    assert _real(tmp_path, names) == {"CELERY_TASK_ACKS_LATE": False, "CELERY_TASK_TIME_LIMIT": 1200,
                                       "CELERY_TASK_DEFAULT_QUEUE": "main"}
    assert app.setting("task_acks_late").value is False
    assert where(app.setting("task_acks_late")) == ("tree/proj/settings/components/queues.py", 2)
    assert app.setting("task_time_limit").value == 1200
    assert where(app.setting("task_time_limit")) == ("tree/proj/settings/overrides/limits.py", 1)
    assert app.setting("task_default_queue").value == "main"


def test_an_include_qlint_cannot_follow_leaves_the_settings_unknown(analyse_tree):
    files = {**PROJECT, "proj/settings/__init__.py": """
        import os

        from split_settings.tools import include

        include("components/base.py", f"environments/{os.environ['ENV']}.py")
    """}
    (app,) = analyse_tree(files).project.apps
    value = app.setting("task_acks_late")
    assert value.status == "unknown" and "include() of settings files qlint cannot name" in value.reason
    missing = {**PROJECT, "proj/settings/__init__.py": "from split_settings.tools import include\n\ninclude('nowhere.py')\n"}
    assert "matches no file" in analyse_tree(missing).project.apps[0].setting("task_acks_late").reason


def test_a_name_set_by_several_files_of_one_wildcard_is_unknown(analyse_tree):
    # glob gives no order, so which file's value wins depends on the file system
    files = {**PROJECT,
             "proj/settings/__init__.py": "from split_settings.tools import include\n\ninclude('components/*.py')\n",
             "proj/settings/components/base.py": "CELERY_TASK_ACKS_LATE = True\nCELERY_TASK_TIME_LIMIT = 600\n"}
    (app,) = analyse_tree(files).project.apps
    acks = app.setting("task_acks_late")
    assert acks.status == "unknown" and "in no fixed order" in acks.reason
    assert app.setting("task_time_limit").value == 600
