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

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from qlint.model import Alternative, Value, unknown
from qlint.sources.deploy.facts import DeployFacts, EnvVar, Process

_TEMPLATE_SUFFIXES = ("example", "sample", "template", "dist", "tmpl", "tpl", "default", "defaults")


def is_template_env(path: str) -> bool:
    name = PurePosixPath(path).name.lower()
    return any(name.endswith(f".{suffix}") or name.endswith(f"-{suffix}") or name.endswith(f"_{suffix}")
               for suffix in _TEMPLATE_SUFFIXES)


UNSET = object()  # the value of an alternative in which the variable is not set


def condition(name: str, text: str | None) -> str:
    return f"${name} is not set" if text is None else f"${name} is {text!r}"


_CLAUSE = re.compile(r"\$(\w+) is (not set|'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")")


@dataclass
class Environment:
    """Every definition of each variable, and what each celery process is started with."""

    definitions: dict[str, list[EnvVar]] = field(default_factory=dict)
    # Variables of .env files, which every process sees, and each process's own.
    shared: dict[str, EnvVar] = field(default_factory=dict)
    processes: list[dict[str, EnvVar]] = field(default_factory=list)

    def add(self, var: EnvVar) -> None:
        spots = self.definitions.setdefault(var.name, [])
        if var.span not in {d.span for d in spots}:
            spots.append(var)

    def names(self) -> list[str]:
        """Every variable the deployment sets somewhere."""
        return sorted(self.definitions)

    def value(self, name: str) -> Value | None:
        """The variable across the deployment: None when nothing sets it. Where some
        processes set it and others do not, one alternative has the value UNSET."""
        spots = self.definitions.get(name)
        if not spots:
            return None
        for var in spots:
            if var.value.status not in ("known", "env-default"):
                return unknown(f"environment variable {name} is set in {var.span} to a value qlint cannot read "
                               f"({var.value.reason or 'not in the file'})", var.span)
        seen: dict[object, EnvVar | None] = {}
        for env in self.processes or [{}]:
            var = env.get(name) or self.shared.get(name)
            seen.setdefault(str(var.value.value) if var is not None else UNSET, var)
        if not self.processes:
            seen = {str(v.value.value): v for v in spots}
        if len(seen) == 1 and UNSET not in seen:
            var = next(iter(seen.values()))
            return Value("known", str(var.value.value), var.value.origin or var.span, env=name)
        return Value("several", alternatives=tuple(
            Alternative(Value("known", UNSET if text is UNSET else text,
                              (var.value.origin or var.span) if var is not None else None, env=name),
                        condition(name, None if text is UNSET else str(text)))
            for text, var in seen.items()
        ), origin=spots[0].span, env=name)


def applies(condition_text: str, env: dict[str, EnvVar]) -> bool:
    """False when condition names a variable's value that this process environment contradicts."""
    for match in _CLAUSE.finditer(condition_text):
        name, said = match.group(1), match.group(2)
        var = env.get(name)
        if said == "not set":
            if var is not None:
                return False
        elif var is None or var.value.status not in ("known", "env-default") or repr(str(var.value.value)) != said:
            return False
    return True


def narrow(value: Value, env: dict[str, EnvVar]) -> Value:
    """value as one process sees it: alternatives its environment rules out are dropped."""
    if value.status != "several":
        return value
    kept = [alt for alt in value.alternatives if applies(alt.condition, env)]
    if not kept or len(kept) == len(value.alternatives):
        return value
    if len(kept) == 1:
        return kept[0].value
    return Value("several", alternatives=tuple(kept), origin=value.origin, env=value.env)


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
        if item.kind == "dotenv" and not is_template_env(item.path):
            for var in item.env:
                environment.add(var)
                environment.shared[var.name] = var
    for item in facts:
        if item.kind == "dockerfile":
            for var in item.env:  # the image's: whichever processes run it have it too
                environment.add(var)
        if item.kind == "dotenv":
            continue
        folder = str(PurePosixPath(item.path).parent)
        for process in item.processes:
            own = process_env(process, folder, env_files)
            for var in own:
                environment.add(var)
            environment.processes.append({**environment.shared, **{var.name: var for var in own}})
    return environment


def environment_of(environment: Environment | None, process: Process, file: str,
                   env_files: dict[str, DeployFacts]) -> dict[str, EnvVar]:
    shared = environment.shared if environment is not None else {}
    own = process_env(process, str(PurePosixPath(file).parent), env_files)
    return {**shared, **{var.name: var for var in own}}
