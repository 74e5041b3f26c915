"""YAML read as a node graph, safely and with positions.

ruamel.yaml's composer (or yaml_compose.py, from libyaml's parse) stops before
construction: no Python object is ever built from a tag, aliases stay shared nodes
(never expanded copies), and every node keeps its start and end in the text. Merge keys
(``<<``) are resolved here. Work on a graph is bounded by a Budget, so an alias bomb costs
a bounded number of steps.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Iterator

from ruamel.yaml import YAML
from ruamel.yaml.error import ReusedAnchorWarning, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from qlint.sources.deploy.located import Located
from qlint.sources.deploy.yaml_compose import compose
from qlint.sources.templates import MARKERS as TEMPLATE_MARKERS

MAX_CHARS = 4 * 1024 * 1024
MAX_STEPS = 200_000
_MERGE_TAG = "tag:yaml.org,2002:merge"
_FOLD_MARK = "\a"  # ruamel marks folded line breaks in scalar values with BEL


class Unreadable(Exception):
    """A deployment or settings file that cannot be read at all; the message says why
    (without the path), line and column say where when that is known."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.line, self.column = line, column


class BudgetExceeded(Unreadable):
    """More steps than a YAML file of any sane size needs (an alias bomb)."""


class Budget:
    def __init__(self, steps: int = MAX_STEPS) -> None:
        self.left = steps

    def spend(self, steps: int = 1) -> None:
        self.left -= steps
        if self.left < 0:
            raise BudgetExceeded("the YAML expands to too many nodes (an alias bomb?)")


@dataclass
class YamlFile:
    path: str
    text: str
    documents: list[Node]
    budget: Budget

    def located(self, node: ScalarNode) -> Located:
        """The scalar's value, each character placed where it is written."""
        source = self.text[node.start_mark.index:node.end_mark.index]
        return Located.aligned(self.path, scalar(node) or "", source,
                               node.start_mark.line + 1, node.start_mark.column + 1)


def load(path: str, text: str, notes: list[str]) -> YamlFile | None:
    """Compose every document of text.

    A template (Jinja, Go template markers) that is not valid YAML gives None with a
    note; any other file that cannot be read raises Unreadable.
    """
    if len(text) > MAX_CHARS:
        raise Unreadable(f"too large for a deployment file ({len(text):,} characters, at most {MAX_CHARS:,})")
    documents = compose(text)  # libyaml's parse, when it can be had (yaml_compose.py)
    if documents is not None:
        return YamlFile(path, text, documents, Budget())
    try:
        with warnings.catch_warnings():
            # YAML lets an anchor be defined again: later aliases take the latest definition,
            # which is what ruamel composes and what docker compose reads (open-forms' compose
            # files reuse &volumes per service), so the warning printed on stderr is noise.
            warnings.simplefilter("ignore", ReusedAnchorWarning)
            documents = [doc for doc in YAML(typ="rt").compose_all(text) if doc is not None]
    except YAMLError as exc:
        if TEMPLATE_MARKERS.search(text):
            notes.append(f"{path}: a template (Jinja or Go template markers), not YAML; skipped")
            return None
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark else _place(text, getattr(exc, "position", None))
        where = f" at line {line}, column {column}" if mark or getattr(exc, "position", None) is not None else ""
        # A reader error (a control character) has a position and no mark.
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise Unreadable(f"invalid YAML{where}: {problem}", line, column) from None
    except RecursionError:
        raise Unreadable("YAML nested too deeply") from None
    return YamlFile(path, text, documents, Budget())


def _place(text: str, position: int | None) -> tuple[int, int]:
    """1-based line and column of a character offset (1, 1 when unknown)."""
    if not isinstance(position, int) or not 0 <= position <= len(text):
        return 1, 1
    before = text[:position]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1


def scalar(node: Node | None) -> str | None:
    """A scalar node's string value (None for mappings, sequences, nulls)."""
    if not isinstance(node, ScalarNode) or node.tag == "tag:yaml.org,2002:null":
        return None
    return node.value.replace(_FOLD_MARK, "")


def items(node: Node | None, budget: Budget) -> Iterator[tuple[str, ScalarNode, Node]]:
    """(key, key node, value node) of a mapping, merge keys resolved (own keys win)."""
    if not isinstance(node, MappingNode):
        return
    seen: set[str] = set()
    for key, value in _pairs(node, budget, 0):
        name = scalar(key)
        if name is None or name in seen:
            continue
        seen.add(name)
        yield name, key, value


def _pairs(node: MappingNode, budget: Budget, depth: int) -> Iterator[tuple[Node, Node]]:
    if depth > 20:
        raise BudgetExceeded("merge keys nested too deeply")
    merged: list[MappingNode] = []
    for key, value in node.value:
        budget.spend()
        if key.tag == _MERGE_TAG:
            sources = value.value if isinstance(value, SequenceNode) else [value]
            merged.extend(s for s in sources if isinstance(s, MappingNode))
        else:
            yield key, value
    for source in merged:
        yield from _pairs(source, budget, depth + 1)


def get(node: Node | None, key: str, budget: Budget) -> Node | None:
    for name, _, value in items(node, budget):
        if name == key:
            return value
    return None


def sequence(node: Node | None, budget: Budget) -> list[Node]:
    if not isinstance(node, SequenceNode):
        return []
    budget.spend(len(node.value))
    return list(node.value)


def plain(node: Node, budget: Budget) -> Any:
    """The node as plain data (str/int/float/bool/None, lists, dicts), within the budget."""
    budget.spend()
    if isinstance(node, ScalarNode):
        return _typed_scalar(node)
    if isinstance(node, SequenceNode):
        return [plain(child, budget) for child in node.value]
    return {name: plain(value, budget) for name, _, value in items(node, budget)}


def _typed_scalar(node: ScalarNode) -> Any:
    """The value by the tag the YAML resolver gave it (YAML 1.2: ``yes`` stays a string)."""
    value = scalar(node)
    if value is None:
        return None
    text = value.replace("_", "")
    try:
        if node.tag == "tag:yaml.org,2002:int":
            return int(text, 0) if text[:2].lower() in ("0x", "0o", "0b") else int(text)
        if node.tag == "tag:yaml.org,2002:float":
            return float(text.lower().replace(".inf", "inf").replace(".nan", "nan"))
    except ValueError:
        return value
    if node.tag == "tag:yaml.org,2002:bool":
        return value.lower() == "true"
    return value
