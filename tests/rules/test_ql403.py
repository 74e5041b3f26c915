"""QL403 retry-misuse on real projects, and what a real Celery worker does with the same tasks."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qlint.pipeline.analysis import analyse
from qlint.model import Finding
from qlint.rules.retry_misuse import RetryMisuse
from tests.resolve.conftest import write_tree

APP = 'from celery import Celery\n\napp = Celery("proj", broker="memory://", backend="cache+memory://")\n'
HEAD = "from celery.exceptions import Retry\n\nfrom proj.celery import app\n\nRUNS = []\n\n"


def check(root: Path, tasks: str) -> list[Finding]:
    write_tree(root, {"proj/__init__.py": "", "proj/celery.py": APP, "proj/tasks.py": HEAD + tasks})
    project = analyse(["."], cwd=root, root=root, use_cache=False).project
    return list(RetryMisuse().check(project))


def text_at(root: Path, finding: Finding) -> str:
    span = finding.span
    line = (root / span.path).read_text().splitlines()[span.line - 1]
    return line[span.column - 1:span.end_column - 1] if span.end_line == span.line else line[span.column - 1:]


# ---------------------------------------------------------------- each case, with its span


def test_unbound_task(tmp_path):
    (finding,) = check(tmp_path, "@app.task(max_retries=2)\ndef sync(self, n):\n    if n:\n        raise self.retry()\n")
    assert finding.severity == "error"
    assert (finding.span.line, text_at(tmp_path, finding)) == (10, "self.retry")
    assert finding.message.startswith("task proj.tasks.sync is not bound: `self` is the first argument its caller passes")
    assert [(r.span.line, r.message) for r in finding.related] == [(7, "add bind=True here")]


@pytest.mark.parametrize("decorator", ["@app.task(bind=True)", "@app.task(**OPTIONS)", "@app.task(bind=BIND)"])
def test_bound_or_unknown_binding_is_not_reported_as_unbound(tmp_path, decorator):
    code = ("import os\nOPTIONS = {'bind': os.environ.get('B') == '1'}\nBIND = os.environ.get('B') == '1'\n\n\n"
            f"{decorator}\ndef sync(self, n):\n    raise self.retry()\n")
    assert check(tmp_path, code) == []


def test_broad_handler_catches_retry(tmp_path):
    (finding,) = check(tmp_path, (
        "@app.task(bind=True)\ndef sync(self, n):\n    try:\n        if n:\n            raise self.retry(countdown=1)\n"
        "    except Exception:\n        return None\n"))
    assert finding.severity == "error"
    assert (finding.span.line, text_at(tmp_path, finding)) == (11, "self.retry(countdown=1)")
    assert finding.message.endswith(
        "except Exception around it catches that Retry, which decides how the run ends while the retry, "
        "already queued, runs anyway")
    assert [(r.span.line, r.message) for r in finding.related] == [(9, "the try whose handler catches Retry")]


@pytest.mark.parametrize(("handlers", "expected"), [
    ("    except:\n        raise self.retry()\n", "a bare except around it catches that Retry, which retries again"),
    ("    except (ValueError, BaseException):\n        pass\n", "except BaseException around it"),
    ("    except ValueError:\n        pass\n", None),
    ("    except Retry:\n        raise\n    except Exception:\n        raise self.retry()\n", None),
    ("    except Exception:\n        log = 1\n        raise\n", None),
])
def test_which_handlers_catch_retry(tmp_path, handlers, expected):
    code = f"@app.task(bind=True)\ndef sync(self, n):\n    try:\n        raise self.retry()\n{handlers}"
    found = [f.message for f in check(tmp_path, code)]
    assert (expected is None and found == []) or (len(found) == 1 and expected in found[0]), found


def test_retry_in_the_handler_itself_is_not_caught_by_it(tmp_path):
    code = ("@app.task(bind=True)\ndef sync(self, n):\n    try:\n        return n\n"
            "    except Exception as exc:\n        raise self.retry(exc=exc)\n")
    assert check(tmp_path, code) == []


def test_a_shadowed_exception_name_is_not_builtin(tmp_path):
    code = ("class Exception(ValueError):\n    pass\n\n\n@app.task(bind=True)\ndef sync(self, n):\n    try:\n"
            "        raise self.retry()\n    except Exception:\n        pass\n")
    assert check(tmp_path, code) == []


@pytest.mark.parametrize(("body", "expected"), [
    ("    self.retry(throw=False)\n    return n\n", "throw=False"),
    ("    result = self.retry(throw=False)\n", "throw=False"),
    ("    return self.retry(throw=False)\n", "throw=False"),
    ("    raise self.retry(throw=False)\n", None),
    ("    self.retry(throw=FLAG)\n    n += 1\n", None),
    ("    self.retry(**OPTIONS)\n    n += 1\n", None),
    ("    self.retry()\n    return n\n", None),
    ("    self.retry()\n    n += 1\n    return n\n", "never run"),
    ("    if n:\n        self.retry(countdown=5)\n        n -= 1\n    return n\n", "never run"),
])
def test_throw_false_and_dead_code(tmp_path, body, expected):
    code = f"FLAG = False\nOPTIONS = {{}}\n\n\n@app.task(bind=True)\ndef sync(self, n):\n{body}"
    found = [f.message for f in check(tmp_path, code)]
    assert (expected is None and found == []) or (len(found) == 1 and expected in found[0]), found


def test_dead_code_points_at_the_first_statement_that_never_runs(tmp_path):
    (finding,) = check(tmp_path, "@app.task(bind=True)\ndef sync(task, n):\n    task.retry()\n    audit(n)\n")
    assert finding.message.startswith("task.retry() raises Retry (throw defaults to True)")
    assert [(r.span.line, r.message) for r in finding.related] == [(10, "never runs")]


def test_nested_functions_are_not_the_task(tmp_path):
    code = ("@app.task(bind=True)\ndef sync(self, n):\n    def helper(self):\n        self.retry(throw=False)\n"
            "        return 1\n    return helper(n)\n")
    assert check(tmp_path, code) == []


def test_odd_code_does_not_crash(tmp_path):
    code = ("@app.task(bind=True)\ndef sync(*args):\n    self.retry()\n    x = 1\n\n\n"
            "@app.task(bind=True)\ndef other():\n    pass\n\n\n@app.task\ndef third(self=None, *, k):\n"
            "    try:\n        self.retry[0]()\n    except:\n        pass\n")
    assert check(tmp_path, code) == []


# ---------------------------------------------------------------- what a real worker does

TASKS = '''
@app.task(bind=True, default_retry_delay=0, max_retries=2)
def swallowed_twice(self):
    RUNS.append("swallowed_twice")
    try:
        raise self.retry()
    except Exception:
        raise self.retry()


@app.task(bind=True, default_retry_delay=0, max_retries=2)
def let_through(self):
    RUNS.append("let_through")
    try:
        raise self.retry()
    except Retry:
        raise
    except Exception:
        raise self.retry()


@app.task(bind=True, default_retry_delay=0, max_retries=1)
def no_throw(self):
    RUNS.append("no_throw")
    if not self.request.retries:
        self.retry(throw=False)
        RUNS.append("no_throw:went on")
    return self.request.retries


@app.task
def callback(value):
    RUNS.append(f"callback:{value}")


@app.task(bind=True, default_retry_delay=0, max_retries=2)
def unraised_last(self):
    RUNS.append("unraised_last")
    self.retry()


@app.task(bind=True, default_retry_delay=0, max_retries=1)
def unraised_then_code(self):
    RUNS.append("unraised_then_code")
    self.retry()
    RUNS.append("unraised_then_code:went on")


@app.task(bind=True, default_retry_delay=0, max_retries=2, autoretry_for=(Exception,))
def manual_under_autoretry(self):
    RUNS.append("manual_under_autoretry")
    try:
        raise ValueError("boom")
    except ValueError as exc:
        raise self.retry(exc=exc)


@app.task(max_retries=2)
def unbound(self):
    RUNS.append("unbound")
    raise self.retry()
'''

RUNNER = """
import json, sys, time
sys.path.insert(0, {root!r})
from celery.contrib.testing.worker import start_worker
from proj.celery import app
from proj import tasks
states = {{}}
with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=5):
    results = {{
        "swallowed_twice": tasks.swallowed_twice.delay(), "let_through": tasks.let_through.delay(),
        "no_throw": tasks.no_throw.apply_async(link=tasks.callback.s()),
        "unraised_last": tasks.unraised_last.delay(), "unraised_then_code": tasks.unraised_then_code.delay(),
        "manual_under_autoretry": tasks.manual_under_autoretry.delay(), "unbound": tasks.unbound.delay(5),
    }}
    seen = -1
    for _ in range(60):  # until every result is ready and no run started for a second (retries: countdown 0)
        time.sleep(1)
        if len(tasks.RUNS) == seen and all(r.ready() for r in results.values()):
            break
        seen = len(tasks.RUNS)
    states = {{name: [r.state, repr(r.result)] for name, r in results.items()}}
