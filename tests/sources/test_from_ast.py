"""The facts from CPython's tree (from_ast.py) are the facts libcst's tree gives
(from_libcst.py), node for node and span for span, on tricky snippets and on real files."""
from __future__ import annotations

import ast
from pathlib import Path

import libcst as cst
import pytest

from qlint.sources import from_ast, from_libcst, ir
from qlint.sources.chunks import lines_of

REPO = Path(__file__).resolve().parents[2]

SNIPPETS = {
    "assignments": "A = 1\nB: int = 2\nC: str\nD += 3\nx, (y, z) = 1, (2, 3)\nd['k'] = [1, *rest]\n",
    "calls": "app.conf.update(broker_url='redis://', **extra)\nf(*args, key=1)\ng(a)(b).c[0]\n",
    "tuples": "T = (1, 2)\nU = ( 1 , 2 , )\nV = (\n    'a',\n    'b',\n)\nW = ()\nX = 1,\n",
    "generators": "s = sum(x for x in y)\nt = any((x for x in y))\nu = max(\n    x for x in y\n)\n",
    "boolean chains": "a = b or c or d\ne = f and g or h\ni = not j and (k or l)\n",
    "comparisons": "a = 1 < b <= 3\nc = d is not None and e not in f\n",
    "unicode columns": "NAME = 'é' + f(ä)\n# ünïcode\nX = {'ключ': value, 'k': другое}\n",
    "constants": "a = (True, False, None, ..., 1.5, 2j, b'x', 0x1F, -1, +2, ~3)\n",
    "strings": "a = 'x' 'y'\nb = '''multi\nline'''\nc = f'{x}-{y}'\n",
    "subscripts": "a = x[1]\nb = x[1:2]\nc = x[1, 2]\nd = x[(1, 2)]\ne = x[::2]\n",
    "definitions": (
        "@app.task(bind=True, acks_late=True)\ndef build(self, a, /, b=2, *args, c, d=4, **kw):\n    return a\n\n"
        "async def fetch(url):\n    async with session() as s, other():\n        await s.get(url)\n\n"
        "class Config(Base, metaclass=Meta):\n    broker_url = 'redis://'\n    class Inner:\n        x = 1\n"
        "    def method(self):\n        pass\n"
    ),
    "control flow": (
        "if DEBUG:\n    A = 1\nelif TEST:\n    A = 2\nelse:\n    if X:\n        A = 3\n"
        "try:\n    import x\nexcept (ImportError, ValueError):\n    x = None\nelse:\n    y = 1\nfinally:\n    z = 2\n"
        "for i, j in pairs:\n    k = i\nelse:\n    k = 0\nwhile w:\n    w -= 1\n"
        "with transaction.atomic():\n    index.delay(1)\n"
        "match command:\n    case 'go':\n        go.delay()\n    case _:\n        pass\n"
    ),
    "opaque expressions": "f = lambda x: x\ng = [x for x in y]\nh = {k: v for k, v in z}\ni = {*a, *b}\nj = (yield)\n",
    "comprehensions": (
        "c = {k.lower(): v for (k, v) in s.__dict__.items() if k.startswith('C') if v}\n"
        "d = dict((k, v) for k, v in x)\ne = [a for a in b for c in a]\nf = {a async for a in b}\n"
    ),
    "imports": "import os, os.path as p\nfrom . import tasks\nfrom ..settings.base import *\nfrom a.b import (c as d, e)\n",
    "walrus and star": "if (n := len(a)) > 1:\n    print(*a, sep='')\n",
    "semicolons and continuation": "a = 1; b = 2\nc = 1 + \\\n    2\n",
    "tabs": "def f():\n\tif a:\n\t\treturn b.delay(\t1)\n",
    "raise and return": "def f():\n    raise self.retry(exc=e, countdown=60)\n\ndef g():\n    return\n",
}


def libcst_facts(text: str) -> tuple[ir.Stmt, ...]:
    return from_libcst.Converter("m.py", cst.parse_module(text)).convert()


def ast_facts(text: str) -> tuple[ir.Stmt, ...]:
    return from_ast.Converter("m.py", lines_of(text)).block(ast.parse(text).body)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_snippet_facts_are_the_same(name, newline):
    text = SNIPPETS[name].replace("\n", newline)
    with ir.deep_recursion():
        assert ast_facts(text) == libcst_facts(text)


def test_unicode_columns_count_characters():
    (assign, *_) = ast_facts(SNIPPETS["unicode columns"])
    call = assign.value.right
    assert (call.span.column, call.span.end_column) == (14, 18)  # f(ä) after 'é' (one character, two bytes)


def test_function_and_class_spans_name_the_name():
    facts = {s.name: s for s in ast_facts(SNIPPETS["definitions"]) if hasattr(s, "name")}
    assert (facts["build"].span.line, facts["build"].span.column, facts["build"].span.end_column) == (2, 5, 10)
    assert (facts["fetch"].span.line, facts["fetch"].span.column) == (5, 11)
    assert (facts["Config"].span.line, facts["Config"].span.column) == (9, 7)


def test_fstring_text_is_evaluated():
    # libcst keeps an f-string's text as written; CPython's tree has its value.
    (assign,) = ast_facts("URL = f'redis://{HOST}:6379/0\\n'\n")
    assert assign.value.parts == ("redis://", assign.value.parts[1], ":6379/0\n")
    assert isinstance(assign.value.parts[1], ir.Name) and assign.value.parts[1].id == "HOST"


def _real_files() -> list[Path]:
    folders = [REPO / "examples", REPO / "tests" / "data", REPO / "qlint", REPO / "rules"]
    return sorted(p for folder in folders if folder.is_dir() for p in folder.rglob("*.py"))


def _without_fstrings_and_conditions(node):
    """The two known differences: f-string text (libcst's is unevaluated) and the source
    text of conditions and except clauses (libcst's comes from its code generator)."""
    if isinstance(node, ir.FStr) or isinstance(node, ir.Opaque) and node.reason.startswith("f-string"):
        return ir.FStr((), node.span)
    if isinstance(node, (ir.If, ir.IfExp)):
        node = type(node)(*[getattr(node, f) if f != "test_source" else "" for f in ir._NODE_FIELDS[type(node)]])
    if isinstance(node, ir.Try):
        node = ir.Try(node.body, tuple(("", b) for _, b in node.handlers), node.orelse, node.finalbody, node.span)
    names = ir._NODE_FIELDS.get(type(node))
    if names is not None:
        return type(node)(*[_without_fstrings_and_conditions(getattr(node, n)) for n in names])
    if type(node) is tuple:
        return tuple(_without_fstrings_and_conditions(item) for item in node)
    return node


def test_real_files_give_the_same_facts():
    files = _real_files()
    assert len(files) > 100
    different = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        try:
            ast.parse(text)
        except SyntaxError:
            continue  # bad input kept on purpose under tests/data
        with ir.deep_recursion():
            if _without_fstrings_and_conditions(ast_facts(text)) != _without_fstrings_and_conditions(libcst_facts(text)):
                different.append(str(path.relative_to(REPO)))
    assert different == []
