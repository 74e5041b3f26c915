"""Dockerfiles: the environment an image gives its processes, its celery command, and
the files it copies in.

Read per build stage: FROM starts a stage, and one built FROM an earlier stage inherits
that stage's variables and command; the last stage is the image that runs. ENV sets a
variable for every process of the image. An ARG's default fills the instructions after
it (a build may pass another value, so such a value is env-default, like a shell
`${VAR:-default}`). CMD and ENTRYPOINT, in exec (JSON) or shell form, are the container's
command: a celery command there is a process with the image's environment. COPY and ADD
say which file of the build context becomes which path in the image (paths relative to
the context, which compose or the resolver decides), and so does a `RUN cp` of a file
copied in before, so that an entrypoint or a configuration file named by its path in the
image is known as the file of the repository it was copied from.
"""
from __future__ import annotations

import json
import posixpath
import re

from qlint.model import Value
from qlint.sources.deploy.command_line import commands_in_words
from qlint.sources.deploy.facts import DeployFacts, Deployment, EnvVar, Process
from qlint.sources.deploy.located import Located
from qlint.sources.deploy.shell import Word, expand, expansion_value, split_commands
from qlint.sources.dockerfile_syntax import instructions

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*$")
MAX_INSTRUCTIONS = 20_000


class _Stage:
    def __init__(self, name: str | None, parent: "_Stage | None") -> None:
        self.name = name
        self.env: dict[str, EnvVar] = dict(parent.env) if parent else {}
        self.args: dict[str, EnvVar] = {}
        self.cmd: tuple[list[Word], bool] | None = parent.cmd if parent else None  # words, exec form
        self.cmd_inherited = self.cmd is not None
        self.entrypoint: tuple[list[Word], bool] | None = parent.entrypoint if parent else None
        self.workdir = parent.workdir if parent else "/"
        self.copies: list[tuple[str, str]] = list(parent.copies) if parent else []


def read_dockerfile(path: str, text: str) -> DeployFacts:
    notes: list[str] = []
    stages: list[_Stage] = []
    global_args: dict[str, EnvVar] = {}
    stage: _Stage | None = None
    for count, instruction in enumerate(instructions(path, text)):
        if count >= MAX_INSTRUCTIONS:
            notes.append(f"{path}: more than {MAX_INSTRUCTIONS:,} instructions; the rest was not read")
            break
        keyword, args = instruction.keyword, instruction.located()
        if keyword == "FROM":
            words = [w for w in _words(args) if not w.text.startswith("--")]
            base = words[0].text if words else ""
            name = words[2].text if len(words) >= 3 and words[1].text.lower() == "as" else None
            parent = next((s for s in reversed(stages) if s.name and s.name == base), None)
            stage = _Stage(name, parent)
            stages.append(stage)
            continue
        if keyword == "ARG":
            target = stage.args if stage is not None else global_args
            for word in _words(args):
                name, eq, _ = word.text.partition("=")
                if not _NAME.match(name):
                    continue
                if eq:
                    scope = {**global_args, **(stage.args if stage else {}), **(stage.env if stage else {})}
                    expanded = expand(word.drop(len(name) + 1), scope)
                    value = expansion_value(expanded, expanded.text, word.span)
                    if value.status == "known":
                        value = Value("env-default", value.value, value.origin, env=name)
                    target[name] = EnvVar(name, value, word.span)
                elif name in global_args and stage is not None:
                    target[name] = global_args[name]  # ARG NAME in a stage takes the global default
            continue
        if stage is None:
            continue
        scope = {**stage.args, **stage.env}
        if keyword == "ENV":
            for var in _env(args, scope):
                stage.env[var.name] = var
                scope[var.name] = var
        elif keyword in ("CMD", "ENTRYPOINT"):
            command = _command(args)
            if keyword == "CMD":
                stage.cmd, stage.cmd_inherited = command, False
            else:
                stage.entrypoint = command
                if stage.cmd_inherited:  # an ENTRYPOINT drops the CMD of the base image, not its own
                    stage.cmd, stage.cmd_inherited = None, False
        elif keyword == "WORKDIR":
            expanded = expand(Word(args), scope).text
            if expanded:
                stage.workdir = posixpath.normpath(posixpath.join(stage.workdir, expanded.strip()))
        elif keyword in ("COPY", "ADD"):
            stage.copies.extend(_copies(args, stage.workdir, scope))
        elif keyword == "RUN":
            stage.copies.extend(_copied_by_cp(args, stage, scope))
    if not stages:
        return DeployFacts(path, "dockerfile", notes=notes)
    final = stages[-1]
    env = dict(final.env)
    deployments = []
    for words in _command_candidates(final):
        found = commands_in_words(words, {**final.args, **env}, process_env=env)
        if found:
            command = found[0]
            process = Process(command.kind, command, Value("default", 1, reason="one container per run of the image"),
                              command.span, env=env)
            deployments.append(Deployment(path, "dockerfile", (process,)))
            break
    copies = tuple((_in_context(src), dest) for src, dest in final.copies)
    return DeployFacts(path, "dockerfile", deployments=deployments, env=list(env.values()), notes=notes,
                       copies=copies, entrypoint=_entry_script(final, copies))


