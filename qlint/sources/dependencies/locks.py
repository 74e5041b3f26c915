"""Lock files: the exact celery and kombu versions a resolver chose (poetry.lock, uv.lock,
pdm.lock, Pipfile.lock).

A TOML lock of a large project is megabytes, and parsing all of it would cost more than
the rest of a check; only the `[[package]]` entries named celery or kombu are cut out of
the bytes and parsed. Each entry is a locked requirement with its markers (uv's
resolution-markers, Poetry's and PDM's markers); a lock may hold several entries of one
package for different environments. An entry that is not TOML makes the file unreadable
(QL000); the rest of the file is not checked.
"""
from __future__ import annotations

import json
import re
import sys
from typing import Any

from qlint.model import Span
from qlint.sources.dependencies.facts import PACKAGES, DependencyFacts, DependencyKind, Requirement
from qlint.sources.dependencies.requirements import checked_specifier

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

_ENTRY_NAME = re.compile(rb'(?mi)^name[ \t]*=[ \t]*["\'](celery|kombu)["\'][ \t]*\r?$')
_VERSION_LINE = re.compile(rb'(?m)^version[ \t]*=[^\n]*')
# The next top-level table that is not part of the same [[package]] entry.
_NEXT_TABLE = re.compile(rb"(?m)^\[(?!\[?package\.)")


def _line(data: bytes, index: int) -> int:
    return data.count(b"\n", 0, index) + 1


def read_toml_lock(path: str, kind: DependencyKind, data: bytes) -> DependencyFacts:
    found: list[Requirement] = []
    for match in _ENTRY_NAME.finditer(data):
        start = data.rfind(b"\n[[package]]", 0, match.start()) + 1
        if start == 0 and not data.startswith(b"[[package]]"):
            continue
        following = _NEXT_TABLE.search(data, match.end())
        end = following.start() if following else len(data)
        # The finding points at the line that says the version, else at the name.
        version = _VERSION_LINE.search(data, match.end(), end) or match
        line = _line(data, version.start())
        span = Span(path, line, 1, line, len(version.group(0).rstrip(b"\r")) + 1)
        try:
            entry = tomllib.loads(data[start:end].decode("utf-8"))["package"][0]
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, KeyError, IndexError, TypeError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return DependencyFacts(path, kind, error=f"the {match.group(1).decode().lower()} entry is not valid TOML "
                                                     f"({reason})", error_span=Span(path, _line(data, start)))
        found.append(_locked(entry, match.group(1).decode().lower(), span, path))
    return DependencyFacts(path, kind, tuple(found))


def _locked(entry: dict[str, Any], package: str, span: Span, path: str) -> Requirement:
    version = entry.get("version")
    markers = entry.get("resolution-markers") or entry.get("markers") or entry.get("marker")
    if isinstance(markers, list):
        markers = " or ".join(f"({m})" for m in markers if isinstance(m, str)) or None
    if not isinstance(markers, str):
        markers = None
    text = f'{package} {version}' if isinstance(version, str) else package
    specifier = checked_specifier(f"=={version}") if isinstance(version, str) else None
    if specifier is None:
        return Requirement(package, "", span, text, marker=markers, locked=True,
                           unreadable=f"the lock gives no version qlint reads ({version!r})")
    return Requirement(package, specifier, span, text, marker=markers, locked=True)


def read_pipfile_lock(path: str, text: str) -> DependencyFacts:
    try:
        data = json.loads(text)
    except ValueError as exc:
        return DependencyFacts(path, "pipfile-lock", error=f"not valid JSON ({exc})", error_span=Span(path, 1))
    if not isinstance(data, dict):
        return DependencyFacts(path, "pipfile-lock", error="not a Pipfile.lock (a JSON object is expected)",
                               error_span=Span(path, 1))
    found: list[Requirement] = []
    for category, packages in data.items():
        if category == "_meta" or not isinstance(packages, dict):
            continue
        for name, entry in packages.items():
            package = name.lower().replace("_", "-")
            if package not in PACKAGES or not isinstance(entry, dict):
                continue
            index = text.find(f'"{name}"')
            line = text.count("\n", 0, index) + 1 if index >= 0 else 1
            span = Span(path, line, 1, line, 1)
            version = entry.get("version")
            marker = entry.get("markers") if isinstance(entry.get("markers"), str) else None
            group = None if category == "default" else category
            specifier = checked_specifier(version) if isinstance(version, str) and version.startswith("==") else None
            if specifier is None:
                found.append(Requirement(package, "", span, f"{name} {entry.get('version') or entry.get('ref') or ''}".strip(),
                                         marker=marker, locked=True, group=group,
                                         unreadable="the lock gives no version qlint reads (a checkout or a path)"))
            else:
                found.append(Requirement(package, specifier, span, f"{name}{version}", marker=marker, locked=True,
                                         group=group))
    return DependencyFacts(path, "pipfile-lock", tuple(found))
