"""QL305 delay-in-transaction: atomic blocks, atomic functions and ATOMIC_REQUESTS views on real projects."""
from __future__ import annotations

from pathlib import Path

import pytest

from qlint.pipeline.analysis import analyse
from qlint.model import Finding
from qlint.rules.delay_in_transaction import DelayInTransaction

APP = ('import os\n\nfrom celery import Celery\n\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")\n'
       'app = Celery("proj")\napp.config_from_object("django.conf:settings", namespace="CELERY")\n')
TASKS = "from proj.celery import app\n\n\n@app.task\ndef index(pk):\n    return pk\n"
HEADER = ("from django.db import transaction\n\nfrom proj.celery import app\nfrom proj.models import Order\n"
          "from proj.tasks import index\n\n\n")


def check(root: Path, code: str, atomic_requests: object = False, module: str = "proj/views.py") -> list[Finding]:
    settings = ('import os\n\nDATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "shop", '
                f'"ATOMIC_REQUESTS": {atomic_requests}}}}}\nCELERY_BROKER_URL = "redis://localhost:6379/0"\n')
    files = {"proj/__init__.py": "", "proj/celery.py": APP, "proj/settings.py": settings, "proj/tasks.py": TASKS,
             module: HEADER + code}
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return list(DelayInTransaction().check(analyse(["."], cwd=root, root=root, use_cache=False).project))


FLAGGED = [
    ("def save(pk):\n    with transaction.atomic():\n        Order.objects.create(pk=pk)\n        index.delay(pk)\n",
     "index.delay", "the transaction opens here", "Order.objects.create()"),
    ("def save(pk):\n    with transaction.atomic(using='default'), open('x'):\n        for i in range(3):\n"
     "            if i:\n                Order.objects.filter(pk=pk).update(paid=True)\n"
     "                index.apply_async((pk,))\n", "index.apply_async", "the transaction opens here",
     "Order.objects.filter(pk=pk).update()"),
    ("@transaction.atomic\ndef save(pk):\n    try:\n        Order(pk=pk).save()\n    except ValueError:\n"
     "        index.delay(pk)\n", "index.delay", "the function runs in a transaction", "Order(pk=pk).save()"),
    ("@transaction.atomic()\ndef save(pk):\n    Order.objects.filter(pk=pk).delete()\n"
     "    app.send_task('proj.tasks.index', (pk,))\n", "app.send_task", "the function runs in a transaction",
     "Order.objects.filter(pk=pk).delete()"),
    ("class Orders:\n    @transaction.atomic\n    def save(self, order):\n        order.save()\n"
     "        index.delay(order.pk)\n", "index.delay", "the function runs in a transaction", "order.save()"),
]


@pytest.mark.parametrize(("code", "written", "why", "write"), FLAGGED)
def test_sent_inside_a_transaction(tmp_path, code, written, why, write):
    (finding,) = check(tmp_path, code)
    assert finding.message == (f"{written}() inside a database transaction: a worker may run the task before the "
                               "transaction commits, and read missing or old rows")
    assert [r.message for r in finding.related] == [why, f"{write} writes here, uncommitted when the task is sent"]
    assert finding.fix.description == f"send it after commit: transaction.on_commit(lambda: {written}(...))"


SILENT = [
    "def save(pk):\n    with transaction.atomic():\n        Order.objects.create(pk=pk)\n    index.delay(pk)\n",
    "def save(pk):\n    with transaction.atomic():\n        index.delay(pk)\n",  # nothing written before the send
    "def save(pk):\n    with transaction.atomic():\n        index.delay(pk)\n        Order.objects.create(pk=pk)\n",
    "def save(pk):\n    with transaction.atomic():\n        transaction.on_commit(lambda: index.delay(pk))\n",
    "def save(pk):\n    with transaction.atomic():\n        def after():\n            index.delay(pk)\n"
    "        transaction.on_commit(after)\n",
    "def save(pk):\n    with transaction.atomic(using='replica'):\n        Order.objects.create(pk=pk)\n"
    "        index.delay(pk)\n",
    "def save(pk):\n    with transaction.atomic():\n        Order.objects.create(pk=pk)\n        index.delay_on_commit(pk)\n",
    "def save(request, pk):\n    index.delay(pk)\n",  # ATOMIC_REQUESTS is off
]


@pytest.mark.parametrize("code", SILENT)
def test_silent(tmp_path, code):
    assert check(tmp_path, code) == []


def test_views_under_atomic_requests(tmp_path):
    code = ("def save(request, pk):\n    Order.objects.create(pk=pk)\n    index.delay(pk)\n\n\n"
            "@transaction.non_atomic_requests\ndef bulk(request):\n    Order.objects.create(pk=1)\n    index.delay(1)\n\n\n"
            "async def stream(request):\n    Order.objects.create(pk=2)\n    index.delay(2)\n\n\n"
            "def helper(pk):\n    Order.objects.create(pk=pk)\n    index.delay(pk)\n\n\n"
            "class Save:\n    def post(self, request, pk):\n        Order.objects.create(pk=pk)\n        index.delay(pk)\n")
    found = check(tmp_path, code, atomic_requests=True)
    first = HEADER.count("\n") + 1
    assert [f.span.line for f in found] == [first + 2, first + 24]
    assert {(r.span.path, r.span.line, r.message) for f in found for r in f.related if r.span.path.endswith("settings.py")} \
        == {("proj/settings.py", 3, "ATOMIC_REQUESTS wraps every view in a transaction")}


def test_atomic_requests_only_in_views_modules(tmp_path):
    code = "def save(request, pk):\n    Order.objects.create(pk=pk)\n    index.delay(pk)\n"
    assert check(tmp_path, code, True, "proj/services.py") == []


def test_atomic_requests_that_may_be_off(tmp_path):
    code = "def save(request, pk):\n    Order.objects.create(pk=pk)\n    index.delay(pk)\n"
    assert check(tmp_path, code, "os.environ.get('X') == '1'") == []


def test_a_task_of_another_package_sent_inside_a_transaction(tmp_path):
    """A worker shipped apart (ecommerce's ecommerce_worker): its tasks are imported from outside
    the project (a `tasks` module, or its `api`), and .delay() on one of them sends it all the same;
    a django-rq job's .delay() is no Celery send."""
    code = ("from worker_pkg.fulfillment.v1.tasks import fulfill_order\nfrom worker_pkg.email.api import notify\n"
            "from django_rq import get_queue\n\n\n"
            "def place(pk):\n    with transaction.atomic():\n        Order.objects.create(pk=pk)\n"
            "        fulfill_order.delay(pk)\n        notify.delay(pk)\n        get_queue.delay(pk)\n")
    found = check(tmp_path, code)
    assert [f.message.split(" ", 1)[0] for f in found] == ["fulfill_order.delay()", "notify.delay()"]
    assert [(f.span.path, f.span.line) for f in found] == \
        [("proj/views.py", HEADER.count("\n") + 9), ("proj/views.py", HEADER.count("\n") + 10)]
