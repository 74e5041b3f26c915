"""Edits that cannot change the findings keep the last check's answer (qlint/lsp/kept.py): a
buffer or file the check did not use, still giving the verdicts it asked of it. Anything else
is checked again, with the findings a fresh check gives."""
from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from qlint.lsp.server import KEPT
from tests.lsp.conftest import server_in
from tests.lsp.test_server import change, diagnostics_for, open_file

PLAIN = "def double(x):\n    return 2 * x\n"
TASK = "from proj.celery import app\n\n\n@app.task(acks_late=True)\ndef more(x):\n    return x\n"
CONFIG = "broker_url = 'redis://localhost:6379/0'\n"
TASKS_WITH_LIMIT = ("from proj.celery import app\nfrom proj.limits import LIMIT\n\n\n"
                    "@app.task(acks_late=True, time_limit=LIMIT)\ndef build(x):\n    return x\n")


def kept(client: LanguageClient) -> int:
    return sum(m.message == KEPT for m in client.log_messages)


def codes(diagnostics) -> list[tuple[str, int]]:
    return sorted((str(d.code), d.range.start.line + 1) for d in diagnostics)


async def open_both(client: LanguageClient) -> tuple[str, str, list]:
    """The settings (QL101 in them) and helpers.py opened, once both have diagnostics."""
    config = await open_file(client, "proj/celeryconfig.py")
    helpers = await open_file(client, "proj/helpers.py")
    found = await diagnostics_for(client, config, lambda d: any(x.code == "QL101" for x in d))
    await diagnostics_for(client, helpers, version=1)
    return config, helpers, found


@pytest.mark.asyncio(loop_scope="function")
async def test_an_edit_of_a_module_nothing_used_keeps_the_findings(project: Path):
    (project / "proj/helpers.py").write_text(PLAIN)
    async with server_in(project) as client:
        config, helpers, before = await open_both(client)
        count = kept(client)
        change(client, helpers, 2, PLAIN + "\n\nTRIPLE = 3\n")
        assert await diagnostics_for(client, helpers, version=2) == []
        assert kept(client) == count + 1
        assert codes(client.diagnostics[config]) == codes(before)
        # A task in it now: a marker the check did not see, so the project is read again.
        change(client, helpers, 3, TASK)
        found = await diagnostics_for(client, helpers, lambda d: any(x.code == "QL101" for x in d), version=3)
        assert ("QL101", 4) in codes(found) and kept(client) == count + 1


@pytest.mark.asyncio(loop_scope="function")
async def test_a_module_the_check_read_is_checked_again(project: Path):
    """limits.py has no Celery marker, but the task's time limit comes from it."""
    (project / "proj/celeryconfig.py").write_text(CONFIG)
    (project / "proj/tasks.py").write_text(TASKS_WITH_LIMIT)
    (project / "proj/limits.py").write_text("LIMIT = 7200\n")
    async with server_in(project) as client:
        limits = await open_file(client, "proj/limits.py")
        await diagnostics_for(client, limits, lambda d: any(x.code == "QL101" for x in d))
        count = kept(client)
        change(client, limits, 2, "LIMIT = 600\n")
        await diagnostics_for(client, limits, lambda d: not any(x.code == "QL101" for x in d), version=2)
        assert kept(client) == count


@pytest.mark.asyncio(loop_scope="function")
async def test_a_file_the_check_read_changed_on_disk_is_checked_again(project: Path):
    (project / "proj/helpers.py").write_text(PLAIN)
    async with server_in(project) as client:
        _, helpers, _ = await open_both(client)
        count = kept(client)
        # The task module loses its late ack on disk (a checkout); the next check, for an
        # edit of the plain module, reads it.
        (project / "proj/tasks.py").write_text("from proj.celery import app\n\n\n@app.task(acks_late=False)\n"
                                               "def build(x):\n    return x\n")
        change(client, helpers, 2, PLAIN + "# edited\n")
        await diagnostics_for(client, helpers, version=2)
        assert kept(client) == count
        # and a file added that nothing reads (a changelog) keeps the answer
        (project / "CHANGES.md").write_text("# 1.0\n")
        change(client, helpers, 3, PLAIN + "# edited again\n")
        await diagnostics_for(client, helpers, version=3)
        assert kept(client) == count + 1


@pytest.mark.asyncio(loop_scope="function")
async def test_a_plain_buffer_that_stops_parsing_shows_its_problem_and_loses_it_when_fixed(project: Path):
    (project / "proj/helpers.py").write_text(PLAIN)
    async with server_in(project) as client:
        helpers = await open_file(client, "proj/helpers.py")
        assert await diagnostics_for(client, helpers, version=1) == []
        change(client, helpers, 2, "def double(x:\n    return 2 * x\n")
        found = await diagnostics_for(client, helpers, version=2)
        assert [(str(d.code), d.severity) for d in found] == [("QL000", lsp.DiagnosticSeverity.Information)]
        change(client, helpers, 3, PLAIN + "\n")
        assert await diagnostics_for(client, helpers, version=3) == []
