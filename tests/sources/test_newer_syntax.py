"""Newer syntax under an older interpreter (newer_syntax.py, fstring_quotes.py): rewritten in
place for CPython's parser, with the facts of the same file written the old way."""
from __future__ import annotations

import pickle

from qlint.sources import ir
from qlint.sources.python import parse_file
from qlint.sources.fstring_quotes import with_quotes_swapped
from qlint.sources.newer_syntax import rewritten, without_type_params

GENERIC = (
    "from celery import shared_task\n"
    "\n"
    "def first[T](items: list[T]) -> T:\n"
    "    return items[0]\n"
    "\n"
    "class Box[T: (int, str), *Ts, **P](Base):\n"
    "    limit = 60\n"
    "    type Inner = list[int]\n"
    "\n"
    "type Pair[K] = tuple[K, K]\n"
    "type Long = dict[\n"
    "    str,\n"
    "    int,\n"
    "]\n"
    "x = 1; type Short = int; y = 2\n"
    "\n"
    "@shared_task(bind=True, time_limit=7200)\n"
    "def build[R](self, report_id: int) -> R:\n"
    "    return report_id\n"
)

# The same module as it reads to qlint: no type parameters, no type aliases.
PLAIN = (
    "from celery import shared_task\n"
    "\n"
    "def first(items: list[T]) -> T:\n"
    "    return items[0]\n"
    "\n"
    "class Box(Base):\n"
    "    limit = 60\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "x = 1; y = 2\n"
    "\n"
    "@shared_task(bind=True, time_limit=7200)\n"
    "def build(self, report_id: int) -> R:\n"
    "    return report_id\n"
)


def test_every_character_outside_the_new_syntax_stays_where_it_was() -> None:
    blanked = without_type_params(GENERIC)
    assert blanked is not None
    assert len(blanked) == len(GENERIC)
    assert blanked.splitlines()[2] == "def first   (items: list[T]) -> T:"
    assert blanked.splitlines()[7] == "    " + "pass".ljust(len("type Inner = list[int]"))
    assert blanked.splitlines()[14] == "x = 1; " + "pass".ljust(len("type Short = int")) + "; y = 2"
    assert [len(line) for line in blanked.splitlines()] == [len(line) for line in GENERIC.splitlines()]


def test_the_facts_are_those_of_the_file_without_type_parameters(tmp_path) -> None:
    generic = parse_file("tasks.py", GENERIC.encode())
    plain = parse_file("tasks.py", PLAIN.encode())
    assert generic.error is None
    # Pass statements and blank lines make no facts; spans of the rest match line for line,
    # except the columns after a blanked list, which moved in PLAIN.
    assert _shape(generic.body) == _shape(plain.body)
    build = [s for s in generic.body if isinstance(s, ir.FuncDef) and s.name == "build"][0]
    assert (build.span.line, build.span.column) == (18, 5)
    assert [p.name for p in build.params] == ["self", "report_id"]


def test_text_without_type_parameters_is_left_alone() -> None:
    assert without_type_params("def f(x):\n    return x[0]\n") is None
    assert without_type_params("type = 3\nprint(type)\ntype(x)\n") is None  # `type` the name


def test_what_cannot_be_blanked_goes_to_libcst() -> None:
    # Non-ASCII inside the list: CPython's columns are bytes, so blanking would move them.
    assert without_type_params("def f[Tä](x): pass\n") is None
    # Text the tokenizer refuses.
    assert without_type_params("def f[T](x):\n    s = '''unterminated\n") is None
    # A list over several lines blanks to a broken header: CPython still refuses it, and
    # the file is read by libcst, with the same facts.
    text = "def f[\n    T,\n](x: T) -> T:\n    return x\n"
    facts = parse_file("m.py", text.encode())
    assert facts.error is None and [s.name for s in facts.body] == ["f"]


def _shape(node: object) -> object:
    """An IR tree with positions dropped."""
    if isinstance(node, tuple):
        return tuple(_shape(n) for n in node)
    fields = getattr(type(node), "__dataclass_fields__", None)
    if fields is None or type(node).__name__ == "Span":
        return None if type(node).__name__ == "Span" else node
    return (type(node).__name__, *(_shape(getattr(node, f)) for f in fields))


