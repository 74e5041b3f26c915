"""Kubernetes manifests (also Helm-rendered): celery containers, their env and replicas.

Workloads: Deployment, StatefulSet, ReplicaSet, DaemonSet, Job, CronJob. A container
runs ``command`` + ``args`` without a shell: ``${VAR}`` reaches celery unexpanded,
while Kubernetes' own ``$(VAR)`` references to the container's ``env`` are expanded
(``$$`` escapes a ``$``; a reference to a variable not in ``env`` stays as written).
HorizontalPodAutoscalers and KEDA ScaledObjects are linked to the workload they scale.
"""
from __future__ import annotations

import re
from dataclasses import replace

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

from qlint.model import Value
from qlint.sources.deploy import yaml_nodes as yn
from qlint.sources.deploy.command_line import commands_in_words
from qlint.sources.deploy.facts import DeployFacts, Deployment, EnvVar, Process
from qlint.sources.deploy.located import Located
from qlint.sources.deploy.shell import Word

_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")

_POD_SPEC_PATHS = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Pod": ("spec",),
}
_SCALERS = {"HorizontalPodAutoscaler": "maxReplicas", "ScaledObject": "maxReplicaCount"}


def read_kubernetes(path: str, text: str) -> DeployFacts:
    notes: list[str] = []
    loaded = yn.load(path, text, notes)
    if loaded is None:
        return DeployFacts(path, "kubernetes", notes=notes, template=True)
    processes = _processes(loaded)
    deployments = [Deployment(path, "kubernetes", tuple(processes))] if processes else []
    return DeployFacts(path, "kubernetes", deployments=deployments, notes=notes)


def _processes(loaded: yn.YamlFile) -> list[Process]:
    budget = loaded.budget
    processes: list[tuple[str, Process]] = []
    scalers: dict[tuple[str, str], Value] = {}
    for document in _manifests(loaded):
        kind = yn.scalar(yn.get(document, "kind", budget)) or ""
        name = yn.scalar(yn.get(yn.get(document, "metadata", budget), "name", budget)) or kind
        if kind in _SCALERS:
            spec = yn.get(document, "spec", budget)
            target = yn.get(spec, "scaleTargetRef", budget)
            target_kind = yn.scalar(yn.get(target, "kind", budget)) or "Deployment"
            target_name = yn.scalar(yn.get(target, "name", budget))
            maximum = yn.get(spec, _SCALERS[kind], budget)
            if target_name and isinstance(maximum, ScalarNode):
                scalers[(target_kind, target_name)] = Value(
                    "known", yn.plain(maximum, budget), loaded.located(maximum).span(0, len(maximum.value)))
        elif kind in _POD_SPEC_PATHS:
            for process in _workload(loaded, document, kind, name):
                processes.append((kind, process))
    linked = []
    for kind, process in processes:
        workload = process.name.split("/", 1)[0]
        maximum = scalers.get((kind, workload))
        linked.append(replace(process, autoscaled=True, autoscaled_max=maximum) if maximum else process)
    return linked


def _manifests(loaded: yn.YamlFile) -> list[Node]:
    """Every manifest, items of a ``kind: List`` included."""
    out: list[Node] = []
    for document in loaded.documents:
        if yn.scalar(yn.get(document, "kind", loaded.budget)) == "List":
            out.extend(yn.sequence(yn.get(document, "items", loaded.budget), loaded.budget))
        else:
            out.append(document)
    return out


def _workload(loaded: yn.YamlFile, document: Node, kind: str, name: str) -> list[Process]:
    budget = loaded.budget
    pod: Node | None = document
    for key in _POD_SPEC_PATHS[kind]:
        pod = yn.get(pod, key, budget)
    replicas = _replicas(loaded, document, kind)
    processes = []
    for container in yn.sequence(yn.get(pod, "containers", budget), budget):
        env = _environment(loaded, yn.get(container, "env", budget))
        command = yn.get(container, "command", budget)
        args = yn.get(container, "args", budget)
        words = _items(loaded, command, env) + _items(loaded, args, env)
        found = commands_in_words(words, env, process_env=env)
        if not found:
            continue
        container_name = yn.scalar(yn.get(container, "name", budget)) or "container"
        name_node = yn.get(container, "name", budget)
        span = (loaded.located(name_node).span(0, len(container_name)) if isinstance(name_node, ScalarNode)
                else found[0].span)
        processes.append(Process(f"{name}/{container_name}", found[0], replicas, span, env=env))
    return processes


