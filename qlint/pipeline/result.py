"""What a check answers: the findings kept, those suppressed, and what the report says
beside them. The run cache (qlint/scan/run_cache.py) stores it, and an unchanged tree is
answered by unpickling it: this module imports nothing of the analysis, so that a warm
`qlint check` does not load what it does not run."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from qlint.model import Finding


@dataclass
class CheckResult:
    findings: list[Finding]
    suppressed: list[Finding] = field(default_factory=list)
    unused_suppressions: list[Finding] = field(default_factory=list)
    # What was skipped or may not run as written (templates, the Celery 4 order), for stderr.
    notes: list[str] = field(default_factory=list)
    # Paths asked for that hold no file qlint reads (an image, a folder without Python).
    unchecked: list[str] = field(default_factory=list)


@dataclass
class Answer:
    """A check's result before it is restricted to the asked paths (engine.restrict): for every
    file (paths None), or, where what it reports depends on which files were asked, for `paths`.
    What restricting needs of the analysis comes with it."""
    result: CheckResult
    paths: tuple[str, ...] | None
    cwd: str
    root: str
    # Display paths of the files qlint reads for what they say (Analysis.read_files), each on a
    # line of its own, the first too: one string, which a warm run loads at once.
    read_files: str

    def answers(self, paths: Sequence[str]) -> bool:
        return self.paths is None or self.paths == tuple(paths)

    def reads_under(self, rel: str) -> bool:
        """Whether qlint reads the file at rel, or a file below it when rel is a folder
        ("" for all)."""
        return f"\n{rel}" in self.read_files if rel.endswith("/") or not rel else f"\n{rel}\n" in self.read_files
