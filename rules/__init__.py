"""qlint's rules, one module per rule (installed as qlint.rules), and their catalogue: every
Rule subclass defined in a module of this package, found by walking the package.

A rule module may import the lower stages (model, rule, catalog, sources, resolve, semantics)
and never the pipeline, the reports, the command line, the language server or the worker."""
from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from qlint.rule import Rule

# Codes that were renamed keep working: old code -> new code. A code is never reused.
REDIRECTS: dict[str, str] = {}


@lru_cache(maxsize=1)
def all_rules() -> tuple[type[Rule], ...]:
    found: dict[str, type[Rule]] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, Rule) and obj is not Rule and obj.__module__ == module.__name__:
                if obj.code in found:
                    raise RuntimeError(f"rule code {obj.code} defined twice")
                found[obj.code] = obj
    return tuple(found[code] for code in sorted(found))


def rule_by_code(code: str) -> type[Rule] | None:
    code = REDIRECTS.get(code.upper(), code.upper())
    for rule in all_rules():
        if rule.code == code:
            return rule
    return None
