"""Per-file facts cached by content hash in the project's cache folder (cache_store.py)."""
from __future__ import annotations

import hashlib
import pickle
from functools import lru_cache
from pathlib import Path

from qlint import __version__
from qlint.scan import cache_store
from qlint.sources import ir
from qlint.sources.deploy.facts import DeployFacts

Facts = ir.ModuleFacts | DeployFacts

# Cached facts of one file; larger is not ours (the largest real module's are a few MB).
ENTRY_LIMIT = 256 << 20


@lru_cache(maxsize=1)
def extractor_digest() -> str:
    """A digest of the code that produces facts: editing the extractor invalidates the cache
    even when the version number has not moved."""
    digest = hashlib.blake2b(digest_size=6)
    # Every module of qlint/sources/ (ir, the converters, chunks, the pre-filter, the
    # deployment readers...), read as files so that libcst is not imported for it.
    for path in sorted(Path(ir.__file__).parent.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


class KeptFacts(dict):
    """Facts by key that a long-running process keeps between runs (the language server), and
    the keys its last run used: the rules load modules after the analysis returns, and the next
    analysis keeps their facts for the next rules."""

    def __init__(self) -> None:
        super().__init__()
        self.last_run: set[str] = set()


class FactsCache:
    """Facts by content key, on disk; `memory`, when given, is a dict that a long-running
    process keeps across runs (the language server) so that unchanged files are not even
    unpickled again. deferred: put() only notes what to store, and store_pending() writes
    it (cache_writer.py does that once the check has its answer)."""

    def __init__(self, root: Path, enabled: bool = True, memory: dict[str, Facts] | None = None,
                 deferred: bool = False) -> None:
        self.enabled = enabled
        self.deferred = deferred
        self.pending: list[tuple[str, Facts]] = []
        self.root = root
        self.folder = cache_store.project_dir(root) / f"facts-{__version__}-{extractor_digest()}"
        self.secret = cache_store.key()
        self.memory = memory
        self.touched: set[str] = set()
        self.hits = 0
        self.misses = 0
        self._made: set[Path] = set()  # cache folders known to exist

    @staticmethod
    def key(path: str, data: bytes, kind: str = "python") -> str:
        """kind: "python" (ModuleFacts) or "deploy" (DeployFacts) of the same bytes."""
        # The path is part of the key: spans inside the facts name the file.
        return hashlib.blake2b(f"{kind}\0{path}\0".encode() + data, digest_size=20).hexdigest()

    def get(self, key: str, count: bool = True) -> Facts | None:
        """count: whether a hit or a miss is counted (hits and misses are of modules)."""
        if self.memory is not None and key in self.memory:
            self.touched.add(key)
            self.hits += count
            return self.memory[key]
        facts = self._load(key) if count else self.stored(key) if self.enabled else None
        if facts is not None and self.memory is not None:
            self.memory[key] = facts
            self.touched.add(key)
        return facts

    def forget_untouched(self, run_over: bool = False) -> None:
        """Keep in memory only the facts this run used, the workspace as it is now, and those
        the last run used (KeptFacts) until this one is over."""
        if self.memory is None:
            return
        kept = isinstance(self.memory, KeptFacts)
        keep = self.touched | self.memory.last_run if kept and not run_over else self.touched
        for key in [k for k in self.memory if k not in keep]:
            del self.memory[key]
        if kept and run_over:
            self.memory.last_run = set(self.touched)

    def _load(self, key: str) -> Facts | None:
        if not self.enabled:
            return None
        facts = self.stored(key)
        if facts is None:
            self.misses += 1
            return None
        self.hits += 1
        return facts

    def stored(self, key: str) -> Facts | None:
        """The facts on disk under `key`, or None; counted neither as a hit nor a miss."""
        blob = cache_store.read_regular(self.folder / key[:2] / key, ENTRY_LIMIT)
        data = None if blob is None else cache_store.unseal(key, blob, self.secret)
        if data is None:
            return None
        try:
            with ir.deep_recursion():
                facts = cache_store.loads(data)
        except Exception:  # sealed by us, so only a bug of ours gets here: parse the file again
            return None
        return facts if isinstance(facts, (ir.ModuleFacts, DeployFacts)) else None

    def put(self, key: str, facts: Facts, to_disk: bool = True) -> None:
        if self.memory is not None:
            self.memory[key] = facts
            self.touched.add(key)
        if not self.enabled or not to_disk:
            return
        if self.deferred:
            self.pending.append((key, facts))
            return
        self._store(key, facts)

    def store_pending(self) -> None:
        pending, self.pending = self.pending, []
        for key, facts in pending:
            self._store(key, facts)

    def _store(self, key: str, facts: Facts) -> None:
        try:
            with ir.deep_recursion():
                data = pickle.dumps(facts, protocol=pickle.HIGHEST_PROTOCOL)
        except (RecursionError, pickle.PicklingError):
            return  # too deep to store: parsed again next time
        self._write(key, data)

    def _write(self, key: str, data: bytes) -> None:
        folder = self.folder / key[:2]
        try:
            if folder not in self._made:
                cache_store.make_folder(folder)
                self._made.add(folder)
            cache_store.write_atomic(folder / key, cache_store.seal(key, data, self.secret))
        except OSError:
            self.enabled = False  # a read-only tree: run without a cache

