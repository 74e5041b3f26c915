"""The object given to config_from_object(), read as the mapping of keys Celery would see.

Celery's loader turns a module name ("proj.celeryconfig"), "module:attribute",
"module.Class", a module object or a class into a mapping of its attributes
(celery/loaders/base.py config_from_object, celery/utils/imports.py symbol_by_name);
for "django.conf:settings" that is Django's settings object (see django.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from qlint.model import Span, Value, unknown
from qlint.resolve import django, dynaconf
from qlint.resolve import values as V
from qlint.resolve.evaluate import dict_items
from qlint.resolve.objects import UNSET, ClassObj, ModuleRef, Sym
from qlint.resolve.workspace import Workspace

DJANGO_NAMES = frozenset({"django.conf:settings", "django.conf.settings"})

Mapping = dict[str, tuple[Value, Span | None]]


@dataclass
class SourceInfo:
    """What an app's configuration source is, and the keys Celery finds in it."""

    label: str = "none"
    kind: str = "none"  # "django" | "module" | "class" | "dict" | "none" | "unknown"
    path: str | None = None
    problem: str | None = None
    mapping: Mapping | None = field(default_factory=dict)
    named_at: Span | None = None  # where DJANGO_SETTINGS_MODULE was set
    named_by: str | None = None  # why there, when the code and the deployment disagree
    # Why a key the source does not bind may be there all the same (ModuleEnv.unseen).
    unseen: str | None = None


def read_source(source: Value | None, app_module: str, workspace: Workspace) -> SourceInfo:
    if source is None:
        return SourceInfo()
    if source.status == "several":
        return SourceInfo("several", "unknown", problem="the configuration source depends on a condition", mapping=None)
    if source.status == "unknown":
        return SourceInfo("unknown", "unknown", problem=f"configuration source cannot be read: {source.reason}", mapping=None)
    obj = source.value
    if isinstance(obj, str):
        return _named(obj, app_module, workspace)
    if isinstance(obj, dict):
        # config_from_object({...}): Celery's loader takes a mapping as it is (force_mapping)
        items = dict_items(source)
        return SourceInfo("a dict", "dict", source.origin.path if source.origin else None,
                          mapping={str(k): (v, v.origin) for k, v in items.items()})
    if isinstance(obj, ModuleRef):
        env = workspace.root_env(obj.path)
        if env is None:
            return SourceInfo(obj.name, "unknown", obj.path, f"configuration module {obj.name!r} cannot be read", None)
        if env.opaque is not None:
            return SourceInfo(obj.name, "unknown", obj.path, f"configuration module {obj.name!r}: {env.opaque}", None)
        names = workspace.resolved_names(env)
        return SourceInfo(obj.name, "module", obj.path, mapping=attribute_mapping(names, env.spans, frozenset(env.imported)),
                          unseen=env.unseen)
    if isinstance(obj, ClassObj):
        return SourceInfo(obj.name, "class", obj.module, mapping=attribute_mapping(obj.all_attrs(), obj.all_attr_spans()))
    if isinstance(obj, Sym) and obj.qualname == "django.conf.settings":
        return _django(app_module, workspace)
    if isinstance(obj, Sym):
        return SourceInfo(obj.qualname, "unknown", problem=f"configuration source {obj.qualname} is outside the project", mapping=None)
    return SourceInfo("unknown", "unknown", problem="configuration source is not a module, class or module name", mapping=None)


def _django(app_module: str, workspace: Workspace) -> SourceInfo:
    found = django.locate(workspace, app_module)
    label = f"django.conf:settings ({found.label})"
    if found.problem is not None or found.names is None:
        return SourceInfo(label, "unknown", found.path, found.problem, None, found.named_at, found.named_by)
    names, spans = found.names, found.spans or {}
    module = workspace.root_env(found.path) if found.path is not None else None
    marker = dynaconf.find_marker(module.names) if module is not None else None
    if marker is not None and found.path is not None:
        names, spans, notes = dynaconf.overlay(names, spans, marker, found.path, workspace.settings_files,
                                               workspace.environ)
        workspace.notes.extend(notes)
    mapping = attribute_mapping(names, spans)
    return SourceInfo(label, "django", found.path, mapping=mapping, named_at=found.named_at, named_by=found.named_by,
                      unseen=found.unseen)


def _named(name: str, app_module: str, workspace: Workspace) -> SourceInfo:
    if name in DJANGO_NAMES:
        return _django(app_module, workspace)
    module_name, _, attr = name.partition(":")
    path = workspace.index.find(module_name, app_module)
    split = path is None and not attr and "." in module_name
    if split:
        # "proj.config.Config": symbol_by_name tries the last part as an attribute
        module_name, attr = module_name.rsplit(".", 1)
        path = workspace.index.find(module_name, app_module)
    if path is None:
        return SourceInfo(name, "unknown", problem=f"configuration module {name!r} is not in the project", mapping=None)
    env = workspace.root_env(path)
    facts = workspace.load_facts(path)
    if env is None or facts is None or facts.error is not None:
        reason = facts.error if facts is not None and facts.error else "it cannot be read"
        return SourceInfo(name, "unknown", path, f"configuration module {module_name!r} cannot be analysed: {reason}", None)
    if not attr and env.opaque is not None:
        return SourceInfo(name, "unknown", path, f"configuration module {module_name!r}: {env.opaque}", None)
    names = workspace.resolved_names(env)
    if not attr:
        return SourceInfo(name, "module", path, mapping=attribute_mapping(names, env.spans, frozenset(env.imported)),
                          unseen=env.unseen)
    found = names.get(attr)
    if found is None and split:
        return SourceInfo(name, "unknown", problem=f"configuration module {name!r} is not in the project", mapping=None)
    if found is None or not isinstance(found.value, (ClassObj, ModuleRef)):
        return SourceInfo(name, "unknown", path, f"{name!r} is not a class or module qlint can read", None)
    if isinstance(found.value, ModuleRef):
        return read_source(found, app_module, workspace)
    cls = found.value
    return SourceInfo(name, "class", path, mapping=attribute_mapping(cls.all_attrs(), cls.all_attr_spans()))


def attribute_mapping(names: dict[str, Value], spans: dict[str, Span], imported: frozenset[str] = frozenset()) -> Mapping:
    """The attributes Celery sees that can hold a setting: names bound by imports,
    functions, classes and other objects are left out."""
    out: Mapping = {}
    for key, value in names.items():
        if key.startswith("__") or (key in imported and not key.isupper()):
            continue
        raw = value.value
        if isinstance(raw, Sym):
            value = unknown(f"{key} is {raw.qualname}, which qlint does not evaluate", spans.get(key))
        elif value.status not in ("several", "unknown") and raw is not UNSET and not V.is_plain(raw):
            continue
        out[key] = (value, spans.get(key))
    return out
