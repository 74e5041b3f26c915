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
    (tmp_path / "proj/tasks.py").write_text("from proj.celery import app\n\n\n@app.task\ndef ping():\n    pass\n")
    _run(tmp_path)
    (tmp_path / "proj/tasks.py").unlink()
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


def test_a_tree_with_a_sub_project_that_excludes_files_gets_the_stored_result(tmp_path, monkeypatch):
    """The tree is listed as the run listed it, with the sub-project's own exclude, both when the
    run starts and when its result is stored."""
    write_tree(tmp_path, {**FILES, "sub/.qlint.toml": 'exclude = ["gen"]\n', "sub/gen/made.py": "x = 1\n",
                          "sub/kept.py": "y = 2\n"})
    analyses = _counting_analyses(monkeypatch)
    _run(tmp_path)
    assert _codes(_run(tmp_path)) == ["QL101", "QL401"] and len(analyses) == 1


def test_without_the_cache_nothing_is_stored(tmp_path, monkeypatch):
    write_tree(tmp_path, FILES)
    analyses = _counting_analyses(monkeypatch)
    _run(tmp_path, use_cache=False)
    _run(tmp_path, use_cache=False)
    assert len(analyses) == 2 and not cache_of(tmp_path).exists()


# -- edits that cannot change the result (run_cache.RunCache.get_unaffected) -----------------

# Modules that mention nothing Celery cares about: the run only scans them (file_verdicts.py).
PLAIN = {f"shop/plain{i}.py": f"def helper{i}(x):\n    return x + {i}\n" for i in range(5)}


def _edit(path: Path, text: str) -> None:
    """Write a file, with a modification time a second before its last one: two writes within
    the same clock tick could leave a file of the same size with the same times."""
    before = path.stat().st_mtime_ns if path.exists() else None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if before is not None:
        os.utime(path, ns=(before - 10**9, before - 10**9))


def _counting_rechecks(monkeypatch) -> list[str]:
    """The edited files whose verdicts a run computes again, by path from the root."""
    import qlint.pipeline.engine

    checked: list[str] = []
    real = qlint.pipeline.engine.unaffected_by

    def counted(rel, full, verdicts):
        checked.append(rel)
        return real(rel, full, verdicts)

    monkeypatch.setattr(qlint.pipeline.engine, "unaffected_by", counted)
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
    _edit(root / "shop/plain1.py", "def helper1(x, y=2):\n    return x * y\n")
    _edit(root / "shop/plain3.py", "import json\n\n\ndef helper3(x):\n    return json.dumps(x)\n")
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
    _edit(root / "shop/plain2.py", "def helper2(x):\n    return x - 2\n")
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
        _edit(target, edit(before))
        count = len(analyses)
        changed = _findings(_run(root))
        assert len(analyses) == count + 1, path
        assert changed == _findings(_run(root, use_cache=False))
        _edit(target, before)
        _run(root)


def test_files_that_are_not_python_run_again_if_qlint_reads_them(tmp_path, monkeypatch):
    monkeypatch.setattr(file_memory, "RACY_NS", 0)
    root = _views_project(tmp_path)
    _edit(root / "Procfile", "worker: celery -A shop worker\n")
    _edit(root / "shop/.qlint.toml", "ignore = []\n")  # a sub-project's configuration
    _edit(root / "CHANGELOG.md", "# 1.0\n")
    _edit(root / "pyproject.toml", '[project]\nname = "shop"\n\n[tool.ruff]\nline-length = 100\n')
    analyses = _counting_analyses(monkeypatch)
    first = _run(root)
    _edit(root / "CHANGELOG.md", "# 1.1\n\nFaster.\n")
    _edit(root / "pyproject.toml", '[project]\nname = "shop"\n\n[tool.ruff]\nline-length = 120\n')
    assert _codes(_run(root)) == _codes(first) and len(analyses) == 1
    _edit(root / "Procfile", "worker: celery -A shop worker --prefetch-multiplier=1\n")
    _run(root)
    assert len(analyses) == 2
    _edit(root / "shop/.qlint.toml", 'ignore = ["QL305"]\n')
    assert "QL305" in _codes(first) and "QL305" not in _codes(_run(root))
    assert len(analyses) == 3


