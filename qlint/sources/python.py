"""Python files to facts: the nodes of ir.py, from CPython's syntax tree or from libcst's.

CPython parses the file (it is also what measures it, and gives the plainer syntax error).
The text is cut into its top-level statements (chunks.py) and each is converted on its
own by from_ast.py; a re-parse after an edit converts only the statements that changed.
The body of a function that mentions nothing Celery-related is not converted. A file the
running interpreter cannot parse (syntax newer than it, or an error) goes to libcst whole
(from_libcst.py), unless it is newer syntax that newer_syntax.py rewrites for this parser;
tests/sources/test_from_ast.py holds the two converters to the same facts.
"""
from __future__ import annotations

import ast
import re
import sys
from typing import Iterator

from qlint.model import Span
from qlint.sources import ir
from qlint.sources import from_ast
from qlint.sources.chunks import Chunk, lines_of, statement_chunks
from qlint.sources.read import SourceError, decode_python, may_use_an_app, mentions_celery
from qlint.sources.templates import PYTHON_NOTE, in_template_folder, is_python_template
from qlint.sources.newer_syntax import rewritten

# Function bodies are read only when they may call or define something Celery cares about.
# A wait (.get(), .join()) matters only on a result the same function obtains by sending a
# task, calling a canvas or building an AsyncResult, so those words stand for it. A factory
# of task decorators (`return app.task(name=name, **options)`, a decorator calling
# shared_task(...)(func) or another factory) is run where it decorates a function.
_BODY_MARKERS = re.compile(
    r"task\(|\.task\b|shared_task|"
    r"\.delay\(|apply_async|\.si?\(|signature\(|send_task|chord|chain|group\(|AsyncResult|GroupResult|"
    r"revoke|\.retry\(|on_commit|atomic|\.conf\b|config_from_object|Celery\(|CELERY|"
    r"DJANGO_SETTINGS_MODULE|control\.terminate|allow_join_result|disable_sync_subtasks|register_type\(|"
    r"register\(\s*[\"']json|\||environ|getenv|TaskResult|backend\.cleanup|"
    # transactions (QL305): where one opens or commits
    r"\.tm\b|transaction\.manager|\.begin(?:_nested)?\(|commit\(|pyramid_tm"
)
_ENVIRON = re.compile(r"environ|getenv")
_HELPER_LINES = 25

# Deepest expression qlint converts (ir.MAX_DEPTH). CPython itself refuses more than 200
# nested brackets, so only long operator chains (a + b + ... or a.b.c...) come near it.
MAX_DEPTH = ir.MAX_DEPTH
# Largest file qlint parses. A syntax tree takes about 150 to 600 bytes of memory per byte of
# source (a 7.9 MB list literal: 4.1 GB; a million one-line statements: 3.3 GB and 40 s);
# modules with Celery code are far smaller than this, generated data files are not.
MAX_PARSE_CHARS = 1024 * 1024


def parse_file(path: str, data: bytes, calls: frozenset[str] = frozenset(),
               every_body: bool = False) -> ir.ModuleFacts:
    """The facts of a file's bytes: decoded as Python would, then parse_facts().
    calls: names of project functions known to send tasks; a function calling one is read.
    every_body: every function's body is read, whatever it mentions."""
    try:
        text = decode_python(path, data)
    except SourceError as exc:
        return ir.ModuleFacts(path, (), error=str(exc), error_span=Span(path, 1))
    facts = parse_facts(path, text, calls, every_body)
    if facts.error is not None and facts.error.startswith("syntax error") and is_python_template(path, text):
        # Not QL000: the file is fine, it is just not Python until rendered.
        return ir.ModuleFacts(path, (), error=PYTHON_NOTE, lines=facts.lines, mentions_celery=False)
    return facts


