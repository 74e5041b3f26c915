"""Reading the project's deployment files for analyse(): which files, their facts,
the env files they name, and compose's own ``.env`` interpolation."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import Callable

from qlint.resolve.environment import Environment, build_environment, join
from qlint.sources.deploy import read_deploy_bytes, rebind
from qlint.sources.deploy.discover import HEAD_BYTES, classify_path
from qlint.sources.deploy.dotenv import read_dotenv
from qlint.sources.deploy.facts import DeployFacts, Deployment
from qlint.sources.read import SourceError, decode_text

MAX_BYTES = 2 * 1024 * 1024
_SUFFIXES = (".yml", ".yaml", ".toml", ".conf", ".ini", ".service", ".sh", ".env", ".bash")
_PREFIXES = ("procfile", ".env", "entrypoint", "docker-entrypoint", "start", "run")


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
                      facts_of: Callable[[str, bytes], DeployFacts | None] = read_deploy_facts) -> DeployInput:
    """Facts of every deployment file among paths; read returns a file's bytes or None,
    facts_of reads them (read_deploy_facts, or the same through a cache)."""
    out = DeployInput()
    by_path: dict[str, DeployFacts] = {}
    for path in paths:
        if not candidate(path):
            continue
        data = read(path)
        if data is None:
            continue
        facts = facts_of(path, data)
        if facts is not None:
            by_path[path] = facts
    for facts in by_path.values():
        folder = str(PurePosixPath(facts.path).parent)
        for process in facts.processes:
            for written in process.env_files:
                target = join(folder, written)
                if target not in out.env_files:
                    loaded = by_path.get(target) or _dotenv(target, read)
                    if loaded is not None:
                        out.env_files[target] = loaded
    out.facts = [_interpolated(f, by_path) for f in by_path.values()]
    out.environment = build_environment(out.facts, out.env_files)
    return out


def _dotenv(path: str, read: Callable[[str], bytes | None]) -> DeployFacts | None:
    data = read(path)
    if data is None:
        return None
    try:
        return read_dotenv(path, decode_text(data))
    except SourceError:
        return None


def _interpolated(facts: DeployFacts, by_path: dict[str, DeployFacts]) -> DeployFacts:
    """Compose fills ${VAR:-default} in its file from the .env beside it."""
    if facts.kind != "compose":
        return facts
    beside = by_path.get(join(str(PurePosixPath(facts.path).parent), ".env"))
    if beside is None or not beside.env:
        return facts
    env = {var.name: var for var in beside.env}
    deployments = [
        Deployment(d.identity, d.kind, tuple(replace(p, command=rebind(p.command, env)) for p in d.processes), d.profiles)
        for d in facts.deployments
    ]
    return replace(facts, deployments=deployments)
