"""The server's first diagnostics: the answer an earlier `qlint check .` or an earlier server
stored for the tree as it is, while no open buffer differs from its file; then the server
reads the project for the edits that follow."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from tests.lsp.conftest import server_in
from tests.lsp.test_server import change, diagnostics_for, open_file

STORED = "qlint: showing the findings stored by an earlier check of this tree"
FIXED = ("broker_url = 'redis://localhost:6379/0'\ntask_acks_late = True\ntask_time_limit = 7200\n"
         "broker_transport_options = {'visibility_timeout': 8 * 3600}\n")


def stored_said(client: LanguageClient) -> bool:
    return any(m.message == STORED for m in client.log_messages)


def check_command(root: Path) -> list[tuple[str, int]]:
    done = subprocess.run([sys.executable, "-m", "qlint", "check", "--format", "json", "."], cwd=root,
                          capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    return sorted((f["code"], f["line"]) for f in json.loads(done.stdout)["findings"]
                  if f["path"] == "proj/celeryconfig.py")


def shown(diagnostics: list[lsp.Diagnostic]) -> list[tuple[str, int]]:
    return sorted((str(d.code), d.range.start.line + 1) for d in diagnostics)


@pytest.mark.asyncio(loop_scope="function")
async def test_the_answer_of_qlint_check_is_shown_first_then_edits_are_checked(project: Path):
    expected = check_command(project)
    assert ("QL101", 2) in expected
    async with server_in(project) as client:
        target = await open_file(client, "proj/celeryconfig.py")
        found = await diagnostics_for(client, target, lambda d: any(x.code == "QL101" for x in d))
        assert stored_said(client) and shown(found) == expected
        change(client, target, 2, FIXED)
        await diagnostics_for(client, target, lambda d: not any(x.code == "QL101" for x in d), version=2)


@pytest.mark.asyncio(loop_scope="function")
async def test_a_server_stores_its_first_answer_for_the_next(project: Path):
    async with server_in(project) as client:
        target = await open_file(client, "proj/celeryconfig.py")
        first = await diagnostics_for(client, target, lambda d: any(x.code == "QL101" for x in d))
        assert not stored_said(client)
    async with server_in(project) as client:
        target = await open_file(client, "proj/celeryconfig.py")
        again = await diagnostics_for(client, target, lambda d: any(x.code == "QL101" for x in d))
        assert stored_said(client) and shown(again) == shown(first)


@pytest.mark.asyncio(loop_scope="function")
async def test_a_buffer_unlike_its_file_is_checked_not_looked_up(project: Path):
    assert ("QL101", 2) in check_command(project)
    async with server_in(project) as client:
        target = await open_file(client, "proj/celeryconfig.py", FIXED)
        found = await diagnostics_for(client, target)
        assert not any(d.code == "QL101" for d in found) and not stored_said(client)


@pytest.mark.asyncio(loop_scope="function")
async def test_a_change_the_stored_answer_does_not_depend_on_keeps_it(project: Path):
    """A module with nothing Celery-related in it, added or edited after the check
    (run_cache.py); one that defines a task is read."""
    expected = check_command(project)
    plain = project / "proj/helpers.py"
    for text in ("def double(x):\n    return 2 * x\n", "def double(x):\n    return x + x  # the same\n"):
        plain.write_text(text, encoding="utf-8")
        async with server_in(project) as client:
            target = await open_file(client, "proj/celeryconfig.py")
            found = await diagnostics_for(client, target, lambda d: any(x.code == "QL101" for x in d))
            assert stored_said(client) and shown(found) == expected
    plain.write_text("from proj.celery import app\n\n\n@app.task\ndef double(x):\n    return 2 * x\n",
                     encoding="utf-8")
    async with server_in(project) as client:
        target = await open_file(client, "proj/celeryconfig.py")
        await diagnostics_for(client, target, lambda d: any(x.code == "QL101" for x in d))
        assert not stored_said(client)


@pytest.mark.asyncio(loop_scope="function")
async def test_a_file_changed_since_the_stored_check_is_checked(project: Path):
    assert ("QL101", 2) in check_command(project)
    (project / "proj/celeryconfig.py").write_text(FIXED, encoding="utf-8")
    async with server_in(project) as client:
        target = await open_file(client, "proj/celeryconfig.py")
        found = await diagnostics_for(client, target)
        assert not any(d.code == "QL101" for d in found) and not stored_said(client)
