"""CPython's syntax tree to the nodes of ir.py: the same facts as python.py's libcst
converter, from the parse that the interpreter's own C parser has already made.

libcst's parse plus its position metadata cost tens of times what `ast.parse` does, and
the facts need neither the whitespace nor the round trip that libcst keeps. Every file
CPython accepts is read here; libcst reads the rest (syntax newer than the running
interpreter, and files that do not parse, for its error). tests/sources/test_from_ast.py
holds the two converters to the same output.

Columns: CPython counts UTF-8 bytes, qlint's spans count characters (as libcst and
editors' UTF-32 positions do), so a line with non-ASCII text is converted.
"""
from __future__ import annotations

import ast
import re

from qlint.model import Span
from qlint.sources import ir

_BINOPS = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**",
    ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>", ast.MatMult: "@",
}
_UNARY = {ast.USub: "-", ast.UAdd: "+", ast.Not: "not", ast.Invert: "~"}
_COMPARE = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.In: "in",
    ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not",
}
# What python.py calls the expressions it does not evaluate (libcst's class names).
_OPAQUE = {ast.YieldFrom: "Yield", ast.Starred: "StarredElement", ast.FormattedValue: "FormattedStringExpression"}
_OWN_PARENS = (ast.Tuple, ast.GeneratorExp)
_COMPS = {ast.DictComp: "dict", ast.ListComp: "list", ast.SetComp: "set", ast.GeneratorExp: "gen"}
_DEF_NAME = re.compile(r"(?:async\s+)?(?:def|class)\s+(\w+)")


