"""The facts cache: keyed by content, identical results warm or cold, robust to damage."""
from __future__ import annotations

from qlint.resolve.values import to_json
from tests.conftest import cache_of

FILES = {
    "proj/__init__.py": "",
    "proj/celery.py": 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.conf")\n',
    "proj/conf.py": "import os\n\ntask_time_limit = int(os.getenv('LIMIT', '60'))\ntask_acks_late = True\n",
    "proj/tasks.py": "from proj.celery import app\n\n\n@app.task(acks_late=False)\ndef job(x):\n    pass\n",
}


def snapshot(analysis):
    return [app.to_json(all_settings=True) for app in analysis.project.apps]


def test_warm_run_reads_the_cache_and_gives_the_same_project(analyse_tree, tmp_path):
    cold = analyse_tree(FILES, use_cache=True)
    # proj/__init__.py is empty and mentions nothing of Celery: never needed, never parsed
    assert (cold.parsed, cold.cache_hits) == (3, 0)
    warm = analyse_tree({}, use_cache=True)
    assert (warm.parsed, warm.cache_hits) == (0, 3)
    assert snapshot(warm) == snapshot(cold)
    assert cache_of(tmp_path).is_dir() and not (tmp_path / ".qlint_cache").exists()  # nothing in the tree


def test_a_changed_file_is_parsed_again(analyse_tree):
    analyse_tree(FILES, use_cache=True)
    changed = analyse_tree({"proj/conf.py": "task_time_limit = 90\n"}, use_cache=True)
    assert (changed.parsed, changed.cache_hits) == (1, 2)
    limit = changed.project.apps[0].setting("task_time_limit")
    assert to_json(limit) == {"value": 90, "status": "known", "origin": {"path": "proj/conf.py", "line": 1}}


def test_damaged_cache_entries_are_ignored(analyse_tree, tmp_path):
    cold = analyse_tree(FILES, use_cache=True)
    for entry in cache_of(tmp_path).rglob("*"):
        if entry.is_file():
            entry.write_bytes(b"not a pickle")
    again = analyse_tree({}, use_cache=True)
    assert again.parsed == 3 and snapshot(again) == snapshot(cold)


def test_no_cache_leaves_no_folder(analyse_tree, tmp_path):
    analysis = analyse_tree(FILES, use_cache=False)
    assert analysis.parsed == 3 and not cache_of(tmp_path).exists()


def test_a_kept_memory_serves_unchanged_files_and_holds_only_the_current_workspace(analyse_tree, tmp_path):
    memory: dict = {}
    first = analyse_tree(FILES, use_cache=False, facts_memory=memory)
    assert first.parsed == 3 and len(memory) == 3
    # As the language server does: an unsaved buffer over conf.py; nothing else is parsed.
    buffer = {"proj/conf.py": b"task_time_limit = 90\ntask_acks_late = True\n"}
    edited = analyse_tree({}, use_cache=False, facts_memory=memory, overrides=buffer)
    assert (edited.parsed, edited.cache_hits) == (1, 2)
    assert edited.project.apps[0].setting("task_time_limit").value == 90
    assert len(memory) == 3  # the facts of conf.py's text on disk were dropped
    assert not cache_of(tmp_path).exists()
