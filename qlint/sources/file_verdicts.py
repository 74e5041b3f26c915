"""What a check asks of a file's bytes, by kind, all but the last without parsing them: the pre-filter's
Celery markers, whether the file may act on an app it imports or start a Celery process, the
calls QL305's second pass looks for, whether a candidate is a deployment file, what a
dependency file says of celery and kombu, the qlint configuration a file holds, and whether an
open buffer the pre-filter sets aside parses (the language server reports it only if not). The
kind alone says how the verdict is computed, so that a later run can ask an edited file the same
questions (scan/run_cache.py).
"""
from __future__ import annotations

import functools
import re
import sys
from typing import Callable, Hashable, Mapping

from qlint.model import Span
from qlint.sources.read import MARKERS, calls_pattern, celery_markers, may_start_celery, may_use_an_app

MARKER_NUMBERS = "markers"
STARTS_CELERY = "starts"
APP_USE = "app use"

Calls = tuple[tuple[str, int], ...]  # the names called, each with the offset where its call starts


def calls_kind(names: Mapping[str, frozenset[str]]) -> Hashable:
    """The kind of verdict that lists the calls of names in a file, a name counting only where
    the file also contains one of the words it maps to (a method's classes), if any."""
    return "calls", tuple(sorted((name, tuple(sorted(words))) for name, words in names.items()))


def is_calls(kind: Hashable) -> bool:
    return isinstance(kind, tuple) and len(kind) == 2 and kind[0] == "calls"


def qlint_configuration(name: str) -> Hashable:
    """The kind of verdict that is the qlint configuration a .qlint.toml or pyproject.toml holds
    (the walk reads a sub-project's; a check's own is part of what it was asked)."""
    return "qlint configuration", name


def deployment_file(path: str) -> Hashable:
    """The kind of verdict that says whether a file is a deployment file (read by its name and
    first bytes, sources/deploy/discover.py)."""
    return "deployment file", path


def python_problem(path: str) -> Hashable:
    """The kind of verdict that is the problem parsing a Python file gives (its message and
    range), None when there is none: the language server reads an open buffer with no Celery
    marker only to report that problem (pipeline/analysis.py)."""
    return "python problem", path


def dependency_facts(path: str, kind: str | None) -> Hashable:
    """The kind of verdict that is a dependency file's facts (sources/dependencies), read as
    `kind` where the caller knows better than the name (a file a requirements file includes)."""
    return "dependency facts", path, kind


@functools.lru_cache(maxsize=64)
def compute(kind: Hashable) -> Callable[[bytes], object] | None:
    """How the verdict of that kind is computed from a file's bytes; None for a kind unknown here."""
    if kind == MARKER_NUMBERS:
        return marker_numbers
    if kind == STARTS_CELERY:
        return may_start_celery
    if kind == APP_USE:
        return may_use_an_app
    if is_calls(kind):
        return _calls_of({name: frozenset(words) for name, words in kind[1]})
    if isinstance(kind, tuple) and len(kind) == 2 and kind[0] == "qlint configuration":
        return functools.partial(_qlint_table, kind[1])
    if isinstance(kind, tuple) and len(kind) == 2 and kind[0] == "deployment file":
        from qlint.sources.deploy.discover import HEAD_BYTES, classify_path

        path = kind[1]
        return lambda data: classify_path(path, data[:HEAD_BYTES]) is not None
    if isinstance(kind, tuple) and len(kind) == 2 and kind[0] == "python problem":
        return functools.partial(_python_problem, kind[1])
    if isinstance(kind, tuple) and len(kind) == 3 and kind[0] == "dependency facts":
        from qlint.sources.dependencies import read_dependency_bytes

        return functools.partial(read_dependency_bytes, kind[1], kind=kind[2])
    return None


def _python_problem(path: str, data: bytes) -> tuple[str, int, int, int, int] | None:
    from qlint.sources.python import parse_file

    facts = parse_file(path, data)
    if facts.error is None:
        return None
    span = facts.error_span or Span(path, 0, 0)
    return facts.error, span.line, span.column, span.end_line, span.end_column


def _qlint_table(name: str, data: bytes) -> object:
    if name == "pyproject.toml" and b"qlint" not in data:
        return None  # not parsed by qlint (user_config/project_config.py)
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        table = tomllib.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError and UnicodeDecodeError are ValueErrors
        return f"unreadable: {exc}"
    if name == "pyproject.toml":
        tool = table.get("tool")
        return tool.get("qlint") if isinstance(tool, dict) else None
    return table


def as_kept(kind: Hashable, verdict: object) -> object:
    """The verdict as a run keeps it for the next (run_cache.py): a dependency file's facts as
    their repr, which a later run compares without loading the classes that hold them."""
    if isinstance(kind, tuple) and kind and kind[0] == "dependency facts":
        return repr(verdict)
    return verdict


def marker_numbers(data: bytes) -> tuple[int, ...]:
    """celery_markers(data) as places in MARKERS, which a stored verdict can hold."""
    found = celery_markers(data)
    return tuple(i for i, marker in enumerate(MARKERS) if marker in found)


def _calls_of(names: Mapping[str, frozenset[str]]) -> Callable[[bytes], Calls]:
    pattern = calls_pattern(frozenset(names))
    # a class name as a whole word: `Channel` is not in `ChannelLog`
    whole = {word: re.compile(rb"\b" + re.escape(word.encode()) + rb"\b") for words in names.values() for word in words}

    def calls(data: bytes) -> Calls:
        found = []
        present: dict[str, bool] = {}  # each word looked for once per file

        def has(word: str) -> bool:
            if word not in present:
                present[word] = word.encode() in data and whole[word].search(data) is not None
            return present[word]

        for match in pattern.finditer(data):
            name, at = match.group()[:-1].decode(), match.start()
            words = names[name]
            if data[max(at - 4, 0):at] != b"def " and (not words or any(has(w) for w in words)):
                found.append((name, at))
        return tuple(found)

    return calls
