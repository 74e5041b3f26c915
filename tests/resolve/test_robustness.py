"""Bad input: a clear problem for the file, the rest of the tree still analysed, never a traceback."""
from __future__ import annotations

from tests.resolve.conftest import where

CELERY = """
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")

app = Celery("proj")
app.config_from_object("django.conf:settings", namespace="CELERY")
"""


def base_tree(**files):
    return {"proj/__init__.py": "", "proj/celery.py": CELERY, "proj/settings.py": "CELERY_TASK_ACKS_LATE = True\n", **files}


def problems(analysis):
    return {p.path: (p.span.line, p.message) for p in analysis.problems}


def test_settings_module_that_does_not_parse(analyse_tree):
    analysis = analyse_tree(base_tree(**{"proj/settings.py": "CELERY_TASK_ACKS_LATE = True\nCELERY_X = (\n"}))
    line, message = problems(analysis)["proj/settings.py"]
    assert message.startswith("syntax error") and line >= 2
    (app,) = analysis.project.apps
    acks = app.setting("task_acks_late")
    assert acks.status == "unknown" and "cannot be analysed" in acks.reason


def test_other_files_still_analysed_next_to_broken_ones(analyse_tree):
    analysis = analyse_tree(base_tree(**{
        "proj/broken.py": "from celery import shared_task\n\ndef oops(:\n",
        "proj/binary.py": b"celery\x00\x01\x02\xff",
        "proj/latin.py": "NAME = 'caf\xe9'  # celery\n".encode("latin-1"),
        "proj/declared.py": "# -*- coding: latin-1 -*-\nfrom celery import shared_task\nNAME = 'caf\xe9'\n".encode("latin-1"),
        "proj/tasks.py": "from celery import shared_task\n\n\n@shared_task\ndef ok():\n    pass\n",
    }))
    found = problems(analysis)
    assert found["proj/broken.py"][1].startswith("syntax error")
    assert found["proj/binary.py"] == (1, "binary file (contains NUL bytes)")
    assert found["proj/latin.py"][1].startswith("not UTF-8 and no coding declaration")
    assert "proj/declared.py" not in found
    (app,) = analysis.project.apps
    assert app.setting("task_acks_late").value is True
    assert [t.name for t in analysis.project.tasks()] == ["proj.tasks.ok"]


def test_star_import_cycle(analyse_tree):
    analysis = analyse_tree(base_tree(**{
        "proj/settings.py": "from proj.common import *\n\nCELERY_TASK_ACKS_LATE = True\nLIMIT = 60\n",
        "proj/common.py": "from proj.settings import *\n\nCELERY_TASK_TIME_LIMIT = 2 * LIMIT if 'LIMIT' in dir() else 30\nCELERY_WORKER_PREFETCH_MULTIPLIER = 1\n",
    }))
    (app,) = analysis.project.apps
    acks = app.setting("task_acks_late")
    assert (acks.value, where(acks)) == (True, ("proj/settings.py", 3))
    # read from the settings module's end, as Django imports it: common sees settings half-done
    assert where(app.setting("worker_prefetch_multiplier")) == ("proj/common.py", 4)
    assert any("import cycle" in note and "proj/settings.py" in note for note in analysis.project.notes)


def test_module_that_imports_itself(analyse_tree):
    analysis = analyse_tree(base_tree(**{"proj/settings.py": "from proj.settings import *\nCELERY_TASK_ACKS_LATE = True\n"}))
    (app,) = analysis.project.apps
    assert app.setting("task_acks_late").value is True


def test_thousand_nested_parentheses(analyse_tree):
    deep = "CELERY_TASK_TIME_LIMIT = " + "(" * 1000 + "1" + ")" * 1000 + "\n"
    analysis = analyse_tree(base_tree(**{"proj/deep.py": "import celery\n" + deep}))
    line, message = problems(analysis)["proj/deep.py"]
    assert (line, message) == (2, "syntax error: too many nested parentheses")
    assert analysis.project.apps[0].setting("task_acks_late").value is True


def test_long_operator_chain_in_the_settings(analyse_tree):
    chain = "CELERY_TASK_TIME_LIMIT = " + "+".join(["1"] * 5000) + "\n"
    analysis = analyse_tree(base_tree(**{"proj/settings.py": "CELERY_TASK_ACKS_LATE = True\n" + chain}))
    line, message = problems(analysis)["proj/settings.py"]
    assert "nested too deeply" in message
    limit = analysis.project.apps[0].setting("task_time_limit")
    assert limit.status == "unknown" and "nested too deeply" in limit.reason


def test_chain_within_the_limit_is_evaluated(analyse_tree):
    chain = "CELERY_TASK_TIME_LIMIT = " + "+".join(["1"] * 390) + "\n"
    analysis = analyse_tree(base_tree(**{"proj/settings.py": "CELERY_TASK_ACKS_LATE = True\n" + chain}))
    assert analysis.problems == []
    assert analysis.project.apps[0].setting("task_time_limit").value == 390


def test_deep_file_in_a_large_tree_parsed_in_parallel(analyse_tree):
    files = base_tree(**{f"proj/mod{i}.py": f"from celery import shared_task\nX = {i}\n" for i in range(30)})
    files["proj/mod0.py"] = "import celery\nX = " + " + ".join(["a.b"] * 380) + "\n"
    files["proj/mod1.py"] = "import celery\nX = " + "-" * 5000 + "1\n"
    analysis = analyse_tree(files, use_cache=True)
    found = problems(analysis)
    assert "proj/mod0.py" not in found and "nested too deeply" in found["proj/mod1.py"][1]
    again = analyse_tree(files, use_cache=True)
    assert problems(again) == found and (again.parsed, again.cache_hits) == (0, 32)
