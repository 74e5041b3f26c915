"""The library entry point: paths in, resolved project out.

The CLI's `check` and `config`, the language server and the simulator all call
analyse(). Stages: discover files, pre-filter by bytes, extract facts (in parallel
on a cold run, from the cache on a warm one), then resolve the project lazily.
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from qlint.deploy_files import load_deploy_files
from qlint.discovery import walk_files
from qlint.facts_cache import FactsCache
from qlint.model import Span
from qlint.resolve.project import Project, build_project
from qlint.resolve.workers import build_view
from qlint.resolve.workspace import Workspace
from qlint.sources import ir
from qlint.sources.python import parse_facts
from qlint.sources.read import (
    SourceError, celery_markers, decode_python, may_use_an_app, names_settings_module_only, read_bytes,
)
from qlint.sources.templates import PYTHON_NOTE, is_python_template

PARALLEL_THRESHOLD = 6


@contextmanager
def collections_paused() -> Iterator[None]:
    """No cycle collection while the block runs (reference counting still frees what is
    not in a cycle): analysis allocates millions of small acyclic objects that live until
    the run ends, and even at the CLI's raised threshold (cli.GC_THRESHOLD) the collector's
    passes over the growing heap took a sixth of a run on cached facts.
    Peak memory is unchanged (saleor: 130 MB either way)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(frozen=True)
class FileProblem:
    """A file qlint could not analyse, reported as QL000."""

    path: str
    message: str
    span: Span


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

    def rel(self, path: Path) -> str:
        return display_path(path, self.cwd)


def display_path(path: Path, cwd: Path) -> str:
    try:
        return path.resolve().relative_to(cwd.resolve()).as_posix()
    except ValueError:
        return os.path.relpath(path.resolve(), cwd.resolve()).replace(os.sep, "/")


def _parse_one(args: tuple[str, bytes]) -> ir.ModuleFacts:
    path, data = args
    try:
        text = decode_python(path, data)
    except SourceError as exc:
        return ir.ModuleFacts(path, (), error=str(exc), error_span=Span(path, 1))
    facts = parse_facts(path, text)
    if facts.error is not None and facts.error.startswith("syntax error") and is_python_template(path, text):
        # Not QL000: the file is fine, it is just not Python until rendered.
        return ir.ModuleFacts(path, (), error=PYTHON_NOTE, lines=facts.lines, mentions_celery=False)
    return facts


def _parse_pickled(args: tuple[str, bytes]) -> bytes:
    # In a pool: the facts travel back pickled once, and those bytes are what the cache stores.
    with ir.deep_recursion():
        return pickle.dumps(_parse_one(args), protocol=pickle.HIGHEST_PROTOCOL)


def _pool_context() -> multiprocessing.context.BaseContext:
    # Forking copies a lock held by another thread in its locked state: in the language
    # server a thread blocked reading stdin holds the stdin lock, and the forked child hung
    # closing stdin. Fork (the cheap start) only from a process with no other thread.
    return multiprocessing.get_context("fork" if threading.active_count() == 1 and os.name == "posix" else "spawn")


def _deep_worker() -> None:
    # Results travel back pickled; deep expressions need the raised limit there too.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), ir.RECURSION_LIMIT))
    # A forked worker inherits collections_paused(), but lives for many files.
    gc.enable()


