"""Reading the project's deployment files for analyse(): which files, their facts,
the env files they name, and compose's own ``.env`` interpolation."""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import Callable, Container

from qlint.resolve.environment import Environment, build_environment, join
from qlint.sources.deploy import read_deploy_bytes, rebind
from qlint.sources.deploy.discover import HEAD_BYTES, classify_path, kind_by_name, unreadable
from qlint.sources.deploy.dotenv import read_dotenv
from qlint.sources.deploy.compose import by_profiles
from qlint.sources.deploy.facts import DeployFacts, Deployment, EnvVar, Process
from qlint.sources.deploy.python_argv import read_python_argv
from qlint.sources.paths import is_test_path
from qlint.sources.read import SourceError, decode_text, may_start_celery

MAX_BYTES = 2 * 1024 * 1024
_SUFFIXES = (".yml", ".yaml", ".toml", ".conf", ".ini", ".service", ".sh", ".env", ".bash", ".dockerfile",
             ".containerfile")
_PREFIXES = ("procfile", ".env", "entrypoint", "docker-entrypoint", "start", "run", "dockerfile", "containerfile")


def candidate(path: str) -> bool:
    """A cheap test on the name, before any byte is read."""
    name = path.rpartition("/")[2].lower()  # display paths use "/" (pathlib costs more than the rest)
    return name.endswith(_SUFFIXES) or name.startswith(_PREFIXES) or "." not in name


@dataclass
class DeployInput:
    facts: list[DeployFacts] = field(default_factory=list)
    env_files: dict[str, DeployFacts] = field(default_factory=dict)
    environment: Environment = field(default_factory=Environment)


def read_deploy_facts(path: str, data: bytes) -> DeployFacts | None:
    """A candidate's facts, or None when it is no deployment file."""
    return read_deploy_bytes(path, data, MAX_BYTES)


def is_deployment_file(path: str, data: bytes) -> bool:
    """Whether read_deploy_facts() finds anything in these bytes: its first test, on the
    name and the first bytes only, so that a candidate that is no deployment file (a test
    fixture in YAML) costs neither a hash of its whole contents nor a cache lookup."""
    return classify_path(path, data[:HEAD_BYTES]) is not None


def load_deploy_files(paths: list[str], read: Callable[[str], bytes | None],
                      facts_of: Callable[[str, bytes], DeployFacts | None] = read_deploy_facts,
                      others: list[str] = (), is_deployment: Callable[[str], bool | None] | None = None) -> DeployInput:
    """Facts of every deployment file among paths; read returns a file's bytes or None,
    facts_of reads them (read_deploy_facts, or the same through a cache); others are the
    project's other files, where a Makefile or README may say how an env file is made.
    is_deployment, asked first, says that a candidate is no deployment file (False), so that
    its bytes are not read (None: it cannot tell)."""
    out = DeployInput()
    by_path: dict[str, DeployFacts] = {}
    for path in paths:
        if not candidate(path) or (is_deployment is not None and is_deployment(path) is False):
            continue
        data = read(path)
        if data is None:
            kind = kind_by_name(path)
            if kind is not None:  # a deployment file qlint cannot open: say so rather than skip it
                by_path[path] = unreadable(path, kind, "the file cannot be read (no permission, or not a regular file)")
            continue
        facts = facts_of(path, data)
        if facts is not None:
            by_path[path] = facts
    _link_images(by_path)
    for facts in by_path.values():
        folder = str(PurePosixPath(facts.path).parent)
        for process in facts.processes:
            for written in process.env_files:
                target = join(folder, written)
                if target not in out.env_files:
                    loaded = by_path.get(target) or _dotenv(target, read) or _template_of(target, read, [*paths, *others])
                    if loaded is not None:
                        out.env_files[target] = loaded
    out.facts = [_interpolated(f, by_path, read, [*paths, *others]) for f in by_path.values()]
    out.environment = build_environment(out.facts, out.env_files)
    return out


def _link_images(by_path: dict[str, DeployFacts]) -> None:
    """Give processes the environment of the image they run in: a compose service built
    from a Dockerfile of the project runs with its ENV (and, when the service names no
    command, runs the Dockerfile's own celery command); an entrypoint script the Dockerfile
    copies in runs with it too."""
    for path, facts in list(by_path.items()):
        if facts.kind == "dockerfile" and facts.entrypoint:
            folder = str(PurePosixPath(path).parent)
            for script in (join(folder, facts.entrypoint), facts.entrypoint):
                target = by_path.get(script)
                if target is not None and target.kind == "shell":
                    by_path[script] = _with_env(target, {v.name: v for v in facts.env})
                    break
    run_by_compose: set[str] = set()
    for path, facts in list(by_path.items()):
        if facts.kind != "compose" or not any(s.dockerfile in by_path for s in facts.services if s.dockerfile):
            continue
        processes = {p.name: p for p in facts.processes}
        for service in facts.services:
            image = by_path.get(service.dockerfile) if service.dockerfile else None
            if image is None or image.kind != "dockerfile":
                continue
            image_env = {v.name: v for v in image.env}
            own = processes.get(service.name)
            if own is not None:
                processes[service.name] = replace(own, env={**image_env, **own.env})
            elif not service.has_command and image.processes:
                command = image.processes[0].command
                processes[service.name] = Process(service.name, command, service.replicas or image.processes[0].replicas,
                                                  service.span, env={**image_env, **service.env},
                                                  env_files=service.env_files, profiles=service.profiles)
                run_by_compose.add(image.path)
        by_path[path] = replace(facts, deployments=by_profiles(path, list(processes.values())))
    for path in run_by_compose:  # its command runs as the compose services that build it, not on its own
        by_path[path] = replace(by_path[path], deployments=[])


