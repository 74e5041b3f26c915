"""What a check derived from each file's bytes, kept for the next run (scan/verdicts.py): a run
after an edit reads only the files that changed and those it parses, and finds what a run
without any cache finds."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

import qlint.pipeline.analysis
from qlint.pipeline.engine import check_paths
from qlint.scan import cache_store, file_memory
from qlint.scan.cache_writer import wait_for_writer
from qlint.scan.verdicts import MISSING, StoredVerdicts
from qlint.user_config.project_config import load_config
from tests.rules.test_ql305_callers import VIEWS, project

# Modules that mention nothing Celery cares about: the pre-filter reads them and sets them aside.
PLAIN = {f"shop/plain{i}.py": f"def helper{i}(x):\n    return x + {i}\n" for i in range(20)}


def _run(root: Path, use_cache: bool = True) -> list[tuple[str, str, int]]:
    result = check_paths(["."], cwd=root, root=root, config=load_config(root), use_cache=use_cache)
    wait_for_writer(root)  # what the run stores is written by a child once it has its answer
    return sorted((f.code, f.span.path, f.span.line) for f in result.findings)


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The files the next runs read, by path."""
    # Files written by the test are seconds old: trust their times at once.
    monkeypatch.setattr(file_memory, "RACY_NS", 0)
    seen: list[str] = []
    real = qlint.pipeline.analysis.read_bytes

    def counted(path):
        seen.append(Path(path).as_posix())
        return real(path)

    monkeypatch.setattr(qlint.pipeline.analysis, "read_bytes", counted)
    return seen


def _read(seen: list[str], root: Path) -> set[str]:
    return {Path(path).relative_to(root).as_posix() for path in seen if path.endswith(".py")}


def test_a_run_after_an_edit_reads_the_changed_file_and_the_marked_ones(tmp_path, reads):
    root = project(tmp_path, {"shop/views.py": VIEWS, **PLAIN})
    first = _run(root)
    assert ("QL305", "shop/views.py", 11) in first
    assert {f"shop/plain{i}.py" for i in range(20)} <= _read(reads, root)
    reads.clear()
    with open(root / "shop/settings.py", "a", encoding="utf-8") as handle:
        handle.write("TIME_ZONE = 'UTC'\n")
    again = _run(root)
    read = _read(reads, root)
    assert "shop/settings.py" in read and "shop/tasks.py" in read
    assert not any(path.startswith("shop/plain") for path in read)
    assert again == first == _run(root, use_cache=False)


def test_a_module_that_starts_calling_a_sender_is_read_again(tmp_path, reads):
    quiet = VIEWS.replace("    notify_customer(order)\n", "")
    root = project(tmp_path, {"shop/views.py": quiet, **PLAIN})
    assert not any(code == "QL305" for code, _, _ in _run(root))
    (root / "shop/views.py").write_text(VIEWS, encoding="utf-8")
    again = _run(root)
    assert ("QL305", "shop/views.py", 11) in again
    assert again == _run(root, use_cache=False)


def test_a_module_that_gains_a_celery_marker_is_read_again(tmp_path, reads):
    root = project(tmp_path, {**PLAIN})
    assert not any(path == "shop/plain3.py" for _, path, _ in _run(root))
    (root / "shop/plain3.py").write_text(
        "from shop.celery import app\n\n\n@app.task(acks_late=True, time_limit=7200)\ndef helper3(x):\n"
        "    return x\n", encoding="utf-8")
    again = _run(root)
    assert any(path == "shop/plain3.py" for _, path, _ in again)
    assert again == _run(root, use_cache=False)


def test_a_fresh_file_is_not_trusted_until_its_times_are_old(tmp_path):
    """A file written within RACY_NS may change again without its times moving."""
    module = tmp_path / "a.py"
    module.write_text("x = 1\n", encoding="utf-8")
    stored = StoredVerdicts(tmp_path)
    assert stored.get(str(module), "markers") is MISSING
    stored.put(str(module), "markers", (1,))
    stored.save()
    assert StoredVerdicts(tmp_path).get(str(module), "markers") is MISSING


def test_verdicts_kept_and_dropped(tmp_path, monkeypatch):
    monkeypatch.setattr(file_memory, "RACY_NS", 0)
    module = tmp_path / "a.py"
    module.write_text("x = 1\n", encoding="utf-8")
    stored = StoredVerdicts(tmp_path)
    assert stored.get(str(module), "markers") is MISSING
    stored.put(str(module), "markers", (1,))
    stored.put(str(module), ("calls", ("notify",)), ())
    stored.save()
    assert StoredVerdicts(tmp_path).get(str(module), "markers") == (1,)
    assert StoredVerdicts(tmp_path).get(str(module), ("calls", ("other",))) is MISSING
    module.write_text("x = 2\n", encoding="utf-8")
    assert StoredVerdicts(tmp_path).get(str(module), "markers") is MISSING


class _Runs:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_planted_or_damaged_verdicts_file_is_not_loaded(tmp_path, monkeypatch):
    monkeypatch.setattr(file_memory, "RACY_NS", 0)
    module = tmp_path / "a.py"
    module.write_text("x = 1\n", encoding="utf-8")
    stored = StoredVerdicts(tmp_path)
    stored.get(str(module), "markers")
    stored.put(str(module), "markers", (1,))
    stored.save()
    marker = tmp_path / "MARKER"
    hostile = pickle.dumps(_Runs(marker))
    for blob in (hostile, cache_store.seal(stored.name, hostile, cache_store.key()),
                 cache_store.seal(stored.name, hostile, b"k" * cache_store.KEY_SIZE), b"\x00" * 40):
        stored.path.write_bytes(blob)
        assert StoredVerdicts(tmp_path).get(str(module), "markers") is MISSING
    assert not marker.exists()
