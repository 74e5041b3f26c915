"""QL303: a chord whose result backend cannot run it, or whose header tasks ignore their results."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from qlint.semantics.callsites import Context, walk_nested
from qlint.semantics.canvas import COMPOSITE, Chain, Chord, Group, Node, Sig, build, describe
from qlint.model import Finding, Fix, Related, Span, Value
from qlint.resolve.project import Project
from qlint.resolve.resolved import App
from qlint.rule import Example, Rule
from qlint.semantics.delivery import always
from qlint.semantics.spelling import key
from qlint.sources import ir

# Result backends whose chord bookkeeping receives each header result with the call
# (celery/backends/redis.py on_chord_part_return); every other backend reads the
# header's stored results back, and a task that ignores its result stores none.
_CARRIES_RESULTS = frozenset({"redis", "rediss", "sentinel"})
_NO_BACKEND = frozenset({"", "disabled"})


def backend_scheme(url: Any) -> str | None:
    """The backend alias Celery picks for a result_backend value (celery/app/backends.py by_url)."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    scheme = url.partition("://")[0] if "://" in url else url
    return scheme.partition("+")[0].lower()


@dataclass(frozen=True)
class FoundChord:
    header: tuple[Node | None, ...]
    body: Node | None
    written: str  # how the chord is written, for messages


def _ends_in_group(node: Node | None) -> Group | None:
    if isinstance(node, Group):
        return node
    if isinstance(node, Chain) and node.parts:
        return _ends_in_group(node.parts[-1])
    return None


def chords_in(node: Node | None) -> Iterator[FoundChord]:
    """Every chord of a canvas: chord(...) itself, and a group followed by another step in a chain,
    which Celery upgrades to a chord (celery/canvas.py _chain.prepare_steps)."""
    if isinstance(node, Chord):
        if node.header:  # chord([], body) calls the body at once
            yield FoundChord(node.header, node.body, f"chord over ({', '.join(describe(p) for p in node.header)})")
        for part in (*node.header, node.body):
            yield from chords_in(part)
    elif isinstance(node, Chain):
        for index, part in enumerate(node.parts):
            group = _ends_in_group(part)
            after = node.parts[index + 1] if index + 1 < len(node.parts) else None
            if group is not None and group.parts and after is not None:
                yield FoundChord(group.parts, after, f"a group followed by {describe(after)} in a chain (a chord)")
            yield from chords_in(part)
    elif isinstance(node, Group):
        for part in node.parts:
            yield from chords_in(part)


def result_sigs(node: Node | None) -> Iterator[Sig]:
    """The signatures whose results a chord header collects."""
    if isinstance(node, Sig):
        yield node
    elif isinstance(node, Chain) and node.parts:
        yield from result_sigs(node.parts[-1])
    elif isinstance(node, Group):
        for part in node.parts:
            yield from result_sigs(part)
    elif isinstance(node, Chord):
        yield from result_sigs(node.body)


def all_sigs(node: Node | None) -> Iterator[Sig]:
    if isinstance(node, Sig):
        yield node
    elif isinstance(node, (Chain, Group)):
        for part in node.parts:
            yield from all_sigs(part)
    elif isinstance(node, Chord):
        for part in (*node.header, node.body):
            yield from all_sigs(part)


def canvases(project: Project) -> Iterator[tuple[Context, ir.Expr, Node]]:
    """Each outermost canvas expression of the project, once (a name bound to a canvas
    and applied later is found where the canvas is written)."""
    for ctx, nested in walk_nested(project):
        taken: list[Span] = []
        for expr in nested:
            if not isinstance(expr, (ir.Call, ir.BinOp)) or any(_within(expr.span, s) for s in taken):
                continue
            node = build(ctx, expr)
            if isinstance(node, COMPOSITE):
                taken.append(expr.span)
                yield ctx, expr, node


def _within(inner: Span, outer: Span) -> bool:
    return (outer.line, outer.column) <= (inner.line, inner.column) and \
        (inner.end_line, inner.end_column) <= (outer.end_line, outer.end_column)


def _head_span(expr: ir.Expr) -> Span:
    """Where a canvas is named: `chord` in chord(...)(...), the whole expression for `a | b`."""
    while isinstance(expr, ir.Call) and isinstance(expr.func, (ir.Call, ir.Name, ir.Attr)):
        expr = expr.func
    return expr.span


def _ignores_result(sig: Sig) -> Value | None:
    """The task's ignore_result when it is certainly true and the signature does not override it."""
    task = sig.call.task
    if task is None or "ignore_result" in sig.call.options:
        return None
    value = task.option("ignore_result")
    return value if always(value, lambda v: v is True) else None


