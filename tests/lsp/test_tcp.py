"""`qlint lsp --tcp HOST:PORT`: the same server on a loopback socket."""
from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

from tests.lsp.conftest import APP
from tests.resolve.conftest import write_tree


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def connect(client: LanguageClient, port: int, server: subprocess.Popen) -> None:
    for _ in range(200):  # the server needs a moment to import and listen
        if server.poll() is not None:
            raise AssertionError(f"the server exited with {server.returncode}")
        try:
            await client.start_tcp("127.0.0.1", port)
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise AssertionError("the server never listened")


@pytest.mark.asyncio(loop_scope="function")
async def test_tcp_server_publishes_findings(tmp_path: Path):
    write_tree(tmp_path, APP)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "qlint", "lsp", "--tcp", f"127.0.0.1:{port}"], cwd=tmp_path)
    client = LanguageClient("test", "1")
    published: asyncio.Queue = asyncio.Queue()

    @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: lsp.PublishDiagnosticsParams) -> None:
        published.put_nowait(params)

    try:
        await connect(client, port, server)
        await client.initialize_async(lsp.InitializeParams(capabilities=lsp.ClientCapabilities(),
                                                           root_uri=tmp_path.as_uri()))
        client.initialized(lsp.InitializedParams())
        target = tmp_path / "proj/celeryconfig.py"
        client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(
            uri=target.as_uri(), language_id="python", version=1, text=target.read_text())))
        params = await asyncio.wait_for(published.get(), 120)
        assert params.uri == target.as_uri() and any(d.code == "QL101" for d in params.diagnostics)
        await client.shutdown_async(None)
        client.exit(None)
    finally:
        await client.stop()
        server.terminate()
        server.wait(30)


def test_a_bad_tcp_address_is_a_usage_error():
    done = subprocess.run([sys.executable, "-m", "qlint", "lsp", "--tcp", "localhost"], capture_output=True, text=True)
    assert done.returncode == 2 and "--tcp expects HOST:PORT" in done.stderr
