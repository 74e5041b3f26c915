"""Shell entrypoint scripts: ``exec celery -A proj worker ...`` and the variables set before.

Assignments (``VAR=value``, ``export VAR=value``, ``: "${VAR:=default}"``) are
followed in order, so a command sees the values set above it. Each celery command
of a script is its own Deployment: scripts usually choose one with ``case`` or
``if`` (one container runs the worker, another the beat), so they are alternatives.
"""
from __future__ import annotations

import re

from qlint.model import Value
from qlint.sources.deploy.command_line import commands_in_words
from qlint.sources.deploy.facts import DeployFacts, Deployment, EnvVar, Process
from qlint.sources.deploy.located import Located
from qlint.sources.deploy.shell import Word, expand, expansion_value, is_assignment, split_commands

_DEFAULT_ASSIGN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?=([^}$]*)\}")


def read_shell(path: str, text: str) -> DeployFacts:
    env: dict[str, EnvVar] = {}
    deployments = []
    for words in split_commands(Located.at(path, text, 1, 1)):
        if _assign(words, env):
            continue
        for found in commands_in_words(words, env):
            process = Process(found.kind, found, Value("default", 1, reason="one process per run of the script"),
                              found.span, env=dict(env))
            deployments.append(Deployment(f"{path}:{found.span.line}", "shell", (process,)))
    return DeployFacts(path, "shell", deployments=deployments, env=list(env.values()))


def _assign(words: list[Word], env: dict[str, EnvVar]) -> bool:
    """Record the assignments of a command that only assigns; False for other commands."""
    first = words[0].text
    if first in (":", "true") and len(words) > 1:
        for word in words[1:]:
            for match in _DEFAULT_ASSIGN.finditer(word.text):
                name = match.group(1)
                if name not in env:
                    span = word.span_of(match.start(), match.end())
                    env[name] = EnvVar(name, Value("env-default", match.group(2), span, env=name), span)
        return True
    body = words[1:] if first in ("export", "readonly", "declare", "local") else words
    if not body or not all(is_assignment(w) or w.text.startswith("-") for w in body):
        return False
    for word in body:
        if not is_assignment(word):
            continue
        name = word.text.split("=", 1)[0]
        expanded = expand(word.drop(len(name) + 1), env)
        env[name] = EnvVar(name, expansion_value(expanded, expanded.text, word.span), word.span)
    return True