def parse_facts(path: str, text: str, calls: frozenset[str] = frozenset(),
                every_body: bool = False) -> ir.ModuleFacts:
    """Extract the facts of one Python file. Never raises for bad input."""
    lines = text.count("\n") + 1
    if len(text) > MAX_PARSE_CHARS:
        return ir.ModuleFacts(path, (), error=f"file too large to check ({len(text):,} characters, {lines:,} lines; "
                                               f"qlint parses Python files of up to {MAX_PARSE_CHARS:,})",
                              error_span=Span(path, 1), lines=lines)
    data = text.encode("utf-8", "replace")
    tree, refused, cpython_error = _measure(text)
    if tree is None and refused is None and sys.version_info < (3, 14):
        readable = rewritten(text)  # newer syntax, rewritten for this parser (newer_syntax.py)
        if readable is not None and (retried := _measure(readable))[0] is not None:
            text, (tree, refused, cpython_error) = readable, retried
    if refused is not None:
        line, message = refused
        return ir.ModuleFacts(path, (), error=message, error_span=Span(path, line), lines=lines)
    if tree is None and in_template_folder(path):
        # A cookiecutter project's file that does not parse is a template: asking libcst would
        # cost its import (a quarter of a second in each process) to learn nothing.
        return ir.ModuleFacts(path, (), error=PYTHON_NOTE, lines=lines, mentions_celery=False)
    try:
        with ir.deep_recursion():
            if tree is None:  # syntax this interpreter does not know: libcst decides, on the whole file
                body = _from_libcst(path, text)
            else:
                # A module with no Celery marker at all (read because a name it defines is
                # used elsewhere) cannot send a task from any function: only signatures matter.
                inert = not calls and not every_body and not mentions_celery(data) and not may_use_an_app(data)
                body = _convert_chunks(path, text, tree, inert, calls, every_body)
    except _Unreadable as exc:
        if cpython_error is not None:  # both refuse it: CPython says where and why more plainly
            exc = _Unreadable(_error_span(path, cpython_error), f"syntax error: {cpython_error.msg}")
        return ir.ModuleFacts(path, (), error=exc.message, error_span=exc.span, lines=lines)
    return ir.ModuleFacts(path, body, lines=lines, mentions_celery=mentions_celery(data))


def with_bodies_at(facts: ir.ModuleFacts, data: bytes, line: int) -> ir.ModuleFacts | None:
    """facts with the top-level statement that holds `line` (a class or a function) converted
    again with every function body in it: that statement's text alone is parsed, not the file.
    None where the file or the statement cannot be read so."""
    if facts.error is not None:
        return None
    try:
        text = decode_python(facts.path, data)
    except SourceError:
        return None
    lines = lines_of(text)
    starts = [_first_line(stmt) for stmt in facts.body]
    at = max((i for i, start in enumerate(starts) if start <= line), default=None)
    if at is None or not isinstance(facts.body[at], (ir.ClassDef, ir.FuncDef)):
        return None
    end = starts[at + 1] - 1 if at + 1 < len(starts) else len(lines)
    try:
        tree = ast.parse("\n" * (starts[at] - 1) + "".join(lines[starts[at] - 1:end]))
        converter = from_ast.Converter(facts.path, lines)
        with ir.deep_recursion():
            stmts = converter.block(list(tree.body))
    except (SyntaxError, ValueError, RecursionError, MemoryError, from_ast.TooDeep):
        return None
    body = facts.body[:at] + tuple(stmts) + facts.body[at + 1:]
    return ir.ModuleFacts(facts.path, body, lines=facts.lines, mentions_celery=facts.mentions_celery)


def _first_line(stmt: ir.Stmt) -> int:
    """Where a top-level statement's text starts: its first decorator, or its own line."""
    decorators = getattr(stmt, "decorators", ())
    return min([stmt.span.line, *(d.span.line for d in decorators)])


class _Unreadable(Exception):
    def __init__(self, span: Span, message: str) -> None:
        super().__init__(message)
        self.span = span
        self.message = message


