"""Parsing in parallel: a crew of processes that parse what the resolver will ask for.

On a cold run, parsing took most of the time and left a core idle. The entries (files
with Celery markers) went to a pool while the resolver waited. The modules they import
were then parsed one at a time, as the resolver met their names. The crew starts while
the pre-filter is still scanning. Its members read the deployment files first (the
resolver needs them right after the scan), then parse each entry the scan finds. After
each file, a member notes the modules that file will need: those it imports a name from
that will be looked up, and those it imports with `*`. The resolver queues the same for
each file it parses itself, and a member takes what the resolver queued before its own
notes, since the resolver will want it sooner. The resolver also follows those names one
import further (lookahead.py: a package's `__init__.py` that takes them from its
submodules) and queues what it finds for later, which members take when nothing else is
queued. Results go to the facts cache (a scratch folder when the cache is off). For each
file it asks for, the resolver takes a member's result, or waits for a file a member is
parsing now. A file no member has started, it claims and parses itself, so it never waits
for the crew as a whole. There is a member for every core, each at a lower priority than
the resolver: it keeps a core of its own, and the members also take the time it spends
waiting. A guess that is never needed costs a spare core's time and is stored in the cache
like any other file.
"""
from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping

from qlint.scan.cache_writer import may_fork
from qlint.scan.deploy_files import is_deployment_file, read_deploy_facts
from qlint.scan.facts_cache import Facts, FactsCache
from qlint.scan.lookahead import Lookahead, imports
from qlint.sources import ir
from qlint.sources.python import parse_file
from qlint.sources.read import SourceError, read_bytes

if TYPE_CHECKING:
    from qlint.resolve.modules import ModuleIndex

# Slot states: not started; the resolver's own; a member's, being parsed; parsed and
# stored; left to the resolver (in the cache already, or the member could not store it).
FREE, MAIN, TAKEN, DONE, LEFT = range(5)
# A member stops between two files; a file takes well under a second.
STOP_WAIT = 30.0
# A flag in counts[1]
_STOP = 1


def pool_context() -> multiprocessing.context.BaseContext:
    # Fork (the cheap start) only where it is safe; spawn otherwise (the language server).
    return multiprocessing.get_context("fork" if may_fork() else "spawn")


