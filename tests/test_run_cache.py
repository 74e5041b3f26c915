"""The stored result of a whole check: used only while nothing it depends on has changed."""
from __future__ import annotations

import os
from pathlib import Path

from qlint.scan.cache_writer import wait_for_writer
from qlint.pipeline.engine import check_paths
from qlint.user_config.project_config import load_config
from tests.resolve.conftest import write_tree
from tests.conftest import cache_of

FILES = {
    "proj/__init__.py": "",
    "proj/celery.py": "from celery import Celery\n\napp = Celery('proj')\napp.conf.task_acks_late = True\n"
                      "app.conf.task_time_limit = 7200\napp.conf.broker_url = 'redis://r'\n",
}


def _run(root: Path, **options):
    config = load_config(root)
    result = check_paths(["."], cwd=root, root=root, config=config, **options)
    # The result is stored by a child after check_paths returns (cache_writer.py), and only if
    # the tree is still as the run saw it. These tests edit the tree next: wait, as a person
    # editing after the run would, so that what is stored does not depend on a race.
    wait_for_writer(root)
    return result


def _codes(result) -> list[str]:
    return [f.code for f in result.findings]


def _counting_analyses(monkeypatch) -> list[int]:
    import qlint.pipeline.analysis

    calls: list[int] = []
    real = qlint.pipeline.analysis.analyse

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(qlint.pipeline.analysis, "analyse", counted)
    return calls


def test_an_unchanged_tree_gets_the_stored_result(tmp_path, monkeypatch):
    write_tree(tmp_path, FILES)
    analyses = _counting_analyses(monkeypatch)
    first = _run(tmp_path)
    again = _run(tmp_path)
    assert _codes(first) == _codes(again) == ["QL101", "QL401"] and len(analyses) == 1
    assert _codes(_run(tmp_path, ignore=["QL101"])) == ["QL401"] and len(analyses) == 2  # other options: run again


def test_a_changed_added_or_removed_file_runs_again(tmp_path, monkeypatch):
    write_tree(tmp_path, FILES)
    analyses = _counting_analyses(monkeypatch)
    _run(tmp_path)
    conf = tmp_path / "proj/celery.py"
    conf.write_text(conf.read_text().replace("7200", "600"))
    assert _codes(_run(tmp_path)) == [] and len(analyses) == 2
    (tmp_path / "proj/celeryconfig.py").write_text("task_acks_late = False\n")
    _run(tmp_path)
    (tmp_path / "proj/celeryconfig.py").unlink()
    _run(tmp_path)
    assert len(analyses) == 4


def test_an_edit_that_keeps_the_size_is_caught_by_the_modification_time(tmp_path, monkeypatch):
    write_tree(tmp_path, FILES)
    analyses = _counting_analyses(monkeypatch)
    _run(tmp_path)
    conf = tmp_path / "proj/celery.py"
    stat = conf.stat()
    conf.write_text(conf.read_text().replace("7200", "1200"))
    os.utime(conf, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert _codes(_run(tmp_path)) == [] and len(analyses) == 2


def test_without_the_cache_nothing_is_stored(tmp_path, monkeypatch):
    write_tree(tmp_path, FILES)
    analyses = _counting_analyses(monkeypatch)
    _run(tmp_path, use_cache=False)
    _run(tmp_path, use_cache=False)
    assert len(analyses) == 2 and not cache_of(tmp_path).exists()
