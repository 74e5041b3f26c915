"""Statement chunks: a module cut at its top-level statements parses to the same facts as
the whole, and a re-parse after an edit reuses the statements that did not change."""
from __future__ import annotations

import ast

import pytest

from qlint.sources import from_libcst, python
from qlint.sources.chunks import statement_chunks
from qlint.sources.python import parse_facts

SETTINGS = (
    "# settings\n"
    "import os\n\n"
    "CELERY_BROKER_URL = os.environ.get('BROKER', 'redis://localhost:6379/0')\n"
    "a = 1; b = 2\n"
    "CELERY_TASK_TIME_LIMIT = (60 *\n    60)\n\n"
    "@app.task(\n    acks_late=True)\n# a comment between decorators\n@other\ndef build(x):\n    return x.delay()\n"
    "if DEBUG:\n    CELERY_TASK_ALWAYS_EAGER = True\n"
    "x = 1 + \\\n    2  # trailing\n"
)


def whole_file_facts(path: str, text: str):
    """The facts of the text parsed by libcst in one piece (no function here is pruned)."""
    return from_libcst.Converter(path, from_libcst.cst.parse_module(text)).convert()


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_chunks_cover_the_text_and_start_at_statements(newline):
    text = SETTINGS.replace("\n", newline)
    chunks = statement_chunks(text, ast.parse(text))
    assert "".join(c.text for c in chunks) == text
    assert [c.first_line for c in chunks] == [1, 3, 5, 6, 8, 15, 17]  # each with the blank lines above it
    assert chunks[4].text.replace(newline, "\n").startswith("\n@app.task(")


def test_chunked_facts_equal_the_whole_file_parse():
    python._LAST_CHUNKS.clear()
    assert parse_facts("proj/settings.py", SETTINGS).body == whole_file_facts("proj/settings.py", SETTINGS)


def test_an_edit_reparses_only_the_changed_statement_and_shifts_the_rest(monkeypatch):
    monkeypatch.setattr(python, "_KEEP_CHUNKS", True)  # as the language server keeps them
    python._LAST_CHUNKS.clear()
    before = parse_facts("proj/settings.py", SETTINGS)
    converted: list[str] = []
    real = python._convert_chunk

    def counting(converter, chunk, *mode):
        converted.append(chunk.text)
        return real(converter, chunk, *mode)

    monkeypatch.setattr(python, "_convert_chunk", counting)
    # One statement edited, two lines longer: the later ones move down.
    edited = SETTINGS.replace("a = 1; b = 2\n", "a = (\n    10\n); b = 2\n")
    facts = parse_facts("proj/settings.py", edited)
    assert converted == ["a = (\n    10\n); b = 2\n"]
    assert facts.body == whole_file_facts("proj/settings.py", edited)
    def task_line(body):
        return next(s for s in body if getattr(s, "name", None) == "build").span.line

    assert task_line(facts.body) == task_line(before.body) + 2 == 15


def test_a_check_keeps_no_chunks():
    python._LAST_CHUNKS.clear()
    parse_facts("proj/settings.py", SETTINGS)
    assert python._LAST_CHUNKS == {}


def test_a_syntax_error_in_a_later_statement_is_located_in_the_file():
    text = "a = 1\n\n\nb = (\n"
    facts = parse_facts("proj/bad.py", text)
    assert facts.error is not None and facts.error_span.line >= 4


PRUNABLE = (
    "def helper(a, b=2):\n"
    "    # nothing Celery-related in here\n"
    "    @functools.wraps(a)\n"
    "    def inner():\n"
    "        return '''a\n"
    "string'''\n"
    "    return inner\n"
    "\n"
    "def one_liner(x): return x\n"
    "\n"
    "async def fetch(\n"
    "        url): data = url\n"
    "\n"
    "def sender(x):\n"
    "    return build.delay(x)\n"
    "\n"
    "LIMIT = 60\n"
)


def test_bodies_without_markers_are_pruned_and_lines_kept():
    python._LAST_CHUNKS.clear()
    facts = parse_facts("proj/helpers.py", PRUNABLE)
    by_name = {s.name: s for s in facts.body if hasattr(s, "body_read")}
    assert not by_name["helper"].body_read and by_name["helper"].body == ()
    assert [p.name for p in by_name["helper"].params] == ["a", "b"]
    # A body on the def line (or on the last line of the header) is left out the same way.
    assert not by_name["one_liner"].body_read and not by_name["fetch"].body_read and by_name["fetch"].is_async
    assert by_name["sender"].body_read
    limit = next(s for s in facts.body if getattr(s, "targets", None) and s.targets[0].id == "LIMIT")
    assert limit.span.line == 17
    # Apart from the pruned body, the facts are those of the unpruned text.
    whole = {getattr(s, "name", None): s for s in whole_file_facts("proj/helpers.py", PRUNABLE)}
    assert by_name["sender"] == whole["sender"]
    assert by_name["one_liner"].params == whole["one_liner"].params and by_name["one_liner"].span == whole["one_liner"].span


def test_a_module_without_any_celery_marker_keeps_only_signatures():
    # Read only because a name it defines is used elsewhere: no function in it can send a
    # task, so even a body that mentions on_commit is not read.
    python._LAST_CHUNKS.clear()
    models = "from django.db import models, transaction\n\n\nclass Order(models.Model):\n" \
             "    def save(self):\n        super().save()\n        transaction.on_commit(self.notify)\n"
    order = parse_facts("shop/models.py", models).body[-1]
    assert order.name == "Order" and not order.body[0].body_read
    # The same text in a module that sends tasks keeps the body that may send one.
    sending = models + "\n\ndef place(order):\n    notify.delay(order.pk)\n"
    order = parse_facts("shop/models.py", sending).body[1]
    assert order.body[0].body_read
    # A transaction block alone does not make the module read: QL305's second pass reads it
    # when it calls a helper that sends (tests/rules/test_ql305_callers.py).
    atomic = models.replace("        super().save()\n", "        with transaction.atomic():\n            super().save()\n")
    order = parse_facts("shop/models.py", atomic).body[-1]
    assert not order.body[0].body_read
    # A project context manager around atomic() is read: `with it():` elsewhere opens a transaction.
    manager = atomic + "\n\n@contextmanager\ndef in_transaction():\n    with transaction.atomic():\n        yield\n"
    order = parse_facts("shop/models.py", "from contextlib import contextmanager\n" + manager).body[-2]
    assert order.body[0].body_read
