"""QL301 signature-arguments: spans and messages on real projects, and agreement with real Celery.

The comparison tests run each canvas with Celery 5.7 itself (eager mode, in this process, on test
code only) and check that qlint reports exactly the canvases whose task Celery fails to call.
"""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
from celery import Celery, chain, chord, group

from qlint.pipeline.analysis import analyse
from qlint.rules.signature_arguments import SignatureArguments

APP = 'from celery import Celery\n\napp = Celery("proj")\n'
TASKS = '''
@app.task
def build_report(upload_id):
    calls.append("build_report")
    return {"upload_id": upload_id}


@app.task
def notify_owner(upload_id):
    calls.append("notify_owner")
    return upload_id


@app.task
def notify_with_report(report, upload_id):
    calls.append("notify_with_report")


@app.task
def summarize(results, title="summary"):
    calls.append("summarize")


@app.task(bind=True)
def archive(self, report, upload_id):
    calls.append("archive")


@app.task
def flexible(*args, **kwargs):
    calls.append("flexible")


@app.task
def keyword_only(report, *, channel):
    calls.append("keyword_only")


@app.task
def boom(upload_id):
    raise ValueError("boom")


@app.task
def on_failure(request, exc, traceback):
    calls.append("on_failure")


@app.task
def log_failure(task_id, upload_id):
    calls.append("log_failure")


@app.task
def log_failure_default(task_id, upload_id=None):
    calls.append("log_failure_default")


@app.task
def log_id(task_id):
    calls.append("log_id")


@app.task(bind=True)
def bound_errback(self, task_id):
    calls.append("bound_errback")


@app.task
def errback_star(*args):
    calls.append("errback_star")


@app.task
def mark_failed(upload_id, reason="failed"):
    calls.append(("mark_failed", upload_id, reason))


@app.task(bind=True)
def bound_mark_failed(self, upload_id, reason="failed"):
    calls.append(("bound_mark_failed", upload_id, reason))


@app.task(bind=True)
def bound_cleanup(self, task_id, upload_id):
    calls.append(("bound_cleanup", task_id, upload_id))
'''
NAMES = ("build_report notify_owner notify_with_report summarize archive flexible keyword_only boom on_failure "
         "log_failure log_failure_default log_id bound_errback errback_star mark_failed bound_mark_failed "
         "bound_cleanup").split()
FLOW_HEADER = "from celery import chain, chord, group\n\nfrom proj.tasks import " + ", ".join(NAMES) + "\n\n\ndef run():\n    return "
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def findings(tmp_path: Path, flow: str, extra: dict[str, str] | None = None):
    files = {
        "proj/__init__.py": "", "proj/celery.py": APP,
        "proj/tasks.py": "from proj.celery import app\n\ncalls = []\n\n" + TASKS,
        "proj/flows.py": FLOW_HEADER + flow + "\n", **(extra or {}),
    }
    for rel, content in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    project = analyse(["."], cwd=tmp_path, root=tmp_path, use_cache=False).project
    return list(SignatureArguments().check(project))


def celery_namespace(propagate: bool) -> dict:
    app = Celery("proj", broker="memory://", backend="cache+memory://", set_as_current=False)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = propagate
    namespace = {"__name__": "proj.tasks", "app": app, "calls": [], "chain": chain, "chord": chord, "group": group}
    exec(compile(TASKS, "proj/tasks.py", "exec"), namespace)
    return namespace


CANVASES = [
    ("chain(build_report.s(1), notify_owner.s(1)).apply_async()", True),
    ("chain(build_report.s(1), notify_owner.si(1)).apply_async()", False),
    ("(build_report.s(1) | notify_with_report.s(1)).delay()", False),
    ("(build_report.s(1) | archive.s()).delay()", True),
    ("(build_report.s(1) | archive.s(1)).delay()", False),
    ("chain(build_report.s(1), flexible.s(1, 2, x=3)).apply_async()", False),
    ("chain(build_report.s(1), keyword_only.s()).apply_async()", True),
    ("chain(build_report.s(1), keyword_only.s(channel='mail')).apply_async()", False),
    ("chord([build_report.s(1), build_report.s(2)])(summarize.s())", False),
    ("chord([build_report.s(1), build_report.s(2)], notify_owner.s(1)).apply_async()", True),
    ("(group(build_report.s(1), build_report.s(2)) | summarize.s('t')).delay()", False),
    ("(group(build_report.s(1), build_report.s(2)) | summarize.s('t', 'u')).delay()", True),
    ("build_report.apply_async((1,), link=notify_owner.s(1))", True),
    ("build_report.apply_async((1,), link=notify_with_report.s(1))", False),
    ("chain(build_report.s(1), notify_with_report.s(upload_id=1)).apply_async()", False),
    ("chain(build_report.s(1), notify_owner.s(upload_id=1)).apply_async()", True),
    ("chain(build_report.s(1), notify_owner.si()).apply_async()", True),
    ("chain(notify_owner.s(), build_report.si(1)).apply_async()", True),
    ("chain(build_report.s(1), notify_owner.s(1).set(immutable=True)).apply_async()", False),
    ("chain(build_report.s(1), build_report.s(), notify_with_report.s(2)).apply_async()", False),
    ("chain(build_report.s(1), build_report.s(), notify_owner.s(2)).apply_async()", True),
]


