"""Python files to facts through libcst: for the files the running interpreter's own parser
refuses (syntax newer than it, or an error, where libcst's message is the fallback).
python.py converts everything else from CPython's tree (from_ast.py); tests/sources/test_from_ast.py
holds the two converters to the same output.
"""
from __future__ import annotations

import libcst as cst
from libcst.metadata import CodeRange, PositionProvider

from qlint.model import Span
from qlint.sources import ir

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


class Unparsable(Exception):
    def __init__(self, span: Span, message: str) -> None:
        super().__init__(message)
        self.span = span
        self.message = message


def convert(path: str, text: str) -> tuple[ir.Stmt, ...]:
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        where = Span(path, max(exc.raw_line, 1), max(exc.raw_column, 0) + 1)
        raise Unparsable(where, f"syntax error: {exc.message}") from None
    except RecursionError:
        raise Unparsable(Span(path, 1), "expression nested too deeply to parse") from None
    except Exception as exc:  # libcst's native parser may raise other errors on odd input
        raise Unparsable(Span(path, 1), f"cannot parse: {exc}") from None
    try:
        return Converter(path, module).convert()
    except RecursionError:
        raise Unparsable(Span(path, 1), "expression nested too deeply to analyse") from None


def _positions(module: cst.Module) -> dict[cst.CSTNode, CodeRange]:
    """Every node's range, from the one code-generation pass of PositionProvider.

    MetadataWrapper.resolve() would also walk the whole tree once more for batchable
    providers even when none is asked for: a third of the time, on every file parsed.
    """
    provider = PositionProvider()
    provider._computed = {}
    provider._gen_impl(module)
    return provider._computed  # type: ignore[return-value]


class Converter:
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
        return ir.Opaque(f"{type(node).__name__} expression", span, self._comp(node))

    def _comp(self, node: cst.BaseExpression) -> ir.Comp | None:
        kind = _COMPS.get(type(node))
        if kind is None:
            return None
        clause = node.for_in
        if clause.inner_for_in is not None or clause.asynchronous is not None:
            return None
        key = self.expr(node.key) if kind == "dict" else None
        value = self.expr(node.value if kind == "dict" else node.elt)
        return ir.Comp(kind, key, value, self.expr(clause.target), self.expr(clause.iter),
                       tuple(self.expr(test.test) for test in clause.ifs))


_COMPS = {cst.DictComp: "dict", cst.ListComp: "list", cst.SetComp: "set", cst.GeneratorExp: "gen"}


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
