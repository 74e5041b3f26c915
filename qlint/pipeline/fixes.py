"""Applying the fixes that findings carry, for `qlint check --fix` and `--diff`.

Fixes are applied in memory, pass after pass: check, apply every fix that does not overlap
one already taken (edits from the end of each file, so earlier offsets stay valid), check
the edited texts again (laid over the files on disk, as the language server does with its
buffers), until a pass applies nothing or MAX_PASSES is reached, as Ruff does. A fix is all
its edits or none, whichever files they are in. A fix that would leave a file unparsable
(or that lands outside the paths checked, or in a read-only file) is refused and reported;
the others are still applied. Only then are files written (write_files), each atomically,
in its own encoding, line endings and mode.
"""
from __future__ import annotations

import io
import os
import stat
import tempfile
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from qlint.model import Edit, Finding, applicable
from qlint.sources.chunks import lines_of

if TYPE_CHECKING:
    from qlint.pipeline.engine import CheckResult

MAX_PASSES = 10


@dataclass
class Source:
    """One file as read from disk, and its text as the fixes so far leave it."""

    path: str  # display path, as findings name it
    real: Path
    data: bytes
    encoding: str
    original: str
    text: str

    @property
    def changed(self) -> bool:
        return self.text != self.original

    def encoded(self, text: str | None = None) -> bytes:
        return (self.text if text is None else text).encode(self.encoding)


@dataclass
class Refusal:
    """Fixes not applied, and why (a file they would break, a file that cannot be written)."""

    path: str
    reason: str
    findings: list[Finding] = field(default_factory=list)


@dataclass
class FixRun:
    result: CheckResult  # the findings of the fixed texts
    fixed: list[Finding]  # the findings whose fix was applied, in every pass
    sources: dict[str, Source]  # every file read for a fix; those with .changed are to be written
    refused: list[Refusal]

    @property
    def changed(self) -> list[Source]:
        return [s for _, s in sorted(self.sources.items()) if s.changed]


# Fixes taken in a pass, each with its edits per file as (start, end, content) in character offsets.
Taken = list[tuple[Finding, dict[str, list[tuple[int, int, str]]]]]


class _Unusable(Exception):
    """An edit that cannot be placed in its file (a position past its end, an unreadable file)."""


Checker = Callable[[dict[str, bytes] | None], "CheckResult"]


def checker(paths: Sequence[str], *, cwd: Path, root: Path, config, use_cache: bool = True,
            force_exclude: bool = False, **options) -> Checker:
    """The check `qlint check` runs, given the contents that replace some files' (display
    path to bytes), or None for the files as they are on disk. options: check()'s select,
    ignore, extend_select, report_unused."""
    from qlint.pipeline.analysis import analyse, collections_paused
    from qlint.pipeline.engine import check, check_paths

    def run(overrides: dict[str, bytes] | None) -> CheckResult:
        if not overrides:
            return check_paths(paths, cwd=cwd, root=root, config=config, use_cache=use_cache,
                               force_exclude=force_exclude, **options)
        with collections_paused():
            analysis = analyse(paths, cwd=cwd, root=root, exclude=config.exclude, use_cache=use_cache,
                               overrides=overrides, config=config, force_exclude=force_exclude)
            return check(analysis, config, paths, buffers=overrides, **options)

    return run


def fix_paths(check: Checker, *, cwd: Path, root: Path, paths: Sequence[str], unsafe: bool,
              writing: bool) -> FixRun:
    """Fix what check() finds under paths, in memory (write_files writes the result).
    writing: leave out the files that cannot be written (not for --diff, which writes nothing)."""
    allowed = _Allowed(cwd, root, paths)
    sources: dict[str, Source] = {}
    refused: dict[tuple[str, str], Refusal] = {}
    fixed: list[Finding] = []
    done: set[tuple] = set()  # fixes refused, or that change nothing: not tried again
    result = check(None)
    for _ in range(MAX_PASSES):
        taken = _plan(result.findings, unsafe, sources, allowed, cwd, writing, refused, done)
        if not taken:
            break
        fixed.extend(taken)
        overrides = {path: s.encoded() for path, s in sources.items() if s.changed}
        result = check(overrides)
    return FixRun(result, fixed, sources, list(refused.values()))


