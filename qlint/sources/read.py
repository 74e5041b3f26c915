"""Reading source files: bytes to text, with clear errors, and the cheap pre-filter.

The pre-filter decides from bytes alone whether a Python file can hold anything
Celery-related, so that most files of a large tree are never parsed.
"""
from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

MAX_BYTES = 8 * 1024 * 1024

# A file mentioning none of these cannot define an app, a setting, a task or a
# task call. Modules that such files import are parsed on demand by the resolver.
_MARKERS = re.compile(
    rb"celery|CELERY|Celery|shared_task|DJANGO_SETTINGS_MODULE|\.delay\(|apply_async|"
    rb"\.si?\(|signature\(|send_task|chord|chain|group"
)


class SourceError(Exception):
    """A file that cannot be read as source text; the message says why."""


@dataclass(frozen=True)
class SourceText:
    path: str
    text: str
    data: bytes


def mentions_celery(data: bytes) -> bool:
    return _MARKERS.search(data) is not None


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


def read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise SourceError(f"file too large ({size} bytes; the limit is {MAX_BYTES})")
        return path.read_bytes()
    except OSError as exc:
        raise SourceError(exc.strerror or str(exc)) from None
