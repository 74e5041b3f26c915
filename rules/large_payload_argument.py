"""QL201: a task call passes data (file contents, uploads, dataframes, model instances) instead of a reference."""
from __future__ import annotations

from typing import Iterable

from qlint.semantics.callsites import Context, TaskCall, arguments, task_calls
from qlint.model import Finding, Fix, Related
from qlint.semantics.payloads import MODEL_KINDS, Carried, classify
from qlint.semantics.thresholds import DEFAULT_PAYLOAD_LITERAL_BYTES
from qlint.resolve.project import Project
from qlint.rule import Example, Rule
from qlint.semantics.serialization import json_failures
from qlint.sources import ir

_APP = 'from celery import Celery\n\napp = Celery("proj", broker="redis://localhost:6379/0")\n'
_TASKS = """from proj.celery import app


@app.task
def ingest(content, filename):
    return len(content)


@app.task
def ingest_file(path):
    return path


@app.task
def refresh(user_id):
    return user_id
"""


# Under JSON a model instance cannot be sent at all, which QL202 reports.
_PICKLE_APP = _APP + 'app.conf.update(task_serializer="pickle", accept_content=["pickle", "json"])\n'


def _project(**files: str) -> dict[str, str]:
    return {"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS, **files}


class LargePayloadArgument(Rule):
    code = "QL201"
    name = "large-payload-argument"
    severity = "warning"
    summary = "A task is sent the data itself (file contents, an upload, a dataframe, model instances) instead of a reference to it."
    scenarios = ("examples/scenarios/large-payload-bad.yaml", "examples/scenarios/large-payload-fixed.yaml")
    what = """
A call that sends a task or builds its signature — `.delay(...)`, `.apply_async(args=..., kwargs=...)`,
`.s()`/`.si()`/`.signature()`, `app.send_task(name, args=..., kwargs=...)` — with an argument that carries
data: the contents of a file (`.read()` of something opened or uploaded, `read_text()`, `read_bytes()`,
an upload's `chunks()`, or the file parsed: `json.load(f)`, `yaml.safe_load(f)`, `csv.reader(f)`), an upload (`request.FILES[...]`, `request.files[...]`), a base64 or JSON encoding of those, a pandas
dataframe, its rows or columns (`df[cols]`, `df.loc[...]`) or its dump (`df.to_dict("records")`,
`df.to_json()`, `df.values.tolist()`), a Django queryset or model instance (`Model.objects.get(...)`,
`request.user`, lists of them — left to QL202 when the message is certainly JSON, which cannot encode
them), the instance a signal hands its receiver (`instance` of a Django `post_save`/`pre_delete`/...
receiver, also as `kwargs["instance"]`; MongoEngine's `document`; the `target` of a SQLAlchemy mapper
event), or a literal larger than `payload-literal-bytes` ([tool.qlint], 64 KiB by default). Arguments
are read wherever the call puts them, `kwargs={...}` included. A function is a receiver when it is
decorated as one (`@receiver(...)`, `@signal.connect`, `@event.listens_for(Model, "after_insert")`),
connected by a call qlint reads (`post_save.connect(handler)`), or has Django's receiver signature
`(sender, instance, **kwargs)`. Simple assignments in the same function are followed (`content =
upload.read(); task.delay(content)`, `with open(p) as f: data = f.read()`). Ids, keys, names, paths,
URLs, `.pk`/`.id` (`instance.pk`), `str(uuid)`, `values_list(...)`, a file's `.name` and `len(...)` are
references and never reported; nor is anything qlint cannot follow, nor a request body handed on as it
is (`request.data`, `request.body`, `request.body.decode()`): mostly a few fields of JSON, whose size
the code does not tell. A body encoded to base64 first (`base64.b64encode(request.body).decode()`) holds
bytes — an upload posted as the body itself — and is reported.
"""
    why = """
Every argument is serialized into the task message (`task_serializer`, JSON by default) and travels
through the broker. On Redis the body is base64-encoded inside a JSON envelope — about 4/3 of the
serialized size — and a second full copy sits in the `unacked` hash while a worker holds the message:
a 5 MiB upload becomes about 14 MB of Redis memory per task, for as long as the task runs (hours, with
late acknowledgement). SQS caps a whole message at 256 KiB (1 MiB since 2026), RabbitMQ at 16 MiB by
default; above that, publishing fails. Prefetched messages are held in every worker's memory too, and
a re-delivery sends the whole payload again. Bytes (`uploaded.read()`) are base64-encoded by kombu's
JSON serializer before the message body is encoded again. Model instances and querysets cannot be
serialized to JSON at all (`EncodeError`), and with pickle they travel as a snapshot that is stale by
the time the task runs.
"""
    example = """
```python
def upload(request):
    uploaded = request.FILES["file"]
    content = uploaded.read()
    parse_upload.delay(content, uploaded.name)   # QL201: the whole file travels in the message
```
"""
    fix = """
Store the data where the worker can read it — file storage, an object store, a database row — and pass a
reference: the path or key of the stored file, the primary key of the row. For model instances pass
`obj.pk` and fetch the row inside the task, so the task sees the current data.
"""
    fix_safety = "No automatic fix: storing the data first is a change of design."
    invalid = (
        Example(_project(**{"proj/views.py": (
            "from proj.tasks import ingest\n\n\n"
            "def upload(request):\n"
            "    uploaded = request.FILES['file']\n"
            "    content = uploaded.read()\n"
            "    ingest.delay(content, uploaded.name)\n"
        )}), note="the read content of an upload, through two assignments"),
        Example(_project(**{"proj/jobs.py": (
            "from proj.tasks import ingest\n\n\n"
            "def load(path):\n"
            "    with open(path) as handle:\n"
            "        data = handle.read()\n"
            "    ingest.apply_async(args=(data, path), countdown=10)\n"
        )}), note="a file read in a with-block, sent with apply_async(args=...)"),
        Example(_project(**{"proj/jobs.py": (
            "import base64\n\nfrom proj.tasks import ingest\n\n\n"
            "def submit(request):\n"
            "    encoded = base64.b64encode(request.FILES['scan'].read()).decode('ascii')\n"
            "    return ingest.s(encoded, 'scan.bin').delay()\n"
        )}), note="base64 of an upload's contents in a signature"),
        Example(_project(**{"proj/jobs.py": (
            "from proj.celery import app\nfrom proj.models import Account\n\n\n"
            "def refresh_all():\n"
            "    for account in Account.objects.filter(active=True):\n"
            "        app.send_task('proj.tasks.refresh', args=[account])\n"
        ), "proj/models.py": "class Account:\n    pass\n"}), note="model instances from a queryset, sent by name"),
        Example(_project(**{"proj/jobs.py": (
            "from proj.tasks import ingest\n\n\n"
            "def seed():\n"
            "    ingest.delay('" + "a" * 2048 + "', 'seed.txt')\n"
        )}), config={"payload-literal-bytes": 1024}, note="a literal above payload-literal-bytes"),
        Example(_project(**{"proj/signals.py": (
            "from django.db.models.signals import post_save\nfrom django.dispatch import receiver\n\n"
            "from proj.models import Account\nfrom proj.tasks import refresh\n\n\n"
            "@receiver(post_save, sender=Account)\n"
            "def account_saved(sender, instance, created, **kwargs):\n"
            "    refresh.delay(instance)\n"
        ), "proj/models.py": "class Account:\n    pass\n", "proj/celery.py": _PICKLE_APP}),
                note="the instance a post_save receiver is handed, pickled"),
        Example(_project(**{"proj/signals.py": (
            "from django.db.models.signals import post_delete\n\nfrom proj.tasks import refresh\n\n\n"
            "def account_deleted(sender, **kwargs):\n"
            "    refresh.apply_async(kwargs={'user_id': kwargs['instance']}, countdown=5)\n\n\n"
            "post_delete.connect(account_deleted, sender='proj.Account')\n"
        ), "proj/celery.py": _PICKLE_APP}), note="kwargs['instance'] of a connected receiver, in kwargs="),
        Example(_project(**{"proj/events.py": (
            "from proj.models import Dataset\nfrom proj.tasks import refresh\n\n\n"
            "@Dataset.on_resource_added.connect\n"
            "def resource_added(sender, document, **kwargs):\n"
            "    refresh.delay(document)\n"
        ), "proj/models.py": "class Dataset:\n    on_resource_added = None\n", "proj/celery.py": _PICKLE_APP}),
                note="the document a blinker (MongoEngine) signal hands its receiver"),
        Example(_project(**{"proj/jobs.py": (
            "from proj.models import Account\nfrom proj.tasks import refresh\n\n\n"
            "def refresh_one(pk):\n"
            "    account = Account.objects.get(pk=pk)\n"
            "    refresh.apply_async(kwargs={'user_id': account}, countdown=60)\n"
        ), "proj/models.py": "class Account:\n    pass\n"}), note="a model instance in kwargs="),
        Example(_project(**{"proj/views.py": (
            "import base64\n\nfrom proj.tasks import ingest\n\n\n"
            "def upload_raw(request):\n"
            "    ingest.delay(base64.b64encode(request.body).decode(), request.headers['X-Filename'])\n"
        )}), note="the request body encoded to base64: an upload posted as the body"),
        Example(_project(**{"proj/report.py": (
            "import pandas as pd\n\nfrom proj.tasks import ingest\n\n\n"
            "def import_sheet(path):\n"
            "    frame = pd.read_excel(path)\n"
            "    ingest.delay(frame[['email', 'name']].to_dict('records'), path)\n"
        )}), note="rows of a dataframe, dumped to a list of dicts"),
        Example(_project(**{"proj/jobs.py": (
            "import csv\n\nfrom proj.tasks import ingest\n\n\n"
            "def import_contacts(path):\n"
            "    with open(path, newline='') as handle:\n"
            "        rows = list(csv.DictReader(handle))\n"
            "    ingest.delay(rows, path)\n"
        )}), note="a file read by the csv module, in the function that sends it"),
    )
    valid = (
        Example(_project(**{"proj/views.py": (
            "from django.core.files.storage import default_storage\n\nfrom proj.tasks import ingest_file\n\n\n"
            "def upload(request):\n"
            "    uploaded = request.FILES['file']\n"
            "    path = default_storage.save(uploaded.name, uploaded)\n"
            "    ingest_file.delay(path)\n"
        )}), note="the stored file's path is a reference"),
        Example(_project(**{"proj/jobs.py": (
            "import uuid\n\nfrom proj.models import Account\nfrom proj.tasks import ingest, refresh\n\n\n"
            "def refresh_all(request):\n"
            "    for account_id in Account.objects.filter(active=True).values_list('id', flat=True):\n"
            "        refresh.delay(account_id)\n"
            "    account = Account.objects.get(pk=1)\n"
            "    refresh.delay(account.pk)\n"
            "    refresh.delay(request.user.id)\n"
            "    ingest.delay(str(uuid.uuid4()), request.FILES['file'].name)\n"
        ), "proj/models.py": "class Account:\n    pass\n"}), note="ids, primary keys, uuids and file names"),
        Example(_project(**{"proj/jobs.py": (
            "from proj.tasks import ingest\n\n\n"
            "def load(path):\n"
            "    with open(path) as handle:\n"
            "        size = len(handle.read())\n"
            "    ingest.delay(size, path)\n"
        )}), note="len() of the contents is a number"),
        Example(_project(**{"proj/jobs.py": (
            "from proj.tasks import ingest\n\n\n"
            "def load(reader, path):\n"
            "    data = reader.read()\n"
            "    ingest.delay(data, path)\n"
        )}), note="read() of an object qlint cannot identify"),
        Example(_project(**{"proj/jobs.py": (
            "def load(path, worker):\n"
            "    with open(path) as handle:\n"
            "        worker.delay(handle.read())\n"
        )}), note="the receiver of .delay() is not a task of the project"),
        Example(_project(**{"proj/jobs.py": (
            "from proj.tasks import ingest\n\n\n"
            "def seed():\n"
            "    ingest.delay('" + "a" * 2048 + "', 'seed.txt')\n"
        )}), note="a 2 KiB literal is below the default payload-literal-bytes"),
        Example(_project(**{"proj/views.py": (
            "import json\n\nfrom proj.tasks import ingest\n\n\n"
            "def update(request, pk):\n"
            "    ingest.delay(json.dumps(request.data), str(pk))\n"
            "\n\ndef webhook(request):\n"
            "    ingest.delay(request.body.decode(), 'webhook')\n"
        )}), note="a request body: mostly a few fields of JSON, handed on as the task's input"),
        Example(_project(**{"proj/signals.py": (
            "from django.db.models.signals import post_save\nfrom django.dispatch import receiver\n\n"
            "from proj.tasks import refresh\n\n\n"
            "@receiver(post_save, sender='proj.Account')\n"
            "def account_saved(sender, instance, created, **kwargs):\n"
            "    refresh.delay(instance.pk)\n"
            "    refresh.apply_async(kwargs={'user_id': kwargs['instance'].id})\n"
        )}), note="a receiver sends the instance's primary key"),
        Example(_project(**{"proj/forms.py": (
            "from proj.tasks import refresh\n\n\n"
            "def save_form(form, instance):\n"
            "    refresh.delay(instance)\n"
        )}), note="an `instance` parameter of a function that is no signal receiver: qlint cannot tell what it is"),
        Example(_project(**{"proj/report.py": (
            "import pandas as pd\n\nfrom proj.tasks import ingest, ingest_file\n\n\n"
            "def export(path, out):\n"
            "    frame = pd.read_csv(path)\n"
            "    frame.to_json(out, orient='records')\n"
            "    ingest_file.delay(out)\n"
            "    ingest.delay(len(frame), out)\n"
        )}), note="the dataframe is written to a file and the path is sent"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        limit = int(getattr(project.config, "payload_literal_bytes", None) or DEFAULT_PAYLOAD_LITERAL_BYTES)
        # Under JSON a model instance or queryset cannot be sent at all: QL202 reports it instead.
        seen: set[tuple[str, int, int]] = {f.key for f in json_failures(project) if f.carried.kind in MODEL_KINDS}
        for ctx, call in task_calls(project):
            if call.task is None and call.method != "send_task":
                continue
            for label, expr in arguments(call):
                carried = classify(ctx, expr, limit)
                if carried is None:
                    continue
                key = (expr.span.path, expr.span.line, expr.span.column)
                if key in seen:
                    continue
                seen.add(key)
                yield self._finding(ctx, call, label, expr, carried)

    def _finding(self, ctx: Context, call: TaskCall, argument: str, expr: ir.Expr, carried: Carried) -> Finding:
        sent = f"{call.label}.{call.method}()" if call.method != "send_task" else f"send_task({call.label})"
        if call.method == "signature()":
            sent = f"signature({call.label})"
        if carried.kind in MODEL_KINDS:
            consequence = ("it is serialized into the message (or fails to serialize) and is stale by the time "
                           "the task runs; pass the primary key and fetch the row in the task")
            fix = Fix("pass the primary key (obj.pk) or a list of ids and fetch the rows inside the task")
        else:
            consequence = ("the data itself travels in the message and sits in broker and worker memory while the "
                           "task waits and runs; pass a reference instead")
            fix = Fix("store the data (file storage, object store, database) and pass its path, key or id")
        message = f"{sent} passes {carried.what} as {argument}: {consequence}"
        related = []
        if carried.origin != expr.span:
            related.append(Related(carried.origin, "the data comes from here"))
        if call.task is not None:
            related.append(Related(call.task.defined_at, f"task {call.task.name} defined here"))
        return self.finding(message, expr.span, related, fix, depends_on=[r.span.path for r in related])
