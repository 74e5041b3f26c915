"""Storing the caches once a check has its answer, without making the answer wait.

The last step of a cold `qlint check` pickles and writes the facts of every file this
process parsed itself, then the run's result: 0.15 to 0.25 s on saleor after the findings
were ready. Where this process may fork (may_fork), a child does that writing from its copy
of memory while the parent returns; elsewhere the writes happen in place.

The child holds an exclusive lock on the project's cache folder's lock until it has written everything.
Every run waits for that lock before it reads a cache (wait_for_writer): a second run finds
all that the first one stored, as if the first had written it itself.
"""
from __future__ import annotations

import os
import signal
import stat
import threading
import time
from pathlib import Path
from typing import Callable

from qlint.scan import cache_store

try:
    import fcntl
except ImportError:  # not POSIX: no fork either, the writes happen in place
    fcntl = None  # type: ignore[assignment]

_writers: list[int] = []  # children not yet reaped
WAIT_LIMIT = 60.0  # seconds; a write takes well under one


def may_fork() -> bool:
    """Whether a fork is safe here: a lock held by another thread is copied in its locked
    state (the language server's thread blocked on stdin hung a forked child)."""
    return os.name == "posix" and hasattr(os, "fork") and fcntl is not None and threading.active_count() == 1


def store(root: Path, write: Callable[[], None]) -> None:
    """Run write (which stores caches under root) in a child process when may_fork(), else here."""
    fd = _locked(root) if may_fork() else None
    if fd is None:
        write()
        return
    try:
        pid = os.fork()
    except OSError:
        os.close(fd)
        write()
        return
    if pid == 0:
        try:
            _detach()
            write()
        finally:
            os._exit(0)  # no atexit handlers, no flushing of the parent's buffers
    os.close(fd)  # the lock is the open file's, which the child keeps open until it exits
    _writers.append(pid)


def wait_for_writer(root: Path) -> None:
    """Return once no child of an earlier run is writing the caches under root, or after
    WAIT_LIMIT seconds: a writer that hangs (a stalled network disk) must not stop every
    later run, and reading the caches while one writes is safe, only less complete."""
    _reap()
    if fcntl is None:
        return
    try:
        fd = _open_lock(cache_store.project_dir(root) / "lock", os.O_RDONLY)
    except OSError:
        return  # never written, or unreadable: there is nothing to wait for
    deadline = time.monotonic() + WAIT_LIMIT
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.005)
            except OSError:
                return
    finally:
        os.close(fd)


def _locked(root: Path) -> int | None:
    try:
        fd = _open_lock(cache_store.folder(root) / "lock", os.O_RDWR | os.O_CREAT)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        os.close(fd)
        return None
    return fd


def _open_lock(path: Path, flags: int) -> int:
    """The lock file, opened without following a link or waiting on a FIFO; OSError when
    it is not a regular file."""
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK, 0o600)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path} is not a regular file")
    return fd


def _detach() -> None:
    """The child lets go of the parent's terminal and pipes: whoever reads the parent's
    output (a pipe, pre-commit, CI) sees it end when the parent exits."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    null = os.open(os.devnull, os.O_RDWR)
    for stream in (0, 1, 2):
        os.dup2(null, stream)
    os.close(null)


def _reap() -> None:
    for pid in list(_writers):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _writers.remove(pid)
