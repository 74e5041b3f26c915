"""Where qlint's caches live, and how an entry is written and read back safely.

A checked tree is data: whoever commits it must not choose what qlint unpickles. So the
caches live in the user's cache directory ($QLINT_CACHE_DIR, else $XDG_CACHE_HOME/qlint,
else ~/.cache/qlint), one folder per project root, and nothing under the checked tree is
ever read as a cache. Each entry is sealed with a keyed BLAKE2b MAC over its name and
bytes; the key is made once per user, beside the caches, readable by the user alone. An
entry that fails the MAC (written by someone else, damaged, or moved under another name)
is a miss. One that passes is unpickled with an allow-list of qlint's own classes, so even
a leaked key cannot make pickle call anything else. Folders are made private and refused
when they are links or another user's; files are opened without following links, and
never block on a FIFO.
"""
from __future__ import annotations

import dataclasses
import enum
import hashlib
import hmac
import io
import os
import pickle
import secrets
import stat
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

KEY_SIZE = 32
MAC_SIZE = 32
MAGIC = b"QLC1"
# Builtins that a cached result may hold besides qlint's classes (protocol 5 writes sets,
# frozensets and tuples with opcodes of their own; these come through find_class).
_BUILTINS = frozenset({"set", "frozenset", "complex", "slice", "range", "bytearray"})
# Functions of qlint's that rebuild an object (a __reduce__ names them).
_REBUILDERS = frozenset({("qlint.model", "_span_from_fields")})

_refused: set[str] = set()  # folders refused this process, said once each


class CacheRefused(OSError):
    """A cache folder that qlint will not use (a link, not a folder, another user's)."""


def base_dir() -> Path:
    explicit = os.environ.get("QLINT_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    home = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return home / "qlint"


def project_dir(root: Path) -> Path:
    """The cache folder of the project at root (not made): its name and a hash of its path."""
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in root.name)[:40] or "root"
    digest = hashlib.blake2b(os.fsencode(str(root)), digest_size=8).hexdigest()
    return base_dir() / f"{name}-{digest}"


def _own_folder(path: Path) -> None:
    """Make path a private folder if missing; raise CacheRefused if it is not one of ours."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise CacheRefused(f"{path} is a symbolic link")
    if not stat.S_ISDIR(info.st_mode):
        raise CacheRefused(f"{path} is not a folder")
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise CacheRefused(f"{path} belongs to another user")


def folder(root: Path, *parts: str) -> Path:
    """The project's cache folder (or a folder below it), made if missing."""
    return make_folder(project_dir(root).joinpath(*parts))


def make_folder(path: Path) -> Path:
    """Make path, a folder in the user's cache directory, one private folder at a time;
    raises OSError when it cannot be made and CacheRefused (said once on stderr) when a
    part of it is not safe. A folder elsewhere is made as is."""
    base = base_dir()
    try:
        relative = path.relative_to(base)
    except ValueError:
        path.mkdir(parents=True, exist_ok=True)
        return path
    try:
        base.parent.mkdir(parents=True, exist_ok=True)
        current = base
        _own_folder(current)
        for part in relative.parts:
            current = current / part
            _own_folder(current)
    except CacheRefused as exc:
        if str(exc) not in _refused:
            _refused.add(str(exc))
            print(f"qlint: note: not using the cache: {exc}", file=sys.stderr)
        raise
    return path


@lru_cache(maxsize=4)
def _stored_key(base: Path) -> bytes | None:
    path = base / "key"
    try:
        base.parent.mkdir(parents=True, exist_ok=True)  # a new machine may have no ~/.cache yet
        _own_folder(base)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(KEY_SIZE))
        data = read_regular(path, KEY_SIZE + 1)
    except OSError:
        return None
    return data if data is not None and len(data) == KEY_SIZE else None


_session_key = secrets.token_bytes(KEY_SIZE)


def key() -> bytes:
    """The user's cache key; where none can be kept, one for this process, so that nothing
    stored survives the run."""
    return _stored_key(base_dir()) or _session_key


def read_regular(path: Path | str, limit: int) -> bytes | None:
    """The bytes of a regular file (not through a link, never waiting on a FIFO), or None
    when it is missing, something else, or larger than limit."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        data = handle.read(limit + 1)
    return data if len(data) <= limit else None


def _mac(secret: bytes, name: str, data: bytes) -> bytes:
    return hashlib.blake2b(name.encode() + b"\0" + data, key=secret, digest_size=MAC_SIZE).digest()


def seal(name: str, data: bytes, secret: bytes) -> bytes:
    return MAGIC + _mac(secret, name, data) + data


def unseal(name: str, blob: bytes, secret: bytes) -> bytes | None:
    """The data inside a sealed blob, or None when the blob was not sealed under this name
    with this key."""
    head = len(MAGIC) + MAC_SIZE
    if len(blob) < head or not blob.startswith(MAGIC):
        return None
    data = blob[head:]
    return data if hmac.compare_digest(blob[len(MAGIC):head], _mac(secret, name, data)) else None


class _QlintUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins" and name in _BUILTINS:
            return super().find_class(module, name)
        if (module == "qlint" or module.startswith("qlint.")) and "." not in name:
            found = super().find_class(module, name)
            if _is_data_class(found):
                return found
            if (module, name) in _REBUILDERS:
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not a qlint class")


def _is_data_class(found: Any) -> bool:
    """A class of qlint's that only holds data: a dataclass, an enum or a named tuple, whose
    construction runs no code of consequence (not, say, a class that starts processes)."""
    if not isinstance(found, type) or not getattr(found, "__module__", "").startswith("qlint"):
        return False
    return dataclasses.is_dataclass(found) or issubclass(found, enum.Enum) or (
        issubclass(found, tuple) and hasattr(found, "_fields"))


def loads(data: bytes) -> Any:
    """Unpickle data that qlint wrote: only qlint's own classes may be made."""
    return _QlintUnpickler(io.BytesIO(data)).load()


def write_atomic(path: Path, data: bytes) -> None:
    """Write path by renaming a private new file over it, so that a concurrent reader never
    sees half a file, and a link planted at the temporary name is not followed."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
