"""Reading source files: bytes to text, with clear errors, and the cheap pre-filter.

The pre-filter decides from bytes alone whether a Python file can hold anything
Celery-related, so that most files of a large tree are never parsed.
"""
from __future__ import annotations

import io
import os
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

MAX_BYTES = 8 * 1024 * 1024

# A file mentioning none of these cannot define an app, a setting, a task or a
# task call. Modules that such files import are parsed on demand by the resolver.
# Canvas names (chain, group, signature) are not markers on their own: they are
# common words, and a module that builds canvases imports them from celery or
# calls .s()/.si()/.delay()/.apply_async(). "elery" covers celery and Celery.
# Substring tests: several `in` scans beat one regex with alternatives. Markers that share
# their start are one pattern beginning with it (`\.si?\(` for .s( and .si(); a pattern with
# a literal start scans as fast as one `in`): most files contain no marker at all, and are
# scanned once per marker.
SETTINGS_MODULE_MARKER = b"DJANGO_SETTINGS_MODULE"
# `@app.task`, `@app.task(...)`, `app.task(func)` on an app imported under any name (`from .app
# import app`): a task definition needs no other marker. Attributes (`job.task = x`, `self.task.id`)
# are not task definitions.
TASK_MARKER = re.compile(rb"\.task(?:\(|[ \t]*(?:#[^\n]*)?\r?\n)")


class _Both:
    """A marker made of two substrings that must both occur (a `search` like a pattern's)."""

    def __init__(self, first: bytes, second: bytes) -> None:
        self.first, self.second = first, second

    def search(self, data: bytes) -> bool | None:
        return True if self.first in data and self.second in data else None


# Of the files that open a database transaction (QL305), those read whatever else they hold: a project context
# manager around atomic() (`with traced_atomic_transaction():` elsewhere stands for atomic), and
# an app that includes pyramid_tm (every view runs in a transaction). Other files that open a
# transaction are read when they send (the markers above) or call a helper that sends (QL305's
# second pass, qlint/pipeline/analysis.py): reading them all doubled the files read on saleor.
MARKERS = (b"elery", b"CELERY", b"shared_task", SETTINGS_MODULE_MARKER, b".delay(", b"apply_async",
           re.compile(rb"\.si?\("), b"send_task", TASK_MARKER, _Both(b"atomic", b"contextmanager"), b"pyramid_tm")


# A file without MARKERS can still act on an app it imports from elsewhere: define tasks
# (`@app.task`, `class T(app.Task)`), write its configuration (`app.conf.x = ...`,
# `app.config_from_object(...)`), register tasks or schedules. Names imported from a file
# with none of these are read only when used (see resolve.objects.LazyName).
APP_USE_MARKERS = (re.compile(rb"\.[tT]ask"), re.compile(rb"\.conf(?:[.\[\n]| =)"), b"config_from_",
                   b"register_task", b"add_periodic_task", b"autodiscover")


def _contains(data: bytes, marker: bytes | re.Pattern[bytes]) -> bool:
    return marker in data if type(marker) is bytes else marker.search(data) is not None


class SourceError(Exception):
    """A file that cannot be read as source text; the message says why."""


@dataclass(frozen=True)
class SourceText:
    path: str
    text: str
    data: bytes


def mentions_celery(data: bytes) -> bool:
    return any(_contains(data, marker) for marker in MARKERS)


_CELERY_ITEM = re.compile(rb"""['"]celery['"]\s*,""")
_SUBCOMMAND_ITEM = re.compile(rb"""['"](?:worker|beat|multi)['"]""")


def may_start_celery(data: bytes) -> bool:
    """Whether a module may spell a celery command line as a list (deploy/python_argv.py)."""
    # the substring test first: most modules never name celery, and it runs at C speed
    return b"celery" in data and _CELERY_ITEM.search(data) is not None and _SUBCOMMAND_ITEM.search(data) is not None


def may_use_an_app(data: bytes) -> bool:
    return any(_contains(data, marker) for marker in APP_USE_MARKERS)


def celery_markers(data: bytes) -> tuple[bytes | re.Pattern[bytes], ...]:
    """The MARKERS that data contains, each looked for once (most files contain none, and
    then every marker is a scan of the whole file)."""
    return tuple(marker for marker in MARKERS if _contains(data, marker))


def names_settings_module_only(markers: tuple[bytes | re.Pattern[bytes], ...]) -> bool:
    """Whether the markers a file contains (celery_markers) are DJANGO_SETTINGS_MODULE alone
    (manage.py, wsgi.py): such a file matters only once a Celery app that loads Django
    settings is found."""
    return markers == (SETTINGS_MODULE_MARKER,)


def decode_python(path: str, data: bytes) -> str:
    """Decode Python source as the interpreter would (BOM, coding cookie, UTF-8)."""
    if b"\x00" in data[:8192]:
        raise SourceError("binary file (contains NUL bytes)")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise SourceError(f"not UTF-8 and no coding declaration (PEP 263): {bad}") from None
        raise SourceError(f"unknown source encoding: {exc}") from None
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise SourceError(f"cannot decode as {encoding}: {exc}") from None
    return text.lstrip("\ufeff")


def decode_text(data: bytes) -> str:
    """Decode a non-Python text file (YAML, TOML, Procfile...) as UTF-8."""
    if b"\x00" in data[:8192]:
        raise SourceError("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"not UTF-8 text: {exc}") from None


def read_bytes(path: Path | str) -> bytes:
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_BYTES:
                raise SourceError(f"file too large ({size} bytes; the limit is {MAX_BYTES})")
            return handle.read()
    except OSError as exc:
        raise SourceError(exc.strerror or str(exc)) from None


def calls_pattern(names: frozenset[str]) -> re.Pattern[bytes]:
    """Calls of any of names (`notify(`, `self.notify(`, `helpers.notify(`), found in bytes:
    QL305's second pass reads the modules that call a project function known to send tasks."""
    alternatives = _prefix_tree(sorted(names)).encode() if names else b"(?!)"
    return re.compile(rb"\b(?:" + alternatives + rb")\(")  # \b scans twice as fast as a look-behind


def _prefix_tree(words: list[str]) -> str:
    """A pattern for exactly these words with their common prefixes written once. re tries the
    branches of a flat `get_user|get_order|...` one after the other wherever a word may start;
    on saleor's 4,338 files and 150 sender names the tree scans five times faster."""
    tree: dict = {}
    for word in words:
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: dict) -> str:
        branches = [re.escape(char) + pattern(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        if "" in node:  # a word ends here, and longer ones go on
            return f"(?:{'|'.join(branches)})?"
        return branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"

    return pattern(tree)
