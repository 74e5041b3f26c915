"""qlint's own configuration: [tool.qlint] in pyproject.toml, or a .qlint.toml file.

    [tool.qlint]
    select = ["QL1", "QL4"]            # codes or prefixes; default: every stable rule
    ignore = ["QL102"]
    extend-select = ["QL9"]
    exclude = ["migrations", "legacy/**"]
    per-file-ignores = { "settings/local.py" = ["QL101"] }
    long-task-seconds = "5m"           # a number of seconds or a duration
    broker = "redis"                   # scheme assumed when the broker URL is unknown
    payload-literal-bytes = "64 KiB"
    celery-version = "5.5"             # the Celery release to judge by; default: what the
                                       # dependency files install, else the newest known
    baseline = "qlint-baseline.json"   # findings to leave out of `qlint check` (`qlint baseline`
                                       # writes it); relative to this file's folder

    [tool.qlint.tasks]                 # expected durations of tasks, by task name
    "reports.build" = "3h"

.qlint.toml holds the same keys at its top level and wins over pyproject.toml in the
same folder (as .ruff.toml does over pyproject.toml). Glob patterns are relative to the
folder of the file that holds them. Every problem is raised as ConfigError, whose
message names the file, the key and what is wrong; the CLI exits with status 2.
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Callable, Iterable, Mapping, Sequence

from qlint.semantics.durations import parse_duration
from qlint.semantics.thresholds import DEFAULT_LONG_TASK_SECONDS, DEFAULT_PAYLOAD_LITERAL_BYTES

CONFIG_FILES = (".qlint.toml", "pyproject.toml")
ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "manage.py", ".qlint.toml", ".git")

# Broker URL schemes of kombu's transports (kombu.transport.TRANSPORT_ALIASES).
BROKER_SCHEMES = frozenset(
    {
        "amqp", "amqps", "pyamqp", "librabbitmq", "redis", "rediss", "sentinel", "sqs",
        "azureservicebus", "azurestoragequeues", "confluentkafka", "consul", "etcd",
        "filesystem", "gcpubsub", "kafka", "memory", "mongodb", "pgmq", "pyro", "qpid",
        "slmq", "sqla", "sqlalchemy", "zookeeper",
    }
)  # fmt: skip

_CODE = re.compile(r"^QL[0-9]{0,3}$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {None: 1, "b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2}


class ConfigError(Exception):
    """A problem in qlint's configuration; the message is meant for the user as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _code(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a rule code such as 'QL101', got {value!r}")
    code = value.strip().upper()
    if not _CODE.match(code):
        raise ValueError(f"{value!r} is not a rule code or prefix (codes look like QL101, prefixes like QL1)")
    return code


