"""A cloned repository cannot run code through qlint's caches or its child processes.

Each test plants what an attacker could commit (pickles that run a command when loaded,
links, a FIFO, modules that shadow the standard library) and runs the real `qlint`
command, or the real language server through an LSP client, on that tree."""
from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qlint import __version__
from qlint.scan import cache_store
from qlint.scan.cache_writer import wait_for_writer
from qlint.scan.facts_cache import FactsCache, extractor_digest
from tests.conftest import cache_of
from tests.lsp.conftest import server_in
from tests.lsp.test_server import diagnostics_for, open_file
from tests.resolve.conftest import write_tree

QLINT = shutil.which("qlint") or "qlint"
ENTRIES = 7

PROJECT = {
    "pyproject.toml": "[project]\nname = 'proj'\n",
    "proj/__init__.py": "",
    "proj/celery.py": "from celery import Celery\n\napp = Celery('proj')\napp.config_from_object('proj.celeryconfig')\n",
    "proj/celeryconfig.py": "broker_url = 'redis://localhost:6379/0'\ntask_acks_late = True\ntask_time_limit = 7200\n",
    **{f"proj/tasks{i}.py": f"from proj.celery import app\n\n\n@app.task\ndef job{i}(x):\n    return x\n"
       for i in range(ENTRIES)},
}


class _Runs:
    """Pickles to a __reduce__ that creates a file: loading it is running a command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def hostile(marker: Path) -> bytes:
    return pickle.dumps(_Runs(marker))


def shadowing_modules(root: Path, marker: Path) -> None:
    """Modules that a process importing from root would run instead of the standard library's."""
    payload = f"open({str(marker)!r}, 'a').write('imported from the project\\n')\n"
    (root / "struct.py").write_text(payload)
    (root / "multiprocessing").mkdir()
    (root / "multiprocessing" / "__init__.py").write_text(payload)


