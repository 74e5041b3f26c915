"""QL202: a task is sent, under the JSON serializer, an argument JSON cannot encode."""
from __future__ import annotations

from typing import Iterable

from qlint.model import Finding, Fix, Related
from qlint.resolve.project import Project
from qlint.rule import Example, Rule
from qlint.semantics.serialization import JsonFailure, json_failures

_APP = 'from celery import Celery\n\napp = Celery("proj", broker="redis://redis:6379/0")\n'
_TASKS = "from proj.celery import app\n\n\n@app.task\ndef refresh(account):\n    return account\n"
_MODELS = "from django.db import models\n\n\nclass Account(models.Model):\n    pass\n"
# What to send instead, by kind of value.
_INSTEAD = {
    "model-instance": "the primary key (obj.pk), and fetch the row inside the task",
    "model-instances": "a list of primary keys, and fetch the rows inside the task",
    "queryset": "a list of primary keys (values_list('pk', flat=True)), and query inside the task",
    "file-handle": "the file's path or storage key, and open it inside the task",
    "upload": "the path or key of the stored upload",
    "upload-list": "the paths or keys of the stored uploads",
    "set": "a list (sorted(...) keeps it stable)",
    "timedelta": "the number of seconds (delta.total_seconds())",
    "path": "str(path)",
    "iterator": "a list (list(...))",
    "function": "the dotted name of the function, or a signature of a task",
    "task": "the task's name or a signature (task.s(...))",
    "instance": "a dict of its fields (dataclasses.asdict(), or a __json__ method)",
}


