"""QL104 eta-beyond-visibility-timeout: countdowns, etas and retry delays, read through settings,
constants and arithmetic, against the ack deadline of every broker the app may run on. Realistic
projects written to disk and read by the real analysis; a few through the `qlint` command."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from celery.utils.time import get_exponential_backoff_interval

from qlint.pipeline.analysis import analyse
from qlint.model import Finding
from qlint.user_config.project_config import load_config
from qlint.semantics.delays import _backoff_peak
from qlint.rules.eta_beyond_visibility_timeout import EtaBeyondVisibilityTimeout
from qlint.rules.late_ack_consumer_timeout import LateAckConsumerTimeout
from tests.resolve.conftest import write_tree

CELERY = """\
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
app = Celery("shop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
"""
TASKS_HEAD = """\
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from shop.constants import EXPORT_TTL, REMINDER_DELAY
from shop import constants


@shared_task
def expire_export(export_id):
    return export_id


@shared_task
def remind(user_id):
    return user_id
"""
CONSTANTS = ("from datetime import timedelta\n\nEXPORT_TTL = 6 * 60 * 60\nREMINDER_DELAY = timedelta(hours=3)\nSHORT = 120\n"
             "NAMES = ['a', 'b']\n")


def shop(broker: str = "redis://redis:6379/0", settings: str = "", tasks: str = "", **extra: str) -> dict[str, str]:
    return {
        "manage.py": 'import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")\n',
        "shop/__init__.py": "from .celery import app\n",
        "shop/celery.py": CELERY,
        "shop/settings.py": f"INSTALLED_APPS = ['shop']\nCELERY_BROKER_URL = {broker!r}\n" + settings,
        "shop/constants.py": CONSTANTS,
        "shop/tasks.py": TASKS_HEAD + tasks,
        **extra,
    }


def check(root: Path, files: dict[str, str], rule=EtaBeyondVisibilityTimeout) -> list[Finding]:
    write_tree(root, files)
    project = analyse(["."], cwd=root, root=root, use_cache=False).project
    project.config = load_config(root)
    return sorted(rule().check(project), key=lambda f: (f.span.path, f.span.line, f.span.column))


def where(findings: list[Finding]) -> list[tuple[str, int]]:
    return [(f.span.path, f.span.line) for f in findings]


# ---------------------------------------------------------------- delays written through names


@pytest.mark.parametrize(("send", "shown", "duration"), [
    ("expire_export.apply_async((pk,), countdown=settings.EXPORTS_TTL)", "settings.EXPORTS_TTL", "2 h"),
    ("expire_export.apply_async((pk,), countdown=settings.EXPORTS_TTL * 3)", "settings.EXPORTS_TTL * 3", "6 h"),
    ("expire_export.apply_async((pk,), countdown=EXPORT_TTL)", "EXPORT_TTL", "6 h"),
    ("expire_export.apply_async((pk,), countdown=constants.EXPORT_TTL)", "constants.EXPORT_TTL", "6 h"),
    ("expire_export.apply_async((pk,), countdown=REMINDER_DELAY.total_seconds())", "REMINDER_DELAY.total_seconds()",
     "3 h"),
    ("expire_export.apply_async((pk,), countdown=int(timedelta(days=1).total_seconds()))",
     "int(timedelta(days=1).total_seconds())", "24 h"),
    ("expire_export.apply_async((pk,), countdown=getattr(settings, 'PURGE_AFTER', 4 * 3600))",
     "getattr(settings, 'PURGE_AFTER', 4 * 3600)", "4 h"),
    ("expire_export.apply_async((pk,), eta=timezone.now() + timedelta(hours=2))", "timezone.now() + timedelta(hours=2)",
     "2 h"),
    ("delay = settings.EXPORTS_TTL + 60\n    expire_export.apply_async((pk,), countdown=delay)", "delay", "2 h 1 min"),
    ("expire_export.s(pk).set(countdown=EXPORT_TTL).apply_async()", "EXPORT_TTL", "6 h"),
    ("signature = expire_export.s(pk)\n    signature.apply_async(countdown=EXPORT_TTL)", "EXPORT_TTL", "6 h"),
    ("from shop.celery import app\n    app.send_task('shop.tasks.expire_export', (pk,), countdown=EXPORT_TTL)",
     "EXPORT_TTL", "6 h"),
])
def test_a_send_whose_delay_is_written_by_name_is_held_past_the_redis_timeout(tmp_path, send, shown, duration):
    tasks = f"\n\ndef schedule(pk):\n    {send}\n"
    [finding] = check(tmp_path, shop(settings="EXPORTS_TTL = 2 * 60 * 60\n", tasks=tasks))
    assert f"={shown}) waits {duration}, at or above the Redis default visibility timeout of 1 h" in finding.message
    assert finding.message.endswith("so the broker delivers it again and the task runs twice")
    assert finding.span.path == "shop/tasks.py" and finding.severity == "error"


def test_the_place_a_named_delay_is_set_is_a_related_location(tmp_path):
    tasks = "\n\ndef schedule(pk):\n    expire_export.apply_async((pk,), countdown=settings.EXPORTS_TTL)\n"
    [finding] = check(tmp_path, shop(settings="EXPORTS_TTL = 2 * 60 * 60\n", tasks=tasks))
    assert (finding.span.line, finding.span.column) == (22, 48)
    assert [(r.span.path, r.span.line, r.message) for r in finding.related] == [
        ("shop/settings.py", 3, "2 h set here"),
        ("shop/settings.py", 2, "the broker is Redis with its default visibility timeout")]
    assert "shop/settings.py" in finding.depends_on


@pytest.mark.parametrize("send", [
    "expire_export.apply_async((pk,), countdown=constants.SHORT)",
    "expire_export.apply_async((pk,), countdown=settings.EXPORTS_TTL if settings.DEBUG else 60)",  # one branch is short
    "expire_export.apply_async((pk,), countdown=settings.UNSET_NAME)",
    "expire_export.apply_async((pk,), countdown=pk * 3600)",  # the caller decides
    "expire_export.apply_async((pk,), eta=export_deadline(pk))",
    "expire_export.delay(pk, countdown=7200)",  # a keyword argument of the task, not an option
    "expire_export.apply_async((pk,), countdown='7200')",
    "expire_export.apply_async((pk,), countdown=constants.NAMES)",  # a list, by name
    "expire_export.apply_async((pk,), countdown=None)",
    "expire_export.apply_async((pk,), countdown=float('inf'))",
    "expire_export.apply_async((pk,), countdown=10 ** 400)",
    "expire_export.apply_async((pk,), countdown=7200 / 0)",
    "expire_export.apply_async((pk,), **options)",
    "for delay in (7200, 60):\n        expire_export.apply_async((pk,), countdown=delay)",
    "expire_export.apply_async((pk,), eta=timezone.now() - timedelta(hours=2))",
])
def test_a_delay_that_may_be_short_or_cannot_be_read_is_not_reported(tmp_path, send):
    tasks = f"\n\ndef schedule(pk, options=None):\n    {send}\n"
    assert check(tmp_path, shop(settings="DEBUG = False\nEXPORTS_TTL = 7200\n", tasks=tasks)) == []


def test_a_visibility_timeout_above_the_delay_keeps_it_silent(tmp_path):
    settings = "CELERY_BROKER_TRANSPORT_OPTIONS = {'visibility_timeout': 8 * 3600}\n"
    tasks = "\n\ndef schedule(pk):\n    expire_export.apply_async((pk,), countdown=EXPORT_TTL)\n"
    assert check(tmp_path, shop(settings=settings, tasks=tasks)) == []
    settings = "CELERY_BROKER_TRANSPORT_OPTIONS = {'visibility_timeout': 5 * 3600}\n"
    [finding] = check(tmp_path, shop(settings=settings, tasks=tasks))
    assert "at or above visibility timeout 5 h" in finding.message
    assert [r.message for r in finding.related] == ["6 h set here", "visibility timeout 5 h set here"]


# ---------------------------------------------------------------- retries


def test_retry_countdowns_and_the_default_retry_delay(tmp_path):
    tasks = """

@shared_task(bind=True, max_retries=5)
def push(task, account_id):
    try:
        return account_id
    except TimeoutError as exc:
        raise task.retry(exc=exc, countdown=settings.PUSH_RETRY_DELAY)
    except ConnectionError as exc:
        raise task.retry(exc=exc, eta=timezone.now() + REMINDER_DELAY)


@shared_task(max_retries=6, default_retry_delay=4 * 60 * 60)
def archive(sip_id):
    try:
        return sip_id
    except Exception as exc:
        archive.retry(exc=exc)
        raise
"""
    found = check(tmp_path, shop(settings="PUSH_RETRY_DELAY = 90 * 60\n", tasks=tasks))
    assert [f.message.split(", at or above")[0] for f in found] == [
        "task shop.tasks.push retries with countdown=settings.PUSH_RETRY_DELAY (1 h 30 min)",
        "task shop.tasks.push retries with eta=timezone.now() + REMINDER_DELAY (3 h ahead)",
        "task shop.tasks.archive retries after its default_retry_delay of 4 h",
    ]
    archive = found[2]
    assert (archive.span.line, archive.span.column) == (31, 49)  # the default_retry_delay option
    assert [(r.span.line, r.message) for r in archive.related] == [
        (36, "retries without a countdown"), (2, "the broker is Redis with its default visibility timeout")]


@pytest.mark.parametrize(("decorator", "body"), [
    ("@shared_task(default_retry_delay=7200)", "return pk"),  # no retry uses the delay
    ("@shared_task(bind=True, default_retry_delay=7200)", "raise self.retry(countdown=60)"),
    ("@shared_task(bind=True, default_retry_delay=7200, max_retries=0)", "raise self.retry()"),  # never sent
    ("@shared_task(bind=True, default_retry_delay=7200)", "raise self.retry(max_retries=0)"),
    ("@shared_task(bind=True)", "raise self.retry()"),  # the default 180 s
    ("@shared_task(default_retry_delay=7200)\ndef other(self, pk):\n    return pk\n\n\n@shared_task",
     "raise self.retry()"),  # not bound: self is the caller's first argument (QL403)
    ("@shared_task(bind=True, default_retry_delay=7200)", "raise self.retry(**retry_options)"),
])
def test_retries_that_wait_short_or_send_nothing_are_not_reported(tmp_path, decorator, body):
    tasks = f"\n\n{decorator}\ndef sync(self, pk, retry_options=None):\n    {body}\n"
    assert check(tmp_path, shop(tasks=tasks)) == []


def test_a_default_retry_delay_on_a_base_class_is_one_finding_naming_every_task(tmp_path):
    tasks = """
from celery import Task


class Patient(Task):
    default_retry_delay = 2 * 60 * 60
    max_retries = 10


@shared_task(bind=True, base=Patient)
def sync_a(self, pk):
    raise self.retry()


@shared_task(bind=True, base=Patient)
def sync_b(self, pk):
    raise self.retry()
"""
    [finding] = check(tmp_path, shop(tasks=tasks))
    assert finding.span.line == 24  # default_retry_delay = ...
    assert finding.message.startswith("task shop.tasks.sync_a retries after its default_retry_delay of 2 h "
                                      "(so do tasks shop.tasks.sync_b), at or above")
    assert {r.message for r in finding.related} >= {"task shop.tasks.sync_a", "task shop.tasks.sync_b"}


def test_task_annotations_set_the_default_retry_delay(tmp_path):
    settings = "CELERY_TASK_ANNOTATIONS = {'shop.tasks.sync': {'default_retry_delay': 3 * 3600}}\n"
    tasks = "\n\n@shared_task(bind=True)\ndef sync(self, pk):\n    raise self.retry()\n"
    [finding] = check(tmp_path, shop(settings=settings, tasks=tasks))
    assert "retries after its default_retry_delay of 3 h" in finding.message


# ---------------------------------------------------------------- autoretry and backoff


@pytest.mark.parametrize(("backoff", "cap", "tries"), [
    (True, 600, 3), (True, 600, None), (60, 600, 5), (3600, 7200, 2), (5, 10**6, 20), (0.5, 600, 4), (2, 600, 0),
    (True, 600, 100),
])
def test_the_longest_backoff_is_celerys_over_the_retries_allowed(backoff, cap, tries):
    """Celery's own function, without jitter, over the retries Task.retry sends (0 .. max_retries - 1)."""
    factor = int(max(1.0, float(backoff)))
    attempts = range(tries) if tries is not None else range(200)
    expected = max((get_exponential_backoff_interval(factor, n, int(cap)) for n in attempts), default=None)
    assert _backoff_peak(backoff, cap, tries) == expected


def test_autoretry_backoff_on_rabbitmq_with_jitter_is_a_possible_wait(tmp_path):
    tasks = """

@shared_task(acks_late=True, autoretry_for=(Exception,), max_retries=2, retry_backoff=3600,
             retry_backoff_max=7200)
def send_digest():
    pass
"""
    [finding] = check(tmp_path, shop(broker="amqp://rabbit:5672//", tasks=tasks))
    assert finding.message == (
        "task shop.tasks.send_digest retries with exponential backoff (retry_backoff=3600, max_retries=2) up to 2 h "
        "(its retry_backoff_max), at or above RabbitMQ's consumer_timeout (30 min by default): the worker holds the "
        "waiting message unacknowledged, so RabbitMQ closes the worker's channel and delivers again every message it "
        "held; with retry_jitter (on by default) each wait is drawn at random between 0 and its backoff, so a wait "
        "that long is possible, not certain: a draw under the 2 h backoff reaches 30 min 75 % of the time")
    assert finding.severity == "warning"
    assert finding.span.line == 22  # retry_backoff_max=7200
    assert [r.message for r in finding.related][:3] == [
        "task shop.tasks.send_digest retries on the exceptions of autoretry_for", "retry_backoff set here",
        "max_retries set here"]
    # QL103 reports this late-acked task for running with no hard limit, never for its retry delay.
    assert all("countdown" not in f.message and "backoff" not in f.message
               for f in check(tmp_path, shop(broker="amqp://rabbit:5672//", tasks=tasks), LateAckConsumerTimeout))


def test_without_jitter_the_backoff_reaches_the_deadline_for_certain(tmp_path):
    tasks = """

@shared_task(autoretry_for=(ConnectionError,), retry_backoff=600, retry_backoff_max=4 * 3600,
             retry_jitter=False, retry_kwargs={"max_retries": 4})
def sync():
    pass
"""
    [finding] = check(tmp_path, shop(broker="sqs://", tasks=tasks))
    # 600 * 2 ** 3 = 4800 s: below the cap, so the finding stands at retry_backoff.
    assert finding.message.startswith("task shop.tasks.sync retries with exponential backoff (retry_backoff=600, "
                                      "max_retries=4) up to 1 h 20 min, at or above the SQS default visibility timeout")
    assert finding.severity == "error" and "jitter" not in finding.message
    assert finding.span.line == 21


@pytest.mark.parametrize("decorator", [
    "@shared_task(autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=7200)",  # 1, 2, 4 s
    "@shared_task(autoretry_for=(Exception,), retry_backoff=60, max_retries=5)",  # capped at 600 s
    "@shared_task(autoretry_for=(), retry_backoff=3600, retry_backoff_max=7200)",  # no autoretry
    "@shared_task(retry_backoff=3600, retry_backoff_max=7200)",
    "@shared_task(autoretry_for=(Exception,), retry_backoff=3600, retry_backoff_max=7200, max_retries=0)",
    "@shared_task(autoretry_for=(Exception,), default_retry_delay=7200, retry_kwargs={'countdown': 30})",
    "@shared_task(autoretry_for=(Exception,), default_retry_delay=7200, retry_kwargs={'max_retries': 0})",
    "@shared_task(autoretry_for=(Exception,), retry_backoff=settings.BACKOFF, retry_backoff_max=7200)",
])
def test_backoffs_that_stay_short_are_not_reported(tmp_path, decorator):
    tasks = f"\n\n{decorator}\ndef sync():\n    pass\n"
    assert check(tmp_path, shop(settings="BACKOFF = 1 if DEBUG else 3600\nDEBUG = False\n", tasks=tasks)) == []


def test_autoretry_without_backoff_waits_retry_kwargs_countdown_else_the_default(tmp_path):
    tasks = """

@shared_task(autoretry_for=(KeyError,), retry_kwargs={"countdown": 2 * 3600})
def fetch():
    pass


@shared_task(autoretry_for=(KeyError,), default_retry_delay=settings.FETCH_RETRY)
def fetch_more():
    pass
"""
    found = check(tmp_path, shop(settings="FETCH_RETRY = 3 * 3600\n", tasks=tasks))
    # A delay set by name stands where the name is set, with the task among its related locations.
    assert [(f.span.path, f.span.line, f.message.split(", at or above")[0]) for f in found] == [
        ("shop/settings.py", 3, "task shop.tasks.fetch_more retries after its default_retry_delay of 3 h"),
        ("shop/tasks.py", 21, "task shop.tasks.fetch retries with retry_kwargs countdown 2 h")]
    assert (found[0].related[0].span.line, found[0].related[0].message) == (
        26, "task shop.tasks.fetch_more retries on the exceptions of autoretry_for")


# ---------------------------------------------------------------- brokers


def test_an_unknown_broker_stands_for_every_broker_and_the_message_names_each(tmp_path):
    tasks = "\n\ndef schedule(pk):\n    expire_export.apply_async((pk,), countdown=EXPORT_TTL)\n"
    files = shop(tasks=tasks)
    files["shop/settings.py"] = "import os\n\nINSTALLED_APPS = ['shop']\nCELERY_BROKER_URL = os.environ['BROKER_URL']\n"
    [finding] = check(tmp_path, files)
    assert finding.message == (
        "expire_export.apply_async(countdown=EXPORT_TTL) waits 6 h, at or above the ack deadline of every broker the "
        "app may run on, and the worker holds the waiting message unacknowledged: on Redis, after the Redis default "
        "visibility timeout of 1 h; on RabbitMQ, its consumer_timeout (30 min by default) closes the worker's channel "
        "and re-queues the message; on SQS, after the SQS default visibility timeout of 30 min (environment variable "
        "BROKER_URL (no default): any of Redis, RabbitMQ, SQS)")
    assert finding.fix.description == (
        "keep the delay below 30 min, or raise visibility_timeout in CELERY_BROKER_TRANSPORT_OPTIONS or raise "
        "consumer_timeout on RabbitMQ above it")


def test_an_unknown_broker_with_a_safe_alternative_is_silent(tmp_path):
    """45 min is past RabbitMQ's and SQS' deadlines but not Redis' hour: Redis may be the broker."""
    tasks = "\n\ndef schedule(pk):\n    expire_export.apply_async((pk,), countdown=45 * 60)\n"
    files = shop(tasks=tasks)
    files["shop/settings.py"] = "import os\n\nINSTALLED_APPS = ['shop']\nCELERY_BROKER_URL = os.environ['BROKER_URL']\n"
    assert check(tmp_path, files) == []
    # The deployment runs RabbitMQ and no other broker: then 45 min is past its consumer_timeout.
    files["docker-compose.yml"] = ("services:\n  worker:\n    build: .\n    command: celery -A shop worker\n"
                                   "  rabbit:\n    image: rabbitmq:3.12-management\n")
    [finding] = check(tmp_path, files)
    assert "at or above RabbitMQ's consumer_timeout (30 min by default)" in finding.message
    assert finding.related[-1].span.path == "docker-compose.yml"


def test_on_rabbitmq_qL104_reports_waiting_messages_and_ql103_does_not(tmp_path):
    tasks = "\n\ndef schedule(pk):\n    expire_export.apply_async((pk,), countdown=3600)\n"
    files = shop(broker="pyamqp://rabbit//", tasks=tasks)
    [finding] = check(tmp_path, files)
    assert finding.message.startswith("expire_export.apply_async(countdown=3600) waits 1 h, at or above RabbitMQ's "
                                      "consumer_timeout")
    assert check(tmp_path, files, LateAckConsumerTimeout) == []


def test_rabbitmq_native_delayed_delivery_holds_the_message_in_the_broker(tmp_path):
    tasks = "\n\ndef schedule(pk):\n    expire_export.apply_async((pk,), countdown=3600)\n"
    quorum = "CELERY_TASK_DEFAULT_QUEUE_TYPE = 'quorum'\n"
    # Quorum queues on the default direct exchange: Celery warns and the worker still holds the message.
    assert len(check(tmp_path, shop(broker="amqp://rabbit//", settings=quorum, tasks=tasks))) == 1
    topic = quorum + "CELERY_TASK_DEFAULT_EXCHANGE_TYPE = 'topic'\n"
    assert check(tmp_path, shop(broker="amqp://rabbit//", settings=topic, tasks=tasks)) == []


def test_the_qlint_command_reports_it_without_a_traceback(tmp_path):
    tasks = ("\n\n@shared_task(bind=True)\ndef sync(self, pk):\n    raise self.retry(countdown=settings.SYNC_RETRY)\n"
             "\n\ndef schedule(pk):\n    remind.apply_async((pk,), countdown=1 / 0)\n"
             "    remind.apply_async((pk,), countdown=[7200])\n    remind.apply_async((pk,), eta='tomorrow')\n")
    write_tree(tmp_path, shop(broker="sqs://", settings="from datetime import timedelta\n\n"
                                                       "SYNC_RETRY = timedelta(hours=1).total_seconds()\n", tasks=tasks))
    run = subprocess.run([sys.executable, "-m", "qlint", "check", "--no-cache", "--format", "json", "--select", "QL104",
                          "."], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    [finding] = json.loads(run.stdout)["findings"]
    assert (finding["code"], finding["path"], finding["line"]) == ("QL104", "shop/tasks.py", 23)
    assert finding["message"].startswith("task shop.tasks.sync retries with countdown=settings.SYNC_RETRY (1 h), at or "
                                         "above the SQS default visibility timeout of 30 min")


def test_sends_in_tests_are_left_alone(tmp_path):
    test = ("from shop.tasks import expire_export\n\n\ndef test_schedule(settings):\n"
            "    expire_export.apply_async((1,), countdown=6 * 3600)\n")
    assert check(tmp_path, shop(**{"shop/tests/test_tasks.py": test})) == []


def test_a_manual_backoff_on_request_retries_is_read_over_the_retries_allowed(tmp_path):
    tasks = """

@shared_task(bind=True, max_retries=8)
def push(self, pk):
    try:
        return pk
    except TimeoutError as exc:
        raise self.retry(exc=exc, countdown=60 * 2 ** self.request.retries)


@shared_task(bind=True, max_retries=5)
def poll(self, pk):
    attempt = self.request.retries
    raise self.retry(countdown=min(30 * (attempt + 1), 600))


@shared_task(bind=True, max_retries=None)
def wait(self, pk):
    raise self.retry(eta=timezone.now() + timedelta(minutes=2 ** self.request.retries))


@shared_task(bind=True, max_retries=settings.TRIES)
def flaky(self, pk):
    raise self.retry(countdown=60 * 2 ** self.request.retries)
"""
    found = check(tmp_path, shop(settings="import os\nTRIES = int(os.environ['TRIES'])\n", tasks=tasks))
    # push: 60 s * 2 ** 7 = 2 h 8 min at its 8th retry; poll stays under 10 min; flaky's limit is unknown.
    assert [f.message.split(", at or above")[0] for f in found] == [
        "task shop.tasks.push retries with countdown=60 * 2 ** self.request.retries (2 h 8 min at its retry 8)",
        "task shop.tasks.wait retries with eta=timezone.now() + timedelta(minutes=2 ** self.request.retries) "
        "(longer with every retry, without end: max_retries is None)",
    ]


def test_an_autoretry_policy_on_a_base_class_is_one_finding_for_its_tasks(tmp_path):
    tasks = """
from celery import Task


class RetryingTask(Task):
    autoretry_for = (ConnectionError,)
    retry_backoff = 600
    retry_backoff_max = 4 * 60 * 60
    max_retries = None


class ShortRetries(Task):
    autoretry_for = (Exception,)
    retry_backoff = True
    max_retries = 5


@shared_task(base=RetryingTask)
def sync_orders():
    pass


@shared_task(base=RetryingTask)
def sync_users():
    pass


@shared_task(base=ShortRetries, retry_backoff_max=7200)
def ping():
    pass
"""
    [finding] = check(tmp_path, shop(broker="sqs://", tasks=tasks))
    assert finding.span.line == 26  # retry_backoff_max = 4 * 60 * 60
    assert finding.message.startswith(
        "task shop.tasks.sync_orders retries with exponential backoff (retry_backoff=600, max_retries=None) up to 4 h "
        "(its retry_backoff_max) (so do tasks shop.tasks.sync_users), at or above the SQS default visibility timeout")
    assert finding.severity == "warning"
    assert [r.message for r in finding.related if r.message.startswith("task ")] == [
        "task shop.tasks.sync_orders retries on the exceptions of autoretry_for",
        "task shop.tasks.sync_users retries on the exceptions of autoretry_for"]