def _key(finding: Finding) -> tuple:
    assert finding.fix is not None
    return finding.code, tuple((e.span, e.content) for e in finding.fix.edits)


def _plan(findings: Sequence[Finding], unsafe: bool, sources: dict[str, Source], allowed: "_Allowed", cwd: Path,
          writing: bool, refused: dict[tuple[str, str], Refusal], done: set[tuple]) -> list[Finding]:
    """Apply, to the texts in sources, the fixes of one pass; return the findings fixed."""

    def refuse(path: str, reason: str, finding: Finding) -> None:
        refusal = refused.setdefault((path, reason), Refusal(path, reason))
        if finding not in refusal.findings:
            refusal.findings.append(finding)
        done.add(_key(finding))

    candidates = [f for f in findings if applicable(f.fix, unsafe) and _key(f) not in done]
    # One fix per distinct set of edits: two findings may carry the same fix.
    unique: dict[tuple, Finding] = {}
    for finding in candidates:
        unique.setdefault(_key(finding), finding)
    placed: dict[str, list[tuple[int, int, str]]] = {}  # per file, edits taken in this pass, by offsets
    taken: Taken = []
    for finding in unique.values():
        assert finding.fix is not None
        edits: dict[str, list[tuple[int, int, str]]] = {}
        problem = None
        for edit in finding.fix.edits:
            path = edit.span.path
            reason = allowed.refusal(path)
            if reason is None and path not in sources:
                try:
                    sources[path] = _read(path, cwd / path)
                except _Unusable as exc:
                    reason = str(exc)
            if reason is None and writing:
                reason = _unwritable(sources[path].real)
            if reason is not None:
                problem = (path, reason)
                break
            try:
                edits.setdefault(path, []).append(_offsets(sources[path].text, edit))
            except _Unusable as exc:
                problem = (path, str(exc))
                break
        if problem is None:
            crossed = next((path for path, mine in edits.items()
                            if any(_overlap(a, b) for i, a in enumerate(mine) for b in mine[:i])), None)
            if crossed is not None:
                problem = (crossed, "the fix's own edits overlap")
        if problem is not None:
            refuse(*problem, finding)
            continue
        if all(sources[path].text[start:end] == content for path, mine in edits.items() for start, end, content in mine):
            done.add(_key(finding))  # it changes nothing: counting it fixed would repeat it every pass
            continue
        if any(_overlap(edit, other) for path, mine in edits.items() for edit in mine
               for other in placed.get(path, ())):
            continue  # for a later pass, once the fixes taken so far are in the text
        for path, mine in edits.items():
            placed.setdefault(path, []).extend(e for e in mine if e not in placed.get(path, ()))
        taken.append((finding, edits))
    kept = {_key(f) for f in _unbroken(taken, sources, refuse)}
    # A finding whose fix is the same as one applied is fixed too.
    return [f for f in candidates if _key(f) in kept]


def _unbroken(taken: Taken, sources: dict[str, Source], refuse: Callable[[str, str, Finding], None]) -> list[Finding]:
    """Put the edits of the fixes taken into the texts, except those of a fix that would leave
    a file unparsable: where a file breaks, its fixes are tried again one by one, in order,
    each kept if the files it touches still load with it and those kept before."""

    def texts(fixes: Taken, paths) -> dict[str, str]:
        return {path: _apply(sources[path].text, _merged(fixes, path)) for path in paths}

    def breakage(fixes: Taken, paths) -> tuple[str, str] | None:
        for path, text in texts(fixes, paths).items():
            why = _breaks(sources[path], text)
            if why is not None:
                return path, why
        return None

    touched = {path for _, edits in taken for path in edits}
    broken = {path for path in touched if breakage(taken, [path]) is not None}
    kept = [(f, edits) for f, edits in taken if not broken & edits.keys()]
    for finding, edits in (t for t in taken if broken & t[1].keys()):
        problem = breakage([*kept, (finding, edits)], edits)
        if problem is None:
            kept.append((finding, edits))
        else:
            refuse(*problem, finding)
    for path, text in texts(kept, {path for _, edits in kept for path in edits}).items():
        sources[path].text = text
    return [finding for finding, _ in kept]