def test_the_facts_pickle_as_any_others() -> None:
    facts = parse_file("tasks.py", GENERIC.encode())
    assert pickle.loads(pickle.dumps(facts)) == facts


# ---------------------------------------------------------------- f-strings (PEP 701)

def test_inner_strings_in_the_f_strings_quote_get_the_other_quote() -> None:
    cases = {
        "x = f'JIRA \"{form.data.get('name')}\" by {request.user}'\n":
            "x = f'JIRA \"{form.data.get(\"name\")}\" by {request.user}'\n",
        "echo(f'Needed: {', '.join(sorted(names))}')\n": "echo(f'Needed: {\", \".join(sorted(names))}')\n",
        'params = {f"site__{self.fields["side_a"].name}": site}\n':
            "params = {f\"site__{self.fields['side_a'].name}\": site}\n",
        "f'{x!r:>{width}} {d['a']:{d['w']}}'\n": "f'{x!r:>{width}} {d[\"a\"]:{d[\"w\"]}}'\n",
    }
    for text, expected in cases.items():
        assert with_quotes_swapped(text) == expected


def test_what_older_pythons_read_already_is_left_alone() -> None:
    for text in [
        "f'{d[\"k\"]}'\n",
        "s = f'''{d['a']}'''\n",  # a triple-quoted f-string may hold either quote
        "# f'{d['a']}' in a comment\nx = 1\n",
        "r = rf'\\{x}\\'' + 'it''s'\n",
        "if'x'in y: pass\n",
        "n = f'\\N{EM DASH}{y}'\n",
    ]:
        assert with_quotes_swapped(text) is None, text


def test_what_the_scan_is_unsure_of_goes_to_libcst() -> None:
    for text in [
        "f'{d['it\"s']}'\n",  # the other quote inside: it would need escaping
        "f'{d['a\\n']}'\n",  # a backslash in a field is 3.12-only
        "f'{f'{x}'}'\n",  # a nested f-string in the same quote
        "f'{x # a comment\n}'\n",
        "f'{d['a'\n",  # not Python at all
    ]:
        assert with_quotes_swapped(text) is None, text


def test_a_file_with_both_kinds_of_new_syntax_reads_as_under_3_12() -> None:
    text = "def label[T](item: T) -> str:\n    return f'{item['name']}: {', '.join(item['tags'])}'\n"
    readable = rewritten(text)
    assert readable == (
        "def label   (item: T) -> str:\n    return f'{item[\"name\"]}: {\", \".join(item[\"tags\"])}'\n")
    facts = parse_file("labels.py", text.encode())
    assert facts.error is None and [s.name for s in facts.body] == ["label"]


# ------------------------------------------------------- except lists (PEP 758, 3.14)

EXCEPT_LISTS = (
    "from celery import shared_task\n"
    "\n"
    "@shared_task(bind=True, max_retries=3)\n"
    "def fetch(self, url):\n"
    "    try:\n"
    "        return get(url)\n"
    "    except ConnectionError, TimeoutError:  # a comment stays\n"
    "        raise self.retry(countdown=60)\n"
    "    try:\n"
    "        check(url)\n"
    "    except* ValueError, KeyError:\n"
    "        pass\n"
)


def test_bare_except_lists_get_their_parentheses() -> None:
    readable = rewritten(EXCEPT_LISTS)
    assert readable is not None
    assert readable.splitlines()[6] == "    except (ConnectionError, TimeoutError):  # a comment stays"
    assert readable.splitlines()[10] == "    except* (ValueError, KeyError):"
    facts = parse_file("tasks.py", EXCEPT_LISTS.encode())
    assert facts.error is None
    [task] = facts.body[1:]
    assert [source for stmt in task.body for source, _ in stmt.handlers] == [
        "(ConnectionError, TimeoutError)", "(ValueError, KeyError)"]


def test_except_clauses_that_older_pythons_read_or_that_would_move_code_are_left_alone() -> None:
    assert rewritten("try:\n    x()\nexcept (A, B) as e:\n    pass\nexcept A:\n    pass\n") is None
    # A body on the clause's own line would move: left to libcst.
    assert rewritten("try:\n    x()\nexcept A, B: pass\n") is None
