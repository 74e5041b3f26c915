"""systemd units: ``ExecStart=`` with ``Environment=`` and ``EnvironmentFile=``.

systemd splits ExecStart itself and expands ``$VAR``/``${VAR}`` from the unit's
environment; variables from an EnvironmentFile are not known from the unit alone
(the file is recorded for the resolver).
"""
from __future__ import annotations

from qlint.model import Value
from qlint.sources.deploy.command_line import commands_in_words
from qlint.sources.deploy.facts import DeployFacts, Deployment, EnvVar, Process
from qlint.sources.deploy.ini_lines import entries
from qlint.sources.deploy.shell import split_commands

_PREFIXES = "-@:+!"


def read_systemd(path: str, text: str) -> DeployFacts:
    env: dict[str, EnvVar] = {}
    env_files: list[str] = []
    starts = []
    for entry in entries(path, text, backslash_continues=True):
        if entry.section != "Service":
            continue
        if entry.key == "Environment":
            for simple in split_commands(entry.value):
                for word in simple:
                    name, eq, value = word.text.partition("=")
                    if eq:
                        where = word.span_of(len(name) + 1, len(word.text)) if value else word.span
                        env[name] = EnvVar(name, Value("known", value, where), word.span)
        elif entry.key == "EnvironmentFile":
            env_files.append(entry.value.text.strip().lstrip("-"))
        elif entry.key == "ExecStart":
            starts.append(entry)
    processes = []
    name = path.rsplit("/", 1)[-1]
    for entry in starts:
        value = entry.value
        skip = len(value.text) - len(value.text.lstrip(_PREFIXES + " "))
        words = [word for simple in split_commands(value[skip:]) for word in simple]
        found = commands_in_words(words, env)
        if found:
            replicas = Value("default", 1, reason="one service instance")
            processes.append(Process(name, found[0], replicas, entry.span, env=dict(env),
                                     env_files=tuple(env_files)))
    deployments = [Deployment(path, "systemd", tuple(processes))] if processes else []
    return DeployFacts(path, "systemd", deployments=deployments, env=list(env.values()))
