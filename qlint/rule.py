"""What a rule is: its identity and documentation as data, plus one check function.

A rule module under rules/ defines one subclass of Rule. The engine instantiates
every enabled rule once per run and calls check() with the resolved project; the
rule returns findings and never parses, reads files or prints.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Iterable, Mapping

from qlint.model import Finding, Fix, Related, Severity, Span

if TYPE_CHECKING:
    from qlint.resolve.project import Project

CODE_PATTERN = r"^QL[0-9]{3}$"


@dataclass(frozen=True)
class Example:
    """A small project, as file path -> content, that must or must not trigger a rule.

    A plain string is a single file named settings.py... only when the rule's
    semantics need nothing else; most examples name an app module and settings.
    `config` is the [tool.qlint] table to check it with.
    """

    files: Mapping[str, str]
    note: str = ""
    config: Mapping[str, object] = field(default_factory=dict)
    # For must-trigger examples: how many findings of this rule, when it matters.
    count: int | None = None


class Rule:
    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity]
    summary: ClassVar[str]
    # Documentation in four parts (Markdown).
    what: ClassVar[str]
    why: ClassVar[str]
    example: ClassVar[str]
    fix: ClassVar[str]
    fix_safety: ClassVar[str] = "No automatic fix."
    # Path of a reference-worker scenario under examples/scenarios/ that replays the hazard.
    scenarios: ClassVar[tuple[str, ...]] = ()
    # "stable" rules run unless deselected; any other status ("opt-in") runs only when its
    # full code is selected (project_config.is_selected).
    status: ClassVar[str] = "stable"
    # True for a rule that judges the other rules' findings against the suppression comments
    # (QL009): the engine runs it after them, and judges the comments against every stable rule.
    after_suppressions: ClassVar[bool] = False
    valid: ClassVar[tuple[Example, ...]] = ()
    invalid: ClassVar[tuple[Example, ...]] = ()

    def check(self, project: "Project") -> Iterable[Finding]:
        raise NotImplementedError

    def scenario_for(self, finding: Finding, project: "Project") -> Mapping[str, object] | None:
        """Optional: how `qlint simulate --from-findings` replays one of this rule's findings.

        Return a reference-worker scenario in the project form (the keys of
        qlint/worker/scenario.py, without `project:`, which the caller adds), plus two keys:
        `fixed`, a mapping merged over the scenario for the replay with the fix applied
        (its `settings` merged key by key, other keys replaced), `fix`, one sentence
        saying what that changes, and optionally `notes`, lines shown with the replay.
        None (the default): qlint's built-in replay for the code,
        if any (qlint/worker/from_findings.py), else no replay.
        """
        return None

    def finding(
        self,
        message: str,
        span: Span,
        related: Iterable[Related] = (),
        fix: Fix | None = None,
        depends_on: Iterable[str] = (),
        severity: Severity | None = None,
    ) -> Finding:
        return Finding(
            code=self.code,
            name=self.name,
            severity=severity or self.severity,
            message=message,
            span=span,
            related=tuple(r for r in related if (r.span.path, r.span.line) != (span.path, span.line)),
            fix=fix,
            depends_on=frozenset(depends_on),
        )

    @classmethod
    def documentation(cls) -> str:
        """The rule's page, as `qlint rule CODE` prints it (Markdown)."""
        parts = [
            f"# {cls.code} {cls.name}",
            "",
            cls.summary,
            "",
            "## What it finds",
            cls.what.strip(),
            "",
            "## Why it breaks",
            cls.why.strip(),
            "",
            "## Example",
            cls.example.strip(),
            "",
            "## Fix",
            cls.fix.strip(),
            "",
            "## Fix safety",
            cls.fix_safety.strip(),
        ]
        if cls.scenarios:
            parts += ["", "## Replay it", *(f"`qlint simulate {s}`" for s in cls.scenarios)]
        return "\n".join(parts) + "\n"
