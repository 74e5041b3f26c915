"""QL402 soft-limit-not-below-hard: where a task's finding points."""
from __future__ import annotations

from pathlib import Path

from qlint.analysis import analyse
from qlint.model import Finding
from qlint.rules.soft_limit_not_below_hard import SoftLimitNotBelowHard

APP = 'from celery import Celery\n\napp = Celery("proj")\n'


def check(root: Path, files: dict[str, str]) -> list[Finding]:
    for rel, content in {"proj/__init__.py": "", "proj/celery.py": APP, **files}.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return list(SoftLimitNotBelowHard().check(analyse(["."], cwd=root, root=root, use_cache=False).project))


def test_one_constant_for_both_limits_is_reported_at_the_task(tmp_path):
    """The constant is a fine number; the task that uses it for both limits is what to fix."""
    (finding,) = check(tmp_path, {
        "proj/limits.py": "HOURS_1 = 3600\nHOURS_23 = 82800\n",
        "proj/tasks.py": "from proj.celery import app\nfrom proj.limits import HOURS_23\n\n\n"
                         "@app.task(time_limit=HOURS_23, soft_time_limit=HOURS_23)\ndef maintain():\n    pass\n",
    })
    assert (finding.span.path, finding.span.line) == ("proj/tasks.py", 5)
    assert [(r.span.path, r.span.line, r.message) for r in finding.related] == [
        ("proj/limits.py", 2, "soft and hard time limit both 23 h, from here")]
    assert "task proj.tasks.maintain: soft time limit 23 h is not below the hard limit 23 h" in finding.message


def test_a_literal_soft_limit_is_reported_where_it_is_written(tmp_path):
    (finding,) = check(tmp_path, {
        "proj/tasks.py": "from proj.celery import app\n\n\n"
                         "@app.task(\n    time_limit=600,\n    soft_time_limit=900,\n)\ndef crunch():\n    pass\n",
    })
    assert (finding.span.path, finding.span.line) == ("proj/tasks.py", 6)
    assert [(r.span.line, r.message) for r in finding.related] == [(5, "hard time limit 10 min set here")]


def test_one_conditional_value_for_both_limits(tmp_path):
    (finding,) = check(tmp_path, {
        "proj/tasks.py": "from django.conf import settings\n\nfrom proj.celery import app\n\n"
                         "TASK_TIMEOUT = (\n    5 * 60 if getattr(settings, 'CONDENSE', False) else 60 * 60\n)\n\n\n"
                         "@app.task(time_limit=TASK_TIMEOUT, soft_time_limit=TASK_TIMEOUT)\ndef send():\n    pass\n",
    })
    assert (finding.span.path, finding.span.line) == ("proj/tasks.py", 10)
    assert "soft and hard time limit are one value (5 min or 1 h, depending on a condition)" in finding.message
    assert [(r.span.line, r.message) for r in finding.related] == [(5, "the value both limits take")]


def test_two_conditional_values_are_not_compared(tmp_path):
    assert check(tmp_path, {
        "proj/tasks.py": "import os\n\nfrom proj.celery import app\n\nFAST = os.environ.get('FAST')\n"
                         "HARD = 300 if FAST else 3600\nSOFT = 290 if FAST else 3590\n\n\n"
                         "@app.task(time_limit=HARD, soft_time_limit=SOFT)\ndef send():\n    pass\n",
    }) == []
