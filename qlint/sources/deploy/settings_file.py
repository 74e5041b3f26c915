"""Settings written in TOML or YAML (Dynaconf's ``settings.toml``, ``celery.yaml``...).

Every leaf key becomes a SettingEntry with its table path as section, so
``[production] CELERY_BROKER_URL = ...`` is key CELERY_BROKER_URL in section
("production",). A table under a setting-like key (upper case, or ending in
``_options``) stays one dict value: it is the value of a setting
(``CELERY_BROKER_TRANSPORT_OPTIONS``), not a section.
"""
from __future__ import annotations

import re
import tomllib
from typing import Any

from ruamel.yaml.nodes import MappingNode

from qlint.model import Span, Value
from qlint.sources.deploy import yaml_nodes as yn
from qlint.sources.deploy.facts import DeployFacts, SettingEntry

_TOML_TABLE = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")
_TOML_KEY = re.compile(r"^\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*=")


def _is_setting_value(key: str) -> bool:
    return (key.isupper() and "_" in key) or key.lower().endswith("_options")


def read_toml_settings(path: str, text: str) -> DeployFacts:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        raise yn.Unreadable(f"invalid TOML: {exc}", *(int(g) for g in where.groups()) if where else (1, 1)) from None
    positions = _toml_positions(text)
    settings: list[SettingEntry] = []

    def walk(table: dict[str, Any], section: tuple[str, ...]) -> None:
        for key, value in table.items():
            if isinstance(value, dict) and not _is_setting_value(key):
                walk(value, section + (key,))
                continue
            line, column, end = positions.get(section + (key,), (1, 1, 1))
            span = Span(path, line, column, line, end)
            settings.append(SettingEntry(key, Value("known", value, span), span, section))

    walk(data, ())
    return DeployFacts(path, "settings", settings=settings)


def _toml_positions(text: str) -> dict[tuple[str, ...], tuple[int, int, int]]:
    """Line, column and end column of each key path (a line scan: tomllib keeps no positions)."""
    found: dict[tuple[str, ...], tuple[int, int, int]] = {}
    table: tuple[str, ...] = ()
    in_multiline = False
    for number, line in enumerate(text.splitlines(), start=1):
        if in_multiline:
            in_multiline = line.count('"""') % 2 == 0 and line.count("'''") % 2 == 0
            continue
        header = _TOML_TABLE.match(line)
        if header:
            table = _dotted(header.group(1))
            continue
        match = _TOML_KEY.match(line)
        if match:
            found.setdefault(table + _dotted(match.group(1)), (number, match.start(1) + 1, match.end(1) + 1))
            if line.count('"""') % 2 or line.count("'''") % 2:
                in_multiline = True
    return found


def _dotted(text: str) -> tuple[str, ...]:
    parts = re.findall(r"\"([^\"]*)\"|'([^']*)'|([^.\s]+)", text)
    return tuple(next(p for p in groups if p) if any(groups) else "" for groups in parts)


def read_yaml_settings(path: str, text: str) -> DeployFacts:
    notes: list[str] = []
    loaded = yn.load(path, text, notes)
    if loaded is None:
        return DeployFacts(path, "settings", notes=notes, template=True)
    settings: list[SettingEntry] = []

    def walk(node: MappingNode, section: tuple[str, ...]) -> None:
        for key, key_node, value in yn.items(node, loaded.budget):
            if isinstance(value, MappingNode) and not _is_setting_value(key):
                walk(value, section + (key,))
                continue
            span = loaded.located(key_node).span(0, len(key))
            settings.append(SettingEntry(key, Value("known", yn.plain(value, loaded.budget), span), span, section))

    for document in loaded.documents:
        if isinstance(document, MappingNode):
            walk(document, ())
    return DeployFacts(path, "settings", settings=settings, notes=notes)