def test_a_file_whose_comments_were_read_runs_again(tmp_path, monkeypatch):
    """With QL009 on, every checked file's suppression comments are read."""
    monkeypatch.setattr(file_memory, "RACY_NS", 0)
    root = _views_project(tmp_path)
    analyses = _counting_analyses(monkeypatch)
    _run(root, extend_select=["QL009"])
    _edit(root / "shop/plain4.py", "def helper4(x):  # noqa: QL305\n    return x\n")
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
    _edit(root / "shop/plain1.py", "def helper1(x):\n    return -x\n")
    assert _run_paths(root, ["shop/plain1.py"]) == _run_paths(root, ["shop/plain1.py"], use_cache=False)
    assert len(analyses) == 1 + len(asked) + 1


def test_an_answer_that_depends_on_the_asked_files_answers_only_them(tmp_path, monkeypatch):
    """With QL009, the stale suppression comments of the asked files are reported."""
    monkeypatch.setattr(file_memory, "RACY_NS", 0)
    root = _views_project(tmp_path)
    _edit(root / "shop/plain4.py", "def helper4(x):  # noqa: QL305\n    return x\n")
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


def test_a_dependency_file_runs_again_only_when_what_it_says_of_celery_changes(tmp_path, monkeypatch):
    monkeypatch.setattr(file_memory, "RACY_NS", 0)
    root = _views_project(tmp_path)
    requirements = root / "requirements.txt"
    _edit(requirements, "celery==5.3.6\nrequests==2.31.0\n")
    analyses = _counting_analyses(monkeypatch)
    _run(root)
    _edit(requirements, "celery==5.3.6\nrequests==2.32.3\n")  # a bump of another package
    _run(root)
    assert len(analyses) == 1
    _edit(requirements, "celery==5.2.7\nrequests==2.32.3\n")
    _run(root)
    assert len(analyses) == 2


def test_files_added_or_removed_that_nothing_looks_for_keep_the_answer(tmp_path, monkeypatch):
    monkeypatch.setattr(file_memory, "RACY_NS", 0)
    root = _views_project(tmp_path)
    _edit(root / "docker-compose.yml", "services:\n  worker:\n    image: shop\n    command: celery -A shop worker\n"
                                       "    env_file: config/worker.vars\n")
    _edit(root / "Dockerfile", "FROM python:3.12\nCOPY deps.lst /app/deps.lst\nRUN pip install -r /app/deps.lst\n")
    _edit(root / "changes/1.fixed", "A fix.\n")
    analyses = _counting_analyses(monkeypatch)
    first = _codes(_run(root))
    kept = {  # added, then removed
        "changes/2.added": "A feature.\n",
        "frontend/app.ts": "export const x = 1;\n",
        "docs/mkdocs.yml": "site_name: Shop\nnav:\n  - index.md\n",
    }
    for path, text in kept.items():
        _edit(root / path, text)
        assert _codes(_run(root)) == first and len(analyses) == 1, path
        (root / path).unlink()
        assert _codes(_run(root)) == first and len(analyses) == 1, path
    (root / "changes/1.fixed").unlink()
    assert _codes(_run(root)) == first and len(analyses) == 1
    run_again = {
        "config/worker.vars": "CELERY_WORKER_PREFETCH_MULTIPLIER=1\n",  # the compose file names it
        "ops/deps.lst": "celery==5.4.0\n",  # named like the file the Dockerfile installs from
        "Procfile": "worker: celery -A shop worker\n",  # a deployment file
        "requirements-dev.txt": "pytest\n",  # a dependency file
        "README.md": "cp worker.vars.example config/worker.vars\n",  # may say how an env file is made
        "sub/.qlint.toml": "ignore = []\n",  # a configuration
    }
    for path, text in run_again.items():
        count = len(analyses)
        _edit(root / path, text)
        assert _findings(_run(root)) == _findings(_run(root, use_cache=False)) and len(analyses) == count + 2, path
        (root / path).unlink()
        _run(root)
        assert len(analyses) == count + 3, path


