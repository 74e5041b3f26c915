"""QL104: a countdown, eta or retry delay at or above the broker's ack deadline."""
from __future__ import annotations

from typing import Iterable

from qlint.semantics.durations import format_duration
from qlint.model import Finding, Fix
from qlint.resolve.project import Project
from qlint.rule import Example, Rule
from qlint.semantics.delays import Held, ack_deadlines, deadline_related, held_messages, longest, number
from qlint.semantics.delivery import Deadline, always, each_broker
from qlint.semantics.spelling import key

_APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'
_HEAD = "from proj.celery import app\n\n\n"
_REDIS = {"proj/__init__.py": "", "proj/celery.py": _APP, "proj/celeryconfig.py": "broker_url = 'redis://r'\n"}
_AMQP = {"proj/__init__.py": "", "proj/celery.py": _APP, "proj/celeryconfig.py": "broker_url = 'amqp://rabbit//'\n"}
_UNKNOWN = {"proj/__init__.py": "", "proj/celery.py": _APP,
            "proj/celeryconfig.py": "import os\nbroker_url = os.environ['BROKER_URL']\n"}
_DJANGO = {
    "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'shop.settings')\n",
    "shop/__init__.py": "",
    "shop/celery.py": "import os\nfrom celery import Celery\n\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'shop.settings')\n"
                      "app = Celery('shop')\napp.config_from_object('django.conf:settings', namespace='CELERY')\n",
}

# No app in the project: invenio-celery builds it from the config module of the entry point.
_INVENIO = {
    "setup.py": "from setuptools import setup\n\nsetup(name='archive', install_requires=['invenio-celery'],\n"
                "      entry_points={'invenio_config.module': ['archive = archive.config']})\n",
    "archive/__init__.py": "",
    "archive/config.py": "CELERY_BROKER_URL = 'amqp://guest:guest@mq:5672//'\n",
}
_INVENIO_TASK = ("from celery import shared_task\n\n\n@shared_task(max_retries=6, default_retry_delay={delay})\n"
                 "def archive_sip(sip_id):\n    try:\n        pass\n    except IOError as exc:\n"
                 "        archive_sip.retry(exc=exc)\n")


