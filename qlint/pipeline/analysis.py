"""The library entry point: paths in, resolved project out.

The CLI's `check` and `config`, the language server and the simulator all call
analyse(). Stages: discover files, pre-filter by bytes, extract facts (parsed on a cold run,
from the cache on a warm one), then resolve the project lazily.
"""
from __future__ import annotations

import functools
import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Hashable, Iterator, Mapping, Sequence, TypeVar

from qlint.scan.cache_writer import wait_for_writer
from qlint.scan.dependency_files import candidates as dependency_candidates
from qlint.scan.dependency_files import configured_for, configured_release, load_dependency_files, versions_of
from qlint.scan.deploy_files import candidate, image_files, is_deployment_file, load_deploy_files, python_started, \
    read_deploy_facts
from qlint.scan.discovery import display_path, find_root, project_files
from qlint.scan.facts_cache import FactsCache
from qlint.scan.file_memory import FileMemory
from qlint.scan.file_set import FileSet
from qlint.scan.verdicts import MISSING, StoredVerdicts
from qlint.model import Span
from qlint.resolve.project import Project, build_project
from qlint.resolve.workers import build_view
from qlint.resolve.modules import ModuleIndex
from qlint.resolve.workspace import Workspace
from qlint.sources import ir
from qlint.sources.deploy.facts import DeployFacts
from qlint.sources.python import parse_file, with_bodies_at
from qlint.sources import file_verdicts
from qlint.sources.file_verdicts import APP_USE, MARKER_NUMBERS, STARTS_CELERY, calls_kind, dependency_facts, \
    deployment_file, python_problem
from qlint.sources.read import MARKERS, SourceError, names_settings_module_only, read_bytes
from qlint.sources.templates import PYTHON_NOTE

T = TypeVar("T")

# Most modules QL305's second pass reads for calling a function that sends tasks (Workspace.read_callers).
MAX_CALLER_MODULES = 300


# About three mid-size checks' worth (DefectDojo's leaves 330,000 objects frozen); a full
# collection then takes 0.1 to 0.5 s.
FROZEN_LIMIT = 1_000_000


@contextmanager
def collections_paused() -> Iterator[None]:
    """No cycle collection while the block runs (reference counting still frees what is
    not in a cycle): analysis allocates millions of small acyclic objects that live until
    the run ends, and even at the CLI's raised threshold (cli.GC_THRESHOLD) the collector's
    passes over the growing heap took a sixth of a run on cached facts.
    Peak memory is unchanged (saleor: 130 MB either way).

    On the way out the objects the block made are frozen (gc.freeze): re-enabled, the
    collector would otherwise scan all of them at the next allocation, 0.15 to 0.3 s on
    saleor, while they are the results, still in use. Frozen objects are never collected,
    and a check leaves cycles behind (about 150,000 objects on bookwyrm), so a block that
    finds more than FROZEN_LIMIT objects frozen first collects them: a caller that runs many
    checks in one process keeps its memory bounded; the CLI, one check, never pays for it."""
    was_enabled = gc.isenabled()
    gc.disable()
    frozen = gc.get_freeze_count()
    gc.unfreeze()
    if frozen > FROZEN_LIMIT:
        gc.collect()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


@dataclass(frozen=True)
class FileProblem:
    """A file qlint could not analyse, reported as QL000."""

    path: str
    message: str
    span: Span
    # False for a Python file with no Celery marker (a Python 2 script, a vendored tool): QL000
    # reports it as a note, since nothing qlint checks is likely to be in it.
    celery: bool = True