class Crew:
    """The resolver's side. Slots are positions in `files`."""

    def __init__(self, files: list[str], abs_of: Mapping[str, str], index: "ModuleIndex", cache: FactsCache,
                 members: int, reserved: Iterable[str] = (), deploy: list[str] = ()) -> None:
        """files: the Python files; deploy: candidate deployment files, read first (the
        resolver needs them right after the scan)."""
        context = pool_context()
        files = [*files, *deploy]
        # The crew's private folder: the empty folder spawned processes start in, and the
        # members' results when the cache is off. close() removes it, or a member whose
        # parent died.
        self._own = tempfile.mkdtemp(prefix="qlint-crew-")
        start_in = os.path.join(self._own, "start")
        os.mkdir(start_in)
        try:
            with _neutral_start(context, start_in):
                self._start(context, files, abs_of, index, cache, members, reserved, len(files) - len(deploy))
        except BaseException:
            shutil.rmtree(self._own, ignore_errors=True)
            raise

    def _start(self, context: Any, files: list[str], abs_of: Mapping[str, str], index: "ModuleIndex",
               cache: FactsCache, members: int, reserved: Iterable[str], python_files: int) -> None:
        self._slots = {path: number for number, path in enumerate(files)}
        self._lock = context.Lock()
        self._state = context.RawArray("b", len(files))
        self._holder = context.RawArray("b", len(files))  # the member (1-based) parsing a TAKEN slot
        self._queue = context.RawArray("i", len(files))  # files to parse, a stack
        self._queued = context.RawArray("b", len(files))  # whether a slot is on the stack
        self._later = context.RawArray("i", len(files))  # files to parse when the stack is empty, a stack
        self._later_queued = context.RawArray("b", len(files))  # whether a slot is on that stack
        self._counts = context.RawArray("i", 3)  # files on the stack, flags, files on the later stack
        self._busy = context.RawArray("b", [1] * members)  # whether each member has work (at first, its own)
        for path in reserved:  # open buffers: parsed by the resolver's process
            if path in self._slots:
                self._state[self._slots[path]] = MAIN
        store = (cache.root, cache.folder if cache.enabled else Path(self._own, "facts"), cache.secret)
        self._results = FactsCache(store[0], folder=store[1], secret=store[2])
        self._index = index
        self._lookahead = Lookahead(index, self.add_later)
        shared = (self._lock, self._state, self._holder, (self._queue, self._queued, self._later, self._later_queued),
                  self._counts, self._busy)
        self._members = [
            context.Process(target=_member, args=(number, shared, files, python_files, dict(abs_of), index,
                                                  store, os.getpid(), self._own),
                            name=f"qlint-crew-{number}", daemon=True)
            for number in range(1, members + 1)
        ]
        try:
            for member in self._members:
                member.start()
        except OSError:
            self._members = [member for member in self._members if member.pid is not None]
            self.close()
            raise

    def add(self, paths: Iterable[str]) -> None:
        """Queue files to parse; members take the last queued first."""
        self._push(paths, self._queue, self._queued, 0)

    def add_later(self, paths: Iterable[str]) -> None:
        """Queue files that will be wanted after those add() queued: members take them when
        nothing else is queued, the last first."""
        self._push(paths, self._later, self._later_queued, 2)

    def _push(self, paths: Iterable[str], stack: Any, on_stack: Any, count: int) -> None:
        """count: the index in counts of the stack's height."""
        with self._lock:
            for slot in map(self._slots.get, paths):
                if slot is not None and self._state[slot] == FREE and not on_stack[slot]:
                    stack[self._counts[count]] = slot
                    on_stack[slot] = 1
                    self._counts[count] += 1

    def follow(self, facts: ir.ModuleFacts, by_member: bool = False) -> None:
        """The resolver holds `facts` now: queue what the file will need, as members do after
        theirs (unless a member parsed it: it did), and what it will need one import further
        (lookahead.py), for later."""
        if not by_member:
            self.add(list(needed_modules(facts, self._index)))
        self._lookahead.read(facts)

    def idle(self) -> bool:
        """Whether every member is waiting for work (nothing queued, nothing to follow)."""
        with self._lock:
            return self._counts[0] == 0 and self._counts[2] == 0 and not any(self._busy)

    def take(self, path: str, key: str) -> Facts | None:
        """A member's facts for `path`, waiting while one is parsing it; None when the
        caller is to read it itself (nobody started it, which it now owns, or it was left)."""
        slot = self._slots.get(path)
        if slot is None:
            return None
        while True:
            with self._lock:
                state = self._state[slot]
                if state == FREE:
                    self._state[slot] = MAIN
                    return None
            if state == DONE:
                return self._results.stored(key)  # None if the member's file differs: parse again
            if state != TAKEN or not self._members[self._holder[slot] - 1].is_alive():
                return None
            time.sleep(0.0002)

    def close(self) -> None:
        """Stop the members; each finishes the file it is parsing (a member that has not
        stopped after STOP_WAIT seconds is killed: a store is written aside and renamed,
        so a killed member may leave a stray temporary file, never half an entry)."""
        with self._lock:
            self._counts[1] |= _STOP
        for member in self._members:
            member.join(STOP_WAIT)
            if member.is_alive():
                member.kill()
                member.join()
        shutil.rmtree(self._own, ignore_errors=True)


@contextlib.contextmanager
def _neutral_start(context: multiprocessing.context.BaseContext, folder: str) -> Iterator[None]:
    """Members started by spawn run `python -c ...`, which puts the working directory first
    on sys.path before anything is imported, and then take the parent's sys.path: started
    in a checked project (an editor starts the language server there), a `struct.py` of the
    project would run; so would it in the resource tracker that spawn starts for the crew's
    locks. So all of them start in folder, empty and private, with a sys.path that names
    neither it nor the working directory. Fork copies this process and imports nothing."""
    if context.get_start_method() != "spawn":
        yield
        return
    here = os.getcwd()
    saved = sys.path[:]
    os.chdir(folder)
    sys.path[:] = [p for p in saved if p and os.path.abspath(os.path.join(here, p)) != here]
    try:
        yield
    finally:
        sys.path[:] = saved
        os.chdir(here)


