"""Finding ``celery worker``/``beat``/``multi`` in command lines and parsing their options.

Entry points:

- ``parse_command_line(argv_or_string, env)`` for a command given as a list of
  arguments or as a shell string (no file positions needed: the path is ``<command>``);
- ``commands_in_shell(located, env)`` for shell text cut from a file (positions kept);
- ``commands_in_words(words, env)`` for arguments given one by one (a YAML list).

Wrappers are looked through: ``exec``, ``env``, ``FOO=1`` assignments, ``sh -c``,
``python -m celery``, ``watchmedo auto-restart --``, ``newrelic-admin run-program``,
``ddtrace-run`` and the like. Values are expanded from the environment mapping
passed in; click's own environment variables (``CELERY_WORKER_CONCURRENCY``...)
fill options missing from the command line, as Celery does.
"""
from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, replace
from typing import Any, Sequence

from qlint.model import Span, Value
from qlint.sources.deploy import celery_options as opts
from qlint.sources.deploy.facts import CeleryCommand, EnvVar, OptionValue
from qlint.sources.deploy.located import Located
from qlint.sources.deploy.shell import (
    EnvMapping, Word, expand, expansion_value, is_assignment, split_commands, words_from_items,
)

_PYTHON = re.compile(r"python(\d+(\.\d+)?)?(\.exe)?$|pypy\d?$")
_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh"})
# Programs that run the rest of their arguments as a command.
_WRAPPERS = frozenset({
    "exec", "nohup", "time", "command", "nice", "ionice", "gosu", "su-exec", "chpst", "setpriv",
    "tini", "dumb-init", "catatonit", "newrelic-admin", "ddtrace-run", "opentelemetry-instrument",
    "watchmedo", "pipenv", "poetry", "uv", "hatch", "pdm", "doppler", "infisical", "chamber",
    "aws-vault", "sops", "envdir", "envconsul", "wait-for-it", "wait-for-it.sh", "dockerize",
    "sentry-cli", "scout-apm", "elastic-apm", "honcho",
})
_SHELL_KEYWORDS = frozenset({"then", "else", "do", "{", "!"})
_CELERY_PROGRAMS = frozenset({"celery", "celery.exe"})
_MAX_DEPTH = 4
_PYTHON_OPTIONS_WITH_VALUE = frozenset({"-W", "-X", "-Q"})


def parse_command_line(argv: Sequence[str] | str, env: EnvMapping | None = None,
                       path: str = "<command>") -> list[CeleryCommand]:
    """The celery commands in argv (a list of arguments, or one shell string)."""
    if isinstance(argv, str):
        return commands_in_shell(Located.at(path, argv, 1, 1), env or {})
    # Place the arguments one after another on line 1, as shlex.join would print them.
    items, column = [], 1
    for arg in argv:
        quoted = shlex.quote(arg)
        items.append(Located.at(path, arg, 1, column + (quoted != arg)))
        column += len(quoted) + 1
    return commands_in_words(words_from_items(items), env or {})


def commands_in_shell(source: Located, env: EnvMapping,
                      process_env: EnvMapping | None = None, depth: int = 0) -> list[CeleryCommand]:
    found: list[CeleryCommand] = []
    for words in split_commands(source):
        found.extend(commands_in_words(words, env, process_env, depth))
    return found


def commands_in_words(words: list[Word], env: EnvMapping, process_env: EnvMapping | None = None,
                      depth: int = 0) -> list[CeleryCommand]:
    """The celery commands that one simple command (already split in words) runs.

    env expands ``$VAR`` in the words; process_env (default: env) is what the celery
    process itself sees, for click's environment variables.
    """
    if depth > _MAX_DEPTH:
        return []
    inline: dict[str, EnvVar] = {}
    i = 0
    while i < len(words):
        text = _program_text(words[i], env)
        base = os.path.basename(text)
        if text in _SHELL_KEYWORDS:
            i += 1
        elif is_assignment(words[i]):
            name, _, value = text.partition("=")
            expanded = expand(words[i].drop(len(name) + 1), env)
            inline[name] = EnvVar(name, expansion_value(expanded, expanded.text, words[i].span), words[i].span)
            i += 1
        elif base == "env":
            i += 1
            while i < len(words) and words[i].text.startswith("-"):
                i += 2 if words[i].text in ("-u", "--unset", "-C", "--chdir", "-S") else 1
        elif base in _SHELLS:
            script = _shell_script(words, i)
            if script is None:
                return []
            inner_env = _merged(process_env if process_env is not None else env, inline)
            return commands_in_shell(script.value, inner_env, inner_env, depth + 1)
        elif _PYTHON.match(base):
            start = _python_module_celery(words, i)
            if start is None:
                return []
            return _parsed(words, i, start, env, process_env, inline)
        elif base in _CELERY_PROGRAMS or text.endswith("/celery"):
            return _parsed(words, i, i + 1, env, process_env, inline)
        elif base in _WRAPPERS:
            i = _after_wrapper(words, i)
        else:
            return []
    return []