@dataclass
class Analysis:
    root: Path
    cwd: Path
    project: Project
    problems: list[FileProblem] = field(default_factory=list)
    python_files: list[str] = field(default_factory=list)
    other_files: list[str] = field(default_factory=list)
    parsed: int = 0
    cache_hits: int = 0
    # Sub-projects' own configurations, by the display path of their folder: each governs the
    # files below it (engine.check), as the nearest pyproject.toml does in Ruff.
    configs: dict[str, object] = field(default_factory=dict)
    # Display paths of the files qlint reads for what they say: Python files, deployment,
    # environment and settings files, dependency files (a README or an image is walked, not read).
    read_files: set[str] = field(default_factory=set)
    # Ends the run: makes the memories a caller keeps (analyse's facts_memory, files_memory)
    # forget what the run did not use. The rules may load modules until then.
    close: Callable[[], None] = lambda: None
    # Writes the facts parsed in this process, when analyse was told to defer_writes.
    store_facts: Callable[[], None] = lambda: None
    # The files whose bytes the run used so far, and the verdicts it asked of each file (_Loader).
    reads: Callable[[], tuple[set[str], dict[str, dict[Hashable, object]]]] = lambda: (set(), {})
    # The files whose comments engine.check() read (suppressions)
    comments_read: set[str] = field(default_factory=set)

    def rel(self, path: Path) -> str:
        return display_path(path, self.cwd)


class _Loader:
    """Loads facts for the resolver, when it asks: from memory, the cache, or a parse.
    files: what a long-running caller keeps of the files."""

    def __init__(self, cache: FactsCache, abs_of: Mapping[str, str], overrides: Mapping[str, bytes],
                 files: FileMemory | None = None, stored: StoredVerdicts | None = None) -> None:
        self.cache = cache
        self.stored = stored
        self.abs_of = abs_of
        self.overrides = overrides
        self.files = files
        self.read_file = files.read if files is not None else read_bytes
        self.facts: dict[str, ir.ModuleFacts] = {}
        self.data: dict[str, bytes] = {}
        # What the run learnt of each file (run_cache.py keeps it, to tell whether an edit can
        # change the result): the files whose bytes it used or whose presence it asked about
        # (FileSet, ModuleIndex note those too), and the verdicts it asked for (markers,
        # calls...), by kind.
        self.used: set[str] = set()
        self.verdicts: dict[str, dict[Hashable, object]] = {}
        self.parsed = 0

    def read(self, path: str) -> bytes | None:
        """The file's bytes, for more than a verdict on them."""
        self.used.add(path)
        return self._bytes(path)

    def _bytes(self, path: str) -> bytes | None:
        if path in self.data:
            return self.data[path]
        if path in self.overrides:
            data: bytes | None = self.overrides[path]
        else:
            try:
                data = self.read_file(self.abs_of[path])
            except SourceError as exc:
                self.facts[path] = ir.ModuleFacts(path, (), error=str(exc), error_span=Span(path, 1))
                self.used.add(path)  # its problem is reported
                data = None
        if data is not None:
            self.data[path] = data
        return data

    def read_other(self, path: str) -> bytes | None:
        """The bytes of a file that is not Python; None when it cannot be read."""
        self.used.add(path)
        if path in self.overrides:
            return self.overrides[path]
        if path not in self.abs_of:
            return None
        try:
            return self.read_file(self.abs_of[path])
        except SourceError:
            return None

    def derived(self, what: Hashable, path: str, data: bytes, compute: Callable[[bytes], T]) -> T:
        """compute(data), kept from the last analysis when the file's bytes are the same."""
        return compute(data) if self.files is None else self.files.derived(what, path, data, compute)

    def verdict(self, what: Hashable, path: str) -> Any:
        """The verdict of kind `what` on the file's bytes (file_verdicts.py), as derived() gives
        it; taken from the last run's verdicts, without reading the file, when it has not changed
        since (verdicts.py). None when the file cannot be read."""
        full = self.abs_of[path]
        value = self.stored.get(full, what) if self.stored is not None and path not in self.overrides else MISSING
        if value is MISSING:
            data = self._bytes(path)
            if data is None:
                return None
            value = self.derived(what, path, data, file_verdicts.compute(what))
            if self.stored is not None and path not in self.overrides:
                self.stored.put(full, what, value)
        self.verdicts.setdefault(path, {})[what] = file_verdicts.as_kept(what, value)
        return value

    def __call__(self, path: str) -> ir.ModuleFacts | None:
        if path not in self.abs_of:
            return None
        if path not in self.facts:
            self._load(path)
        return self.facts.get(path)

    def _load(self, path: str) -> None:
        data = self.read(path)
        if data is None:
            return
        key = self.cache.key(path, data)
        facts = self.cache.get(key)
        if isinstance(facts, ir.ModuleFacts):
            self.facts[path] = facts
            return
        facts = parse_file(path, data)
        # An unsaved buffer changes again: not worth storing.
        self.cache.put(key, facts, to_disk=path not in self.overrides)
        self.facts[path] = facts
        self.parsed += 1

    def calling(self, path: str, names: frozenset[str]) -> ir.ModuleFacts | None:
        """A module's facts with the bodies of its functions that call one of names read
        (python.parse_file's calls), kept in the cache apart from its ordinary facts."""
        data = self.read(path)
        if data is None:
            return None
        key = self.cache.key(path, data, "python calling " + " ".join(sorted(names)))
        facts = self.cache.get(key, count=False)
        if not isinstance(facts, ir.ModuleFacts):
            facts = parse_file(path, data, names)
            self.cache.put(key, facts, to_disk=path not in self.overrides)
        return facts

    def with_bodies(self, path: str, line: int | None = None) -> ir.ModuleFacts | None:
        """A module's facts with every function body read, whatever it mentions, kept in the
        cache apart from its ordinary facts: with a line, only those of the top-level class or
        function that holds it (python.with_bodies_at), else the whole module's (every_body)."""
        data = self.read(path) if path in self.abs_of else None
        if data is None:
            return None
        if line is not None:
            key = self.cache.key(path, data, f"python bodies at {line}")
            facts = self.cache.get(key, count=False)
            if not isinstance(facts, ir.ModuleFacts):
                ordinary = self(path)
                facts = with_bodies_at(ordinary, data, line) if ordinary is not None else None
                if facts is not None:
                    self.cache.put(key, facts, to_disk=path not in self.overrides)
            if facts is not None:
                return facts
        key = self.cache.key(path, data, "python every body")
        facts = self.cache.get(key, count=False)
        if not isinstance(facts, ir.ModuleFacts):
            facts = parse_file(path, data, every_body=True)
            self.cache.put(key, facts, to_disk=path not in self.overrides)
        return facts if facts.error is None else None

    def deploy_facts(self, path: str, data: bytes) -> DeployFacts | None:
        """A deployment file's facts, kept in the facts cache like a module's."""
        if not is_deployment_file(path, data):
            return None
        key = self.cache.key(path, data, "deploy")
        facts = self.cache.get(key, count=False)
        if isinstance(facts, DeployFacts):
            self.cache.put(key, facts, to_disk=False)  # for a kept memory
            return facts
        facts = read_deploy_facts(path, data)
        if facts is not None:
            self.cache.put(key, facts, to_disk=path not in self.overrides)
        return facts


