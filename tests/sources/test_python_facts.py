"""Python facts: libcst parses of real text into the IR, with exact positions."""
from __future__ import annotations

import pickle
import textwrap

from qlint.sources import ir
from qlint.sources.python import parse_facts
from qlint.sources.read import SourceError, decode_python

SOURCE = textwrap.dedent('''\
    """Module docstring."""
    import os
    from datetime import timedelta as td
    from . import celeryconfig
    from .base import *


    def helper(a, b=2):
        total = a + b
        for i in range(10):
            total += i
        return total


    BROKER = os.environ.get("REDIS_URL", "redis://localhost")
    LIMIT: int = 60 * 60


    def enqueue(x):
        job.delay(x)


    class Config(Base):
        task_acks_late = True


    @app.task(bind=True, **OPTIONS)
    async def run(self, /, item, *rest, flag=False, **extra):
        pass


    if DEBUG:
        CELERY_X = f"x{LIMIT}y"
    else:
        CELERY_X = {"a": [1, (2, 3)], **MORE}
    try:
        import local
    except ImportError:
        local = None
''')


def facts():
    return parse_facts("proj/settings.py", SOURCE)


def test_statements_and_their_lines():
    body = facts().body
    kinds = [(type(s).__name__, s.span.line) for s in body]
    assert kinds == [
        ("ExprStmt", 1), ("Import", 2), ("ImportFrom", 3), ("ImportFrom", 4), ("ImportFrom", 5),
        ("FuncDef", 8), ("Assign", 15), ("Assign", 16), ("FuncDef", 19), ("ClassDef", 23),
        ("FuncDef", 28), ("If", 32), ("Try", 36),
    ]


def test_pruned_function_bodies_keep_later_lines_exact():
    body = facts().body
    helper, enqueue = body[5], body[8]
    assert (helper.name, helper.body_read, helper.body) == ("helper", False, ())
    # enqueue calls .delay(): its body is read, with real positions
    assert enqueue.body_read and enqueue.body[0].span.line == 20
    broker = body[6]
    assert (broker.span.line, broker.span.column, broker.span.end_line) == (15, 1, 15)
    call = broker.value
    assert isinstance(call, ir.Call) and (call.span.column, call.span.end_column) == (10, 58)


def test_imports():
    body = facts().body
    assert body[1].names == (("os", None),)
    assert (body[2].module, body[2].level, body[2].names) == ("datetime", 0, (("timedelta", "td"),))
    assert (body[3].module, body[3].level, body[3].names) == ("", 1, (("celeryconfig", None),))
    assert body[4].star and body[4].module == "base" and body[4].level == 1


def test_expressions():
    body = facts().body
    limit = body[7]
    assert isinstance(limit.value, ir.BinOp) and limit.value.op == "*"
    assert limit.targets[0] == ir.Name("LIMIT", limit.targets[0].span)
    cls = body[9]
    assert (cls.name, [b.id for b in cls.bases]) == ("Config", ["Base"])
    assert cls.body[0].value == ir.Const(True, cls.body[0].value.span)
    run = body[10]
    assert run.is_async and [(p.name, p.kind, p.has_default) for p in run.params] == [
        ("self", "posonly", False), ("item", "pos", False), ("rest", "varargs", False),
        ("flag", "kwonly", True), ("extra", "varkw", False),
    ]
    decorator = run.decorators[0]
    assert isinstance(decorator, ir.Call) and decorator.kwarg("bind") == ir.Const(True, decorator.kwarg("bind").span)
    assert decorator.kwargs[1][0] is None  # **OPTIONS
    branch = body[11]
    assert branch.test_source == "DEBUG" and branch.span.line == 32
    fstring = branch.body[0].value
    assert isinstance(fstring, ir.FStr) and fstring.parts[0] == "x" and fstring.parts[2] == "y"
    mapping = branch.orelse[0].value
    assert isinstance(mapping, ir.DictE) and mapping.items[1][0] is None
    handlers = body[12].handlers
    assert handlers[0][0] == "ImportError"


