"""The crew (qlint/scan/crew.py): processes that parse ahead of the resolver, on real trees.

Whatever the members parse, and whoever gets to a file first, the project must come out
exactly as from a run with no crew at all.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from qlint.pipeline import analysis as analysis_module
from qlint.scan.crew import DONE, FREE, MAIN, TAKEN, Crew, needed_modules
from qlint.scan.deploy_files import read_deploy_facts
from qlint.scan.facts_cache import FactsCache
from qlint.resolve.values import to_json
from qlint.resolve.modules import ModuleIndex
from qlint.sources.python import parse_facts, parse_file

from .conftest import write_tree
from tests.conftest import cache_of

ENTRIES = 12


def tree() -> dict[str, str]:
    """An app, twelve task modules (entries) that each import a model class they use and a
    helper they do not, and a compose file with a worker."""
    files = {
        "proj/__init__.py": "",
        "proj/celery.py": 'from celery import Celery\napp = Celery("proj")\napp.config_from_object("proj.conf")\n',
        "proj/conf.py": "task_acks_late = True\ntask_time_limit = 7200\nbroker_url = 'redis://r:6379/0'\n",
        "docker-compose.yml": "services:\n  worker:\n    command: celery -A proj worker --concurrency 3\n",
    }
    for i in range(ENTRIES):
        files[f"proj/models{i}.py"] = f"class Base{i}:\n    pass\n\n\nclass Order{i}(Base{i}):\n    limit = {i}\n"
        files[f"proj/helpers{i}.py"] = f"def unused{i}():\n    return {i}\n"
        files[f"proj/tasks{i}.py"] = (
            f"from proj.celery import app\nfrom proj.models{i} import Order{i}\nfrom proj.helpers{i} import unused{i}\n\n\n"
            f"@app.task(time_limit=Order{i}.limit + 60)\ndef job{i}(order_id):\n    return order_id\n"
        )
    return files


def snapshot(result) -> tuple:
    apps = [app.to_json(all_settings=True) for app in result.project.apps]
    tasks = sorted((t.name, to_json(t.option("time_limit"))) for app in result.project.apps for t in app.tasks.values())
    problems = [(p.path, p.message) for p in result.problems]
    return apps, tasks, problems, sorted(result.project.notes)


def wait_until_idle(crew: Crew) -> None:
    deadline = time.monotonic() + 60
    while not crew.idle():
        assert time.monotonic() < deadline, "the crew never ran out of work"
        time.sleep(0.01)


def analyse_here(root: Path, **kwargs):
    return analysis_module.analyse(["."], cwd=root, root=root, **kwargs)


@pytest.mark.parametrize("use_cache", [True, False])
def test_a_run_with_the_crew_resolves_the_same_project_as_one_without(tmp_path, monkeypatch, use_cache):
    write_tree(tmp_path / "project", tree())
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    tmp_path = tmp_path / "project"
    started: list[Crew] = []
    real = analysis_module.Crew

    def spy(*args, **kwargs):
        started.append(real(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(analysis_module, "Crew", spy)
    with_crew = analyse_here(tmp_path, use_cache=use_cache)
    assert len(started) == 1  # twelve entries to parse: the crew was worth starting
    monkeypatch.setattr(analysis_module, "PARALLEL_THRESHOLD", 10**6)
    if use_cache:
        shutil.rmtree(cache_of(tmp_path))
    alone = analyse_here(tmp_path, use_cache=use_cache)
    assert snapshot(with_crew) == snapshot(alone)
    assert with_crew.parsed == alone.parsed  # each file parsed once, here or by a member
    assert sorted(with_crew.project.apps[0].tasks) == sorted(f"proj.tasks{i}.job{i}" for i in range(ENTRIES))
    assert cache_of(tmp_path).exists() == use_cache
    assert list(scratch.iterdir()) == []  # with the cache off, members wrote to a scratch folder, now gone


def test_members_parse_what_is_queued_and_what_it_needs_and_the_resolver_takes_it(tmp_path):
    write_tree(tmp_path, tree())
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.py"))
    abs_of = {f: str(tmp_path / f) for f in [*files, "docker-compose.yml"]}
    cache = FactsCache(tmp_path)
    crew = Crew(files, abs_of, ModuleIndex(files), cache, members=1, deploy=["docker-compose.yml"])
    crew.add(["proj/tasks3.py"])
    wait_until_idle(crew)
    states = {path: crew._state[crew._slots[path]] for path in abs_of}
    crew.close()
    # the entry, the model class it uses (and the module of that class's base), the app
    # module, and the compose file; not the helper whose name it never uses
    assert {p for p, s in states.items() if s == DONE} == {
        "proj/tasks3.py", "proj/models3.py", "proj/celery.py", "docker-compose.yml"}
    assert states["proj/helpers3.py"] == FREE
    data = (tmp_path / "proj/tasks3.py").read_bytes()
    taken = Crew(files, abs_of, ModuleIndex(files), cache, members=1)
    try:
        assert taken.take("proj/tasks3.py", cache.key("proj/tasks3.py", data)) is None  # no member started it...
        assert taken._state[taken._slots["proj/tasks3.py"]] == MAIN  # ...so it is the resolver's now
    finally:
        taken.close()
    assert cache.stored(cache.key("proj/tasks3.py", data)) == parse_file("proj/tasks3.py", data)
    compose = (tmp_path / "docker-compose.yml").read_bytes()
    assert cache.stored(cache.key("docker-compose.yml", compose, "deploy")) == read_deploy_facts("docker-compose.yml",
                                                                                                 compose)


def test_files_queued_for_later_are_parsed_once_nothing_else_is_queued(tmp_path):
    write_tree(tmp_path, tree())
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.py"))
    crew = Crew(files, {f: str(tmp_path / f) for f in files}, ModuleIndex(files), FactsCache(tmp_path), members=1)
    try:
        crew.add_later(["proj/helpers5.py"])
        crew.add(["proj/tasks3.py"])
        wait_until_idle(crew)
        states = {path: crew._state[crew._slots[path]] for path in files}
    finally:
        crew.close()
    assert {p for p, s in states.items() if s == DONE} == {"proj/tasks3.py", "proj/models3.py", "proj/celery.py",
                                                           "proj/helpers5.py"}


def test_a_file_whose_member_died_is_parsed_by_the_resolver(tmp_path):
    write_tree(tmp_path, tree())
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.py"))
    crew = Crew(files, {f: str(tmp_path / f) for f in files}, ModuleIndex(files), FactsCache(tmp_path), members=1)
    crew._members[0].kill()
    crew._members[0].join()
    slot = crew._slots["proj/tasks0.py"]
    crew._state[slot], crew._holder[slot] = TAKEN, 1  # as if it had died while parsing this file
    try:
        assert crew.take("proj/tasks0.py", "no-such-key") is None
    finally:
        crew.close()


def test_modules_needed_are_those_whose_imported_names_are_used():
    index = ModuleIndex(["app/__init__.py", "app/models.py", "app/helpers.py", "app/sub/__init__.py",
                         "app/sub/mod.py", "app/star.py", "app/tasks.py"])
    source = (
        "import app.helpers\nfrom app.models import Order, Unused\nfrom app import sub\nfrom app.star import *\n"
        "from . import helpers as h\n\n\nclass Job(Order):\n    pass\n\n\ndef run():\n    from app.sub import mod\n"
        "    return mod.send.delay(sub.y)\n"
    )
    facts = parse_facts("app/tasks.py", source)
    # Order, sub and mod are used (run() sends a task: its body is read); Unused, h and the
    # module bound by `import app.helpers` are not
    assert list(needed_modules(facts, index)) == ["app/models.py", "app/sub/__init__.py", "app/star.py",
                                                  "app/sub/mod.py"]


def test_the_crew_works_where_processes_must_be_spawned(tmp_path):
    """With another thread running (the language server), members are spawned, not forked."""
    write_tree(tmp_path, tree())
    stop = threading.Event()
    waiter = threading.Thread(target=stop.wait)
    waiter.start()
    try:
        spawned = analyse_here(tmp_path, use_cache=False)
    finally:
        stop.set()
        waiter.join()
    alone = analyse_here(tmp_path, use_cache=False)
    assert snapshot(spawned) == snapshot(alone)


def test_what_a_file_read_by_the_resolver_needs_goes_to_the_members(tmp_path):
    write_tree(tmp_path, tree())
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.py"))
    crew = Crew(files, {f: str(tmp_path / f) for f in files}, ModuleIndex(files), FactsCache(tmp_path), members=1)
    try:
        crew.follow(parse_file("proj/tasks5.py", (tmp_path / "proj/tasks5.py").read_bytes()))
        wait_until_idle(crew)
        assert {f for f in files if crew._state[crew._slots[f]] == DONE} == {"proj/models5.py", "proj/celery.py"}
    finally:
        crew.close()


def test_without_a_scratch_folder_everything_is_parsed_here(tmp_path, monkeypatch):
    write_tree(tmp_path, tree())
    alone = analyse_here(tmp_path, use_cache=False)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    assert snapshot(analyse_here(tmp_path, use_cache=False)) == snapshot(alone)


@pytest.mark.parametrize("how", ["fork", "spawn"])
def test_members_stop_and_clean_up_when_their_parent_is_killed(tmp_path, how):
    """SIGKILL leaves the resolver no chance to stop its crew: each member sees its parent
    gone, removes the crew's folder and exits, instead of polling forever."""
    write_tree(tmp_path / "repo", tree())
    script = (
        "import os, signal, sys, threading\n"
        "from pathlib import Path\n"
        + ("threading.Thread(target=threading.Event().wait, daemon=True).start()\n" if how == "spawn" else "")
        + "from qlint.scan.crew import Crew, pool_context\n"
        "from qlint.scan.facts_cache import FactsCache\n"
        "from qlint.resolve.modules import ModuleIndex\n"
        f"assert pool_context().get_start_method() == {how!r}\n"
        "root = Path(sys.argv[1])\n"
        "files = sorted(str(p.relative_to(root)) for p in root.rglob('*.py'))\n"
        "crew = Crew(files, {f: str(root / f) for f in files}, ModuleIndex(files), FactsCache(root, enabled=False),"
        " members=2)\n"
        "print(crew._own, *[m.pid for m in crew._members], flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "repo")], capture_output=True, text=True,
                          timeout=300)
    own, *pids = done.stdout.split()
    assert len(pids) == 2

    def alive(pid: str) -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except OSError:
            return False
        return state != "Z"

    deadline = time.monotonic() + 120  # a bound on a hang, not a speed limit: members exit within milliseconds
    while any(map(alive, pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(alive, pids))
    assert not Path(own).exists()
