"""QL204: a serializer that the receiving side does not accept."""
from __future__ import annotations

from typing import Iterable

from qlint.model import Finding, Fix, Related, Value
from qlint.resolve.project import Project
from qlint.resolve.resolved import App
from qlint.rule import Example, Rule
from qlint.semantics.serialization import certain_string, content_type, names, registered_elsewhere
from qlint.semantics.spelling import key

_APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'
_BASE = {"proj/__init__.py": "", "proj/celery.py": _APP}


class SerializerNotAccepted(Rule):
    code = "QL204"
    name = "serializer-not-accepted"
    severity = "error"
    summary = "Messages are serialized in a format the receiving side refuses."
    what = """
A task serializer (`task_serializer`, or a task's `serializer=`) whose content type is not in
`accept_content`, or a `result_serializer` not in the result accept list (`result_accept_content`, which
falls back to `accept_content`). Names and content types are compared as kombu does (`json` is
`application/json`). A serializer kombu does not ship (registered with `kombu.serialization.register`)
counts as accepted by its own name only; where the list names no such entry, its content type decides,
which qlint does not read, so the rule stays silent.
"""
    why = """
The worker checks every message's content type against `accept_content` before decoding it; a task sent
in another format is rejected with `ContentDisallowed`, logged and acknowledged — the work is lost. For
results, the client that calls `.get()` refuses to decode them. Both show up only at run time, often after
someone switched a serializer for one task.
"""
    example = """
```python
accept_content = ["json"]
task_serializer = "msgpack"      # every task is refused by the workers
```
"""
    fix = "Add the serializer to the accept list, or serialize with one that is accepted."
    fix_safety = "No automatic fix: accepting another format is a security decision (see QL203)."
    invalid = (
        Example({**_BASE, "proj/celeryconfig.py": "accept_content = ['json']\ntask_serializer = 'msgpack'\n"}),
        Example({**_BASE, "proj/celeryconfig.py": "accept_content = ['application/json']\n",
                 "proj/tasks.py": "from proj.celery import app\n\n@app.task(serializer='yaml')\ndef f(x):\n    return x\n"},
                note="one task's serializer"),
        Example({**_BASE, "proj/celeryconfig.py": "result_accept_content = ['json']\nresult_serializer = 'msgpack'\n"},
                note="results"),
    )
    valid = (
        Example({**_BASE, "proj/celeryconfig.py": "accept_content = ['application/json']\ntask_serializer = 'json'\n"}),
        Example({**_BASE, "proj/celeryconfig.py": "accept_content = ['json', 'msgpack']\ntask_serializer = 'msgpack'\n"
                                                  "result_accept_content = ['msgpack']\nresult_serializer = 'msgpack'\n"}),
        Example({**_BASE, "proj/serializers.py": "from kombu.serialization import register\n\n"
                                                 "register('signed-pickle', dumps, loads, content_type='application/x-signed-pickle')\n",
                 "proj/celeryconfig.py": "accept_content = ['application/json', 'application/x-signed-pickle']\n"
                                         "task_serializer = 'signed-pickle'\nresult_serializer = 'signed-pickle'\n"},
                note="a serializer the project registers, accepted by its content type"),
        Example({**_BASE, "proj/celeryconfig.py": "import os\naccept_content = [os.environ['FORMAT']]\n"
                                                  "task_serializer = 'msgpack'\n"}, note="unknown"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        for app in project.apps:
            accept = app.setting("accept_content")
            result_accept = app.setting("result_accept_content")
            if result_accept.status == "default" or (result_accept.status == "known" and result_accept.value is None):
                result_accept = accept
            yield from self._one(app, app.setting("task_serializer"), "task_serializer", accept, "accept_content")
            yield from self._one(app, app.setting("result_serializer"), "result_serializer", result_accept,
                                 "result_accept_content" if result_accept is not accept else "accept_content")
            for task in sorted(app.tasks.values(), key=lambda t: t.name):
                own = task.options.get("serializer")
                if own is not None:
                    yield from self._one(app, own, f"serializer of task {task.name}", accept, "accept_content")

    def _one(self, app: App, serializer: Value, what: str, accept: Value, accept_name: str) -> Iterable[Finding]:
        name = certain_string(serializer)
        accepted = names(accept)
        if name is None or accepted is None or (serializer.origin is None and accept.origin is None):
            return
        if content_type(name) in {content_type(a) for a in accepted} or registered_elsewhere(name):
            return
        span = serializer.origin or accept.origin
        related = [Related(accept.origin, f"{accept_name} = {accepted!r}")] if accept.origin else []
        yield self.finding(
            f"{what} is {name!r}, which {accept_name} ({', '.join(accepted)}) does not accept for app {app.name!r}: "
            "the receiving side refuses every such message",
            span, related, Fix(f"add {name!r} to {key(app, accept_name)}, or use an accepted serializer"),
            depends_on=[s.path for s in (serializer.origin, accept.origin) if s is not None])
