"""What a `qlint check` derived from each file's bytes (the pre-filter's Celery markers, the
calls QL305's second pass looks for...), kept in the project's cache folder (cache_store.py)
for the next run, with the file's size, inode, and modification and change times.

A run after an edit finds almost every file as the last one left it: the stored answers
spare it reading and scanning them all again, and it need not hold their bytes.
"""
from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import Any, Hashable

from qlint import __version__
from qlint.scan import cache_store
from qlint.scan.file_memory import Signature, settled, signature
from qlint.scan.run_cache import code_digest

# The stored verdicts of a project; larger is not ours.
ENTRY_LIMIT = 64 << 20

MISSING = object()


class StoredVerdicts:
    """Verdicts by file (absolute path) and kind, valid while the file's signature holds.
    Only the kinds asked for in this run are kept for the next, of the files it looked at."""

    def __init__(self, root: Path) -> None:
        self.name = hashlib.blake2b(repr((__version__, code_digest(), str(root))).encode(),
                                    digest_size=16).hexdigest()
        self.path = cache_store.project_dir(root) / "verdicts" / self.name
        self._stored: dict[str, tuple[Signature, dict[Hashable, Any]]] = self._load()
        self._now: dict[str, tuple[Signature | None, dict[Hashable, Any]]] = {}
        self._changed = False

    def get(self, full: str, what: Hashable) -> Any:
        """The verdict of kind `what` stored for the file as it is now, else MISSING."""
        signature, verdicts = self._entry(full)
        if what in verdicts:
            return verdicts[what]
        stored = self._stored.get(full)
        if signature is None or stored is None or stored[0] != signature or what not in stored[1]:
            return MISSING
        verdicts[what] = stored[1][what]
        return verdicts[what]

    def put(self, full: str, what: Hashable, value: Any) -> None:
        """The verdict of kind `what` on the bytes read after get() found none."""
        signature, verdicts = self._entry(full)
        if signature is not None:
            verdicts[what] = value
            self._changed = True

    def _entry(self, full: str) -> tuple[Signature | None, dict[Hashable, Any]]:
        if full not in self._now:
            self._now[full] = (_signature(full), {})
        return self._now[full]

    def save(self) -> None:
        """Store this run's verdicts, when they differ from what the run found stored."""
        now = {full: (signature, verdicts) for full, (signature, verdicts) in self._now.items()
               if signature is not None and verdicts}
        if not (self._changed or now.keys() != self._stored.keys()):
            return
        try:
            data = pickle.dumps(now, protocol=pickle.HIGHEST_PROTOCOL)
            cache_store.make_folder(self.path.parent)
            cache_store.write_atomic(self.path, cache_store.seal(self.name, data, cache_store.key()))
        except (OSError, pickle.PicklingError):
            pass

    def _load(self) -> dict[str, tuple[Signature, dict[Hashable, Any]]]:
        blob = cache_store.read_regular(self.path, ENTRY_LIMIT)
        data = None if blob is None else cache_store.unseal(self.name, blob, cache_store.key())
        if data is None:
            return {}
        try:
            stored = cache_store.loads(data)
        except Exception:  # sealed by us, so only a bug of ours gets here: read every file
            return {}
        return stored if isinstance(stored, dict) else {}


def _signature(full: str) -> Signature | None:
    """file_memory.signature() of the file; None while it is too fresh to trust (racy)."""
    try:
        st = os.stat(full)
    except OSError:
        return None
    now = signature(st)
    return now if settled(now) else None