@pytest.mark.parametrize(("flow", "fails"), CANVASES, ids=[c[0] for c in CANVASES])
def test_agrees_with_celery_on_chains_chords_and_links(tmp_path, flow, fails):
    namespace = celery_namespace(propagate=True)
    try:
        eval(flow, namespace)
        celery_failed = False
    except TypeError:
        celery_failed = True
    assert celery_failed is fails, "the table disagrees with Celery"
    assert bool(findings(tmp_path, flow)) is fails


ERRBACKS = [
    ("on_failure.s()", False),
    ("log_failure.s()", True),
    ("log_failure.s(7)", False),
    ("log_failure_default.s()", True),
    ("log_id.s()", False),
    ("bound_errback.s()", False),
    ("errback_star.s()", False),
    ("log_failure.si('id', 7)", False),
    ("on_failure.si()", True),
]


@pytest.mark.parametrize(("errback", "fails"), ERRBACKS, ids=[e[0] for e in ERRBACKS])
def test_agrees_with_celery_on_errbacks(tmp_path, errback, fails, caplog):
    namespace = celery_namespace(propagate=False)
    task = errback.split(".")[0]
    with caplog.at_level(logging.CRITICAL):
        eval(f"boom.apply_async((1,), link_error={errback})", namespace)
    assert (task not in namespace["calls"]) is fails, "the table disagrees with Celery"
    assert bool(findings(tmp_path, f"boom.apply_async((1,), link_error={errback})")) is fails


def test_message_span_related_and_fix(tmp_path):
    flow = "chain(build_report.s(upload_id=1), notify_owner.s(1)).apply_async()"
    (finding,) = findings(tmp_path, flow)
    line = (FLOW_HEADER + flow).count("\n") + 1
    column = len("    return chain(build_report.s(upload_id=1), ") + 1
    assert (finding.span.line, finding.span.column, finding.span.end_column) == (line, column, column + len("notify_owner.s(1)"))
    assert finding.message == (
        "notify_owner.s(1) follows build_report in a chain: Celery calls notify_owner(<result of build_report>, 1), "
        "but notify_owner takes 1 positional argument")
    assert finding.severity == "error"
    assert [(r.span.path, r.span.line) for r in finding.related] == [("proj/tasks.py", 13), ("proj/tasks.py", 7)]
    (edit,) = finding.fix.edits
    assert finding.fix.applicability == "safe"
    assert (edit.span.line, edit.span.column, edit.span.end_column, edit.content) == (line, column + 13, column + 14, "si")


def test_fix_is_offered_only_when_the_immutable_form_binds(tmp_path):
    (finding,) = findings(tmp_path, "chain(build_report.s(1), notify_owner.s(1, 2)).apply_async()")
    assert finding.fix.edits == ()
    assert "notify_owner takes 1 positional argument" in finding.message


def test_errback_message_says_how_celery_calls_it(tmp_path):
    (finding,) = findings(tmp_path, "boom.apply_async((1,), link_error=log_failure.s())")
    assert finding.message == (
        "log_failure.s() is an errback (link_error) of boom: Celery calls it inline, because it takes more than one "
        "positional argument: log_failure(<request>, <exception>, <traceback>), but log_failure takes 2 positional arguments")


def test_chain_bound_to_a_name_and_applied_later(tmp_path):
    flow = "None\n\n\ndef later(upload_id):\n    flow = notify_owner.s() | build_report.si(upload_id)\n    return flow.delay()"
    (finding,) = findings(tmp_path, flow)
    assert finding.message.startswith("notify_owner.s() is the first step: Celery calls notify_owner(), but notify_owner also requires 'upload_id'")


