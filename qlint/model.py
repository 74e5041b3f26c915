"""Plain data types shared by every stage: locations, resolved values, findings.

No logic beyond small conveniences lives here, so that any module can import it
without creating a cycle.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
Status = Literal["known", "default", "env-default", "several", "unknown"]
Applicability = Literal["safe", "unsafe", "display-only"]


@dataclass(frozen=True, order=True)
class Span:
    """A range in a file. Lines and columns are 1-based; the end is exclusive."""

    path: str
    line: int
    column: int = 1
    end_line: int = 0
    end_column: int = 0

    def __post_init__(self) -> None:
        if self.end_line == 0:
            object.__setattr__(self, "end_line", self.line)
        if self.end_column == 0:
            object.__setattr__(self, "end_column", self.column)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line}

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"

    def __reduce__(self) -> tuple:
        return _span_from_fields, (self.path, self.line, self.column, self.end_line, self.end_column)


def _span_from_fields(path: str, line: int, column: int, end_line: int, end_column: int) -> Span:
    """How pickle rebuilds a Span (cached facts hold one per node): its fields as a tuple,
    set straight into the instance. Pickle's default, a dict of the fields per span, loads
    about a third slower; the dataclass's own __init__ (frozen: object.__setattr__ per field)
    slower still."""
    span = object.__new__(Span)
    fields = span.__dict__
    fields["path"] = path
    fields["line"] = line
    fields["column"] = column
    fields["end_line"] = end_line
    fields["end_column"] = end_column
    return span


@dataclass(frozen=True)
class Alternative:
    """One possible value of a setting and the condition under which it holds."""

    value: "Value"
    condition: str


@dataclass(frozen=True)
class Value:
    """A resolved value and how sure qlint is of it.

    status is one of:
      known        the value is certain; origin says where it was set
      default      nothing sets it: Celery's (or the transport's) default applies
      env-default  read from an environment variable; value is the default used when unset
      several      depends on a condition; alternatives lists each value and its condition
      unknown      cannot be resolved statically; reason says why
    """

    status: Status
    value: Any = None
    origin: Span | None = None
    env: str | None = None
    alternatives: tuple[Alternative, ...] = ()
    reason: str | None = None
    # A string coming from the environment where Celery expects another type
    # (e.g. os.getenv("X", 20) without a cast) is recorded, not hidden.
    uncast: bool = False
    # For dict values: each key's own Value, so a rule can ask where
    # broker_transport_options["visibility_timeout"] was set.
    items: tuple[tuple[str, "Value"], ...] | None = None

    @property
    def is_resolved(self) -> bool:
        """True when the value is concrete enough for a rule to act on."""
        return self.status in ("known", "default", "env-default")

    def item(self, key: str) -> "Value | None":
        """The Value of one key of a dict value, or None when it is not set."""
        for name, value in self.items or ():
            if name == key:
                return value
        return None

    def possible(self) -> list["Value"]:
        """Every concrete value this may take; empty when any branch is unknown."""
        if self.status == "several":
            out: list[Value] = []
            for alt in self.alternatives:
                sub = alt.value.possible()
                if not sub:
                    return []
                out.extend(sub)
            return out
        if self.status == "unknown":
            return []
        return [self]


def known(value: Any, origin: Span | None) -> Value:
    return Value("known", value, origin)


def unknown(reason: str, origin: Span | None = None) -> Value:
    return Value("unknown", None, origin, reason=reason)


@dataclass(frozen=True)
class Related:
    span: Span
    message: str


@dataclass(frozen=True)
class Edit:
    """Replace the text of span with content."""

    span: Span
    content: str


@dataclass(frozen=True)
class Fix:
    description: str
    edits: tuple[Edit, ...] = ()
    applicability: Applicability = "display-only"


def applicable(fix: Fix | None, unsafe: bool) -> bool:
    """Whether --fix (with --unsafe-fixes when unsafe) applies this fix."""
    if fix is None or not fix.edits:
        return False
    return fix.applicability == "safe" or (unsafe and fix.applicability == "unsafe")


@dataclass(frozen=True)
class Finding:
    code: str
    name: str
    severity: Severity
    message: str
    span: Span
    related: tuple[Related, ...] = ()
    fix: Fix | None = None
    # Files the finding depends on besides span.path: reporting a single file
    # also reports findings that this file contributes to.
    depends_on: frozenset[str] = field(default_factory=frozenset)

    @property
    def files(self) -> frozenset[str]:
        return frozenset({self.span.path, *(r.span.path for r in self.related)}) | self.depends_on
