"""QL105 reject-on-worker-lost-loop: one finding per place the option is set."""
from __future__ import annotations

from pathlib import Path

from qlint.pipeline.analysis import analyse
from qlint.model import Finding
from qlint.rules.reject_on_worker_lost_loop import RejectOnWorkerLostLoop

APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'
FACTORY = ("from proj.celery import app\n\n\n"
           "def durable_task(**options):\n"
           "    return app.task(acks_late=True,\n                    reject_on_worker_lost=True, **options)\n")


def check(root: Path, files: dict[str, str]) -> list[Finding]:
    for rel, content in {"proj/__init__.py": "", "proj/celery.py": APP, "proj/celeryconfig.py": "", **files}.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return list(RejectOnWorkerLostLoop().check(analyse(["."], cwd=root, root=root, use_cache=False).project))


def test_a_decorator_factory_is_one_finding_with_its_tasks_related(tmp_path):
    tasks = "".join(f"\n\n@durable_task()\ndef job_{i}(x):\n    pass\n" for i in range(6))
    (finding,) = check(tmp_path, {"proj/tasks.py": FACTORY + tasks})
    assert (finding.span.path, finding.span.line) == ("proj/tasks.py", 6)
    assert finding.message.startswith("6 tasks (proj.tasks.job_0, proj.tasks.job_1, proj.tasks.job_2 and 3 more) are "
                                      "acknowledged late and rejected when the worker is lost")
    assert [(r.span.path, r.span.line, r.message) for r in finding.related] == [
        ("proj/tasks.py", 9 + 5 * i, f"task proj.tasks.job_{i} takes it from there") for i in range(6)]


def test_options_written_on_each_task_are_one_finding_each(tmp_path):
    tasks = ("from proj.celery import app\n\n\n"
             "@app.task(acks_late=True, reject_on_worker_lost=True)\ndef a(x):\n    pass\n\n\n"
             "@app.task(acks_late=True, reject_on_worker_lost=True)\ndef b(x):\n    pass\n")
    found = check(tmp_path, {"proj/tasks.py": tasks})
    assert sorted((f.span.line, f.message.split(" acknowledged")[0]) for f in found) == [
        (4, "task proj.tasks.a is"), (9, "task proj.tasks.b is")]
    assert all(f.related == () for f in found)