def _program_text(word: Word, env: EnvMapping) -> str:
    """The word as a program name: variables expanded; ``$CELERY_BIN`` unset still reads as celery."""
    if "$" not in word.text or is_assignment(word):
        return word.text
    expanded = expand(word, env)
    if expanded.text is not None:
        return expanded.text
    if expanded.env and "CELERY" in expanded.env.upper() and "BIN" in expanded.env.upper():
        return "celery"
    return word.text


def _merged(env: EnvMapping, inline: dict[str, EnvVar]) -> dict[str, Any]:
    merged: dict[str, Any] = dict(env)
    merged.update(inline)
    return merged


def _shell_script(words: list[Word], i: int) -> Word | None:
    """The script of ``sh -c 'script'`` (flags may be combined: ``-ec``)."""
    for k in range(i + 1, len(words)):
        text = words[k].text
        if not text.startswith("-") or text == "--":
            return None
        if "c" in text[1:] and not text.startswith("--"):
            return words[k + 1] if k + 1 < len(words) else None
    return None


def _python_module_celery(words: list[Word], i: int) -> int | None:
    """Index of the first celery argument in ``python [opts] -m celery ...``, if it is that."""
    k = i + 1
    while k < len(words) and words[k].text.startswith("-"):
        text = words[k].text
        if text == "-m":
            if k + 1 < len(words) and words[k + 1].text == "celery":
                return k + 2
            return None
        if text.startswith("-m") and text[2:] == "celery":
            return k + 1
        k += 2 if text in _PYTHON_OPTIONS_WITH_VALUE else 1
    return None


def _after_wrapper(words: list[Word], i: int) -> int:
    """Where the wrapped command starts: after ``--``, or at the next command-like word."""
    for k in range(i + 1, len(words)):
        text = words[k].text
        if text == "--":
            return k + 1
        if text.startswith("-"):
            continue
        base = os.path.basename(text)
        if (base in _CELERY_PROGRAMS or text.endswith("/celery") or _PYTHON.match(base)
                or base in _SHELLS or base in _WRAPPERS or base == "env"):
            return k
    return len(words)


# ------------------------------------------------------------------- parsing


@dataclass
class _Parse:
    words: list[Word]
    env: EnvMapping
    options: dict[str, OptionValue]
    unparsed: list[str]


def _parsed(words: list[Word], program: int, start: int, env: EnvMapping,
            process_env: EnvMapping | None, inline: dict[str, EnvVar]) -> list[CeleryCommand]:
    words = list(words)  # variables holding several options are spliced in
    state = _Parse(words, env, {}, [])
    globals_table = opts.by_flag(opts.GLOBAL)
    i = start
    while i < len(words):
        text = words[i].text
        if text.startswith("$") and 0 not in words[i].literal:
            # `celery $ARGUMENTS`: a variable holding the options and the subcommand itself
            spliced = _variable_words(words[i], env)
            if spliced is None:
                return []
            words[i:i + 1] = spliced
            continue
        if not text.startswith("-") or text == "--":
            break
        i = _option(state, i, globals_table)
    if i >= len(words):
        return []
    subcommand = words[i].text
    if subcommand not in ("worker", "beat", "multi"):
        return []
    global_names = set(state.options)
    specs = opts.WORKER if subcommand == "multi" else opts.SUBCOMMANDS[subcommand]
    table = opts.by_flag(specs)
    legacy = {flag: entry for flag, entry in globals_table.items() if flag not in table}
    table.update(legacy)
    i += 1
    per_node: dict[str, tuple[str, Span]] = {}  # multi: options given for some nodes (-Q:w1 images)
    if subcommand == "multi":
        i = _multi_nodes(state, i)
        if i < 0:
            return []
    while i < len(words):
        text = words[i].text
        if text == "--":
            state.unparsed.extend(w.text for w in words[i + 1:])
            break
        if text.startswith("-") and len(text) > 1:
            if subcommand == "multi" and ":" in text.split("=", 1)[0]:
                state.unparsed.append(f"{text}: an option for some nodes only")
                base = text.split("=", 1)[0].split(":", 1)[0]
                if base in table:  # the nodes run with different values: none holds for all
                    per_node.setdefault(table[base][0].name, (text, words[i].span))
                i += 2 if "=" not in text and i + 1 < len(words) else 1
                continue
            i = _option(state, i, table)
        elif text.startswith("$") and 0 not in words[i].literal:
            spliced = _variable_words(words[i], state.env)
            if spliced is None:
                state.unparsed.append(f"{text}: unresolved, the options it holds are not read")
                i += 1
            else:
                words[i:i + 1] = spliced
        else:
            state.unparsed.append(f"{text}: not an option of celery {subcommand}")
            i += 1
    for name, (flag, at) in per_node.items():
        state.options[name] = OptionValue(name, flag, None, Value(
            "unknown", None, at, reason=f"set per node ({flag}): the nodes of this multi run with different values"),
            at, None)
    legacy_app = "app" in state.options and "app" not in global_names and subcommand != "multi"
    process = _merged(process_env if process_env is not None else env, inline)
    _from_environment(state, subcommand, process, words[program].span)
    app_option = state.options.pop("app", None)
    span = _join(words[program].span, words[-1].span)
    return [CeleryCommand(
        kind=subcommand,  # type: ignore[arg-type]
        app=_app_name(app_option),
        options=state.options,
        span=span,
        app_value=app_option.value if app_option else None,
        app_after_subcommand=legacy_app,
        program=" ".join(w.text for w in words[program:start]),
        unparsed=tuple(state.unparsed),
        env=inline,
    )]


