"""QL303 chord-needs-results: which canvases are chords (compared with real Celery), where the finding
points, and the header-results hazard replayed on real workers with a real Redis server."""
from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery, chain, chord, group

from qlint.pipeline.analysis import analyse
from qlint.model import Finding
from qlint.rules.chord_needs_results import ChordNeedsResults, backend_scheme
from tests.worker.conftest import redis_url  # noqa: F401  (fixture)

TASKS = '''

@app.task
def fetch(url=None):
    return url


@app.task
def merge(pages=None):
    return pages
'''
FLOW = "from celery import chain, chord, group\n\nfrom proj.tasks import fetch, merge\n\n\ndef run():\n    return "
LINE = FLOW.count("\n") + 1


def check(root: Path, files: dict[str, str]) -> list[Finding]:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    project = analyse(["."], cwd=root, root=root, use_cache=False).project
    return list(ChordNeedsResults().check(project))


def project(backend: str | None, flow: str, task_options: str = "", extra: str = "") -> dict[str, str]:
    args = f", backend={backend!r}" if backend is not None else ""
    app = f'from celery import Celery\n\napp = Celery("proj", broker="redis://localhost:6379/0"{args})\n{extra}'
    tasks = "from proj.celery import app\n" + TASKS.replace("@app.task\ndef fetch", f"@app.task{task_options}\ndef fetch")
    return {"proj/__init__.py": "", "proj/celery.py": app, "proj/tasks.py": tasks, "proj/flows.py": FLOW + flow + "\n"}


CANVASES = [
    "chord([fetch.s(1), fetch.s(2)], merge.s())",
    "chord([fetch.s(1), fetch.s(2)])(merge.s())",
    "chord(header=[fetch.s(1)], body=merge.s())",
    "group(fetch.s(1), fetch.s(2)) | merge.s()",
    "chain(group(fetch.s(1), fetch.s(2)), merge.s())",
    "chain(fetch.s(1), group(fetch.s(2), fetch.s(3)), merge.s())",
    "chain(chain(fetch.s(1), group(fetch.s(2), fetch.s(3))), merge.s())",
    "group(fetch.s(1), fetch.s(2)) | group(merge.s(), merge.s())",
    "fetch.s(1) | group(fetch.s(2), fetch.s(3)) | merge.s()",
    "chain(fetch.s(1), group(fetch.s(2), fetch.s(3)))",
    "fetch.s(1) | group(fetch.s(2), fetch.s(3))",
    "group(fetch.s(1), fetch.s(2))",
    "chain(fetch.s(1), merge.s())",
    "chord([], merge.s())",
    "group([]) | merge.s()",
]


def celery_refuses(expr: str, backend: str) -> bool:
    """Apply the canvas with real Celery on an app whose backend refuses chords."""
    app = Celery("real", broker="memory://", backend=backend)

    @app.task(name="fetch", shared=False)
    def fetch(url=None):
        return url

    @app.task(name="merge", shared=False)
    def merge(pages=None):
        return pages

    try:
        canvas = eval(expr, {"chain": chain, "chord": chord, "group": group, "fetch": fetch, "merge": merge})
        if hasattr(canvas, "apply_async"):  # chord(header)(body) has already been applied
            canvas.apply_async()
    except NotImplementedError:
        return True
    finally:
        app.close()
    return False


@pytest.mark.parametrize("backend", ["rpc://", "disabled://"])
@pytest.mark.parametrize("expr", CANVASES)
def test_chords_are_what_celery_refuses(tmp_path, expr, backend):
    refused = celery_refuses(expr, backend)
    found = check(tmp_path, project(backend, expr))
    assert len(found) == (1 if refused else 0), (expr, refused, found)
    if found:
        assert found[0].span.line == LINE and found[0].severity == "error"
        assert found[0].message.endswith("applying it raises NotImplementedError")


def test_rpc_message_and_related_location(tmp_path):
    (finding,) = check(tmp_path, project("rpc://", "chord([fetch.s(1), fetch.s(2)], merge.s()).delay()"))
    assert finding.message == ("chord over (fetch, fetch) needs a result backend that supports chords, and the rpc:// "
                               "backend does not: applying it raises NotImplementedError")
    column = len("    return ") + 1
    assert (finding.span.path, finding.span.line, finding.span.column, finding.span.end_column) == \
        ("proj/flows.py", LINE, column, column + len("chord"))
    (related,) = finding.related
    assert related.span.path == "proj/celery.py" and related.span.line == 3


def test_disabled_results_in_a_config_module(tmp_path):
    files = project(None, "(group(fetch.s(1), fetch.s(2)) | merge.s()).delay()",
                    extra='app.config_from_object("proj.celeryconfig")\n')
    files["proj/celeryconfig.py"] = "result_backend = None\n"
    (finding,) = check(tmp_path, files)
    assert finding.message.startswith("a group followed by merge in a chain (a chord) needs a result backend, "
                                      "and app 'proj' has results disabled")
    assert (finding.related[0].span.path, finding.related[0].span.line) == ("proj/celeryconfig.py", 1)


def test_named_canvas_applied_later_is_reported_once(tmp_path):
    flow = "workflow\n\n\ndef later(urls):\n    workflow = chord([fetch.s(u) for u in urls], merge.s())\n" \
           "    workflow.delay()\n    return workflow.apply_async()\n"
    found = check(tmp_path, project("rpc://", flow))
    assert [f.span.line for f in found] == [LINE + 4]


