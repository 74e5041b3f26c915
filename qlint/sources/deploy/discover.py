"""Which deployment file a path is, decided cheaply, and reading it into DeployFacts.

classify_path looks at the name and at the bytes given (the whole file, or at least
its first 64 KiB): files that mention neither ``celery`` nor ``CELERY_`` are not read,
except ``.env`` files, whose variables other files may use, Dockerfiles and compose files.
"""
from __future__ import annotations

import re
from pathlib import PurePath
from typing import Callable

from qlint.sources.deploy.compose import read_compose
from qlint.sources.deploy.dockerfile import read_dockerfile
from qlint.sources.deploy.dotenv import read_dotenv
from qlint.sources.deploy.facts import DeployFacts, DeployKind
from qlint.sources.deploy.kubernetes import read_kubernetes
from qlint.sources.deploy.makefile import read_makefile
from qlint.sources.deploy.procfile import read_procfile
from qlint.sources.deploy.settings_file import read_toml_settings, read_yaml_settings
from qlint.sources.deploy.shell_script import read_shell
from qlint.sources.deploy.supervisord import read_supervisord
from qlint.sources.deploy.systemd import read_systemd
from qlint.model import Span
from qlint.sources.deploy.yaml_nodes import Unreadable
from qlint.sources.read import SourceError, decode_text

_CELERY = re.compile(rb"celery", re.I)
_SETTING_KEY = re.compile(rb"^\s*\"?CELERY_?[A-Z0-9_]*\"?\s*[:=]|^\s*\[[^\]\n]*celery[^\]\n]*\]|^\s*celery\s*:",
                          re.M | re.I)
_K8S = re.compile(rb"^apiVersion\s*:", re.M)
_K8S_KIND = re.compile(rb"^kind\s*:", re.M)
_SHEBANG = re.compile(rb"#![^\n]*\b(sh|bash|dash|ash|zsh|ksh)\b")
_COMPOSE_NAME = re.compile(r"^(docker-)?compose([.-].*)?\.ya?ml$")

Reader = Callable[[str, str], DeployFacts]
READERS: dict[str, Reader] = {
    "compose": read_compose,
    "kubernetes": read_kubernetes,
    "procfile": read_procfile,
    "supervisord": read_supervisord,
    "systemd": read_systemd,
    "shell": read_shell,
    "dotenv": read_dotenv,
    "dockerfile": read_dockerfile,
    "makefile": read_makefile,
    "settings-toml": read_toml_settings,
    "settings-yaml": read_yaml_settings,
}


def named_like_deployment(path: str) -> bool:
    """A name that only a deployment file has: docker-compose.yml, Procfile, *.service."""
    name = PurePath(path).name
    return bool(_COMPOSE_NAME.match(name.lower())) or name.startswith("Procfile") or name.lower().endswith(".service")


def kind_by_name(path: str) -> str | None:
    """The reader a file's name alone calls for (a compose file, a Procfile, a systemd unit,
    a Dockerfile), else None."""
    name = PurePath(path).name
    lower = name.lower()
    if _COMPOSE_NAME.match(lower):
        return "compose"
    if name.startswith("Procfile"):
        return "procfile"
    if lower.endswith(".service"):
        return "systemd"
    return "dockerfile" if is_dockerfile_name(lower) else None


def is_dockerfile_name(lower: str) -> bool:
    """Dockerfile, Dockerfile.prod, prod.Dockerfile, Containerfile (a lower-case name)."""
    return (lower in ("dockerfile", "containerfile") or lower.startswith(("dockerfile.", "containerfile."))
            or lower.endswith((".dockerfile", ".containerfile")))


# How much of a file classify_path() is shown.
HEAD_BYTES = 65536


def classify_path(path: str, head: bytes) -> str | None:
    """The reader for path (a key of READERS), or None when it is no deployment file.

    "binary" for a file named like a deployment file whose bytes are not text.
    """
    name = PurePath(path).name
    lower = name.lower()
    if b"\x00" in head[:8192]:
        return "binary" if named_like_deployment(path) else None
    if lower == ".env" or lower.startswith(".env.") or lower.endswith(".env"):
        return "dotenv"
    # Read even without celery in them: a Dockerfile's ENV names the settings module, and a
    # compose file builds the image that runs celery, or runs the broker.
    if is_dockerfile_name(lower):
        return "dockerfile"
    if _COMPOSE_NAME.match(lower):
        return "compose"
    if not _CELERY.search(head):
        return None
    if name.startswith("Procfile"):
        return "procfile"
    if lower.endswith(".service"):
        return "systemd"
    if lower in ("makefile", "gnumakefile"):
        return "makefile"
    if lower.endswith((".conf", ".ini")) and b"[program:" in head:
        return "supervisord"
    if (lower.endswith(".sh") or lower.startswith(("entrypoint", "docker-entrypoint"))
            or _SHEBANG.match(head)):
        return "shell"
    if lower.endswith((".yaml", ".yml")):
        if _K8S.search(head) and _K8S_KIND.search(head):
            return "kubernetes"
        return "settings-yaml" if _SETTING_KEY.search(head) else None
    if lower.endswith(".toml") and _SETTING_KEY.search(head):
        return "settings-toml"
    return None


def read_deploy_file(path: str, text: str) -> DeployFacts | None:
    """The facts of one deployment file, or None when path is no deployment file."""
    reader = classify_path(path, text.encode("utf-8", "surrogatepass"))
    if reader is None:
        return None
    if reader == "binary":
        return unreadable(path, reader, "a binary file, not text")
    return _safely(reader, path, text)


def read_deploy_bytes(path: str, data: bytes, max_bytes: int | None = None) -> DeployFacts | None:
    """Like read_deploy_file, from bytes: a file that cannot be read gives facts with
    its error (binary, undecodable, larger than max_bytes)."""
    reader = classify_path(path, data[:HEAD_BYTES])
    if reader is None:
        return None
    if reader == "binary":
        return unreadable(path, reader, "a binary file, not text")
    if max_bytes is not None and len(data) > max_bytes:
        return unreadable(path, reader, f"too large for a deployment file ({len(data):,} bytes, at most {max_bytes:,})")
    try:
        text = decode_text(data)
    except SourceError as exc:
        return unreadable(path, reader, str(exc))
    return _safely(reader, path, text)


def _kind(reader: str) -> DeployKind:
    if reader == "binary":
        reader = "compose"  # never read: the kind only has to be one of DeployKind
    return "settings" if reader.startswith("settings") else reader  # type: ignore[return-value]


def unreadable(path: str, reader: str, message: str, line: int = 1, column: int = 1) -> DeployFacts:
    return DeployFacts(path, _kind(reader), error=message,
                       error_span=Span(path, line, column))


def _safely(reader: str, path: str, text: str) -> DeployFacts:
    try:
        return READERS[reader](path, text)
    except Unreadable as exc:
        return unreadable(path, reader, str(exc), exc.line, exc.column)
    except RecursionError:
        return unreadable(path, reader, "nested too deeply")
