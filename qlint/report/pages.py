"""Each rule's page: docs/rules/QLxxx.md, generated from the rule's own documentation
(scripts/update_readme.py writes them; tests/test_readme.py fails when one is stale) and
installed with the package (qlint/docs/rules/, setup.py), and the link a diagnostic carries.

The project declares no public home yet, so a diagnostic links to the page installed beside
the running qlint (a file URI). Once `[project.urls]` declares `Rules`, the folder URL where
the pages are published, links point there instead.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from qlint.rule import Rule

# The key of [project.urls] that names where the rule pages are published.
RULES_URL_KEY = "Rules"


def page(rule: type[Rule]) -> str:
    """The Markdown page of a rule, as docs/rules/CODE.md holds it."""
    source = "rules/" + rule.__module__.rpartition(".")[2] + ".py"
    return (f"<!-- Generated from {source} by scripts/update_readme.py: edit the rule, not this page. -->\n\n"
            + rule.documentation())


def pages_folder() -> Path:
    """Where the pages are for the running qlint: qlint/docs/rules/ in an installed package,
    docs/rules/ of the checkout in an editable install (the rules folder's sibling in both)."""
    import qlint.rules

    return Path(qlint.rules.__file__).resolve().parent.parent / "docs" / "rules"


@lru_cache(maxsize=1)
def declared_urls() -> dict[str, str]:
    """[project.urls] of the installed distribution, by label (none when it is not installed)."""
    from importlib import metadata

    from qlint import DISTRIBUTION

    try:
        entries = metadata.metadata(DISTRIBUTION).get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return {}
    urls = {}
    for entry in entries:
        label, _, url = entry.partition(",")
        if url.strip():
            urls[label.strip()] = url.strip()
    return urls


def page_url(code: str) -> str | None:
    """The link to a rule's page: under the declared `Rules` URL, else the installed page as a
    file URI; None when neither exists (a rule with no page, a copy without the docs)."""
    published = declared_urls().get(RULES_URL_KEY)
    if published:
        return f"{published.rstrip('/')}/{code}.md"
    installed = pages_folder() / f"{code}.md"
    return installed.as_uri() if installed.is_file() else None


def home_url() -> str | None:
    """The project's declared home page, for SARIF's informationUri; None while it has none."""
    urls = declared_urls()
    return next((urls[k] for k in ("Homepage", "Home", "Repository", "Source", "Documentation") if k in urls), None)
