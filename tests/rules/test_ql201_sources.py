"""QL201 on the data real projects pass without reading a file in the same line: the instance a
signal hands its receiver, model instances in kwargs=, a request body encoded to base64, rows
and dumps of a dataframe. Realistic modules written to disk and checked for real."""
from __future__ import annotations

from pathlib import Path

from qlint.pipeline.analysis import analyse
from qlint.pipeline.engine import check
from qlint.user_config.project_config import load_config
from tests.resolve.conftest import write_tree

PICKLE_APP = """
from celery import Celery

app = Celery("shop", broker="redis://redis:6379/0")
app.conf.update(task_serializer="pickle", accept_content=["pickle", "json"])
"""
TASKS = """
from shop.celery import app


@app.task
def index_order(order, reason=None):
    return reason


@app.task
def store_scan(content, filename):
    return filename
"""
MODELS = "from django.db import models\n\n\nclass Order(models.Model):\n    pass\n"


def findings(root: Path, files: dict[str, str], app: str = PICKLE_APP) -> list[tuple[str, str, int, str]]:
    write_tree(root, {"shop/__init__.py": "", "shop/celery.py": app, "shop/tasks.py": TASKS,
                      "shop/models.py": MODELS, **files})
    analysis = analyse(["."], cwd=root, root=root, use_cache=False)
    result = check(analysis, load_config(root), ["."], select=["QL201", "QL202"])
    return sorted((f.code, f.span.path, f.span.line, f.message) for f in result.findings)


RECEIVERS = """
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from shop.models import Order
from shop.tasks import index_order


@receiver(post_save, sender=Order)
def order_saved(sender, instance, created, **kwargs):
    index_order.delay(instance, reason="saved")
    index_order.delay(instance.pk)


@receiver([pre_save, post_delete], sender=Order)
def order_changed(sender, **kwargs):
    index_order.apply_async(kwargs={"order": kwargs["instance"]}, countdown=10)
    index_order.apply_async(args=(kwargs.get("instance").id,))


def order_deleted(sender, instance, using, **kwargs):
    index_order.s(instance).delay()


post_delete.connect(order_deleted, sender=Order)


def rebuild(order):
    index_order.delay(order)
"""


def test_the_instance_django_signals_hand_their_receivers(tmp_path):
    found = findings(tmp_path, {"shop/signals.py": RECEIVERS})
    assert [(code, line) for code, _, line, _ in found] == [("QL201", 10), ("QL201", 16), ("QL201", 21)]
    messages = [message for *_, message in found]
    assert messages[0].startswith("index_order.delay() passes the instance post_save hands its receiver (`instance`) "
                                  "as `order`: it is serialized into the message")
    assert "the instance pre_save or post_delete hands its receiver (`kwargs['instance']`) as `order`" in messages[1]
    assert "the instance post_delete hands its receiver (`instance`)" in messages[2]


def test_under_json_the_receivers_instance_cannot_be_sent_at_all(tmp_path):
    app = PICKLE_APP.replace('app.conf.update(task_serializer="pickle", accept_content=["pickle", "json"])\n', "")
    found = findings(tmp_path, {"shop/signals.py": RECEIVERS}, app=app)
    assert [(code, line) for code, _, line, _ in found] == [("QL201", 21), ("QL202", 10), ("QL202", 16)]
    assert "which the default JSON serializer cannot encode" in found[1][3]


def test_receivers_of_blinker_and_sqlalchemy_signals(tmp_path):
    files = {"shop/events.py": """
        from sqlalchemy import event

        from shop.models import Order
        from shop.tasks import index_order


        @Order.on_paid.connect
        def paid(sender, document, **kwargs):
            index_order.delay(document)


        @Order.on_refund.connect_via(Order)
        def refunded(sender, document=None, **kwargs):
            index_order.delay(document.id)


        @event.listens_for(Order, "after_insert")
        def inserted(mapper, connection, target):
            index_order.delay(target)


        @event.listens_for(Order, "load")
        def loaded(target, context):
            index_order.delay(target)


        def updated(mapper, connection, order):
            index_order.delay(order)


        event.listen(Order, "after_update", updated)
    """}
    found = findings(tmp_path, files)
    assert [(line, message.split(" as ")[0]) for _, _, line, message in found] == [
        (9, "index_order.delay() passes the instance Order.on_paid hands its receiver (`document`)"),
        (19, "index_order.delay() passes the instance the after_insert event hands its listener (`target`)"),
        (28, "index_order.delay() passes the instance the after_update event hands its listener (`order`)"),
    ]


