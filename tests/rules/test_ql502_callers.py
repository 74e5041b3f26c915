"""QL502 on a revoke(terminate=True) written in a helper: silent where only management commands reach
it (directly or through other functions), reported where anything else may (a view, a task, a method
Celery calls, a module whose calls qlint did not see). Real projects written to disk and analysed."""
from __future__ import annotations

from pathlib import Path

from qlint.pipeline.analysis import analyse
from qlint.rules.terminate_in_code import TerminateInCode

APP = 'from celery import Celery\n\napp = Celery("proj")\n'
BASE = {"proj/__init__.py": "", "proj/celery.py": APP,
        "proj/management/__init__.py": "", "proj/management/commands/__init__.py": ""}
STOPPER = """\
import logging

from proj.celery import app


def stop_all(task_ids):
    for task_id in task_ids:
        logging.info("Revoking task %s", task_id)
        app.control.revoke(task_id, terminate=True)
"""


def command(body: str, imports: str) -> str:
    return (f"from django.core.management.base import BaseCommand\n\n{imports}\n\n\n"
            "class Command(BaseCommand):\n    def handle(self, *args, **options):\n" + body)


def findings(root: Path, files: dict[str, str], modules_read_again: bool | None = None) -> list[tuple[str, int]]:
    """QL502's findings; without modules_read_again, as where the workspace cannot read a module
    again with its callers' bodies (Workspace.read_callers): only the calls of bodies read count.
    None: both ways, which must agree."""
    for rel, text in {**BASE, **files}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    if modules_read_again is None:
        both = findings(root, {}, True), findings(root, {}, False)
        assert both[0] == both[1]
        return both[0]
    project = analyse(["."], cwd=root, root=root, use_cache=False).project
    if not modules_read_again:
        project.workspace.read_callers = None
    return sorted((f.span.path, f.span.line) for f in TerminateInCode().check(project))


# Studio's shape: a Task subclass whose revoke() terminates every unready copy of a task,
# called by the reconcile command on the tasks built with it.
CUSTOM_TASK = """\
from celery import Task
from django_celery_results.models import TaskResult


class CeleryTask(Task):
    def find_incomplete_ids(self, kwargs):
        return TaskResult.objects.filter(task_name=self.name).values_list("task_id", flat=True)

    def revoke(self, exclude_task_ids=None, **kwargs):
        count = 0
        for task_id in self.find_incomplete_ids(kwargs):
            self.app.control.revoke(task_id, terminate=True)
            count += 1
        return count
"""
CUSTOM_TASKS = ("from proj.celery import app\nfrom proj.base import CeleryTask\n\n\n"
                "@app.task(base=CeleryTask)\ndef apply_changes(channel_id):\n    return channel_id\n")
RECONCILE = command("        for channel_id in options['channels']:\n"
                    "            apply_changes.revoke(channel_id=channel_id)\n"
                    "            apply_changes.enqueue(channel_id=channel_id)\n",
                    "from proj.tasks import apply_changes")


def test_a_task_method_only_a_command_calls_is_the_operators(tmp_path):
    files = {"proj/base.py": CUSTOM_TASK, "proj/tasks.py": CUSTOM_TASKS,
             "proj/management/commands/reconcile_change_tasks.py": RECONCILE}
    assert findings(tmp_path, files) == []
    views = ("from rest_framework.decorators import api_view\n\nfrom proj.tasks import apply_changes\n\n\n"
             "@api_view(['POST'])\ndef cancel(request, channel_id):\n"
             "    apply_changes.revoke(channel_id=channel_id)\n")
    assert findings(tmp_path, {**files, "proj/views.py": views}) == [("proj/base.py", 12)]