def _project(**files: str) -> dict[str, str]:
    return {"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS, **files}


class UnserializableArgument(Rule):
    code = "QL202"
    name = "unserializable-argument"
    severity = "error"
    summary = "A task is sent an argument that the JSON serializer cannot encode: the call raises EncodeError and nothing is sent."
    what = """
`.delay(...)`, `.apply_async(...)` or `app.send_task(...)` of a project task, serialized with JSON — the
call's `serializer=`, else the task's own `serializer`, else `task_serializer` (JSON by default) — with
an argument whose type is certain and that kombu's JSON encoder refuses: a Django model instance or
queryset (`Account.objects.get(...)`, a loop over `Account.objects.filter(...)`, `request.user`,
`Account(...)`, the `instance` a model signal hands its receiver, as QL201 finds it), an open file, an
uploaded file, a set or frozenset, a `timedelta`, a `pathlib.Path`, a generator, `range`/`map`/`zip`/
`filter` objects, a function, lambda or task object, or an instance of a class of the project whose
hierarchy is the project's own (a dataclass, say) without `__json__`.
Containers holding one of those count. Names are followed through the function's assignments only when
every assignment agrees.

Not reported: datetimes, dates, times, `Decimal`, `UUID` and bytes (kombu 5.3 and later encodes them);
dataframes (QL201 reports them); signatures built with `.s()`/`.si()`, whose serializer can still be set
when they are sent; tasks under `task_always_eager` (applied without serializing); projects where a
module qlint reads calls `kombu.utils.json.register_type` or registers its own `json` serializer.
"""
    why = """
Celery serializes the arguments when it publishes the message (`kombu.serialization.dumps` in
`Producer.publish`); a `TypeError` from the JSON encoder comes back as `kombu.exceptions.EncodeError`
raised by `.delay()` itself, in the web request or job that sent it — the task never runs. Tests that set
`task_always_eager` do not serialize and pass. kombu's encoder (kombu/utils/json.py) adds datetime, date,
time, Decimal, UUID and bytes to what the json module encodes, and calls `__json__()` where an object
has one; models, querysets, files, sets, timedeltas, paths, iterators and plain objects have none.
Under JSON, QL202 reports model instances and querysets instead of QL201; under pickle, QL201 reports
them (they travel, and are stale when the task runs).
"""
    example = """
```python
def deactivate(request, pk):
    account = Account.objects.get(pk=pk)
    close_account.delay(account)          # EncodeError: Object of type Account is not JSON serializable
```
"""
    fix = """
Send plain data that identifies the object — a primary key, a path, a list, a number of seconds — and
rebuild the object inside the task. For your own classes, send a dict of their fields or give them a
`__json__` method (and rebuild them in the task).
"""
    fix_safety = "No automatic fix: the task must rebuild the object from what it is sent."
    invalid = (
        Example(_project(**{"proj/models.py": _MODELS, "proj/views.py": (
            "from proj.models import Account\nfrom proj.tasks import refresh\n\n\n"
            "def view(request, pk):\n    account = Account.objects.get(pk=pk)\n    refresh.delay(account)\n")}),
            note="a model instance"),
        Example(_project(**{"proj/jobs.py": (
            "from datetime import timedelta\n\nfrom proj.tasks import refresh\n\n\n"
            "def later():\n    refresh.apply_async(args=[{'ids': {1, 2}, 'wait': timedelta(hours=1)}])\n")}),
            note="a set and a timedelta inside a dict"),
        Example(_project(**{"proj/jobs.py": (
            "from proj.celery import app\n\n\n"
            "def load(path):\n    with open(path) as handle:\n        app.send_task('proj.tasks.refresh', args=[handle])\n")}),
            note="an open file, sent by name"),
        Example(_project(**{"proj/jobs.py": (
            "from dataclasses import dataclass\n\nfrom proj.tasks import refresh\n\n\n"
            "@dataclass\nclass Change:\n    account: int\n\n\n"
            "def notify(account):\n    refresh.delay(Change(account))\n")}),
            note="a dataclass instance"),
        Example(_project(**{"proj/models.py": _MODELS, "proj/signals.py": (
            "from django.db.models.signals import post_save\nfrom django.dispatch import receiver\n\n"
            "from proj.models import Account\nfrom proj.tasks import refresh\n\n\n"
            "@receiver(post_save, sender=Account)\n"
            "def account_saved(sender, instance, **kwargs):\n    refresh.delay(instance)\n")}),
            note="the instance a post_save receiver is handed"),
    )
    valid = (
        Example(_project(**{"proj/plugins.py": (
            "from proj.tasks import refresh\n\n\nclass Plugin:\n    @classmethod\n    @property\n"
            "    def python_path(cls):\n        return f'{cls.__module__}.{cls.__name__}'\n\n\n"
            "def reload():\n    refresh.delay(Plugin.python_path)\n")}),
            note="a class property is the string it returns"),
        Example(_project(**{"proj/models.py": _MODELS, "proj/views.py": (
            "from proj.models import Account\nfrom proj.tasks import refresh\n\n\n"
            "def view(request, pk):\n    account = Account.objects.get(pk=pk)\n    refresh.delay(account.pk)\n")}),
            note="the primary key"),
        Example(_project(**{"proj/jobs.py": (
            "import uuid\nfrom datetime import datetime\nfrom decimal import Decimal\n\nfrom proj.tasks import refresh\n\n\n"
            "def later():\n    refresh.delay([datetime.now(), uuid.uuid4(), Decimal('1.5'), b'raw', sorted({3, 1})])\n")}),
            note="types kombu's JSON encoder handles"),
        Example(_project(**{"proj/models.py": _MODELS, "proj/tasks.py": _TASKS.replace(
            "@app.task\n", "@app.task(serializer='pickle')\n"), "proj/views.py": (
            "from proj.models import Account\nfrom proj.tasks import refresh\n\n\n"
            "def view(request, pk):\n    refresh.delay(Account.objects.get(pk=pk))\n")}),
            note="the task is serialized with pickle (QL201 reports the model instance)"),
        Example(_project(**{"proj/jobs.py": (
            "from proj.tasks import refresh\n\n\n"
            "def later(flag):\n    ids = {1, 2}\n    if flag:\n        ids = [1, 2]\n    refresh.delay(ids)\n")}),
            note="one assignment is a list"),
        Example(_project(**{"proj/jobs.py": (
            "from kombu.utils.json import register_type\n\nfrom proj.tasks import refresh\n\n"
            "register_type(set, 'set', list, set)\n\n\ndef later():\n    refresh.delay({1, 2})\n")}),
            note="the project teaches kombu's JSON to encode sets"),
        Example(_project(**{"proj/jobs.py": (
            "from proj.tasks import refresh\n\n\nclass Change:\n    def __json__(self):\n        return {}\n\n\n"
            "def notify():\n    refresh.delay(Change())\n")}),
            note="a class with __json__"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        for failure in json_failures(project):
            yield self._finding(failure)

    def _finding(self, failure: JsonFailure) -> Finding:
        call, carried = failure.call, failure.carried
        sent = f"send_task({call.label})" if call.method == "send_task" else f"{call.label}.{call.method}()"
        chosen = "the JSON serializer" if failure.serializer.origin is not None else "the default JSON serializer"
        message = (
            f"{sent} passes {carried.what} as {failure.argument}, which {chosen} cannot encode: the call raises "
            "EncodeError and the task is never sent"
        )
        related = []
        if carried.origin != failure.expr.span:
            related.append(Related(carried.origin, "the value comes from here"))
        if failure.serializer.origin is not None:
            related.append(Related(failure.serializer.origin, "JSON is chosen here"))
        related.append(Related(call.task.defined_at, f"task {call.task.name} defined here"))
        return self.finding(message, failure.expr.span, related, Fix(f"pass {_INSTEAD[carried.kind]}"),
                            depends_on=[r.span.path for r in related])