def _words(args: Located) -> list[Word]:
    return [w for command in split_commands(args) for w in command]


def _env(args: Located, scope: dict[str, EnvVar]) -> list[EnvVar]:
    words = _words(args)
    if not words:
        return []
    if "=" not in words[0].text:  # the old form: ENV NAME the rest of the line
        name = words[0].text
        rest = args.text[len(args.text) - len(args.text.lstrip()) + len(name):]
        offset = len(args.text) - len(rest) + (len(rest) - len(rest.lstrip()))
        value = Word(args[offset:len(args.text.rstrip())])
        if len(words) == 2:  # one (perhaps quoted) word: Docker removes its quotes, ENV NAME "a.b" is a.b
            value = words[1]
        expanded = expand(value, scope)
        if not _NAME.match(name):
            return []
        return [EnvVar(name, expansion_value(expanded, expanded.text, value.span), words[0].span)]
    out = []
    for word in words:
        name, eq, _ = word.text.partition("=")
        if not eq or not _NAME.match(name):
            continue
        expanded = expand(word.drop(len(name) + 1), {**scope, **{v.name: v for v in out}})
        where = word.span_of(len(name) + 1, len(word.text)) if len(word.text) > len(name) + 1 else word.span
        out.append(EnvVar(name, expansion_value(expanded, expanded.text, where), word.span))
    return out


def exec_form(args: Located) -> list[str] | None:
    """The strings of an instruction written in exec form (a JSON list), else None."""
    raw = args.text.strip()
    if not raw.startswith("["):
        return None
    try:
        items = json.loads(raw)
    except ValueError:
        return None
    return items if isinstance(items, list) and all(isinstance(x, str) for x in items) else None


def _command(args: Located) -> tuple[list[Word], bool]:
    items = exec_form(args)
    return (_exec_words(args, items), True) if items is not None else (_words(args), False)


def _exec_words(args: Located, items: list[str]) -> list[Word]:
    """The items of an exec-form command as words, each located at its quoted text."""
    words = []
    cursor = 0
    for item in items:
        opening = args.text.find('"', cursor)
        closing = opening + 1
        while closing < len(args.text) and args.text[closing] != '"':
            closing += 2 if args.text[closing] == "\\" else 1
        raw = args[opening + 1:closing] if opening >= 0 else args[0:1]
        cursor = closing + 1
        line, column = raw.positions[0] if raw.positions else args.positions[0]
        located = Located.aligned(args.path, item, raw.text, line, column) if item else raw
        # Exec form runs no shell: nothing in it is expanded.
        words.append(Word(located, frozenset(i for i, ch in enumerate(item) if ch == "$")))
    return words


