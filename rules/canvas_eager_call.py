"""QL302: `.delay()`/`.apply_async()` written where a canvas expects a signature."""
from __future__ import annotations

from typing import Iterable

from qlint.semantics.canvas import Misplaced, canvas_uses
from qlint.semantics.callsites import attr_name_span, render
from qlint.model import Edit, Finding, Fix
from qlint.resolve.project import Project
from qlint.rule import Example, Rule
from qlint.sources import ir

_APP = 'from celery import Celery\n\napp = Celery("proj", broker="redis://localhost:6379/0")\n'
_TASKS = """from proj.celery import app


@app.task
def fetch(url):
    return url


@app.task
def store(page):
    return len(page)


@app.task
def merge(pages):
    return len(pages)
"""
_IMPORTS = "from celery import chain, chord, group\n\nfrom proj.tasks import fetch, merge, store\n\n\n"


def _project(code: str) -> dict[str, str]:
    return {"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS, "proj/flows.py": _IMPORTS + code}


class CanvasEagerCall(Rule):
    code = "QL302"
    name = "canvas-eager-call"
    severity = "error"
    summary = "A task is sent with .delay()/.apply_async() where a canvas expects a signature: it runs at once, outside the canvas."
    what = """
A `.delay(...)` or `.apply_async(...)` call written as an element of `chain(...)`, `group(...)` or
`chord(...)`, as an operand of `|` next to a signature, or as a `link=`/`link_error=` callback. Calls
inside Celery's own `chain`/`group`/`chord` are reported whatever their receiver; elsewhere the receiver
must be a task or canvas of the project.
"""
    why = """
`.delay()` and `.apply_async()` send the task the moment the expression is evaluated and return an
`AsyncResult`, not a signature: the task runs at once, with only its own arguments, before the steps it
was meant to follow. Then the canvas itself breaks (observed with Celery 5.7): `chain(...)` and `|` raise
`TypeError` for the `AsyncResult` operand, a group or chord fails when it is applied, and a `link=`
callback cannot be serialized into the message. The task ran once outside the workflow and the workflow
never started.
"""
    example = """
```python
chain(fetch.s(url), store.delay())   # store runs now, without the page; the chain gets an AsyncResult
```
"""
    fix = """
Write a signature instead: `store.s()` (or `store.si(...)` when it must not receive its parent's result);
`task.apply_async(args, kwargs, **options)` becomes `task.signature(args, kwargs, **options)`.
"""
    fix_safety = (
        "Unsafe: the fix replaces `delay` with `s` (or `apply_async` with `signature` when it has at most two "
        "positional arguments), so the task no longer runs at that point; code that relied on it running "
        "immediately changes behaviour."
    )
    invalid = (
        Example(_project("def run(url):\n    return chain(fetch.s(url), store.delay()).apply_async()\n"),
                note="an eager call as a chain step"),
        Example(_project("def run(urls):\n    return chord([fetch.delay(urls[0]), fetch.s(urls[1])], merge.s()).delay()\n"),
                note="an eager call in a chord header"),
        Example(_project("def run(url):\n    return (fetch.s(url) | store.apply_async()).delay()\n"),
                note="an eager call as an operand of |"),
        Example(_project("def run(url, page):\n    return fetch.apply_async((url,), link=store.delay(page))\n"),
                note="an eager call as a link callback"),
    )
    valid = (
        Example(_project("def run(url):\n    return chain(fetch.s(url), store.s()).apply_async()\n")),
        Example(_project("def run(urls):\n    return chord([fetch.s(u) for u in urls], merge.s()).delay()\n")),
        Example(_project("def run(url):\n    result = fetch.delay(url)\n    return result.get() | 1\n"),
                note="an AsyncResult's value used with | is not a canvas"),
        Example(_project("from itertools import chain as chained\n\n\n"
                         "def run(first, second):\n    return list(chained(first.delay(), second))\n"),
                note="itertools.chain is not Celery's"),
        Example(_project("def run(url):\n    return fetch.apply_async((url,), link=store.s())\n"),
                note="a signature as a link callback"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        seen: set[object] = set()
        for use in canvas_uses(project):
            if not isinstance(use, Misplaced) or use.eager.call.span in seen:
                continue
            seen.add(use.eager.call.span)
            call = use.eager.call
            written = f"{render(call.func)}(...)" if call.args or call.kwargs else f"{render(call.func)}()"
            message = (f"{written} {use.where} sends the task now and puts an AsyncResult where a signature belongs: "
                       f"it runs at once, not as part of the canvas")
            yield self.finding(message, call.span, (), _fix(call, use.eager.method))


def _fix(call: ir.Call, method: str) -> Fix:
    assert isinstance(call.func, ir.Attr)
    span = attr_name_span(call.func)
    if method == "delay":
        return Fix("write a signature: replace .delay(...) with .s(...)", (Edit(span, "s"),), "unsafe")
    if len(call.args) <= 2 and not any(isinstance(a, ir.Starred) for a in call.args):
        return Fix("write a signature: replace .apply_async(args, kwargs, ...) with .signature(args, kwargs, ...)",
                   (Edit(span, "signature"),), "unsafe")
    return Fix("write a signature (.s(...) or .signature(args, kwargs, **options)) instead of sending the task")
