"""Time from `didChange` to `publishDiagnostics` in `qlint lsp`, on a generated workspace.

    python benchmarks/lsp_latency.py [--files 300] [--settings-lines 5000] [--edits 10]
    python benchmarks/lsp_latency.py --project /path/to/checkout --file proj/settings.py

The workspace holds a Celery app, a settings module of several thousand lines and a few
hundred other modules (some with tasks). The script starts the real server over stdio,
opens the settings module, then edits it repeatedly, measuring each edit's round trip
(the server's 0.3 s debounce included and also reported without it). The baseline,
measured in the same run, is `ast.parse` of every Python file of the workspace.
"""
from __future__ import annotations

import argparse
import ast
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

DEBOUNCE = 0.3


def make_workspace(root: Path, files: int, settings_lines: int) -> Path:
    (root / "pyproject.toml").write_text("[project]\nname = 'bench'\n")
    pkg = root / "bench"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "celery.py").write_text("import os\nfrom celery import Celery\n\n"
                                   "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'bench.settings')\n"
                                   "app = Celery('bench')\napp.config_from_object('django.conf:settings', namespace='CELERY')\n")
    body = ["import os", "CELERY_BROKER_URL = 'redis://localhost:6379/0'", "CELERY_TASK_ACKS_LATE = True",
            "CELERY_TASK_TIME_LIMIT = 7200"]
    body += [f"SETTING_{i} = {{'name': 'value {i}', 'size': {i} * 3, 'flag': {i % 2 == 0}}}" for i in range(settings_lines)]
    settings = pkg / "settings.py"
    settings.write_text("\n".join(body) + "\n")
    for i in range(files):
        if i % 10 == 0:
            text = (f"from bench.celery import app\n\n\n@app.task\ndef job_{i}(x):\n    return x\n\n\n"
                    f"def send_{i}():\n    job_{i}.delay({i})\n")
        else:
            text = "\n".join(f"def helper_{i}_{j}(a, b):\n    return [a * k + b for k in range({j})]\n" for j in range(20))
        (pkg / f"module_{i}.py").write_text(text)
    return settings


async def measure(root: Path, settings: Path, edits: int) -> list[float]:
    client = LanguageClient("bench", "1")
    published: asyncio.Queue = asyncio.Queue()

    @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: lsp.PublishDiagnosticsParams) -> None:
        published.put_nowait((time.perf_counter(), params))

    await client.start_io(sys.executable, "-m", "qlint", "lsp")
    await client.initialize_async(lsp.InitializeParams(capabilities=lsp.ClientCapabilities(), root_uri=root.as_uri()))
    client.initialized(lsp.InitializedParams())
    uri = settings.as_uri()
    text = settings.read_text()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        text_document=lsp.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
    await published.get()  # the first, cold check fills the facts cache
    times = []
    for n in range(edits):
        limit = 3600 + n  # a real edit: the finding's message changes each time
        edited = text.replace("CELERY_TASK_TIME_LIMIT = 7200", f"CELERY_TASK_TIME_LIMIT = {limit}")
        if edited == text:  # a project of its own: a line added at the end
            edited = f"{text}\nEDITED_{n} = {n}\n"
        start = time.perf_counter()
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=n + 2),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=edited)]))
        while True:
            at, params = await published.get()
            if params.uri == uri:
                break
        times.append(at - start)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--settings-lines", type=int, default=5000)
    parser.add_argument("--edits", type=int, default=10)
    parser.add_argument("--project", type=Path, help="a real project instead of the generated workspace")
    parser.add_argument("--file", help="with --project: the file to edit, relative to it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if args.project is not None:
            root, settings = args.project.resolve(), args.project.resolve() / args.file
        else:
            root = Path(folder)
            settings = make_workspace(root, args.files, args.settings_lines)
        sources = list(root.rglob("*.py"))
        start = time.perf_counter()
        for path in sources:
            try:
                ast.parse(path.read_bytes())
            except SyntaxError:  # newer syntax than this interpreter's: still read
                pass
        baseline = time.perf_counter() - start
        times = asyncio.run(measure(root, settings, args.edits))
    median = statistics.median(times)
    print(f"workspace: {len(sources)} Python files, editing {settings.relative_to(root)} "
          f"({len(settings.read_text().splitlines())} lines)")
    print(f"ast.parse of every file (baseline): {baseline:.3f} s")
    print(f"didChange -> publishDiagnostics over {len(times)} edits: median {median:.3f} s "
          f"(max {max(times):.3f} s), {median - DEBOUNCE:.3f} s without the {DEBOUNCE} s debounce")
    print(f"ratio to the baseline, debounce excluded: {(median - DEBOUNCE) / baseline:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
