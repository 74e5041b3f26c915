"""Statement chunks: a module cut at its top-level statements parses to the same facts as
the whole, and a re-parse after an edit reuses the statements that did not change."""
from __future__ import annotations

import ast

import pytest

from qlint.sources import python
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
    """The facts of the text parsed by libcst in one piece, as the extractor did before chunks."""
    return python._Converter(path, python.cst.parse_module(text)).convert()


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_chunks_cover_the_text_and_start_at_statements(newline):
    text = SETTINGS.replace("\n", newline)
    chunks = statement_chunks(text, ast.parse(text))
    assert "".join(c.text for c in chunks) == text
    assert [c.first_line for c in chunks] == [1, 4, 5, 6, 9, 15, 17]  # the header goes with `import os`
    assert chunks[4].text.startswith("@app.task(")


def test_chunked_facts_equal_the_whole_file_parse():
    python._LAST_CHUNKS.clear()
    assert parse_facts("proj/settings.py", SETTINGS).body == whole_file_facts("proj/settings.py", SETTINGS)


def test_an_edit_reparses_only_the_changed_statement_and_shifts_the_rest(monkeypatch):
    python._LAST_CHUNKS.clear()
    before = parse_facts("proj/settings.py", SETTINGS)
    converted: list[str] = []
    real = python._convert_chunk

    def counting(path, chunk):
        converted.append(chunk.text)
        return real(path, chunk)

    monkeypatch.setattr(python, "_convert_chunk", counting)
    # One statement edited and two lines inserted above the later ones.
    edited = SETTINGS.replace("a = 1; b = 2\n", "a = 10; b = 2\n\n\n")
    facts = parse_facts("proj/settings.py", edited)
    assert converted == ["a = 10; b = 2\n\n\n"]
    assert facts.body == whole_file_facts("proj/settings.py", edited)
    def task_line(body):
        return next(s for s in body if getattr(s, "name", None) == "build").span.line

    assert task_line(facts.body) == task_line(before.body) + 2 == 15


def test_a_syntax_error_in_a_later_statement_is_located_in_the_file():
    text = "a = 1\n\n\nb = (\n"
    facts = parse_facts("proj/bad.py", text)
    assert facts.error is not None and facts.error_span.line >= 4
