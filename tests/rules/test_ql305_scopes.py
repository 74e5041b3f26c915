"""QL305 beyond a send written in an atomic block: helpers called in the transaction, the writes that
make a send hazardous, Django's implicit transactions (ATOMIC_REQUESTS views, the model admin),
SQLAlchemy sessions, zope's transaction manager and pyramid_tm. Each case is a small project on disk,
checked through analyse() and the rule."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qlint.pipeline.analysis import analyse
from qlint.model import Finding
from qlint.rules.delay_in_transaction import DelayInTransaction

DJANGO_APP = ('import os\n\nfrom celery import Celery\n\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")\n'
              'app = Celery("shop")\napp.config_from_object("django.conf:settings", namespace="CELERY")\n'
              'app.autodiscover_tasks()\n')
TASKS = '''from shop.celery import app
from shop.models import Order


@app.task
def ship(order_id):
    order = Order.objects.get(pk=order_id)
    app.send_task("warehouse.ship", (order.number,))


@app.task
def audit(entry):
    return entry
'''
MODELS = '''from django.db import models


class Order(models.Model):
    number = models.CharField(max_length=20)
'''


def settings(atomic_requests: bool = False) -> str:
    return ('DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "shop", '
            f'"ATOMIC_REQUESTS": {atomic_requests}}}, "replica": {{"ENGINE": "django.db.backends.postgresql"}}}}\n'
            'CELERY_BROKER_URL = "redis://redis:6379/0"\n')


def run(root: Path, files: dict[str, str], atomic_requests: bool = False) -> list[Finding]:
    base = {"manage.py": "", "shop/__init__.py": "", "shop/celery.py": DJANGO_APP,
            "shop/settings.py": settings(atomic_requests), "shop/tasks.py": TASKS, "shop/models.py": MODELS}
    for rel, content in {**base, **files}.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return list(DelayInTransaction().check(analyse(["."], cwd=root, root=root, use_cache=False).project))


def places(findings: list[Finding]) -> list[tuple[str, int]]:
    return [(f.span.path, f.span.line) for f in findings]


# ---------------------------------------------------------------- helpers called in the transaction

NOTIFY = '''from shop.tasks import ship


def notify_warehouse(order):
    ship.delay(order.pk)


def notify_later(order):
    """Ships the order later (ship.delay() at the end of the chain)."""
    schedule_shipping(order)


def schedule_shipping(order):
    """Ships the order later (ship.delay() at the end of the chain)."""
    queue_shipping(order)


def queue_shipping(order):
    """Ships the order later (ship.delay() at the end of the chain)."""
    really_queue(order)


def really_queue(order):
    ship.delay(order.pk)
'''


def test_a_helper_that_sends_after_a_write_is_reported_where_it_is_called(tmp_path):
    checkout = ('from django.db import transaction\n\nfrom shop.models import Order\n'
                'from shop.notify import notify_warehouse\n\n\n'
                'def place(number):\n    with transaction.atomic():\n        order = Order.objects.create(number=number)\n'
                '        notify_warehouse(order)\n    return order\n')
    (finding,) = run(tmp_path, {"shop/notify.py": NOTIFY, "shop/checkout.py": checkout})
    assert places([finding]) == [("shop/checkout.py", 10)]
    assert finding.message.startswith("notify_warehouse() sends ship.delay() (shop/notify.py:5) inside a database "
                                      "transaction: a worker may run the task before the transaction commits")
    assert [(r.span.line, r.message) for r in finding.related] == [
        (8, "the transaction opens here"),
        (9, "Order.objects.create() writes here, uncommitted when the task is sent"),
        (5, "ship.delay() sends the task here"),
    ]
    assert finding.fix.description == "send it after commit: transaction.on_commit(lambda: notify_warehouse(...))"


def test_a_helper_called_before_anything_is_written_is_fine(tmp_path):
    checkout = ('from django.db import transaction\n\nfrom shop.models import Order\n'
                'from shop.notify import notify_warehouse\n\n\n'
                'def place(order):\n    with transaction.atomic():\n        notify_warehouse(order)\n'
                '        Order.objects.filter(pk=order.pk).select_for_update().first()\n')
    assert run(tmp_path, {"shop/notify.py": NOTIFY, "shop/checkout.py": checkout}) == []


@pytest.mark.parametrize(("helper", "found"), [("schedule_shipping", True), ("notify_later", False)])
def test_helpers_are_followed_three_calls_deep(tmp_path, helper, found):
    checkout = ('from django.db import transaction\n\nfrom shop.notify import notify_later, schedule_shipping\n\n\n'
                f'@transaction.atomic\ndef place(order):\n    order.save()\n    {helper}(order)\n')
    assert len(run(tmp_path, {"shop/notify.py": NOTIFY, "shop/checkout.py": checkout})) == int(found)


def test_methods_of_the_same_class_and_distinctive_method_names_are_followed(tmp_path):
    service = '''from django.db import transaction

from shop.tasks import ship


class Fulfilment:
    @transaction.atomic
    def complete(self, order):
        order.status = "paid"
        order.save(update_fields=["status"])
        self._queue(order)
        order.shipment.dispatch_to_carrier()

    def _queue(self, order):
        ship.delay(order.pk)


class Shipment:
    def dispatch_to_carrier(self):
        ship.apply_async((self.order_id,), countdown=30)
'''
    found = run(tmp_path, {"shop/services.py": service})
    assert places(found) == [("shop/services.py", 11), ("shop/services.py", 12)]
    assert found[1].message.startswith("order.shipment.dispatch_to_carrier() sends ship.apply_async()")


def test_a_common_method_name_on_an_unknown_receiver_is_not_followed(tmp_path):
    service = '''from django.db import transaction

from shop.tasks import ship


class Mailer:
    def send(self, order):
        ship.delay(order.pk)


def place(order, mailer):
    with transaction.atomic():
        order.save()
        mailer.send(order)
'''
    assert run(tmp_path, {"shop/services.py": service}) == []


def test_a_helper_that_is_a_hazard_by_itself_is_reported_once_in_the_helper(tmp_path):
    service = '''from django.db import transaction

from shop.models import Order
from shop.tasks import ship


def create_order(number):
    with transaction.atomic():
        order = Order.objects.create(number=number)
        ship.delay(order.pk)
    return order


def place(number):
    with transaction.atomic():
        Order.objects.filter(number=number).delete()
        create_order(number)
'''
    assert places(run(tmp_path, {"shop/services.py": service})) == [("shop/services.py", 10)]


def test_a_write_in_a_nested_atomic_block_waits_for_the_outer_one(tmp_path):
    service = '''from django.db import transaction

from shop.models import Order
from shop.tasks import ship


def clear(number):
    with transaction.atomic():
        Order.objects.filter(number=number).delete()


def replace(number):
    with transaction.atomic():
        clear(number)
        ship.delay(number)
    clear(number)
    ship.delay(number)
'''
    (finding,) = run(tmp_path, {"shop/services.py": service})
    assert places([finding]) == [("shop/services.py", 15)]
    assert [(r.span.line, r.message) for r in finding.related] == [
        (13, "the transaction opens here"),
        (9, "Order.objects.filter(number=number).delete() writes here, uncommitted when the task is sent"),
    ]


def test_a_flag_the_caller_leaves_off_keeps_the_helper_from_sending(tmp_path):
    service = '''from django.db import transaction

from shop.models import Order
from shop.tasks import ship


def update_order(order, number, notify=False):
    Order.objects.filter(pk=order.pk).update(number=number)
    if notify:
        ship.delay(order.pk)


def renumber(orders):
    with transaction.atomic():
        for order in orders:
            update_order(order, order.number + "-1")


def renumber_and_ship(order):
    with transaction.atomic():
        update_order(order, order.number + "-2", notify=True)
'''
    assert places(run(tmp_path, {"shop/services.py": service})) == [("shop/services.py", 21)]


def test_a_flag_passed_on_through_kwargs_tested_in_an_and_and_an_early_return(tmp_path):
    # bookwyrm's and mitxonline's models: save(broadcast=False) reaches the base class's save
    # through **kwargs; `if not broadcast or ...: return` and `if is_new and not skip: send`
    models = '''from django.db import models

from shop.tasks import ship


class Broadcasting(models.Model):
    def save(self, *args, broadcast=True, **kwargs):
        super().save(*args, **kwargs)
        if not broadcast or self.private:
            return
        ship.delay(self.pk)


class Note(Broadcasting):
    def save(self, *args, **kwargs):
        self.text = self.text.strip()
        super().save(*args, **kwargs)


class Item(models.Model):
    def save(self, *args, skip_runs=False, **kwargs):
        is_new = self.pk is None
        super().save(*args, **kwargs)
        if is_new and not skip_runs:
            ship.delay(self.pk)
'''
    service = '''from django.db import transaction

from shop.notes import Item, Note


def quiet(text):
    with transaction.atomic():
        note = Note(text=text)
        note.save(broadcast=False)
        Item(text=text).save(skip_runs=True)


def loud(text):
    with transaction.atomic():
        note = Note(text=text)
        note.save()
        Item(text=text).save(skip_runs=False)
'''
    found = run(tmp_path, {"shop/notes.py": models, "shop/services.py": service})
    assert places(found) == [("shop/services.py", 16), ("shop/services.py", 17)]


def test_recursive_helpers_end(tmp_path):
    service = '''from django.db import transaction

from shop.tasks import ship


def walk_tree(node):
    for child in node.children:
        walk_tree(child)
    ship.delay(node.pk)


def rebuild(root):
    with transaction.atomic():
        root.save()
        walk_tree(root)
'''
    assert places(run(tmp_path, {"shop/services.py": service})) == [("shop/services.py", 15)]


# ---------------------------------------------------------------- what counts as a write

@pytest.mark.parametrize(("statement", "found"), [
    ("Order.objects.get_or_create(number=n)", True),
    ("Order.objects.bulk_create([Order(number=n)])", True),
    ("Order.objects.filter(number=n).update(number='x')", True),
    ("qs = Order.objects.filter(number=n)\n        qs.update(number='x')", True),
    ("form.save()", True),
    ("serializer.save(owner=user)", True),
    ("cursor.execute('UPDATE shop_order SET number = %s', [n])", True),
    ("form.save(commit=False)", False),
    ("cursor.execute('SELECT 1')", False),
    ("cache.delete(n)", False),
    ("data = {}\n        data.update(number=n)", False),
    ("image.save(n)", False),
    ("order.number = n", False),  # not a write until saved
    ("Order.objects.filter(number=n).exists()", False),
])
def test_what_is_a_write(tmp_path, statement, found):
    code = ('from django.db import connection, transaction\n\nfrom shop.models import Order\nfrom shop.tasks import ship\n\n\n'
            'def place(n, form, serializer, user, cache, image, order):\n    cursor = connection.cursor()\n'
            f'    with transaction.atomic():\n        {statement}\n        ship.delay(n)\n')
    assert len(run(tmp_path, {"shop/services.py": code})) == int(found)


def test_commits_branches_and_sends_made_after_commit(tmp_path):
    code = '''from functools import partial

from django.db import transaction

from shop.models import Order
from shop.tasks import ship


def branches(order, created):
    with transaction.atomic():
        if created:
            order.save()
        else:
            ship.delay(order.pk)


def callbacks(order):
    with transaction.atomic():
        order.save()
        transaction.on_commit(partial(ship.delay, order.pk))
        transaction.on_commit(lambda: ship.delay(order.pk))
        ship.delay_on_commit(order.pk)
        ship.apply_async_on_commit((order.pk,))


def replica(n):
    with transaction.atomic(using="replica"):
        Order.objects.create(number=n)
        ship.delay(n)


def replica_write(n):
    with transaction.atomic(using="replica"):
        Order.objects.using("replica").create(number=n)
        ship.delay(n)
'''
    assert places(run(tmp_path, {"shop/services.py": code})) == [("shop/services.py", 35)]


def test_a_project_context_manager_that_opens_a_transaction(tmp_path):
    code = '''import contextlib

from celery import Task
from django.db import transaction

from shop.models import Order


@contextlib.contextmanager
def locked(key):
    with transaction.atomic():
        Order.objects.select_for_update().filter(number=key).first()
        yield


class QueuedTask(Task):
    def enqueue(self, order):
        order.save()
        return self.apply_async((order.pk,))

    def fetch_or_enqueue(self, order):
        with locked(order.number):
            return self.enqueue(order)
'''
    (finding,) = run(tmp_path, {"shop/queueing.py": code})
    assert places([finding]) == [("shop/queueing.py", 23)]
    assert [(r.span.line, r.message) for r in finding.related] == [
        (22, "locked() opens a transaction here (shop/queueing.py:11)"),
        (18, "order.save() writes here, uncommitted when the task is sent"),
        (19, "self.apply_async() sends the task here"),
    ]


# ---------------------------------------------------------------- Django's own transactions

VIEWS = '''from django.db import transaction
from django.utils.decorators import method_decorator
from django.views.generic import View
from rest_framework import viewsets
from rest_framework.decorators import api_view

from shop.models import Order
from shop.tasks import ship


class OrderViewSet(viewsets.ModelViewSet):
    def perform_create(self, serializer):
        order = serializer.save()
        ship.delay(order.pk)


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class ImportView(View):
    def post(self, request):
        order = Order.objects.create(number=request.POST["number"])
        ship.delay(order.pk)


class ReImportView(ImportView):
    def put(self, request):
        Order.objects.all().delete()
        ship.delay(0)


@api_view(["POST"])
def reorder(request, pk):
    Order.objects.filter(pk=pk).update(number="again")
    ship.delay(pk)


async def stream(request):
    await Order.objects.acreate(number="x")
    ship.delay(1)
'''


def test_views_under_atomic_requests_anywhere(tmp_path):
    found = run(tmp_path, {"shop/api.py": VIEWS}, atomic_requests=True)
    assert places(found) == [("shop/api.py", 14), ("shop/api.py", 33)]
    assert {(r.span.path, r.message) for f in found for r in f.related if r.span.path == "shop/settings.py"} == \
        {("shop/settings.py", "ATOMIC_REQUESTS wraps every view in a transaction")}


def test_views_without_atomic_requests_commit_each_write(tmp_path):
    assert run(tmp_path, {"shop/api.py": VIEWS}) == []


ADMIN = '''from django.contrib import admin

from shop.models import Order
from shop.tasks import audit, ship


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    actions = ["reship"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        ship.delay(obj.pk)

    def response_add(self, request, obj, post_url_continue=None):
        audit.delay(obj.pk)
        return super().response_add(request, obj, post_url_continue)

    @admin.action(description="Ship again")
    def reship(self, request, queryset):
        queryset.update(number="again")
        ship.delay(0)
'''


def test_the_model_admin_saves_in_a_transaction(tmp_path):
    found = run(tmp_path, {"shop/admin.py": ADMIN})
    assert places(found) == [("shop/admin.py", 13), ("shop/admin.py", 16)]
    assert [r.message for r in found[1].related] == [
        "the Django admin calls response_add() inside transaction.atomic() (ModelAdmin.changeform_view, delete_view)",
        "the admin's save of the object (save_model) writes here, uncommitted when the task is sent",
    ]


# ---------------------------------------------------------------- SQLAlchemy, zope and pyramid_tm

PLAIN_APP = 'from celery import Celery\n\napp = Celery("svc", broker="amqp://guest@rabbitmq//")\n'
SA_TASKS = '''from sqlalchemy import select

from svc.celery_app import app
from svc.models import Grade, User


@app.task
def welcome(user_id):
    with app.session() as session:
        user = session.get(User, user_id)
        app.send_task("mail.welcome", (user.email,))


@app.task
def complete(sync_id):
    with app.session() as session:
        rows = session.scalars(select(Grade).where(Grade.sync_id == sync_id))
        app.send_task("lms.complete", (len(rows.all()),))


@app.task
def reindex(user_id):
    app.send_task("search.reindex", (user_id,))
'''


def run_sa(root: Path, code: str) -> list[Finding]:
    files = {"svc/__init__.py": "", "svc/celery_app.py": PLAIN_APP, "svc/tasks.py": SA_TASKS, "svc/service.py": code}
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(content, encoding="utf-8")
    return list(DelayInTransaction().check(analyse(["."], cwd=root, root=root, use_cache=False).project))


def test_a_flask_sqlalchemy_session_holds_its_writes_until_commit(tmp_path):
    code = '''from svc.extensions import db
from svc.models import User
from svc.tasks import welcome


def signup(email):
    user = User(email=email)
    db.session.add(user)
    db.session.flush()
    welcome.delay(user.id)
    db.session.commit()


def signup_committed(email):
    user = User(email=email)
    db.session.add(user)
    db.session.commit()
    welcome.delay(user.id)


def signup_through_helper(email):
    user = User(email=email)
    db.session.add(user)
    save_changes()
    welcome.delay(user.id)


def purge(user_id):
    User.query.filter_by(id=user_id).delete()
    welcome.delay(user_id)


def not_database_writes(request, seen, search, user_id):
    request.session.flush()
    seen.add(user_id)
    search.query("match", user=user_id).delete()
    welcome.delay(user_id)


def save_changes():
    db.session.commit()
'''
    found = run_sa(tmp_path, code)
    assert places(found) == [("svc/service.py", 10), ("svc/service.py", 30)]
    assert found[0].message == ("welcome.delay() after an uncommitted write to the database session: a worker may run "
                                "the task before the session commits, and read missing or old rows")
    assert [(r.span.line, r.message) for r in found[0].related] == \
        [(8, "db.session.add() writes here, uncommitted when the task is sent")]
    assert found[0].fix.description.startswith("send it after the commit: after session.commit()")


def test_session_begin_transaction_manager_and_request_tm_commit_when_their_block_ends(tmp_path):
    code = '''import transaction

from svc.db import Session
from svc.models import User
from svc.tasks import reindex


def rename(user_id, name):
    with Session.begin() as session:
        session.execute(update(User).where(User.id == user_id).values(name=name))
        reindex.delay(user_id)
    reindex.delay(user_id)


def rename_zope(dbsession, user):
    with transaction.manager:
        dbsession.merge(user)
        reindex.delay(user.id)
    reindex.delay(user.id)


def rename_tm(request, user):
    with request.tm:
        request.db.add(user)
        request.tm.commit()
        reindex.delay(user.id)
'''
    found = run_sa(tmp_path, code)
    assert places(found) == [("svc/service.py", 11), ("svc/service.py", 18)]
    assert [r.message for r in found[1].related][0] == \
        "the transaction manager's transaction opens here; it commits when the block ends"


def test_a_change_to_a_loaded_row_counts_when_the_task_reads_its_model(tmp_path):
    code = '''from sqlalchemy import select

from svc.models import Grade, Sync, User
from svc.tasks import complete, welcome


def grade(request, grade_id):
    with request.tm:
        row = request.db.get(Grade, grade_id)
        row.success = True
        complete.apply_async((row.sync_id,), countdown=1)


def flag(request, user_id):
    with request.tm:
        user = request.db.get(User, user_id)
        user.nipsa = True
        complete.delay(user_id)


def start(request):
    with request.tm:
        for sync in request.db.scalars(select(Sync).where(Sync.status == "new")):
            complete.delay(sync.id)
            sync.status = "running"
        for user in request.db.scalars(select(User)):
            welcome.delay(user.id)
            user.welcomed = True
'''
    found = run_sa(tmp_path, code)
    assert places(found) == [("svc/service.py", 11), ("svc/service.py", 27)]
    assert found[0].related[1].message == ("row.success = … changes a loaded Grade here, written only when the session "
                                           "flushes; the task reads Grade")
    assert found[1].message.startswith("welcome.delay() inside a database transaction that then writes User, which "
                                       "the task reads")


def test_pyramid_views_run_in_the_transaction_of_pyramid_tm(tmp_path):
    app = 'def main(global_config, **settings):\n    config = Configurator(settings=settings)\n' \
          '    config.include("pyramid_tm")\n    return config.make_wsgi_app()\n'
    views = '''from pyramid.view import view_config

from svc.tasks import reindex


@view_config(route_name="rename", renderer="json")
def rename(request):
    request.context.user.save()
    reindex.delay(request.context.user.id)
'''
    files = {"svc/views.py": views, "svc/app.py": 'from celery import current_app\n\n' + app}
    for rel, content in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(content, encoding="utf-8")
    (finding,) = run_sa(tmp_path, "")
    assert places([finding]) == [("svc/views.py", 9)]
    assert finding.related[0].message == ("pyramid_tm runs every view in a transaction that commits after the view "
                                          "returns")
    (tmp_path / "svc/app.py").write_text("from celery import current_app\n", encoding="utf-8")
    assert run_sa(tmp_path, "") == []


def test_a_file_that_does_not_parse_is_skipped(tmp_path):
    code = "from svc.tasks import reindex\n\ndef broken(:\n    reindex.delay(1)\n"
    assert run_sa(tmp_path, code) == []


# ---------------------------------------------------------------- service bodies in modules without markers

ROSTER_SERVICE = '''from sqlalchemy import select, update

from svc.models import Grade, User


class RosterService:
    def __init__(self, db):
        self._db = db

    def fetch_roster(self, course_id):
        self._db.execute(update(Grade).where(Grade.sync_id == course_id).values(active=False))

    def allowed(self, user):
        self._db.flush()
        return self._db.scalars(select(User).where(User.id == user.id)).first() is not None
'''


def roster_views(call: str) -> str:
    return f'''from svc.roster import RosterService
from svc.tasks import complete


def fetch(request, course_id):
    roster = request.find_service(RosterService)
    with request.tm:
        roster.{call}
        complete.delay(course_id)
'''


def test_a_service_method_in_a_module_without_markers_is_read_where_a_transaction_calls_it(tmp_path):
    # svc/roster.py names neither Celery nor a transaction: its bodies are left out when it is
    # first read, and read when a call made inside `with request.tm:` reaches them.
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc/roster.py").write_text(ROSTER_SERVICE, encoding="utf-8")
    found = run_sa(tmp_path, roster_views("fetch_roster(course_id)"))
    assert places(found) == [("svc/service.py", 9)]
    assert [(r.span.path, r.span.line) for r in found[0].related][1] == ("svc/roster.py", 11)


def test_a_flush_before_a_query_is_no_write(tmp_path):
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc/roster.py").write_text(ROSTER_SERVICE, encoding="utf-8")
    assert run_sa(tmp_path, roster_views("allowed(request.user)")) == []


def test_the_rule_alone_finds_what_it_finds_among_all_rules(tmp_path):
    # Which modules the other rules read first must not change what QL305 follows.
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc/roster.py").write_text(ROSTER_SERVICE, encoding="utf-8")
    run_sa(tmp_path, roster_views("fetch_roster(course_id)"))

    def ql305(*options: str) -> list[tuple[str, int]]:
        done = subprocess.run([sys.executable, "-m", "qlint", "check", "--no-cache", "--format", "json", *options, "."],
                              cwd=tmp_path, capture_output=True, text=True)
        return [(f["path"], f["line"]) for f in json.loads(done.stdout)["findings"] if f["code"] == "QL305"]

    assert ql305("--select", "QL305") == ql305() == [("svc/service.py", 9)]


# ---------------------------------------------------------------- DRF: serializer.save() runs create()

ASSIGN_VIEW = '''from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from shop.serializers import AssignmentSerializer


class CouponViewSet(viewsets.ModelViewSet):
    @action(detail=True, methods=["post"])
    def assign(self, request, pk):
        serializer = AssignmentSerializer(data=request.data)
        if serializer.is_valid():
            serializer = AssignmentSerializer(data=request.data, context={"pk": pk})
            serializer.is_valid(raise_exception=True)
            serializer.save()
        return Response(serializer.data)
'''
ASSIGN_SERIALIZER = '''from rest_framework import serializers

from shop.mail import send_assignment_email
from shop.models import Order


class AssignmentSerializer(serializers.Serializer):
    email = serializers.EmailField()

    def create(self, validated_data):
        order = Order.objects.create(number=validated_data["email"])
        self._notify(order)
        return order

    def _notify(self, order):
        send_assignment_email(order.number, order.pk)
'''
# The task lives in a worker package shipped apart, imported from its `api` module.
ASSIGN_MAIL = '''from mail_worker.email.v1.api import send_offer_email


def send_assignment_email(email, order_id):
    send_offer_email.delay(email, order_id)
'''


def test_a_serializer_saved_in_a_view_runs_its_create_which_sends(tmp_path):
    # Neither the view's nor the serializer's module names Celery: both are read in the second
    # pass, from the helper that sends back to the view, three calls away.
    found = run(tmp_path, {"shop/api.py": ASSIGN_VIEW, "shop/serializers.py": ASSIGN_SERIALIZER,
                           "shop/mail.py": ASSIGN_MAIL}, atomic_requests=True)
    assert places(found) == [("shop/api.py", 15)]
    assert found[0].message.startswith("serializer.save() sends send_offer_email.delay() (shop/mail.py:5)")
    assert run(tmp_path, {"shop/api.py": ASSIGN_VIEW.replace("serializer.save()", "serializer.validated_data")},
               atomic_requests=True) == []


BULK_VIEW = '''from rest_framework.generics import CreateAPIView
from rest_framework.response import Response

from shop import serializers


class BulkCreateApi(CreateAPIView):
    serializer_class = serializers.BulkOrderSerializer

    def create(self, request, *args, **kwargs):
        results = []

        def handle_one(payload):
            ser = self.get_serializer(data=payload)
            ser.is_valid(raise_exception=True)
            results.extend(ser.bulk_create(ser.validated_data))

        for payload in request.data:
            handle_one(payload)
        return Response(results)
'''
BULK_SERIALIZER = '''from rest_framework import serializers

from shop.models import Order
from shop.tasks import ship


class BulkOrderSerializer(serializers.Serializer):
    number = serializers.CharField()

    def bulk_create(self, validated_data):
        order = Order.objects.create(number=validated_data["number"])
        ship.delay(order.pk)
        return [order.pk]
'''
# The Celery app takes its CELERY keys from the settings module by hand, not config_from_object:
# the views still run under the Django settings the project names.
HAND_COPIED_APP = ('import os\n\nfrom celery import Celery\n\n'
                   'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")\nfrom shop import settings\n\n'
                   'app = Celery("shop")\n'
                   'app.conf.update({k: v for k, v in vars(settings).items() if k.startswith("CELERY")})\n')


def test_a_drf_view_gets_its_serializer_class_and_calls_a_function_it_defines(tmp_path):
    files = {"shop/api.py": BULK_VIEW, "shop/serializers.py": BULK_SERIALIZER, "shop/celery.py": HAND_COPIED_APP}
    found = run(tmp_path, files, atomic_requests=True)
    # reported where the view's transaction reaches the serializer's write and send
    assert places(found) == [("shop/api.py", 19)]
    assert found[0].message.startswith("handle_one() sends ship.delay() (shop/serializers.py:12)")
    assert [r.message for r in found[0].related][0] == "ATOMIC_REQUESTS wraps every view in a transaction"
    # a view that picks its serializer in code of its own: which one get_serializer() makes is not known
    own_choice = BULK_VIEW.replace("    serializer_class = serializers.BulkOrderSerializer\n",
                                   "    def get_serializer_class(self):\n        return pick(self.request)\n")
    assert run(tmp_path, {**files, "shop/api.py": own_choice}, atomic_requests=True) == []


CHANNEL_MODEL = '''from django.db import models

from shop.tasks import audit


class Channel(models.Model):
    is_active = models.BooleanField(default=True)

    def release(self, user):
        self.is_active = False
        self.save(update_fields=("is_active",))
        audit.apply_async((self.id,), countdown=5)
'''
CHANNEL_VIEWS = '''from smartmin.views import SmartCRUDL, SmartDeleteView, SmartReadView

from shop.channels import Channel


class ChannelCRUDL(SmartCRUDL):
    model = Channel
    actions = ("read", "delete")

    class Read(SmartReadView):
        def get_context_data(self, **kwargs):
            return {"channel": self.get_object()}

    class Delete(SmartDeleteView):
        def post(self, request, *args, **kwargs):
            channel = self.get_object()
            channel.release(request.user)
            return self.render_to_response({})
'''


def test_a_view_of_a_smartmin_crudl_gets_the_crudls_model(tmp_path):
    # smartmin gives the views defined in a SmartCRUDL its model: get_object() is a Channel, and
    # release() (a name too plain to stand for Channel.release on a receiver of unknown type) is
    # followed into the model, which saves and then sends
    found = run(tmp_path, {"shop/channels.py": CHANNEL_MODEL, "shop/views.py": CHANNEL_VIEWS}, atomic_requests=True)
    assert places(found) == [("shop/views.py", 17)]
    assert found[0].message.startswith("channel.release() sends audit.apply_async() (shop/channels.py:12)")
    # a view that gets its object its own way: which class it is is not known
    own = CHANNEL_VIEWS.replace("        def post(self, request, *args, **kwargs):",
                                "        def get_object(self):\n            return self.request.org\n\n"
                                "        def post(self, request, *args, **kwargs):")
    assert run(tmp_path, {"shop/channels.py": CHANNEL_MODEL, "shop/views.py": own}, atomic_requests=True) == []


def test_a_default_row_made_where_a_lookup_found_none_counts_for_a_task_that_reads_its_model(tmp_path):
    # h's subscribers: building the mail creates the user's default subscription row if there is
    # none, then mails; the mail task reads no Subscription, so the row's commit cannot matter to it
    code = '''from svc.models import Grade, Subscription
from svc.tasks import complete, reindex


def subscription(session, user_id):
    row = session.query(Subscription).filter(Subscription.user_id == user_id).one_or_none()
    if not row:
        row = Subscription(user_id=user_id, active=True)
        session.add(row)
    return row


def grade_row(session, sync_id):
    row = session.query(Grade).filter(Grade.sync_id == sync_id).one_or_none()
    if row is None:
        row = Grade(sync_id=sync_id)
        session.add(row)
    return row


def notify(request, user_id, sync_id):
    with request.tm:
        if subscription(request.db, user_id).active:
            reindex.delay(user_id)
        grade_row(request.db, sync_id)
        complete.delay(sync_id)
'''
    found = run_sa(tmp_path, code)
    # complete() reads Grade rows (SA_TASKS): the new Grade row may be missing when it runs
    assert places(found) == [("svc/service.py", 26)]