@pytest.mark.parametrize("settings", [
    "",  # no backend in code: the CELERY_RESULT_BACKEND variable may set it
    "app.conf.result_backend = os.environ.get('RESULTS', 'rpc://')\n",
    "app.conf.task_always_eager = True\napp.conf.result_backend = 'rpc://'\n",
])
def test_silent_when_the_backend_is_not_certain_or_tasks_run_eagerly(tmp_path, settings):
    files = project(None, "chord([fetch.s(1), fetch.s(2)], merge.s()).delay()", extra="import os\n" + settings)
    assert check(tmp_path, files) == []


def test_backend_schemes():
    assert [backend_scheme(u) for u in ("redis://h/1", "db+postgresql://h/r", "django-db", "rpc://", "disabled", None)] \
        == ["redis", "db", "django-db", "rpc", "disabled", None]


@pytest.mark.parametrize(("backend", "options", "flow", "count"), [
    ("django-db", "(ignore_result=True)", "chord([fetch.s(1), fetch.s(2)], merge.s())", 2),
    ("db+sqlite:///results.db", "(ignore_result=True)", "group(fetch.s(1), fetch.s(2)) | merge.s()", 2),
    ("cache+memcached://127.0.0.1:11211/", "(ignore_result=True)", "chord([chain(merge.s(), fetch.s())], merge.s())", 1),
    ("django-db", "(ignore_result=True)", "chord([chain(fetch.s(), merge.s())], merge.s())", 0),
    ("redis://localhost:6379/1", "(ignore_result=True)", "chord([fetch.s(1), fetch.s(2)], merge.s())", 0),
    ("django-db", "", "chord([fetch.s(1), fetch.s(2)], merge.s())", 0),
    ("django-db", "(ignore_result=True)", "chord([fetch.s(1).set(ignore_result=False)], merge.s())", 0),
    ("django-db", "(ignore_result=True)", "chord([fetch.signature((1,), ignore_result=False)], merge.s())", 0),
    ("django-db", "(ignore_result=True)", "chord([merge.s()], fetch.s())", 0),
])
def test_header_tasks_that_ignore_results(tmp_path, backend, options, flow, count):
    found = check(tmp_path, project(backend, flow, options))
    assert len(found) == count
    for finding in found:
        assert finding.message.startswith("proj.tasks.fetch ignores its result but is in the header of ")
        assert "reads header results back from storage, finds none, and the body (" in finding.message
        assert [r.message for r in finding.related] == ["ignore_result is set here", "the result backend is set here"]


def test_global_task_ignore_result(tmp_path):
    files = project("django-db", "chord([fetch.s(1), merge.s()], merge.s())", extra="app.conf.task_ignore_result = True\n")
    found = check(tmp_path, files)
    assert sorted(f.message.split()[0] for f in found) == ["proj.tasks.fetch", "proj.tasks.merge"]
    assert {f.related[0].span.line for f in found} == {4}


# ---------------------------------------------------------------- real workers

WORKER_APP = '''
import os

from celery import Celery

app = Celery("realchord", broker=os.environ["BROKER"], backend=os.environ["BACKEND"])
app.conf.result_chord_retry_interval = 0.2


@app.task(ignore_result=True, shared=False)
def fetch(url):
    return url


@app.task(shared=False)
def merge(pages):
    return sorted(pages)
'''


def run_chord(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broker: str, backend: str) -> tuple[str, object]:
    """Send a chord whose header ignores results to a real worker: the body's state and result,
    once the body has run or the chord's bookkeeping has polled several times without running it."""
    (tmp_path / "realchord.py").write_text(WORKER_APP, encoding="utf-8")
    monkeypatch.setenv("BROKER", broker)
    monkeypatch.setenv("BACKEND", backend)
    monkeypatch.syspath_prepend(str(tmp_path))
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "realchord", "worker", "-P", "solo", "-l", "info",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)}, stdout=out, stderr=subprocess.STDOUT)
    try:
        import realchord
        result = chord([realchord.fetch.s(u) for u in ("b", "a")], realchord.merge.s()).apply_async()
        for _ in range(3000):  # a safety net against a hang, not a measurement
            if result.ready() or log.read_text().count("celery.chord_unlock") >= 10:
                break
            time.sleep(0.1)
        state, value = result.state, result.result
        # Drop the result while Redis runs: its finaliser unsubscribes from the result channel.
        del result
        gc.collect()
        realchord.app.close()
        return state, value
    finally:
        sys.modules.pop("realchord", None)
        worker.terminate()
        worker.wait(60)


def test_real_redis_backend_runs_the_body_although_the_header_ignores_results(tmp_path, monkeypatch, redis_url):  # noqa: F811
    server = redis_url.rsplit("/", 1)[0]
    state, value = run_chord(tmp_path, monkeypatch, f"{server}/2", f"{server}/1")
    assert (state, value) == ("SUCCESS", ["a", "b"])
    files = project(f"{server}/1", "chord([fetch.s(1), fetch.s(2)], merge.s())", "(ignore_result=True)")
    assert check(tmp_path / "lint", files) == []


def test_real_file_backend_never_runs_the_body(tmp_path, monkeypatch, redis_url):  # noqa: F811
    results = tmp_path / "results"
    results.mkdir()
    state, _ = run_chord(tmp_path, monkeypatch, redis_url.rsplit("/", 1)[0] + "/3", f"file://{results}")
    assert state == "PENDING"
    assert (tmp_path / "worker.log").read_text().count("celery.chord_unlock") >= 10
    files = project(f"file://{results}", "chord([fetch.s(1), fetch.s(2)], merge.s())", "(ignore_result=True)")
    assert len(check(tmp_path / "lint", files)) == 2
