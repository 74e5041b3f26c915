"""QL305: a task sent from inside a database transaction."""
from __future__ import annotations

from typing import Iterable

from qlint.model import Finding, Fix, Related
from qlint.resolve.project import Project
from qlint.rule import Example, Rule
from qlint.semantics.db_writes import SESSION
from qlint.semantics.transactions import DIRTY, Hazard, Transactions

_APP = 'from celery import Celery\n\napp = Celery("proj")\n'
_TASKS = "from proj.celery import app\n\n@app.task\ndef index(pk):\n    return pk\n"
_DJANGO_APP = ('import os\n\nfrom celery import Celery\n\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")\n'
               'app = Celery("proj")\napp.config_from_object("django.conf:settings", namespace="CELERY")\n')
_DJANGO_SETTINGS = ('DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "shop",\n'
                    '                         "ATOMIC_REQUESTS": True}}\nCELERY_BROKER_URL = "redis://localhost:6379/0"\n')


def _django(views: str) -> dict[str, str]:
    return {"proj/__init__.py": "", "proj/celery.py": _DJANGO_APP, "proj/settings.py": _DJANGO_SETTINGS,
            "proj/tasks.py": _TASKS, "proj/views.py": views}


def _related(hazard: Hazard) -> list[Related]:
    path = hazard.path
    pending = path.pending
    assert pending is not None
    related = []
    if pending.scope is not None:
        related.append(Related(pending.scope.span, pending.scope.why))
    write = pending.write
    if path.after:
        related.append(Related(write.span, f"{write.text} writes {write.model} here, after the send and before the "
                                           "commit"))
    elif write.slot.startswith(DIRTY):
        related.append(Related(write.span, f"{write.text} changes a loaded {write.model} here, written only when the "
                                           f"session flushes; the task reads {write.model}"))
    else:
        related.append(Related(write.span, f"{write.text} writes here, uncommitted when the task is sent"))
    related += [Related(step.span, f"{step.text} is called here") for step in path.chain[1:]]
    if path.chain:
        related.append(Related(path.send.span, f"{path.send.text}() sends the task here"))
    return related


def _message(hazard: Hazard) -> str:
    path = hazard.path
    assert path.pending is not None
    sent = f"{path.send.text}()"
    if path.chain:
        sent = f"{path.chain[0].text} sends {sent} ({path.send.span.path}:{path.send.span.line})"
    if path.after:
        return (f"{sent} inside a database transaction that then writes {path.pending.write.model}, which the task "
                "reads: a worker may run the task before the write is committed, and read old rows")
    if path.pending.scope is None:
        return (f"{sent} after an uncommitted write to the database session: a worker may run the task before "
                "the session commits, and read missing or old rows")
    return (f"{sent} inside a database transaction: a worker may run the task before the transaction commits, "
            "and read missing or old rows")


def _fix(hazard: Hazard) -> Fix:
    path = hazard.path
    assert path.pending is not None
    written = path.chain[0].text[:-2] if path.chain else path.send.text
    scope = path.pending.scope
    if scope is None or SESSION in scope.slots:
        return Fix("send it after the commit: after session.commit(), or from an after-commit hook "
                   "(transaction.get().addAfterCommitHook(...) with pyramid_tm or zope.sqlalchemy)")
    return Fix(f"send it after commit: transaction.on_commit(lambda: {written}(...))")


