"""Which deployment file a path is, decided cheaply, and reading it into DeployFacts.

classify_path looks at the name and at the bytes given (the whole file, or at least
its first 64 KiB): files that mention neither ``celery`` nor ``CELERY_`` are not read,
except ``.env`` files, whose variables other files may use.
"""
from __future__ import annotations

import re
from pathlib import PurePath
from typing import Callable

from qlint.sources.deploy.compose import read_compose
from qlint.sources.deploy.dotenv import read_dotenv
from qlint.sources.deploy.facts import DeployFacts, DeployKind
from qlint.sources.deploy.kubernetes import read_kubernetes
from qlint.sources.deploy.procfile import read_procfile
from qlint.sources.deploy.settings_file import read_toml_settings, read_yaml_settings
from qlint.sources.deploy.shell_script import read_shell
from qlint.sources.deploy.supervisord import read_supervisord
from qlint.sources.deploy.systemd import read_systemd
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
    "settings-toml": read_toml_settings,
    "settings-yaml": read_yaml_settings,
}


def classify_path(path: str, head: bytes) -> str | None:
    """The reader for path (a key of READERS), or None when it is no deployment file."""
    name = PurePath(path).name
    lower = name.lower()
    if b"\x00" in head[:8192]:
        return None
    if lower == ".env" or lower.startswith(".env.") or lower.endswith(".env"):
        return "dotenv"
    if not _CELERY.search(head):
        return None
    if _COMPOSE_NAME.match(lower):
        return "compose"
    if name.startswith("Procfile"):
        return "procfile"
    if lower.endswith(".service"):
        return "systemd"
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
    return _safely(reader, path, text)


def read_deploy_bytes(path: str, data: bytes) -> DeployFacts | None:
    """Like read_deploy_file, from bytes: undecodable files give facts with a note."""
    reader = classify_path(path, data)
    if reader is None:
        return None
    try:
        text = decode_text(data)
    except SourceError as exc:
        return DeployFacts(path, _kind(reader), notes=[f"{path}: {exc}; skipped"])
    return _safely(reader, path, text)


def _kind(reader: str) -> DeployKind:
    return "settings" if reader.startswith("settings") else reader  # type: ignore[return-value]


def _safely(reader: str, path: str, text: str) -> DeployFacts:
    try:
        return READERS[reader](path, text)
    except RecursionError:
        return DeployFacts(path, _kind(reader), notes=[f"{path}: nested too deeply; skipped"])
