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
from qlint.scan.run_cache import Changes, Listing, Reads, unaffected_changes

Verdicts = Mapping[object, object]


@dataclass
class KeptAnswer:
    answer: Answer
    settings: Hashable  # the configuration's settings_key()
    buffers: dict[str, bytes]  # by path from the root, as the check read them
    signatures: dict[str, object]  # by path from the root, as the check listed the files
    reads: Reads

    def still(self, settings: Hashable, buffers: Mapping[str, bytes], listing: Listing,
              unaffected: Callable[[str, str, Verdicts], bool], holds: Callable[[str, bytes, Verdicts], bool],
              present: Callable[[Changes, Reads], bool],
              with_changes: Callable[[Answer, Changes], Answer]) -> Answer | None:
        """The answer, where nothing the check used differs now (run_cache.unaffected_changes):
        a changed file still gives the verdicts the check asked of it, on disk (unaffected) or
        in its buffer (holds), and files added and removed leave the answer as it was (present);
        None otherwise. Kept up to date when it is given."""
        if settings != self.settings or buffers.keys() != self.buffers.keys():
            return None
        # A buffer whose file is not listed (excluded, not saved yet) is not read by a check;
        # one over a file listed only now is new to it.
        if any(rel in buffers and rel not in self.signatures for rel, _, _ in listing):
            return None
        def still_holds(rel: str, full: str, asked: Verdicts) -> bool:
            return holds(rel, buffers[rel], asked) if rel in buffers else unaffected(rel, full, asked)

        def differs(rel: str, signature: object) -> bool:
            return buffers[rel] != self.buffers[rel] if rel in buffers else signature != self.signatures[rel]

        changes = unaffected_changes(self.signatures, self.reads, listing, still_holds, present, differs)
        if changes is None:
            return None
        used, verdicts = self.reads
        kept = {rel: v for rel, v in verdicts.items() if rel not in changes.removed}
        self.reads = (used, {**kept, **changes.verdicts})
        self.buffers = dict(buffers)
        self.signatures = {rel: sig for rel, _, sig in listing}
        self.answer = with_changes(self.answer, changes)
        return self.answer