class DelayInTransaction(Rule):
    code = "QL305"
    name = "delay-in-transaction"
    severity = "warning"
    summary = "A task is sent inside a database transaction: the worker can run it before the data is committed."
    what = """
`.delay()`, `.apply_async()` or `send_task()` (or `self.apply_async()` in a Task subclass) reached while a
database transaction holds an uncommitted write, directly or through project functions called in the
transaction (followed three calls deep, each reported once where the hazard begins). A module that
mentions neither Celery nor a transaction is read too where it calls a project function found to send (a
view that saves and then calls `notify_customer(order)`, whose helper calls `.delay()`), also through two
more such callers (a service the view calls); a method counts by a distinctive name (`handle_successful_order`),
in modules that name its class where other classes define the same name or where the name is plain
(`release`; not `save` and the like), and at most 300 such modules are read. A method called on a name made by its class's constructor (`billing = Billing()`)
or by a Pyramid service lookup (`request.find_service(Billing)`) is that class's method whatever its name,
and its body is read where a transaction calls it, whatever its module mentions; so is a function
defined in the caller (`def handle_one(payload):` inside a view). In a DRF view, `self.get_serializer()`
makes an instance of the view's `serializer_class` (unless the view overrides `get_serializer_class()`);
in a Django generic view, `self.get_object()` one of its `model` (for a view defined in a smartmin
`SmartCRUDL`, the CRUDL's), unless the project's classes define `get_object()`;
and a serializer's `save()` runs its `create()` (its `update()` when it was made with an instance); a
serializer's method that sends counts by its name, common as it is (`bulk_create`), in modules that
name the serializer. A task of another package counts too: `.delay()`/`.apply_async()` on a name
imported from outside the project (a worker shipped apart: `from ecommerce_worker.email.v1.api import
send_offer_email`), except from job queues that spell their own sends `.delay()` (RQ, django-rq,
huey). `ATOMIC_REQUESTS` is read from the Django settings module that the app's module names in
`DJANGO_SETTINGS_MODULE`, also where Celery takes its configuration some other way; where that
module is not in the repository (each deployment writes its own), from the complete settings modules
beside it, and it must be on in all of them. The transactions:

- Django: `with transaction.atomic():` and `@transaction.atomic` (with `using=`, only for writes to that
  connection), every view when the default database sets `ATOMIC_REQUESTS` (functions that take `request`
  in a views module or carry a view decorator such as `@api_view`, and every method of a class-based view
  or DRF viewset), unless the view or its `dispatch` is `@non_atomic_requests`; async views cannot be.
  A model admin's `save_model`, `delete_model`, `save_related`, `save_formset`, `response_add` and
  `response_change` run inside the admin's own `atomic()`.
- SQLAlchemy and zope: `with session.begin():`, `with transaction.manager:`, pyramid_tm's `with request.tm:`
  and every Pyramid view of an app that includes pyramid_tm; and a session's own transaction, which holds
  every `session.add()`/`merge()`/`delete()`/write statement until `commit()` (a `flush()` only sends what
  those left pending, so it is no write of its own).
- Project context managers (`@contextmanager`) that yield inside one of these.

A write is a `save()` (model, model form, serializer; not `commit=False`), `create`/`update`/`delete`/
`get_or_create`/`update_or_create`/`bulk_*` on a manager or queryset, a base class's saving method called
from an override (`super().update(...)`), a session write, or an INSERT/UPDATE/DELETE run on a cursor or
connection. A transaction that wrote nothing before the send is left alone, except where the task reads a
model the transaction changes: an attribute set on an object loaded from the session (flushed at commit),
or a write of that model after the send. A default row made because a lookup found none
(`if not row: row = Model(...); session.add(row)`) counts the same way: only for a task that reads its
model. A commit or rollback in between (`session.commit()`,
`request.tm.commit()`, a project helper named after committing) ends the hazard, and so do branches that
exclude each other, and a branch a constant argument rules out: `notify=False`, also tested in an `and`
or `or` (`if not broadcast or ...: return`), or handed on through `**kwargs` to a base class's method. Sends from `transaction.on_commit(...)`, after-commit hooks, and Celery 5.4+'s
`delay_on_commit()`/`apply_async_on_commit()` are not made in the transaction. A countdown or ETA does not
help: it only narrows the race.
"""
    why = """
The message reaches the broker at once, while the transaction that created or changed the rows is still
open. A worker can pick the task up within milliseconds and read the database before the commit: it finds
no row (`DoesNotExist`), or the old values. If the transaction rolls back, the task runs for data that
never existed. Tests rarely show it: there the worker is eager or slower than the commit. Under
`ATOMIC_REQUESTS` (or pyramid_tm) the transaction lasts until the view returns, so a helper that sends a
task after a `save()` runs into it even without any `atomic()` in sight.
"""
    example = """
```python
with transaction.atomic():
    order = Order.objects.create(...)
    send_receipt.delay(order.pk)        # may run before the order is committed

@transaction.atomic
def checkout(form):
    order = form.save()
    notify_warehouse(order)             # a helper that calls ship.delay(order.pk)
```
"""
    fix = """
Send after commit: `transaction.on_commit(lambda: send_receipt.delay(order.pk))`, or
`send_receipt.delay_on_commit(order.pk)` (or `apply_async_on_commit`) with the task class of Celery 5.4+'s
Django integration (`celery.contrib.django.task.DjangoTask`, the default for apps that load Django settings).
With SQLAlchemy, send after `session.commit()`; with pyramid_tm or zope.sqlalchemy, from an after-commit
hook (`request.tm.get().addAfterCommitHook(...)`). Where the send sits in a helper, wrap the helper's call.
"""
    fix_safety = "No automatic fix: code after the call may rely on the task having been sent."
    invalid = (
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/views.py": "from django.db import transaction\nfrom proj.models import Order\n"
                                  "from proj.tasks import index\n\n\n"
                                  "def save(pk):\n    with transaction.atomic():\n"
                                  "        Order.objects.create(pk=pk)\n        index.delay(pk)\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/views.py": "from django.db.transaction import atomic\nfrom proj.tasks import index\n\n\n"
                                  "@atomic\ndef save(order):\n    order.save()\n"
                                  "    index.apply_async((order.pk,), countdown=5)\n"},
                note="a countdown only narrows the race"),
        Example(_django("from django.views import View\nfrom proj.models import Order\n"
                        "from proj.tasks import index\n\n\n"
                        "def save(request, pk):\n    Order.objects.filter(pk=pk).update(paid=True)\n"
                        "    index.delay(pk)\n\n\n"
                        "class Save(View):\n    def post(self, request, pk):\n        Order(pk=pk).save()\n"
                        "        index.delay(pk)\n"),
                count=2, note="views under ATOMIC_REQUESTS"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/notify.py": "from proj.tasks import index\n\n\ndef notify(pk):\n    index.delay(pk)\n",
                 "proj/views.py": "from django.db import transaction\nfrom proj.models import Order\n"
                                  "from proj.notify import notify\n\n\n"
                                  "def save(pk):\n    with transaction.atomic():\n"
                                  "        Order.objects.create(pk=pk)\n        notify(pk)\n"},
                note="through a helper of the project"),
        Example({**_django("from django.shortcuts import redirect\nfrom proj.models import Order\n"
                           "from proj.notify import notify\n\n\n"
                           "def pay(request, pk):\n    Order.objects.filter(pk=pk).update(paid=True)\n"
                           "    notify(pk)\n    return redirect('/')\n"),
                 "proj/notify.py": "from proj.tasks import index\n\n\ndef notify(pk):\n    index.delay(pk)\n"},
                note="a view in a module that mentions neither Celery nor a transaction, calling a helper that sends"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/signup.py": "from proj.db import session\nfrom proj.models import User\n"
                                   "from proj.tasks import index\n\n\n"
                                   "def signup(email):\n    user = User(email=email)\n    session.add(user)\n"
                                   "    session.flush()\n    index.delay(user.id)\n    session.commit()\n"},
                note="an SQLAlchemy session commits after the send"),
    )
    valid = (
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/views.py": "from django.db import transaction\nfrom proj.models import Order\n"
                                  "from proj.tasks import index\n\n\n"
                                  "def save(pk):\n    with transaction.atomic():\n"
                                  "        Order.objects.create(pk=pk)\n"
                                  "        transaction.on_commit(lambda: index.delay(pk))\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/views.py": "from django.db import transaction\nfrom proj.models import Order\n"
                                  "from proj.tasks import index\n\n\n"
                                  "def save(pk):\n    with transaction.atomic():\n"
                                  "        Order.objects.create(pk=pk)\n    index.delay(pk)\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/views.py": "from django.db import transaction\nfrom proj.tasks import index\n\n\n"
                                  "def save(pk):\n    with transaction.atomic():\n        index.delay(pk)\n"},
                note="the transaction wrote nothing before the send"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/views.py": "from django.db import transaction\nfrom proj.models import Order\n"
                                  "from proj.tasks import index\n\n\n"
                                  "def save(pk):\n    with transaction.atomic(using='replica'):\n"
                                  "        Order.objects.create(pk=pk)\n        index.delay(pk)\n"},
                note="the write goes to the default database, outside the replica's transaction"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/views.py": "from django.db import transaction\nfrom proj.models import Order\n"
                                  "from proj.tasks import index\n\n\n"
                                  "def save(pk):\n    with transaction.atomic():\n"
                                  "        Order.objects.create(pk=pk)\n        def after():\n"
                                  "            index.delay(pk)\n        transaction.on_commit(after)\n"},
                note="a callback defined in the block runs after commit"),
        Example(_django("from django.db import transaction\nfrom proj.models import Order\n"
                        "from proj.tasks import index\n\n\n"
                        "@transaction.non_atomic_requests\ndef save(request, pk):\n"
                        "    Order.objects.create(pk=pk)\n    index.delay(pk)\n"),
                note="a view excluded from ATOMIC_REQUESTS"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/tasks.py": _TASKS,
                 "proj/signup.py": "from proj.db import session\nfrom proj.models import User\n"
                                   "from proj.tasks import index\n\n\n"
                                   "def signup(email):\n    user = User(email=email)\n    session.add(user)\n"
                                   "    session.commit()\n    index.delay(user.id)\n"},
                note="sent after the session commits"),
        Example({**_django("from proj.models import Order\nfrom proj.notify import notify\n\n\n"
                           "def pay(request, pk):\n    notify(pk)\n    Order.objects.filter(pk=pk).update(paid=True)\n"),
                 "proj/notify.py": "from proj.tasks import index\n\n\ndef notify(pk):\n    index.delay(pk)\n"},
                note="a view calling a helper that sends before the view writes anything"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        for hazard in Transactions(project).hazards():
            yield self.finding(_message(hazard), hazard.primary, _related(hazard), _fix(hazard))