def _merged(taken: Taken, path: str) -> list[tuple[int, int, str]]:
    return list(dict.fromkeys(e for _, edits in taken for e in edits.get(path, ())))


def _overlap(a: tuple[int, int, str], b: tuple[int, int, str]) -> bool:
    if a == b:
        return False  # the same edit, from two fixes: applied once
    if a[0] == a[1] and b[0] == b[1]:
        return a[0] == b[0]  # two insertions at one place: their order is unknown
    return a[0] < b[1] and b[0] < a[1] or a[0] == a[1] == b[0] or b[0] == b[1] == a[0]


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    for start, end, content in sorted(edits, reverse=True):
        text = text[:start] + content + text[end:]
    return text


def _offsets(text: str, edit: Edit) -> tuple[int, int, str]:
    """The character offsets of an edit's span in text (lines and columns 1-based, the end
    exclusive, as qlint.model.Span and the language server's conversion count them), and its
    content in the text's line endings."""
    lines = lines_of(text)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(line: int, column: int) -> int:
        if line == len(lines) + 1 and column == 1:
            return len(text)  # the end of a file whose last line has no line ending
        if not 1 <= line <= len(lines) or not 1 <= column <= len(lines[line - 1].rstrip("\r\n")) + 1:
            raise _Unusable(f"a fix's position {line}:{column} is not in the file")
        return starts[line - 1] + column - 1

    span = edit.span
    start, end = offset(span.line, span.column), offset(span.end_line, span.end_column)
    if end < start:
        raise _Unusable(f"a fix's range ends before it starts ({span.line}:{span.column})")
    content = edit.content
    if "\n" in content and lines and lines[0].endswith(("\r\n", "\r")):
        ending = "\r\n" if lines[0].endswith("\r\n") else "\r"
        content = content.replace("\r\n", "\n").replace("\n", ending)
    return start, end, content


def _is_python(path: str) -> bool:
    return path.endswith((".py", ".pyi", ".pyw"))


def _read(path: str, full: Path) -> Source:
    from qlint.sources.read import SourceError, decode_python, decode_text, read_bytes

    try:
        data = read_bytes(full)
        if _is_python(path):
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
            text = decode_python(path, data)
        else:
            encoding = "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
            text = decode_text(data)
    except (SourceError, SyntaxError) as exc:
        raise _Unusable(f"cannot read it: {exc}") from None
    if encoding == "utf-8" and data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    return Source(path, full.resolve(), data, encoding, text, text)


def _unwritable(real: Path) -> str | None:
    """Why the file cannot be written, or None. A file with no write permission for anyone is
    taken as read-only on purpose, even by a user (root) whom the permissions do not stop."""
    try:
        mode = os.stat(real).st_mode
    except OSError as exc:
        return f"cannot write it: {exc.strerror}"
    if not mode & 0o222 or not os.access(real, os.W_OK):
        return "the file is read-only"
    if not os.access(real.parent, os.W_OK | os.X_OK):
        return "its folder is read-only"
    return None


def _breaks(source: Source, text: str) -> str | None:
    """Why the edited text no longer loads as the file's kind, or None. A file that did not
    load before its edits is held to nothing (the edits did not break it)."""
    try:
        source.encoded(text)
    except UnicodeEncodeError:
        return f"the fixed text cannot be written in the file's encoding ({source.encoding})"
    check = _loader(source.path)
    if check is None:
        return None
    if check(source.original) is not None:
        return None
    problem = check(text)
    return None if problem is None else f"the fixes would leave it unreadable ({problem})"