def image_files(facts: list[DeployFacts], files: Container[str]) -> dict[str, str]:
    """Each file path in the project's images that a Dockerfile copies a file of the repository
    to (COPY, ADD, RUN cp), and that file. The build context is the Dockerfile's folder or the
    repository's root, whichever holds the file; a path two images fill from different files
    is left out (which image runs the code is not known)."""
    found: dict[str, set[str]] = {}
    for item in facts:
        if item.kind != "dockerfile":
            continue
        folder = str(PurePosixPath(item.path).parent)
        for src, dest in item.copies:
            if not src or dest.endswith("/"):
                continue
            for candidate_path in (join(folder, src), src):
                if candidate_path in files:
                    found.setdefault(dest, set()).add(candidate_path)
                    break
    return {dest: next(iter(sources)) for dest, sources in found.items() if len(sources) == 1}


def _with_env(facts: DeployFacts, env: dict[str, EnvVar]) -> DeployFacts:
    """facts whose processes also see env (their own variables win)."""
    deployments = [replace(d, processes=tuple(replace(p, env={**env, **p.env}) for p in d.processes))
                   for d in facts.deployments]
    return replace(facts, deployments=deployments)


_TEMPLATE_ENDINGS = (".example", ".sample", ".template", ".dist", "-dist", ".tmpl", ".default", ".defaults",
                     "-example", "_example", "-sample", ".local.example")
_COPY_TO = re.compile(r"\bcp\s+(?:-\w+\s+)*([^\s;&|]+)\s+([^\s;&|]+)")


def may_make_env_files(path: str) -> bool:
    """Whether the file may say how an env file is made (a Makefile or README: _template_of)."""
    base = path.rpartition("/")[2].lower()
    return base in ("makefile", "justfile") or base.startswith(("readme", "install", "setup"))


def _template_of(path: str, read: Callable[[str], bytes | None], paths: list[str]) -> DeployFacts | None:
    """A committed template of an env file that is not committed (it is made from the
    template when the project is set up): `.env.example` beside a missing `.env`, or the file
    a Makefile or README copies to it (`cp .env.dev .env`). Its values are what a
    deployment made that way runs with."""
    folder, _, name = path.rpartition("/")
    names = [name + ending for ending in _TEMPLATE_ENDINGS]
    if name.startswith("."):
        names += [name[1:] + ending for ending in _TEMPLATE_ENDINGS] + [f"{w}{name}" for w in ("example", "sample", "template")]
    for candidate_name in names:
        found = _dotenv(join(folder, candidate_name), read)
        if found is not None and found.env:
            return found
    for setup in paths:
        if not may_make_env_files(setup):
            continue
        data = read(setup)
        text = data.decode("utf-8", "replace") if data else ""
        here = setup.rpartition("/")[0]
        for source, target in _COPY_TO.findall(text):
            if join(here, target) == path:
                found = _dotenv(join(here, source), read)
                if found is not None and found.env:
                    return found
    return None


def _dotenv(path: str, read: Callable[[str], bytes | None]) -> DeployFacts | None:
    data = read(path)
    if data is None:
        return None
    try:
        return read_dotenv(path, decode_text(data))
    except SourceError:
        return None


def _interpolated(facts: DeployFacts, by_path: dict[str, DeployFacts], read: Callable[[str], bytes | None],
                  paths: list[str]) -> DeployFacts:
    """Compose fills ${VAR:-default} in its file from the .env beside it (or its template)."""
    if facts.kind != "compose":
        return facts
    dotenv = join(str(PurePosixPath(facts.path).parent), ".env")
    beside = by_path.get(dotenv) or _template_of(dotenv, read, paths)
    if beside is None or not beside.env:
        return facts
    env = {var.name: var for var in beside.env}
    deployments = [
        Deployment(d.identity, d.kind, tuple(replace(p, command=rebind(p.command, env)) for p in d.processes), d.profiles)
        for d in facts.deployments
    ]
    return replace(facts, deployments=deployments)


def python_started(paths: list[str], data_of: Callable[[str], bytes | None], root: str) -> list[DeployFacts]:
    """The celery processes project code starts itself, spelled as argument lists
    (sources/deploy/python_argv.py), outside test folders."""
    found = []
    for path in paths:
        data = data_of(path)
        if data is not None and may_start_celery(data) and not is_test_path(path, root):
            facts = read_python_argv(path, data)
            if facts is not None:
                found.append(facts)
    return found
