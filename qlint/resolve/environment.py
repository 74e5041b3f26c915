"""The environment that the shipped deployment gives Celery's processes.

A variable counts when a deployment file sets it for a celery worker or beat process
(compose ``environment:``/``env_file:``, Kubernetes ``env``, systemd ``Environment=``,
supervisord ``environment=``) or when a ``.env`` file in the project sets it
(django-environ's ``read_env`` and python-dotenv load those into the process).
Templates (``.env.example``, ``.env.sample``...) document variables but set none.

A variable set to one value everywhere is known, with the file that sets it as its
origin; set to different values in different places it is ``several`` (each place is
an alternative); set from a secret or an unresolvable reference it is unknown. A
variable set nowhere is absent, and the code's default applies as before.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from qlint.model import Alternative, Value, unknown
from qlint.sources.deploy.facts import DeployFacts, EnvVar, Process

_TEMPLATE_SUFFIXES = ("example", "sample", "template", "dist", "tmpl", "tpl", "default", "defaults")


def is_template_env(path: str) -> bool:
    name = PurePosixPath(path).name.lower()
    return any(name.endswith(f".{suffix}") or name.endswith(f"-{suffix}") or name.endswith(f"_{suffix}")
               for suffix in _TEMPLATE_SUFFIXES)


@dataclass
class Environment:
    """Every definition of each variable, and the variable's value across them."""

    definitions: dict[str, list[EnvVar]] = field(default_factory=dict)

    def add(self, var: EnvVar) -> None:
        spots = self.definitions.setdefault(var.name, [])
        if var.span not in {d.span for d in spots}:
            spots.append(var)

    def value(self, name: str) -> Value | None:
        spots = self.definitions.get(name)
        if not spots:
            return None
        for var in spots:
            if var.value.status not in ("known", "env-default"):
                return unknown(f"environment variable {name} is set in {var.span} to a value qlint cannot read "
                               f"({var.value.reason or 'not in the file'})", var.span)
        distinct: dict[str, EnvVar] = {}
        for var in spots:
            distinct.setdefault(str(var.value.value), var)
        if len(distinct) == 1:
            var = next(iter(distinct.values()))
            return Value("known", str(var.value.value), var.value.origin or var.span, env=name)
        return Value("several", alternatives=tuple(
            Alternative(Value("known", text, var.value.origin or var.span, env=name), f"where {var.span} sets it")
            for text, var in distinct.items()
        ), origin=spots[0].span, env=name)

    def __contains__(self, name: str) -> bool:
        return bool(self.definitions.get(name))


def process_env(process: Process, folder: str, env_files: dict[str, DeployFacts]) -> list[EnvVar]:
    """The variables a process is started with: its env_file(s) first, then its own entries."""
    found: list[EnvVar] = []
    for written in process.env_files:
        facts = env_files.get(join(folder, written))
        if facts is not None:
            found.extend(facts.env)
    found.extend(process.env.values())
    return found


def join(folder: str, relative: str) -> str:
    """A path written in a deployment file, relative to its folder, as a display path."""
    parts: list[str] = [p for p in folder.split("/") if p and p != "."]
    for part in relative.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            else:
                parts.append("..")
        else:
            parts.append(part)
    return "/".join(parts)


def build_environment(facts: list[DeployFacts], env_files: dict[str, DeployFacts]) -> Environment:
    environment = Environment()
    for item in facts:
        if item.kind == "dotenv":
            if not is_template_env(item.path):
                for var in item.env:
                    environment.add(var)
            continue
        folder = str(PurePosixPath(item.path).parent)
        for process in item.processes:
            for var in process_env(process, folder, env_files):
                environment.add(var)
    return environment
