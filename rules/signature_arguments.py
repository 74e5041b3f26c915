"""QL301: a signature in a chain, chord, link or errback cannot take the arguments Celery calls it with."""
from __future__ import annotations

from typing import Iterable

from qlint.semantics.canvas import Placement, call_problem, canvas_uses, errback_calls, id_problem, rendered_call
from qlint.semantics.callsites import render
from qlint.catalog import releases as catalog_releases
from qlint.model import Edit, Finding, Fix, Related
from qlint.resolve.project import Project
from qlint.rule import Example, Rule

_APP = 'from celery import Celery\n\napp = Celery("proj", broker="redis://localhost:6379/0")\n'
_TASKS = """from proj.celery import app


@app.task
def build_report(upload_id):
    return {"upload_id": upload_id}


@app.task
def notify_owner(upload_id):
    return upload_id


@app.task
def summarize(results, title="summary"):
    return title


@app.task(bind=True)
def archive(self, report, upload_id):
    return upload_id


@app.task
def on_failure(request, exc, traceback):
    return str(exc)


@app.task
def log_failure(task_id, upload_id):
    return task_id


@app.task(bind=True)
def mark_failed(self, upload_id, reason="failed"):
    return upload_id


@app.task(bind=True)
def cleanup(self, task_id, upload_id):
    return upload_id
"""


