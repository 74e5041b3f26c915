"""The language server against a client that breaks the protocol or names odd documents
(issue 15): a real client over real pipes, as tests/lsp/test_server.py drives it.

A frame whose header cannot be read (`Content-Length: abc`, a negative length, a length
shorter than the body) ends the connection with an error: before, the server stayed up
and answered nothing again. A document whose URI holds %00 must not stop the diagnostics
of the others, nor a file in the workspace whose name is not UTF-8. `exit` without
`shutdown` ends the server with status 1, as the protocol says.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

from tests.lsp.conftest import APP
from tests.resolve.conftest import write_tree

# Bounds that turn a server that never answers or never ends into a failure, not timings.
GIVE_UP = 120.0


async def started(root: Path) -> tuple[LanguageClient, dict[str, list]]:
    client = LanguageClient("test", "1")
    published: dict[str, list] = {}

    @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: lsp.PublishDiagnosticsParams) -> None:
        published[params.uri] = params.diagnostics

    await client.start_io(sys.executable, "-m", "qlint", "lsp", cwd=str(root))
    await client.initialize_async(lsp.InitializeParams(capabilities=lsp.ClientCapabilities(), root_uri=root.as_uri()))
    client.initialized(lsp.InitializedParams())
    return client, published


def open_document(client: LanguageClient, uri: str, text: str) -> None:
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(
        uri=uri, language_id="python", version=1, text=text)))


async def diagnostics(published: dict[str, list], uri: str, want=lambda d: True) -> list:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + GIVE_UP
    while not (uri in published and want(published[uri])):
        if loop.time() > deadline:
            raise AssertionError(f"no matching diagnostics for {uri}: {published.get(uri)}")
        await asyncio.sleep(0.05)
    return published[uri]


async def ended(client: LanguageClient) -> tuple[int, str]:
    """The server's exit status and what it wrote on stderr, once it has ended."""
    server = client._server
    assert server is not None
    code = await asyncio.wait_for(server.wait(), GIVE_UP)
    err = (await server.stderr.read()).decode("utf-8", "replace") if server.stderr else ""
    await client.stop()
    return code, err


def frame(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


@pytest.mark.asyncio(loop_scope="function")
@pytest.mark.parametrize("broken", [
    b"Content-Length: abc\r\n\r\n{}",
    b"Content-Length: -5\r\n\r\n{}",
    b"Content-Length: 5\r\n\r\n" + json.dumps({"jsonrpc": "2.0", "method": "initialized", "params": {}}).encode(),
], ids=["not-a-number", "negative", "short"])
async def test_a_frame_that_breaks_the_framing_ends_the_connection(tmp_path: Path, broken: bytes):
    write_tree(tmp_path, APP)
    client, published = await started(tmp_path)
    config = (tmp_path / "proj/celeryconfig.py")
    open_document(client, config.as_uri(), config.read_text())
    await diagnostics(published, config.as_uri(), lambda d: any(x.code == "QL101" for x in d))
    client.protocol.writer.write(broken)
    # What follows is not read as if nothing happened: the server says why and ends.
    client.protocol.writer.write(frame({"jsonrpc": "2.0", "id": 99, "method": "shutdown"}))
    code, err = await ended(client)
    assert code == 1 and "malformed message from the client" in err, err
    assert "Traceback" not in err


@pytest.mark.asyncio(loop_scope="function")
async def test_a_body_that_is_not_json_is_skipped_and_the_next_message_read(tmp_path: Path):
    write_tree(tmp_path, APP)
    client, published = await started(tmp_path)
    client.protocol.writer.write(b"Content-Length: 6\r\n\r\n{oops}")
    config = (tmp_path / "proj/celeryconfig.py")
    open_document(client, config.as_uri(), config.read_text())
    await diagnostics(published, config.as_uri(), lambda d: any(x.code == "QL101" for x in d))
    await client.shutdown_async(None)
    client.exit(None)
    code, _ = await ended(client)
    assert code == 0


@pytest.mark.asyncio(loop_scope="function")
async def test_exit_without_shutdown_ends_with_status_1(tmp_path: Path):
    write_tree(tmp_path, APP)
    client, _ = await started(tmp_path)
    client.exit(None)
    code, _ = await ended(client)
    assert code == 1


@pytest.mark.asyncio(loop_scope="function")
async def test_a_uri_with_a_nul_leaves_the_other_documents_checked(tmp_path: Path):
    write_tree(tmp_path, APP)
    client, published = await started(tmp_path)
    open_document(client, tmp_path.as_uri() + "/proj/odd%00name.py", "import celery\n")
    config = (tmp_path / "proj/celeryconfig.py")
    open_document(client, config.as_uri(), config.read_text())
    await diagnostics(published, config.as_uri(), lambda d: any(x.code == "QL101" for x in d))
    # and it goes on checking as the buffers change
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        lsp.VersionedTextDocumentIdentifier(uri=config.as_uri(), version=2),
        [lsp.TextDocumentContentChangeWholeDocument(text="broker_url = 'redis://localhost:6379/0'\n")]))
    await diagnostics(published, config.as_uri(), lambda d: not any(x.code == "QL101" for x in d))
    await client.shutdown_async(None)
    client.exit(None)
    code, err = await ended(client)
    assert code == 0 and "Traceback" not in err, err


@pytest.mark.asyncio(loop_scope="function")
async def test_a_file_name_that_is_not_utf8_leaves_the_workspace_checked(tmp_path: Path):
    write_tree(tmp_path, APP)
    with open(os.fsencode(tmp_path) + b"/proj/notes-\xff.py", "wb") as handle:
        handle.write(b"from celery import shared_task\n")
    client, published = await started(tmp_path)
    config = (tmp_path / "proj/celeryconfig.py")
    open_document(client, config.as_uri(), config.read_text())
    await diagnostics(published, config.as_uri(), lambda d: any(x.code == "QL101" for x in d))
    await client.shutdown_async(None)
    client.exit(None)
    code, _ = await ended(client)
    assert code == 0


@pytest.mark.asyncio(loop_scope="function")
async def test_over_tcp_a_broken_frame_ends_the_server_too(tmp_path: Path):
    import subprocess

    from tests.lsp.test_tcp import connect, free_port

    write_tree(tmp_path, APP)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "qlint", "lsp", "--tcp", f"127.0.0.1:{port}"], cwd=tmp_path,
                              stderr=subprocess.PIPE)
    client = LanguageClient("test", "1")
    try:
        await connect(client, port, server)
        await client.initialize_async(lsp.InitializeParams(capabilities=lsp.ClientCapabilities(),
                                                           root_uri=tmp_path.as_uri()))
        client.protocol.writer.write(b"Content-Length: abc\r\n\r\n{}")
        code = await asyncio.get_running_loop().run_in_executor(None, server.wait, GIVE_UP)
        assert code == 1 and b"malformed message from the client" in server.stderr.read()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        await client.stop()
