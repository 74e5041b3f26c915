"""Python files to facts: the nodes of ir.py, from CPython's syntax tree or from libcst's.

CPython parses the file (it is also what measures it, and gives the plainer syntax error).
The text is cut into its top-level statements (chunks.py) and each is converted on its
own by from_ast.py; a re-parse after an edit converts only the statements that changed.
The body of a function that mentions nothing Celery-related is not converted. A file the
running interpreter cannot parse (syntax newer than it, or an error) goes to libcst whole,
converted by _Converter below; tests/sources/test_from_ast.py holds the two to the same facts.
"""
from __future__ import annotations

import ast
import re
from typing import Iterator

import libcst as cst
from libcst.metadata import CodeRange, PositionProvider

from qlint.model import Span
from qlint.sources import ir
from qlint.sources import from_ast
from qlint.sources.chunks import Chunk, lines_of, statement_chunks
from qlint.sources.read import may_use_an_app, mentions_celery

# Function bodies are read only when they may call or define something Celery cares about.
# A wait (.get(), .join()) matters only on a result the same function obtains by sending a
# task, calling a canvas or building an AsyncResult, so those words stand for it.
_BODY_MARKERS = re.compile(
    r"\.delay\(|apply_async|\.si?\(|signature\(|send_task|chord|chain|group\(|AsyncResult|GroupResult|"
    r"revoke|\.retry\(|on_commit|atomic|\.conf\b|config_from_object|Celery\(|CELERY|"
    r"DJANGO_SETTINGS_MODULE|control\.terminate|allow_join_result|disable_sync_subtasks|register_type\(|"
    r"register\(\s*[\"']json|\|"
)

_BINOPS = {
    cst.Add: "+", cst.Subtract: "-", cst.Multiply: "*", cst.Divide: "/", cst.FloorDivide: "//",
    cst.Modulo: "%", cst.Power: "**", cst.BitOr: "|", cst.BitAnd: "&", cst.BitXor: "^",
    cst.LeftShift: "<<", cst.RightShift: ">>", cst.MatrixMultiply: "@",
}
_AUGOPS = {
    cst.AddAssign: "+", cst.SubtractAssign: "-", cst.MultiplyAssign: "*", cst.DivideAssign: "/",
    cst.FloorDivideAssign: "//", cst.ModuloAssign: "%", cst.PowerAssign: "**", cst.BitOrAssign: "|",
    cst.BitAndAssign: "&", cst.BitXorAssign: "^", cst.LeftShiftAssign: "<<",
    cst.RightShiftAssign: ">>", cst.MatrixMultiplyAssign: "@",
}
_UNARY = {cst.Minus: "-", cst.Plus: "+", cst.Not: "not", cst.BitInvert: "~"}
_COMPARE = {
    cst.Equal: "==", cst.NotEqual: "!=", cst.LessThan: "<", cst.LessThanEqual: "<=",
    cst.GreaterThan: ">", cst.GreaterThanEqual: ">=", cst.In: "in", cst.NotIn: "not in",
    cst.Is: "is", cst.IsNot: "is not",
}


# Deepest expression qlint converts (ir.MAX_DEPTH). libcst's parser and position
# metadata recurse several frames per level; CPython itself refuses more than 200
# nested brackets, so only long operator chains (a + b + ... or a.b.c...) come near it.
MAX_DEPTH = ir.MAX_DEPTH