def _variable_words(word: Word, env: EnvMapping) -> list[Word] | None:
    """The words of ``$CELERYD_OPTS`` once expanded, all placed at the variable."""
    expanded = expand(word, env)
    if expanded.text is None or expanded.status != "known":
        return None
    line, column = word.value.positions[0]
    source = Located(word.value.path, expanded.text, ((line, column),) * len(expanded.text))
    # The shell does not expand the result of an expansion again: every `$` in it is literal.
    return [Word(w.value, frozenset(k for k, ch in enumerate(w.text) if ch == "$"))
            for command in split_commands(source) for w in command]


def _app_name(option: OptionValue | None) -> str | None:
    if option is None:
        return None
    return option.value.value if option.value.is_resolved else option.raw


def _multi_nodes(state: _Parse, i: int) -> int:
    """Read ``start|restart <nodes...>``; -1 for actions that start no worker."""
    words = state.words
    if i >= len(words) or words[i].text not in ("start", "restart"):
        return -1
    action = words[i]
    i += 1
    nodes: list[Word] = []
    while i < len(words) and not words[i].text.startswith("-"):
        nodes.append(words[i])
        i += 1
    if not nodes:
        return i
    span = _join(nodes[0].span, nodes[-1].span)
    names: list[str] = []
    problem = None
    for node in nodes:
        expanded = expand(node, state.env)
        if expanded.text is None:
            problem = expanded.reason
        else:
            names.extend(expanded.text.split())
    if problem:
        value = Value("unknown", None, span, reason=problem)
    else:
        count = int(names[0]) if len(names) == 1 and names[0].isdigit() else names
        value = Value("known", count, span)
    raw = " ".join(w.text for w in nodes)
    state.options["nodes"] = OptionValue("nodes", action.text, raw, value, action.span, span)
    return i


def _option(state: _Parse, i: int, table: dict[str, tuple[opts.OptionSpec, bool]]) -> int:
    """Read the option(s) at words[i]; return the index of the next unread word."""
    word = state.words[i]
    text = word.text
    if text.startswith("--"):
        flag, eq, _ = text.partition("=")
        entry = table.get(flag)
        if entry is None:
            state.unparsed.append(f"{flag}: unknown option")
            return i + 1
        spec, negative = entry
        flag_span = word.span_of(0, len(flag))
        if not spec.takes_value:
            if eq:
                state.unparsed.append(f"{flag}: option does not take a value")
            else:
                _store(state, spec, flag, flag_span, None, not negative)
            return i + 1
        if eq:
            _store(state, spec, flag, flag_span, word.drop(len(flag) + 1), None)
            return i + 1
        if i + 1 < len(state.words):
            _store(state, spec, flag, flag_span, state.words[i + 1], None)
            return i + 2
        state.unparsed.append(f"{flag}: missing value")
        return i + 1
    # Short options may be grouped (-BE) and take their value attached (-c4).
    for k in range(1, len(text)):
        flag = "-" + text[k]
        entry = table.get(flag)
        flag_span = word.span_of(0 if k == 1 else k, k + 1)
        if entry is None:
            state.unparsed.append(f"{flag}: unknown option")
            return i + 1
        spec, negative = entry
        if not spec.takes_value:
            _store(state, spec, flag, flag_span, None, not negative)
            continue
        if k + 1 < len(text):
            _store(state, spec, flag, flag_span, word.drop(k + 1), None)
            return i + 1
        if i + 1 < len(state.words):
            _store(state, spec, flag, flag_span, state.words[i + 1], None)
            return i + 2
        state.unparsed.append(f"{flag}: missing value")
    return i + 1


