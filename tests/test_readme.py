"""What the README and docs/rules/ show is generated from the rules; this fails when it is stale."""
from pathlib import Path

from qlint.cli.rule import rule_table
from qlint.rules import all_rules
from qlint.report.pages import page, pages_folder

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
STALE = "run `python scripts/update_readme.py`"


def test_rule_table_is_current():
    text = README.read_text(encoding="utf-8")
    start, end = "<!-- rules:start -->\n", "<!-- rules:end -->"
    assert start in text and end in text
    current = text.split(start, 1)[1].split(end, 1)[0]
    assert current == rule_table("docs/rules/"), f"README rule table is stale: {STALE}"


def test_every_rule_has_its_page_and_every_page_a_rule():
    pages = ROOT / "docs" / "rules"
    assert {p.name for p in pages.glob("QL*.md")} == {f"{r.code}.md" for r in all_rules()}, STALE
    for rule in all_rules():
        assert (pages / f"{rule.code}.md").read_text(encoding="utf-8") == page(rule), f"{rule.code}: {STALE}"
        # Each code in the README's table links its page.
        assert f"[{rule.code}](docs/rules/{rule.code}.md)" in README.read_text(encoding="utf-8")
    # The running qlint finds the pages (installed beside the rules; the checkout's in an editable install).
    assert pages_folder() == pages.resolve()


def test_the_readme_installs_this_project_under_its_own_name():
    """`qlint` on the package index is someone else's project: every install line names celery-qlint."""
    import re
    import tomllib

    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"] == "celery-qlint"
    text = README.read_text(encoding="utf-8")
    assert not re.search(r"pip install\s+['\"]?qlint\b", text)
    assert "pip install 'celery-qlint[lsp]'" in text
    for path in [README, *ROOT.glob("qlint/**/*.py"), *ROOT.glob("editors/*")]:
        assert "pypi.org/project/qlint" not in path.read_text(encoding="utf-8", errors="replace"), path
