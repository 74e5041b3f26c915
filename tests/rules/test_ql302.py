"""QL302 canvas-eager-call: spans, messages and fixes on real projects; the hazard and the fix in real Celery."""
from __future__ import annotations

from pathlib import Path

import pytest
from celery import Celery, chain, chord, group

from qlint.pipeline.analysis import analyse
from qlint.model import Finding
from qlint.rules.canvas_eager_call import CanvasEagerCall

APP = 'from celery import Celery\n\napp = Celery("proj")\n'
TASKS = '''
@app.task
def fetch(url):
    return url


@app.task
def store(page):
    return len(page)


@app.task
def merge(pages):
    return len(pages)
'''
HEADER = "from celery import chain, chord, group\n\nfrom proj.tasks import fetch, merge, store\n\n\ndef run(url):\n    return "
LINE = HEADER.count("\n") + 1
INDENT = len("    return ")


def check(tmp_path: Path, flow: str) -> tuple[str, list[Finding]]:
    source = HEADER + flow + "\n"
    files = {"proj/__init__.py": "", "proj/celery.py": APP,
             "proj/tasks.py": "from proj.celery import app\n" + TASKS, "proj/flows.py": source}
    for rel, content in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    project = analyse(["."], cwd=tmp_path, root=tmp_path, use_cache=False).project
    return source, list(CanvasEagerCall().check(project))


def apply_fix(source: str, finding: Finding) -> str:
    lines = source.splitlines(keepends=True)
    for edit in sorted(finding.fix.edits, key=lambda e: (e.span.line, e.span.column), reverse=True):
        assert edit.span.line == edit.span.end_line
        text = lines[edit.span.line - 1]
        lines[edit.span.line - 1] = text[: edit.span.column - 1] + edit.content + text[edit.span.end_column - 1:]
    return "".join(lines)


BAD = [
    ("chain(fetch.s(url), store.delay('page')).apply_async()", "store.delay('page')", "store.delay(...) in a chain",
     "chain(fetch.s(url), store.s('page')).apply_async()"),
    ("group([fetch.delay(url), fetch.s(url)]).apply_async()", "fetch.delay(url)", "fetch.delay(...) in a group",
     "group([fetch.s(url), fetch.s(url)]).apply_async()"),
    ("chord([fetch.s(url), fetch.apply_async((url,))], merge.s()).apply_async()", "fetch.apply_async((url,))",
     "fetch.apply_async(...) in a chord header", "chord([fetch.s(url), fetch.signature((url,))], merge.s()).apply_async()"),
    ("(fetch.s(url) | store.delay('page')).delay()", "store.delay('page')", "store.delay(...) in a chain",
     "(fetch.s(url) | store.s('page')).delay()"),
    ("fetch.apply_async((url,), link=store.delay('page'))", "store.delay('page')",
     "store.delay(...) as the link callback of fetch", "fetch.apply_async((url,), link=store.s('page'))"),
]


@pytest.mark.parametrize(("flow", "call", "start", "fixed"), BAD, ids=[b[0] for b in BAD])
def test_eager_calls_in_canvases(tmp_path, flow, call, start, fixed):
    source, found = check(tmp_path, flow)
    (finding,) = found
    column = INDENT + flow.index(call) + 1
    assert (finding.span.line, finding.span.column, finding.span.end_column) == (LINE, column, column + len(call))
    assert finding.message == (f"{start} sends the task now and puts an AsyncResult where a signature belongs: "
                               "it runs at once, not as part of the canvas")
    assert finding.severity == "error" and finding.fix.applicability == "unsafe"
    repaired = apply_fix(source, finding)
    assert repaired == HEADER + fixed + "\n"
    _, after = check(tmp_path / "fixed", fixed)
    assert after == []


def celery_namespace() -> dict:
    app = Celery("proj", broker="memory://", backend="cache+memory://", set_as_current=False)
    namespace = {"__name__": "proj.tasks", "app": app, "chain": chain, "chord": chord, "group": group, "url": "u"}
    exec(compile(TASKS, "proj/tasks.py", "exec"), namespace)
    return namespace


@pytest.mark.parametrize(("flow", "fixed"), [(b[0], b[3]) for b in BAD], ids=[b[0] for b in BAD])
def test_celery_fails_on_the_eager_canvas_and_accepts_the_fix(flow, fixed):
    """What the rule says happens: the canvas breaks in Celery itself; the fixed canvas is sent."""
    namespace = celery_namespace()
    with pytest.raises(Exception):
        eval(flow, namespace)
    eval(fixed, celery_namespace())


@pytest.mark.parametrize("flow", [
    "chain(fetch.s(url), store.s('page')).apply_async()",
    "fetch.delay(url).get() | 1",
    "[fetch.delay(u) for u in url]",
    "fetch.apply_async((url,), link=store.s())",
    "__import__('itertools').chain(fetch.delay(url), [])",
    "(len(url) | 4, url.delay())",
])
def test_not_reported(tmp_path, flow):
    assert check(tmp_path, flow)[1] == []


def test_itertools_chain_is_not_a_canvas(tmp_path):
    flow = "chained(fetch.delay(url), [])"
    source = "from itertools import chain as chained\n\n" + HEADER + flow + "\n"
    path = tmp_path / "proj" / "other.py"
    check(tmp_path, "None")
    path.write_text(source, encoding="utf-8")
    project = analyse(["."], cwd=tmp_path, root=tmp_path, use_cache=False).project
    assert list(CanvasEagerCall().check(project)) == []


def test_fixed_example_has_no_eager_call():
    root = Path(__file__).resolve().parents[2] / "examples" / "fixed"
    project = analyse(["."], cwd=root, root=root, use_cache=False).project
    assert list(CanvasEagerCall().check(project)) == []
