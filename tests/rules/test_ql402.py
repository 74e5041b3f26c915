"""QL402 soft-limit-not-below-hard: where a task's finding points."""
from __future__ import annotations

from pathlib import Path

from qlint.pipeline.analysis import analyse
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


def test_one_unread_expression_for_both_limits_is_reported_at_the_soft_keyword(tmp_path):
    """settings.EXPORT_TIMEOUT is unknown here (no settings module), but the same expression twice is
    one value: the soft limit equals the hard one whatever it is."""
    (finding,) = check(tmp_path, {
        "proj/tasks.py": "from django.conf import settings\n\nfrom proj.celery import app\n\n\n"
                         "@app.task(\n    time_limit=settings.EXPORT_TIMEOUT,\n"
                         "    soft_time_limit=settings.EXPORT_TIMEOUT,\n)\ndef export():\n    pass\n",
    })
    assert (finding.span.path, finding.span.line, finding.span.column) == ("proj/tasks.py", 8, 21)
    assert ("task proj.tasks.export: soft and hard time limit are the same expression, settings.EXPORT_TIMEOUT"
            in finding.message)


def test_one_name_from_the_environment_for_both_limits(tmp_path):
    (finding,) = check(tmp_path, {
        "proj/tasks.py": "import os\n\nfrom proj.celery import app\n\nTIMEOUT = int(os.environ['EXPORT_TIMEOUT'])\n\n\n"
                         "@app.task(time_limit=TIMEOUT,\n          soft_time_limit=TIMEOUT)\ndef export():\n    pass\n",
    })
    assert (finding.span.line, finding.span.column) == (9, 27)
    assert "soft and hard time limit are one value (environment variable EXPORT_TIMEOUT" in finding.message
    assert [(r.span.line, r.message) for r in finding.related] == [(5, "the value both limits take")]


def test_an_unknown_soft_limit_against_another_unknown_is_not_compared(tmp_path):
    assert check(tmp_path, {
        "proj/tasks.py": "import os\n\nfrom proj.celery import app\n\n\n"
                         "@app.task(time_limit=int(os.environ['HARD']), soft_time_limit=int(os.environ['SOFT']))\n"
                         "def export():\n    pass\n\n\n"
                         "@app.task(time_limit=int(os.environ['HARD']) + 60, soft_time_limit=int(os.environ['HARD']))\n"
                         "def other():\n    pass\n",
    }) == []


def test_same_expression_that_sets_no_limit_is_left_alone(tmp_path):
    assert check(tmp_path, {
        "proj/tasks.py": "from proj.celery import app\n\nLIMIT = None\n\n\n"
                         "@app.task(time_limit=LIMIT, soft_time_limit=LIMIT)\ndef export():\n    pass\n",
    }) == []


def test_same_expression_at_a_call(tmp_path):
    (finding,) = check(tmp_path, {
        "proj/tasks.py": "from proj.celery import app\n\n\n@app.task\ndef export():\n    pass\n",
        "proj/views.py": "from django.conf import settings\n\nfrom proj.tasks import export\n\n\ndef go():\n"
                         "    export.apply_async(time_limit=settings.LIMIT, soft_time_limit=settings.LIMIT)\n",
    })
    assert (finding.span.path, finding.span.line) == ("proj/views.py", 7)
    assert finding.message.startswith("export.apply_async(): soft and hard time limit are the same expression, settings.LIMIT")


def test_same_expression_that_may_set_no_limit_is_left_alone(tmp_path):
    assert check(tmp_path, {
        "proj/tasks.py": "import os\n\nfrom proj.celery import app\n\nLIMIT = 600 if os.environ.get('LIMITED') else None\n\n\n"
                         "@app.task(time_limit=LIMIT, soft_time_limit=LIMIT)\ndef export():\n    pass\n",
    }) == []


def test_settings_left_unknown_by_one_update_are_not_one_value(tmp_path):
    """app.conf.update(flask_app.config) makes both settings unknown from one place: they may differ or be unset."""
    app = ("from celery import Celery\n\nfrom proj.web import create_app\n\n\ndef make():\n    flask_app = create_app()\n"
           "    celery = Celery('proj')\n    celery.conf.update(flask_app.config)\n    return celery\n\n\napp = make()\n")
    assert check(tmp_path, {"proj/celery.py": app, "proj/web.py": "def create_app():\n    return object()\n",
                            "Procfile": "worker: celery -A proj.celery:app worker\n"}) == []