def test_incident_example_and_its_fixed_twin():
    for name, expected in (("incident", [("uploads/tasks.py", 22, 45)]), ("fixed", [])):
        root = EXAMPLES / name
        project = analyse(["."], cwd=root, root=root, use_cache=False).project
        found = [(f.span.path, f.span.line, f.span.column) for f in SignatureArguments().check(project)]
        assert found == expected, name


@pytest.mark.parametrize("errback", ["mark_failed.s(7)", "bound_mark_failed.s(7)"])
def test_an_errback_sent_as_a_task_takes_the_failed_tasks_id_where_its_own_argument_was_meant(tmp_path, errback, caplog):
    """Celery 5.7 itself sends both as tasks with the failed task's id first: upload_id gets the id, reason gets 7."""
    namespace = celery_namespace(propagate=False)
    with caplog.at_level(logging.CRITICAL):
        failed = eval(f"boom.apply_async((1,), link_error={errback})", namespace)
    task = errback.split(".")[0]
    assert namespace["calls"] == [(task, failed.id, 7)]
    (finding,) = findings(tmp_path, f"boom.apply_async((1,), link_error={errback})")
    how = "(bound tasks are never called inline)" if task.startswith("bound") else \
        "because it takes at most one positional argument"
    assert finding.message == (
        f"{errback} is an errback (link_error) of boom: Celery calls it as a task, {how}: "
        f"{task}(<id of the failed task>, 7), but {task}'s parameter 'upload_id' receives that id, and 7 goes to 'reason'"
    ).replace("as a task, (bound", "as a task (bound")
    assert "the failed task's id first" in finding.fix.description


def test_an_errback_whose_first_parameter_is_the_task_id_is_fine(tmp_path, caplog):
    namespace = celery_namespace(propagate=False)
    with caplog.at_level(logging.CRITICAL):
        failed = eval("boom.apply_async((1,), link_error=bound_cleanup.s(7))", namespace)
    assert namespace["calls"] == [("bound_cleanup", failed.id, 7)]
    assert findings(tmp_path, "boom.apply_async((1,), link_error=bound_cleanup.s(7))") == []


def test_errbacks_follow_the_celery_release_the_project_installs(tmp_path):
    """Up to 5.6 an unbound errback is called inline when its function takes two positional
    parameters, whatever the signature stores; 5.7 counts the parameters the stored ones leave."""
    flow = "boom.apply_async((1,), link_error=log_failure.s(7))"
    assert findings(tmp_path / "new", flow) == []
    (finding,) = findings(tmp_path / "pinned", flow, {"requirements.txt": "celery[redis]==5.5.3\n"})
    assert finding.message == (
        "log_failure.s(7) is an errback (link_error) of boom: Celery calls it inline, because it takes more than one "
        "positional argument: log_failure(<request>, <exception>, <traceback>, 7), but log_failure takes 2 positional "
        "arguments")
    assert findings(tmp_path / "range", flow, {"requirements.txt": "celery>=5.5,<5.8\n"}) == [], \
        "5.7 calls it fine: one plausible release is safe"


def test_an_errback_wrong_in_every_release_says_how_each_calls_it(tmp_path):
    (finding,) = findings(tmp_path, "boom.apply_async((1,), link_error=mark_failed.s(7))",
                          {"requirements.txt": "celery>=5.5,<5.8\n"})
    assert finding.message == (
        "mark_failed.s(7) is an errback (link_error) of boom: Celery 5.5–5.6 calls it inline, because it takes more "
        "than one positional argument: mark_failed(<request>, <exception>, <traceback>, 7), but mark_failed takes 2 "
        "positional arguments; Celery 5.7 calls it as a task, because it takes at most one positional argument: "
        "mark_failed(<id of the failed task>, 7), but mark_failed's parameter 'upload_id' receives that id, and 7 goes "
        "to 'reason'")


def test_a_chords_on_error_gets_the_id_of_its_body(tmp_path):
    (finding,) = findings(tmp_path, "chord([build_report.s(1), build_report.s(2)], summarize.s()).on_error("
                                    "bound_mark_failed.s(7)).delay()")
    assert "is an errback (link_error) of summarize: Celery calls it as a task (bound tasks are never called inline): " \
           "bound_mark_failed(<id of the chord body>, 7), but bound_mark_failed's parameter 'upload_id' receives that id" \
           in finding.message
