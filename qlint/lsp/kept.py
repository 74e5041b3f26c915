"""The server's last answer, and whether an edit can change it.

After each check the server keeps its answer with what that check learnt of the files (the
run cache's reads: the files whose bytes it used or whose presence it asked about, and the
verdicts it asked of the others), the open buffers it saw, and the files' signatures as it
listed them. A later check whose only differences are buffers or files it did not use, each
still giving the verdicts it asked of them (a module with nothing Celery-related in it: an
added line, a renamed variable), and files added or removed that nothing looks for, gets the
same answer without analysing the project again, as `qlint check` does with its stored answer
(scan/run_cache.py). Opening or closing a buffer, a configuration that differs, or any other
change, and the check runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Hashable, Mapping

from qlint.pipeline.result import Answer
from qlint.scan.run_cache import LOOKED_FOR, Changes, Listing, Reads
from qlint.sources.read import SourceError, read_bytes


@dataclass
class KeptAnswer:
    answer: Answer
    settings: Hashable  # the configuration's settings_key()
    buffers: dict[str, bytes]  # by path from the root, as the check read them
    signatures: dict[str, object]  # by path from the root, as the check listed the files
    reads: Reads

    def still(self, settings: Hashable, buffers: Mapping[str, bytes], listing: Listing,
              holds: Callable[[str, bytes, Mapping[object, object]], bool],
              present: Callable[[Changes, Reads], bool],
              with_changes: Callable[[Answer, Changes], Answer]) -> Answer | None:
        """The answer, where nothing the check used differs now: holds(path, bytes, verdicts)
        says whether a changed file still gives the verdicts the check asked of it, present()
        whether files added and removed leave the answer as it was (engine.verdicts_hold,
        engine.presence_unaffected); None otherwise. Kept up to date when it is given."""
        if settings != self.settings or buffers.keys() != self.buffers.keys():
            return None
        used, verdicts = self.reads

        def learnt(rel: str) -> bool:
            return rel in used or LOOKED_FOR + rel.rpartition("/")[2] in used

        # A buffer whose file is not listed (excluded, not saved yet) is not read by a check.
        now = {rel: (full, sig) for rel, full, sig in listing}
        changes = Changes({}, sorted(self.signatures.keys() - now.keys()))
        for rel, (full, sig) in now.items():
            if rel not in self.signatures:
                if learnt(rel) or rel in buffers:
                    return None
                changes.added[rel] = full
                continue
            if rel in buffers:
                if buffers[rel] == self.buffers[rel]:
                    continue
                data: bytes | None = buffers[rel]
            elif self.signatures[rel] == sig:
                continue
            else:
                try:
                    data = read_bytes(full)
                except SourceError:
                    data = None
            if learnt(rel) or data is None or not holds(rel, data, verdicts.get(rel, {})):
                return None
        if any(learnt(rel) for rel in changes.removed) or \
                ((changes.added or changes.removed) and not present(changes, self.reads)):
            return None
        kept = {rel: v for rel, v in verdicts.items() if rel not in changes.removed}
        self.reads = (used, {**kept, **changes.verdicts})
        self.buffers = dict(buffers)
        self.signatures = {rel: sig for rel, (_, sig) in now.items()}
        self.answer = with_changes(self.answer, changes)
        return self.answer
