"""Time the language server as an editor feels it: first diagnostics and edit -> diagnostics.

    python benchmarks/lsp_latency.py [--files 300] [--settings-lines 5000] [--edits 20]
    python benchmarks/lsp_latency.py --project /path/to/saleor \\
        --file saleor/settings.py --file saleor/warehouse/tasks.py --edits 30 [--cold]

The real server (`python -m qlint lsp`) is started over stdio and driven by pygls' client.
Without --project the workspace is generated: a Celery app, a settings module of several
thousand lines and a few hundred other modules. The script opens the files, times the first
publication of diagnostics for the first file (from didOpen, and from the start of the
process), then edits the files in turn: even edits add a line at the end, odd ones insert
one before the first function or class, which moves every position below it. Each edit's time runs from didChange
to the publication for that version of the buffer, the server's debounce included; the
server's CPU time over the same span is reported too (Linux), as it depends less on what
else the machine runs.
--cold gives the server an empty facts cache. The baseline, measured in the same run, is
`ast.parse` of every Python file of the workspace.
"""
from __future__ import annotations

import argparse
import ast
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

from qlint.lsp.server import KEPT


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


def edited(text: str, n: int) -> str:
    """The n-th edit of a buffer: a line at the end, or one before its first function or class."""
    line = f"EDITED_{n} = {n}\n"
    first = re.search(r"^(def |class |@)", text, re.M)
    if n % 2 == 0 or first is None:
        return f"{text.rstrip()}\n{line}"
    return text[:first.start()] + line + text[first.start():]


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far; 0 where /proc cannot tell."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_memory(pid: int) -> str:
    """A process's peak resident memory (Linux), as /proc says it."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "unknown"
    return next((line.split(":", 1)[1].strip() for line in status.splitlines() if line.startswith("VmHWM")), "unknown")


async def measure(root: Path, files: list[Path], edits: int,
                  env: dict[str, str]) -> tuple[float, float, list[float], list[float], str, int]:
    client = LanguageClient("bench", "1")
    published: asyncio.Queue = asyncio.Queue()

    logged: list[str] = []

    @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: lsp.PublishDiagnosticsParams) -> None:
        published.put_nowait((time.perf_counter(), params))

    @client.feature(lsp.WINDOW_LOG_MESSAGE)
    def on_log(params: lsp.LogMessageParams) -> None:
        logged.append(params.message)

    async def publication(uri: str, version: int) -> float:
        while True:
            at, params = await published.get()
            if params.uri == uri and params.version == version:
                return at

    started = time.perf_counter()
    await client.start_io(sys.executable, "-m", "qlint", "lsp", env=env)
    await client.initialize_async(lsp.InitializeParams(capabilities=lsp.ClientCapabilities(), root_uri=root.as_uri()))
    client.initialized(lsp.InitializedParams())
    texts = {f.as_uri(): f.read_text() for f in files}
    opened = time.perf_counter()
    for uri, text in texts.items():
        client.text_document_did_open(lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
    first = await publication(files[0].as_uri(), 1)
    for later in files[1:]:  # opened while the first check ran: the next one publishes them
        await publication(later.as_uri(), 1)
    versions = dict.fromkeys(texts, 1)
    pid = client._server.pid  # type: ignore[union-attr]
    times, cpu = [], []
    logged_before = len(logged)
    for n in range(edits):
        uri = files[n % len(files)].as_uri()
        texts[uri] = edited(texts[uri], n)
        versions[uri] += 1
        start, used = time.perf_counter(), cpu_seconds(pid)
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=versions[uri]),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=texts[uri])]))
        times.append(await publication(uri, versions[uri]) - start)
        cpu.append(cpu_seconds(pid) - used)
        await asyncio.sleep(0.2)  # a pause between keystrokes, as in an editor
    peak = peak_memory(pid)
    kept = logged[logged_before:].count(KEPT)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return first - opened, first - started, times, cpu, peak, kept


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--settings-lines", type=int, default=5000)
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--project", type=Path, help="a real project instead of the generated workspace")
    parser.add_argument("--file", action="append", default=[],
                        help="with --project: a file to open and edit, relative to it (repeatable)")
    parser.add_argument("--cold", action="store_true", help="the server starts with an empty facts cache")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if args.project is not None:
            root = args.project.resolve()
            files = [root / f for f in args.file]
        else:
            root = Path(folder) / "workspace"
            root.mkdir()
            files = [make_workspace(root, args.files, args.settings_lines)]
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if args.cold:
            env["QLINT_CACHE_DIR"] = str(Path(folder) / "cache")
        sources = list(root.rglob("*.py"))
        start = time.perf_counter()
        for path in sources:
            try:
                ast.parse(path.read_bytes())
            except SyntaxError:  # newer syntax than this interpreter's: still read
                pass
        baseline = time.perf_counter() - start
        first, from_start, times, cpu, peak, kept = asyncio.run(measure(root, files, args.edits, env))
    median = statistics.median(times)
    print(f"workspace: {len(sources)} Python files; editing {', '.join(str(f.relative_to(root)) for f in files)}")
    print(f"ast.parse of every file (baseline): {baseline:.3f} s")
    print(f"first diagnostics ({'cold' if args.cold else 'cached'} facts): {first:.3f} s after didOpen, "
          f"{from_start:.3f} s after the process started")
    print(f"didChange -> publishDiagnostics over {len(times)} edits: median {median:.3f} s, max {max(times):.3f} s "
          f"(the server's debounce included); ratio of the median to the baseline {median / baseline:.2f}")
    print(f"server CPU per edit: median {statistics.median(cpu):.2f} s, max {max(cpu):.2f} s; "
          f"server peak memory {peak}")
    print(f"edits answered with the last check's findings, nothing it used having changed: {kept} of {len(times)}")
    print("each edit (s): " + " ".join(f"{t:.2f}" for t in times))
    return 0


if __name__ == "__main__":
    sys.exit(main())
