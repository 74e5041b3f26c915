"""A real Redis server and real Celery workers for `qlint inspect`'s tests."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
import redis

from tests.worker.conftest import redis_url  # noqa: F401  (the session's redis-server)

APP = '''\
import os
import time

from celery import Celery

app = Celery("liveproj", broker=os.environ["QLINT_TEST_BROKER"])
# A periodic sweep every hour: only a worker's start-up sweep restores, when the test starts one.
app.conf.update(task_acks_late=True,
                broker_transport_options={"visibility_timeout": 3, "unacked_restore_interval": 3600})


@app.task
def hold(flag, log, payload=None):
    """Runs until the file `flag` exists; each run writes its process id to `log`."""
    with open(log, "a") as out:
        out.write(f"{os.getpid()}\\n")
    while not os.path.exists(flag):
        time.sleep(0.05)
'''


def database(url: str, db: int) -> str:
    """The session server's URL for database db, emptied."""
    url = url.rsplit("/", 1)[0] + f"/{db}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


class Project:
    """A project folder with a Celery app whose task runs until released, and its workers."""

    def __init__(self, folder: Path, url: str) -> None:
        self.folder, self.url = folder, url
        (folder / "liveproj.py").write_text(APP, encoding="utf-8")
        self.flag, self.log = folder / "release", folder / "runs.log"
        self.workers: list[subprocess.Popen] = []

    def worker(self, name: str, *options: str, code: str | None = None) -> subprocess.Popen:
        """A worker of the project's app, with more command-line options; with code, a worker of
        that source instead (a deployment that runs other code than the repository's), kept
        outside the project's folder."""
        folder = self.folder
        if code is not None:
            folder = self.folder.parent / f"{self.folder.name}-deployed-{name}"
            folder.mkdir()
            (folder / "liveproj.py").write_text(code, encoding="utf-8")
        env = {**os.environ, "QLINT_TEST_BROKER": self.url, "PYTHONPATH": str(folder)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "liveproj", "worker", "-c", "1", "--prefetch-multiplier", "1",
             "-n", f"{name}@%h", "--without-mingle", "--without-gossip", "--without-heartbeat", "-l", "warning",
             *options],
            cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.workers.append(proc)
        return proc

    def answering(self, count: int) -> Callable[[], bool]:
        """Whether count workers answer Celery's ping."""
        from celery import Celery

        def check() -> bool:
            app = Celery("pinger", broker=self.url, set_as_current=False)
            try:
                return len(app.control.inspect(timeout=0.5).ping() or {}) == count
            finally:
                app.close()

        return check

    def send(self, task_id: str, **options) -> None:
        from celery import Celery

        app = Celery("sender", broker=self.url)
        payload = options.pop("payload", None)
        app.send_task("liveproj.hold", args=[str(self.flag), str(self.log), payload], task_id=task_id, **options)
        app.close()

    def runs(self) -> list[str]:
        return self.log.read_text().split() if self.log.exists() else []

    def wait(self, condition: Callable[[], bool]) -> None:
        """Until condition holds; fails at once if a worker died instead."""
        while not condition():
            for proc in self.workers:
                if proc.poll() is not None and proc.returncode not in (-signal.SIGKILL,):
                    pytest.fail(f"a celery worker exited with {proc.returncode}")
            time.sleep(0.05)

    def stop(self) -> None:
        self.flag.touch()
        for proc in self.workers:
            if proc.poll() is None:
                proc.kill()  # the pool's children die with it (PDEATHSIG)
            proc.wait()


def overdue(url: str, seconds: float) -> Callable[[], bool]:
    """Whether every message in `unacked` was delivered more than seconds ago."""
    client = redis.Redis.from_url(url)

    def check() -> bool:
        scores = [s for _, s in client.zrange("unacked_index", 0, -1, withscores=True)]
        return bool(scores) and time.time() > max(scores) + seconds

    return check


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Callable[[str], Project]]:
    made: list[Project] = []

    def make(url: str) -> Project:
        made.append(Project(tmp_path, url))
        return made[-1]

    yield make
    for p in made:
        p.stop()
