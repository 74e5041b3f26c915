"""docker-compose files: the celery command of each service, its environment and replicas.

Compose interpolates ``${VAR:-default}`` in the file from the shell and the project's
``.env`` file, not from a service's ``environment:``; those are not known from this
file alone, so only the ``:-default`` is used (status env-default, env names the
variable; ``command_line.rebind`` expands them again once the resolver has read ``.env``). ``$$`` is compose's escape
for a ``$`` that reaches the container: a shell there (``sh -c``) expands it from the
service's environment.
"""
from __future__ import annotations

import posixpath

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from qlint.model import Value
from qlint.sources.deploy import yaml_nodes as yn
from qlint.sources.deploy.command_line import commands_in_words
from qlint.sources.deploy.facts import CeleryCommand, DeployFacts, Deployment, EnvVar, Process, Service
from qlint.sources.deploy.located import Located
from qlint.sources.deploy.shell import Word, split_commands

_MAX_EXTENDS = 10


def read_compose(path: str, text: str) -> DeployFacts:
    notes: list[str] = []
    loaded = yn.load(path, text, notes)
    if loaded is None or not loaded.documents:
        return DeployFacts(path, "compose", notes=notes, template=loaded is None)
    processes, services = _processes(loaded, notes)
    return DeployFacts(path, "compose", deployments=by_profiles(path, processes), notes=notes,
                       services=tuple(services))


def _processes(loaded: yn.YamlFile, notes: list[str]) -> tuple[list[Process], list[Service]]:
    budget = loaded.budget
    services = yn.get(loaded.documents[0], "services", budget)
    processes = []
    found: list[Service] = []
    for name, key, _ in yn.items(services, budget):
        view = _ServiceView(loaded, services, name)
        env = _environment(loaded, view.get("environment"))
        command = _command(loaded, view, env)
        service = Service(
            name=name,
            span=loaded.located(key).span(0, len(name)),
            image=yn.scalar(view.get("image")) if isinstance(view.get("image"), ScalarNode) else None,
            dockerfile=_dockerfile(loaded, view.get("build")),
            has_command=view.get("command") is not None or view.get("entrypoint") is not None,
            env=env,
            env_files=_env_files(loaded, view.get("env_file")),
            replicas=_replicas(loaded, view),
            profiles=tuple(_strings(loaded, view.get("profiles"))),
        )
        found.append(service)
        if command is None:
            continue
        processes.append(Process(
            name=name,
            command=command,
            replicas=service.replicas,
            span=service.span,
            env=env,
            env_files=service.env_files,
            profiles=service.profiles,
        ))
    for name, _, service in yn.items(services, budget):
        extends = yn.get(service, "extends", budget)
        if isinstance(extends, MappingNode) and yn.get(extends, "file", budget) is not None:
            notes.append(f"{loaded.path}: service {name} extends a service of another file; "
                         "only its own keys were read")
    return processes, found


def _dockerfile(loaded: yn.YamlFile, node: Node | None) -> str | None:
    """The Dockerfile a service is built from, as a display path: `build: ./api`, or
    `build: {context: ., dockerfile: docker/Dockerfile.prod}`."""
    if isinstance(node, ScalarNode):
        context, dockerfile = yn.scalar(node), None
    elif isinstance(node, MappingNode):
        context = yn.scalar(yn.get(node, "context", loaded.budget)) or "."
        dockerfile = yn.scalar(yn.get(node, "dockerfile", loaded.budget))
    else:
        return None
    if not context or "://" in context or (dockerfile and dockerfile.startswith("/")):
        return None
    folder = posixpath.dirname(loaded.path)
    return posixpath.normpath(posixpath.join(folder, context, dockerfile or "Dockerfile"))


class _ServiceView:
    """A service's keys, falling back to the services it extends within the same file."""

    def __init__(self, loaded: yn.YamlFile, services: Node | None, name: str) -> None:
        self.chain: list[Node] = []
        budget = loaded.budget
        current: str | None = name
        while current is not None and len(self.chain) < _MAX_EXTENDS:
            service = yn.get(services, current, budget)
            if service is None or any(service is seen for seen in self.chain):
                break
            self.chain.append(service)
            extends = yn.get(service, "extends", budget)
            if isinstance(extends, ScalarNode):
                current = yn.scalar(extends)
            elif yn.get(extends, "file", budget) is None:
                current = yn.scalar(yn.get(extends, "service", budget))
            else:
                current = None
        self.budget = budget

    def get(self, key: str) -> Node | None:
        for service in self.chain:
            value = yn.get(service, key, self.budget)
            if value is not None:
                return value
        return None


