"""Every test's caches go to a folder of the test session, never the user's own."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from qlint.scan import cache_store


@pytest.fixture(scope="session", autouse=True)
def _session_cache_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qlint-cache")
    saved = os.environ.get("QLINT_CACHE_DIR")
    os.environ["QLINT_CACHE_DIR"] = str(folder)
    yield folder
    if saved is None:
        os.environ.pop("QLINT_CACHE_DIR", None)
    else:
        os.environ["QLINT_CACHE_DIR"] = saved


def cache_of(root: Path) -> Path:
    """The cache folder of the project at root."""
    return cache_store.project_dir(root.resolve())