class EtaBeyondVisibilityTimeout(Rule):
    code = "QL104"
    name = "eta-beyond-visibility-timeout"
    severity = "error"
    summary = ("A task message waits on a countdown, eta or retry delay at least as long as the broker's ack deadline: "
               "it is delivered again and the task runs twice.")
    what = """
A message that waits for its time at least as long as the broker lets a delivery stay unacknowledged:
the visibility timeout on Redis and SQS (`broker_transport_options["visibility_timeout"]`, else 3600 s
and 1800 s), `consumer_timeout` on RabbitMQ (1800 s by default). The delays counted:

- sends: `apply_async(countdown=…)`, `apply_async(eta=now + duration)`, `send_task(…, countdown=…)`, and
  the same options on a signature (`signature(…, countdown=…)`, `sig.set(countdown=…)`,
  `sig.apply_async(countdown=…)`);
- retries: `self.retry(countdown=…)` or `eta=…` in a bound task, `some_task.retry(…)` naming a task; a
  countdown written with `self.request.retries` (a manual backoff, `60 * 2 ** self.request.retries`)
  counts at its longest over the retries `max_retries` allows. A retry that gives neither waits the
  task's `default_retry_delay` (180 s by default; set on the decorator, a base class or
  `task_annotations`); a `default_retry_delay` no retry uses is not reported;
- `autoretry_for`: a retry waits `retry_kwargs["countdown"]`, else `default_retry_delay`; with
  `retry_backoff`, Celery's exponential backoff: retry n (0 … max_retries − 1) waits
  min(`retry_backoff_max`, factor × 2ⁿ), factor being `retry_backoff` (True counts as 1),
  `retry_backoff_max` 600 s and `max_retries` 3 by default (`retry_kwargs["max_retries"]` wins).
  With `retry_jitter` (on by default) each wait is drawn at random between 0 and that: a wait past the
  deadline is then possible, not certain; the message says so and the finding is a warning.

Delays are read where they are written: numbers and arithmetic, local names, module constants (imported
ones too), Django settings (`settings.EXPORTS_TTL`, `getattr(settings, "X", default)`), `timedelta(…)` and
`.total_seconds()`, `min`/`max`/`int`. A delay that may also take a shorter value (a branch, a
parameter, a value qlint cannot read) is not reported, nor are sends and retries in test files.

Where the broker is not known it stands for each broker it may be (Redis, RabbitMQ and SQS, or the ones
the deployment runs): a delay is reported when it reaches the deadline of every one of them, and the
message says what each does. On RabbitMQ this rule reports every message that waits on its ETA; QL103
reports late-acknowledged tasks that *run* past `consumer_timeout`. Not reported on RabbitMQ where
Celery (5.5 and later) may use native delayed delivery (`task_default_queue_type = "quorum"` with an
exchange type other than direct): the worker then receives the message only when it is due.

Tasks of an app a framework builds (invenio-celery and Flask-CeleryExt, for a project that defines only
`@shared_task` functions) are judged by that app: its broker is read from the Flask configuration module
an `invenio_config.module` entry point names (CELERY_* keys), and is unknown where none is found.
"""
    why = """
The worker receives a message with an ETA at once and keeps it on a timer, unacknowledged, until it is
due (celery/worker/strategy.py). Retries are such messages too: `Task.retry` publishes the task again
with its countdown. On Redis each restore sweep (when a worker connects, then about every 100 s) pushes
back every message delivered more than `visibility_timeout` ago, and SQS makes it visible again when the
timeout expires: another worker, or the same one, receives it and schedules it a second time, and the
task runs once per sweep that caught it. On RabbitMQ (3.8.15 and later) a delivery left unacknowledged
longer than `consumer_timeout` makes the broker close the worker's channel (PRECONDITION_FAILED): every
message the worker held, the waiting one and the tasks reserved with it, is delivered again.
"""
    example = """
```python
# settings.py (Django, namespace CELERY); broker on Redis, default visibility timeout 1 h
EXPORT_RETRY_DELAY = 2 * 60 * 60

# tasks.py
@shared_task(bind=True, max_retries=5)
def export(self, report_id):
    try:
        upload(report_id)
    except TimeoutError as exc:
        raise self.retry(exc=exc, countdown=settings.EXPORT_RETRY_DELAY)   # 2 h

@shared_task(autoretry_for=(ConnectionError,), retry_backoff=600, max_retries=None,
             retry_backoff_max=4 * 60 * 60)                                # up to 4 h
def sync(account_id): ...
```
"""
    fix = """
Keep countdowns and retry delays below the deadline: below the visibility timeout, and below 30 min
where the broker may be RabbitMQ; cap a backoff with `retry_backoff_max` (or fewer `max_retries`) below
it. Or raise the deadline above the longest delay: `visibility_timeout` in `broker_transport_options`
(Redis, SQS), `consumer_timeout` on the RabbitMQ server or the queue's `x-consumer-timeout` argument. For
long delays, schedule with beat, or store the due time in the database and poll.
"""
    fix_safety = "No automatic fix: the delay is part of the application's behaviour."
    scenarios = ("examples/scenarios/eta-beyond-visibility-bad.yaml", "examples/scenarios/eta-beyond-visibility-fixed.yaml")
    invalid = (
        Example({**_REDIS, "proj/tasks.py": _HEAD + "@app.task\ndef remind(u):\n    pass\n\n\n"
                                            "def later(u):\n    remind.apply_async((u,), countdown=2 * 60 * 60)\n"}),
        Example({**_REDIS, "proj/tasks.py": _HEAD + "@app.task(bind=True)\ndef sync(self):\n"
                                            "    try:\n        pass\n    except OSError as exc:\n"
                                            "        raise self.retry(exc=exc, countdown=4000)\n"}),
        Example({**_REDIS, "proj/tasks.py": _HEAD + "@app.task(bind=True, default_retry_delay=7200)\ndef sync(self):\n"
                                            "    try:\n        pass\n    except OSError as exc:\n"
                                            "        raise self.retry(exc=exc)\n"},
                note="a retry without a countdown waits the task's default_retry_delay"),
        Example({**_AMQP, "proj/tasks.py": _HEAD + "@app.task(default_retry_delay=4 * 60 * 60, max_retries=6)\n"
                                           "def archive(sip):\n    try:\n        pass\n    except Exception as exc:\n"
                                           "        archive.retry(exc=exc)\n"},
                note="RabbitMQ: the retry waits 4 h, past the 30 min consumer_timeout"),
        Example({**_AMQP, "proj/tasks.py": _HEAD + "@app.task(autoretry_for=(Exception,), max_retries=2, retry_backoff=3600,\n"
                                           "          retry_backoff_max=7200)\ndef digest():\n    pass\n"},
                note="exponential backoff up to 2 h on RabbitMQ; with jitter it is possible, not certain"),
        Example({**_DJANGO, "shop/settings.py": "CELERY_BROKER_URL = 'sqs://'\nEXPORTS_TTL = 2 * 3600\n",
                 "shop/tasks.py": "from celery import shared_task\nfrom django.conf import settings\n\n\n"
                                  "@shared_task\ndef expire(export_id):\n    pass\n\n\n"
                                  "def schedule(export_id):\n"
                                  "    expire.apply_async((export_id,), countdown=settings.EXPORTS_TTL)\n"},
                note="a countdown read from Django settings, on SQS"),
        Example({**_UNKNOWN, "proj/constants.py": "from datetime import timedelta\n\nREMIND_AFTER = timedelta(days=1)\n",
                 "proj/tasks.py": _HEAD.replace("\n\n\n", "\nfrom proj.constants import REMIND_AFTER\n\n\n")
                 + "@app.task\ndef remind(u):\n    pass\n\n\n"
                   "def later(u):\n    remind.apply_async((u,), countdown=REMIND_AFTER.total_seconds())\n"},
                note="broker not known: a day outlasts the deadline of Redis, RabbitMQ and SQS alike"),
        Example({**_INVENIO, "archive/tasks.py": _INVENIO_TASK.format(delay="4 * 60 * 60")},
                note="Invenio makes the app from archive/config.py (RabbitMQ): the retry waits 4 h"),
    )
    valid = (
        Example({**_REDIS, "proj/tasks.py": _HEAD + "@app.task\ndef remind(u):\n    pass\n\n\n"
                                            "def later(u):\n    remind.apply_async((u,), countdown=600)\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "broker_url = 'redis://r'\nbroker_transport_options = {'visibility_timeout': 3 * 3600}\n",
                 "proj/tasks.py": _HEAD + "@app.task\ndef remind(u):\n    pass\n\n\n"
                                  "def later(u):\n    remind.apply_async((u,), countdown=2 * 60 * 60)\n"},
                note="the visibility timeout is above the countdown"),
        Example({**_AMQP, "proj/tasks.py": _HEAD + "@app.task(default_retry_delay=7200)\ndef sync():\n    pass\n"},
                note="no retry uses the default_retry_delay"),
        Example({**_REDIS, "proj/tasks.py": _HEAD + "@app.task(autoretry_for=(OSError,), retry_backoff=True,\n"
                                            "          retry_backoff_max=7200)\ndef sync():\n    pass\n"},
                note="backoff 1, 2, 4 s over the default 3 retries: the 2 h cap is never reached"),
        Example({**_UNKNOWN, "proj/tasks.py": _HEAD + "@app.task\ndef remind(u):\n    pass\n\n\n"
                                              "def later(u):\n    remind.apply_async((u,), countdown=2400)\n"},
                note="broker not known, and on Redis (1 h) a 40 min countdown is safe"),
        Example({**_REDIS, "proj/tasks.py": _HEAD + "@app.task\ndef remind(u):\n    pass\n\n\n"
                                            "def later(u, delay=7200):\n    remind.apply_async((u,), countdown=delay)\n"},
                note="the caller decides the delay"),
        Example({**_AMQP, "proj/celeryconfig.py": "broker_url = 'amqp://rabbit//'\ntask_default_queue_type = 'quorum'\n"
                                                  "task_default_exchange_type = 'topic'\n",
                 "proj/tasks.py": _HEAD + "@app.task\ndef remind(u):\n    pass\n\n\n"
                                  "def later(u):\n    remind.apply_async((u,), countdown=7200)\n"},
                note="quorum queues on a topic exchange: RabbitMQ holds the message, not the worker"),
        Example({**_INVENIO, "archive/tasks.py": _INVENIO_TASK.format(delay="600")},
                note="Invenio's app on RabbitMQ: a 10 min retry delay is below consumer_timeout"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        deadlines: dict[int, list[Deadline] | None] = {}
        for held in held_messages(project):
            if id(held.app) not in deadlines:
                deadlines[id(held.app)] = ack_deadlines(held.app, project)
            found = deadlines[id(held.app)]
            if not found:
                continue
            threshold = max(d.seconds for d in found)
            if always(held.seconds, lambda v: number(v) and v >= threshold):
                yield self._finding(held, found, threshold)

    def _finding(self, held: Held, deadlines: list[Deadline], threshold: float) -> Finding:
        if len(deadlines) > 1:
            where = ("at or above the ack deadline of every broker the app may run on, and the worker holds the "
                     f"waiting message unacknowledged: {each_broker(deadlines)}")
        elif deadlines[0].visibility is None:
            where = ("at or above RabbitMQ's consumer_timeout (30 min by default): the worker holds the waiting message "
                     "unacknowledged, so RabbitMQ closes the worker's channel and delivers again every message it held")
        else:
            deadline = deadlines[0]
            where = (f"at or above {deadline.visibility.describe(deadline.transport.kind)}: the worker holds the waiting "
                     "message unacknowledged, so the broker delivers it again and the task runs twice")
        message = f"{held.subject}, {where}"
        severity = None
        if held.jitter:
            peak = longest(held.seconds)
            share = round(100 * (peak - threshold + 1) / (peak + 1))
            message += ("; with retry_jitter (on by default) each wait is drawn at random between 0 and its backoff, "
                        f"so a wait that long is possible, not certain: a draw under the {format_duration(peak)} "
                        f"backoff reaches {format_duration(threshold)} {share} % of the time")
            severity = "warning"
        related = list(held.related) + [r for d in deadlines for r in deadline_related(d)]
        shortest = min(d.seconds for d in deadlines)
        raise_it = " or ".join(dict.fromkeys(
            "raise consumer_timeout on RabbitMQ" if d.visibility is None else
            f"raise visibility_timeout in {key(held.app, 'broker_transport_options')}" for d in deadlines))
        return self.finding(
            message, held.span, related,
            Fix(f"keep the delay below {format_duration(shortest)}, or {raise_it} above it"),
            depends_on=[*held.files, *(r.span.path for r in related)], severity=severity)