def test_a_receiver_connected_where_qlint_does_not_read_is_known_by_its_signature(tmp_path):
    # apps.py connects it in AppConfig.ready(), whose body names nothing Celery
    files = {
        "shop/apps.py": "from django.apps import AppConfig\n\n\nclass ShopConfig(AppConfig):\n    name = 'shop'\n\n"
                        "    def ready(self):\n        from django.db.models.signals import post_save\n"
                        "        from shop.handlers import on_order_saved\n"
                        "        post_save.connect(on_order_saved, sender='shop.Order')\n",
        "shop/handlers.py": "from shop.tasks import index_order\n\n\n"
                            "def on_order_saved(sender, instance, **kwargs):\n    index_order.delay(instance)\n\n\n"
                            "def save_form(form, instance):\n    index_order.delay(instance)\n",
    }
    found = findings(tmp_path, files)
    assert [(path, line) for _, path, line, _ in found] == [("shop/handlers.py", 5)]


def test_model_instances_in_kwargs(tmp_path):
    files = {"shop/jobs.py": """
        from shop.celery import app
        from shop.models import Order
        from shop.tasks import index_order


        def reindex(pk):
            order = Order.objects.get(pk=pk)
            index_order.apply_async(kwargs={"order": order, "reason": "manual"}, countdown=30)
            options = {"order": order}
            index_order.apply_async((), options)
            app.send_task("shop.tasks.index_order", kwargs=dict(order=Order.objects.filter(paid=True)))
            index_order.apply_async(kwargs={"order": order.pk})
    """}
    found = findings(tmp_path, files)
    assert [(line, message.split(" as ")[0]) for _, _, line, message in found] == [
        (8, "index_order.apply_async() passes a model instance (Order.objects.get(pk=pk))"),
        (9, "index_order.apply_async() passes a model instance (Order.objects.get(pk=pk))"),
        (11, "send_task('shop.tasks.index_order') passes a queryset (Order.objects.filter(paid=True))"),
    ]


def test_a_request_body_is_data_once_it_is_encoded_to_base64(tmp_path):
    files = {"shop/views.py": """
        import base64
        import json

        from flask import request as flask_request

        from shop.tasks import store_scan


        def scan_upload(request):
            store_scan.delay(base64.b64encode(request.body).decode("ascii"), request.headers["X-Name"])
            encoded = base64.b64encode(request.body)
            store_scan.delay(encoded, "scan.pdf")


        def flask_upload():
            store_scan.delay(base64.standard_b64encode(flask_request.get_data()).decode(), "scan.pdf")


        def webhook(request):
            store_scan.delay(request.body.decode(), "event")
            store_scan.delay(json.loads(request.body), "event")
            store_scan.delay(request.data, "event")
    """}
    found = findings(tmp_path, files)
    assert [(line, message.split(" as ")[0]) for _, _, line, message in found] == [
        (10, "store_scan.delay() passes a base64 encoding of the request body (request.body)"),
        (12, "store_scan.delay() passes a base64 encoding of the request body (request.body)"),
        (16, "store_scan.delay() passes a base64 encoding of the request body (flask_request.get_data())"),
    ]


def test_rows_and_dumps_of_a_dataframe(tmp_path):
    files = {"shop/report.py": """
        import pandas as pd

        from shop.tasks import store_scan


        def import_sheet(path, out):
            frame = pd.read_excel(path)
            store_scan.delay(frame.to_dict("records"), path)
            store_scan.delay(frame[["email", "name"]].to_dict(orient="records"), path)
            store_scan.delay(frame.loc[frame.paid].to_json(orient="records"), path)
            store_scan.delay(frame.values.tolist(), path)
            store_scan.delay(pd.DataFrame.from_records(load()).to_json(), path)
            frame.to_json(out, orient="records")
            frame.to_csv(out)
            store_scan.delay(out, path)
            store_scan.delay(len(frame), path)
            store_scan.delay(frame.groupby("country").size().to_dict(), path)
    """}
    found = findings(tmp_path, files)
    assert [line for _, _, line, _ in found] == [8, 9, 10, 11, 12]
    assert "a dump of a dataframe (pd.read_excel(path)) (frame.to_dict('records'))" in found[0][3]


def test_file_contents_read_and_parsed_by_the_sending_function(tmp_path):
    files = {"shop/imports.py": """
        import csv
        import json

        import yaml

        from shop.tasks import store_scan


        def import_contacts(path, request):
            with open(path, newline="") as handle:
                store_scan.delay(list(csv.DictReader(handle)), path)
            with open(path) as handle:
                store_scan.delay(json.load(handle), path)
            store_scan.delay(yaml.safe_load(request.FILES["config"]), "config.yml")
            upload = request.FILES["scan"]
            store_scan.delay(b"".join(upload.chunks()), upload.name)
            with open(path) as handle:
                store_scan.delay(len(json.load(handle)), path)
            store_scan.delay(json.load(config_source()), path)
    """}
    found = findings(tmp_path, files)
    assert [(line, message.split(" as ")[0]) for _, _, line, message in found] == [
        (11, "store_scan.delay() passes the contents of a file, parsed (csv.DictReader(handle))"),
        (13, "store_scan.delay() passes the contents of a file, parsed (json.load(handle))"),
        (14, "store_scan.delay() passes the contents of an uploaded file, parsed (yaml.safe_load(request.FILES['config']))"),
        (16, "store_scan.delay() passes the contents of an uploaded file (upload.chunks())"),
    ]
