"""The stages of qlint's tree import downwards only, and no two modules import each other.

Every import counts: at module level, inside functions, and under TYPE_CHECKING (a type is a
dependency a reader has to follow too). Imports are read from the source with ast, so the test
sees what is written, not what happens to be loaded.
"""
from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# What each stage may not import. A stage is a package of qlint (or a module: model, rule).
HIGHER = {
    "model": {"catalog", "sources", "resolve", "rule", "scan", "semantics", "user_config", "rules", "pipeline",
              "report", "cli", "lsp", "worker", "live"},
    "catalog": {"sources", "resolve", "rule", "scan", "semantics", "user_config", "rules", "pipeline", "report",
                "cli", "lsp", "worker", "live"},
    "sources": {"resolve", "rule", "scan", "semantics", "user_config", "rules", "pipeline", "report", "cli", "lsp",
                "worker", "live"},
    "resolve": {"rule", "scan", "semantics", "user_config", "rules", "pipeline", "report", "cli", "lsp", "worker",
                "live"},
    "semantics": {"rule", "scan", "user_config", "rules", "pipeline", "report", "cli", "lsp", "worker", "live"},
    "rule": {"scan", "semantics", "user_config", "rules", "pipeline", "report", "cli", "lsp", "worker", "live"},
    "rules": {"scan", "user_config", "pipeline", "report", "cli", "lsp", "worker", "live"},
    "user_config": {"scan", "pipeline", "report", "cli", "lsp", "worker", "live"},
    "scan": {"semantics", "rules", "pipeline", "report", "cli", "lsp", "worker", "live"},
    "pipeline": {"report", "cli", "lsp", "worker", "live"},
    "report": {"cli", "lsp", "worker", "live"},
    "worker": {"cli", "lsp", "live"},
    "lsp": {"cli", "worker", "live"},
    # The live broker's reader: only the command line uses it.
    "live": {"cli", "lsp", "worker"},
}


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name; rules/ is installed as qlint.rules."""
    found = {}
    for base, package in ((ROOT / "qlint", "qlint"), (ROOT / "rules", "qlint.rules")):
        for path in base.rglob("*.py"):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The qlint modules a module imports, by dotted name."""
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_bytes())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")[: len(name.split(".")) - (node.level - (1 if is_package else 0))]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                full = f"{target}.{alias.name}"
                if full in known:
                    out.add(full)
                elif target in known:
                    out.add(target)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names if alias.name in known)
    return out


@lru_cache(maxsize=1)
def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) - {name} for name, path in known.items()}


def stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "qlint"


def test_the_tree_is_read_as_the_test_expects():
    edges = graph()
    assert "qlint.resolve.interpreter" in edges["qlint.resolve.workspace"]
    assert "qlint.resolve.host" in edges["qlint.resolve.evaluate"]  # under TYPE_CHECKING
    assert "qlint.rules" in {*edges["qlint.pipeline.engine"]}  # the catalogue, imported by name
    assert {stage(m) for m in edges} >= set(HIGHER)


@pytest.mark.parametrize("lower", sorted(HIGHER))
def test_a_stage_never_imports_a_higher_one(lower):
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph().items() if stage(module) == lower
        for target in targets if stage(target) in HIGHER[lower]
    )
    assert not wrong, "\n".join(wrong)


def test_no_two_modules_import_each_other_even_through_others():
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in edges[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    assert not cycles, "\n".join(" <-> ".join(c) for c in cycles)