print(json.dumps({{"runs": tasks.RUNS, "states": states}}))
"""


@pytest.fixture(scope="module")
def real_worker(tmp_path_factory):
    root = tmp_path_factory.mktemp("ql403")
    write_tree(root, {"proj/__init__.py": "", "proj/celery.py": APP, "proj/tasks.py": HEAD + TASKS})
    done = subprocess.run([sys.executable, "-c", RUNNER.format(root=str(root))], capture_output=True, text=True,
                          cwd=root, timeout=120)
    assert done.returncode == 0, done.stderr
    observed = json.loads(done.stdout.strip().splitlines()[-1])
    project = analyse(["."], cwd=root, root=root, use_cache=False).project
    findings = list(RetryMisuse().check(project))
    lines = (root / "proj/tasks.py").read_text().splitlines()

    def task_of(finding: Finding) -> str:
        return next(line.split("def ", 1)[1].split("(")[0] for line in reversed(lines[:finding.span.line])
                    if line.startswith("def "))

    return observed, {task_of(f): f for f in findings}


def test_real_worker_broad_handler_multiplies_runs(real_worker):
    observed, reported = real_worker
    runs = observed["runs"]
    assert runs.count("swallowed_twice") == 7  # 1 + 2 + 4: each run queues two retries
    assert runs.count("let_through") == 3       # max_retries=2: three runs
    assert reported["swallowed_twice"].severity == "error" and "runs multiply" in reported["swallowed_twice"].message
    assert "let_through" not in reported


def test_real_worker_throw_false_goes_on_and_links_run_twice(real_worker):
    observed, reported = real_worker
    runs = observed["runs"]
    assert runs.count("no_throw") == 2 and "no_throw:went on" in runs
    assert sorted(r for r in runs if r.startswith("callback:")) == ["callback:0", "callback:1"]
    assert observed["states"]["no_throw"] == ["SUCCESS", "0"]  # callers received the first run's value
    assert "throw=False" in reported["no_throw"].message


def test_real_worker_unraised_retry_raises_anyway(real_worker):
    observed, reported = real_worker
    runs = observed["runs"]
    assert runs.count("unraised_last") == 3
    assert runs.count("unraised_then_code") == 2 and "unraised_then_code:went on" not in runs
    assert "unraised_last" not in reported
    assert "never run" in reported["unraised_then_code"].message


def test_real_worker_autoretry_does_not_retry_a_manual_retry_again(real_worker):
    observed, reported = real_worker
    assert observed["runs"].count("manual_under_autoretry") == 3
    assert observed["states"]["manual_under_autoretry"][0] == "FAILURE"
    assert "manual_under_autoretry" not in reported


def test_real_worker_unbound_self_is_the_argument(real_worker):
    observed, reported = real_worker
    assert observed["runs"].count("unbound") == 1
    state, result = observed["states"]["unbound"]
    assert state == "FAILURE" and "AttributeError" in result and "'int' object has no attribute 'retry'" in result
    assert reported["unbound"].severity == "error"
    assert set(reported) == {"swallowed_twice", "no_throw", "unraised_then_code", "unbound"}
