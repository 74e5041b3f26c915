"""Dependency files: which celery and kombu a project installs, read per file.

Which files (by name, before any byte is read):

    requirements*.txt, *requirements*.txt/.in, constraints*.txt, and .txt/.in files in a
    folder named requirements*        pip requirements files (requirements.py)
    pyproject.toml, Pipfile, setup.cfg, setup.py                     manifests (manifests.py)
    poetry.lock, uv.lock, pdm.lock, Pipfile.lock                     lock files (locks.py)
    Dockerfile, Dockerfile.*, *.Dockerfile, Containerfile            pip commands (pip_install.py)

A file that mentions neither celery nor kombu holds no requirement on them: a lock file,
setup.py or Pipfile.lock without either name is not parsed at all (a requirements file
still is, for its -r and -c includes). Bad input never raises: a binary or undecodable
file, or a lock whose celery entry is not TOML, gives DependencyFacts with an error
(reported as QL000), an unparsable setup.py a note.
"""
from __future__ import annotations

import re
from typing import Callable

from qlint.model import Span
from qlint.sources.dependencies.facts import DependencyFacts, DependencyKind
from qlint.sources.dependencies.locks import read_pipfile_lock, read_toml_lock
from qlint.sources.dependencies.manifests import read_pipfile, read_pyproject, read_setup_cfg, read_setup_py
from qlint.sources.dependencies.pip_install import read_dockerfile_installs
from qlint.sources.dependencies.requirements import read_requirements
from qlint.sources.read import SourceError, decode_python, decode_text

MAX_BYTES = 16 * 1024 * 1024
_MENTIONS = re.compile(rb"(?i)celery|kombu")
_EXACT: dict[str, DependencyKind] = {
    "pyproject.toml": "pyproject", "poetry.lock": "poetry-lock", "uv.lock": "uv-lock", "pdm.lock": "pdm-lock",
    "Pipfile": "pipfile", "Pipfile.lock": "pipfile-lock", "setup.cfg": "setup-cfg", "setup.py": "setup-py",
}
_DOCKERFILE = re.compile(r"(?i)^(docker|container)file([.-].*)?$|.*\.(docker|container)file$")
_REQUIREMENTS = re.compile(r"(?i).*(requirement|constraint).*\.(txt|in)$")
_IN_FOLDER = re.compile(r"(?i)(^|/)requirements?[^/]*/([^/]+/)*[^/]+\.(txt|in)$")
# Parsed only when they mention celery or kombu: what else they hold says nothing of either.
_ONLY_WHEN_MENTIONED = frozenset({"poetry-lock", "uv-lock", "pdm-lock", "pipfile-lock", "setup-py"})


def dependency_kind(path: str) -> DependencyKind | None:
    """The kind of dependency file a path names, from the name alone; None for other files.
    Cheap string tests first: it is asked of every file of the tree."""
    name = path.rpartition("/")[2]
    if name in _EXACT:
        return _EXACT[name]
    lower = name.lower()
    if ("docker" in lower or "container" in lower) and _DOCKERFILE.match(name):
        return "dockerfile"
    if lower.endswith((".txt", ".in")) and (_REQUIREMENTS.match(name) or (
            "requirement" in path.lower() and _IN_FOLDER.search(path))):
        return "requirements"
    return None


_TEXT_READERS: dict[str, Callable[[str, str], DependencyFacts]] = {
    "requirements": read_requirements,
    "pyproject": read_pyproject,
    "pipfile": read_pipfile,
    "pipfile-lock": read_pipfile_lock,
    "setup-cfg": read_setup_cfg,
    "setup-py": read_setup_py,
    "dockerfile": read_dockerfile_installs,
}


def read_dependency_bytes(path: str, data: bytes, kind: DependencyKind | None = None) -> DependencyFacts:
    """The facts of one dependency file (`kind` when the caller knows it better than the
    name does: a file that a requirements file includes)."""
    kind = kind or dependency_kind(path) or "requirements"
    if kind in _ONLY_WHEN_MENTIONED and not _MENTIONS.search(data):
        return DependencyFacts(path, kind)
    if len(data) > MAX_BYTES:
        return _unreadable(path, kind, f"too large for a dependency file ({len(data):,} bytes, at most {MAX_BYTES:,})")
    try:
        if kind in ("poetry-lock", "uv-lock", "pdm-lock"):
            if b"\x00" in data[:8192]:
                raise SourceError("binary file (contains NUL bytes)")
            return read_toml_lock(path, kind, data)
        text = decode_python(path, data) if kind == "setup-py" else decode_text(data)
        return _TEXT_READERS[kind](path, text)
    except SourceError as exc:
        if kind == "setup-py":  # a Python file: the Python pipeline reports it when it matters
            return DependencyFacts(path, kind, notes=(f"{path}: {exc}; its install_requires is not read",))
        return _unreadable(path, kind, str(exc))
    except (ValueError, TypeError, KeyError, IndexError, RecursionError, UnicodeError) as exc:
        return _unreadable(path, kind, f"cannot be read ({type(exc).__name__}: {exc})")


def _unreadable(path: str, kind: DependencyKind, message: str) -> DependencyFacts:
    return DependencyFacts(path, kind, error=message, error_span=Span(path, 1))