def analyse(
    paths: Sequence[str | Path] = (".",),
    *,
    cwd: Path | None = None,
    root: Path | None = None,
    exclude: Sequence[str] = (),
    use_cache: bool = True,
    overrides: Mapping[str, bytes] | None = None,
    facts_memory: dict[str, ir.ModuleFacts] | None = None,
    files_memory: FileMemory | None = None,
    defer_writes: bool = False,
    config: object | None = None,
    force_exclude: bool = False,
) -> Analysis:
    """Resolve the project that the given paths belong to.

    overrides maps display paths to unsaved contents (the language server's buffers);
    facts_memory is a dict kept between calls that holds the facts of the files seen last; a
    KeptFacts (facts_cache.py) also keeps those the rules of the last run loaded, for a caller
    that calls analysis.close() once its rules are done.
    files_memory, kept between calls too, holds the files' bytes and what was derived from them.
    defer_writes: the facts this process parses are stored when the caller calls
    analysis.store_facts() (engine.check_paths, through cache_writer.py).
    config: qlint's configuration, for [tool.qlint] celery-version; loaded for root when not given.
    exclude is relative to config's folder (else to root). A path named in `paths` is analysed
    although exclude covers it, unless force_exclude; a folder under root with a configuration
    of its own follows its own exclude (Analysis.configs).
    """
    cwd = (cwd or Path.cwd()).resolve()
    targets = [(cwd / p).resolve() if not Path(p).is_absolute() else Path(p).resolve() for p in paths]
    root = (root or find_root(targets)).resolve()
    abs_of: dict[str, str] = {}
    python_files: list[str] = []
    other_files: list[str] = []
    base = display_path(root, cwd)
    prefix = "" if base == "." else f"{base}/"
    configs: dict[str, object] = {}
    not_utf8: list[str] = []  # names the walk left out (discovery.walk_files)
    # walk_files() does not follow links, so a path under root needs no resolving.
    for rel_to_root, full in project_files(root, targets, exclude, config, force_exclude, configs, not_utf8):
        rel = prefix + rel_to_root
        abs_of[rel] = full
        (python_files if rel.endswith(".py") else other_files).append(rel)
    buffers = overrides or {}
    wait_for_writer(root)
    # a long-running caller keeps what it derived in files_memory instead
    stored = StoredVerdicts(root) if files_memory is None and use_cache else None
    loader = _Loader(FactsCache(root, use_cache, facts_memory, deferred=defer_writes), abs_of, buffers, files_memory,
                     stored)
    index = ModuleIndex(python_files, noted=loader.used)
    entries, settings_only, unmarked = [], [], set()
    unmarked_buffers = set()  # read although unmarked: their problems are notes, as in qlint check
    deploy_candidates = [f for f in other_files if candidate(f)]

    for rel in python_files:
        numbers = loader.verdict(MARKER_NUMBERS, rel)
        if numbers is None:
            continue
        markers = tuple(MARKERS[i] for i in numbers)
        # An open buffer that the pre-filter sets aside is read only when it does not parse,
        # so that its problem shows; one that parses is left as `qlint check` leaves the
        # file, and an edit that keeps its verdicts cannot change the findings (lsp/kept.py).
        if (markers and not names_settings_module_only(markers)) or \
                (rel in buffers and loader.verdict(python_problem(rel), rel) is not None):
            if loader.read(rel) is None:
                continue
            entries.append(rel)
            if not markers:
                unmarked_buffers.add(rel)
        elif markers:
            settings_only.append(rel)
        else:
            unmarked.add(rel)
    deps = load_dependency_files(
        dependency_candidates(other_files) + [f for f in python_files if f.rpartition("/")[2] == "setup.py"],
        lambda path, kind: loader.verdict(dependency_facts(path, kind), path), FileSet(abs_of, loader.used))
    versions = versions_of(deps, configured_release(config, cwd) if config is not None else configured_for(root, cwd))
    deploy = load_deploy_files(deploy_candidates, loader.read_other, loader.deploy_facts, others=other_files,
                               is_deployment=lambda path: loader.verdict(deployment_file(path), path))
    deploy.facts.extend(python_started(
        python_files, lambda path: loader.read(path) if loader.verdict(STARTS_CELERY, path) else None,
        base))
    workspace = Workspace(python_files, loader, deploy.environment, index=index)
    verdicts = functools.cache(lambda path: bool(loader.verdict(APP_USE, path)))
    workspace.quiet, workspace.app_users = _AppUse(unmarked, verdicts, False), _AppUse(unmarked, verdicts, True)
    workspace.settings_files = {f.path: f for f in deploy.facts if f.kind == "settings"}
    workspace.image_files = image_files(deploy.facts, FileSet(abs_of, loader.used))
    workspace.read_callers = functools.partial(_read_callers, loader, python_files)
    workspace.read_bodies = loader.with_bodies
    project = build_project(display_path(root, cwd), workspace, entries, settings_only, versions)
    project.deployment = build_view(deploy.facts, project.apps, workspace.index.module_name,
                                    deploy.environment, deploy.env_files)
    problems = [
        FileProblem(f.path, f.error, f.error_span or Span(f.path, 1),
                    f.path not in unmarked and f.path not in unmarked_buffers)
        for f in [*loader.facts.values(), *deploy.facts, *deps.facts.values()]
        if f.error is not None and f.error != PYTHON_NOTE
    ]
    project.notes.extend(f"{f.path}: {PYTHON_NOTE}" for f in sorted(loader.facts.values(), key=lambda f: f.path)
                         if f.error == PYTHON_NOTE)
    project.notes.extend(versions.notes)
    project.notes.extend(f"{prefix}{name}: a name that is not UTF-8; not checked" for name in not_utf8)
    analysis = Analysis(root, cwd, project, sorted(problems, key=lambda p: p.path), python_files, other_files,
                        loader.parsed, loader.cache.hits,
                        configs={(prefix + folder).rstrip("/") or ".": c for folder, c in configs.items()},
                        read_files={*python_files, *(f.path for f in deploy.facts), *deploy.env_files, *deps.facts})
    loader.cache.forget_untouched()

    def close() -> None:
        loader.cache.forget_untouched(run_over=True)
        if files_memory is not None:
            files_memory.forget_unseen()

    analysis.close = close

    def store() -> None:
        loader.cache.store_pending()
        if stored is not None:
            stored.save()

    analysis.store_facts = store
    analysis.reads = lambda: (loader.used, loader.verdicts)
    return analysis


