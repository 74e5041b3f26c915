"""Procfiles (Heroku, honcho, foreman): ``name: command`` lines, run together by bash."""
from __future__ import annotations

import re

from qlint.model import Value
from qlint.sources.deploy.command_line import commands_in_shell
from qlint.sources.deploy.facts import DeployFacts, Deployment, Process
from qlint.sources.deploy.located import Located

_LINE = re.compile(r"^([A-Za-z0-9_-]+)[ \t]*:[ \t]*(.*)$")


def read_procfile(path: str, text: str) -> DeployFacts:
    processes = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _LINE.match(line)
        if not match:
            continue
        name = match.group(1)
        command = Located.at(path, match.group(2), number, match.start(2) + 1)
        for found in commands_in_shell(command, {}):
            processes.append(Process(
                name=name,
                command=found,
                replicas=Value("default", 1, reason="the dyno count is set outside the Procfile"),
                span=Located.at(path, name, number, 1).span(0, len(name)),
            ))
    deployments = [Deployment(path, "procfile", tuple(processes))] if processes else []
    return DeployFacts(path, "procfile", deployments=deployments)