def _member(number: int, shared: tuple[Any, ...], files: list[str], python_files: int, abs_of: dict[str, str],
            index: "ModuleIndex", store: tuple[Path, Path, bytes], parent: int, own: str) -> None:
    """files[:python_files] are Python files, the rest deployment files. store: the
    cache's root, folder and key. A member whose parent (the resolver's process) is gone
    stops, and removes the crew's folder (own), which the parent can no longer remove."""
    lock, state, holder, stacks, counts, busy = shared
    sys.setrecursionlimit(max(sys.getrecursionlimit(), ir.RECURSION_LIMIT))
    # Parsing makes no reference cycles, and a cycle collection during a parse walks the
    # whole tree built so far: with it on, a member's parsing took twice as long (DefectDojo).
    # Only YAML leaves a little cyclic garbage (ruamel's nodes), collected after each such file.
    gc.disable()
    gc.freeze()  # what the member inherited is never scanned (nor its pages copied) by a collection
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the resolver's to handle; it stops the crew
    if hasattr(os, "nice"):
        os.nice(10)  # the resolver's process goes first: members take the time it leaves
    slots = {path: slot for slot, path in enumerate(files)}
    cache = FactsCache(store[0], folder=store[1], secret=store[2])
    deployment = list(range(len(files) - 1, python_files - 1, -1))  # first: wanted right after the scan
    follow: list[int] = []  # the modules this member's files will need, the next one last
    while True:
        flags = counts[1]
        if flags & _STOP:
            return
        slot = deployment.pop() if deployment else _next_queued(lock, stacks, follow, counts, busy, number)
        if slot is None:
            if os.getppid() != parent:
                shutil.rmtree(own, ignore_errors=True)
                return
            time.sleep(0.001)  # until the scan or the resolver queues more, or the resolver is done
            continue
        with lock:
            if state[slot] != FREE:
                continue
            state[slot], holder[slot] = TAKEN, number
        path = files[slot]
        try:
            facts = _parse_and_store(path, abs_of[path], cache, python=slot < python_files)
        except Exception:  # whatever went wrong, the resolver parses it itself
            facts = None
        state[slot] = LEFT if facts is None else DONE
        if slot >= python_files:
            gc.collect()
        if isinstance(facts, ir.ModuleFacts):
            follow.extend(reversed([s for s in map(slots.get, needed_modules(facts, index)) if s is not None
                                    and state[s] == FREE]))


def _next_queued(lock: Any, stacks: tuple[Any, Any, Any, Any], follow: list[int], counts: Any, busy: Any,
                 number: int) -> int | None:
    # What the resolver queued comes first, the last queued first: the resolver reads entries
    # in the scan's order, so the two work from opposite ends and seldom want the same file at
    # the same time; and what it queues from a file it read itself, it will want soon. Then
    # what this member's own files need (the resolver wants those when it reaches the entries
    # members parsed, later; taking them first made it parse more itself: DefectDojo 0.99 s
    # to 0.90 s). What the resolver will want later still (add_later) comes last.
    queue, queued, later, later_queued = stacks
    with lock:
        slot: int | None = None
        if counts[0] > 0:
            counts[0] -= 1
            slot = queue[counts[0]]
            queued[slot] = 0
        elif follow:
            slot = follow.pop()
        elif counts[2] > 0:
            counts[2] -= 1
            slot = later[counts[2]]
            later_queued[slot] = 0
        busy[number - 1] = slot is not None
        return slot


def _parse_and_store(path: str, full: str, cache: FactsCache, python: bool) -> Facts | None:
    """The file's facts, stored in the cache; None when they are stored already, cannot be,
    or the file is no deployment file after all."""
    try:
        data = read_bytes(full)
    except SourceError:
        return None
    if not python and not is_deployment_file(path, data):
        return None
    key = cache.key(path, data, "python" if python else "deploy")
    if cache.has(key):
        return None
    facts: Facts | None = parse_file(path, data) if python else read_deploy_facts(path, data)
    if facts is None:
        return None
    cache.put(key, facts)
    return facts if cache.enabled else None


def needed_modules(facts: ir.ModuleFacts, index: "ModuleIndex") -> Iterator[str]:
    """The project files a module will probably make the resolver read: those it imports
    a name from that the resolver or the rules will look up (reads.likely_reads), and those it
    star-imports; in the order of its imports."""
    used = facts.names_read
    for stmt in imports(facts.body):
        if isinstance(stmt, ir.Import):
            for dotted, alias in stmt.names:
                path = index.resolve(dotted, 0, facts.path) if (alias or dotted.split(".")[0]) in used else None
                if path is not None:
                    yield path
            continue
        if not stmt.star and all((alias or name) not in used for name, alias in stmt.names):
            continue
        base = index.resolve(stmt.module, stmt.level, facts.path)
        if base is None:
            continue
        if stmt.star:
            yield base
        for name, alias in stmt.names:
            if (alias or name) in used:
                yield index.submodule(base, name) or base
