"""What the server keeps between checks (facts, file bytes, pre-filter verdicts) changes
nothing it reports: after each of a series of edits, the diagnostics of the open files are
those of a fresh `qlint check` of the same contents."""
from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from qlint.lsp.convert import diagnostic
from qlint.pipeline.engine import check_paths
from qlint.user_config.project_config import load_config
from tests.lsp.test_server import change, diagnostics_for, open_file

TASKS = "from proj.celery import app\n\n\n@app.task(acks_late=True)\ndef build(x):\n    return x\n"
CONFIG = "broker_url = 'redis://localhost:6379/0'\ntask_acks_late = True\ntask_time_limit = 7200\n"
EDITS = [
    ("proj/tasks.py", TASKS),
    ("proj/celeryconfig.py", "broker_url = 'redis://localhost:6379/0'\n"),  # no time limit: QL102 in tasks.py
    ("proj/tasks.py", "import os\n\nLIMIT = 10\n" + TASKS + "\n\n@app.task\ndef other(y):\n    build.delay(y)\n"),
    ("proj/celeryconfig.py", "broker_url = 'redis://localhost:6379/0'\ntask_time_limit = (\n"),  # a syntax error
    ("proj/celeryconfig.py", CONFIG + "CELERY_ACKS_LATE = True\n"),
    ("proj/tasks.py", "from proj.celery import app\n\n\n@app.task\ndef broken(:\n"),
    ("proj/tasks.py", TASKS.replace("acks_late=True", "acks_late=True, time_limit=60")),
]


def fresh_check(project: Path, buffers: dict[str, str], scratch: Path) -> dict[str, list[tuple]]:
    """The diagnostics `qlint check` gives the open files of a copy of the project that holds
    the buffers' contents, without a cache."""
    copy = scratch / "copy"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(project, copy)
    for rel, text in buffers.items():
        (copy / rel).write_text(text)
    result = check_paths(["."], cwd=copy, root=copy, config=load_config(copy), use_cache=False)
    return {rel: sorted(comparable(diagnostic(f, copy)) for f in result.findings if f.span.path == rel)
            for rel in buffers}


def comparable(d: lsp.Diagnostic) -> tuple:
    start, end = d.range.start, d.range.end
    return d.code, (start.line, start.character, end.line, end.character), d.message, d.severity


async def published_again(client: LanguageClient, before: int, count: int) -> None:
    """Once `count` more publications have come than `before`."""
    while client.publish_count < before + count:  # type: ignore[attr-defined]
        await asyncio.sleep(0.02)


@pytest.mark.asyncio(loop_scope="function")
async def test_diagnostics_after_each_edit_are_those_of_a_fresh_check(client: LanguageClient, tmp_path_factory):
    project: Path = client.project  # type: ignore[attr-defined]
    scratch = tmp_path_factory.mktemp("fresh")
    buffers = {rel: (project / rel).read_text() for rel in ("proj/tasks.py", "proj/celeryconfig.py")}
    uris = {rel: await open_file(client, rel) for rel in buffers}
    versions = dict.fromkeys(buffers, 1)
    for rel in buffers:
        await diagnostics_for(client, uris[rel], version=1)
    for rel, text in EDITS:
        buffers[rel] = text
        versions[rel] += 1
        before = client.publish_count  # type: ignore[attr-defined]
        change(client, uris[rel], versions[rel], text)
        await published_again(client, before, len(buffers))  # one check publishes every open file
        expected = fresh_check(project, buffers, scratch)
        assert client.diagnostic_versions[uris[rel]] == versions[rel]  # type: ignore[attr-defined]
        for other in buffers:
            assert sorted(map(comparable, client.diagnostics[uris[other]])) == expected[other], (rel, text)
    # A file that is not open changes on disk: the next check reads it.
    before = client.publish_count  # type: ignore[attr-defined]
    (project / "proj/celery.py").write_text("from celery import Celery\n\napp = Celery('proj')\n"
                                            "app.config_from_object('proj.celeryconfig')\napp.conf.task_acks_late = False\n")
    client.workspace_did_change_watched_files(lsp.DidChangeWatchedFilesParams(
        [lsp.FileEvent(uri=(project / "proj/celery.py").as_uri(), type=lsp.FileChangeType.Changed)]))
    await published_again(client, before, len(buffers))
    expected = fresh_check(project, buffers, scratch)
    for rel in buffers:
        assert sorted(map(comparable, client.diagnostics[uris[rel]])) == expected[rel]