def parse_facts(path: str, text: str) -> ir.ModuleFacts:
    """Extract the facts of one Python file. Never raises for bad input."""
    lines = text.count("\n") + 1
    tree, refused, cpython_error = _measure(text)
    if refused is not None:
        line, message = refused
        return ir.ModuleFacts(path, (), error=message, error_span=Span(path, line), lines=lines)
    try:
        with ir.deep_recursion():
            if tree is None:  # syntax this interpreter does not know: libcst decides, on the whole file
                body = _from_libcst(path, text)
            else:
                data = text.encode("utf-8", "replace")
                # A module with no Celery marker at all (read because a name it defines is
                # used elsewhere) cannot send a task from any function: only signatures matter.
                inert = not mentions_celery(data) and not may_use_an_app(data)
                body = _convert_chunks(path, text, tree, inert)
    except _Unreadable as exc:
        if cpython_error is not None:  # both refuse it: CPython says where and why more plainly
            exc = _Unreadable(_error_span(path, cpython_error), f"syntax error: {cpython_error.msg}")
        return ir.ModuleFacts(path, (), error=exc.message, error_span=exc.span, lines=lines)
    return ir.ModuleFacts(path, body, lines=lines, mentions_celery=mentions_celery(text.encode("utf-8", "replace")))


class _Unreadable(Exception):
    def __init__(self, span: Span, message: str) -> None:
        super().__init__(message)
        self.span = span
        self.message = message


# path -> {chunk text: (first line, statements)} from the last parse of that file, and
# whether it was inert. A long-running process (the language server) converts only the
# statements that changed.
_LAST_CHUNKS: dict[str, tuple[bool, dict[str, tuple[int, tuple[ir.Stmt, ...]]]]] = {}


def _convert_chunks(path: str, text: str, tree: ast.Module, inert: bool = False) -> tuple[ir.Stmt, ...]:
    was_inert, previous = _LAST_CHUNKS.get(path, (inert, {}))
    if was_inert != inert:
        previous = {}
    current: dict[str, tuple[int, tuple[ir.Stmt, ...]]] = {}
    body: list[ir.Stmt] = []
    lines = lines_of(text)
    converter = from_ast.Converter(path, lines)
    for chunk in statement_chunks(text, tree, lines):
        known = current.get(chunk.text) or previous.get(chunk.text)
        if known is None:
            stmts = _convert_chunk(converter, chunk, inert)
        else:
            first, stmts = known
            if first != chunk.first_line:
                stmts = tuple(ir.shift_lines(s, chunk.first_line - first) for s in stmts)
        current[chunk.text] = (chunk.first_line, stmts)
        body.extend(stmts)
    _LAST_CHUNKS[path] = (inert, current)
    return tuple(body)


def _convert_chunk(converter: from_ast.Converter, chunk: Chunk, inert: bool = False) -> tuple[ir.Stmt, ...]:
    converter.pruned = frozenset(id(f) for f in _pruned(converter.lines, chunk, inert))
    converter.depth = 0
    try:
        return converter.block(list(chunk.statements))
    except from_ast.TooDeep as exc:
        raise _Unreadable(Span(converter.path, exc.line),
                          f"expression nested too deeply to analyse (more than {MAX_DEPTH} levels)") from None
    except RecursionError:
        raise _Unreadable(Span(converter.path, chunk.first_line), "expression nested too deeply to analyse") from None


def _from_libcst(path: str, text: str) -> tuple[ir.Stmt, ...]:
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        where = Span(path, max(exc.raw_line, 1), max(exc.raw_column, 0) + 1)
        raise _Unreadable(where, f"syntax error: {exc.message}") from None
    except RecursionError:
        raise _Unreadable(Span(path, 1), "expression nested too deeply to parse") from None
    except Exception as exc:  # libcst's native parser may raise other errors on odd input
        raise _Unreadable(Span(path, 1), f"cannot parse: {exc}") from None
    try:
        return _Converter(path, module).convert()
    except RecursionError:
        raise _Unreadable(Span(path, 1), "expression nested too deeply to analyse") from None


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


def _pruned(lines: list[str], chunk: Chunk, every: bool = False) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    """The functions whose body is not converted: those whose text mentions nothing Celery
    cares about. That holds for top-level functions and for the methods of top-level classes
    (nested classes too); a function nested in a function is read with it; with `every`,
    all of them."""
    for function, own_from in _prunable(chunk):
        if every or not _BODY_MARKERS.search("".join(lines[own_from - 1:function.end_lineno or function.lineno])):
            yield function


