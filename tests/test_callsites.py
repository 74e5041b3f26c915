"""Call sites on real files: local bindings, task resolution and task-call recognition."""
from __future__ import annotations

from pathlib import Path

from qlint.pipeline.analysis import analyse
from qlint.semantics.callsites import render, task_calls, walk
from qlint.resolve.project import Project
from qlint.sources import ir

APP = 'from celery import Celery\n\napp = Celery("proj")\n'
TASKS = """from proj.celery import app


@app.task
def ingest(content, filename):
    return filename


@app.task(bind=True)
def refresh(self, account_id, force=False):
    return account_id
"""


def project_of(tmp_path: Path, **files: str) -> Project:
    tree = {"proj/__init__.py": "", "proj/celery.py": APP, "proj/tasks.py": TASKS, **files}
    for rel, content in tree.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return analyse(["."], cwd=tmp_path, root=tmp_path, use_cache=False).project


def calls_in(project: Project, path: str):
    return [call for ctx, call in task_calls(project) if ctx.path == path]


def test_delay_resolves_task_and_names_parameters(tmp_path):
    project = project_of(tmp_path, **{"proj/views.py": (
        "from proj.tasks import ingest, refresh\n\n\n"
        "def view(request):\n"
        "    ingest.delay(request.body, filename='x.csv')\n"
        "    refresh.s(4)\n"
    )})
    first, second = calls_in(project, "proj/views.py")
    assert (first.method, first.task.name, first.label) == ("delay", "proj.tasks.ingest", "ingest")
    assert [render(a) for a in first.args] == ["request.body"]
    assert [(k, render(v)) for k, v in first.kwargs] == [("filename", "'x.csv'")]
    assert first.param_name(0) == "content"
    span = first.method_span
    assert (span.line, span.column, span.end_column) == (5, 12, 17)
    # bind=True: self is not a parameter the caller fills
    assert second.method == "s" and second.param_name(0) == "account_id" and not second.immutable


def test_apply_async_send_task_and_signature_unpack_args(tmp_path):
    project = project_of(tmp_path, **{"proj/jobs.py": (
        "from celery import signature\n\nfrom proj.celery import app\nfrom proj.tasks import ingest\n\n\n"
        "def job(data):\n"
        "    payload = (data, 'f.txt')\n"
        "    ingest.apply_async(payload, countdown=3)\n"
        "    app.send_task('proj.tasks.refresh', args=[1], kwargs={'force': True})\n"
        "    signature('proj.tasks.ingest', args=(1, 2), immutable=True)\n"
        "    ingest.apply_async(*data)\n"
    )})
    apply, send, sig, starred = calls_in(project, "proj/jobs.py")
    assert [render(a) for a in apply.args] == ["data", "'f.txt'"] and set(apply.options) == {"countdown"}
    assert send.method == "send_task" and send.task.name == "proj.tasks.refresh"
    assert [render(a) for a in send.args] == ["1"] and [k for k, _ in send.kwargs] == ["force"]
    assert sig.method == "signature()" and sig.immutable and sig.task.name == "proj.tasks.ingest"
    assert starred.args is None and starred.kwargs is None


def test_tasks_resolve_through_module_attributes_and_local_imports(tmp_path):
    project = project_of(tmp_path, **{"proj/jobs.py": (
        "from proj import tasks\n\n\n"
        "def a():\n"
        "    tasks.ingest.delay(1, 2)\n\n\n"
        "def b():\n"
        "    from .tasks import refresh as again\n"
        "    again.delay(3)\n\n\n"
        "def c(unknown):\n"
        "    unknown.delay(4)\n"
        "    run = tasks.ingest\n"
        "    run.delay(5, 6)\n"
    )})
    found = [(call.call.span.line, call.task.name) for call in calls_in(project, "proj/jobs.py")]
    assert found == [(5, "proj.tasks.ingest"), (10, "proj.tasks.refresh"), (16, "proj.tasks.ingest")]


def bindings_at(project: Project, path: str, line: int) -> dict[str, list[tuple[str, str]]]:
    for ctx, expr in walk(project):
        if ctx.path == path and expr.span.line == line:
            out: dict[str, list[tuple[str, str]]] = {}
            scope = ctx
            while scope is not None:
                for name, bindings in scope.bindings.items():
                    out.setdefault(name, [(b.kind, render(b.value) if b.value is not None else "") for b in bindings])
                scope = scope.outer
            return out
    raise AssertionError(f"no expression at line {line}")


def test_bindings_follow_branches_with_blocks_loops_and_closures(tmp_path):
    project = project_of(tmp_path, **{"proj/jobs.py": (
        "from proj.tasks import ingest\n\n\n"
        "def job(path, rows, fast):\n"
        "    if fast:\n"
        "        data = 'x'\n"
        "    else:\n"
        "        data = open(path).read()\n"
        "    with open(path) as handle:\n"
        "        for row in rows:\n"
        "            ingest.delay(data, handle)\n"
        "\n"
        "    def inner():\n"
        "        ingest.delay(data, path)\n"
        "    return inner\n"
    )})
    at_11 = bindings_at(project, "proj/jobs.py", 11)
    assert at_11["data"] == [("assign", "'x'"), ("assign", "open(path).read()")]
    assert at_11["handle"] == [("with", "open(path)")]
    assert at_11["row"] == [("for", "rows")]
    assert at_11["path"] == [("param", "")]
    at_14 = bindings_at(project, "proj/jobs.py", 14)
    assert at_14["data"] == [("assign", "'x'"), ("assign", "open(path).read()")]


def test_methods_and_module_level_calls_are_walked(tmp_path):
    project = project_of(tmp_path, **{"proj/jobs.py": (
        "from proj.tasks import ingest\n\n"
        "ingest.delay(1, 2)\n\n\n"
        "class View:\n"
        "    def post(self, request):\n"
        "        ingest.delay(request.body, 'b')\n"
    )})
    calls = calls_in(project, "proj/jobs.py")
    assert [c.call.span.line for c in calls] == [3, 8]
    assert isinstance(calls[1].args[0], ir.Attr)


def test_calls_on_unresolved_receivers_are_not_task_calls(tmp_path):
    project = project_of(tmp_path, **{"proj/jobs.py": (
        "import rq\n\n\n"
        "def job(queue, mailer):\n"
        "    queue.delay(1)\n"
        "    mailer.send_task('x', args=[1])\n"
        "    rq.s(2)\n"
    )})
    assert calls_in(project, "proj/jobs.py") == []


def test_a_name_changed_in_place_no_longer_stands_for_its_assignment(tmp_path):
    project = project_of(tmp_path, **{"proj/jobs.py": (
        "from proj.tasks import ingest\n\n\n"
        "def job(message, extra):\n"
        "    sig = ingest.s()\n"
        "    sig.args = (message,)\n"
        "    opts = {'a': 1}\n"
        "    opts.update(extra)\n"
        "    kept = ingest.s(1)\n"
        "    kept.delay()\n"
        "    return sig, opts, kept\n"
    )})
    at_11 = bindings_at(project, "proj/jobs.py", 11)
    assert at_11["sig"] == [("mutated", "")]
    assert at_11["opts"] == [("mutated", "")]
    assert at_11["kept"] == [("assign", "ingest.s(1)")]