class _Loader:
    """Loads facts for the resolver: on demand, from memory, the cache, or a parse."""

    def __init__(self, cache: FactsCache, abs_of: Mapping[str, str], overrides: Mapping[str, bytes]) -> None:
        self.cache = cache
        self.abs_of = abs_of
        self.overrides = overrides
        self.facts: dict[str, ir.ModuleFacts] = {}
        self.data: dict[str, bytes] = {}
        self.parsed = 0

    def read(self, path: str) -> bytes | None:
        if path in self.data:
            return self.data[path]
        if path in self.overrides:
            data: bytes | None = self.overrides[path]
        else:
            try:
                data = read_bytes(self.abs_of[path])
            except SourceError as exc:
                self.facts[path] = ir.ModuleFacts(path, (), error=str(exc), error_span=Span(path, 1))
                data = None
        if data is not None:
            self.data[path] = data
        return data

    def read_other(self, path: str) -> bytes | None:
        """The bytes of a file that is not Python; None when it cannot be read."""
        if path in self.overrides:
            return self.overrides[path]
        if path not in self.abs_of:
            return None
        try:
            return read_bytes(self.abs_of[path])
        except SourceError:
            return None

    def prefetch(self, paths: list[str]) -> None:
        """Parse many files at once, in parallel when there are enough to be worth it."""
        todo: list[tuple[str, bytes, str]] = []
        for path in paths:
            if path in self.facts:
                continue
            data = self.read(path)
            if data is None:
                continue
            key = self.cache.key(path, data)
            cached = self.cache.get(key)
            if cached is not None:
                self.facts[path] = cached
            else:
                todo.append((path, data, key))
        if not todo:
            return
        # Open buffers are parsed here, not in a pool: this process then keeps their
        # statements (python.py), and the next edit re-parses only what changed.
        here = [item for item in todo if item[0] in self.overrides]
        rest = [item for item in todo if item[0] not in self.overrides]
        todo = here + rest  # the order of the results
        results: list[ir.ModuleFacts | bytes] = [_parse_one((p, d)) for p, d, _ in here]
        if len(rest) >= PARALLEL_THRESHOLD and (os.cpu_count() or 1) > 1:
            with ProcessPoolExecutor(max_workers=min(os.cpu_count() or 1, 8), initializer=_deep_worker,
                                     mp_context=_pool_context()) as pool:
                results += pool.map(_parse_pickled, [(p, d) for p, d, _ in rest], chunksize=4)
        else:
            results += [_parse_one((p, d)) for p, d, _ in rest]
        for (path, _, key), result in zip(todo, results):
            pickled = result if isinstance(result, bytes) else None
            if pickled is not None:
                with ir.deep_recursion():
                    result = pickle.loads(pickled)
            self.facts[path] = result
            # An unsaved buffer changes again: not worth storing.
            self.cache.put(key, result, to_disk=path not in self.overrides, pickled=pickled)
            self.parsed += 1

    def __call__(self, path: str) -> ir.ModuleFacts | None:
        if path not in self.abs_of:
            return None
        if path not in self.facts:
            self.prefetch([path])
        return self.facts.get(path)


def find_root(paths: Sequence[Path]) -> Path:
    """A folder given on the command line is the tree to analyse; a file brings its project."""
    from qlint.project_config import find_project_root

    first = paths[0] if paths else Path(".")
    if first.is_dir():
        return first
    return find_project_root(first.parent)


def analyse(
    paths: Sequence[str | Path] = (".",),
    *,
    cwd: Path | None = None,
    root: Path | None = None,
    exclude: Sequence[str] = (),
    use_cache: bool = True,
    overrides: Mapping[str, bytes] | None = None,
    facts_memory: dict[str, ir.ModuleFacts] | None = None,
) -> Analysis:
    """Resolve the project that the given paths belong to.

    overrides maps display paths to unsaved contents (the language server's buffers);
    facts_memory is a dict kept between calls that holds the facts of the files seen last.
    """
    cwd = (cwd or Path.cwd()).resolve()
    targets = [(cwd / p).resolve() if not Path(p).is_absolute() else Path(p).resolve() for p in paths]
    root = (root or find_root(targets)).resolve()
    abs_of: dict[str, str] = {}
    python_files: list[str] = []
    other_files: list[str] = []
    base = display_path(root, cwd)
    prefix = "" if base == "." else f"{base}/"
    # walk_files() does not follow links, so a path under root needs no resolving.
    for rel_to_root, full in walk_files(root, exclude):
        rel = prefix + rel_to_root
        abs_of[rel] = full
        (python_files if rel.endswith(".py") else other_files).append(rel)
    buffers = overrides or {}
    loader = _Loader(FactsCache(root, use_cache, facts_memory), abs_of, buffers)
    entries, settings_only, quiet, app_users = [], [], [], []
    for rel in python_files:
        data = loader.read(rel)
        if data is None:
            continue
        markers = celery_markers(data)
        if rel in buffers or (markers and not names_settings_module_only(markers)):
            entries.append(rel)  # an open buffer is always read, so that its parse errors show
        elif markers:
            settings_only.append(rel)
        elif may_use_an_app(data):
            app_users.append(rel)
        else:
            quiet.append(rel)
    loader.prefetch(entries)
    deploy = load_deploy_files(other_files, loader.read_other)
    workspace = Workspace(python_files, loader, deploy.environment)
    workspace.quiet, workspace.app_users = frozenset(quiet), frozenset(app_users)
    workspace.settings_files = {f.path: f for f in deploy.facts if f.kind == "settings"}
    project = build_project(display_path(root, cwd), workspace, entries, settings_only)
    project.deployment = build_view(deploy.facts, project.apps, workspace.index.module_name,
                                    deploy.environment, deploy.env_files)
    problems = [
        FileProblem(f.path, f.error, f.error_span or Span(f.path, 1))
        for f in [*loader.facts.values(), *deploy.facts] if f.error is not None and f.error != PYTHON_NOTE
    ]
    project.notes.extend(f"{f.path}: {PYTHON_NOTE}" for f in sorted(loader.facts.values(), key=lambda f: f.path)
                         if f.error == PYTHON_NOTE)
    analysis = Analysis(root, cwd, project, sorted(problems, key=lambda p: p.path), python_files, other_files,
                        loader.parsed, loader.cache.hits)
    loader.cache.forget_untouched()
    return analysis
