"""A real qlint language server, started as a subprocess and driven by pytest-lsp's client."""
from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, default_converter, register_lsp_features

from tests.resolve.conftest import write_tree

APP = {
    "pyproject.toml": "[project]\nname = 'proj'\n",
    "proj/__init__.py": "",
    "proj/celery.py": "from celery import Celery\n\napp = Celery('proj')\napp.config_from_object('proj.celeryconfig')\n",
    "proj/celeryconfig.py": "broker_url = 'redis://localhost:6379/0'\ntask_acks_late = True\ntask_time_limit = 7200\n",
    "proj/tasks.py": "from proj.celery import app\n\n\n@app.task\ndef build(x):\n    return x\n",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_tree(tmp_path, APP)
    return tmp_path


def record_diagnostics(client: LanguageClient, params: lsp.PublishDiagnosticsParams) -> None:
    client.diagnostics[params.uri] = params.diagnostics
    client.diagnostic_versions[params.uri] = params.version  # type: ignore[attr-defined]
    client.publish_count += 1  # type: ignore[attr-defined]


def make_client() -> LanguageClient:
    """pytest-lsp's test client, also keeping the buffer version each publication describes."""
    client = LanguageClient(converter_factory=default_converter)
    register_lsp_features(client, {**DEFAULT_CLIENT_FEATURES, lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: record_diagnostics})
    client.diagnostic_versions = {}  # type: ignore[attr-defined]
    client.publish_count = 0  # type: ignore[attr-defined]
    return client


@contextlib.asynccontextmanager
async def server_in(root: Path, command: list[str] | None = None):
    """A server started by `command` (`python -m qlint lsp` by default), its session on root open."""
    config = ClientServerConfig(server_command=command or [sys.executable, "-m", "qlint", "lsp"],
                                client_factory=make_client)
    client = await config.start()
    try:
        await client.initialize_session(lsp.InitializeParams(
            capabilities=lsp.ClientCapabilities(), root_uri=root.as_uri(),
            workspace_folders=[lsp.WorkspaceFolder(uri=root.as_uri(), name="proj")]))
        client.project = root  # type: ignore[attr-defined]
        try:
            yield client
        finally:
            # the bound only turns a dead server into a failure instead of a hang
            await asyncio.wait_for(client.shutdown_session(), 60)
    finally:
        await client.stop()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "qlint", "lsp"],
                                              client_factory=make_client))
async def client(lsp_client: LanguageClient, project: Path):
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=lsp.ClientCapabilities(), root_uri=project.as_uri(),
        workspace_folders=[lsp.WorkspaceFolder(uri=project.as_uri(), name="proj")]))
    lsp_client.project = project  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()
