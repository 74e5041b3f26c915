"""A scenario file's YAML as plain data (dicts, lists, strings, numbers, booleans, None),
within bounds: a scenario may come with a checked-out repository, so it is read as hostile.

The text is composed into YAML's node graph without constructing anything
(sources/deploy/yaml_nodes.py: libyaml's events built into nodes with a stack, or ruamel's
composer), then converted here with every bound checked on the way: at most MAX_NODES values
however often an alias repeats them (an alias bomb), MAX_DEPTH levels of nesting, MAX_DIGITS
digits in an integer (Python refuses to convert 4,300), no alias to a collection that
contains it (`&a [*a]`), and only YAML's plain tags (no `!!set`, `!!binary`, `!!python/...`).
A date stays the string it is written as.
"""
from __future__ import annotations

import re
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from qlint.sources.deploy import yaml_nodes

MAX_NODES = 200_000
MAX_DEPTH = 32
MAX_DIGITS = 50

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(f"{_TAG}{t}" for t in ("str", "int", "float", "bool", "null", "timestamp"))
_MERGE = f"{_TAG}merge"


class YamlProblem(Exception):
    """Why the text is not a scenario's plain YAML, and where (1-based line and column) when
    that is known."""

    def __init__(self, reason: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.line, self.column = reason, line, column


def _at(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def load_plain(text: str) -> Any:
    """The single document of text as plain data; YamlProblem says what is wrong."""
    try:
        composed = yaml_nodes.load("<scenario>", text, [])
    except yaml_nodes.Unreadable as exc:
        reason = re.sub(r"^invalid YAML at line \d+, column \d+: ", "invalid YAML: ", str(exc))
        raise YamlProblem(f"not valid YAML: {reason.removeprefix('invalid YAML: ')}", exc.line, exc.column) from None
    documents = composed.documents if composed is not None else None
    if documents is None:
        raise YamlProblem("not valid YAML")
    if len(documents) > 1:
        raise YamlProblem(f"not valid YAML: {len(documents)} documents, where a scenario is one")
    if not documents:
        return None
    return _Converter().value(documents[0], 0)


class _Converter:
    def __init__(self) -> None:
        self.left = MAX_NODES
        self.open: set[int] = set()  # the collections being converted, outermost to innermost

    def value(self, node: Node, depth: int) -> Any:
        self.left -= 1
        if self.left < 0:
            raise YamlProblem(f"scenario is too large (more than {MAX_NODES} values, or an alias bomb)")
        if isinstance(node, ScalarNode):
            return _scalar(node)
        if id(node) in self.open:
            raise YamlProblem("an alias refers to a collection that contains it", *_at(node))
        if depth >= MAX_DEPTH:
            raise YamlProblem(f"nested more than {MAX_DEPTH} levels deep", *_at(node))
        expected = f"{_TAG}seq" if isinstance(node, SequenceNode) else f"{_TAG}map"
        if node.tag != expected:
            raise _unsupported(node)
        self.open.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.value(child, depth + 1) for child in node.value]
            assert isinstance(node, MappingNode)
            return self.mapping(node, depth)
        finally:
            self.open.discard(id(node))

    def mapping(self, node: MappingNode, depth: int) -> dict[Any, Any]:
        """The keys of merged mappings (`<<: *defaults`, the first one's winning) first, as
        ruamel orders them, then the mapping's own keys, which win over merged ones."""
        out: dict[Any, Any] = {}
        own: list[tuple[Any, Node]] = []
        seen: set[Any] = set()
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.tag == _MERGE:
                for source in value.value if isinstance(value, SequenceNode) else [value]:
                    if not isinstance(source, MappingNode):
                        raise YamlProblem("`<<` merges mappings only", *_at(source))
                    for name, item in self.value(source, depth + 1).items():
                        out.setdefault(name, item)
                continue
            if not isinstance(key, ScalarNode):
                raise YamlProblem("a mapping key must be a plain value", *_at(key))
            name = _scalar(key)
            if name in seen:
                raise YamlProblem(f"duplicate key {name!r}", *_at(key))
            seen.add(name)
            own.append((name, value))
        for name, value in own:
            out[name] = self.value(value, depth + 1)
        return out


def _unsupported(node: Node) -> YamlProblem:
    tag = str(node.tag)
    shown = "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag
    return YamlProblem(f"not valid YAML: the tag {shown} is not supported "
                       "(a scenario holds mappings, lists, strings, numbers, booleans and null)", *_at(node))


def _scalar(node: ScalarNode) -> Any:
    tag = node.tag
    if tag not in _SCALAR_TAGS:
        raise _unsupported(node)
    text = yaml_nodes.scalar(node)
    if text is None:
        return None
    if tag == f"{_TAG}bool":
        return text.lower() == "true"
    plain = text.replace("_", "")
    if tag == f"{_TAG}int":
        digits = plain.lstrip("+-")
        if len(digits) > MAX_DIGITS:
            raise YamlProblem(f"an integer of {len(digits):,} digits "
                              f"(a scenario's numbers have at most {MAX_DIGITS})", *_at(node))
        base = {"0x": 16, "0o": 8, "0b": 2}.get(digits[:2].lower())
        try:
            number = int(digits[2:], base) if base else int(digits)
        except ValueError:
            return text
        return -number if plain.startswith("-") else number
    if tag == f"{_TAG}float":
        try:
            return float(plain.lower().replace(".inf", "inf").replace(".nan", "nan"))
        except ValueError:
            return text
    return text  # a string, or a date kept as written
