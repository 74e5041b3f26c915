"""The result of a whole `qlint check`, kept in the project's cache folder (cache_store.py)
for the next run on the same tree. When no file under the root has changed (the same paths,
sizes, inodes, modification and change times), nor qlint's own code, the configuration or the
options, the stored result is the answer: nothing is read, parsed or resolved.

Beside it is what the run learnt of each file: whether it used the file's bytes or asked
whether the file is there, and else the verdicts it asked of them (the pre-filter's markers,
QL305's calls...). A Python file it only asked verdicts of cannot change the result while those
verdicts stay the same, nor can a file it never read (a README): so an edit of such files alone
(a test, a module with nothing Celery-related in it, the changelog) still gets the stored
answer, once the edited Python files are read and their verdicts computed again; and so does
adding or removing files that nothing looks for (a changelog fragment, a front-end file, a test
module with nothing Celery-related in it whose name no import asked for:
engine.presence_unaffected decides). Any other difference and the run is done again, with the
per-file facts cache (facts_cache.py) still saving the parsing."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

from qlint import __version__
from qlint.scan import cache_store
from qlint.scan.discovery import walk_files
from qlint.scan.file_memory import Signature, settled, signature

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


Listing = list[tuple[str, str, Signature]]  # (path from the root, absolute path, signature)


def tree_listing(root: Path, exclude: Iterable[str], files: Iterable[tuple[str, str]] | None = None) -> Listing:
    """Every file qlint would consider under root (files, as analyse() lists them, when
    given), with its size, modification and change times and inode: an edit can keep all but
    the change time (`cp -p`, `touch -r`), which any write moves and no one can set back."""
    listing = []
    for rel, full in (files if files is not None else walk_files(root, exclude)):
        try:
            listing.append((rel, full, signature(os.stat(full))))
        except OSError:
            continue
    return listing


def tree_digest(root: Path, exclude: Iterable[str], files: Iterable[tuple[str, str]] | None = None,
                listing: Listing | None = None) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for rel, _, (size, mtime, ctime, inode) in (listing if listing is not None else tree_listing(root, exclude, files)):
        digest.update(f"{rel}\0{size}\0{mtime}\0{inode}\0{ctime}\n".encode())
    return digest.hexdigest()


# What a run learnt of the files (see above): the paths, from the root, whose bytes it used or
# whose presence it asked about (LOOKED_FOR + a name: of any file of that name; what the module
# index was asked, as resolve/modules.py notes it), and the verdicts it asked of each file, by kind.
Reads = tuple[set[str], dict[str, dict[Any, Any]]]
LOOKED_FOR = "*/"


@dataclass
class Changes:
    added: dict[str, str]  # path from the root -> absolute path
    removed: list[str]  # paths from the root
    # the verdicts the files added give, by path from the root, as a run would ask them
    verdicts: dict[str, dict[Any, Any]] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)  # listed before and now, and different


def unaffected_changes(signatures: dict[str, Signature], reads: Reads, listing: Listing,
                       unaffected: Callable[[str, str, dict[Any, Any]], bool],
                       present: Callable[["Changes", Reads], bool],
                       differs: Callable[[str, Signature], bool] | None = None) -> "Changes | None":
    """What changed since a run that learnt `reads` of the tree it listed as `signatures`, where
    that run's answer still holds: the only files changed, added or removed are some whose bytes
    it did not use nor presence asked about, unaffected(path from the root, absolute path,
    {kind: verdict} as the run found them) holds for each file changed, and present(the files
    added and removed, reads) for those added and removed; else None. differs(path, signature)
    says whether a file listed both times changed (by default: its signature did)."""
    used, verdicts = reads

    def learnt(rel: str) -> bool:
        return rel in used or LOOKED_FOR + rel.rpartition("/")[2] in used

    now = {rel: (full, sig) for rel, full, sig in listing}
    changes = Changes({}, sorted(signatures.keys() - now.keys()))
    for rel, (full, sig) in now.items():
        before = signatures.get(rel)
        if before is not None and not (differs(rel, sig) if differs is not None else before != sig):
            continue
        if learnt(rel):
            return None
        if before is None:
            changes.added[rel] = full
        elif unaffected(rel, full, verdicts.get(rel, {})):
            changes.changed.append(rel)
        else:
            return None
    if any(learnt(rel) for rel in changes.removed) or \
            ((changes.added or changes.removed) and not present(changes, reads)):
        return None
    return changes


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
        self.reads_path = self.path.with_name(name + ".reads")
        self._listing: Listing | None = None
        self._tree: str | None = None
        # What the run whose result get_unaffected() gave learnt of the files, to store that
        # result again for the tree as it is now; None if an edited file is too fresh to trust.
        # And the files added and removed since that run.
        self.reads: Reads | None = None
        self.changes = Changes({}, [])

    @property
    def listing(self) -> Listing:
        if self._listing is None:
            self._listing = tree_listing(self.root, self.exclude, self.files() if self.files is not None else None)
        return self._listing

    @property
    def tree(self) -> str:
        if self._tree is None:
            self._tree = tree_digest(self.root, self.exclude, listing=self.listing)
        return self._tree

    def get(self) -> Any | None:
        stored = self._load(self.path)
        if stored is None:
            return None
        tree, result = stored
        return result if tree == self.tree else None

    def get_unaffected(self, unaffected: Callable[[str, str, dict[Any, Any]], bool],
                       present: Callable[[Changes, Reads], bool]) -> Any | None:
        """The stored result, where nothing that changed since it was computed can change it
        (unaffected_changes); else None."""
        reads = self._load(self.reads_path)
        if reads is None:
            return None
        tree, signatures, used, verdicts = reads
        changes = unaffected_changes(signatures, (used, verdicts), self.listing, unaffected, present)
        if changes is None:
            return None
        now = {rel: sig for rel, _, sig in self.listing}
        fresh = any(not settled(now[rel]) for rel in [*changes.added, *changes.changed])
        stored = self._load(self.path)
        if stored is None or stored[0] != tree:
            return None
        kept = {rel: v for rel, v in verdicts.items() if rel not in changes.removed}
        self.reads = None if fresh else (used, {**kept, **changes.verdicts})
        self.changes = changes
        return stored[1]

    def _load(self, path: Path) -> Any | None:
        if not self.enabled:
            return None
        blob = cache_store.read_regular(path, ENTRY_LIMIT)
        data = None if blob is None else cache_store.unseal(self.name, blob, cache_store.key())
        if data is None:
            return None
        try:
            return cache_store.loads(data)
        except Exception:  # sealed by us, so only a bug of ours gets here: run again
            return None

    def put(self, result: Any, tree_before: str, reads: Reads | None = None) -> None:
        """Store result, computed from the tree as it was at tree_before (its listing is this
        object's), and what the run learnt of its files; a file changed while qlint ran leaves
        nothing stored."""
        # listed as the run listed it: a sub-project's exclude, a file named on the command line
        files = self.files() if self.files is not None else None
        if not self.enabled or tree_digest(self.root, self.exclude, files) != tree_before:
            return
        try:
            cache_store.folder(self.root, "runs")
            self._write(self.path, (tree_before, result))
            if reads is None:
                self.reads_path.unlink(missing_ok=True)
            else:
                used, verdicts = reads
                self._write(self.reads_path, (tree_before, {rel: sig for rel, _, sig in self.listing}, used, verdicts))
        except (OSError, pickle.PicklingError, RecursionError):
            return

    def _write(self, path: Path, value: Any) -> None:
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        cache_store.write_atomic(path, cache_store.seal(self.name, data, cache_store.key()))