# path -> {chunk text: (first line, statements)} from the last parse of that
# file, and the mode it was converted in (inert, reads the environment, the calls that make a
# function read, whether every body is). A long-running process (the language server) keeps
# them (keep_chunks()) and converts only the statements that changed; a check parses each
# file once, and the chunks' text would hold its sources twice (49 MB on 50,000 files).
_Mode = tuple[bool, bool, str, bool]
_LAST_CHUNKS: dict[str, tuple[_Mode, dict[str, tuple[int, tuple[ir.Stmt, ...]]]]] = {}
_KEEP_CHUNKS = False


def keep_chunks() -> None:
    """Keep each file's converted statements for its next parse in this process."""
    global _KEEP_CHUNKS
    _KEEP_CHUNKS = True


def _convert_chunks(path: str, text: str, tree: ast.Module, inert: bool = False,
                    calls: frozenset[str] = frozenset(), every_body: bool = False) -> tuple[ir.Stmt, ...]:
    """The statements of the file."""
    reads_environ = inert and _ENVIRON.search(text) is not None
    lines = lines_of(text)
    chunks = statement_chunks(text, tree, lines)
    callers = None if inert else _callers_of_read(lines, chunks, calls)
    # chunks converted in another mode, or with other functions read, prune other functions
    mode = (inert, reads_environ, callers.pattern if callers is not None else "", every_body)
    was, previous = _LAST_CHUNKS.get(path, (mode, {}))
    if was != mode:
        previous = {}
    current: dict[str, tuple[int, tuple[ir.Stmt, ...]]] = {}
    body: list[ir.Stmt] = []
    converter = from_ast.Converter(path, lines)
    for chunk in chunks:
        known = current.get(chunk.text) or previous.get(chunk.text)
        if known is None:
            stmts = _convert_chunk(converter, chunk, inert, reads_environ, callers, every_body)
        else:
            first, stmts = known
            if first != chunk.first_line:
                stmts = tuple(ir.shift_lines(s, chunk.first_line - first) for s in stmts)
        current[chunk.text] = (chunk.first_line, stmts)
        body.extend(stmts)
    if _KEEP_CHUNKS:
        _LAST_CHUNKS[path] = (mode, current)
    return tuple(body)


def _convert_chunk(converter: from_ast.Converter, chunk: Chunk, inert: bool = False,
                   reads_environ: bool = False, callers: re.Pattern[str] | None = None,
                   every_body: bool = False) -> tuple[ir.Stmt, ...]:
    converter.pruned = frozenset() if every_body else \
        frozenset(id(f) for f in _pruned(converter.lines, chunk, inert, reads_environ, callers))
    converter.depth = 0
    try:
        return converter.block(list(chunk.statements))
    except from_ast.TooDeep as exc:
        raise _Unreadable(Span(converter.path, exc.line),
                          f"expression nested too deeply to analyse (more than {MAX_DEPTH} levels)") from None
    except RecursionError:
        raise _Unreadable(Span(converter.path, chunk.first_line), "expression nested too deeply to analyse") from None


def _from_libcst(path: str, text: str) -> tuple[ir.Stmt, ...]:
    from qlint.sources import from_libcst  # libcst is loaded only for the files that need it

    try:
        return from_libcst.convert(path, text)
    except from_libcst.Unparsable as exc:
        raise _Unreadable(exc.span, exc.message) from None


def _measure(text: str) -> tuple[ast.Module | None, tuple[int, str] | None, SyntaxError | None]:
    """CPython's parse of the text (None for syntax it does not know, with its error), and
    (line, message) when CPython refuses it as too deep. Depth within CPython's limits is
    bounded while converting (from_ast.TooDeep)."""
    try:
        return ast.parse(text), None, None
    except SyntaxError as exc:
        if "too many nested" in str(exc.msg):
            return None, (exc.lineno or 1, f"syntax error: {exc.msg}"), exc
        return None, None, exc  # an error, or newer syntax than this interpreter's: libcst decides
    except (RecursionError, MemoryError):
        return None, (1, f"expression nested too deeply to parse (more than {MAX_DEPTH} levels)"), None
    except ValueError:  # null bytes
        return None, None, None


