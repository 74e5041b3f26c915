"""Cache writes after the answer (cache_writer.py): done by a forked child where that is
safe, waited for by the next run, and never holding on to the parent's output."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from qlint.scan import cache_writer
from tests.resolve.conftest import write_tree
from tests.conftest import cache_of

FILES = {
    "proj/__init__.py": "",
    "proj/celery.py": "from celery import Celery\n\napp = Celery('proj')\napp.conf.task_acks_late = True\n"
                      "app.conf.task_time_limit = 7200\napp.conf.broker_url = 'redis://r'\n",
    "proj/tasks.py": "from proj.celery import app\n\n@app.task\ndef build(report_id):\n    return report_id\n",
}

posix_only = pytest.mark.skipif(os.name != "posix", reason="the writer forks only on POSIX")


# A fresh interpreter's writer child that marks its start, sleeps, then writes; the script
# goes on once the child has started (it lets go of the streams before it writes).
_SLOW_WRITER = """
    import os, signal, sys, time
    from pathlib import Path
    from qlint.scan import cache_writer

    root = Path(sys.argv[1])
    started, marker = root / "started", root / "written"
    cache_writer.store(root, lambda: (started.touch(), time.sleep({seconds}), marker.write_text("done")))
    [child] = cache_writer._writers
    while not started.exists():
        time.sleep(0.01)
"""


def _python(script: str, *args: str) -> subprocess.CompletedProcess:
    """A fresh interpreter: one thread, so the writer forks."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script), *args], capture_output=True, text=True,
                          timeout=120, check=True)


@posix_only
def test_a_second_run_finds_everything_the_first_run_stored_in_its_child(tmp_path: Path) -> None:
    write_tree(tmp_path, FILES)
    done = _python("""
        import sys
        from pathlib import Path
        import qlint.pipeline.analysis
        from qlint.scan import cache_writer
        from qlint.pipeline.engine import check_paths
        from qlint.user_config.project_config import load_config

        root = Path(sys.argv[1])
        def run():
            return check_paths(["."], cwd=root, root=root, config=load_config(root), use_cache=True)
        first = run()
        print("forked", bool(cache_writer._writers))
        real, calls = qlint.pipeline.analysis.analyse, []
        qlint.pipeline.analysis.analyse = lambda *a, **k: calls.append(1) or real(*a, **k)
        again = run()
        print("codes", [f.code for f in first.findings] == [f.code for f in again.findings], "analyses", len(calls))
    """, str(tmp_path))
    assert done.stdout.split() == ["forked", "True", "codes", "True", "analyses", "0"]
    facts = list(cache_of(tmp_path).glob("facts-*/*/*"))
    assert len(facts) >= 2  # celery.py and tasks.py at least, written by the child
    assert not [p for p in cache_of(tmp_path).rglob("*.tmp")]


@posix_only
def test_the_child_holds_the_lock_and_none_of_the_parents_streams(tmp_path: Path) -> None:
    done = _python(_SLOW_WRITER.format(seconds=0.5) + """
    streams = [os.readlink(f"/proc/{child}/fd/{n}") for n in (0, 1, 2)] if os.path.exists("/proc") else []
    cache_writer.wait_for_writer(root)
    print(marker.read_text(), all(s == os.devnull for s in streams))
    """, str(tmp_path))
    # The parent waited for the child's write (the marker is there), and the child's
    # standard streams were /dev/null: this run's captured output ended with the parent.
    assert done.stdout.split() == ["done", "True"]


def test_with_another_thread_the_writes_happen_in_place(tmp_path: Path) -> None:
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        written: list[int] = []
        cache_writer.store(tmp_path, lambda: written.append(os.getpid()))
        assert written == [os.getpid()] and not cache_writer.may_fork()
    finally:
        release.set()
        thread.join()


def test_waiting_where_nothing_was_ever_written_returns_at_once(tmp_path: Path) -> None:
    cache_writer.wait_for_writer(tmp_path / "nowhere")
    cache_writer.wait_for_writer(tmp_path)


@posix_only
def test_a_writer_that_hangs_is_waited_for_only_so_long(tmp_path: Path) -> None:
    done = _python(_SLOW_WRITER.format(seconds=30) + """
    cache_writer.WAIT_LIMIT = 0.2
    cache_writer.wait_for_writer(root)
    print(marker.exists())
    os.kill(child, signal.SIGKILL)
    """, str(tmp_path))
    assert done.stdout.split() == ["False"]  # it gave up waiting before the writer was done
