"""Makefiles: each target's recipe lines are shell command lines (``prodceleryworkers: $(CELERY)``).

Make expands ``$(VAR)``/``${VAR}`` in a recipe when it runs it, after the whole Makefile is read,
so the last assignment of a variable counts (``=``, ``:=``, ``::=``, ``?=``, ``+=``, ``define``,
with ``export``/``override``); a target's own assignments (``worker: CONCURRENCY := 3``) come on
top for its recipe. ``$$`` is the shell's ``$``. A variable the Makefile does not set comes from the
environment or from ``make VAR=...``: it is left to the shell as ``${VAR}``, unresolved, and so are
make's functions (``$(shell ...)``). Conditionals (``ifeq``...) are not evaluated: their assignments
are read in order. Each target is its own Deployment, as each command of a shell script is: one
runs the worker, another the tests.
"""
from __future__ import annotations

import re

from qlint.model import Value
from qlint.sources.deploy.command_line import commands_in_shell
from qlint.sources.deploy.facts import DeployFacts, Deployment, EnvVar, Process
from qlint.sources.deploy.located import Located

_ASSIGNMENT = re.compile(r"^((?:(?:export|override|private)\s+)*)([A-Za-z0-9_.-]+)\s*(:::=|::=|:=|\?=|\+=|!=|=)\s*")
_RULE = re.compile(r"^([^:=#\t][^:=#]*?)\s*::?(?!=)\s*")
_DEFINE = re.compile(r"^((?:(?:export|override)\s+)*)define\s+([A-Za-z0-9_.-]+)\s*(?:=|:=|::=)?\s*$")
_DIRECTIVE = re.compile(r"^\s*(ifeq|ifneq|ifdef|ifndef|else|endif|include|-include|sinclude|vpath|unexport)\b")
_NAME = re.compile(r"[A-Za-z0-9_.-]+$")
# Expansion depth and size past which a value is left unresolved (`A = $(B)$(B)` doubles at each level).
_MAX_DEPTH = 16
_MAX_CHARS = 100_000


class _Unresolved(Exception):
    pass


def read_makefile(path: str, text: str) -> DeployFacts:
    variables: dict[str, Located] = {}
    exported: set[str] = set()
    targets: dict[str, tuple[dict[str, Located], list[Located]]] = {}
    current: list[str] = []  # the targets whose recipe the following tab-indented lines are
    lines = _logical_lines(path, text)
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        raw = line.text
        if raw.startswith("\t"):
            if current:
                recipe = _recipe(line[1:])
                if recipe is not None:
                    for target in current:
                        targets[target][1].append(recipe)
            continue
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        define = _DEFINE.match(raw)
        if define:
            body: list[str] = []
            first = lines[i] if i < len(lines) else None
            while i < len(lines) and lines[i].text.strip() != "endef":
                body.append(lines[i].text)
                i += 1
            i += 1
            value = "\n".join(body)
            start = first.positions[0] if first is not None and first.positions else (1, 1)
            variables[define.group(2)] = Located.at(path, value, start[0], start[1])
            if "export" in define.group(1):
                exported.add(define.group(2))
            current = []
            continue
        if _DIRECTIVE.match(raw):
            continue
        assignment = _ASSIGNMENT.match(raw)
        if assignment:
            _assign(variables, assignment, line, variables)
            if "export" in assignment.group(1):
                exported.add(assignment.group(2))
            current = []
            continue
        if stripped.startswith("export ") and all(_NAME.match(n) for n in stripped.split()[1:]):
            exported.update(stripped.split()[1:])
            continue
        rule = _RULE.match(raw)
        if rule is None:
            current = []
            continue
        names = [n for n in rule.group(1).split() if not n.startswith(".")]
        rest = line[rule.end():]
        own = _ASSIGNMENT.match(rest.text)
        if own:
            for name in names:
                target_vars = targets.setdefault(name, ({}, []))[0]
                _assign(target_vars, own, rest, {**variables, **target_vars})
            current = []
            continue
        current = names
        for name in names:
            targets.setdefault(name, ({}, []))
        semicolon = rest.text.find(";")
        if semicolon >= 0:
            recipe = _recipe(rest[semicolon + 1:])
            if recipe is not None:
                for name in names:
                    targets[name][1].append(recipe)
    return _facts(path, variables, exported, targets)


def _facts(path: str, variables: dict[str, Located], exported: set[str],
           targets: dict[str, tuple[dict[str, Located], list[Located]]]) -> DeployFacts:
    deployments = []
    for target, (own, recipes) in targets.items():
        scope = {**variables, **own}
        env = {name: _env_var(name, scope[name], scope) for name in sorted(exported) if name in scope}
        processes = []
        for recipe in recipes:
            try:
                command = _expand(recipe, scope, target, 0)
            except _Unresolved:
                continue
            for found in commands_in_shell(command, env):
                processes.append(Process(
                    target, found, Value("default", 1, reason="one process per run of the target"), found.span,
                    env=dict(env)))
        if processes:
            deployments.append(Deployment(f"{path}:{target}", "makefile", tuple(processes)))  # type: ignore[arg-type]
    return DeployFacts(path, "makefile", deployments=deployments)  # type: ignore[arg-type]


