"""A small project on disk and findings over it, shared by the report tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from qlint.model import Edit, Finding, Fix, Related, Span
from qlint.rule import Rule


class LateAck(Rule):
    code = "QL101"
    name = "late-ack-visibility-timeout"
    severity = "error"
    summary = "Late-acked tasks outlive the visibility timeout."
    what = "A late-acked task whose hard limit reaches the visibility timeout."
    why = "The broker delivers the message again while the task still runs."
    example = "```python\nCELERY_TASK_ACKS_LATE = True\n```"
    fix = "Raise `visibility_timeout` above the time limit."


class Payload(Rule):
    code = "QL201"
    name = "large-payload-argument"
    severity = "warning"
    summary = "A task argument carries data instead of a reference."
    what = "File contents passed to `.delay()`."
    why = "Every byte travels through the broker."
    example = "```python\nprocess.delay(f.read())\n```"
    fix = "Pass a path or an id."


class Prefetch(Rule):
    code = "QL401"
    name = "prefetch-long-tasks"
    severity = "info"
    summary = "Workers reserve messages behind long tasks."
    what = "Long tasks with a prefetch multiplier above 1."
    why = "Reserved messages wait while other workers idle."
    example = "```python\nworker_prefetch_multiplier = 4\n```"
    fix = "Set `worker_prefetch_multiplier = 1`."


RULES: dict[str, type[Rule]] = {r.code: r for r in (LateAck, Payload, Prefetch)}

FILES = {
    "settings/production.py": (
        "from .base import *\n"
        "\n"
        "CELERY_TASK_TIME_LIMIT = 24 * 60 * 60  # a day\n"
        "\tCELERY_X = 1\n"
        "NAME = '日本語' + VALUE\n"
    ),
    "settings/base.py": "CELERY_TASK_ACKS_LATE = True\nCELERY_BROKER_URL = 'redis://localhost'\n",
    "views.py": (
        "def upload(request):\n"
        "    process.delay(\n"
        "        request.FILES['f'].read(),\n"
        "    )\n"
    ),
    "deploy/Procfile": "web: gunicorn app.wsgi\nworker: celery -A proj worker -c 8\n",
    "deploy/worker.yaml": "services:\n  worker:\n    command: celery -A proj worker --prefetch-multiplier=4\n",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for rel, content in FILES.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return tmp_path


def late_ack() -> Finding:
    return LateAck().finding(
        "late-acked tasks may run 24 h, past Redis' 1 h visibility timeout",
        Span("settings/production.py", 3, 1, 3, 38),
        related=(
            Related(Span("settings/base.py", 1, 1, 1, 29), "late acknowledgement is turned on here"),
            Related(Span("settings/base.py", 2, 1, 2, 40), "the broker is Redis, whose default visibility timeout is 1 h"),
        ),
        fix=Fix(
            "set broker_transport_options['visibility_timeout'] above the time limit",
            (Edit(Span("settings/production.py", 4, 1, 4, 1), "CELERY_BROKER_TRANSPORT_OPTIONS = {'visibility_timeout': 90000}\n"),),
            "unsafe",
        ),
    )


def payload() -> Finding:
    return Payload().finding("the file's contents are sent through the broker", Span("views.py", 2, 5, 4, 6))


def prefetch() -> Finding:
    return Prefetch().finding(
        "this worker reserves 32 messages behind long tasks",
        Span("deploy/Procfile", 2, 9, 2, 35),
        related=(Related(Span("deploy/worker.yaml", 3, 14, 3, 60), "another worker with the default multiplier"),),
    )


def wide() -> Finding:
    return Payload().finding("names a wide string", Span("settings/production.py", 5, 8, 5, 13))


def tabbed() -> Finding:
    return Payload().finding("after a tab", Span("settings/production.py", 4, 2, 4, 10))


@pytest.fixture
def findings() -> list[Finding]:
    # Deliberately out of order: every format sorts.
    return [prefetch(), payload(), late_ack()]
