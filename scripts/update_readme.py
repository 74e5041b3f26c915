"""Regenerate what is made from the rules' own data: the rule table in README.md (each code
linking its page) and one page per rule in docs/rules/ (a page of a rule that is gone is removed)."""
from pathlib import Path

from qlint.cli.rule import rule_table
from qlint.rules import all_rules
from qlint.report.pages import page

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = ROOT / "docs" / "rules"
START, END = "<!-- rules:start -->\n", "<!-- rules:end -->"

text = README.read_text(encoding="utf-8")
head, rest = text.split(START, 1)
_, tail = rest.split(END, 1)
README.write_text(head + START + rule_table("docs/rules/") + END + tail, encoding="utf-8")

PAGES.mkdir(parents=True, exist_ok=True)
current = {f"{rule.code}.md": page(rule) for rule in all_rules()}
for stale in PAGES.glob("QL*.md"):
    if stale.name not in current:
        stale.unlink()
for name, content in current.items():
    target = PAGES / name
    if not target.is_file() or target.read_text(encoding="utf-8") != content:
        target.write_text(content, encoding="utf-8")