def _positive_duration(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError("must be more than 0 seconds")
    return seconds


def _size(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str) and (match := _SIZE.match(value)):
        size = int(float(match.group(1)) * _SIZE_UNITS[match.group(2) and match.group(2).lower()])
    else:
        raise ValueError(f"invalid size {value!r}: expected bytes (65536) or a size such as '64 KiB' or '1 MB'")
    if size <= 0:
        raise ValueError(f"invalid size {value!r}: must be more than 0 bytes")
    return size


def _celery_version(value: Any) -> str:
    """A Celery release qlint knows ("5.5"; a patch such as "5.5.3" names its release)."""
    from qlint.catalog import releases

    known = releases.names()
    if not isinstance(value, str):
        raise ValueError(f"expected a Celery release as a string such as \"{known[-1]}\", got {value!r}")
    match = re.fullmatch(r"\s*(\d+)\.(\d+)(?:\.\d+\S*)?\s*", value)
    release = f"{int(match.group(1))}.{int(match.group(2))}" if match else None
    if release not in known:
        raise ValueError(f"{value!r} is not a Celery release qlint knows ({', '.join(known)})")
    return release


def _broker(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a broker scheme such as 'redis', got {value!r}")
    scheme = value.strip().split("://", 1)[0].lower()
    if scheme not in BROKER_SCHEMES:
        import difflib

        close = difflib.get_close_matches(scheme, sorted(BROKER_SCHEMES), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known schemes: {', '.join(sorted(BROKER_SCHEMES))}"
        raise ValueError(f"unknown broker scheme {value!r}{hint}")
    return scheme


@dataclass(frozen=True)
class QlintConfig:
    """The validated configuration."""

    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    per_file_ignores: dict[str, tuple[str, ...]] = field(default_factory=dict)
    long_task_seconds: float = DEFAULT_LONG_TASK_SECONDS
    broker: str | None = None
    payload_literal_bytes: int = DEFAULT_PAYLOAD_LITERAL_BYTES
    celery_version: str | None = None
    tasks: dict[str, float] = field(default_factory=dict)
    baseline: str | None = None
    root: Path = field(default_factory=Path.cwd)  # the folder its globs are relative to
    source: Path | None = None  # the file it was read from; None for the defaults

    def settings_key(self) -> str:
        """The settings (not where they were read from), for a cache key."""
        return repr([getattr(self, f.name) for f in fields(self) if f.name not in ("root", "source")])


def _items(value: Any) -> list[Any] | tuple[Any, ...]:
    if type(value) not in (list, tuple):
        raise TypeError
    return value


def _string(value: Any) -> str:
    if type(value) is not str:
        raise TypeError
    return value


def _codes(value: Any) -> tuple[str, ...]:
    return tuple(_code(item) for item in _items(value))


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(_string(item) for item in _items(value))


def _table(value: Any, read: Callable[[Any], Any]) -> dict[str, Any]:
    if type(value) is not dict or any(type(key) is not str for key in value):
        raise TypeError
    return {key: read(item) for key, item in value.items()}


# Each key of a table and how its value is read: the same validators as the pydantic model's
# (_model), and only the types TOML gives that the model takes as they are.
_READERS: dict[str, Callable[[Any], Any]] = {
    "select": _codes,
    "ignore": _codes,
    "extend-select": _codes,
    "exclude": _strings,
    "per-file-ignores": lambda value: _table(value, _codes),
    "long-task-seconds": _positive_duration,
    "broker": _broker,
    "payload-literal-bytes": _size,
    "celery-version": _celery_version,
    "tasks": lambda value: _table(value, parse_duration),
    "baseline": _string,
}


def _read(table: Mapping[str, Any]) -> dict[str, Any] | None:
    """The fields of a table whose keys and values are all well formed, else None (then the
    model validates it). Pydantic's import and the model's construction took 0.1 s of every
    run, more than the rest of a check of an unchanged tree."""
    values = {}
    for key, value in table.items():
        read = _READERS.get(key) if type(key) is str else None
        if read is None:
            return None
        try:
            values[key.replace("-", "_")] = read(value)
        except Exception:  # the model says what is wrong
            return None
    return values


@lru_cache(maxsize=1)
def _model() -> Any:
    """The pydantic model of a table, which validates those _read() does not accept and
    explains what is wrong with them."""
    from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

    code = Annotated[str, BeforeValidator(_code)]
    duration = Annotated[float, BeforeValidator(parse_duration)]

    class Table(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=lambda name: name.replace("_", "-"))

        select: tuple[code, ...] | None = None
        ignore: tuple[code, ...] = ()
        extend_select: tuple[code, ...] = ()
        exclude: tuple[str, ...] = ()
        per_file_ignores: dict[str, tuple[code, ...]] = Field(default_factory=dict)
        long_task_seconds: Annotated[float, BeforeValidator(_positive_duration)] = DEFAULT_LONG_TASK_SECONDS
        broker: Annotated[str | None, BeforeValidator(_broker)] = None
        payload_literal_bytes: Annotated[int, BeforeValidator(_size)] = DEFAULT_PAYLOAD_LITERAL_BYTES
        celery_version: Annotated[str | None, BeforeValidator(_celery_version)] = None
        tasks: dict[str, duration] = Field(default_factory=dict)
        baseline: str | None = None

    return Table


# --- reading ----------------------------------------------------------------------------


def _display(path: Path) -> str:
    """A path as the user would type it: relative when under the current folder."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


_FRIENDLY = {
    "tuple_type": "expected a list",
    "list_type": "expected a list",
    "dict_type": "expected a table",
    "string_type": "expected a string",
    "float_type": "expected a number",
    "int_type": "expected a whole number",
}


def _key_path(loc: Sequence[Any]) -> str:
    parts = []
    for part in loc:
        if isinstance(part, int):
            parts[-1] += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", str(part)):
            parts.append(str(part))
        else:
            parts.append(f'"{part}"')
    return ".".join(parts)


def _describe(error: Mapping[str, Any], where: str) -> str:
    loc = error["loc"]
    key = _key_path(loc)
    if error["type"] == "extra_forbidden":
        import difflib

        known = sorted(field.alias or name for name, field in _model().model_fields.items())
        close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
        return f"unknown key {key!r} in {where}{hint}"
    if error["type"] == "value_error":
        problem = str(error["ctx"]["error"])
    else:
        problem = _FRIENDLY.get(error["type"], error["msg"])
        problem += f", got {error['input']!r}"
    return f"invalid value for {key!r} in {where}: {problem}"


def config_from_table(
    table: Mapping[str, Any], *, where: str = "[tool.qlint]", root: Path | None = None, source: Path | None = None
) -> QlintConfig:
    """Validate a [tool.qlint] table (as TOML gives it). `where` names it in messages."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table of settings, got {table!r}")
    values = _read(table)
    if values is None:
        from pydantic import ValidationError

        try:
            model = _model().model_validate(dict(table))
        except ValidationError as error:
            raise ConfigError("\n".join(_describe(e, where) for e in error.errors())) from None
        values = {name: getattr(model, name) for name in type(model).model_fields}
    return QlintConfig(**values, root=(root or Path.cwd()).resolve(), source=source)


def _read_toml(path: Path) -> dict[str, Any]:
    # Imported here: a project's own pyproject.toml that does not mention qlint is never parsed.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib

    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"cannot parse {_display(path)}: {error}") from None
    except RecursionError:  # tomllib recurses into nested arrays and inline tables
        raise ConfigError(f"cannot parse {_display(path)}: arrays or tables nested too deeply") from None
    except UnicodeDecodeError:
        raise ConfigError(f"cannot parse {_display(path)}: not UTF-8 text") from None
    except OSError as error:
        raise ConfigError(f"cannot read {_display(path)}: {error.strerror or error}") from None


def _mentions_qlint(path: Path) -> bool:
    try:
        return b"qlint" in path.read_bytes()
    except OSError:
        return True  # _read_toml says why it cannot be read


def load_config(root: Path | str) -> QlintConfig:
    """The configuration in `root` (.qlint.toml, else [tool.qlint] of pyproject.toml), else defaults."""
    root = Path(root).resolve()
    return config_in(root) or config_from_table({}, root=root)


def config_in(root: Path | str) -> QlintConfig | None:
    """The configuration a folder holds itself, or None: a sub-project's, which governs its
    files when a check starts above it (a monorepo, pre-commit at the repository root)."""
    root = Path(root).resolve()
    for name in CONFIG_FILES:
        path = root / name
        if not path.is_file():
            continue
        if name == "pyproject.toml" and not _mentions_qlint(path):
            continue  # not qlint's to parse: a project's own (or a Jinja template of one, as in cookiecutters)
        data = _read_toml(path)
        if name == "pyproject.toml":
            tool = data.get("tool", {})
            if not isinstance(tool, dict) or "qlint" not in tool:
                continue
            return config_from_table(tool["qlint"], where=f"[tool.qlint] of {_display(path)}", root=root, source=path)
        if set(data) == {"tool"}:
            raise ConfigError(f"{_display(path)} holds its keys at the top level, without a [tool.qlint] table")
        return config_from_table(data, where=_display(path), root=root, source=path)
    return None


def find_project_root(path: Path | str) -> Path:
    """The nearest folder at or above `path` holding a project marker, else `path`'s folder.

    Markers: pyproject.toml, setup.cfg, manage.py, .qlint.toml, or .git (a folder, or a
    file in a worktree or submodule).
    """
    start = Path(path).resolve()
    if not start.is_dir():
        start = start.parent
    for folder in (start, *start.parents):
        if any((folder / marker).exists() for marker in ROOT_MARKERS):
            return folder
    return start


# --- selection --------------------------------------------------------------------------


def _longest_match(code: str, prefixes: Iterable[str]) -> int:
    """Length of the longest prefix that `code` starts with; -1 when none does."""
    return max((len(p) for p in prefixes if code.startswith(p)), default=-1)


def _is_stable(code: str) -> bool:
    from qlint.rules import rule_by_code

    rule = rule_by_code(code)
    return rule is None or rule.status == "stable"


def _cli_codes(option: str, codes: Sequence[str] | None) -> list[str]:
    try:
        return [_code(code) for code in codes or ()]
    except ValueError as error:
        raise ConfigError(f"invalid value for {option}: {error}") from None


def is_selected(
    code: str,
    config: QlintConfig,
    cli_select: Sequence[str] | None = None,
    cli_ignore: Sequence[str] | None = None,
    cli_extend_select: Sequence[str] | None = None,
) -> bool:
    """Whether a rule runs, following flake8: the longer matching prefix of select and ignore wins.

    --select on the command line replaces the file's select and ignore (as in Ruff);
    --ignore and --extend-select add to the file's. With no select anywhere, every
    stable rule is selected as if by the prefix "QL". A rule that is not stable runs
    only when its full code is selected.
    """
    given_ignore = _cli_codes("--ignore", cli_ignore)
    given_extend = _cli_codes("--extend-select", cli_extend_select)
    if cli_select is not None:
        select, ignore, extend = _cli_codes("--select", cli_select), given_ignore, given_extend
    else:
        select = list(config.select) if config.select is not None else None
        ignore = [*config.ignore, *given_ignore]
        extend = [*config.extend_select, *given_extend]
    chosen = [*(select if select is not None else []), *extend]
    stable = _is_stable(code)
    selected = _longest_match(code, chosen if stable else [c for c in chosen if c == code])
    if select is None and stable:
        selected = max(selected, len("QL"))
    if selected < 0:
        return False
    return selected > _longest_match(code, ignore)


# --- paths ------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def path_matches(pattern: str, relative_path: str | os.PathLike[str]) -> bool:
    """Whether a path (relative to the config's folder) falls under a glob pattern.

    A pattern matches the path or one of its parent folders, so "migrations/" or
    "legacy/**" cover everything inside. A pattern without "/" matches any one part
    of the path ("__init__.py", "migrations", "test_*.py"), as in .gitignore.
    """
    path = PurePosixPath(Path(relative_path).as_posix())
    if path.is_absolute() or ".." in path.parts:
        return False
    pattern = pattern.replace("\\", "/").removeprefix("./").rstrip("/")
    if not pattern:
        return False
    regex = _glob_regex(pattern)
    if "/" not in pattern:
        return any(regex.fullmatch(part) for part in path.parts)
    candidates = [path.as_posix(), *(parent.as_posix() for parent in path.parents if parent.parts)]
    return any(regex.fullmatch(candidate) for candidate in candidates)


def _relative(path: str | os.PathLike[str], config: QlintConfig) -> str:
    candidate = Path(path)
    if candidate.is_absolute():
        try:
            return candidate.resolve().relative_to(config.root).as_posix()
        except ValueError:
            return candidate.as_posix()
    return candidate.as_posix()


def is_excluded(path: str | os.PathLike[str], config: QlintConfig) -> bool:
    """Whether `exclude` covers a path (absolute, or relative to the config's folder)."""
    relative = _relative(path, config)
    return any(path_matches(pattern, relative) for pattern in config.exclude)


def per_file_ignored(code: str, relative_path: str | os.PathLike[str], config: QlintConfig) -> bool:
    """Whether `per-file-ignores` silences `code` in a file (path relative to the config's folder)."""
    relative = _relative(relative_path, config)
    return any(
        _longest_match(code, codes) >= 0 and path_matches(pattern, relative)
        for pattern, codes in config.per_file_ignores.items()
    )
