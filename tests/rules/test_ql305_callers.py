"""QL305's second pass: views in modules that mention neither Celery nor a transaction, read
because they call a project function found to send a task (under ATOMIC_REQUESTS every view
runs in a transaction)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from qlint.pipeline.analysis import analyse
from qlint.model import Finding
from qlint.rules.delay_in_transaction import DelayInTransaction
from qlint.sources.read import celery_markers

APP = ('import os\n\nfrom celery import Celery\n\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")\n'
       'app = Celery("shop")\napp.config_from_object("django.conf:settings", namespace="CELERY")\n')
TASKS = ("from shop.celery import app\nfrom shop.models import Order\n\n\n@app.task\ndef send_receipt(order_id):\n"
         "    order = Order.objects.get(pk=order_id)\n    return order.email\n")
NOTIFY = ("from shop.tasks import send_receipt\n\n\ndef notify_customer(order):\n"
          "    if order.email:\n        send_receipt.delay(order.pk)\n")
MODELS = "from django.db import models\n\n\nclass Order(models.Model):\n    email = models.EmailField()\n"


def settings(atomic_requests: bool) -> str:
    return ('DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "shop",\n'
            f'                         "ATOMIC_REQUESTS": {atomic_requests}}}}}\n'
            'CELERY_BROKER_URL = "redis://localhost:6379/0"\n')


def project(root: Path, files: dict[str, str], atomic_requests: bool = True) -> Path:
    base = {"shop/__init__.py": "", "shop/celery.py": APP, "shop/settings.py": settings(atomic_requests),
            "shop/models.py": MODELS, "shop/tasks.py": TASKS, "shop/notify.py": NOTIFY}
    for rel, content in {**base, **files}.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return root


def findings(root: Path) -> list[Finding]:
    return list(DelayInTransaction().check(analyse(["."], cwd=root, root=root, use_cache=False).project))


# A views module with no Celery or transaction marker: the pre-filter reads none of its function bodies.
VIEWS = ("from django.shortcuts import get_object_or_404, redirect\n\nfrom shop.models import Order\n"
         "from shop.notify import notify_customer\n\n\n"
         "def pay(request, pk):\n    order = get_object_or_404(Order, pk=pk)\n    order.paid = True\n"
         "    order.save()\n    notify_customer(order)\n    return redirect('/')\n")


def test_the_views_module_has_no_marker():
    assert celery_markers(VIEWS.encode()) == ()


def test_a_view_that_writes_then_calls_a_sending_helper(tmp_path):
    (finding,) = findings(project(tmp_path, {"shop/views.py": VIEWS}))
    assert (finding.span.path, finding.span.line) == ("shop/views.py", 11)
    assert finding.message.startswith("notify_customer() sends send_receipt.delay() (shop/notify.py:6) inside a "
                                      "database transaction")
    assert [r.message for r in finding.related][1:] == [
        "order.save() writes here, uncommitted when the task is sent", "send_receipt.delay() sends the task here"]


def test_through_the_qlint_command(tmp_path):
    root = project(tmp_path, {"shop/views.py": VIEWS})
    done = subprocess.run([sys.executable, "-m", "qlint", "check", ".", "--select", "QL305", "--no-cache",
                           "--format", "json"], cwd=root, capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert [(f["code"], f["path"], f["line"]) for f in json.loads(done.stdout)["findings"]] == [
        ("QL305", "shop/views.py", 11)]


def test_a_class_based_view_calling_a_mixin_method_that_sends(tmp_path):
    mixin = ("from shop.tasks import send_receipt\n\n\nclass OrderPlacementMixin:\n"
             "    def handle_successful_order(self, order):\n        send_receipt.delay(order.pk)\n")
    views = ("from rest_framework.views import APIView\nfrom rest_framework.response import Response\n\n"
             "from shop.mixins import OrderPlacementMixin\nfrom shop.models import Order\n\n\n"
             "class CheckoutView(OrderPlacementMixin, APIView):\n    def post(self, request):\n"
             "        order = Order.objects.create(email=request.data['email'])\n"
             "        self.handle_successful_order(order)\n        return Response(status=201)\n")
    (finding,) = findings(project(tmp_path, {"shop/mixins.py": mixin, "shop/api/views.py": views}))
    assert (finding.span.path, finding.span.line) == ("shop/api/views.py", 11)


def test_a_helper_that_sends_only_through_another_unread_helper(tmp_path):
    services = ("from shop.notify import notify_customer\n\n\ndef complete_order(order):\n"
                "    notify_customer(order)\n    return order\n")
    views = ("from shop.models import Order\nfrom shop.services import complete_order\n\n\n"
             "def finish(request, pk):\n    Order.objects.filter(pk=pk).update(paid=True)\n"
             "    complete_order(Order.objects.get(pk=pk))\n")
    assert celery_markers(services.encode()) == ()
    (finding,) = findings(project(tmp_path, {"shop/services.py": services, "shop/views.py": views}))
    assert (finding.span.path, finding.span.line) == ("shop/views.py", 7)
    assert "notify_customer() is called here" in [r.message for r in finding.related]


SILENT = {
    "no ATOMIC_REQUESTS": ({"shop/views.py": VIEWS}, False),
    "nothing written before the call": ({"shop/views.py": VIEWS.replace("    order.save()\n", "")}, True),
    "a function of the same name that sends nothing": (
        {"shop/views.py": VIEWS.replace("from shop.notify import notify_customer\n", "").replace(
            "def pay(", "def notify_customer(order):\n    return order.email\n\n\ndef pay(")}, True),
    "a helper that is not a view, called outside any transaction": (
        {"shop/jobs.py": "from shop.models import Order\nfrom shop.notify import notify_customer\n\n\n"
                         "def nightly():\n    for order in Order.objects.all():\n        order.save()\n"
                         "        notify_customer(order)\n"}, True),
    "a test module": ({"shop/tests/test_views.py": VIEWS.replace("def pay(", "def test_pay(")}, True),
}


def test_silent_where_the_call_runs_in_no_transaction_with_a_write(tmp_path):
    for case, (files, atomic) in SILENT.items():
        root = tmp_path / case.replace(" ", "_").replace(",", "")
        assert findings(project(root, files, atomic)) == [], case


def test_a_broken_caller_is_left_out_without_a_traceback(tmp_path):
    broken = "from shop.notify import notify_customer\n\n\ndef pay(request:\n    notify_customer(request)\n"
    latin = "# caf\xe9\nfrom shop.notify import notify_customer\n\n\ndef pay(request):\n    notify_customer(1)\n"
    root = project(tmp_path, {"shop/broken.py": broken, "shop/views.py": VIEWS})
    (root / "shop/latin.py").write_bytes(latin.encode("latin-1"))
    assert [(f.span.path, f.span.line) for f in findings(root)] == [("shop/views.py", 11)]


def test_the_parse_reads_only_the_functions_that_call_a_named_sender():
    from qlint.sources.python import parse_file

    source = VIEWS + "\n\ndef about(request):\n    return redirect('/about')\n"
    plain = {f.name: f.body_read for f in parse_file("shop/views.py", source.encode()).body if hasattr(f, "body_read")}
    calling = {f.name: f.body_read for f in parse_file("shop/views.py", source.encode(), frozenset({"notify_customer"})).body
               if hasattr(f, "body_read")}
    assert plain == {"pay": False, "about": False}
    assert calling == {"pay": True, "about": False}


def test_an_atomic_block_calling_a_helper_that_sends_through_an_unread_module(tmp_path):
    services = ("from shop.notify import notify_customer\n\n\ndef complete_order(order):\n"
                "    notify_customer(order)\n    return order\n")
    checkout = ("from django.db import transaction\n\nfrom shop.models import Order\n"
                "from shop.services import complete_order\n\n\n"
                "def checkout(email):\n    with transaction.atomic():\n        order = Order.objects.create(email=email)\n"
                "        complete_order(order)\n")
    (finding,) = findings(project(tmp_path, {"shop/services.py": services, "shop/checkout.py": checkout},
                                  atomic_requests=False))
    assert (finding.span.path, finding.span.line) == ("shop/checkout.py", 10)


def test_a_method_others_share_the_name_of_counts_where_its_class_is_named(tmp_path):
    mixin = ("from shop.tasks import send_receipt\n\n\nclass OrderPlacementMixin:\n"
             "    def handle_successful_order(self, order):\n        send_receipt.delay(order.pk)\n")
    other = "class Legacy:\n    def handle_successful_order(self, order):\n        return order\n"
    views = ("from rest_framework.views import APIView\n\nfrom shop.legacy import Legacy\nfrom shop.models import Order\n"
             "from shop.mixins import OrderPlacementMixin\n\n\n"
             "class CheckoutView(OrderPlacementMixin, APIView):\n    def post(self, request):\n"
             "        order = Order.objects.create(email=request.data['email'])\n"
             "        self.handle_successful_order(order)\n\n\n"
             "class LegacyView(Legacy, APIView):\n    def post(self, request):\n"
             "        order = Order.objects.create(email=request.data['email'])\n"
             "        self.handle_successful_order(order)\n")
    (finding,) = findings(project(tmp_path, {"shop/mixins.py": mixin, "shop/legacy.py": other,
                                             "shop/api/views.py": views}))
    assert (finding.span.path, finding.span.line) == ("shop/api/views.py", 11)


def test_the_engine_reads_callers_of_a_set_of_names_too(tmp_path):
    root = project(tmp_path, {"shop/views.py": VIEWS})
    workspace = analyse(["."], cwd=root, root=root, use_cache=False).project.workspace
    for names in (frozenset({"notify_customer"}), {"notify_customer": frozenset()}):
        found = workspace.read_callers(names)
        assert sorted(found) == ["shop/views.py"]
        (pay,) = [s for s in found["shop/views.py"].body if getattr(s, "name", None) == "pay"]
        assert pay.body_read
    assert workspace.read_callers({"notify_customer": frozenset({"NoSuchClass"})}) == {}


def test_a_method_called_on_an_instance_of_a_named_class(tmp_path):
    """Two read modules define `settle_order`, so the name alone does not say which runs; the receiver
    does, where it was made by the class's constructor or a Pyramid service lookup."""
    billing = ("from shop.celery import app\nfrom shop.tasks import send_receipt\n\n\nclass Billing:\n"
               "    def settle_order(self, order):\n        send_receipt.delay(order.pk)\n")
    ledger = ("from shop.celery import app\n\n\nclass Ledger:\n    def settle_order(self, order):\n        return order\n\n\n"
              "def make_billing():\n    return Ledger()\n")
    checkout = ("from django.db import transaction\n\nfrom shop.billing import Billing\nfrom shop.ledger import make_billing\n"
                "from shop.models import Order\n\n\n"
                "def by_constructor(email):\n    billing = Billing()\n    with transaction.atomic():\n"
                "        order = Order.objects.create(email=email)\n        billing.settle_order(order)\n\n\n"
                "def by_service(request, email):\n    billing = request.find_service(Billing)\n"
                "    with transaction.atomic():\n        order = Order.objects.create(email=email)\n"
                "        billing.settle_order(order)\n\n\n"
                "def by_factory(email):\n    billing = make_billing()\n    with transaction.atomic():\n"
                "        order = Order.objects.create(email=email)\n        billing.settle_order(order)\n")
    found = findings(project(tmp_path, {"shop/billing.py": billing, "shop/ledger.py": ledger,
                                        "shop/checkout.py": checkout}, atomic_requests=False))
    assert sorted((f.span.path, f.span.line) for f in found) == [("shop/checkout.py", 12), ("shop/checkout.py", 19)]
