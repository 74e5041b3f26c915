"""`pip install` lines of a Dockerfile: the celery and kombu an image installs.

Every RUN instruction (shell or exec form) is split into simple commands; `pip install`,
`pip3 install`, `python -m pip install`, `uv pip install` and `pip-sync`/`uv pip sync`
are read: requirement arguments, `-r`/`-c` files (an Include, found by the resolver
among the project's files), `-e` targets. ARG defaults and ENV values fill `$VAR`s, as
a build without --build-arg would. Each pip command is numbered (`install`): a later
command that names a package installs it again over what an earlier one installed.
`FROM python:3.11` says which Python the image runs.

The Dockerfile reader of the deployment files (qlint/sources/deploy/dockerfile.py)
reads the same file for its environment and command; both take its instructions from
qlint/sources/dockerfile_syntax.py.
"""
from __future__ import annotations

import json
import re
from itertools import islice

from qlint.sources.dependencies.facts import DependencyFacts, Include, Requirement
from qlint.sources.dependencies.requirements import checked_specifier, package_of, parse_requirement
from qlint.sources.deploy.located import Located
from qlint.sources.deploy.shell import Word, expand, split_commands, words_from_items
from qlint.sources.dockerfile_syntax import instructions

_PYTHON_IMAGE = re.compile(r"(?:^|[\s/])python:(\d+)\.(\d+)")
# A RUN instruction worth splitting into words: it may run pip or pip-sync, and names celery,
# kombu or a requirements file.
_PIP_COMMAND = re.compile(r"\bpip(?:3(?:\.\d+)?)?\b|pip-sync")
_NAMES_WHAT_MATTERS = re.compile(r"(?i)celery|kombu|\s-[rc]|--requirement|--constraint|pip-sync|\bsync\b|\$")
_RUN_FLAGS = re.compile(r"\s*(?:--[a-z-]+=\S*\s+)+")
_PIP = re.compile(r"(?:.*/)?pip(?:3(?:\.\d+)?)?$")
_PYTHON = re.compile(r"(?:.*/)?python(?:3(?:\.\d+)?)?$")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# pip and uv options that take a value in the next word.
_WITH_VALUE = frozenset({
    "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "-t", "--target", "--prefix", "--root",
    "--platform", "--python-version", "--implementation", "--abi", "--only-binary", "--no-binary",
    "--progress-bar", "--trusted-host", "--cache-dir", "--src", "--upgrade-strategy", "--global-option",
    "--install-option", "-C", "--config-settings", "--log", "--proxy", "--retries", "--timeout",
    "--exists-action", "--cert", "--client-cert", "--python", "-p", "--report", "--index", "--default-index",
    "--extra", "--group", "--resolution", "--prerelease", "--python-platform", "-P", "--upgrade-package",
    "--keyring-provider", "--link-mode", "--torch-backend", "--overrides", "--build-constraints", "-b",
})
_REQUIREMENT_FILE = {"-r": False, "--requirement": False, "-c": True, "--constraint": True, "--overrides": True}
MAX_INSTRUCTIONS = 20_000


def _word(text: str) -> Word:
    return Word(Located("", text, ((1, 1),) * len(text)))


def read_dockerfile_installs(path: str, text: str) -> DependencyFacts:
    """The celery and kombu requirements of a Dockerfile's pip commands, and its Python."""
    env: dict[str, str] = {}
    requirements: list[Requirement] = []
    includes: list[Include] = []
    python = python_span = None
    install = 0
    for instruction in islice(instructions(path, text), MAX_INSTRUCTIONS):
        keyword = instruction.keyword
        if keyword == "FROM":
            image = _PYTHON_IMAGE.search(instruction.text)
            if image:
                python = f"=={image.group(1)}.{image.group(2)}.*"
                python_span = instruction.located().span(image.start(), image.end())
        elif keyword in ("ARG", "ENV"):
            _assign(instruction.text, env, keyword)
        elif keyword == "RUN" and _PIP_COMMAND.search(instruction.text) and \
                _NAMES_WHAT_MATTERS.search(instruction.text):
            for words in _commands(instruction.located()):
                found = _pip_arguments(words, env)
                if found is None:
                    continue
                install += 1
                _read_arguments(found, env, install, requirements, includes)
    return DependencyFacts(path, "dockerfile", tuple(requirements), tuple(includes),
                           python=checked_specifier(python) if python else None, python_span=python_span)


