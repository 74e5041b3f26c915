"""Finding the files to analyse under a project root."""
from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Iterable, Iterator

SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", ".tox", ".nox", ".venv", "venv", "env", ".env", "virtualenv", "node_modules",
    "build", "dist", "site-packages", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache",
    ".qlint_cache", ".eggs", "htmlcov", ".idea", ".vscode",
})


def is_virtualenv(path: Path) -> bool:
    return (path / "pyvenv.cfg").is_file()


def excluded(rel: str, patterns: Iterable[str]) -> bool:
    """True when a root-relative posix path, or one of its parent folders, matches a pattern."""
    parts = rel.split("/")
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if fnmatch.fnmatchcase(prefix, pattern) or fnmatch.fnmatchcase(parts[i - 1], pattern):
                return True
    return False


def walk(root: Path, exclude: Iterable[str] = ()) -> Iterator[Path]:
    """Every regular file under root, skipping tool, VCS and virtualenv folders and excludes."""
    for _, full in walk_files(root, exclude):
        yield Path(full)


def walk_files(root: Path, exclude: Iterable[str] = (), skipped: list[str] | None = None) -> Iterator[tuple[str, str]]:
    """Like walk(), as (root-relative posix path, absolute path) strings: no Path objects,
    which cost more than the directory listing on large trees.

    Symbolic links are not followed. Directory entries come from os.scandir, whose
    type information needs no extra stat call on most file systems.

    A file or folder whose name is not UTF-8 (`notes-\\xff.txt`) is left out: no module can
    have it, and no report, cache key or editor URI could carry it. `skipped`, when given,
    receives each such path as shown_name() writes it.
    """
    patterns = tuple(exclude)
    pending = [(str(root), "")]
    while pending:
        here, rel_dir = pending.pop()
        try:
            with os.scandir(here) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError:
            continue
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
                    if (patterns and excluded(rel, patterns)) or os.path.isfile(os.path.join(entry.path, "pyvenv.cfg")):
                        continue
                    subdirs.append((entry.path, rel))
                elif entry.is_file(follow_symlinks=False) and not (patterns and excluded(rel, patterns)):
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
