"""Finding the files to analyse under a project root."""
from __future__ import annotations

import fnmatch
import operator
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", ".tox", ".nox", ".venv", "venv", "env", ".env", "virtualenv", "node_modules",
    "build", "dist", "site-packages", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache",
    ".qlint_cache", ".eggs", "htmlcov", ".idea", ".vscode",
})


def is_virtualenv(path: Path) -> bool:
    return (path / "pyvenv.cfg").is_file()


def excluded(rel: str, patterns: Iterable[str], skip: int = 0) -> bool:
    """True when a root-relative posix path, or one of its parent folders, matches a pattern.

    skip: how many leading parts are exempt (a folder named on the command line): only the
    path and its parents below them are tested."""
    parts = rel.split("/")
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        for i in range(skip + 1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if fnmatch.fnmatchcase(prefix, pattern) or fnmatch.fnmatchcase(parts[i - 1], pattern):
                return True
    return False


def walk(root: Path, exclude: Iterable[str] = ()) -> Iterator[Path]:
    """Every regular file under root, skipping tool, VCS and virtualenv folders and excludes."""
    for _, full in walk_files(root, exclude):
        yield Path(full)


# The files that may hold a qlint configuration of their own (project_config.CONFIG_FILES).
CONFIG_NAMES = (".qlint.toml", "pyproject.toml")


@dataclass(frozen=True)
class Scope:
    """The exclude patterns in force in a folder, and how a root-relative path is made
    relative to the folder of the configuration that holds them."""

    patterns: tuple[str, ...]
    strip: int = 0  # characters of the root-relative path above that folder ("services/api/")
    lead: str = ""  # or the root's own path below it ("sub/"), when the root is deeper

    def relative(self, rel: str) -> str:
        return self.lead + rel[self.strip:]


def walk_files(root: Path, exclude: Iterable[str] = (), skipped: list[str] | None = None, *, lead: str = "",
               nested: Callable[[str], tuple[str, ...] | None] | None = None,
               scopes: dict[str, Scope] | None = None, skip: int = 0) -> Iterator[tuple[str, str]]:
    """Like walk(), as (root-relative posix path, absolute path) strings: no Path objects,
    which cost more than the directory listing on large trees.

    Symbolic links are not followed. Directory entries come from os.scandir, whose
    type information needs no extra stat call on most file systems.

    A file or folder whose name is not UTF-8 (`notes-\\xff.txt`) is left out: no module can
    have it, and no report, cache key or editor URI could carry it. `skipped`, when given,
    receives each such path as shown_name() writes it.

    exclude is relative to the folder of the root's configuration, and lead is the root's
    path below that folder. nested, when given, is asked about each folder under the root
    that holds a configuration file (CONFIG_NAMES): it returns that folder's own exclude
    patterns, which govern the folder's subtree instead, or None when the file holds no
    qlint configuration. scopes, when given, receives the scope of each such folder by its
    root-relative path. skip: how many leading parts of a path relative to the configuration's
    folder are exempt from the patterns (those of a root named on the command line).
    """
    yield from _walk(str(root), "", Scope(tuple(exclude), 0, lead), skip, nested, scopes, skipped)


def walk_named(root: Path, rel_dir: str, scope: Scope, nested: Callable[[str], tuple[str, ...] | None] | None = None,
               scopes: dict[str, Scope] | None = None) -> Iterator[tuple[str, str]]:
    """The files of a folder named on the command line (root-relative rel_dir), checked
    although an exclude pattern covers it or a folder above it: the patterns of `scope`
    (the configuration governing it) still apply to what is below it, as in Ruff."""
    skip = len(scope.relative(rel_dir).split("/"))
    yield from _walk(os.path.join(str(root), rel_dir), rel_dir, scope, skip, nested, scopes, None)


_NAME = operator.attrgetter("name")


def _walk(top: str, top_rel: str, top_scope: Scope, skip: int, nested, scopes, skipped) -> Iterator[tuple[str, str]]:
    pending = [(top, top_rel, top_scope, skip)]
    while pending:
        here, rel_dir, scope, skip = pending.pop()
        try:
            with os.scandir(here) as listing:
                entries = sorted(listing, key=_NAME)
        except OSError:
            continue
        # a virtualenv below the top, known by its listing rather than by a stat of every folder
        if here != top and any(e.name == "pyvenv.cfg" and e.is_file() for e in entries):
            continue
        if nested is not None and rel_dir and any(e.name in CONFIG_NAMES for e in entries):
            own = nested(here)
            if own is not None:
                scope = Scope(own, len(rel_dir) + 1)
                skip = 0
                if scopes is not None:
                    scopes[rel_dir] = scope
        patterns = scope.patterns
        subdirs = []
        for entry in entries:
            rel = entry.name if not rel_dir else f"{rel_dir}/{entry.name}"
            if not entry.name.isascii() and not _is_utf8(entry.name):
                if skipped is not None:
                    skipped.append(shown_name(rel))
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name in SKIP_DIRS or entry.name.endswith(".egg-info"):
                        continue
                    if patterns and excluded(scope.relative(rel), patterns, skip):
                        continue
                    subdirs.append((entry.path, rel, scope, skip))
                elif entry.is_file(follow_symlinks=False) and not (patterns and excluded(scope.relative(rel), patterns, skip)):
                    yield rel, entry.path
            except OSError:
                continue
        pending.extend(reversed(subdirs))


def _is_utf8(name: str) -> bool:
    """Whether a name from the file system decodes as UTF-8 (os.fsdecode keeps other bytes
    as lone surrogates, which nothing can encode)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown_name(name: str) -> str:
    """A file-system name fit to print: bytes that are not UTF-8 as \\xNN escapes."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def find_root(paths: Sequence[Path]) -> Path:
    """A folder given on the command line is the tree to analyse; a file brings its project.
    Paths of several trees (pre-commit at a monorepo's root passes files of each sub-project)
    are analysed together, from the project folder above all of them."""
    from qlint.user_config.project_config import find_project_root

    roots = list(dict.fromkeys(p if p.is_dir() else find_project_root(p.parent) for p in paths)) or [Path(".")]
    if len(roots) == 1:
        return roots[0]
    return find_project_root(Path(os.path.commonpath([str(r.resolve()) for r in roots])))


def display_path(path: Path, cwd: Path) -> str:
    try:
        return path.resolve().relative_to(cwd.resolve()).as_posix()
    except ValueError:
        return os.path.relpath(path.resolve(), cwd.resolve()).replace(os.sep, "/")


def project_files(root: Path, targets: Sequence[Path], exclude: Sequence[str], config: object | None,
                   force_exclude: bool, configs: dict[str, object],
                   not_utf8: list[str] | None = None) -> Iterator[tuple[str, str]]:
    """(root-relative path, absolute path) of every file to analyse: the walk under root with
    each folder's exclude patterns, then the paths named on the command line that the
    patterns left out (unless force_exclude), as Ruff does. configs receives each
    sub-project's configuration by its root-relative folder, not_utf8 the names left out
    because they are not UTF-8."""
    from qlint.user_config.project_config import config_in

    def nested(folder: str) -> tuple[str, ...] | None:
        found = config_in(folder)
        if found is None:
            return None
        configs[Path(folder).relative_to(root).as_posix()] = found
        return tuple(found.exclude)

    lead = ""
    config_root = getattr(config, "root", None)
    if config_root is not None and root != Path(config_root) and root.is_relative_to(config_root):
        lead = root.relative_to(config_root).as_posix() + "/"
    scopes: dict[str, Scope] = {}
    seen: set[str] = set()
    # A folder named on the command line is the root: the patterns that cover it do not apply to it.
    skip = 0 if force_exclude else lead.count("/")
    for rel, full in walk_files(root, exclude, not_utf8, lead=lead, nested=nested, scopes=scopes, skip=skip):
        seen.add(rel)
        yield rel, full
    if force_exclude:
        return
    for target in targets:
        if target == root or not target.is_relative_to(root) or not target.exists():
            continue
        rel_target = target.relative_to(root).as_posix()
        if target.is_file():
            if rel_target not in seen:
                seen.add(rel_target)
                yield rel_target, str(target)
            continue
        scope, parts = Scope(tuple(exclude), 0, lead), rel_target.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder not in scopes and any((root / folder / name).is_file() for name in CONFIG_NAMES):
                own = nested(str(root / folder))
                if own is not None:
                    scopes[folder] = Scope(own, len(folder) + 1)
            scope = scopes.get(folder, scope)
        for rel, full in walk_named(root, rel_target, scope, nested, scopes):
            if rel not in seen:
                seen.add(rel)
                yield rel, full
