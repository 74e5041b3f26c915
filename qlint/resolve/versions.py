"""Which Celery and kombu releases a project installs: its dependency files combined.

Each file's facts (qlint/sources/dependencies/) say what it asks for. Here:

- Install sets. A file that no other includes is the root of a set: a requirements file
  with the files its `-r` lines include (and the constraints of its `-c` lines), a
  Dockerfile with its `pip install` commands and the files they name (a later command
  that names a package installs it over an earlier one), a pyproject.toml, Pipfile,
  setup.cfg or setup.py with every list it declares, a lock file.
- Environments. Markers are evaluated for Linux (where workers run) and each Python from
  3.6 to 3.14 that the project admits (requires-python, python_requires, Pipfile's
  python_version, `FROM python:3.11`); a release must admit the Python too (its
  Requires-Python). A requirement whose marker holds in some of them only is a condition
  of the releases it admits ('python_version < "3.10"').
- Within a set, requirements on a package intersect, as pip's resolver would; where they
  admit nothing in common they are alternatives (extras or groups never installed
  together), and each admits its own releases.
- Across sets: a lock beats every manifest (the lock is what installs; a manifest that
  does not admit the locked version gets a note). Otherwise the sets intersect; when they
  admit no release in common they are alternatives (requirements-py38.txt and
  requirements.txt), and every release any of them admits is a possibility.
- A lock or an exact pin gives one version; a range gives every known release one of its
  patches satisfies; a name without a version, or nothing at all, the newest release
  qlint knows. A version newer than the newest known release is judged as the newest,
  one older than the oldest as the oldest, with a note.
- kombu: read the same way; when no file names it, the kombu that each possible Celery
  release requires.
- `[tool.qlint] celery-version` replaces all of it for Celery.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Collection, Iterable, Mapping

from qlint.catalog import releases as catalog_releases
from qlint.model import Span
from qlint.sources.dependencies.facts import DependencyFacts, Requirement

PYTHONS = ("3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14")
_LINUX = {
    "os_name": "posix", "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
    "platform_release": "", "platform_version": "", "implementation_name": "cpython",
    "platform_python_implementation": "CPython", "extra": "",
}


@dataclass(frozen=True)
class VersionChoice:
    """One release a project may run, and why.

    versions: the exact versions that pins or locks name ("5.5.3"); empty for a range.
    origins: where the requirements that admit it are written.
    condition: the environment marker under which it is installed, when not always.
    """

    release: str
    versions: tuple[str, ...] = ()
    origins: tuple[Span, ...] = ()
    condition: str = ""


@dataclass(frozen=True)
class PackageVersions:
    """The releases of celery or kombu a project may install.

    how: "config" ([tool.qlint] celery-version), "lock", "pin", "range", "unversioned"
    (named without a version), "derived" (kombu, from what Celery requires) or "default"
    (no dependency file names it: the newest release qlint knows).
    """

    package: str
    choices: tuple[VersionChoice, ...]
    how: str
    explanation: str

    @property
    def releases(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.release for c in self.choices))

    def describe(self) -> str:
        """ "5.5 (5.5.3)", "5.5–5.7", "5.2 if python_version < "3.10" | 5.5 if ..."."""
        if any(c.condition for c in self.choices):
            return " | ".join(_one(c) + (f" if {c.condition}" if c.condition else "") for c in self.choices)
        names = catalog_releases.describe(self.releases) if self.package == "celery" else _describe_any(self.releases)
        exact = sorted({v for c in self.choices for v in c.versions}, key=_version_key)
        return f"{names} ({', '.join(exact)})" if exact and len(self.choices) == 1 else names

    def to_json(self) -> dict:
        return {
            "releases": list(self.releases),
            "how": self.how,
            "explanation": self.explanation,
            "choices": [{"release": c.release, "versions": list(c.versions), "condition": c.condition or None,
                         "origins": [o.to_json() for o in c.origins]} for c in self.choices],
        }


@dataclass
class Versions:
    celery: PackageVersions
    kombu: PackageVersions
    files: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"celery": self.celery.to_json(), "kombu": self.kombu.to_json(), "dependency_files": list(self.files)}


def _one(choice: VersionChoice) -> str:
    return f"{choice.release} ({', '.join(choice.versions)})" if choice.versions else choice.release


def _describe_any(names: Iterable[str]) -> str:
    ordered = sorted(set(names), key=_version_key)
    return ordered[0] if len(ordered) == 1 else ", ".join(ordered[:-1]) + " and " + ordered[-1] if ordered else ""


def _version_key(text: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in text.replace("-", ".").split(".")[:4])


def newest_only() -> Versions:
    """What a project with no dependency file installs, as far as qlint can tell."""
    return resolve_versions({}, {})


# --- the releases a package has -----------------------------------------------------------------


@dataclass(frozen=True)
class _Releases:
    package: str
    names: tuple[str, ...]  # oldest first
    patches: Mapping[str, tuple[str, ...]]
    python: Mapping[str, str | None]  # Requires-Python per release


@lru_cache(maxsize=2)
def _known(package: str) -> _Releases:
    if package == "celery":
        known = catalog_releases.known()
        return _Releases(package, tuple(r.name for r in known), {r.name: r.patches for r in known},
                         {r.name: r.requires_python for r in known})
    kombu = catalog_releases.kombu_releases()
    names = tuple(sorted(kombu, key=_version_key))
    return _Releases(package, names, dict(kombu), {name: None for name in names})


def _minor(version: str) -> str:
    parts = version.split(".")
    return ".".join(parts[:2])


@lru_cache(maxsize=256)
def _admitted(package: str, specifier: str) -> tuple[frozenset[str], str | None, tuple[str, ...]]:
    """(releases a specifier admits, a note on how it was judged, exact versions it pins)."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    known = _known(package)
    if " || " in specifier:
        found: set[str] = set()
        notes, pins = [], []
        for part in specifier.split(" || "):
            admitted, note, pinned = _admitted(package, part)
            found |= admitted
            notes += [note] if note else []
            pins += pinned
        return frozenset(found), "; ".join(notes) or None, tuple(pins)
    try:
        specifiers = SpecifierSet(specifier)
    except InvalidSpecifier:
        return frozenset(), f"{specifier!r} is not a version specifier", ()
    exact = [s.version for s in specifiers if s.operator in ("==", "===") and "*" not in s.version]
    if exact:
        try:
            pinned = Version(exact[0])
        except InvalidVersion:
            return frozenset(), f"{exact[0]!r} is not a version", ()
        release = f"{pinned.major}.{pinned.minor}"
        if release in known.names:
            return frozenset({release}), None, (exact[0],)
        oldest, newest = known.names[0], known.names[-1]
        if Version(release) > Version(newest):
            return (frozenset({newest}), f"{package} {exact[0]} is newer than the releases qlint knows: judged as "
                    f"{newest}", (exact[0],))
        return (frozenset({oldest}), f"{package} {exact[0]} is older than the releases qlint knows: judged as {oldest}",
                (exact[0],))
    found = {name for name in known.names if any(specifiers.contains(p, prereleases=True) for p in known.patches[name])}
    if found:
        return frozenset(found), None, ()
    newest = known.names[-1]
    last = Version(known.patches[newest][-1])
    later = (f"{last.major}.{last.minor}.{last.micro + 1}", f"{last.major}.{last.minor + 1}.0", f"{last.major + 1}.0.0")
    if any(specifiers.contains(v, prereleases=True) for v in later):
        return frozenset({newest}), f"{package}{specifier} admits only releases newer than qlint knows: judged as {newest}", ()
    if specifiers.contains("0.1", prereleases=True) or specifiers.contains(f"{_minor(known.names[0])}.0a0", prereleases=True):
        oldest = known.names[0]
        return frozenset({oldest}), f"{package}{specifier} admits only releases older than qlint knows: judged as {oldest}", ()
    return frozenset(), f"{package}{specifier} admits no release of {package}", ()


