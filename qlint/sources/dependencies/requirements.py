"""PEP 508 requirement strings, and pip's requirements files (requirements*.txt, *.in,
constraints.txt) with their `-r` and `-c` includes.

Only requirements on celery and kombu are kept. `packaging` (PEP 440 and PEP 508) is
imported only when a file names one of them. pip's per-requirement options
(`--hash=...`) and line continuations are handled; other option lines (`-i`, `-e .`,
`--find-links`) say nothing about versions and are skipped.
"""
from __future__ import annotations

import re

from qlint.model import Span
from qlint.sources.dependencies.facts import PACKAGES, DependencyFacts, Include, Requirement

_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EGG = re.compile(r"#egg=([A-Za-z0-9][A-Za-z0-9._-]*)")
# A URL, a VCS checkout or a path to an archive rather than a name.
_URL = re.compile(r"(?i)[a-z][a-z0-9+.-]*://|(git|hg|svn|bzr)\+|\.{0,2}/|[^\s;@]*\.(whl|tar\.gz|zip)\b")
# A wheel or sdist file name: celery-5.3.6-py3-none-any.whl, kombu-5.3.4.tar.gz
_ARCHIVE = re.compile(r"(?i)(?:^|/)([A-Za-z0-9][A-Za-z0-9_.]*?)-(\d[0-9A-Za-z.!+]*?)(?:-[^/]*\.whl|\.tar\.gz|\.zip)\b")
_COMMENT = re.compile(r"(^|\s)#.*$")
_OPTION_INCLUDE = re.compile(r"^(-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+|(?=[^\s-]))(\S+)")
# Options that end the requirement part of a line (`celery==5.3 --hash=sha256:...`).
_TRAILING_OPTIONS = re.compile(r"\s+--?[a-zA-Z]")


def canonicalize_name(name: str) -> str:
    """PEP 503's normal form of a project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def package_of(text: str) -> str | None:
    """The canonical name of the package a requirement string names, when it is celery or kombu."""
    text = text.strip()
    if _URL.match(text):
        egg = _EGG.search(text)
        archive = _ARCHIVE.search(text)
        name = egg.group(1) if egg else archive.group(1) if archive else None
    else:
        match = _NAME.match(text)
        name = match.group(1) if match else None
    if name is None:
        return None
    name = canonicalize_name(name)
    return name if name in PACKAGES else None


def parse_requirement(text: str, span: Span, *, constraint: bool = False, group: str | None = None,
                      install: int = 0) -> Requirement | None:
    """A requirement on celery or kombu from a PEP 508 string; None for other packages."""
    text = text.strip()
    package = package_of(text)
    if package is None:
        return None
    if _URL.match(text):
        archive = _ARCHIVE.search(text)
        if archive is not None and canonicalize_name(archive.group(1)) == package:
            return Requirement(package, f"=={archive.group(2)}", span, text, constraint=constraint, group=group,
                               install=install)
        return Requirement(package, "", span, text, constraint=constraint, group=group, install=install,
                           unreadable="installed from a URL or a checkout, whose version qlint cannot read")
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement as Pep508

    try:
        parsed = Pep508(text)
    except InvalidRequirement as exc:
        return Requirement(package, "", span, text, constraint=constraint, group=group, install=install,
                           unreadable=f"not a requirement pip reads ({str(exc).splitlines()[0]})")
    if canonicalize_name(parsed.name) != package:
        return None
    unreadable = f"installed from {parsed.url}, whose version qlint cannot read" if parsed.url else None
    return Requirement(package, str(parsed.specifier), span, text, tuple(sorted(parsed.extras)),
                       str(parsed.marker) if parsed.marker else None, constraint=constraint, group=group,
                       unreadable=unreadable, install=install)


def checked_specifier(specifier: str) -> str | None:
    """The specifier as packaging writes it, or None when it is not PEP 440."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return str(SpecifierSet(specifier))
    except InvalidSpecifier:
        return None


def read_requirements(path: str, text: str, *, install: int = 0) -> DependencyFacts:
    """A pip requirements file: its requirements on celery and kombu and its includes."""
    requirements: list[Requirement] = []
    includes: list[Include] = []
    constraints_file = path.rpartition("/")[2].lower().startswith("constraint")
    raw_lines = text.splitlines()
    for line, start, logical in _logical_lines(text):
        logical = _COMMENT.sub("", logical).strip()
        if not logical:
            continue
        first = raw_lines[start - 1]
        span = Span(path, start, len(first) - len(first.lstrip()) + 1, line, len(raw_lines[line - 1].rstrip()) + 1)
        if logical.startswith("-"):
            match = _OPTION_INCLUDE.match(logical)
            if match:
                includes.append(Include(match.group(2), match.group(1) in ("-c", "--constraint"), span, install))
            elif logical.startswith(("-e", "--editable")):
                target = logical.split(None, 1)[1] if " " in logical else logical.partition("=")[2]
                found = parse_requirement(target, span, install=install) if package_of(target) else None
                if found is not None:
                    requirements.append(found)
            continue
        cut = _TRAILING_OPTIONS.search(logical)
        if cut and ";" not in logical[:cut.start()] and "@" not in logical[:cut.start()]:
            logical = logical[:cut.start()]
        found = parse_requirement(logical, span, constraint=constraints_file, install=install)
        if found is not None:
            requirements.append(found)
    return DependencyFacts(path, "requirements", tuple(requirements), tuple(includes))


def _logical_lines(text: str) -> list[tuple[int, int, str]]:
    """(last line, first line, text) of each line, continuation lines (ending in a backslash) joined."""
    out: list[tuple[int, int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        if raw.endswith("\\") and not raw.endswith("\\\\"):
            pending.append(raw[:-1])
            continue
        pending.append(raw)
        out.append((number, start, " ".join(pending)))
        pending = []
    if pending:
        out.append((start + len(pending) - 1, start, " ".join(pending)))
    return out
