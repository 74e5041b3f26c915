"""The language server: re-checks the workspace as buffers change and publishes findings.

Every check analyses the whole workspace with the open buffers laid over the files on
disk, so editing settings.py updates findings shown in tasks.py. What the server keeps
between checks spares a re-check the work on what did not change: the facts of unchanged
files (facts_cache.py), their bytes while the file system says they are the same, and the
verdicts of the pre-filters on those bytes (file_memory.py). A re-check parses only what
changed, but still resolves the project and runs every rule, unless the only changes are to
buffers and files the last check did not use, in ways that cannot change its answer (a module
with nothing Celery-related in it: kept.py); that answer then stands. The first diagnostics are the
answer a `qlint check .` or an earlier server stored for the tree (run_cache.py), while the
buffers are as on disk; the first check stores its answer for the next server.
"""
from __future__ import annotations

import asyncio
import gc
import logging
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer

from qlint import __version__
from qlint.pipeline.analysis import Analysis, analyse, display_path
from qlint.lsp.convert import diagnostic, path_to_uri, text_edit, to_range, uri_to_path
from qlint.lsp.framing import serve_io, serve_tcp
from qlint.lsp.hover import hover_text, word_at
from qlint.lsp.kept import KeptAnswer
from qlint.model import Finding
from qlint.scan.cache_writer import wait_for_writer
from qlint.scan.facts_cache import KeptFacts
from qlint.scan.file_memory import FileMemory
from qlint.sources.python import keep_chunks

# Changes that come within this long of each other are checked once; those that come while
# a check runs are all checked by the next one.
DEBOUNCE_SECONDS = 0.05
# How long without a change before the garbage of the last check is collected (collect()).
IDLE_SECONDS = 0.5
KEPT = "qlint: kept the last findings: nothing that check used has changed"
log = logging.getLogger(__name__)


class QlintServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("qlint", __version__)
        self.root: Path | None = None
        self.findings: dict[str, list[Finding]] = {}  # by display path
        self.analysis: Analysis | None = None
        self.published: set[str] = set()
        self._pending: asyncio.TimerHandle | None = None
        self.versions: dict[str, int] = {}  # uri -> buffer version the findings were computed from
        self.facts_memory = KeptFacts()  # facts of unchanged files, kept between checks
        self.files_memory = FileMemory()
        self.checks = 0
        self.garbage = False  # whether a check ran since the last collection
        self.frozen = False
        self._collection: asyncio.TimerHandle | None = None
        self.looked_up_stored = False  # the stored answer of an earlier check, looked up once
        self.kept: KeptAnswer | None = None  # the last check's answer, while edits cannot change it

    # ------------------------------------------------------------ checking

    def workspace_root(self) -> Path:
        if self.root is None:
            folder = self.workspace.root_path
            self.root = Path(folder).resolve() if folder else Path.cwd().resolve()
        return self.root

    def buffers(self) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        self.versions = {}
        for uri, document in self.workspace.text_documents.items():
            path = self.path_of(uri)
            if path is None:
                continue
            out[path] = document.source.encode("utf-8", "replace")  # a lone surrogate the client escaped
            if document.version is not None:
                self.versions[uri] = document.version
        return out

    def check_now(self) -> None:
        from qlint.pipeline.engine import (answer, presence_unaffected, restrict, run_cache, run_reads, unaffected_by,
                                           verdicts_hold, with_modules)
        from qlint.user_config.project_config import ConfigError, load_config

        root = self.workspace_root()
        buffers = self.buffers()
        try:
            config = load_config(root)
        except ConfigError as exc:
            self.window_show_message(lsp.ShowMessageParams(lsp.MessageType.Error, f"qlint: {exc}"))
            return
        files = run_cache(["."], cwd=root, root=root, config=config)  # the tree as a check lists it
        if self.kept is not None:
            kept = self.kept.still(config.settings_key(), buffers, files.listing, unaffected_by, verdicts_hold,
                                   presence_unaffected(root, root, files.listing),
                                   lambda found, changes: with_modules(found, changes, root, root))
            if kept is not None:
                self.window_log_message(lsp.LogMessageParams(lsp.MessageType.Log, KEPT))
                self.show(restrict(kept, ["."]).findings)
                return
        # Until the server has read the project once, the answer that `qlint check .` (or an
        # earlier server) stored for the tree stands (as it is now, or changed only where that
        # answer cannot change: run_cache.py), while no open buffer differs from its file; the
        # first check stores its answer for the next server.
        cache = files if self.checks == 0 and _as_on_disk(root, buffers) else None
        if cache is not None and not self.looked_up_stored:
            self.looked_up_stored = True
            wait_for_writer(root)  # a `qlint check` that has just answered may still be storing
            stored = cache.get() or cache.get_unaffected(unaffected_by, presence_unaffected(root, root, cache.listing))
            if stored is not None and stored.answers(["."]):
                self.window_log_message(lsp.LogMessageParams(
                    lsp.MessageType.Info, "qlint: showing the findings stored by an earlier check of this tree"))
                self.show(restrict(stored, ["."]).findings)
                self.schedule(0)  # read the project now, for the checks of the edits to come
                return
        tree = cache.tree if cache is not None else ""
        listing = files.listing  # before the files are read
        if self.garbage:
            # The last check's leftovers were not collected while idle: collected now, with
            # the analysis this check replaces, all of it garbage by then.
            self.analysis = None
            self.collect()
        gc.disable()  # until the collection after this check
        self.garbage = True
        try:
            self.analysis = analyse(["."], cwd=root, root=root, exclude=config.exclude, overrides=buffers,
                                    facts_memory=self.facts_memory, files_memory=self.files_memory, config=config)
            try:
                found = answer(self.analysis, config, ["."], buffers=buffers)
            finally:
                self.analysis.close()
        except ConfigError as exc:  # a sub-project's [tool.qlint]
            self.window_show_message(lsp.ShowMessageParams(lsp.MessageType.Error, f"qlint: {exc}"))
            return
        finally:
            if self._collection is not None:
                self._collection.cancel()
            self._collection = asyncio.get_event_loop().call_later(IDLE_SECONDS, self.collect_when_idle)
        self.checks += 1
        reads = run_reads(self.analysis, listing)
        if cache is not None:
            cache.put(found, tree, reads)
        self.kept = KeptAnswer(found, config.settings_key(), buffers, {rel: sig for rel, _, sig in listing}, reads)
        self.show(restrict(found, ["."]).findings)

    def show(self, findings: list[Finding]) -> None:
        by_path: dict[str, list[Finding]] = {}
        for finding in findings:
            by_path.setdefault(finding.span.path, []).append(finding)
        self.findings = by_path
        self.publish()

    # Analyses leave cycles: on saleor each leaves about 220,000 objects that only a collection
    # frees. Left to the collector, the objects a check made (while it was disabled) were walked
    # by the first young collection after it (50 ms), then by a middle one every ten checks or
    # so (2 s, in the middle of an edit). So the collector stays off from a check's start to one
    # full collection after it (0.2 s), made when no change has come for IDLE_SECONDS, else by
    # the next check before it starts, when the analysis it replaces is garbage too.

    def collect_when_idle(self) -> None:
        self._collection = None
        if self._pending is None and self.garbage:  # else the next check collects first
            self.collect()

    def collect(self) -> None:
        gc.collect()
        self.garbage = False
        if not self.frozen and self.checks:
            # What the first check leaves (the facts of every file, kept between checks) lives as
            # long as the server: frozen, collections stop walking it (they took 1.4 s over
            # saleor's 1.2 million objects). What it froze of the first analysis stays in memory
            # for good.
            gc.freeze()
            self.frozen = True
        gc.enable()

    def publish(self) -> None:
        root = self.workspace_root()
        # A document whose URI names no file qlint can check (%00 in it) gets nothing; the others
        # still get their diagnostics.
        open_paths = {path: uri for uri in self.workspace.text_documents if (path := self.path_of(uri)) is not None}
        for path, uri in open_paths.items():
            diagnostics = [diagnostic(f, root) for f in self.findings.get(path, [])]
            # The version tells the editor which buffer these findings describe, so it can drop
            # a late result for text that has since changed.
            self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
                uri=uri, diagnostics=diagnostics, version=self.versions.get(uri)))

    def schedule(self, delay: float = DEBOUNCE_SECONDS) -> None:
        """Check after `delay` seconds without another change (typing is debounced)."""
        loop = asyncio.get_event_loop()
        if self._pending is not None:
            self._pending.cancel()
        self._pending = loop.call_later(delay, self._run_scheduled)

    def _run_scheduled(self) -> None:
        self._pending = None
        try:
            self.check_now()
        except Exception as exc:  # a bug in a rule must not take the editor's server down
            log.exception("qlint check failed")
            self.window_log_message(lsp.LogMessageParams(lsp.MessageType.Error, f"qlint: check failed: {exc!r}"))

    # ------------------------------------------------------------ helpers for requests

    def path_of(self, uri: str) -> str | None:
        """The display path of a document's file, None for a URI that names none."""
        try:
            return display_path(uri_to_path(uri), self.workspace_root())
        except (ValueError, OSError):  # not a file URI, a NUL byte in it, a path the system refuses
            return None

    def document_path(self, uri: str) -> str:
        if uri not in self.workspace.text_documents:
            raise ValueError(f"document is not open: {uri}")
        return display_path(uri_to_path(uri), self.workspace_root())