def _items(loaded: yn.YamlFile, node: Node | None, env: dict[str, EnvVar]) -> list[Word]:
    """List items as words. No shell runs them, so a ``$`` is literal, except in the
    ``$(VAR)`` references that Kubernetes expands from the container's env: those become
    ``${VAR}``, expanded from env like a variable (a secret's value stays unknown)."""
    words = []
    for item in yn.sequence(node, loaded.budget):
        if isinstance(item, ScalarNode):
            words.append(_kubernetes_references(loaded.located(item), env))
    return words


def _kubernetes_references(located: Located, env: dict[str, EnvVar]) -> Word:
    text, keep, literal, out = located.text, [], set(), []
    k = 0
    while k < len(text):
        if text.startswith("$$", k):  # the escape: one literal $
            literal.add(len(out))
            out.append("$")
            keep.append(k)
            k += 2
            continue
        match = _REFERENCE.match(text, k) if text[k] == "$" else None
        if match and match.group(1) in env:
            rewritten = "${" + match.group(1) + "}"  # as long as $(NAME): positions stay
            out.extend(rewritten)
            keep.extend(range(k, match.end()))
            k = match.end()
            continue
        if text[k] == "$":
            literal.add(len(out))
        out.append(text[k])
        keep.append(k)
        k += 1
    return Word(Located(located.path, "".join(out), tuple(located.positions[i] for i in keep)), frozenset(literal))


def _replicas(loaded: yn.YamlFile, document: Node, kind: str) -> Value:
    if kind == "DaemonSet":
        return Value("unknown", None, reason="a DaemonSet runs one pod per node")
    node = yn.get(yn.get(document, "spec", loaded.budget), "replicas", loaded.budget)
    if isinstance(node, ScalarNode):
        value = yn.plain(node, loaded.budget)
        span = loaded.located(node).span(0, max(1, len(node.value)))
        if isinstance(value, int) and not isinstance(value, bool):
            return Value("known", value, span)
        return Value("unknown", None, span, reason=f"replicas {node.value!r} is not a number")
    return Value("default", 1, reason="Kubernetes runs one replica when replicas is not set")


def _environment(loaded: yn.YamlFile, node: Node | None) -> dict[str, EnvVar]:
    env: dict[str, EnvVar] = {}
    budget = loaded.budget
    for item in yn.sequence(node, budget):
        if not isinstance(item, MappingNode):
            continue
        name_node = yn.get(item, "name", budget)
        name = yn.scalar(name_node)
        if not name or not isinstance(name_node, ScalarNode):
            continue
        span = loaded.located(name_node).span(0, len(name))
        value_node = yn.get(item, "value", budget)
        source = yn.get(item, "valueFrom", budget)
        if isinstance(value_node, ScalarNode):
            text = yn.scalar(value_node) or ""
            where = loaded.located(value_node).span(0, len(text)) if text else span
            env[name] = EnvVar(name, Value("known", text, where), span)
        elif source is not None:
            env[name] = EnvVar(name, Value("unknown", None, span, env=name, reason=_value_from(loaded, source)), span)
        else:
            env[name] = EnvVar(name, Value("known", "", span), span)
    return env


def _value_from(loaded: yn.YamlFile, source: Node) -> str:
    for ref, label in (("secretKeyRef", "secret"), ("configMapKeyRef", "config map")):
        target = yn.get(source, ref, loaded.budget)
        if target is not None:
            name = yn.scalar(yn.get(target, "name", loaded.budget)) or "?"
            key = yn.scalar(yn.get(target, "key", loaded.budget)) or "?"
            return f"read from {label} {name}, key {key}"
    return "set by valueFrom at run time"
