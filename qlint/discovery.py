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
    patterns = tuple(exclude)
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        rel_dir = here.relative_to(root).as_posix()
        keep = []
        for name in sorted(dirnames):
            if name in SKIP_DIRS or name.endswith(".egg-info"):
                continue
            sub = here / name
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if excluded(rel, patterns) or is_virtualenv(sub) or sub.is_symlink():
                continue
            keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if excluded(rel, patterns):
                continue
            path = here / name
            if path.is_file() and not path.is_symlink():
                yield path
