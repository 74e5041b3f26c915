"""Regenerate the rule table in README.md from the rules' own data."""
from pathlib import Path

from qlint.cli.rule import rule_table

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- rules:start -->\n", "<!-- rules:end -->"

text = README.read_text(encoding="utf-8")
head, rest = text.split(START, 1)
_, tail = rest.split(END, 1)
README.write_text(head + START + rule_table() + END + tail, encoding="utf-8")