def _as_on_disk(root: Path, buffers: dict[str, bytes]) -> bool:
    """Whether every open buffer holds what its file holds."""
    for path, data in buffers.items():
        try:
            if (root / path).read_bytes() != data:
                return False
        except OSError:
            return False
    return True


server = QlintServer()


@server.feature(lsp.INITIALIZED)
def initialized(ls: QlintServer, params: lsp.InitializedParams) -> None:
    ls.workspace_root()


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: QlintServer, params: lsp.DidOpenTextDocumentParams) -> None:
    ls.schedule(0)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: QlintServer, params: lsp.DidChangeTextDocumentParams) -> None:
    ls.schedule()


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: QlintServer, params: lsp.DidSaveTextDocumentParams) -> None:
    ls.schedule(0)


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: QlintServer, params: lsp.DidCloseTextDocumentParams) -> None:
    ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))
    ls.schedule(0)


@server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
def watched_files(ls: QlintServer, params: lsp.DidChangeWatchedFilesParams) -> None:
    # pyproject.toml / .qlint.toml are read again by the next check; files changed on disk too.
    ls.schedule(0)


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
def hover(ls: QlintServer, params: lsp.HoverParams) -> lsp.Hover | None:
    ls.document_path(params.text_document.uri)
    document = ls.workspace.get_text_document(params.text_document.uri)
    lines = document.lines
    if params.position.line >= len(lines):
        return None
    word = word_at(lines[params.position.line], params.position.character)
    path = ls.document_path(params.text_document.uri)
    text = hover_text(word, ls.analysis, path, params.position.line + 1) if word else None
    if text is None:
        return None
    return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text))


@server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION, lsp.CodeActionOptions(
    code_action_kinds=[lsp.CodeActionKind.QuickFix, lsp.CodeActionKind.SourceFixAll]))
def code_action(ls: QlintServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
    uri = params.text_document.uri
    path = ls.document_path(uri)
    document = ls.workspace.get_text_document(uri)
    findings = ls.findings.get(path, [])
    actions: list[lsp.CodeAction] = []
    first, last = params.range.start.line + 1, params.range.end.line + 1
    for finding in findings:
        if not (first <= finding.span.line <= last or finding.span.line <= first <= finding.span.end_line):
            continue
        if finding.fix is not None and finding.fix.edits and all(e.span.path == path for e in finding.fix.edits):
            actions.append(lsp.CodeAction(
                title=f"{finding.code}: {finding.fix.description}", kind=lsp.CodeActionKind.QuickFix,
                edit=lsp.WorkspaceEdit(changes={uri: [text_edit(e) for e in finding.fix.edits]}),
                is_preferred=finding.fix.applicability == "safe"))
        actions.append(_suppress(uri, document.lines, finding))
    fixable = [f for f in findings if f.fix is not None and f.fix.applicability == "safe" and f.fix.edits
               and all(e.span.path == path for e in f.fix.edits)]
    if fixable:
        edits = {(e.span, e.content): e for f in fixable for e in f.fix.edits}
        actions.append(lsp.CodeAction(title="qlint: fix all safe fixes in this file", kind=lsp.CodeActionKind.SourceFixAll,
                                      edit=lsp.WorkspaceEdit(changes={uri: [text_edit(e) for e in edits.values()]})))
    return actions


def _suppress(uri: str, lines: list[str], finding: Finding) -> lsp.CodeAction:
    index = finding.span.line - 1
    text = lines[index].rstrip("\r\n") if index < len(lines) else ""
    comment = f"  # qlint: ignore[{finding.code}]"
    end = lsp.Position(index, len(text))
    return lsp.CodeAction(
        title=f"Suppress {finding.code} on this line", kind=lsp.CodeActionKind.QuickFix,
        edit=lsp.WorkspaceEdit(changes={uri: [lsp.TextEdit(lsp.Range(end, end), comment)]}))


def run(tcp: tuple[str, int] | None = None) -> int:
    """Serve until the client is done; the exit status (framing.py)."""
    keep_chunks()  # a re-check converts only the statements that changed
    if tcp is not None:
        return serve_tcp(server, *tcp)
    return serve_io(server)


__all__ = ["QlintServer", "path_to_uri", "run", "server", "to_range"]
