"""Runs a rule's examples as real projects on disk, through the same engine as `qlint check`."""
from __future__ import annotations

import json
from pathlib import Path

from qlint.pipeline.analysis import analyse
from qlint.pipeline.engine import CheckResult, check
from qlint.user_config.project_config import load_config
from qlint.rule import Example


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def write_project(root: Path, example: Example) -> None:
    for rel, content in example.files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    lines = ["[tool.qlint]"]
    tables = []
    for key, value in example.config.items():
        if isinstance(value, dict):
            tables.append(f"\n[tool.qlint.{key}]\n" + "".join(f"{json.dumps(k)} = {_toml_value(v)}\n" for k, v in value.items()))
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    if not (root / "pyproject.toml").exists():
        (root / "pyproject.toml").write_text("\n".join(lines) + "\n" + "".join(tables), encoding="utf-8")


def run_example(root: Path, example: Example, select: list[str] | None = None) -> CheckResult:
    write_project(root, example)
    analysis = analyse(["."], cwd=root, root=root, use_cache=False)
    return check(analysis, load_config(root), ["."], select=select)