def _store(state: _Parse, spec: opts.OptionSpec, flag: str, flag_span: Span,
           value_word: Word | None, flag_value: bool | None) -> None:
    if value_word is None:
        value = Value("known", flag_value, flag_span)
        state.options[spec.name] = OptionValue(spec.name, flag, None, value, flag_span, None)
        return
    value_span = value_word.span
    expanded = expand(value_word, state.env)
    if expanded.text is None:
        value = expansion_value(expanded, None, value_span)
    else:
        typed, problem = convert(spec, expanded.text)
        if problem:
            value = Value("unknown", None, value_span, env=expanded.env, reason=problem)
        else:
            value = expansion_value(expanded, typed, value_span)
    state.options[spec.name] = OptionValue(spec.name, flag, value_word.text, value, flag_span, value_span)


def _from_environment(state: _Parse, subcommand: str, env: EnvMapping, fallback: Span) -> None:
    """Options that click reads from CELERY_<COMMAND>_<OPTION> (and -A from APP/CELERY_APP)."""
    candidates: list[tuple[opts.OptionSpec, list[str]]] = []
    for spec in opts.GLOBAL:
        names = ([spec.envvar] if spec.envvar else []) + [f"CELERY_{spec.name.upper()}"]
        candidates.append((spec, names))
    if subcommand != "multi":
        for spec in opts.SUBCOMMANDS[subcommand]:
            click_name = opts.CLICK_NAMES.get((subcommand, spec.name), spec.name)
            candidates.append((spec, [f"CELERY_{subcommand.upper()}_{click_name.upper()}"]))
    for spec, names in candidates:
        if spec.name in state.options:
            continue
        for name in names:
            defined = env.get(name)
            raw = defined.value.value if isinstance(defined, EnvVar) else defined
            if isinstance(defined, EnvVar) and defined.value.status != "known":
                continue
            if raw in (None, ""):
                continue
            span = defined.span if isinstance(defined, EnvVar) else fallback
            typed, problem = convert(spec, str(raw))
            value = (Value("unknown", None, span, env=name, reason=problem) if problem
                     else Value("known", typed, span, env=name))
            state.options[spec.name] = OptionValue(spec.name, "$" + name, str(raw), value, span, span)
            break


def rebind(command: CeleryCommand, env: EnvMapping) -> CeleryCommand:
    """command with the values that read variables expanded again from env.

    For files whose variables come from elsewhere: compose interpolates
    ``${VAR:-default}`` from the project's ``.env``, which the resolver reads.
    """
    specs = {s.name: s for s in opts.GLOBAL + (opts.BEAT if command.kind == "beat" else opts.WORKER)}
    options = dict(command.options)
    for name, option in command.options.items():
        spec = specs.get(name)
        if spec is None or option.raw is None or "$" not in option.raw or option.value_span is None \
                or option.flag.startswith("$"):
            continue
        span = option.value_span
        state = _Parse([], env, {}, [])
        _store(state, spec, option.flag, option.flag_span,
               Word(Located.at(span.path, option.raw, span.line, span.column)), None)
        options[name] = state.options[name]
    return replace(command, options=options)


_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def convert(spec: opts.OptionSpec, text: str) -> tuple[Any, str | None]:
    """text converted as click would for this option: (value, None) or (None, problem)."""
    kind = spec.type
    if kind == "flag":
        lowered = text.strip().lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE, None
        return None, f"{text!r} is not a boolean"
    if kind in ("int", "float"):
        try:
            number = int(text) if kind == "int" else float(text)
        except ValueError:
            return None, f"{text!r} is not {'an integer' if kind == 'int' else 'a number'}"
        if number == 0 and spec.name == "prefetch_multiplier":
            return None, "0 makes Celery use the worker_prefetch_multiplier setting"
        return number, None
    if kind == "concurrency":
        if text.strip().lower() == "auto":
            return "auto", None
        if not text.isdigit():
            return None, f"{text!r} is not a non-negative integer or 'auto'"
        if int(text) == 0:
            return None, "0 makes Celery use the worker_concurrency setting"
        return int(text), None
    if kind == "list":
        return text.split(","), None
    if kind == "loglevel":
        return (text.upper(), None) if text.upper() in spec.choices else (None, f"{text!r} is not a log level")
    if kind in ("choice", "pool"):
        if text not in spec.choices:
            return None, f"{text!r} is not one of {', '.join(spec.choices)}"
        return ("prefork" if text == "processes" else text), None
    if kind == "autoscale":
        parts = text.split(",")
        try:
            numbers = [int(p) for p in parts]
        except ValueError:
            return None, f"{text!r} is not 'max,min'"
        if len(numbers) == 1:
            return (numbers[0], 0), None
        if len(numbers) != 2:
            return None, f"{text!r} is not 'max,min'"
        return tuple(sorted(numbers, reverse=True)), None
    return text, None


def _join(first: Span, last: Span) -> Span:
    return Span(first.path, first.line, first.column, last.end_line, last.end_column)
