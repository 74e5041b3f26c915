"""Helpers for resolver tests: small project trees written to disk, analysed for real."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest

from qlint.pipeline.analysis import Analysis, analyse


def write_tree(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")


@pytest.fixture
def analyse_tree(tmp_path: Path) -> Callable[..., Analysis]:
    """Write files under tmp_path and analyse the tree from there (no cache)."""

    def run(files: dict[str, str | bytes], **kwargs: Any) -> Analysis:
        write_tree(tmp_path, files)
        kwargs.setdefault("use_cache", False)
        return analyse(["."], cwd=tmp_path, root=tmp_path, **kwargs)

    return run


def where(value: Any) -> tuple[str, int] | None:
    """(path, line) of a Value's origin, None when it has none."""
    return (value.origin.path, value.origin.line) if value.origin is not None else None


_CELERY_PROBE = """
import json, sys
sys.path.insert(0, {root!r})
from celery import Celery
namespace = {{}}
exec(compile({setup!r}, "setup", "exec"), namespace)
app = namespace["app"]
out = {{}}
for name in {names!r}:
    value = app.conf[name]
    if hasattr(value, "total_seconds"):
        value = value.total_seconds()
    out[name] = value if isinstance(value, (int, float, str, bool, type(None), list, dict)) else repr(value)
print(json.dumps(out))
"""


def celery_reads(root: Path, setup: str, names: list[str]) -> dict[str, Any]:
    """What real Celery holds for `names` after running `setup` (which defines `app`) in a subprocess.

    Runs in a child process so that the project's modules never enter qlint's own interpreter.
    """
    code = _CELERY_PROBE.format(root=str(root), setup=textwrap.dedent(setup), names=names)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