def _words(loaded: yn.YamlFile, node: Node | None) -> list[Word] | None:
    """A command/entrypoint as words: a list is taken item by item, a string is split."""
    if isinstance(node, SequenceNode):
        return [_compose_word(loaded.located(item)) for item in yn.sequence(node, loaded.budget)
                if isinstance(item, ScalarNode)]
    if isinstance(node, ScalarNode) and yn.scalar(node):
        words: list[Word] = []
        for command in split_commands(loaded.located(node)):
            words.extend(_compose_word(word.value, word.literal) for word in command)
        return words
    return None


def _compose_word(value: Located, literal: frozenset[int] = frozenset()) -> Word:
    """Apply compose's ``$$`` escape: one ``$`` is kept, and it is not interpolated."""
    if "$$" not in value.text:
        return Word(value, literal)
    keep: list[int] = []
    escaped: set[int] = set()
    k = 0
    while k < len(value.text):
        if value.text.startswith("$$", k):
            escaped.add(len(keep))
            keep.append(k + 1)
            k += 2
        else:
            keep.append(k)
            k += 1
    located = Located(value.path, "".join(value.text[k] for k in keep),
                      tuple(value.positions[k] for k in keep))
    return Word(located, frozenset(escaped))


def _command(loaded: yn.YamlFile, view: _ServiceView, env: dict[str, EnvVar]) -> CeleryCommand | None:
    entrypoint = _words(loaded, view.get("entrypoint"))
    command = _words(loaded, view.get("command"))
    # The entrypoint runs with the command as its arguments; when the entrypoint is
    # a script ending in exec "$@", the command is what matters.
    candidates = [(entrypoint or []) + (command or [])]
    if entrypoint and command:
        candidates.append(command)
    for words in candidates:
        found = commands_in_words(words, {}, process_env=env)
        if found:
            return found[0]
    return None


def _environment(loaded: yn.YamlFile, node: Node | None) -> dict[str, EnvVar]:
    env: dict[str, EnvVar] = {}
    budget = loaded.budget
    if isinstance(node, MappingNode):
        for name, key, value in yn.items(node, budget):
            span = loaded.located(key).span(0, len(name))
            text = yn.scalar(value)
            if text is None:
                env[name] = EnvVar(name, Value("unknown", None, span, env=name,
                                               reason="taken from the shell running docker compose"), span)
            else:
                where = loaded.located(value).span(0, len(text)) if text else span
                env[name] = EnvVar(name, Value("known", text, where), span)
    for item in yn.sequence(node, budget):
        text = yn.scalar(item)
        if not text:
            continue
        located = loaded.located(item)
        span = located.span(0, len(text))
        name, eq, value = text.partition("=")
        if eq:
            where = located.span(len(name) + 1, len(text)) if value else span
            env[name] = EnvVar(name, Value("known", value, where), span)
        else:
            env[name] = EnvVar(name, Value("unknown", None, span, env=name,
                                           reason="taken from the shell running docker compose"), span)
    return env


def _env_files(loaded: yn.YamlFile, node: Node | None) -> tuple[str, ...]:
    if isinstance(node, ScalarNode):
        return tuple(_strings(loaded, node))
    files = []
    for item in yn.sequence(node, loaded.budget):
        target = yn.get(item, "path", loaded.budget) if isinstance(item, MappingNode) else item
        text = yn.scalar(target)
        if text:
            files.append(text)
    return tuple(files)


def _strings(loaded: yn.YamlFile, node: Node | None) -> list[str]:
    if isinstance(node, ScalarNode):
        text = yn.scalar(node)
        return [text] if text else []
    return [t for t in (yn.scalar(item) for item in yn.sequence(node, loaded.budget)) if t]


def _replicas(loaded: yn.YamlFile, view: _ServiceView) -> Value:
    budget = loaded.budget
    for node in (yn.get(view.get("deploy"), "replicas", budget), view.get("scale")):
        if isinstance(node, ScalarNode):
            value = yn.plain(node, budget)
            span = loaded.located(node).span(0, max(1, len(node.value)))
            if isinstance(value, int) and not isinstance(value, bool):
                return Value("known", value, span)
            return Value("unknown", None, span, reason=f"replicas {node.value!r} is not a number")
    return Value("default", 1, reason="compose starts one container per service by default")


def by_profiles(path: str, processes: list[Process]) -> list[Deployment]:
    """One deployment without profiles, and one per profile that a celery service uses."""
    base = tuple(p for p in processes if not p.profiles)
    profiles = sorted({name for p in processes for name in p.profiles})
    deployments = [Deployment(path, "compose", base)] if base or not profiles else []
    for profile in profiles:
        chosen = tuple(p for p in processes if not p.profiles or profile in p.profiles)
        deployments.append(Deployment(path, "compose", chosen, profiles=(profile,)))
    return deployments
