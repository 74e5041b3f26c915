"""supervisord configuration: ``[program:x]`` sections with ``command=`` and ``numprocs=``.

supervisord splits ``command`` itself (no shell) and expands ``%(ENV_X)s`` and
``%(process_num)d`` style references; those are left as written, so options that
use them are unknown.
"""
from __future__ import annotations

import re

from qlint.model import Value
from qlint.sources.deploy.command_line import commands_in_words
from qlint.sources.deploy.facts import DeployFacts, Deployment, EnvVar, Process
from qlint.sources.deploy.ini_lines import Entry, entries
from qlint.sources.deploy.located import Located
from qlint.sources.deploy.shell import split_commands

_INLINE_COMMENT = re.compile(r"\s;")
_ENV_ITEM = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*("(?:[^"\\]|\\.)*"|\'[^\']*\'|[^,]*)\s*(,|$)')


def read_supervisord(path: str, text: str) -> DeployFacts:
    programs: dict[str, dict[str, Entry]] = {}
    for entry in entries(path, text, backslash_continues=False):
        if entry.section.startswith("program:"):
            programs.setdefault(entry.section[len("program:"):].strip(), {})[entry.key] = entry
    processes = []
    for name, keys in programs.items():
        command = keys.get("command")
        if command is None:
            continue
        env = _environment(keys.get("environment"))
        value = _without_comment(command.value)
        words = [word for simple in split_commands(value) for word in simple]
        found = commands_in_words(words, env)
        if not found:
            continue
        processes.append(Process(name, found[0], _numprocs(keys.get("numprocs")), command.span, env=env))
    deployments = [Deployment(path, "supervisord", tuple(processes))] if processes else []
    return DeployFacts(path, "supervisord", deployments=deployments)


def _without_comment(value: Located) -> Located:
    """value without ``;`` comments (each line may end with one, after a blank)."""
    kept: list[int] = []
    start = 0
    for line in value.text.split("\n"):
        match = _INLINE_COMMENT.search(line)
        kept.extend(range(start, start + (match.start() if match else len(line))))
        if start + len(line) < len(value.text):
            kept.append(start + len(line))  # the line break
        start += len(line) + 1
    return Located(value.path, "".join(value.text[k] for k in kept), tuple(value.positions[k] for k in kept))


def _numprocs(entry: Entry | None) -> Value:
    if entry is None:
        return Value("default", 1, reason="supervisord starts one process when numprocs is not set")
    text = _without_comment(entry.value).text.strip()
    span = entry.value.span(0, max(1, len(text)))
    if text.isdigit():
        return Value("known", int(text), span)
    return Value("unknown", None, span, reason=f"numprocs {text!r} is not a number")


def _environment(entry: Entry | None) -> dict[str, EnvVar]:
    """``environment=A="1",B=2`` (values may be quoted; commas separate)."""
    env: dict[str, EnvVar] = {}
    if entry is None:
        return env
    value = _without_comment(entry.value)
    position = 0
    while position < len(value.text):
        match = _ENV_ITEM.match(value.text, position)
        if not match or match.end() == position:
            break
        name, raw = match.group(1), match.group(2).strip()
        start = match.start(2)
        if raw[:1] in "\"'" and len(raw) >= 2:
            raw, start = raw[1:-1], start + 1
        span = value.span(match.start(1), match.end(2))
        where = value.span(start, start + len(raw)) if raw else span
        env[name] = EnvVar(name, Value("known", raw, where), span)
        position = match.end()
    return env