def _command_candidates(stage: _Stage) -> list[list[Word]]:
    entry = stage.entrypoint[0] if stage.entrypoint else []
    cmd = stage.cmd[0] if stage.cmd else []
    candidates = [entry + cmd]
    if entry and cmd:
        candidates.append(cmd)  # an entrypoint script that ends in exec "$@"
    return [c for c in candidates if c]


def _copies(args: Located, workdir: str, scope: dict[str, EnvVar]) -> list[tuple[str, str]]:
    words = _words(args)
    if any(w.text.startswith("--from") for w in words):
        return []  # from another stage or image, not from the build context
    words = [w for w in words if not w.text.startswith("--")]
    if args.text.strip().startswith("["):
        texts = exec_form(args) or []
    else:
        texts = [expand(w, scope).text or "" for w in words]
    if len(texts) < 2 or not all(texts):
        return []
    *sources, dest = texts
    into_folder = dest.endswith("/") or dest in (".", "./") or len(sources) > 1
    dest = posixpath.normpath(posixpath.join(workdir, dest)).rstrip("/") + ("/" if into_folder else "")
    out = []
    for src in sources:
        if "://" in src or any(ch in src for ch in "*?["):
            continue
        target = dest + posixpath.basename(src.rstrip("/")) if into_folder else dest
        out.append((src, target))
    return out


def _copied_by_cp(args: Located, stage: _Stage, scope: dict[str, EnvVar]) -> list[tuple[str, str]]:
    """`RUN cp a.conf b.yaml /etc/app/`: each file of the image copied, as the file of the build
    context it came from (a COPY before it), at its new path."""
    out = []
    for command in split_commands(args):
        texts = [expand(w, scope).text or "" for w in command]
        if not texts or texts[0] != "cp" or not all(texts):
            continue
        operands = [t for t in texts[1:] if not t.startswith("-")]
        if len(operands) < 2:
            continue
        *sources, dest = operands
        into_folder = dest.endswith("/") or len(sources) > 1
        dest = posixpath.normpath(posixpath.join(stage.workdir, dest))
        for src in sources:
            origin = _context_file(stage.copies, posixpath.normpath(posixpath.join(stage.workdir, src)))
            if origin is not None:
                out.append((origin, posixpath.join(dest, posixpath.basename(src)) if into_folder else dest))
    return out


def _context_file(copies: list[tuple[str, str]] | tuple[tuple[str, str], ...], target: str) -> str | None:
    """The file of the build context that is at target in the image: the last copy to it, or
    to a folder above it (COPY . /app)."""
    for src, dest in reversed(copies):
        folder = dest.rstrip("/")
        if target == folder:
            return src
        if target.startswith(folder + "/"):
            return posixpath.join(src, target[len(folder) + 1:])
    return None


def _in_context(src: str) -> str:
    """A source path, relative to the build context (a leading / is the context's root)."""
    joined = posixpath.normpath(src.lstrip("/") or ".")
    return "" if joined == "." else joined


def _entry_script(stage: _Stage, copies: tuple[tuple[str, str], ...]) -> str | None:
    """The file of the build context that the container starts (ENTRYPOINT, else CMD), when
    it was copied in: `ENTRYPOINT ["/entrypoint.sh"]` after `COPY docker/entrypoint.sh /`."""
    for command in (stage.entrypoint, stage.cmd):
        if not command or not command[0]:
            continue
        words = [w.text for w in command[0]]
        if words[0] in ("sh", "bash", "/bin/sh", "/bin/bash") and len(words) > 1 and not words[1].startswith("-"):
            words = words[1:]
        name = words[0]
        # A bare name is found on the PATH; ./script and other relative paths from WORKDIR.
        targets = ([posixpath.join(d, name) for d in ("/usr/local/bin", "/usr/bin", "/bin")] if "/" not in name
                   else [name if name.startswith("/") else posixpath.normpath(posixpath.join(stage.workdir, name))])
        for target in targets:
            found = _context_file(copies, target)
            if found is not None:
                return _in_context(found)
        return None
    return None