def _prunable(chunk: Chunk) -> Iterator[tuple[ast.FunctionDef | ast.AsyncFunctionDef, int]]:
    """Functions that may be pruned, each with the first line of its own text: for a
    top-level function the comments above it count, as libcst attaches them to it."""
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


def _positions(module: cst.Module) -> dict[cst.CSTNode, CodeRange]:
    """Every node's range, from the one code-generation pass of PositionProvider.

    MetadataWrapper.resolve() would also walk the whole tree once more for batchable
    providers even when none is asked for: a third of the time, on every file parsed.
    """
    provider = PositionProvider()
    provider._computed = {}
    provider._gen_impl(module)
    return provider._computed  # type: ignore[return-value]


class _Converter:
    def __init__(self, path: str, module: cst.Module) -> None:
        self.path = path
        self.module = module
        self.positions: dict[cst.CSTNode, CodeRange] = {}

    def convert(self) -> tuple[ir.Stmt, ...]:
        self.positions = _positions(self.module)
        out: list[ir.Stmt] = []
        for stmt in self.module.body:
            out.extend(self.stmt(stmt))
        return tuple(out)

    def span(self, node: cst.CSTNode) -> Span:
        rng = self.positions.get(node)
        if rng is None:
            return Span(self.path, 1, 1)
        return Span(self.path, rng.start.line, rng.start.column + 1, rng.end.line, rng.end.column + 1)

    def source(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node).strip()

    # ------------------------------------------------------------ statements

    def block(self, body: cst.BaseSuite | None) -> tuple[ir.Stmt, ...]:
        if body is None:
            return ()
        out: list[ir.Stmt] = []
        if isinstance(body, cst.SimpleStatementSuite):
            for small in body.body:
                out.extend(self.small(small))
            return tuple(out)
        for stmt in body.body:
            out.extend(self.stmt(stmt))
        return tuple(out)

    def stmt(self, node: cst.CSTNode) -> list[ir.Stmt]:
        if isinstance(node, cst.SimpleStatementLine):
            out: list[ir.Stmt] = []
            for small in node.body:
                out.extend(self.small(small))
            return out
        if isinstance(node, cst.If):
            return [self.if_(node)]
        if isinstance(node, (cst.Try, cst.TryStar)):
            handlers = tuple(
                (self.source(h.type) if h.type is not None else "", self.block(h.body)) for h in node.handlers
            )
            orelse = self.block(node.orelse.body) if node.orelse else ()
            final = self.block(node.finalbody.body) if node.finalbody else ()
            return [ir.Try(self.block(node.body), handlers, orelse, final, self.span(node))]
        if isinstance(node, cst.FunctionDef):
            return [self.funcdef(node)]
        if isinstance(node, cst.ClassDef):
            return [self.classdef(node)]
        if isinstance(node, cst.With):
            header = tuple(self.expr(item.item) for item in node.items)
            targets = tuple(self.expr(item.asname.name) for item in node.items if item.asname is not None)
            return [ir.Block("with", header, targets, self.block(node.body), self.span(node))]
        if isinstance(node, cst.For):
            return [ir.Block("for", (self.expr(node.iter),), (self.expr(node.target),),
                             self.block(node.body) + (self.block(node.orelse.body) if node.orelse else ()), self.span(node))]
        if isinstance(node, cst.While):
            return [ir.Block("while", (self.expr(node.test),), (), self.block(node.body), self.span(node))]
        if isinstance(node, cst.Match):
            body: list[ir.Stmt] = []
            for case in node.cases:
                body.extend(self.block(case.body))
            return [ir.Block("match", (self.expr(node.subject),), (), tuple(body), self.span(node))]
        return []

    def if_(self, node: cst.If) -> ir.If:
        orelse: tuple[ir.Stmt, ...] = ()
        if isinstance(node.orelse, cst.If):
            orelse = (self.if_(node.orelse),)
        elif isinstance(node.orelse, cst.Else):
            orelse = self.block(node.orelse.body)
        return ir.If(self.expr(node.test), self.source(node.test), self.block(node.body), orelse, self.span(node.test))

    def small(self, node: cst.BaseSmallStatement) -> list[ir.Stmt]:
        if isinstance(node, cst.Assign):
            targets = tuple(self.expr(t.target) for t in node.targets)
            return [ir.Assign(targets, self.expr(node.value), self.span(node))]
        if isinstance(node, cst.AnnAssign):
            if node.value is None:
                return []
            return [ir.Assign((self.expr(node.target),), self.expr(node.value), self.span(node))]
        if isinstance(node, cst.AugAssign):
            return [ir.AugAssign(self.expr(node.target), _AUGOPS.get(type(node.operator), "?"), self.expr(node.value), self.span(node))]
        if isinstance(node, cst.Expr):
            return [ir.ExprStmt(self.expr(node.value), self.span(node))]
        if isinstance(node, cst.Return):
            return [ir.Return(self.expr(node.value) if node.value is not None else None, self.span(node))]
        if isinstance(node, cst.Raise):
            return [ir.Raise(self.expr(node.exc) if node.exc is not None else None, self.span(node))]
        if isinstance(node, cst.Import):
            names = tuple((_dotted(a.name), _dotted(a.asname.name) if a.asname else None) for a in node.names)
            return [ir.Import(names, self.span(node))]
        if isinstance(node, cst.ImportFrom):
            module = _dotted(node.module) if node.module is not None else ""
            level = len(node.relative)
            if isinstance(node.names, cst.ImportStar):
                names: tuple[tuple[str, str | None], ...] = ()
            else:
                names = tuple((_dotted(a.name), _dotted(a.asname.name) if a.asname else None) for a in node.names)
            return [ir.ImportFrom(module, level, names, self.span(node))]
        return []

    def funcdef(self, node: cst.FunctionDef) -> ir.FuncDef:
        params: list[ir.Param] = []
        p = node.params
        for param in p.posonly_params:
            params.append(self.param(param, "posonly"))
        for param in p.params:
            params.append(self.param(param, "pos"))
        if isinstance(p.star_arg, cst.Param):
            params.append(ir.Param(p.star_arg.name.value, "varargs", False))
        for param in p.kwonly_params:
            params.append(self.param(param, "kwonly"))
        if p.star_kwarg is not None:
            params.append(ir.Param(p.star_kwarg.name.value, "varkw", False))
        decorators = tuple(self.expr(d.decorator) for d in node.decorators)
        return ir.FuncDef(node.name.value, tuple(params), decorators, self.block(node.body), self.span(node.name),
                          is_async=node.asynchronous is not None)

    def param(self, param: cst.Param, kind: str) -> ir.Param:
        default = self.expr(param.default) if param.default is not None else None
        return ir.Param(param.name.value, kind, param.default is not None, default)

    def classdef(self, node: cst.ClassDef) -> ir.ClassDef:
        bases = tuple(self.expr(a.value) for a in node.bases)
        keywords = tuple((a.keyword.value, self.expr(a.value)) for a in node.keywords if a.keyword is not None)
        decorators = tuple(self.expr(d.decorator) for d in node.decorators)
        return ir.ClassDef(node.name.value, bases, keywords, decorators, self.block(node.body), self.span(node.name))

    # ------------------------------------------------------------ expressions

    def expr(self, node: cst.BaseExpression) -> ir.Expr:
        span = self.span(node)
        if isinstance(node, cst.Name):
            if node.value in ("True", "False", "None"):
                return ir.Const({"True": True, "False": False, "None": None}[node.value], span)
            return ir.Name(node.value, span)
        if isinstance(node, (cst.Integer, cst.Float, cst.Imaginary)):
            return ir.Const(node.evaluated_value, span)
        if isinstance(node, cst.SimpleString):
            try:
                return ir.Const(node.evaluated_value, span)
            except Exception:
                return ir.Opaque("string literal that cannot be evaluated", span)
        if isinstance(node, cst.ConcatenatedString):
            left, right = self.expr(node.left), self.expr(node.right)
            if isinstance(left, ir.Const) and isinstance(right, ir.Const) and type(left.value) is type(right.value):
                return ir.Const(left.value + right.value, span)
            parts = _fparts(left) + _fparts(right)
            return ir.FStr(parts, span)
        if isinstance(node, cst.FormattedString):
            parts: list[str | ir.Expr] = []
            for part in node.parts:
                if isinstance(part, cst.FormattedStringText):
                    parts.append(part.value.replace("{{", "{").replace("}}", "}"))
                elif part.conversion is None and part.format_spec is None:
                    parts.append(self.expr(part.expression))
                else:
                    return ir.Opaque("f-string with a format specification", span)
            return ir.FStr(tuple(parts), span)
        if isinstance(node, cst.Attribute):
            return ir.Attr(self.expr(node.value), node.attr.value, span)
        if isinstance(node, cst.Subscript):
            if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
                return ir.Sub(self.expr(node.value), self.expr(node.slice[0].slice.value), span)
            return ir.Opaque("slice", span)
        if isinstance(node, cst.Call):
            args: list[ir.Expr] = []
            kwargs: list[tuple[str | None, ir.Expr]] = []
            for arg in node.args:
                value = self.expr(arg.value)
                if arg.keyword is not None:
                    kwargs.append((arg.keyword.value, value))
                elif arg.star == "**":
                    kwargs.append((None, value))
                elif arg.star == "*":
                    args.append(ir.Starred(value, self.span(arg)))
                else:
                    args.append(value)
            return ir.Call(self.expr(node.func), tuple(args), tuple(kwargs), span)
        if isinstance(node, cst.BinaryOperation):
            return ir.BinOp(_BINOPS.get(type(node.operator), "?"), self.expr(node.left), self.expr(node.right), span)
        if isinstance(node, cst.UnaryOperation):
            return ir.UnaryOp(_UNARY.get(type(node.operator), "?"), self.expr(node.expression), span)
        if isinstance(node, cst.BooleanOperation):
            op = "and" if isinstance(node.operator, cst.And) else "or"
            return ir.BoolOp(op, (self.expr(node.left), self.expr(node.right)), span)
        if isinstance(node, cst.Comparison):
            ops = tuple((_COMPARE.get(type(t.operator), "?"), self.expr(t.comparator)) for t in node.comparisons)
            return ir.Compare(self.expr(node.left), ops, span)
        if isinstance(node, cst.IfExp):
            return ir.IfExp(self.expr(node.test), self.expr(node.body), self.expr(node.orelse), span, self.source(node.test))
        if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
            kind = {cst.List: "list", cst.Tuple: "tuple", cst.Set: "set"}[type(node)]
            elts = tuple(
                ir.Starred(self.expr(e.value), self.span(e)) if isinstance(e, cst.StarredElement) else self.expr(e.value)
                for e in node.elements
            )
            return ir.Coll(kind, elts, span)
        if isinstance(node, cst.Dict):
            items: list[tuple[ir.Expr | None, ir.Expr]] = []
            for element in node.elements:
                if isinstance(element, cst.StarredDictElement):
                    items.append((None, self.expr(element.value)))
                else:
                    items.append((self.expr(element.key), self.expr(element.value)))
            return ir.DictE(tuple(items), span)
        if isinstance(node, cst.NamedExpr):
            return self.expr(node.value)
        return ir.Opaque(f"{type(node).__name__} expression", span)


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


def _fparts(expr: ir.Expr) -> tuple[str | ir.Expr, ...]:
    if isinstance(expr, ir.FStr):
        return expr.parts
    if isinstance(expr, ir.Const) and isinstance(expr.value, str):
        return (expr.value,)
    return (expr,)
