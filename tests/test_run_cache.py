"""The stored result of a whole check: used only while nothing it depends on has changed."""
from __future__ import annotations

import os
from pathlib import Path

from qlint.scan import file_memory
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


# -- edits that cannot change the result (run_cache.RunCache.get_unaffected) -----------------

# Modules that mention nothing Celery cares about: the run only scans them (file_verdicts.py).
PLAIN = {f"shop/plain{i}.py": f"def helper{i}(x):\n    return x + {i}\n" for i in range(5)}


def _counting_rechecks(monkeypatch) -> list[str]:
    """The edited files whose verdicts a run computes again, by path from the root."""
    import qlint.pipeline.engine

    checked: list[str] = []
    real = qlint.pipeline.engine._same_verdicts

    def counted(rel, full, verdicts):
        checked.append(rel)
        return real(rel, full, verdicts)

    monkeypatch.setattr(qlint.pipeline.engine, "_same_verdicts", counted)
    return checked


def _views_project(root: Path) -> Path:
    from tests.rules.test_ql305_callers import VIEWS, project

    return project(root, {"shop/views.py": VIEWS, **PLAIN})


def _findings(result) -> list[tuple[str, str, int]]:
    return [(f.code, f.span.path, f.span.line) for f in result.findings]


def test_an_edit_of_files_the_run_only_scanned_gets_the_stored_result(tmp_path, monkeypatch):
    monkeypatch.setattr(file_memory, "RACY_NS", 0)
    root = _views_project(tmp_path)
    analyses, rechecked = _counting_analyses(monkeypatch), _counting_rechecks(monkeypatch)
    first = _run(root)
    assert ("QL305", "shop/views.py", 11) in _findings(first)
    (root / "shop/plain1.py").write_text("def helper1(x, y=2):\n    return x * y\n", encoding="utf-8")
    (root / "shop/plain3.py").write_text("import json\n\n\ndef helper3(x):\n    return json.dumps(x)\n")
    again = _run(root)
    assert len(analyses) == 1 and sorted(rechecked) == ["shop/plain1.py", "shop/plain3.py"]
    assert _findings(again) == _findings(first) == _findings(_run(root, use_cache=False))
    # stored again for the tree as it is now: the next run asks no file again
    _run(root)
    assert len(analyses) == 2 and len(rechecked) == 2  # the one more analysis is use_cache=False's


def test_a_fresh_edit_gets_the_stored_result_but_it_is_not_stored_again(tmp_path, monkeypatch):
    """A file written within RACY_NS may change again without its times moving."""
    root = _views_project(tmp_path)
    monkeypatch.setattr(file_memory, "RACY_NS", 0)
    _run(root)
    analyses, rechecked = _counting_analyses(monkeypatch), _counting_rechecks(monkeypatch)
    monkeypatch.setattr(file_memory, "RACY_NS", 3600 * 10**9)
    (root / "shop/plain2.py").write_text("def helper2(x):\n    return x - 2\n", encoding="utf-8")
    _run(root)
    _run(root)
    assert not analyses and rechecked == ["shop/plain2.py", "shop/plain2.py"]


def test_an_edit_that_changes_what_the_run_learnt_of_a_file_runs_again(tmp_path, monkeypatch):
    monkeypatch.setattr(file_memory, "RACY_NS", 0)
    root = _views_project(tmp_path)
    analyses = _counting_analyses(monkeypatch)
    _run(root)
    edits = {
        # a module the run parsed (its bytes were used)
        "shop/settings.py": lambda text: text.replace('"ATOMIC_REQUESTS": True', '"ATOMIC_REQUESTS": False'),
        # a scanned module that gains a Celery marker
        "shop/plain1.py": lambda text: "from shop.celery import app\n\n\n@app.task(acks_late=True)\n" + text,
        # one that starts calling a function that sends a task
        "shop/plain2.py": lambda text: "from shop.notify import notify_customer\n\n\n" + text.replace(
            "return x + 2", "notify_customer(x)"),
    }
    for path, edit in edits.items():
        target = root / path
        before = target.read_text()
        target.write_text(edit(before), encoding="utf-8")
        count = len(analyses)
        changed = _findings(_run(root))
        assert len(analyses) == count + 1, path
        assert changed == _findings(_run(root, use_cache=False))
        target.write_text(before, encoding="utf-8")
        _run(root)