def plant_in_tree(root: Path, marker: Path) -> None:
    """A committed .qlint_cache as qlint used to keep it: a pickle at every file's facts entry
    and in the run cache, a lock that is a FIFO, and a .gitignore linking out of the tree."""
    cache = root / ".qlint_cache"
    facts = cache / f"facts-{__version__}-{extractor_digest()}"
    for path in sorted(root.rglob("*")):
        if path.is_file() and ".qlint_cache" not in path.parts:
            rel = path.relative_to(root).as_posix()
            for kind in ("python", "deploy"):
                key = FactsCache.key(rel, path.read_bytes(), kind)
                (facts / key[:2]).mkdir(parents=True, exist_ok=True)
                (facts / key[:2] / key).write_bytes(hostile(marker))
    (cache / "runs").mkdir()
    (cache / "runs" / ("0" * 32)).write_bytes(hostile(marker))
    os.mkfifo(cache / "lock")
    (cache / ".gitignore").symlink_to(root.parent / "outside-gitignore")


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    # The bound only turns a hang (a FIFO opened for reading) into a failure.
    return subprocess.run([QLINT, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def findings(stdout: str) -> list[tuple[str, str, int]]:
    return sorted((f["code"], f["path"], f["line"]) for f in json.loads(stdout)["findings"])


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "repo"
    write_tree(root, PROJECT)
    return root, tmp_path / "MARKER"


def test_a_cache_committed_in_the_tree_is_never_read_nor_written(tree):
    root, marker = tree
    expected = findings(run(["check", "--no-cache", "--format", "json", "."], root).stdout)
    assert ("QL101", "proj/celeryconfig.py", 2) in expected
    plant_in_tree(root, marker)
    before = sorted(p.name for p in (root / ".qlint_cache").rglob("*"))
    for args in (["check", "--format", "json", "."], ["check", "--format", "json", "."],
                 ["check", "--no-cache", "--format", "json", "."]):
        assert findings(run(args, root).stdout) == expected
    for args in (["config", "."], ["config", "--format", "json", "."], ["simulate", "--from-findings", "."]):
        done = run(args, root)
        assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr
    assert not marker.exists()
    assert not (root.parent / "outside-gitignore").exists()
    assert sorted(p.name for p in (root / ".qlint_cache").rglob("*")) == before


def test_entries_qlint_did_not_write_are_misses(tree):
    """Whatever sits in the user's cache under a valid name, unless qlint sealed it under
    that name with the user's key, is not unpickled: a planted pickle, a pickle sealed
    with another key, a damaged entry, and valid entries swapped between two names."""
    root, marker = tree
    cold = run(["check", "--format", "json", "."], root)
    expected = findings(cold.stdout)
    wait_for_writer(root)  # the run's entries are written by a child after it answers
    entries = sorted(p for p in cache_of(root).rglob("*") if p.is_file() and p.name != "lock")
    assert len(entries) >= ENTRIES + 2
    planted = entries[0::3]
    for entry in planted:
        entry.write_bytes(hostile(marker))
    for entry in entries[1::3]:
        entry.write_bytes(cache_store.seal(entry.name, hostile(marker), b"k" * cache_store.KEY_SIZE))
    damaged = entries[2::3]
    for entry in damaged[:-2]:
        data = bytearray(entry.read_bytes())
        data[len(data) // 2] ^= 0x10
        entry.write_bytes(bytes(data))
    first, second = damaged[-2:]
    first_bytes, second_bytes = first.read_bytes(), second.read_bytes()
    first.write_bytes(second_bytes)
    second.write_bytes(first_bytes)
    for _ in range(2):
        assert findings(run(["check", "--format", "json", "."], root).stdout) == expected
    assert not marker.exists()


def test_an_edit_that_keeps_size_mtime_and_inode_is_seen(tree):
    root, _ = tree
    config = root / "proj/celeryconfig.py"
    assert any(code == "QL101" for code, _, _ in findings(run(["check", "--format", "json", "."], root).stdout))
    stat = config.stat()
    with open(config, "r+b") as handle:  # same size, same inode
        handle.write(config.read_bytes().replace(b"task_acks_late = True", b"task_acks_late = 0   "))
    os.utime(config, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert config.stat().st_size == stat.st_size and config.stat().st_ino == stat.st_ino
    after = findings(run(["check", "--format", "json", "."], root).stdout)
    assert not any(code == "QL101" for code, _, _ in after)


def test_a_cache_folder_that_is_a_link_or_a_fifo_lock_is_refused(tree, tmp_path):
    root, _ = tree
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder = cache_of(root)
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.symlink_to(elsewhere, target_is_directory=True)
    expected = findings(run(["check", "--no-cache", "--format", "json", "."], root).stdout)
    done = run(["check", "--format", "json", "."], root)
    assert findings(done.stdout) == expected
    assert "not using the cache" in done.stderr and "symbolic link" in done.stderr
    assert list(elsewhere.iterdir()) == []
    folder.unlink()
    folder.mkdir()
    os.mkfifo(folder / "lock")
    assert findings(run(["check", "--format", "json", "."], root).stdout) == expected
    assert findings(run(["check", "--format", "json", "."], root).stdout) == expected


@pytest.mark.asyncio(loop_scope="function")
async def test_the_language_server_started_in_a_hostile_project_runs_nothing(tree):
    """As an editor starts it: `qlint lsp` in the project's root, on a cold cache, with a
    committed .qlint_cache full of pickles and modules that shadow the standard library."""
    root, marker = tree
    shadowing_modules(root, marker)
    plant_in_tree(root, marker)
    async with server_in(root, ["sh", "-c", 'cd "$1" && exec "$2" lsp', "sh", str(root), QLINT]) as client:
        target = await open_file(client, "proj/celeryconfig.py")
        found = await diagnostics_for(client, target, lambda d: any(x.code == "QL101" for x in d))
        assert any(d.code == "QL101" and d.range.start.line == 1 for d in found)
    assert not marker.exists()
    assert not (root.parent / "outside-gitignore").exists()


def test_the_first_run_on_a_new_machine_keeps_what_it_stores(tree, tmp_path):
    """No cache directory at all yet (no ~/.cache): the first run makes it and its key, so the
    second run finds what the first stored."""
    root, _ = tree
    env = {**os.environ, "QLINT_CACHE_DIR": str(tmp_path / "new" / "home" / ".cache" / "qlint")}
    done = subprocess.run([QLINT, "check", "--format", "json", "."], cwd=root, capture_output=True, text=True,
                          env=env, timeout=300)
    key = tmp_path / "new" / "home" / ".cache" / "qlint" / "key"
    assert done.returncode == 1 and key.is_file() and oct(key.stat().st_mode & 0o777) == "0o600"
    script = ("import sys\nfrom pathlib import Path\n"
              "from qlint.scan import cache_store\nprint(any(cache_store.project_dir(Path(sys.argv[1])).rglob('facts-*/*/*')))\n")
    found = subprocess.run([sys.executable, "-c", script, str(root.resolve())], capture_output=True, text=True,
                           env=env, timeout=300)
    assert found.stdout.strip() == "True", found.stderr