def _assign(text: str, env: dict[str, str], keyword: str) -> None:
    text = text.strip()
    if keyword == "ENV" and "=" not in text.split(None, 1)[0]:
        name, _, value = text.partition(" ")  # the legacy `ENV NAME value`
        if _NAME.fullmatch(name):
            env[name] = value.strip().strip("\"'")
        return
    for word in text.split():
        name, eq, value = word.partition("=")
        if eq and _NAME.fullmatch(name):
            value = value.strip("\"'")
            if "$" in value:
                value = expand(_word(value), env).text or value
            if keyword == "ENV" or name not in env:
                env[name] = value


def _commands(args: Located) -> list[list[Word]]:
    stripped = args.text.strip()
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except ValueError:
            items = None
        if isinstance(items, list) and all(isinstance(i, str) for i in items):
            offset = args.text.index("[")
            return [words_from_items([Located(args.path, item, (args.positions[offset],) * len(item))
                                      for item in items])]
    flags = _RUN_FLAGS.match(args.text)  # RUN --mount=... --network=... command
    if flags:
        args = args[flags.end():]
    try:
        return split_commands(args)
    except (ValueError, IndexError, RecursionError):
        return []


def _pip_arguments(words: list[Word], env: dict[str, str]) -> list[Word] | None:
    """The arguments after `install` (or `sync`) when the command is a pip install, else None."""
    texts = [w.text for w in words]
    i = 0
    while i < len(texts) and (("=" in texts[i] and _NAME.match(texts[i].split("=", 1)[0])) or
                              texts[i] in ("sudo", "exec", "command", "time", "nice")):
        i += 1
    if i >= len(texts):
        return None
    program = texts[i]
    if _PYTHON.fullmatch(program) and texts[i + 1:i + 3] == ["-m", "pip"]:
        i += 3
    elif program == "uv" and texts[i + 1:i + 2] == ["pip"]:
        i += 2
    elif program == "pip-sync":
        return words[i + 1:]
    elif _PIP.fullmatch(program):
        i += 1
    else:
        return None
    while i < len(texts) and texts[i].startswith("-") and texts[i] not in ("install", "sync"):
        i += 2 if texts[i] in _WITH_VALUE else 1
    if i < len(texts) and texts[i] == "sync":
        return [w for w in words[i + 1:] if not w.text.startswith("-")]
    if i < len(texts) and texts[i] == "install":
        return words[i + 1:]
    return None


def _read_arguments(words: list[Word], env: dict[str, str], install: int,
                    requirements: list[Requirement], includes: list[Include]) -> None:
    i = 0
    while i < len(words):
        word = words[i]
        text = word.text
        flag, eq, attached = text.partition("=")
        if text in _REQUIREMENT_FILE or (eq and flag in _REQUIREMENT_FILE) or (
                text[:2] in ("-r", "-c") and len(text) > 2 and text[1] != "-"):
            if text in _REQUIREMENT_FILE:
                target, option = (words[i + 1] if i + 1 < len(words) else None), text
                i += 2
            else:
                option = flag if eq else text[:2]
                target = word.drop(len(flag) + 1) if eq else word.drop(2)
                i += 1
            if target is not None:
                name = expand(target, env).text or target.text
                includes.append(Include(name, _REQUIREMENT_FILE[option], target.span, install))
            continue
        if text in ("-e", "--editable"):
            target = words[i + 1] if i + 1 < len(words) else None
            i += 2
            if target is not None:
                _requirement(target, env, install, requirements)
            continue
        if text.startswith("-"):
            i += 2 if text in _WITH_VALUE else 1
            continue
        _requirement(word, env, install, requirements)
        i += 1


def _requirement(word: Word, env: dict[str, str], install: int, requirements: list[Requirement]) -> None:
    expanded = expand(word, env)
    text = expanded.text
    if text is None:
        if package_of(word.text) is not None:
            requirements.append(Requirement(package_of(word.text), "", word.span, word.text, install=install,
                                            unreadable=f"its version is not known: {expanded.reason or 'a variable'}"))
        return
    found = parse_requirement(text, word.span, install=install)
    if found is not None:
        requirements.append(found)
