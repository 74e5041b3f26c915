"""Which files hold tests, by the conventions of Python projects."""
from __future__ import annotations

import posixpath
import re

_TEST_PART = re.compile(r"(^|[/._-])(tests?|testing|conftest|pytest|ci|unittest|test_settings|settings_test)([/._-]|$)",
                        re.I)


def in_project(path: str, root: str) -> str:
    """path as seen from the project root: folders above the root (a checkout under /builds/ci/ or
    pytest's test_xxx temporary directory) say nothing about what a file is for."""
    if not path or root in ("", "."):
        return path
    relative = posixpath.relpath(path, root)
    return path if relative.startswith("..") else relative


def is_test_path(path: str, root: str) -> bool:
    return bool(_TEST_PART.search(in_project(path, root)))
