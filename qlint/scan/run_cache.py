"""The result of a whole `qlint check`, kept in the project's cache folder (cache_store.py)
for the next run on the same tree. When no file under the root has changed (the same paths,
sizes, inodes, modification and change times), nor qlint's own code, the configuration or the options, the stored result is the
answer: nothing is read, parsed or resolved. Any difference and the run is done again,
with the per-file facts cache (facts_cache.py) still saving the parsing."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

from qlint import __version__
from qlint.scan import cache_store
from qlint.scan.discovery import walk_files

# A stored result; larger is not ours.
ENTRY_LIMIT = 256 << 20


@lru_cache(maxsize=1)
def code_digest() -> str:
    """qlint's own modules, rules and data files: editing any of them can change findings."""
    import qlint

    # The rules folder is found, not imported: this stage runs below the rules.
    digest = hashlib.blake2b(digest_size=12)
    for init in (qlint.__file__, importlib.util.find_spec("qlint.rules").origin):
        base = os.path.dirname(init)
        found = []
        for folder, subfolders, names in os.walk(base):
            subfolders[:] = [name for name in subfolders if name != "__pycache__"]
            found.extend(os.path.join(folder, name) for name in names if name.endswith((".py", ".json")))
        for path in sorted(found):
            stat = os.stat(path)
            digest.update(f"{os.path.relpath(path, base)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def tree_digest(root: Path, exclude: Iterable[str], files: Iterable[tuple[str, str]] | None = None) -> str:
    """Every file qlint would consider under root (files, as analyse() lists them, when
    given), by path, size, inode, and modification and change times: an edit can keep the
    first four (`cp -p`, `touch -r`), but any write moves the change time, which no one can
    set back."""
    digest = hashlib.blake2b(digest_size=16)
    for rel, full in (files if files is not None else walk_files(root, exclude)):
        try:
            stat = os.stat(full)
        except OSError:
            continue
        digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\0{stat.st_ino}\0{stat.st_ctime_ns}\n".encode())
    return digest.hexdigest()


class RunCache:
    """One stored result per request (where qlint runs, what it was asked, with which
    options and configuration), valid while the tree digest is unchanged."""

    def __init__(self, root: Path, exclude: Iterable[str], request: Any, enabled: bool = True,
                 files: Callable[[], Iterable[tuple[str, str]]] | None = None) -> None:
        self.enabled = enabled
        self.root = root
        self.exclude = tuple(exclude)
        self.files = files
        name = hashlib.blake2b(repr((__version__, code_digest(), request)).encode(), digest_size=16).hexdigest()
        self.name = name
        self.path = cache_store.project_dir(root) / "runs" / name
        self._tree: str | None = None

    @property
    def tree(self) -> str:
        if self._tree is None:
            self._tree = tree_digest(self.root, self.exclude, self.files() if self.files is not None else None)
        return self._tree

    def get(self) -> Any | None:
        if not self.enabled:
            return None
        blob = cache_store.read_regular(self.path, ENTRY_LIMIT)
        data = None if blob is None else cache_store.unseal(self.name, blob, cache_store.key())
        if data is None:
            return None
        try:
            tree, result = cache_store.loads(data)
        except Exception:  # sealed by us, so only a bug of ours gets here: run again
            return None
        return result if tree == self.tree else None

    def put(self, result: Any, tree_before: str) -> None:
        """Store result, computed from the tree as it was at tree_before; a file changed while
        qlint ran leaves nothing stored."""
        if not self.enabled or tree_digest(self.root, self.exclude) != tree_before:
            return
        try:
            data = pickle.dumps((tree_before, result), protocol=pickle.HIGHEST_PROTOCOL)
            cache_store.folder(self.root, "runs")
            cache_store.write_atomic(self.path, cache_store.seal(self.name, data, cache_store.key()))
        except (OSError, pickle.PicklingError, RecursionError):
            return