def _error_span(path: str, error: SyntaxError) -> Span:
    line, column = error.lineno or 1, max(error.offset or 1, 1)
    end_line = getattr(error, "end_lineno", None) or line
    end_column = getattr(error, "end_offset", None) or column
    if (end_line, end_column) < (line, column):
        end_line, end_column = line, column
    return Span(path, line, column, end_line, end_column)


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _pruned(lines: list[str], chunk: Chunk, every: bool = False, reads_environ: bool = False,
            callers: re.Pattern[str] | None = None) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    """The functions whose body is not converted: those whose text mentions nothing Celery
    cares about, and that call no function of the module whose body is read (`callers`, see
    _callers_of_read). That holds for top-level functions and for the methods of top-level
    classes (nested classes too); a function nested in a function is read with it; with `every`
    (a module with no Celery marker), all of them, except short ones where the module reads the
    environment (reads_environ)."""
    for function, own_from in _prunable(chunk):
        end = function.end_lineno or function.lineno
        text = "".join(lines[own_from - 1:end])
        if every:
            # In a module that reads the environment, a short function may be a settings helper
            # (get_bool(name, default), or env_int() built on it): the resolver evaluates those
            # where settings call them.
            if end - own_from >= _HELPER_LINES or not reads_environ:
                yield function
        elif not _BODY_MARKERS.search(text) and not (callers and callers.search(_body_text(lines, function))):
            yield function


# A module's functions whose bodies are read can make others worth reading: QL305 follows a
# call made in a transaction through `self._queue(order)` into the method that sends. Bounded:
# once more functions than this are read, no further ones are added for calling them.
_MAX_CALLED = 200


def _callers_of_read(lines: list[str], chunks: list[Chunk],
                     calls: frozenset[str] = frozenset()) -> re.Pattern[str] | None:
    """A pattern for calls of the module's functions whose bodies are read (`name(`, also as
    `self.name(`) and of `calls`, closed over calls: a function calling one is read too. None
    when no body is."""
    read: set[str] = set(calls)
    others: list[tuple[str, str]] = []
    for chunk in chunks:
        for function, own_from in _prunable(chunk):
            text = "".join(lines[own_from - 1:function.end_lineno or function.lineno])
            if _BODY_MARKERS.search(text):
                read.add(function.name)
            else:
                others.append((function.name, _body_text(lines, function)))
    pattern = None
    while read and len(read) <= _MAX_CALLED:
        pattern = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, read))) + r")\(")
        added = {name for name, body in others if name not in read and pattern.search(body)}
        if not added:
            break
        read |= added
    return pattern


def _body_text(lines: list[str], function: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """A function's text after its signature (a call of its own name there is not a call)."""
    first = function.body[0].lineno if function.body else function.lineno
    return "".join(lines[first - 1:function.end_lineno or function.lineno])


def _prunable(chunk: Chunk) -> Iterator[tuple[ast.FunctionDef | ast.AsyncFunctionDef, int]]:
    """Functions that may be pruned, each with the first line of its own text: for a
    top-level function the comments above it count (they are part of its chunk)."""
    if len(chunk.statements) != 1:
        return
    [stmt] = chunk.statements
    if isinstance(stmt, _FUNCTIONS):
        yield stmt, chunk.first_line
        return
    classes = [stmt] if isinstance(stmt, ast.ClassDef) else []
    while classes:
        for member in classes.pop().body:
            if isinstance(member, ast.ClassDef):
                classes.append(member)
            elif isinstance(member, _FUNCTIONS):
                yield member, min([member.lineno, *(d.lineno for d in member.decorator_list)])