def test_a_helper_reached_from_a_command_through_other_helpers(tmp_path):
    reconcile = ("from celery.result import AsyncResult\n\nfrom proj.jobs import stop_stale\n\n\n"
                 "def reconcile(ids):\n    stale = [i for i in ids if AsyncResult(i).state == 'PENDING']\n"
                 "    stop_stale(stale)\n    return len(stale)\n")
    jobs = STOPPER + "\n\ndef stop_stale(ids):\n    stop_all(ids)\n"
    files = {"proj/jobs.py": jobs, "proj/maintenance.py": reconcile,
             "proj/management/commands/reconcile.py": command("        reconcile(options['ids'])\n",
                                                              "from proj.maintenance import reconcile")}
    assert findings(tmp_path, files) == []
    # One more caller, a task: the worker itself runs the terminate.
    task = ("from proj.celery import app\nfrom proj.maintenance import reconcile\n\n\n"
            "@app.task\ndef nightly():\n    reconcile(['a', 'b'])\n")
    assert findings(tmp_path, {**files, "proj/tasks.py": task}) == [("proj/jobs.py", 9)]
    (tmp_path / "proj/tasks.py").unlink()
    # A caller whose body mentions nothing of Celery is read only when the module is read again for it;
    # where it cannot be, the call may be unseen.
    unread = "from proj.jobs import stop_stale\n\n\ndef reconcile(ids):\n    stop_stale(ids)\n"
    assert findings(tmp_path, {**files, "proj/maintenance.py": unread}, modules_read_again=False) == [
        ("proj/jobs.py", 9)]
    if hasattr(analyse(["."], cwd=tmp_path, root=tmp_path, use_cache=False).project.workspace, "read_callers"):
        assert findings(tmp_path, {}, modules_read_again=True) == []


def test_a_helper_no_one_calls_or_that_is_exposed_is_reported(tmp_path):
    assert findings(tmp_path, {"proj/jobs.py": STOPPER}) == [("proj/jobs.py", 9)]
    receiver = STOPPER.replace("def stop_all", "@receiver(job_cancelled)\ndef stop_all").replace(
        "import logging\n", "import logging\n\nfrom django.dispatch import receiver\nfrom proj.signals import "
                            "job_cancelled\n")
    files = {"proj/jobs.py": receiver,
             "proj/management/commands/stop.py": command("        stop_all(options['ids'])\n",
                                                         "from proj.jobs import stop_all")}
    assert findings(tmp_path, files) == [("proj/jobs.py", 13)]


def test_a_module_whose_calls_qlint_did_not_read_may_call_the_helper(tmp_path):
    files = {"proj/jobs.py": STOPPER,
             "proj/management/commands/stop.py": command("        jobs.stop_all(options['ids'])\n",
                                                         "from proj import jobs"),
             # Nothing Celery-related here: qlint does not read these bodies.
             "proj/admin_actions.py": "from proj import jobs\n\n\ndef cancel_selected(modeladmin, request, qs):\n"
                                      "    jobs.stop_all([job.task_id for job in qs])\n"}
    assert findings(tmp_path, files) == [("proj/jobs.py", 9)]
    del files["proj/admin_actions.py"]
    (tmp_path / "proj/admin_actions.py").unlink()
    assert findings(tmp_path, files) == []


def test_an_override_celery_calls_itself_is_never_the_operators(tmp_path):
    base = ("from celery import Task\n\n\nclass SingleTask(Task):\n"
            "    def apply_async(self, args=None, kwargs=None, **options):\n"
            "        self.app.control.revoke(options.get('replaces'), terminate=True)\n"
            "        return super().apply_async(args, kwargs, **options)\n")
    files = {"proj/base.py": base,
             "proj/tasks.py": "from proj.celery import app\nfrom proj.base import SingleTask\n\n\n"
                              "@app.task(base=SingleTask)\ndef build(x):\n    return x\n",
             "proj/management/commands/rebuild.py": command("        build.apply_async((1,), replaces='x')\n",
                                                            "from proj.tasks import build")}
    assert findings(tmp_path, files) == [("proj/base.py", 6)]


def test_recursive_helpers_end(tmp_path):
    helpers = STOPPER + ("\n\ndef again(ids):\n    stop_all(ids)\n    once_more(ids)\n\n\n"
                         "def once_more(ids):\n    again(ids)\n    stop_all(ids)\n")
    helpers = helpers.replace("    for task_id in task_ids:\n",
                              "    stop_all(task_ids[1:])\n    for task_id in task_ids:\n")
    assert findings(tmp_path, {"proj/jobs.py": helpers}) == [("proj/jobs.py", 10)]
