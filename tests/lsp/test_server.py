"""The language server through a real LSP client: diagnostics as buffers change, across
files, code actions, hover, configuration reload, and bad input."""
from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient


def uri(client: LanguageClient, rel: str) -> str:
    return (client.project / rel).as_uri()  # type: ignore[attr-defined]


async def open_file(client: LanguageClient, rel: str, text: str | None = None) -> str:
    path: Path = client.project / rel  # type: ignore[attr-defined]
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(
        uri=path.as_uri(), language_id="python", version=1, text=text if text is not None else path.read_text())))
    return path.as_uri()


async def diagnostics_for(client: LanguageClient, target: str, want=lambda d: True, version: int | None = None,
                          give_up_after: float = 120.0) -> list:
    """The latest diagnostics for target once they describe at least `version` of the buffer
    and `want` holds for them. Polls what the client has received, so a publication that
    arrives between two looks is never missed; the bound only turns a dead server into a
    failure instead of a hang."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + give_up_after
    while True:
        found = client.diagnostics.get(target)
        seen = client.diagnostic_versions.get(target)  # type: ignore[attr-defined]
        if found is not None and (version is None or (seen is not None and seen >= version)) and want(found):
            return list(found)
        if loop.time() > deadline:
            raise AssertionError(f"no matching diagnostics for {target} (version {seen}): {found}")
        await asyncio.sleep(0.02)


def change(client: LanguageClient, target: str, version: int, text: str) -> None:
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        lsp.VersionedTextDocumentIdentifier(uri=target, version=version),
        [lsp.TextDocumentContentChangeWholeDocument(text=text)]))


@pytest.mark.asyncio(loop_scope="function")
async def test_open_reports_findings_with_code_link_and_related(client: LanguageClient):
    target = await open_file(client, "proj/celeryconfig.py")
    found = await diagnostics_for(client, target, lambda d: any(x.code == "QL101" for x in d))
    ql101 = next(d for d in found if d.code == "QL101")
    assert ql101.severity == lsp.DiagnosticSeverity.Error and ql101.source == "qlint"
    assert ql101.range.start.line == 1  # task_acks_late = True, 0-based
    # The rule's own page, installed with qlint: the project declares no public home.
    href = ql101.code_description.href if ql101.code_description is not None else ""
    assert href.startswith("file://") and href.endswith("/docs/rules/QL101.md")
    assert Path(unquote(urlsplit(href).path)).read_text(encoding="utf-8").splitlines()[2].startswith("# QL101 ")
    assert ql101.related_information and any("time limit" in r.message for r in ql101.related_information)


@pytest.mark.asyncio(loop_scope="function")
async def test_change_from_the_unsaved_buffer_clears_the_finding(client: LanguageClient):
    target = await open_file(client, "proj/celeryconfig.py")
    await diagnostics_for(client, target, lambda d: any(x.code == "QL101" for x in d))
    fixed = ("broker_url = 'redis://localhost:6379/0'\ntask_acks_late = True\ntask_time_limit = 7200\n"
             "broker_transport_options = {'visibility_timeout': 8 * 3600}\n")
    change(client, target, 2, fixed)
    await diagnostics_for(client, target, lambda d: not any(x.code == "QL101" for x in d), version=2)
    # Nothing was written: the file on disk still has the hazard.
    assert "visibility_timeout" not in (client.project / "proj/celeryconfig.py").read_text()  # type: ignore[attr-defined]


@pytest.mark.asyncio(loop_scope="function")
async def test_editing_one_file_updates_findings_in_another(client: LanguageClient):
    tasks = await open_file(client, "proj/tasks.py")
    config = await open_file(client, "proj/celeryconfig.py")
    await diagnostics_for(client, tasks, lambda d: not any(x.code == "QL102" for x in d))
    # The task becomes late-acked with no limit: QL102 appears in tasks.py once the
    # settings drop their time limit.
    change(client, tasks, 2, "from proj.celery import app\n\n\n@app.task(acks_late=True)\ndef build(x):\n    return x\n")
    change(client, config, 2, "broker_url = 'redis://localhost:6379/0'\n")
    found = await diagnostics_for(client, tasks, lambda d: any(x.code == "QL102" for x in d))
    assert next(d for d in found if d.code == "QL102").range.start.line == 3


@pytest.mark.asyncio(loop_scope="function")
async def test_code_actions_suppress_and_fix_then_recheck(client: LanguageClient):
    text = "CELERY_ACKS_LATE = True\nbroker_url = 'amqp://'\n"
    target = await open_file(client, "proj/celeryconfig.py", text)
    found = await diagnostics_for(client, target, lambda d: any(x.code == "QL002" for x in d))
    diag = next(d for d in found if d.code == "QL002")
    actions = await client.text_document_code_action_async(lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(target), range=diag.range,
        context=lsp.CodeActionContext(diagnostics=[diag])))
    titles = [a.title for a in actions]
    assert "Suppress QL002 on this line" in titles
    fix = next(a for a in actions if a.title.startswith("QL002:"))
    [edit] = fix.edit.changes[target]
    assert edit.new_text == "task_acks_late" and edit.range.start == lsp.Position(0, 0)
    # Apply it as an editor would, and the finding goes.
    change(client, target, 2, "task_acks_late = True\nbroker_url = 'amqp://'\n")
    await diagnostics_for(client, target, lambda d: not any(x.code == "QL002" for x in d), version=2)
    # The suppression comment works from the buffer too.
    change(client, target, 3, "CELERY_ACKS_LATE = True  # qlint: ignore[QL002]\nbroker_url = 'amqp://'\n")
    await diagnostics_for(client, target, lambda d: not any(x.code == "QL002" for x in d), version=3)


@pytest.mark.asyncio(loop_scope="function")
async def test_hover_on_a_setting_shows_its_effective_value(client: LanguageClient):
    target = await open_file(client, "proj/celeryconfig.py")
    await diagnostics_for(client, target)
    result = await client.text_document_hover_async(lsp.HoverParams(
        lsp.TextDocumentIdentifier(target), lsp.Position(2, 3)))
    assert result is not None
    text = result.contents.value
    assert "task_time_limit" in text and "7200" in text and "proj/celeryconfig.py:3" in text


@pytest.mark.asyncio(loop_scope="function")
async def test_configuration_reload(client: LanguageClient):
    target = await open_file(client, "proj/celeryconfig.py")
    await diagnostics_for(client, target, lambda d: any(x.code == "QL101" for x in d))
    pyproject = client.project / "pyproject.toml"  # type: ignore[attr-defined]
    pyproject.write_text("[project]\nname = 'proj'\n\n[tool.qlint]\nignore = ['QL101']\n")
    client.workspace_did_change_watched_files(lsp.DidChangeWatchedFilesParams(
        [lsp.FileEvent(pyproject.as_uri(), lsp.FileChangeType.Changed)]))
    await diagnostics_for(client, target, lambda d: not any(x.code == "QL101" for x in d))


@pytest.mark.asyncio(loop_scope="function")
async def test_bad_input_keeps_the_server_alive(client: LanguageClient):
    target = await open_file(client, "proj/tasks.py", "def broken(:\n")
    found = await diagnostics_for(client, target, lambda d: any(x.code == "QL000" for x in d))
    assert found[0].range.start.line == 0
    with pytest.raises(JsonRpcException):
        await client.text_document_hover_async(lsp.HoverParams(
            lsp.TextDocumentIdentifier(uri(client, "proj/never_opened.py")), lsp.Position(0, 0)))
    # A change for a document that was never opened, then a normal request: still answered.
    change(client, uri(client, "proj/ghost.py"), 5, "x = 1\n")
    await asyncio.sleep(0.1)
    config = await open_file(client, "proj/celeryconfig.py")
    await diagnostics_for(client, config, lambda d: any(x.code == "QL101" for x in d))


@pytest.mark.asyncio(loop_scope="function")
async def test_findings_in_a_compose_file(client: LanguageClient):
    compose = client.project / "docker-compose.yml"  # type: ignore[attr-defined]
    compose.write_text("services:\n  worker:\n    command: celery -A proj worker -B\n    deploy:\n      replicas: 2\n")
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(
        uri=compose.as_uri(), language_id="yaml", version=1, text=compose.read_text())))
    found = await diagnostics_for(client, compose.as_uri(), lambda d: any(x.code == "QL503" for x in d))
    beat = next(d for d in found if d.code == "QL503")
    assert beat.range.start == lsp.Position(4, 16)  # replicas: 2


@pytest.mark.asyncio(loop_scope="function")
async def test_save_rechecks_with_files_changed_on_disk(client: LanguageClient):
    tasks = await open_file(client, "proj/tasks.py")
    await diagnostics_for(client, tasks, lambda d: not any(x.code == "QL102" for x in d))
    # The settings lose their time limit on disk (another tool, a git checkout); the
    # task becomes late-acked and is saved: the re-check reads both.
    (client.project / "proj/celeryconfig.py").write_text("broker_url = 'redis://localhost:6379/0'\n")  # type: ignore[attr-defined]
    text = "from proj.celery import app\n\n\n@app.task(acks_late=True)\ndef build(x):\n    return x\n"
    (client.project / "proj/tasks.py").write_text(text)  # type: ignore[attr-defined]
    change(client, tasks, 2, text)
    client.text_document_did_save(lsp.DidSaveTextDocumentParams(lsp.TextDocumentIdentifier(tasks)))
    found = await diagnostics_for(client, tasks, lambda d: any(x.code == "QL102" for x in d), version=2)
    assert next(d for d in found if d.code == "QL102").range.start.line == 3


@pytest.mark.asyncio(loop_scope="function")
async def test_close_clears_the_file_and_drops_its_unsaved_buffer(client: LanguageClient):
    late = "from proj.celery import app\n\n\n@app.task(acks_late=True)\ndef build(x):\n    return x\n"
    (client.project / "proj/tasks.py").write_text(late)  # type: ignore[attr-defined]
    tasks = await open_file(client, "proj/tasks.py")
    config = await open_file(client, "proj/celeryconfig.py")
    # The task's own late ack with the app's 2 h limit: QL101 at the task.
    await diagnostics_for(client, tasks, lambda d: any(x.code == "QL101" for x in d))
    # An unsaved edit to the settings shortens the limit, and the task's finding goes...
    change(client, config, 2, "broker_url = 'redis://localhost:6379/0'\ntask_time_limit = 600\n")
    await diagnostics_for(client, tasks, lambda d: not any(x.code == "QL101" for x in d))
    # ...until the buffer is closed without saving: the file on disk counts again.
    client.text_document_did_close(lsp.DidCloseTextDocumentParams(lsp.TextDocumentIdentifier(config)))
    await diagnostics_for(client, config, lambda d: len(d) == 0)
    await diagnostics_for(client, tasks, lambda d: any(x.code == "QL101" for x in d))


@pytest.mark.asyncio(loop_scope="function")
async def test_malformed_messages_are_survived(client: LanguageClient):
    writer = client.protocol.writer
    # A body that is not JSON, then a notification whose params do not fit the method.
    body = b"{this is not json"
    writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    body = b'{"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": 5}}'
    writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    with pytest.raises(JsonRpcException):
        await client.protocol.send_request_async("qlint/noSuchMethod", {})
    config = await open_file(client, "proj/celeryconfig.py")
    await diagnostics_for(client, config, lambda d: any(x.code == "QL101" for x in d))
    hover = await client.text_document_hover_async(lsp.HoverParams(lsp.TextDocumentIdentifier(config), lsp.Position(2, 3)))
    assert hover is not None and "task_time_limit" in hover.contents.value


async def hover_at(client: LanguageClient, target: str, line: int, character: int) -> str | None:
    result = await client.text_document_hover_async(lsp.HoverParams(lsp.TextDocumentIdentifier(target),
                                                                    lsp.Position(line, character)))
    return result.contents.value if result is not None else None


@pytest.mark.asyncio(loop_scope="function")
async def test_hover_on_a_task_option_and_a_transport_option(client: LanguageClient):
    tasks = await open_file(client, "proj/tasks.py", "from proj.celery import app\n\n\n@app.task(\n    time_limit=None,\n"
                                                     "    acks_late=True)\ndef build(x):\n    return x\n")
    config = await open_file(client, "proj/celeryconfig.py", "broker_url = 'redis://localhost:6379/0'\n"
                                                            "task_time_limit = 7200\n"
                                                            "broker_transport_options = {'visibility_timeout': 9000}\n")
    await diagnostics_for(client, config, version=1)  # a check that saw both buffers
    assert not any(d.code == "QL101" for d in client.diagnostics[tasks])  # 7200 s < 9000 s
    own = await hover_at(client, tasks, 5, 6)  # acks_late=True in the decorator
    assert own is not None and "task_acks_late" in own and "`True` — proj/tasks.py:6" in own
    # time_limit=None falls back to the app's setting, and the hover says where that is.
    fallback = await hover_at(client, tasks, 4, 6)
    assert fallback is not None and "`7200` — proj/celeryconfig.py:2" in fallback
    assert await hover_at(client, tasks, 7, 6) is None  # `return x`: not an option
    key = await hover_at(client, config, 2, 32)
    assert key is not None and "visibility_timeout" in key and "9000" in key and "proj/celeryconfig.py:3" in key
