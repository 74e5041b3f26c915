"""`qlint rule CODE` prints a rule's documentation; `qlint rules` lists the catalogue."""
from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from qlint.cli import EXIT_OK, UsageError

if TYPE_CHECKING:
    from qlint.rule import Rule


def register(sub: argparse._SubParsersAction) -> None:
    one = sub.add_parser("rule", help="show a rule's documentation")
    one.add_argument("code", nargs="?", help="rule code, e.g. QL101")
    one.add_argument("--all", action="store_true", help="show every rule's documentation")
    one.set_defaults(run=run_rule)
    many = sub.add_parser("rules", help="list the rules")
    many.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    many.set_defaults(run=run_rules)


def run_rule(args: argparse.Namespace) -> int:
    from qlint.rules import all_rules, rule_by_code

    if args.all:
        sys.stdout.write("\n".join(r.documentation() for r in all_rules()))
        return EXIT_OK
    if not args.code:
        raise UsageError("name a rule code (e.g. `qlint rule QL101`) or pass --all")
    rule = rule_by_code(args.code)
    if rule is None:
        raise UsageError(f"unknown rule {args.code!r}; `qlint rules` lists them")
    sys.stdout.write(rule.documentation())
    return EXIT_OK


def rule_table(pages: str | None = None) -> str:
    """The Markdown table of rules; with `pages` (the README's "docs/rules/"), each code links
    its page there."""
    from qlint.rules import all_rules

    lines = ["| code | name | severity | what it finds |", "|---|---|---|---|"]
    for rule in all_rules():
        code = f"[{rule.code}]({pages}{rule.code}.md)" if pages is not None else rule.code
        lines.append(f"| {code} | `{rule.name}` | {rule.severity} | {rule.summary} |")
    return "\n".join(lines) + "\n"


def _row(rule: type[Rule]) -> dict[str, str]:
    return {"code": rule.code, "name": rule.name, "severity": rule.severity, "summary": rule.summary, "status": rule.status}


def run_rules(args: argparse.Namespace) -> int:
    from qlint.rules import all_rules

    rules = all_rules()
    if args.format == "json":
        import json

        print(json.dumps([_row(r) for r in rules], indent=2))
    elif args.format == "markdown":
        sys.stdout.write(rule_table())
    else:
        width = max((len(r.name) for r in rules), default=0)
        for rule in rules:
            print(f"{rule.code}  {rule.name:<{width}}  {rule.severity:<7}  {rule.summary}")
    return EXIT_OK
