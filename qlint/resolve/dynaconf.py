"""Dynaconf's Django extension: ``settings = dynaconf.DjangoDynaconf(__name__)`` at the end of
a Django settings module makes TOML/YAML files overlay the module's settings.

From dynaconf/contrib/django_dynaconf_v2.py: the files are looked up from the settings
module's folder (ROOT_PATH_FOR_DYNACONF), by default settings.{toml,yaml,yml} and
.secrets.*; environments are on, so a file's top level is ``[default]``, one table per
environment (chosen by DJANGO_ENV, ``development`` unless set) and ``[global]``, each
overriding the one before; variables named ``DJANGO_<KEY>`` override every file.
"""
from __future__ import annotations

import posixpath
import tomllib
from typing import Any

from qlint.model import Alternative, Span, Value, unknown
from qlint.resolve.environment import condition
from qlint.resolve.objects import DynaconfDjango
from qlint.sources.deploy.facts import DeployFacts, SettingEntry

DEFAULT_FILES = ("settings.toml", "settings.yaml", "settings.yml", ".secrets.toml", ".secrets.yaml", ".secrets.yml")
DEFAULT_ENV = "development"


def find_marker(names: dict[str, Value]) -> DynaconfDjango | None:
    for value in names.values():
        if value.status == "known" and isinstance(value.value, DynaconfDjango):
            return value.value
    return None


def overlay(names: dict[str, Value], spans: dict[str, Span], marker: DynaconfDjango, module_path: str,
            files: dict[str, DeployFacts], environ: Any) -> tuple[dict[str, Value], dict[str, Span], list[str]]:
    """The settings with the files' values laid over them, and notes on what was read."""
    folder = posixpath.dirname(module_path)
    wanted = marker.settings_files if marker.settings_files is not None else DEFAULT_FILES
    chosen = [f for f in (_find(name, folder, files) for name in wanted) if f is not None]
    active = _active_env(environ)
    out_names, out_spans = dict(names), dict(spans)
    notes = [f"Dynaconf ({module_path}) reads {', '.join(f.path for f in chosen) or 'no settings file found'}"]
    for facts in chosen:
        by_key: dict[str, dict[str, SettingEntry]] = {}
        for entry in facts.settings:
            if len(entry.section) == 1:
                by_key.setdefault(entry.key.upper(), {})[entry.section[0].lower()] = entry
        for key, sections in by_key.items():
            value = _pick(sections, active)
            if value is not None:
                out_names[key] = value
                if value.origin is not None:
                    out_spans[key] = value.origin
    for key in list(out_names):
        override = environ.value(f"DJANGO_{key}") if environ is not None else None
        if override is not None:
            out_names[key] = _parsed(override)
            if override.origin is not None:
                out_spans[key] = override.origin
    return out_names, out_spans, notes


def _find(name: str, folder: str, files: dict[str, DeployFacts]) -> DeployFacts | None:
    """The file from the settings folder, else the nearest parent folder that has it."""
    here = folder
    while True:
        candidate = posixpath.normpath(posixpath.join(here, name)) if here else name
        if candidate in files:
            return files[candidate]
        if not here or here in (".", "/"):
            return None
        here = posixpath.dirname(here)


def _active_env(environ: Any) -> Value:
    value = environ.value("DJANGO_ENV") if environ is not None else None
    return value if value is not None else Value("default", DEFAULT_ENV)


def _pick(sections: dict[str, SettingEntry], active: Value) -> Value | None:
    """The key's value in the active environment; several when DJANGO_ENV varies."""
    if "global" in sections:
        return sections["global"].value
    default = sections["default"].value if "default" in sections else None
    options = [v.value for v in active.possible()]
    if not options or not all(isinstance(o, str) for o in options):
        if any(name not in ("default", "global") for name in sections):
            return unknown("set per Dynaconf environment, and DJANGO_ENV cannot be read",
                           next(iter(sections.values())).span)
        return default
    picked = {env: sections[env.lower()].value if env.lower() in sections else default for env in options}
    if len(set(map(id, picked.values()))) == 1:
        return next(iter(picked.values()))
    if any(v is None for v in picked.values()):
        return unknown("set in some Dynaconf environments only", next(iter(sections.values())).span)
    return Value("several", alternatives=tuple(
        Alternative(v, condition("DJANGO_ENV", env)) for env, v in picked.items()
    ), origin=next(iter(picked.values())).origin)


def _parsed(value: Value) -> Value:
    """Dynaconf reads a variable's text as a TOML value when it parses as one."""
    if value.status != "known" or not isinstance(value.value, str):
        return value
    try:
        parsed = tomllib.loads(f"v = {value.value}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value.value
    return Value("known", parsed, value.origin, env=value.env)