class ChordNeedsResults(Rule):
    code = "QL303"
    name = "chord-needs-results"
    severity = "error"
    summary = "A chord cannot complete: its result backend does not support chords, or its header tasks ignore their results."
    what = """
A chord — `chord(header, body)`, `chord(header)(body)`, or a group followed by another step in a chain
(`group(...) | task.s()`, which Celery turns into a chord) — in one of two cases:

- the app's `result_backend` is explicitly disabled (`None`, `"disabled"`) or is `rpc://`: applying the
  chord raises `NotImplementedError`;
- a header task ignores its result (`ignore_result=True` on the task or `task_ignore_result=True`, not
  overridden on the signature) while the result backend is not Redis: the body never runs.

An app that sets no result backend in code is left alone: Celery also takes it from the
`CELERY_RESULT_BACKEND` environment variable. An unknown backend is left alone too, and so is an app
whose tasks always run eagerly.
"""
    why = """
The body of a chord must wait until every header task has finished, and the only place where the workers
can count that is the result backend. Without one (Celery's `DisabledBackend`), `apply_async` raises
`NotImplementedError: Starting chords requires a result backend to be configured`; the `rpc://` backend
refuses the same way (`The "rpc" result backend does not support chords!`). The error appears only where
the chord is sent — often in production code paths that tests run eagerly.

Header results: with the Redis backend each finishing header task pushes its own result into the chord's
list, so the chord completes even when the task stores no result (checked with Celery 5.7 and Redis 7).
Every other backend (database, `django-db`, cache, MongoDB, file system...) reads the header's results
back from storage, and a task with `ignore_result=True` never stores one: the database backend's
`celery.chord_unlock` task polls once per second forever (`max_retries=None`), django-celery-results'
counter reaches zero but finds the results not ready and never calls the body, key-value backends time
out joining and fail the chord. Celery's documentation states it plainly: tasks used in a chord must
not ignore their results.
"""
    example = """
```python
app = Celery("proj", broker="redis://", backend="rpc://")
chord([fetch.s(u) for u in urls], merge.s()).delay()   # NotImplementedError: rpc does not support chords
```
"""
    fix = """
Use a result backend that supports chords (Redis, a database, memcached...); keep results for the
header tasks (`@app.task(ignore_result=False)`, or `fetch.s(u).set(ignore_result=False)` when
`task_ignore_result` is on globally).
"""
    fix_safety = "No automatic fix: choosing a result backend is a deployment decision."
    invalid = (
        Example({"proj/__init__.py": "", "proj/celery.py": 'from celery import Celery\n\n'
                 'app = Celery("proj", broker="redis://localhost:6379/0", backend="rpc://")\n',
                 "proj/tasks.py": "from celery import chord\n\nfrom proj.celery import app\n\n\n@app.task\n"
                                  "def fetch(u):\n    return u\n\n\n@app.task\ndef merge(pages):\n    return pages\n\n\n"
                                  "def crawl(urls):\n    return chord([fetch.s(u) for u in urls], merge.s()).delay()\n"},
                note="the rpc backend refuses chords"),
        Example({"proj/__init__.py": "", "proj/celery.py": 'from celery import Celery\n\n'
                 'app = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n',
                 "proj/celeryconfig.py": "broker_url = 'redis://localhost:6379/0'\nresult_backend = None\n",
                 "proj/tasks.py": "from celery import group\n\nfrom proj.celery import app\n\n\n@app.task\n"
                                  "def fetch(u):\n    return u\n\n\n@app.task\ndef merge(pages):\n    return pages\n\n\n"
                                  "def crawl(a, b):\n    return (group(fetch.s(a), fetch.s(b)) | merge.s()).delay()\n"},
                note="a group chained into a task is a chord, and results are disabled"),
        Example({"proj/__init__.py": "", "proj/celery.py": 'from celery import Celery\n\n'
                 'app = Celery("proj", broker="redis://localhost:6379/0", backend="db+postgresql://db/results")\n',
                 "proj/tasks.py": "from celery import chord\n\nfrom proj.celery import app\n\n\n@app.task(ignore_result=True)\n"
                                  "def fetch(u):\n    return u\n\n\n@app.task\ndef merge(pages):\n    return pages\n\n\n"
                                  "def crawl(a, b):\n    return chord([fetch.s(a), fetch.s(b)], merge.s()).delay()\n"},
                count=2, note="header tasks that ignore their results, with a database backend: one finding per header signature"),
    )
    valid = (
        Example({"proj/__init__.py": "", "proj/celery.py": 'from celery import Celery\n\n'
                 'app = Celery("proj", broker="redis://localhost:6379/0", backend="redis://localhost:6379/1")\n',
                 "proj/tasks.py": "from celery import chord\n\nfrom proj.celery import app\n\n\n@app.task(ignore_result=True)\n"
                                  "def fetch(u):\n    return u\n\n\n@app.task\ndef merge(pages):\n    return pages\n\n\n"
                                  "def crawl(a, b):\n    return chord([fetch.s(a), fetch.s(b)], merge.s()).delay()\n"},
                note="the Redis backend collects header results even when tasks ignore them"),
        Example({"proj/__init__.py": "", "proj/celery.py": 'from celery import Celery\n\n'
                 'app = Celery("proj", broker="redis://localhost:6379/0")\n',
                 "proj/tasks.py": "from celery import chord\n\nfrom proj.celery import app\n\n\n@app.task\n"
                                  "def fetch(u):\n    return u\n\n\n@app.task\ndef merge(pages):\n    return pages\n\n\n"
                                  "def crawl(a, b):\n    return chord([fetch.s(a), fetch.s(b)], merge.s()).delay()\n"},
                note="no backend in code: CELERY_RESULT_BACKEND may set it"),
        Example({"proj/__init__.py": "", "proj/celery.py": 'from celery import Celery\n\n'
                 'app = Celery("proj", broker="redis://localhost:6379/0", backend="rpc://")\n',
                 "proj/tasks.py": "from celery import chain, group\n\nfrom proj.celery import app\n\n\n@app.task\n"
                                  "def fetch(u):\n    return u\n\n\n"
                                  "def crawl(a, b):\n    return chain(fetch.s(a), group(fetch.s(a), fetch.s(b))).delay()\n"},
                note="a group at the end of a chain is not a chord"),
        Example({"proj/__init__.py": "", "proj/celery.py": 'from celery import Celery\n\n'
                 'app = Celery("proj", broker="redis://localhost:6379/0", backend="db+postgresql://db/results")\n',
                 "proj/tasks.py": "from celery import chord\n\nfrom proj.celery import app\n\n\n@app.task(ignore_result=True)\n"
                                  "def fetch(u):\n    return u\n\n\n@app.task\ndef merge(pages):\n    return pages\n\n\n"
                                  "def crawl(a, b):\n    header = [fetch.s(a).set(ignore_result=False), "
                                  "fetch.signature((b,), ignore_result=False)]\n"
                                  "    return chord(header, merge.s()).delay()\n"},
                note="the signatures keep their results"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        flagged: set[Span] = set()
        for ctx, expr, node in canvases(project):
            chords = list(chords_in(node))
            if not chords:
                continue
            apps = {id(s.call.task.app): s.call.task.app for s in all_sigs(node)
                    if s.call.task is not None and s.call.task.app is not None}
            if not apps or any(_eager(app) for app in apps.values()):
                continue
            refusal = [_refuses_chords(app) for app in apps.values()]
            if all(r is not None for r in refusal):
                reason, where = refusal[0]  # type: ignore[misc]
                yield self.finding(
                    f"{chords[0].written} {reason}: applying it raises NotImplementedError",
                    _head_span(expr), [where],
                    Fix(f"set {key(next(iter(apps.values())), 'result_backend')} to a backend that supports chords "
                        "(Redis, a database, memcached...)"))
                continue
            backends = [_backend_without_results(app) for app in apps.values()]
            if not all(b is not None for b in backends):
                continue
            scheme, where = backends[0]  # type: ignore[misc]
            for found in chords:
                for sig in (s for part in found.header for s in result_sigs(part)):
                    ignored = _ignores_result(sig)
                    if ignored is None or sig.call.call.span in flagged:
                        continue
                    flagged.add(sig.call.call.span)
                    assert sig.call.task is not None
                    related = [where]
                    if ignored.origin is not None:
                        related.insert(0, Related(ignored.origin, "ignore_result is set here"))
                    yield self.finding(
                        f"{sig.call.task.name} ignores its result but is in the header of {found.written}: the "
                        f"{scheme} result backend reads header results back from storage, finds none, and the "
                        f"body ({describe(found.body)}) never runs",
                        sig.call.call.span, related,
                        Fix("keep the header's results: ignore_result=False on the task, or "
                            ".set(ignore_result=False) on the signature"))


def _eager(app: App) -> bool:
    return always(app.setting("task_always_eager"), lambda v: v is True)


def _set_backends(app: App) -> tuple[set[str], Related] | None:
    """The backend aliases the app's result_backend certainly takes, and where it is set;
    None when it is unset in code (CELERY_RESULT_BACKEND may set it) or not certain."""
    value = app.setting("result_backend")
    options = value.possible()
    if value.status in ("default", "env-default") or not options or any(o.status != "known" for o in options):
        return None
    schemes = {backend_scheme(o.value) if o.value is not None else "" for o in options}
    if None in schemes:
        return None
    where = (Related(value.origin, "the result backend is set here") if value.origin is not None
             else Related(app.defined_at, f"app {app.name!r} is defined here"))
    return schemes, where  # type: ignore[return-value]


def _refuses_chords(app: App) -> tuple[str, Related] | None:
    """Why the app cannot apply a chord at all; None when it can or may."""
    found = _set_backends(app)
    if found is None:
        return None
    schemes, where = found
    if schemes <= _NO_BACKEND:
        return f"needs a result backend, and app {app.name!r} has results disabled", where
    if schemes == {"rpc"}:
        return "needs a result backend that supports chords, and the rpc:// backend does not", where
    return None


def _backend_without_results(app: App) -> tuple[str, Related] | None:
    """The app's backend when it is certainly one that reads header results back from storage."""
    found = _set_backends(app)
    if found is None:
        return None
    schemes, where = found
    if len(schemes) != 1 or schemes & (_CARRIES_RESULTS | _NO_BACKEND | {"rpc"}):
        return None
    return repr(schemes.pop()), where
