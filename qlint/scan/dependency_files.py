"""Reading the project's dependency files for analyse(): which files, their facts, the
files their `-r`/`-c` lines include, and the Celery release [tool.qlint] names.

Candidates are chosen by name among the files discovery found (as deployment files
are), each read once. Files an include names are read when it names them, whatever
their name, if they are in the tree discovery walked.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Collection, Mapping

from qlint.model import Span
from qlint.resolve.versions import Versions, include_target, resolve_versions
from qlint.scan.file_set import FileSet
from qlint.sources.dependencies import dependency_kind
from qlint.sources.dependencies.facts import DependencyFacts, DependencyKind


@dataclass
class DependencyInput:
    facts: dict[str, DependencyFacts] = field(default_factory=dict)
    # (including file, index of the include) -> the project file it names
    targets: dict[tuple[str, int], str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def candidates(paths: Collection[str]) -> list[str]:
    return [path for path in paths if dependency_kind(path) is not None]


def load_dependency_files(paths: list[str], facts_of: Callable[[str, DependencyKind | None], DependencyFacts | None],
                          known: FileSet) -> DependencyInput:
    """Facts of every dependency file among paths and of the files they include; facts_of
    gives a file's facts (read_dependency_bytes) or None when it cannot be read, known holds
    every path in the tree."""
    out = DependencyInput()
    pending = [(path, None) for path in reversed(paths)]
    while pending:
        path, kind = pending.pop()
        if path in out.facts:
            continue
        facts = facts_of(path, kind)
        if facts is None:
            continue
        out.facts[path] = facts
        for index, include in enumerate(facts.includes):
            target = include_target(facts, include.path, known, known.named)
            if target is None:
                option = "-c" if include.constraint else "-r"
                out.notes.append(f"{include.span}: {option} {include.path}: no such file in the project; not read")
                continue
            out.targets[(path, index)] = target
            if target not in out.facts:
                pending.append((target, dependency_kind(target) or "requirements"))
    return out


def configured_release(config: object, cwd: Path) -> tuple[str, Span | None, str] | None:
    """[tool.qlint] celery-version from a loaded configuration, with where it is set (a
    display path relative to cwd, as every span)."""
    release = getattr(config, "celery_version", None)
    if not release:
        return None
    source: Path | None = getattr(config, "source", None)
    if source is None:
        return release, None, f"celery-version = {release!r} in qlint's configuration"
    try:
        text = source.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    match = re.search(r"(?m)^[ \t]*[\"']?celery-version[\"']?[ \t]*=", text)
    line = text.count("\n", 0, match.start()) + 1 if match else 1
    shown = os.path.relpath(source, cwd).replace(os.sep, "/")
    origin = Span(shown, line)
    return release, origin, f"celery-version = {release!r} in {origin}"


def configured_for(root: Path, cwd: Path) -> tuple[str, Span | None, str] | None:
    """The release qlint's configuration for root names, if any; a configuration with
    errors names none here (whoever loads it for real reports them)."""
    from qlint.user_config.project_config import ConfigError, find_project_root, load_config

    try:
        return configured_release(load_config(find_project_root(root)), cwd)
    except ConfigError:
        return None


def versions_of(deps: DependencyInput, override: tuple[str, Span | None, str] | None) -> Versions:
    versions = resolve_versions(deps.facts, deps.targets, override)
    versions.notes[:0] = deps.notes
    return versions


def problems(facts: Mapping[str, DependencyFacts]) -> list[DependencyFacts]:
    """The dependency files that could not be read (reported as QL000)."""
    return [f for f in facts.values() if f.error is not None]