def _logical_lines(path: str, text: str) -> list[Located]:
    """The lines of text, each joined with the lines its trailing backslashes continue on
    (the backslash and line break kept: a recipe passes them to the shell)."""
    whole = Located.at(path, text, 1, 1)
    out: list[Located] = []
    start = 0
    for match in re.finditer(r"(?<!\\)\n|(?<=\\\\)\n", text):
        out.append(whole[start:match.start()])
        start = match.end()
    if start < len(text):
        out.append(whole[start:])
    return out


def _recipe(line: Located) -> Located | None:
    """A recipe line without make's prefixes (@ silent, - ignore errors, + always run)."""
    k = 0
    while k < len(line.text) and line.text[k] in "@-+ \t":
        k += 1
    rest = line[k:]
    return rest if rest.text.strip() and not rest.text.lstrip().startswith("#") else None


def _assign(into: dict[str, Located], match: re.Match[str], line: Located, scope: dict[str, Located]) -> None:
    name, operator = match.group(2), match.group(3)
    value = line[match.end():]
    value = _strip_comment(value)
    # A continued assignment's line breaks are one space for make.
    value = Located(value.path, re.sub(r"\\\n[ \t]*", lambda m: " " * len(m.group(0)), value.text), value.positions)
    if operator == "?=" and name in into:
        return
    if operator == "!=":
        into[name] = Located(value.path, "$(shell)", (value.positions[:1] or ((1, 1),)) * 8)
        return
    if operator in (":=", "::=", ":::="):
        try:
            value = _expand(value, scope, "", 0)
        except _Unresolved:
            value = Located(value.path, "$(shell)", (value.positions[:1] or ((1, 1),)) * 8)
    if operator == "+=" and name in scope:  # a target's `VAR += x` appends to the global VAR
        before = into.get(name, scope[name])
        value = Located(value.path, before.text + " " + value.text,
                        before.positions + (before.positions[-1:] or value.positions[:1]) + value.positions)
    into[name] = value


def _strip_comment(value: Located) -> Located:
    text = value.text
    k = 0
    while True:
        k = text.find("#", k)
        if k < 0:
            return _rstrip(value)
        if k == 0 or text[k - 1] != "\\":
            return _rstrip(value[:k])
        k += 1


def _rstrip(value: Located) -> Located:
    return value[:len(value.text.rstrip())]


def _env_var(name: str, value: Located, scope: dict[str, Located]) -> EnvVar:
    span = value.span(0, len(value.text)) if value.text else Located.at(value.path, name, 1, 1).span(0, 1)
    try:
        expanded = _expand(value, scope, "", 0).text
    except _Unresolved:
        return EnvVar(name, Value("unknown", None, span, env=name, reason=f"{name} is computed by make"), span)
    if "$" in expanded:
        return EnvVar(name, Value("unknown", None, span, env=name, reason=f"{name} reads the environment"), span)
    return EnvVar(name, Value("known", expanded, span), span)


def _expand(source: Located, scope: dict[str, Located], target: str, depth: int) -> Located:
    """source with make's references expanded; each character keeps the place it was written."""
    if depth > _MAX_DEPTH:
        raise _Unresolved
    text, positions = source.text, source.positions
    out_text: list[str] = []
    out_positions: list[tuple[int, int]] = []
    size = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "$" or i + 1 >= len(text):
            out_text.append(ch)
            out_positions.append(positions[i])
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out_text.append("$")
            out_positions.append(positions[i + 1])
            i += 2
            continue
        if nxt in "({":
            close = _closing(text, i + 1)
            inner = text[i + 2:close]
            end = close + 1
        else:
            inner, end = nxt, i + 2
        if _NAME.match(inner) and inner in scope:
            value = _expand(scope[inner], scope, target, depth + 1)
            out_text.append(value.text)
            out_positions.extend(value.positions)
        elif inner == "@" and target:
            out_text.append(target)
            out_positions.extend([positions[i]] * len(target))
        elif _NAME.match(inner):
            # Not set here: the environment or `make VAR=...` sets it, which the shell's
            # ${VAR} stands for (unresolved, as a variable that is not set).
            written = "${" + inner + "}"
            out_text.append(written)
            out_positions.extend([positions[i]] * len(written))
        else:
            # A make function or an automatic variable: the shell reads `$(...)` as unknown.
            written = "$(" + inner.replace(")", "") + ")"
            out_text.append(written)
            out_positions.extend([positions[i]] * len(written))
        size += len(out_text[-1])
        if size > _MAX_CHARS:
            raise _Unresolved
        i = end
    return Located(source.path, "".join(out_text), tuple(out_positions))


def _closing(text: str, open_index: int) -> int:
    opener = text[open_index]
    closer = ")" if opener == "(" else "}"
    depth = 0
    for k in range(open_index, len(text)):
        if text[k] == opener:
            depth += 1
        elif text[k] == closer:
            depth -= 1
            if depth == 0:
                return k
    return len(text) - 1