def _read_callers(loader: _Loader, python_files: list[str],
                  names: Mapping[str, frozenset[str]] | frozenset[str],
                  wanted: Callable[[str], bool] = lambda path: True) -> dict[str, ir.ModuleFacts]:
    """The facts of the modules whose bytes call one of names (read.calls_pattern) and contain
    one of the words that name maps to, if any (a method's classes; a set of names maps none);
    with the bodies of the functions that make such calls read (parsed again where the first
    reading left some out); the first MAX_CALLER_MODULES in path order."""
    found: dict[str, ir.ModuleFacts] = {}
    if not names:
        return found
    if not isinstance(names, Mapping):
        names = dict.fromkeys(names, frozenset())
    kind = calls_kind(names)
    for path in python_files:
        if not wanted(path):
            continue
        matches = loader.verdict(kind, path)
        data = loader.read(path) if matches else None
        if data is None:
            continue
        facts = loader.facts.get(path)
        if facts is None or facts.error is not None or _in_left_out(facts.body, data, [at for _, at in matches]):
            facts = loader.calling(path, frozenset(name for name, _ in matches))
        if facts is not None and facts.error is None:
            found[path] = facts
            if len(found) == MAX_CALLER_MODULES:
                break
    return found


def _in_left_out(body: tuple[ir.Stmt, ...], data: bytes, offsets: list[int]) -> bool:
    """Whether one of the offsets falls in a function whose body the facts left out."""
    lines = {data.count(b"\n", 0, at) + 1 for at in offsets}
    return any(start <= line < stop for start, stop in _left_out(body, 1 << 30) for line in lines)


def _left_out(stmts: tuple[ir.Stmt, ...], end: int) -> Iterator[tuple[int, int]]:
    """The lines [start, stop) of the functions among stmts whose body was not read; a
    statement runs to the next one's first line (or end, its parent's)."""
    for i, stmt in enumerate(stmts):
        stop = stmts[i + 1].span.line if i + 1 < len(stmts) else end
        if isinstance(stmt, ir.FuncDef) and not stmt.body_read:
            yield stmt.span.line, stop
            continue
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, name, None)
            if isinstance(inner, tuple):
                yield from _left_out(inner, stop)
        if isinstance(stmt, ir.Try):
            for _, handler in stmt.handlers:
                yield from _left_out(handler, stop)


class _AppUse:
    """`path in` answers whether a file without a Celery marker may (`uses`), or may not,
    act on an app it imports (read.may_use_an_app). A file is judged when the resolver first
    asks about it, since it asks about the few that something imports."""

    def __init__(self, unmarked: set[str], verdicts: Callable[[str], bool], uses: bool) -> None:
        self._unmarked = unmarked
        self._verdicts = verdicts
        self._uses = uses

    def __contains__(self, path: object) -> bool:
        return path in self._unmarked and self._verdicts(path) is self._uses

