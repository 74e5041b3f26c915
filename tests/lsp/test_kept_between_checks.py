"""The server's checks as it runs them (analyse() with the memories it keeps, then check()),
in one process, through a series of changes on disk and in a buffer that change the
pre-filters' verdicts and what QL305's second pass reads: each time the findings are those of
a fresh `qlint check` of the same contents."""
from __future__ import annotations

from pathlib import Path

import pytest

from qlint.pipeline.analysis import analyse
from qlint.pipeline.engine import check, check_paths
from qlint.scan import file_memory
from qlint.scan.facts_cache import KeptFacts
from qlint.scan.file_memory import FileMemory
from qlint.user_config.project_config import load_config
from tests.rules.test_ql305_callers import APP, MODELS, NOTIFY, TASKS

# No Celery or transaction marker: QL305's second pass reads it for calling notify_customer().
VIEWS = ("from django.shortcuts import get_object_or_404, redirect\n\nfrom shop.models import Order\n"
         "from shop.notify import notify_customer\n\n\n"
         "def pay(request, pk):\n    order = get_object_or_404(Order, pk=pk)\n    order.paid = True\n"
         "    order.save()\n    notify_customer(order)\n    return redirect('/')\n")


def settings(atomic_requests: bool) -> str:
    return ('DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "shop",\n'
            f'                         "ATOMIC_REQUESTS": {atomic_requests}}}}}\n'
            'CELERY_BROKER_URL = "redis://localhost:6379/0"\nCELERY_TASK_ACKS_LATE = True\n')


JOBS = "from shop.celery import app\n\n\n@app.task(acks_late=True)\ndef job():\n    return 1\n"
BASE = {"pyproject.toml": "[project]\nname = 'shop'\n", "shop/__init__.py": "", "shop/celery.py": APP,
        "shop/settings.py": settings(True), "shop/models.py": MODELS, "shop/tasks.py": TASKS,
        "shop/notify.py": NOTIFY, "shop/views.py": VIEWS.replace("    notify_customer(order)\n", ""),
        "shop/jobs.py": "def job():\n    return 1\n"}
# Each step: files written on disk, and the settings buffer (None: as on disk).
STEPS = [
    ({}, None),
    ({"shop/views.py": VIEWS}, None),  # the view calls the helper that sends
    ({"shop/views.py": "import logging\n\n" + VIEWS}, None),  # the finding moves down two lines
    ({"shop/notify.py": NOTIFY.replace("send_receipt.delay(order.pk)", "print(order.pk)")}, None),  # sends nothing
    ({"shop/notify.py": NOTIFY}, settings(False)),  # sends again; the buffer turns ATOMIC_REQUESTS off
    ({}, settings(True) + "CELERY_TASK_TIME_LIMIT = 60\n"),
    ({"shop/jobs.py": JOBS}, None),  # a Celery marker: the file is read
    ({"shop/jobs.py": "def job():\n    return 2 + 1\n"}, None),  # none left: no longer read
    ({"shop/helpers.py": "from shop.notify import notify_customer\n\n\ndef go(o):\n    o.save()\n"
                         "    notify_customer(o)\n"}, None),  # a file added
]


def findings(result) -> list[tuple]:
    return sorted((f.code, f.span.path, f.span.line, f.span.column, f.message) for f in result.findings)


def test_kept_memories_give_the_findings_of_a_fresh_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # The files of this test all change within a second of being read: the guard against such
    # changes would keep none of them. Each change below alters the file's size.
    monkeypatch.setattr(file_memory, "RACY_NS", 0)
    for rel, content in BASE.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(content)
    facts_memory = KeptFacts()
    files_memory = FileMemory()
    seen_ql305 = False
    for written, buffer in STEPS:
        for rel, content in written.items():
            (tmp_path / rel).write_text(content)
        buffers = {"shop/settings.py": (buffer if buffer is not None else (tmp_path / "shop/settings.py").read_text()).encode()}
        config = load_config(tmp_path)
        analysis = analyse(["."], cwd=tmp_path, root=tmp_path, exclude=config.exclude, overrides=buffers,
                           facts_memory=facts_memory, files_memory=files_memory, config=config)
        try:
            kept = findings(check(analysis, config, ["."], buffers=buffers))
        finally:
            analysis.close()
        (tmp_path / "shop/settings.py").write_bytes(buffers["shop/settings.py"])  # the fresh check reads the buffer
        fresh = findings(check_paths(["."], cwd=tmp_path, root=tmp_path, config=config, use_cache=False))
        if buffer is not None:
            (tmp_path / "shop/settings.py").write_text(BASE["shop/settings.py"])
        assert kept == fresh, written
        seen_ql305 |= any(code == "QL305" for code, *_ in fresh)
    assert seen_ql305
