"""What a long-running process (the language server) keeps of the files between analyses:
their bytes, for as long as the file system says they have not changed, and what was derived
from those bytes, for as long as they are the same.

An analysis reads every file of the project and scans each with a few patterns; on an edit
all but one give the same answers as the last time.
"""
from __future__ import annotations

import os
import time
from typing import Callable, Hashable, TypeVar

from qlint.sources.read import read_bytes

T = TypeVar("T")

# A file modified this close to when it was read may change again within the same
# modification time (as git's "racy" entries): it is read again until it is older.
RACY_NS = 2_000_000_000

Signature = tuple[int, int, int, int]


def signature(st: os.stat_result) -> Signature:
    """What says a file is unchanged: its size, modification and status change times, inode."""
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def settled(sig: Signature) -> bool:
    """Whether the file's times are old enough to trust (not racy)."""
    return max(sig[1], sig[2]) < time.time_ns() - RACY_NS


class FileMemory:
    def __init__(self) -> None:
        self._bytes: dict[str, tuple[Signature, bytes]] = {}  # by absolute path
        self._derived: dict[Hashable, dict[str, tuple[bytes, object]]] = {}  # what -> path -> (bytes, value)
        self._seen: set[str] = set()  # files read since forget_unseen
        self._asked: set[Hashable] = set()  # and the kinds of values asked for

    def read(self, full: str) -> bytes:
        """read.read_bytes(full), from memory when its size, modification and status change
        times and inode are those of the bytes kept."""
        self._seen.add(full)
        try:
            st = os.stat(full)
        except OSError:
            return read_bytes(full)  # raises the same SourceError
        now = signature(st)
        kept = self._bytes.get(full)
        if kept is not None and kept[0] == now:
            return kept[1]
        data = read_bytes(full)
        if settled(now):
            self._bytes[full] = (now, data)
        else:
            self._bytes.pop(full, None)
        return data

    def derived(self, what: Hashable, path: str, data: bytes, compute: Callable[[bytes], T]) -> T:
        """compute(data), kept under (what, path) while the file's bytes are the same."""
        self._asked.add(what)
        by_path = self._derived.setdefault(what, {})
        kept = by_path.get(path)
        if kept is not None and (kept[0] is data or kept[0] == data):
            return kept[1]  # type: ignore[return-value]
        value = compute(data)
        by_path[path] = (data, value)
        return value

    def forget_unseen(self) -> None:
        """Keep only the files read since the last call (the project as it is now), and the
        values derived from their bytes of the kinds asked for since."""
        self._bytes = {full: kept for full, kept in self._bytes.items() if full in self._seen}
        live = {id(data) for _, data in self._bytes.values()}
        self._derived = {what: {path: entry for path, entry in by_path.items() if id(entry[0]) in live}
                         for what, by_path in self._derived.items() if what in self._asked}
        self._seen, self._asked = set(), set()
