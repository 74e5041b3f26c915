"""supervisord configuration: ``[program:x]`` sections with ``command=`` and ``numprocs=``.

supervisord splits ``command`` itself (no shell) after expanding ``%(name)s`` references:
``%(program_name)s``, ``%(group_name)s``, ``%(here)s`` and ``%(process_num)d`` are
filled in (the first process's number), while ``%(ENV_X)s`` comes from the environment
supervisord itself was started with, which no file shows: an option that uses one is
unknown, with that reason.
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
_PERCENT = re.compile(r"%%|%\((\w+)\)(-?\d*)([sd])")
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
        value, outside = _expanded(_without_comment(command.value), name, path)
        words = [word for simple in split_commands(value) for word in simple]
        found = commands_in_words(words, {**env, **outside}, process_env=env)
        if not found:
            continue
        processes.append(Process(name, found[0], _numprocs(keys.get("numprocs")), command.span, env=env))
    deployments = [Deployment(path, "supervisord", tuple(processes))] if processes else []
    return DeployFacts(path, "supervisord", deployments=deployments)


def _expanded(value: Located, program: str, path: str) -> tuple[Located, dict[str, EnvVar]]:
    """The command with supervisord's ``%(name)s`` references expanded. ``%(ENV_X)s``
    becomes ``${ENV_X}``, bound to an unknown value that says where it comes from."""
    folder = path.rsplit("/", 1)[0] if "/" in path else "."
    known = {"program_name": program, "group_name": program, "here": folder, "process_num": 0, "numprocs_start": 0}
    text, out, positions = value.text, [], []
    outside: dict[str, EnvVar] = {}
    last = 0
    for match in _PERCENT.finditer(text):
        out.append(text[last:match.start()])
        positions.extend(value.positions[last:match.start()])
        last = match.end()
        at = value.positions[match.start()]
        name, width, kind = match.groups()
        if name is None:  # %%
            out.append("%")
            positions.append(at)
            continue
        if name in known:
            filled = f"%{width}{kind}" % known[name] if kind == "d" or isinstance(known[name], str) else str(known[name])
        else:
            var = name if name.startswith("ENV_") else f"SUPERVISORD_{name.upper()}"
            span = value.span(match.start(), match.end())
            reason = (f"supervisord fills %({name})s from the environment it was started with, which no file shows"
                      if name.startswith("ENV_") else f"supervisord fills %({name})s at run time")
            outside[var] = EnvVar(var, Value("unknown", None, span, env=name.removeprefix("ENV_"), reason=reason), span)
            filled = "${" + var + "}"
        out.append(filled)
        # Placed on the reference: a span over the filled text covers %(...)s as written.
        positions.extend([at] * (len(filled) - 1) + [value.positions[match.end() - 1]] if filled else [])
    out.append(text[last:])
    positions.extend(value.positions[last:])
    return Located(value.path, "".join(out), tuple(positions)), outside


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