def _project(code: str) -> dict[str, str]:
    return {"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS, "proj/flows.py": code}


_IMPORTS = ("from celery import chain, chord, group\n\nfrom proj.tasks import archive, build_report, cleanup, log_failure, "
            "mark_failed, notify_owner, on_failure, summarize\n\n\n")


class SignatureArguments(Rule):
    code = "QL301"
    name = "signature-arguments"
    severity = "error"
    summary = "A signature in a chain, chord, link or errback cannot take the arguments Celery will call it with."
    what = """
Signatures whose task, as defined in the project, cannot be called the way Celery calls it: a mutable
signature (`.s()`, `.signature()`, `signature(...)`) after another step of a chain (`chain(a, b)`, `a | b`),
as a chord body (`chord(header)(body)`, `chord(header, body)`, `group(...) | task.s()`) or as a `link=`
callback, whose task cannot take one more positional argument in front of its own; an immutable signature
(`.si()`, `immutable=True`) that leaves out a required argument; a keyword that names no parameter or
one already filled; and an errback (`link_error=`, `.on_error()`, a chord's `on_error`) whose parameters do not
match how Celery will call it, or that is sent as a task and so receives the failed task's id (a chord
body's, for a chord) in the parameter its own first argument was meant for (`upload_id`, where `task_id`
or `uuid` would say it expects the id). Errbacks are judged for each Celery release the project may
install, and reported only when every one of them calls it wrongly.
`self` of `bind=True` tasks, defaults, `*args` and `**kwargs` are counted. A signature whose task qlint
cannot find, or whose arguments it cannot read (`*args`, `**kwargs`), is not reported; nor is the first
step of a canvas that may be applied with arguments elsewhere.
"""
    why = """
When a step of a chain finishes, the worker sends the next step with the step's return value put in
front of the signature's own arguments (`Signature._merge`); a chord body receives the list of the header
results; a `link=` callback receives the parent's result. An immutable signature keeps only its own
arguments. A task that cannot take the extra argument fails with `TypeError` in the worker, after the
expensive parent already ran: the rest of the chain never runs and nothing retries it. Errbacks
(`link_error`) are called inline as `errback(request, exc, traceback)` when the task is not bound and takes
more than one positional argument (or takes `*args`): up to Celery 5.6 every positional parameter of the
function counts, from 5.7 only those its stored arguments leave. Otherwise they are sent as a task with
the failed task's id in front of their own arguments, which all move one parameter right: the handler
marks the wrong row, or gets the id where it expected a record's. An errback that fails raises inside
the failure handler and is only logged.
"""
    example = """
```python
chain(build_report.s(upload_id), notify_owner.s(upload_id))
# Celery calls notify_owner(<result of build_report>, upload_id): TypeError
```
"""
    fix = """
If the step does not need its parent's result, make the signature immutable: `notify_owner.si(upload_id)`.
If it does, add a parameter for it, first: `def notify_owner(report, upload_id)`. Give an errback either
`(request, exc, traceback)` (called inline) or the failed task's id as its first parameter, before its own
arguments (sent as a task): `def mark_failed(self, task_id, upload_id)`.
"""
    fix_safety = (
        "The fix that turns `.s(...)` into `.si(...)` is safe: it is offered only where the task's parameters are "
        "bound by the signature's own arguments and the parent's result can only make the call fail, so no code "
        "of the task could read that result; the step then runs with the arguments written. Where the signature's "
        "own arguments do not complete the call either, the fix is a suggestion only."
    )
    scenarios = ("examples/scenarios/chain-mutable-bad.yaml", "examples/scenarios/chain-immutable-fixed.yaml")
    invalid = (
        Example(_project(_IMPORTS + "def run(upload_id):\n    return chain(build_report.s(upload_id), notify_owner.s(upload_id)).apply_async()\n"),
                note="the second step of a chain cannot take the first step's result"),
        Example(_project(_IMPORTS + "def run(upload_id):\n    flow = build_report.s(upload_id) | archive.s()\n    return flow.delay()\n"),
                note="bound task: self is not an argument, and the chain passes only the report"),
        Example(_project(_IMPORTS + "def run(ids):\n    return chord([build_report.s(i) for i in ids])(notify_owner.s(ids[0]))\n"),
                note="a chord body receives the list of header results"),
        Example(_project(_IMPORTS + "def run(upload_id):\n    return chain(build_report.s(upload_id), notify_owner.si()).delay()\n"),
                note="an immutable signature without its required argument"),
        Example(_project(_IMPORTS + "def run(upload_id):\n    return build_report.apply_async((upload_id,), link=notify_owner.s(upload_id=upload_id))\n"),
                note="the link callback receives the result, and the keyword fills the same parameter"),
        Example(_project(_IMPORTS + "def run(upload_id):\n    return build_report.apply_async((upload_id,), link_error=log_failure.s())\n"),
                note="an errback with two positional parameters is called inline with three arguments"),
        Example(_project(_IMPORTS + "def run(upload_id):\n"
                         "    return build_report.apply_async((upload_id,), link_error=mark_failed.s(upload_id))\n"),
                note="a bound errback is sent as a task: its upload_id receives the failed task's id"),
    )
    valid = (
        Example(_project(_IMPORTS + "def run(upload_id):\n    return chain(build_report.s(upload_id), notify_owner.si(upload_id)).apply_async()\n"),
                note="an immutable step with its own argument"),
        Example(_project(_IMPORTS + "def run(upload_id):\n    return (build_report.s(upload_id) | archive.s(upload_id)).delay()\n"),
                note="bound task taking the report and its own argument"),
        Example(_project(_IMPORTS + "def run(a, b):\n    return (group(build_report.s(a), build_report.s(b)) | summarize.s()).delay()\n"),
                note="a chord body taking the list of results"),
        Example(_project(_IMPORTS + "def run(upload_id):\n"
                         "    build_report.apply_async((upload_id,), link_error=on_failure.s())\n"
                         "    build_report.apply_async((upload_id,), link_error=log_failure.s(upload_id))\n"),
                note="errbacks shaped as Celery calls them: inline, and as a task with the failed task's id"),
        Example(_project(_IMPORTS + "def run(upload_id):\n"
                         "    return build_report.apply_async((upload_id,), link_error=cleanup.s(upload_id))\n"),
                note="a bound errback whose first parameter takes the failed task's id"),
        Example(_project(_IMPORTS + "def run(step, upload_id):\n    return chain(build_report.s(upload_id), step.s(upload_id)).delay()\n"),
                note="a step whose task qlint cannot resolve"),
        Example(_project(_IMPORTS + "def make(upload_id):\n    return chain(notify_owner.s(), build_report.si(upload_id))\n"),
                note="the first step of a chain that is applied elsewhere, maybe with arguments"),
        Example(_project(_IMPORTS + "def run(upload_id, message):\n    errback = log_failure.s()\n"
                         "    errback.args = (message,)\n"
                         "    return build_report.apply_async((upload_id,), link_error=errback)\n"),
                note="a signature changed after it was built is not judged by how it was built"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        seen: set[tuple[object, str]] = set()
        for use in canvas_uses(project):
            if not isinstance(use, Placement):
                continue
            finding = self._check(use)
            if finding is not None and (finding.span, finding.message) not in seen:
                seen.add((finding.span, finding.message))
                yield finding

    def _check(self, use: Placement) -> Finding | None:
        sig, incoming = use.sig, use.incoming
        call = sig.call
        task = call.task
        if task is None:
            return None
        if incoming.errback:
            return self._errback(use)
        if sig.immutable:
            values = ()
        elif incoming.values is None:
            return None
        else:
            values = incoming.values
        problem = call_problem(task, values, call)
        if problem is None:
            return None
        calls = f"Celery calls {rendered_call(task, values, call)}"
        if sig.immutable:
            calls += " (an immutable signature gets nothing from its parent)"
        return self._report(use, f"{calls}, but {problem}", values)

    def _errback(self, use: Placement) -> Finding | None:
        """An errback is wrong when every release the app may run calls it wrongly: with arguments
        that do not fit, or, sent as a task, with the failed task's id where its own first argument
        was meant to go."""
        call = use.sig.call
        task = call.task
        assert task is not None
        ways = []
        for way in errback_calls(use.sig, use.incoming.failed):
            problem = call_problem(task, way.values, call) or (id_problem(task, call) if way.as_task else None)
            if problem is None:
                return None
            ways.append((way, problem))
        texts = [f"Celery calls it {way.how}: {rendered_call(task, way.values, call)}, but {problem}" for way, problem in ways]
        if len(ways) > 1:
            texts = [f"{catalog_releases.celery(way.releases)} calls it {text[len('Celery calls it '):]}"
                     for (way, _), text in zip(ways, texts)]
        return self._report(use, "; ".join(texts), ways[0][0].values)

    def _report(self, use: Placement, calls: str, values: tuple[str, ...]) -> Finding:
        call = use.sig.call
        task = call.task
        assert task is not None
        written = f"{call.label}.{call.method}({_own(call)})" if call.method not in ("signature()",) else render(call.call)
        message = f"{written} {use.incoming.where}: {calls}"
        related = [Related(task.defined_at, f"{task.name} defined here")]
        if use.incoming.parent is not None and use.incoming.parent is not task:
            related.append(Related(use.incoming.parent.defined_at, f"{use.incoming.parent.name} defined here"))
        return self.finding(message, call.call.span, related, self._fix(use, values), depends_on=[r.span.path for r in related])

    @staticmethod
    def _fix(use: Placement, values: tuple[str, ...]) -> Fix:
        call = use.sig.call
        if use.incoming.errback:
            return Fix("give the errback the parameters Celery calls it with: (request, exc, traceback) when called "
                       "inline, or the failed task's id first, before its own arguments, when sent as a task")
        if call.immutable or not values:
            return Fix("pass every required argument in the signature")
        assert call.task is not None
        if call.method == "s" and call_problem(call.task, (), call) is None:
            return Fix("if the task does not need its parent's result, make the signature immutable with .si(); "
                       "otherwise add a first parameter for that result",
                       (Edit(call.method_span, "si"),), "safe")
        return Fix("add a first parameter to the task for its parent's result, or make the signature immutable "
                   "(.si()) with every argument it needs")


def _own(call) -> str:
    parts = [render(a) for a in call.args or ()] + [f"{k}={render(v)}" for k, v in call.kwargs or ()]
    return ", ".join(parts)