def test_facts_pickle_round_trip():
    original = facts()
    assert pickle.loads(pickle.dumps(original)) == original


def test_syntax_error_names_the_line():
    bad = parse_facts("bad.py", "X = 1\nY = (\n\nZ = 3\n")
    assert bad.body == () and bad.error.startswith("syntax error") and bad.error_span.line >= 2


def test_too_deep_is_refused_with_a_message():
    nested = parse_facts("deep.py", "X = " + "(" * 1000 + "1" + ")" * 1000 + "\n")
    assert nested.error == "syntax error: too many nested parentheses"
    chain = parse_facts("chain.py", "A = 1\nX = " + "+".join(["1"] * 5000) + "\n")
    assert "nested too deeply" in chain.error
    medium = parse_facts("ok.py", "X = " + "+".join(["1"] * 300) + "\n")
    assert medium.error is None
    depth, node = 0, medium.body[0].value
    while isinstance(node, ir.BinOp):
        depth, node = depth + 1, node.left
    assert depth == 299
    with ir.deep_recursion():
        assert pickle.loads(pickle.dumps(medium)) == medium


def test_newer_syntax_is_left_to_libcst():
    # a match statement parses on every supported Python; the pre-check never refuses valid code
    text = "match x:\n    case 1:\n        CELERY_A = 1\n"
    parsed = parse_facts("m.py", text)
    assert parsed.error is None and parsed.body[0].kind == "match"


def test_decoding():
    assert decode_python("a.py", "\ufeffX = 1\n".encode("utf-8")) == "X = 1\n"
    assert decode_python("a.py", "# coding: latin-1\nX = 'é'\n".encode("latin-1")).endswith("'é'\n")
    for data, start in ((b"X\x00Y", "binary file"), (b"X = '\xe9'\n", "not UTF-8"), (b"# coding: nope\n", "unknown source encoding")):
        try:
            decode_python("a.py", data)
        except SourceError as exc:
            assert str(exc).startswith(start), exc
        else:
            raise AssertionError(f"{data!r} decoded")


def test_a_syntax_error_is_located_and_explained_as_python_does():
    # libcst's own error lands a line or two later with a token list; CPython's says what is wrong.
    facts = parse_facts("proj/bad.py", "a = 1\n\ndef f(:\n    pass\nb = 2\n")
    assert facts.error == "syntax error: invalid syntax" and (facts.error_span.line, facts.error_span.column) == (3, 7)
    facts = parse_facts("proj/bad.py", "x = (1,\ny = 2\n")
    assert facts.error == "syntax error: '(' was never closed" and facts.error_span.line == 1


def test_syntax_newer_than_this_python_is_left_to_libcst():
    facts = parse_facts("proj/types.py", "type Seconds = int\nLIMIT = 60\n")
    assert facts.error is None and any(getattr(s, "span", None) and s.span.line == 2 for s in facts.body)


def test_the_bodies_of_one_top_level_statement_read_again_alone():
    from qlint.sources.python import parse_file, with_bodies_at

    text = textwrap.dedent('''\
        """A module with no Celery marker: its function bodies are left out."""
        import functools


        class Roster:
            def fetch(self, course):
                self.db.execute(course)

            def users(self):
                return self.db.query()


        @functools.cache
        def helper(x):
            return x + 1
        ''')
    ordinary = parse_file("svc/roster.py", text.encode())
    assert not any(f.body_read for f in ordinary.body[2].body) and not ordinary.body[3].body_read
    at_method = with_bodies_at(ordinary, text.encode(), 7)
    roster = at_method.body[2]
    assert [(f.name, f.body_read, f.span.line) for f in roster.body] == [("fetch", True, 6), ("users", True, 9)]
    assert roster.body[0].body[0].span.line == 7  # the file's own line numbers
    assert at_method.body[3] is ordinary.body[3]  # the others as they were
    at_decorated = with_bodies_at(ordinary, text.encode(), 14)
    assert at_decorated.body[3].body_read and at_decorated.body[3].decorators
    assert with_bodies_at(ordinary, text.encode(), 2) is None  # an import: nothing to read