class TooDeep(Exception):
    """An expression nested deeper than ir.MAX_DEPTH levels (a long operator chain)."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class Converter:
    """Converts the statements of one file; `pruned` holds the function nodes whose body
    is not read (python.py decides which)."""

    def __init__(self, path: str, lines: list[str], pruned: frozenset[int] = frozenset()) -> None:
        self.path = path
        self.lines = lines  # the file's lines, with their endings (chunks.lines_of)
        self.pruned = pruned  # id() of the FunctionDef nodes whose body is left out
        self._encoded: dict[int, bytes] = {}
        self.depth = 0  # of the expression being converted

    # ------------------------------------------------------------ positions

    def _column(self, line: int, offset: int) -> int:
        """The character column (0-based) of a UTF-8 byte offset on a 1-based line."""
        if not 0 < line <= len(self.lines):
            return offset
        text = self.lines[line - 1]
        if text.isascii():
            return offset
        data = self._encoded.get(line)
        if data is None:
            data = self._encoded[line] = text.encode("utf-8")
        return len(data[:offset].decode("utf-8", "replace"))

    def _raw(self, node: ast.AST) -> tuple[int, int, int, int]:
        """CPython's range of a node: lines 1-based, character columns 0-based."""
        line, end_line = node.lineno, node.end_lineno or node.lineno
        end = node.end_col_offset if node.end_col_offset is not None else node.col_offset
        return line, self._column(line, node.col_offset), end_line, self._column(end_line, end)

    def span(self, node: ast.AST) -> Span:
        line, column, end_line, end_column = self._raw(node)
        # CPython counts a tuple's parentheses (and a generator's, or the call's around its
        # only argument) as part of it; libcst, and a reader, do not.
        if type(node) in _OWN_PARENS and self.lines[line - 1][column:column + 1] == "(":
            if isinstance(node, ast.GeneratorExp) or not node.elts:
                line, column = self._skip_space(line, column + 1)
                end_line, end_column = self._skip_space_back(end_line, end_column - 1)
            elif self._parenthesized(node):
                line, column, end_line, end_column = self._tuple_inside(node, line, column)
        return Span(self.path, line, column + 1, end_line, end_column + 1)

    def _tuple_inside(self, node: ast.Tuple, line: int, column: int) -> tuple[int, int, int, int]:
        """From the first element to the last, each with its own parentheses, and the
        trailing comma: the inside of the tuple's parentheses without the spaces and
        comments around it."""
        first, last = self._raw(node.elts[0]), self._raw(node.elts[-1])
        before_last = self._raw(node.elts[-2])[2:] if len(node.elts) > 1 else (line, column + 1)
        opening = self._text(line, column + 1, *first[:2]).count("(")
        line, column = first[:2]
        while opening and column > 0:
            column -= 1
            opening -= self.lines[line - 1][column] == "("
        end_line, end_column = last[2:]
        for _ in range(self._text(*before_last, *last[:2]).split(",")[-1].count("(")):
            at_line, at_column = self._skip_space(end_line, end_column)
            if self.lines[at_line - 1][at_column:at_column + 1] != ")":
                break
            end_line, end_column = at_line, at_column + 1
        after = self.lines[end_line - 1][end_column:]
        if after.lstrip(" \t").startswith(","):
            end_column += len(after) - len(after.lstrip(" \t")) + 1
        return line, column, end_line, end_column

    def _skip_space(self, line: int, column: int) -> tuple[int, int]:
        while line < len(self.lines) and not self.lines[line - 1][column:].strip():
            line, column = line + 1, 0
        text = self.lines[line - 1]
        return line, column + len(text[column:]) - len(text[column:].lstrip())

    def _skip_space_back(self, line: int, column: int) -> tuple[int, int]:
        while line > 1 and not self.lines[line - 1][:column].strip():
            line = line - 1
            column = len(self.lines[line - 1].rstrip("\r\n"))
        return line, len(self.lines[line - 1][:column].rstrip())

    def source(self, node: ast.AST) -> str:
        return self._text(*self._raw(node)).strip()

    def _name_span(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> Span:
        """Where the name of a def or class is (ast only records where the keyword is)."""
        text = self.lines[node.lineno - 1] if node.lineno <= len(self.lines) else ""
        start = self._column(node.lineno, node.col_offset)
        found = _DEF_NAME.match(text, start)
        if found is None or found.group(1) != node.name:
            return Span(self.path, node.lineno, start + 1, node.lineno, start + 1)
        return Span(self.path, node.lineno, found.start(1) + 1, node.lineno, found.end(1) + 1)

    # ------------------------------------------------------------ statements

    def block(self, body: list[ast.stmt]) -> tuple[ir.Stmt, ...]:
        out: list[ir.Stmt] = []
        for stmt in body:
            out.extend(self.stmt(stmt))
        return tuple(out)

    def stmt(self, node: ast.stmt) -> list[ir.Stmt]:
        kind = type(node)
        if kind is ast.Assign:
            return [ir.Assign(tuple(self.expr(t) for t in node.targets), self.expr(node.value), self.span(node))]
        if kind is ast.Expr:
            return [ir.ExprStmt(self.expr(node.value), self.span(node))]
        if kind is ast.ImportFrom:
            names = () if node.names[0].name == "*" else tuple((a.name, a.asname) for a in node.names)
            return [ir.ImportFrom(node.module or "", node.level or 0, names, self.span(node))]
        if kind is ast.Import:
            return [ir.Import(tuple((a.name, a.asname) for a in node.names), self.span(node))]
        if kind in (ast.FunctionDef, ast.AsyncFunctionDef):
            return [self.funcdef(node)]
        if kind is ast.ClassDef:
            return [self.classdef(node)]
        if kind is ast.If:
            return [self.if_(node)]
        if kind is ast.AnnAssign:
            if node.value is None:
                return []
            return [ir.Assign((self.expr(node.target),), self.expr(node.value), self.span(node))]
        if kind is ast.AugAssign:
            return [ir.AugAssign(self.expr(node.target), _BINOPS.get(type(node.op), "?"), self.expr(node.value),
                                 self.span(node))]
        if kind is ast.Return:
            return [ir.Return(self.expr(node.value) if node.value is not None else None, self.span(node))]
        if kind is ast.Raise:
            return [ir.Raise(self.expr(node.exc) if node.exc is not None else None, self.span(node))]
        if kind in (ast.Try, getattr(ast, "TryStar", ast.Try)):
            handlers = tuple((self.source(h.type) if h.type is not None else "", self.block(h.body))
                             for h in node.handlers)
            return [ir.Try(self.block(node.body), handlers, self.block(node.orelse), self.block(node.finalbody),
                           self.span(node))]
        if kind in (ast.With, ast.AsyncWith):
            header = tuple(self.expr(item.context_expr) for item in node.items)
            targets = tuple(self.expr(item.optional_vars) for item in node.items if item.optional_vars is not None)
            return [ir.Block("with", header, targets, self.block(node.body), self.span(node))]
        if kind in (ast.For, ast.AsyncFor):
            return [ir.Block("for", (self.expr(node.iter),), (self.expr(node.target),),
                             self.block(node.body) + self.block(node.orelse), self.span(node))]
        if kind is ast.While:
            return [ir.Block("while", (self.expr(node.test),), (), self.block(node.body), self.span(node))]
        if kind is ast.Match:
            body: list[ir.Stmt] = []
            for case in node.cases:
                body.extend(self.block(case.body))
            return [ir.Block("match", (self.expr(node.subject),), (), tuple(body), self.span(node))]
        return []

    def if_(self, node: ast.If) -> ir.If:
        return ir.If(self.expr(node.test), self.source(node.test), self.block(node.body), self.block(node.orelse),
                     self.span(node.test))

    def funcdef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ir.FuncDef:
        a = node.args
        positional = [*a.posonlyargs, *a.args]
        defaults: list[ast.expr | None] = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
        params = [self.param(arg, "posonly" if i < len(a.posonlyargs) else "pos", default)
                  for i, (arg, default) in enumerate(zip(positional, defaults))]
        if a.vararg is not None:
            params.append(ir.Param(a.vararg.arg, "varargs", False))
        params += [self.param(arg, "kwonly", default) for arg, default in zip(a.kwonlyargs, a.kw_defaults)]
        if a.kwarg is not None:
            params.append(ir.Param(a.kwarg.arg, "varkw", False))
        decorators = tuple(self.expr(d) for d in node.decorator_list)
        body_read = id(node) not in self.pruned
        body = self.block(node.body) if body_read else ()
        return ir.FuncDef(node.name, tuple(params), decorators, body, self._name_span(node),
                          is_async=isinstance(node, ast.AsyncFunctionDef), body_read=body_read)

    def param(self, arg: ast.arg, kind: str, default: ast.expr | None) -> ir.Param:
        return ir.Param(arg.arg, kind, default is not None, self.expr(default) if default is not None else None)

    def classdef(self, node: ast.ClassDef) -> ir.ClassDef:
        bases = tuple(self.expr(b.value if isinstance(b, ast.Starred) else b) for b in node.bases)
        keywords = tuple((k.arg, self.expr(k.value)) for k in node.keywords if k.arg is not None)
        decorators = tuple(self.expr(d) for d in node.decorator_list)
        return ir.ClassDef(node.name, bases, keywords, decorators, self.block(node.body), self._name_span(node))

    # ------------------------------------------------------------ expressions

    def expr(self, node: ast.expr) -> ir.Expr:
        # Deeper IR would overflow the stack later, when it is evaluated or pickled.
        self.depth += 1
        if self.depth > ir.MAX_DEPTH:
            raise TooDeep(node.lineno)
        result = self._expr(node)
        self.depth -= 1
        return result

    def _expr(self, node: ast.expr) -> ir.Expr:
        span = self.span(node)
        kind = type(node)
        if kind is ast.Name:
            return ir.Name(node.id, span)
        if kind is ast.Attribute:
            return ir.Attr(self.expr(node.value), node.attr, span)
        if kind is ast.Constant:
            if node.value is Ellipsis:
                return ir.Opaque("Ellipsis expression", span)
            return ir.Const(node.value, span)
        if kind is ast.Call:
            args: list[ir.Expr] = []
            for arg in node.args:
                if isinstance(arg, ast.Starred):
                    args.append(ir.Starred(self.expr(arg.value), span=self.span(arg)))
                else:
                    args.append(self.expr(arg))
            kwargs = tuple((k.arg, self.expr(k.value)) for k in node.keywords)
            return ir.Call(self.expr(node.func), tuple(args), kwargs, span)
        if kind is ast.Subscript:
            index = node.slice
            if isinstance(index, ast.Slice) or isinstance(index, ast.Tuple) and not self._parenthesized(index):
                return ir.Opaque("slice", span)
            return ir.Sub(self.expr(node.value), self.expr(index), span)
        if kind is ast.JoinedStr:
            parts: list[str | ir.Expr] = []
            for part in node.values:
                if isinstance(part, ast.Constant):
                    parts.append(part.value)
                elif part.conversion == -1 and part.format_spec is None:
                    parts.append(self.expr(part.value))
                else:
                    return ir.Opaque("f-string with a format specification", span)
            return ir.FStr(tuple(parts), span)
        if kind is ast.BinOp:
            return ir.BinOp(_BINOPS.get(type(node.op), "?"), self.expr(node.left), self.expr(node.right), span)
        if kind is ast.UnaryOp:
            return ir.UnaryOp(_UNARY.get(type(node.op), "?"), self.expr(node.operand), span)
        if kind is ast.BoolOp:
            # libcst nests `a or b or c` as ((a or b) or c); so does the IR, where the chain's
            # operands sit as deep as it is long. A chain too long for that is left opaque, so
            # that the rest of the file is still read.
            op = "and" if isinstance(node.op, ast.And) else "or"
            values = node.values
            depth = self.depth
            if depth + len(values) - 1 > ir.MAX_DEPTH:
                return ir.Opaque(f"`{op}` of {len(values):,} operands (qlint reads at most {ir.MAX_DEPTH})", span)
            self.depth = depth + len(values) - 2
            result = self.expr(values[0])
            start = self._with_parens(values[0])[:2]
            for index, value in enumerate(values[1:], start=1):
                self.depth = depth + len(values) - 1 - index
                right = self.expr(value)
                end = self._with_parens(value)[2:]
                whole = span if value is values[-1] else Span(self.path, start[0], start[1] + 1, end[0], end[1] + 1)
                result = ir.BoolOp(op, (result, right), whole)
            self.depth = depth
            return result
        if kind is ast.Compare:
            ops = tuple((_COMPARE.get(type(op), "?"), self.expr(c)) for op, c in zip(node.ops, node.comparators))
            return ir.Compare(self.expr(node.left), ops, span)
        if kind is ast.IfExp:
            return ir.IfExp(self.expr(node.test), self.expr(node.body), self.expr(node.orelse), span,
                            self.source(node.test))
        if kind in (ast.List, ast.Tuple, ast.Set):
            elts = tuple(ir.Starred(self.expr(e.value), self.span(e)) if isinstance(e, ast.Starred) else self.expr(e)
                         for e in node.elts)
            return ir.Coll({ast.List: "list", ast.Tuple: "tuple", ast.Set: "set"}[kind], elts, span)
        if kind is ast.Dict:
            return ir.DictE(tuple((self.expr(k) if k is not None else None, self.expr(v))
                                  for k, v in zip(node.keys, node.values)), span)
        if kind is ast.NamedExpr:
            return self.expr(node.value)
        return ir.Opaque(f"{_OPAQUE.get(kind, kind.__name__)} expression", span, self._comp(node))

    def _comp(self, node: ast.expr) -> ir.Comp | None:
        kind = _COMPS.get(type(node))
        if kind is None or len(node.generators) != 1 or node.generators[0].is_async:
            return None
        clause = node.generators[0]
        key = self.expr(node.key) if kind == "dict" else None
        value = self.expr(node.value if kind == "dict" else node.elt)
        return ir.Comp(kind, key, value, self.expr(clause.target), self.expr(clause.iter),
                       tuple(self.expr(test) for test in clause.ifs))

    def _parenthesized(self, node: ast.Tuple) -> bool:
        """Whether the tuple has parentheses of its own: `(a, b)`, not `(a), b` (CPython's
        range of both starts at a parenthesis). The first element's own closing parentheses
        come before the comma after it; an opening one more than those is the tuple's."""
        if not node.elts:
            return True
        line, column = node.lineno, self._column(node.lineno, node.col_offset)
        first = self._raw(node.elts[0])
        after = self._raw(node.elts[1])[:2] if len(node.elts) > 1 else self._raw(node)[2:]
        opening = self._text(line, column, first[0], first[1]).count("(")
        closing = self._text(first[2], first[3], *after).split(",", 1)[0].count(")")
        return opening > closing

    def _with_parens(self, node: ast.expr) -> tuple[int, int, int, int]:
        """The range of an operand with the parentheses around it (CPython leaves them out):
        as many as close right after it, where only spaces and `)` come before the next token."""
        line, column, end_line, end_column = self._raw(node)
        count = 0
        while True:
            rest = self.lines[end_line - 1][end_column:]
            stripped = rest.lstrip(" \t")
            if not stripped.startswith(")"):
                break
            end_column += len(rest) - len(stripped) + 1
            count += 1
        while count and column > 0:
            column -= 1
            if self.lines[line - 1][column] == "(":
                count -= 1
        return line, column, end_line, end_column

    def _text(self, line: int, column: int, end_line: int, end_column: int) -> str:
        if line == end_line:
            return self.lines[line - 1][column:end_column]
        return self.lines[line - 1][column:] + "".join(self.lines[line:end_line - 1]) + self.lines[end_line - 1][:end_column]