def test_a_changed_file_that_is_not_python_runs_again(tmp_path, monkeypatch):
    monkeypatch.setattr(file_memory, "RACY_NS", 0)
    root = _views_project(tmp_path)
    (root / "Procfile").write_text("worker: celery -A shop worker\n", encoding="utf-8")
    analyses = _counting_analyses(monkeypatch)
    _run(root)
    (root / "Procfile").write_text("worker: celery -A shop worker --prefetch-multiplier=1\n", encoding="utf-8")
    _run(root)
    assert len(analyses) == 2


def test_a_file_whose_comments_were_read_runs_again(tmp_path, monkeypatch):
    """With QL009 on, every checked file's suppression comments are read."""
    monkeypatch.setattr(file_memory, "RACY_NS", 0)
    root = _views_project(tmp_path)
    analyses = _counting_analyses(monkeypatch)
    _run(root, extend_select=["QL009"])
    (root / "shop/plain4.py").write_text("def helper4(x):  # noqa: QL305\n    return x\n", encoding="utf-8")
    again = _run(root, extend_select=["QL009"])
    assert len(analyses) == 2 and ("QL009", "shop/plain4.py", 1) in _findings(again)


# -- one answer for every set of paths (engine.restrict) --------------------------------------

def test_a_check_of_some_files_gets_the_stored_answer_restricted_to_them(tmp_path, monkeypatch):
    """As the pre-commit hook asks, with the files a commit changes."""
    monkeypatch.setattr(file_memory, "RACY_NS", 0)
    root = _views_project(tmp_path)
    write_tree(root, FILES)
    (root / "docs").mkdir()
    (root / "docs/logo.png").write_bytes(b"\x89PNG\r\n")
    analyses = _counting_analyses(monkeypatch)
    everything = _run_paths(root, ["."])
    assert everything == ([("QL101", "proj/celery.py", 4), ("QL401", "proj/celery.py", 5),
                           ("QL305", "shop/views.py", 11)], [])
    views, proj = everything[0][2:], everything[0][:2]
    asked = {("shop/views.py",): (views, []), ("proj",): (proj, []), ("shop/plain1.py", "proj/__init__.py"): ([], []),
             ("docs/logo.png", "proj/celery.py"): (proj, ["docs/logo.png"])}
    stored = {paths: _run_paths(root, list(paths)) for paths in asked}
    assert len(analyses) == 1
    assert stored == asked == {paths: _run_paths(root, list(paths), use_cache=False) for paths in asked}
    (root / "shop/plain1.py").write_text("def helper1(x):\n    return -x\n", encoding="utf-8")
    assert _run_paths(root, ["shop/plain1.py"]) == _run_paths(root, ["shop/plain1.py"], use_cache=False)
    assert len(analyses) == 1 + len(asked) + 1


def test_an_answer_that_depends_on_the_asked_files_answers_only_them(tmp_path, monkeypatch):
    """With QL009, the stale suppression comments of the asked files are reported."""
    monkeypatch.setattr(file_memory, "RACY_NS", 0)
    root = _views_project(tmp_path)
    (root / "shop/plain4.py").write_text("def helper4(x):  # noqa: QL305\n    return x\n", encoding="utf-8")
    analyses = _counting_analyses(monkeypatch)
    whole = _run_paths(root, ["."], extend_select=["QL009"])
    assert ("QL009", "shop/plain4.py", 1) in whole[0]
    assert _run_paths(root, ["shop/views.py"], extend_select=["QL009"])[0] == [("QL305", "shop/views.py", 11)]
    assert _run_paths(root, ["."], extend_select=["QL009"]) == whole
    assert len(analyses) == 3


def _run_paths(root: Path, paths: list[str], **options) -> tuple[list[tuple[str, str, int]], list[str]]:
    result = check_paths(paths, cwd=root, root=root, config=load_config(root), **options)
    wait_for_writer(root)
    return _findings(result) + [("suppressed", f.span.path, f.span.line) for f in result.suppressed], result.unchecked