@lru_cache(maxsize=512)
def _runs_on(package: str, release: str, python: str) -> bool:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    requires = _known(package).python.get(release)
    if not requires:
        return True
    try:
        return SpecifierSet(requires).contains(f"{python}.0", prereleases=True)
    except InvalidSpecifier:
        return True


@lru_cache(maxsize=1024)
def _marker_holds(marker: str, python: str) -> bool:
    from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName

    try:
        return Marker(marker).evaluate({**_LINUX, "python_version": python, "python_full_version": f"{python}.0",
                                        "implementation_version": f"{python}.0"})
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName, ValueError, TypeError):
        return True  # a marker qlint cannot judge does not rule the requirement out


def _pythons(facts: Iterable[DependencyFacts]) -> tuple[str, ...]:
    """The Pythons the project admits; every one of PYTHONS when its declarations disagree or say nothing."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    found = list(PYTHONS)
    for one in facts:
        if one.python:
            try:
                spec = SpecifierSet(one.python)
            except InvalidSpecifier:
                continue
            found = [p for p in found if spec.contains(f"{p}.0", prereleases=True)
                     or spec.contains(f"{p}.99", prereleases=True)]
    return tuple(found) or PYTHONS


# --- install sets ---------------------------------------------------------------------------------


def include_target(including: DependencyFacts, written: str, known: Collection[str],
                   named: Callable[[str], list[str]] | None = None) -> str | None:
    """The project file that an include names, or None.

    In a requirements file the path is relative to that file's folder (pip's rule). In a
    Dockerfile it is a path in the image: the project file whose path ends with the most
    of its trailing parts, the nearest to the Dockerfile, stands for it."""
    if "://" in written:
        return None
    folder = posixpath.dirname(including.path)
    if including.kind != "dockerfile":
        target = posixpath.normpath(posixpath.join(folder, written)) if not written.startswith("/") else None
        return target if target in known else None
    parts = [p for p in written.split("/") if p not in ("", ".")]
    if not parts:
        return None
    candidates = named(parts[-1]) if named is not None else [p for p in known if p.rpartition("/")[2] == parts[-1]]

    def score(path: str) -> tuple[int, int, int]:
        theirs = path.split("/")
        common = 0
        while common < min(len(parts), len(theirs)) and parts[-1 - common] == theirs[-1 - common]:
            common += 1
        near = path.startswith(folder + "/") if folder else True
        return common, near, -len(theirs)

    return max(candidates, key=score) if candidates else None


@dataclass
class _Set:
    root: DependencyFacts
    # (install command, requirement) of the root and the files it includes
    parts: list[tuple[int, Requirement]] = field(default_factory=list)


def _sets(facts: Mapping[str, DependencyFacts], targets: Mapping[tuple[str, int], str]) -> list[_Set]:
    included = {target for target in targets.values()}
    # Roots: files no other includes, then, for files that only include one another, the first of each cycle.
    roots = [path for path in sorted(facts) if path not in included]
    reached = _reachable(roots, facts, targets)
    for path in sorted(facts):
        if path not in reached:
            roots.append(path)
            reached |= _reachable([path], facts, targets)
    out = []
    for path in roots:
        one = facts[path]
        if one.error:
            continue
        found = _Set(one)
        _expand(one, facts, targets, found.parts, install=None, constraint=False, seen={path})
        out.append(found)
    return out


def _reachable(starts: list[str], facts: Mapping[str, DependencyFacts],
               targets: Mapping[tuple[str, int], str]) -> set[str]:
    seen: set[str] = set()
    pending = list(starts)
    while pending:
        path = pending.pop()
        if path in seen or path not in facts:
            continue
        seen.add(path)
        pending.extend(targets[(path, i)] for i in range(len(facts[path].includes)) if (path, i) in targets)
    return seen


def _expand(one: DependencyFacts, facts: Mapping[str, DependencyFacts], targets: Mapping[tuple[str, int], str],
            parts: list[tuple[int, Requirement]], install: int | None, constraint: bool, seen: set[str]) -> None:
    for requirement in one.requirements:
        if constraint and not requirement.constraint:
            requirement = _as_constraint(requirement)
        parts.append((requirement.install if install is None else install, requirement))
    for index, include in enumerate(one.includes):
        target = targets.get((one.path, index))
        if target is None or target in seen or target not in facts or facts[target].error:
            continue
        _expand(facts[target], facts, targets, parts, include.install if install is None else install,
                constraint or include.constraint, seen | {target})


def _as_constraint(requirement: Requirement) -> Requirement:
    from dataclasses import replace

    return replace(requirement, constraint=True)


# --- what one set admits ---------------------------------------------------------------------------


@dataclass
class _Admits:
    """What one set says of a package: releases -> (origins, versions, markers, Pythons where admitted)."""

    releases: dict[str, tuple[list[Span], list[str], list[str], set[str]]] = field(default_factory=dict)
    mentioned: set[str] = field(default_factory=set)  # the Pythons in which the set names the package
    unversioned: list[Span] = field(default_factory=list)
    pins_only: bool = True
    notes: list[str] = field(default_factory=list)

    def add(self, release: str, requirement: Requirement, versions: Iterable[str], python: str) -> None:
        origins, pins, markers, pythons = self.releases.setdefault(release, ([], [], [], set()))
        if requirement.span not in origins:
            origins.append(requirement.span)
        pins.extend(v for v in versions if v not in pins)
        if requirement.marker and requirement.marker not in markers:
            markers.append(requirement.marker)
        pythons.add(python)


def _admits(found: _Set, package: str, pythons: tuple[str, ...], notes: list[str]) -> _Admits:
    parts = [(i, r) for i, r in found.parts if r.package == package]
    if found.root.kind == "dockerfile" and parts:
        last = max(i for i, _ in parts)  # a later pip command installs the package over an earlier one
        parts = [(i, r) for i, r in parts if i == last]
    for requirement in (r for _, r in parts):
        if requirement.unreadable:
            notes.append(f"{requirement.span}: {requirement.text}: {requirement.unreadable}")
    out = _admits_on(parts, package, pythons, notes, by_python=True)
    if not out.releases and out.mentioned and not out.unversioned:
        # No Python runs what the set asks for: judge it without the releases' Requires-Python.
        out = _admits_on(parts, package, pythons, notes, by_python=False)
    return out


def _admits_on(parts: list[tuple[int, Requirement]], package: str, pythons: tuple[str, ...], notes: list[str],
               by_python: bool) -> _Admits:
    out = _Admits()
    for python in pythons:
        applying = [r for _, r in parts if not r.marker or _marker_holds(r.marker, python)]
        if not applying:
            continue
        out.mentioned.add(python)
        # The main list (with constraints) is what every install gets; an extra or a group is
        # added to it, so it counts only where the main list does not name the package, and
        # then each group is one way to install it.
        main = [r for r in applying if r.group is None]
        groups: dict[str | None, list[Requirement]] = {None: main} if main else {}
        if not main:
            for requirement in applying:
                groups.setdefault(requirement.group, []).append(requirement)
        for requirements in groups.values():
            _judge(requirements, package, python, by_python, notes, out)
    return out


def _judge(applying: list[Requirement], package: str, python: str, by_python: bool, notes: list[str],
           out: _Admits) -> None:
    """What requirements installed together admit on one Python: the releases all of them
    admit, or, where they have none in common, what each admits (never installed together)."""
    versioned = [r for r in applying if r.specifier and not r.unreadable]
    if not versioned:
        out.unversioned.extend(r.span for r in applying if r.span not in out.unversioned)
        return
    judged = []
    for requirement in versioned:
        admitted, note, pins = _admitted(package, requirement.specifier)
        if note:
            text = f"{requirement.span}: {note}"
            if text not in notes:
                notes.append(text)
        if not pins:
            out.pins_only = False
        judged.append((requirement, {r for r in admitted if not by_python or _runs_on(package, r, python)}, pins))
    if any(not admitted for _, admitted, _ in judged):
        return  # this Python cannot install what one of them asks for
    common = set.intersection(*(admitted for _, admitted, _ in judged))
    if common:
        for release in common:
            for requirement, _, pins in judged:
                out.add(release, requirement, [p for p in pins if _minor(p) == release or len(pins) == 1], python)
    else:
        for requirement, admitted, pins in judged:
            for release in admitted:
                out.add(release, requirement, pins, python)


def _choices(admits: _Admits) -> list[VersionChoice]:
    out = []
    for release, (origins, pins, markers, pythons) in admits.releases.items():
        condition = " or ".join(markers) if markers and pythons != admits.mentioned else ""
        out.append(VersionChoice(release, tuple(sorted(set(pins), key=_version_key)), tuple(origins), condition))
    return out


# --- combining --------------------------------------------------------------------------------------


def resolve_versions(facts: Mapping[str, DependencyFacts], targets: Mapping[tuple[str, int], str],
                     override: tuple[str, Span | None, str] | None = None) -> Versions:
    """The Celery and kombu releases the project installs. override: a release from
    [tool.qlint] celery-version, where it is set, and how to say so."""
    notes: list[str] = []
    sets = _sets(facts, targets)
    pythons = _pythons(facts.values())
    if override is not None:
        release, origin, where = override
        celery = PackageVersions("celery", (VersionChoice(release, (), (origin,) if origin else ()),), "config", where)
    else:
        celery = _package("celery", sets, pythons, notes)
    kombu = _package("kombu", sets, pythons, notes, derived_from=celery)
    for one in facts.values():
        notes.extend(one.notes)
    return Versions(celery, kombu, tuple(sorted(facts)), list(dict.fromkeys(notes)))


def _package(package: str, sets: list[_Set], pythons: tuple[str, ...], notes: list[str],
             derived_from: PackageVersions | None = None) -> PackageVersions:
    judged = [(one, _admits(one, package, pythons, notes)) for one in sets]
    locks = [(one, a) for one, a in judged if one.root.locked and a.releases]
    manifests = [(one, a) for one, a in judged if not one.root.locked and a.releases]
    if locks:
        choices = _merged([a for _, a in locks], union=True)
        releases = {c.release for c in choices}
        for one, admits in manifests:
            if not releases <= set(admits.releases):
                lock_names = ", ".join(lock.root.path for lock, _ in locks)
                locked = ", ".join(sorted({v for c in choices for v in c.versions}, key=_version_key)) or \
                    _describe_any(releases)
                notes.append(f"{lock_names} locks {package} {locked}, which {one.root.path} does not admit (it admits "
                             f"{_names(package, admits.releases)}): the lock is what installs")
        where = ", ".join(str(o) for c in choices for o in c.origins[:1])
        return PackageVersions(package, tuple(choices), "lock", f"locked in {where}")
    if manifests:
        common = set.intersection(*(set(a.releases) for _, a in manifests))
        if common:
            choices = [c for c in _merged([a for _, a in manifests], union=False) if c.release in common]
            how = "pin" if all(a.pins_only for _, a in manifests) else "range"
            where = ", ".join(dict.fromkeys(str(o) for c in choices for o in c.origins))
            verb = "pinned in" if how == "pin" else f"the ranges in {where} admit" if len(manifests) > 1 else \
                f"the range in {where} admits"
            explanation = f"pinned in {where}" if how == "pin" else f"{verb} {_names(package, common)}"
            return PackageVersions(package, tuple(choices), how, explanation)
        files = ", ".join(one.root.path for one, _ in manifests)
        notes.append(f"{files} admit no {package} release in common: each is taken as an alternative")
        choices = _merged([a for _, a in manifests], union=True)
        how = "pin" if all(a.pins_only for _, a in manifests) else "range"
        return PackageVersions(package, tuple(choices), how, f"alternatives from {files}")
    unversioned = [span for _, a in judged for span in a.unversioned]
    if derived_from is not None:
        return _derived(package, derived_from, unversioned)
    newest = _known(package).names[-1]
    if unversioned:
        where = ", ".join(str(s) for s in unversioned)
        return PackageVersions(package, (VersionChoice(newest, (), tuple(unversioned)),), "unversioned",
                               f"{where} names {package} without a version: the newest release qlint knows is assumed")
    return PackageVersions(package, (VersionChoice(newest),), "default",
                           f"no dependency file names {package}: the newest release qlint knows is assumed")


def _merged(all_admits: list[_Admits], union: bool) -> list[VersionChoice]:
    by_release: dict[tuple[str, str], VersionChoice] = {}
    for admits in all_admits:
        for choice in _choices(admits):
            key = (choice.release, choice.condition if union else "")
            before = by_release.get(key)
            if before is None:
                by_release[key] = choice if union else VersionChoice(choice.release, choice.versions, choice.origins,
                                                                     choice.condition)
            else:
                by_release[key] = VersionChoice(
                    choice.release, tuple(sorted(set(before.versions) | set(choice.versions), key=_version_key)),
                    tuple(dict.fromkeys(before.origins + choice.origins)),
                    before.condition if before.condition == choice.condition else
                    " and ".join(c for c in (before.condition, choice.condition) if c))
    return sorted(by_release.values(), key=lambda c: (_version_key(c.release), c.condition))


def _names(package: str, releases: Iterable[str]) -> str:
    return catalog_releases.celery(releases) if package == "celery" else f"kombu {_describe_any(releases)}"


def _derived(package: str, celery: PackageVersions, unversioned: list[Span]) -> PackageVersions:
    """kombu's releases from what each possible Celery release requires."""
    found: dict[str, list[str]] = {}
    for release in celery.releases:
        info = catalog_releases.get_release(release)
        requirement = info.kombu if info is not None else None
        admitted = _admitted("kombu", requirement)[0] if requirement else frozenset(_known("kombu").names)
        for kombu in admitted:
            found.setdefault(kombu, []).append(release)
    choices = tuple(VersionChoice(k, (), tuple(unversioned)) for k in sorted(found, key=_version_key))
    requirements = "; ".join(f"celery {r.version} requires kombu{r.kombu}" for r in
                             (catalog_releases.get_release(n) for n in celery.releases) if r is not None and r.kombu)
    return PackageVersions(package, choices, "derived",
                           f"no dependency file pins kombu: {requirements}" if requirements else "what Celery requires")
