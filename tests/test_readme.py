"""The README's rule table is generated from the rules; this fails when it is stale."""
from pathlib import Path

from qlint.cli.rule import rule_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_rule_table_is_current():
    text = README.read_text(encoding="utf-8")
    start, end = "<!-- rules:start -->\n", "<!-- rules:end -->"
    assert start in text and end in text
    current = text.split(start, 1)[1].split(end, 1)[0]
    assert current == rule_table(), "README rule table is stale: run `python scripts/update_readme.py`"
