"""What a check asks of a Python file's bytes without parsing them, by kind: the pre-filter's
Celery markers, whether the file may act on an app it imports or start a Celery process, and
the calls QL305's second pass looks for. The kind alone says how the verdict is computed, so
that a later run can ask an edited file the same questions (scan/run_cache.py).
"""
from __future__ import annotations

import functools
import re
from typing import Callable, Hashable, Mapping

from qlint.sources.read import MARKERS, calls_pattern, celery_markers, may_use_an_app

MARKER_NUMBERS = "markers"
STARTS_CELERY = "starts"
APP_USE = "app use"

Calls = tuple[tuple[str, int], ...]  # the names called, each with the offset where its call starts


def calls_kind(names: Mapping[str, frozenset[str]]) -> Hashable:
    """The kind of verdict that lists the calls of names in a file, a name counting only where
    the file also contains one of the words it maps to (a method's classes), if any."""
    return "calls", tuple(sorted((name, tuple(sorted(words))) for name, words in names.items()))


@functools.lru_cache(maxsize=64)
def compute(kind: Hashable) -> Callable[[bytes], object] | None:
    """How the verdict of that kind is computed from a file's bytes; None for a kind unknown here."""
    if kind == MARKER_NUMBERS:
        return marker_numbers
    if kind == STARTS_CELERY:
        from qlint.sources.deploy.python_argv import may_start_celery

        return may_start_celery
    if kind == APP_USE:
        return may_use_an_app
    if isinstance(kind, tuple) and len(kind) == 2 and kind[0] == "calls":
        return _calls_of({name: frozenset(words) for name, words in kind[1]})
    return None


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
