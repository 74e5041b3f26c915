"""YAML's node graph from libyaml's parser, when ruamel's C extension is installed.

ruamel's own parser is pure Python: DefectDojo's Helm values and compose files took
0.17 s to compose, 0.004 s to parse with libyaml. ruamel's C composer is faster still, but
it recurses in C (a file nested 100,000 deep crashes the process) and refuses an anchor
defined twice, which docker compose files do. So libyaml parses, and this module builds
the nodes from its events with a stack, as ruamel's composer would: the same tags (ruamel's
resolver, YAML 1.2), values, anchors shared and marks.

None means "compose it the usual way": no C extension, a parse error (ruamel's parser words
it), a %YAML directive, an undefined alias, or nesting deeper than a deployment file has.
"""
from __future__ import annotations

from typing import Any

from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import (AliasEvent, DocumentEndEvent, DocumentStartEvent, MappingEndEvent,
                                MappingStartEvent, ScalarEvent, SequenceEndEvent, SequenceStartEvent)
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver

try:
    from ruamel.yaml.cyaml import CParser
except ImportError:  # ruamel.yaml without ruamel.yaml.clibz (or the older clib)
    CParser = None

MAX_DEPTH = 64


def compose(text: str) -> list[Node] | None:
    """The documents of text, or None (see the module's docstring)."""
    if CParser is None:
        return None
    parser = CParser(text)
    try:
        return _compose(parser)
    except YAMLError:
        return None
    finally:
        parser.dispose()


def _compose(parser: Any) -> list[Node] | None:
    resolver = VersionedResolver()
    documents: list[Node] = []
    anchors: dict[str, Node] = {}
    open_nodes: list[Node] = []  # collections being filled, innermost last
    keys: list[Node | None] = []  # for each open mapping, its key while the value is to come
    root: Node | None = None
    while parser.check_event():
        event = parser.get_event()
        kind = type(event)
        if kind is SequenceEndEvent or kind is MappingEndEvent:
            node = open_nodes.pop()
            node.end_mark = event.end_mark
            if kind is MappingEndEvent:
                keys.pop()
            continue
        if kind is DocumentStartEvent:
            if event.version is not None:
                return None  # YAML 1.1 resolves other tags: ruamel's composer knows how
            anchors.clear()
            continue
        if kind is DocumentEndEvent:
            if root is not None:
                documents.append(root)
            root = None
            continue
        if kind is AliasEvent:
            node = anchors.get(event.anchor)
            if node is None:
                return None
        elif kind is ScalarEvent:
            node = ScalarNode(_tag(resolver, ScalarNode, event), event.value, event.start_mark, event.end_mark,
                              style=event.style, anchor=event.anchor)
        elif kind is SequenceStartEvent or kind is MappingStartEvent:
            if len(open_nodes) >= MAX_DEPTH:
                return None
            node_class = SequenceNode if kind is SequenceStartEvent else MappingNode
            node = node_class(_tag(resolver, node_class, event), [], event.start_mark, None,
                              flow_style=event.flow_style, anchor=event.anchor)
        else:
            continue  # the stream's start and end
        if kind is not AliasEvent and event.anchor is not None:
            anchors[event.anchor] = node  # a later definition wins, as in ruamel's composer
        if open_nodes:
            _add(open_nodes[-1], keys, node)
        else:
            root = node
        if kind is SequenceStartEvent:
            open_nodes.append(node)
        elif kind is MappingStartEvent:
            open_nodes.append(node)
            keys.append(None)
    return documents


def _add(parent: Node, keys: list[Node | None], node: Node) -> None:
    """Put node in its collection: a collection is put there when it opens, and filled after."""
    if isinstance(parent, SequenceNode):
        parent.value.append(node)
    elif keys[-1] is None:
        keys[-1] = node
    else:
        parent.value.append((keys[-1], node))
        keys[-1] = None


def _tag(resolver: VersionedResolver, kind: type, event: Any) -> Any:
    if event.tag is None or event.tag == "!":
        return resolver.resolve(kind, event.value if kind is ScalarNode else None, event.implicit)
    return event.tag