def _loader(path: str) -> Callable[[str], str | None] | None:
    """A check that a text loads as what path is (Python, YAML, TOML, a deployment file),
    returning why not."""
    name = path.rpartition("/")[2].lower()
    if _is_python(path):
        return _python_problem
    if name.endswith((".yml", ".yaml")):
        return lambda text: _yaml_problem(text) or _deployment_problem(path, text)
    if name.endswith(".toml"):
        return lambda text: _toml_problem(text) or _deployment_problem(path, text)
    return lambda text: _deployment_problem(path, text)


def _python_problem(text: str) -> str | None:
    """Whether CPython parses the text, or, for syntax newer than this interpreter, libcst
    does (as qlint/sources/python.py reads files)."""
    import ast

    try:
        ast.parse(text)
        return None
    except (SyntaxError, ValueError) as exc:
        error = exc
    except (RecursionError, MemoryError):
        return "nested too deeply to parse"
    from qlint.sources.newer_syntax import rewritten

    readable = rewritten(text)
    if readable is not None:
        try:
            ast.parse(readable)
            return None
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass
    import libcst

    try:
        libcst.parse_module(text)
        return None
    except Exception:  # libcst's native parser raises more than its ParserSyntaxError
        return f"syntax error: {getattr(error, 'msg', error)}"


def _yaml_problem(text: str) -> str | None:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        list(YAML(typ="rt").load_all(text))
        return None
    except YAMLError as exc:
        return f"invalid YAML: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    except (RecursionError, ValueError) as exc:
        return f"invalid YAML: {exc}"


def _toml_problem(text: str) -> str | None:
    import tomllib

    try:
        tomllib.loads(text)
        return None
    except tomllib.TOMLDecodeError as exc:
        return f"invalid TOML: {exc}"


def _deployment_problem(path: str, text: str) -> str | None:
    from qlint.sources.deploy.discover import read_deploy_file

    facts = read_deploy_file(path, text)
    return None if facts is None or facts.error is None else facts.error


class _Allowed:
    """The files --fix may write: under the project root and the paths checked, links
    followed; a link that leads out of them is not followed."""

    def __init__(self, cwd: Path, root: Path, paths: Sequence[str]) -> None:
        self.cwd = cwd
        self.root = root.resolve()
        self.targets = [(cwd / p).resolve() for p in paths]

    def refusal(self, path: str) -> str | None:
        real = (self.cwd / path).resolve()
        if not real.is_relative_to(self.root) or not any(real == t or real.is_relative_to(t) for t in self.targets):
            linked = real != Path(os.path.abspath(self.cwd / path))
            return "a link to a file outside the paths checked" if linked else "outside the paths checked"
        if not real.is_file():
            return "not a regular file"
        return None


def write_files(run: FixRun) -> list[tuple[str, str]]:
    """Write every changed file, each atomically (a temporary file beside it, then a rename),
    keeping its permissions; return (path, error) for each that could not be written."""
    errors = []
    for source in run.changed:
        try:
            if source.real.read_bytes() != source.data:
                errors.append((source.path, "it changed while qlint ran"))
                continue
            _write_atomic(source.real, source.encoded())
        except OSError as exc:
            errors.append((source.path, exc.strerror or str(exc)))
    return errors


def _write_atomic(real: Path, data: bytes) -> None:
    before = os.stat(real)
    handle, temporary = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.", suffix=".qlint-fix")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, stat.S_IMODE(before.st_mode))
        if hasattr(os, "chown") and (before.st_uid, before.st_gid) != (os.getuid(), os.getgid()):
            try:
                os.chown(temporary, before.st_uid, before.st_gid)
            except OSError:
                pass  # only root may give the file back to its owner
        os.replace(temporary, real)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