def test_python_modules_added_or_removed_that_no_scan_or_import_finds_keep_the_answer(tmp_path, monkeypatch):
    monkeypatch.setattr(file_memory, "RACY_NS", 0)
    root = _views_project(tmp_path)
    tasks = root / "shop/tasks.py"
    _edit(tasks, tasks.read_text() + "\ntry:\n    from shop.compat import fast_json\nexcept ImportError:\n    fast_json = None\n")
    analyses = _counting_analyses(monkeypatch)
    first = _run_paths(root, ["."])
    new = root / "shop/plain9.py"
    _edit(new, "def helper9(x):\n    return x * 9\n")
    assert _run_paths(root, ["."]) == first and len(analyses) == 1
    # the pre-commit hook names the new module: it is checked (not "no file qlint reads"), with no finding
    assert _run_paths(root, ["shop/plain9.py"]) == ([], []) == _run_paths(root, ["shop/plain9.py"], use_cache=False)
    new.unlink()
    (root / "shop/plain2.py").unlink()
    assert _run_paths(root, ["."]) == first and len(analyses) == 2  # the one more is use_cache=False's
    run_again = {
        "shop/compat.py": "fast_json = None\n",  # an import asked for it
        "shop/jobs.py": "from shop.celery import app\n\n\n@app.task(acks_late=True)\ndef job():\n    pass\n",  # a marker
        "shop/more_views.py": "from shop.notify import notify_customer\n\n\ndef pay(request, order):\n"
                              "    order.save()\n    notify_customer(order)\n",  # calls a function that sends
        "shop/sub/__init__.py": "",  # a package: other modules' names change
        "shop/manage.py": "import os\n",  # a Django entry point
        "setup.py": "from setuptools import setup\n\nsetup(name='shop')\n",  # a dependency file
    }
    for path, text in run_again.items():
        count = len(analyses)
        _edit(root / path, text)
        assert _run_paths(root, ["."]) == _run_paths(root, ["."], use_cache=False) and len(analyses) == count + 2, path
        (root / path).unlink()
        _run(root)
        assert len(analyses) == count + 3, path


def test_what_was_looked_for_is_kept_when_the_check_runs_from_another_folder(tmp_path, monkeypatch):
    """Paths are kept from the root, what an import or a reader looked for as it was asked."""
    monkeypatch.setattr(file_memory, "RACY_NS", 0)
    root = _views_project(tmp_path / "repo")
    _edit(root / "shop/tasks.py", (root / "shop/tasks.py").read_text() + "\nfrom shop import compat\n")
    analyses = _counting_analyses(monkeypatch)

    def run(use_cache: bool = True) -> list[tuple[str, str, int]]:
        result = check_paths(["repo"], cwd=tmp_path, root=root, config=load_config(root), use_cache=use_cache)
        wait_for_writer(root)
        return _findings(result)

    first = run()
    assert ("QL305", "repo/shop/views.py", 11) in first
    _edit(root / "shop/plain9.py", "def helper9(x):\n    return x\n")
    assert run() == first and len(analyses) == 1
    _edit(root / "shop/compat.py", "fast_json = None\n")
    assert run() == run(use_cache=False) and len(analyses) == 3


def test_a_module_named_like_those_autodiscovery_looks_for_anywhere_runs_again(tmp_path, monkeypatch):
    """autodiscover_tasks() with packages qlint cannot read finds every package's tasks module."""
    monkeypatch.setattr(file_memory, "RACY_NS", 0)
    write_tree(tmp_path, {"proj/__init__.py": "", "proj/billing/__init__.py": "",
                          "proj/celery.py": "from celery import Celery\n\nfrom proj.apps import packages\n\n"
                                            "app = Celery('proj')\napp.autodiscover_tasks(packages)\n",
                          "proj/apps.py": "def packages():\n    return ['proj.billing']\n"})
    analyses = _counting_analyses(monkeypatch)
    _run(tmp_path)
    _edit(tmp_path / "proj/billing/helpers.py", "def total(x):\n    return x\n")
    _run(tmp_path)
    assert len(analyses) == 1
    _edit(tmp_path / "proj/billing/tasks.py", "def total(x):\n    return x\n")
    _run(tmp_path)
    assert len(analyses) == 2
