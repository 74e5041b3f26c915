"""Per-file facts read from dependency files: what each says about the celery and kombu
it installs. Plain frozen dataclasses, like the other per-file facts."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from qlint.model import Span

DependencyKind = Literal[
    "requirements", "pyproject", "poetry-lock", "uv-lock", "pdm-lock", "pipfile", "pipfile-lock",
    "setup-cfg", "setup-py", "dockerfile",
]
# The packages whose versions qlint reads.
PACKAGES = ("celery", "kombu")
LOCK_KINDS = frozenset({"poetry-lock", "uv-lock", "pdm-lock", "pipfile-lock"})


@dataclass(frozen=True)
class Requirement:
    """One requirement on celery or kombu, as a dependency file writes it.

    specifier is a PEP 440 specifier set ("==5.5.3", ">=5.2,<6"), "" for any version;
    a lock file's entry is locked, with "==" and the version it resolved. unreadable
    says why no version can be read from it (installed from a URL or a VCS checkout,
    a specifier that is not PEP 440). A constraint (pip's -c, uv's constraint-dependencies)
    limits the version without asking for the package. group names where it is declared
    when that is not the main list (an extra, a Poetry or PEP 735 group, dev-packages).
    install tells apart the separate `pip install` commands of one Dockerfile.
    """

    package: str
    specifier: str
    span: Span
    text: str
    extras: tuple[str, ...] = ()
    marker: str | None = None
    locked: bool = False
    constraint: bool = False
    group: str | None = None
    unreadable: str | None = None
    install: int = 0


@dataclass(frozen=True)
class Include:
    """`-r other.txt` (requirements) or `-c constraints.txt` (constraint), as written."""

    path: str
    constraint: bool
    span: Span
    install: int = 0


@dataclass(frozen=True)
class DependencyFacts:
    """What one dependency file says.

    python is the Python versions the project declares (requires-python, python_requires,
    Pipfile's python_version, a Dockerfile's `FROM python:3.11`), as a specifier set.
    error: a file of a known kind that cannot be read (binary, not UTF-8, a lock entry that
    is not TOML); it is reported as QL000 and nothing in it is used.
    """

    path: str
    kind: DependencyKind
    requirements: tuple[Requirement, ...] = ()
    includes: tuple[Include, ...] = ()
    python: str | None = None
    python_span: Span | None = None
    notes: tuple[str, ...] = ()
    error: str | None = None
    error_span: Span | None = None

    @property
    def locked(self) -> bool:
        return self.kind in LOCK_KINDS
