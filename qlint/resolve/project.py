"""The resolved project: each Celery app with its effective settings and tasks.

Celery's precedence, read from celery/app/base.py and utils/collections.py:
values written before configuration loads (Celery(...) keywords, app.conf.X = ...,
app.conf.update(...)) win over the configuration source, which wins over the
defaults. The source is the object given to the last config_from_object(); under a
namespace Celery looks a setting up as NAMESPACE_NAME, then its plain name, then its
old name(s) — in that order, in each of those three layers.

That is Celery 5.7. Up to 5.6 each key is looked up in all three layers before the
next key, and the defaults hold every plain name: under a namespace the old names are
never read, and the source's NAMESPACE_NAME beats a value written on the app under the
plain name. An app is resolved once per Celery release the project may install (the
project's versions, qlint.resolve.versions); where the releases disagree, a setting's
value is `several`, one alternative per group of releases ("Celery 5.2–5.6").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qlint import catalog
from qlint.catalog import releases as catalog_releases
from qlint.model import Span, Value, unknown
from qlint.resolve import django
from qlint.resolve import values as V
from qlint.resolve.evaluate import dict_items, make_dict
from qlint.resolve.objects import UNSET, AppObj, ConfEvent, TaskObj
from qlint.resolve.config_source import Mapping, read_source
from qlint.resolve.framework_apps import FrameworkAppObj, implicit_app
from qlint.resolve.resolved import App, UnreadKey, merge_releases
from qlint.resolve.task_modules import resolve_with_task_modules
from qlint.resolve.resolved import Task
from qlint.resolve.tasks import attach_tasks
from qlint.resolve.workspace import Workspace

@dataclass
class Project:
    root: str
    apps: list[App]
    workspace: Workspace
    notes: list[str] = field(default_factory=list)
    task_objects: dict[int, Task] = field(default_factory=dict)
    # qlint's own configuration ([tool.qlint]); set by the engine before rules run.
    config: Any = None
    # The celery processes of the deployment files (qlint.resolve.workers.DeploymentView).
    deployment: Any = None
    # Results that several rules derive from the whole project (call sites, canvases),
    # computed once per run by the module that owns each key.
    derived: dict[str, Any] = field(default_factory=dict)
    # The Celery and kombu releases the project installs (qlint.resolve.versions.Versions).
    versions: Any = None

    def tasks(self) -> list[Task]:
        return [t for app in self.apps for t in app.tasks.values()]

    def module_value(self, path: str, name: str) -> Value | None:
        """What a module-level name is bound to, interpreting the module if needed."""
        env = self.workspace.module_env(path)
        value = env.names.get(name) if env is not None else None
        return self.workspace.resolve(value) if value is not None else None

    def django_setting(self, app: App, name: str) -> Value | None:
        """A setting of the Django settings an app is configured from (the settings module, or
        the modules that stand in for one the project lacks); None when unset or not readable."""
        if app.source_kind != "django":
            return None
        return self.settings_near(app.defined_at.path, name)

    def settings_near(self, path: str, name: str) -> Value | None:
        """A setting of the Django settings module that DJANGO_SETTINGS_MODULE names for the
        code at path (the project's web processes run with it, whatever the Celery app reads);
        None when unset, not readable, or no settings module is named."""
        found = django.locate(self.workspace, path)
        value = found.names.get(name) if found.names is not None else None
        return self.workspace.resolve(value) if value is not None else None

    def task_of(self, obj: TaskObj) -> Task | None:
        return self.task_objects.get(id(obj))

    def task_named(self, name: str) -> Task | None:
        for app in self.apps:
            if name in app.tasks:
                return app.tasks[name]
        return None


# ---------------------------------------------------------------- building


def build_project(root: str, workspace: Workspace, entry_paths: list[str],
                  settings_only: list[str] = (), versions: Any = None) -> Project:
    """settings_only: files that only name DJANGO_SETTINGS_MODULE, read once an app exists.
    versions: the releases the project installs (qlint.resolve.versions.Versions); none: the newest."""
    for path in entry_paths:
        workspace.module_env(path)
    # analysis._Loader reads any project file (setup.py, setup.cfg), for the framework that makes the app
    framework_app = implicit_app(workspace, getattr(workspace.load_facts, "read_other", None))
    if framework_app is not None:
        workspace.apps.append(framework_app)
    if workspace.apps:
        for path in settings_only:
            workspace.module_env(path)
    releases = tuple(versions.celery.releases) if versions is not None else (catalog_releases.newest(),)
    apps = resolve_with_task_modules(workspace, lambda obj: _resolve_app(obj, workspace, releases))
    task_objects = attach_tasks(apps, workspace)
    return Project(root, apps, workspace, notes=list(dict.fromkeys(workspace.notes)), task_objects=task_objects,
                   versions=versions)


def _app_name(obj: AppObj, workspace: Workspace) -> str:
    if obj.main.status == "known" and isinstance(obj.main.value, str) and obj.main.value:
        return obj.main.value
    return f"{workspace.index.module_name(obj.module)}:{obj.var or 'app'}"


# Celery() arguments that are not settings.
_NOT_AUTOSET = frozenset({
    "config_source", "namespace", "loader", "fixups", "set_as_current", "autofinalize", "strict_typing",
    "config_source_silent", "task_cls", "amqp", "events", "log", "control", "tasks",
})


def _task_cls(value: Value | None, near: str, workspace: Workspace) -> Value | None:
    """Celery(task_cls=Base) or task_cls="module:Base"."""
    if value is None or value.status != "known" or not isinstance(value.value, str):
        return value
    module_name, _, attr = value.value.replace(":", ".").rpartition(".")
    path = workspace.index.find(module_name, near)
    env = workspace.module_env(path) if path is not None else None
    if env is None or attr not in env.names:
        return unknown(f"task class {value.value!r} is not in the project", value.origin)
    return workspace.resolve(env.names[attr])


def _resolve_app(obj: AppObj, workspace: Workspace, releases: tuple[str, ...]) -> App:
    app = App(_app_name(obj, workspace), obj.var, obj.module, obj.span)
    ns_value = obj.kwargs.get("namespace")
    if ns_value is not None and ns_value.status == "known":
        app.namespace = ns_value.value
    preconf: list[ConfEvent] = []
    for key, value in obj.kwargs.items():
        target = {"broker": "broker_url", "backend": "result_backend"}.get(key, key)
        if key == "changes" and isinstance(value.value, dict):
            for k, v in dict_items(value).items():
                preconf.append(ConfEvent("set", str(k), v, obj.span))
        elif key not in _NOT_AUTOSET and not (value.status == "known" and value.value is None):
            # Celery(...) keeps a keyword only when it is not None (Celery.__autoset)
            preconf.append(ConfEvent("set", target, value, value.origin or obj.span))
    source: Value | None = obj.kwargs.get("config_source")
    for event in [*obj.events, *obj.late_events]:
        if event.kind == "source":
            source = event.value
            namespace = event.extra.get("namespace")
            if namespace is not None and namespace.status == "known":
                app.namespace = namespace.value
        elif event.kind == "namespace":
            if event.value is not None and event.value.status == "known" and isinstance(event.value.value, (str, type(None))):
                app.namespace = event.value.value
        else:
            preconf.append(event)
    app.task_cls = _task_cls(obj.kwargs.get("task_cls"), obj.module, workspace)
    info = obj.source_info if isinstance(obj, FrameworkAppObj) else read_source(source, obj.module, workspace)
    app.source, app.source_kind, app.source_path, app.source_problem = info.label, info.kind, info.path, info.problem
    app.source_named_at, app.source_named_by = info.named_at, info.named_by
    app.source_unseen = info.unseen
    _by_release(app, info.mapping, preconf, releases)
    return app


def _by_release(app: App, mapping: dict[str, tuple[Value, Span | None]] | None, preconf: list[ConfEvent],
                releases: tuple[str, ...]) -> None:
    """The app's settings in each release it may run, merged (see the module docstring)."""
    app.releases = releases
    if len(releases) == 1:
        _effective(app, mapping, preconf, releases[0])
        return
    parts = []
    for release in releases:
        part = App(app.name, app.var, app.module, app.defined_at, namespace=app.namespace, source=app.source,
                   source_problem=app.source_problem, source_unseen=app.source_unseen, source_kind=app.source_kind,
                   releases=(release,))
        _effective(part, mapping, preconf, release)
        parts.append((release, part))
        app.by_release[release] = part
    for name in dict.fromkeys(name for _, part in parts for name in part.settings):
        app.settings[name] = merge_releases([(release, part.setting(name)) for release, part in parts], releases)
    for _, part in parts:
        app.read_keys.update(part.read_keys)
    unread: dict[tuple, list[str]] = {}
    first: dict[tuple, UnreadKey] = {}
    for release, part in parts:
        for key in part.unread:
            identity = (key.key, key.span, key.kind, key.setting)
            unread.setdefault(identity, []).append(release)
            first.setdefault(identity, key)
    for identity, names in unread.items():
        key = first[identity]
        key.releases = () if len(names) == len(releases) else tuple(names)
        app.unread.append(key)
    newest = parts[-1][1]
    app.mixed_keys, app.config_error, app.updated_unseen = newest.mixed_keys, newest.config_error, newest.updated_unseen
    app.old_on_app = newest.old_on_app


def _effective(app: App, mapping: dict[str, tuple[Value, Span | None]] | None, preconf: list[ConfEvent],
               release: str | None = None) -> None:
    read_keys: set[str] = set()
    # Settings the source sets under their namespaced key: up to 5.6 they beat what the app writes under another.
    source_namespaced: set[str] = set()
    if mapping is not None:
        for setting in catalog_releases.settings_of(release).values():
            for key in catalog.lookup_keys(setting, app.namespace, release):
                if key in mapping:
                    value, span = mapping[key]
                    value = _unset_to_default(V.with_origin(value, span) if span else value, setting)
                    app.settings[setting.name] = _typed(value, setting.name)
                    read_keys.add(key)
                    if span is not None:
                        app.read_keys[key] = span
                    if app.namespace and key == catalog.namespaced_key(setting, app.namespace):
                        source_namespaced.add(setting.name)
                    break
        _record_unread(app, mapping, read_keys, release)
        if not app.namespace and app.source_unseen is None:  # keys qlint does not see could tip the balance
            app.mixed_keys = _mixed_keys(set(mapping))
            app.config_error = _mixed_error(app.mixed_keys)
    namespaced: set[str] = set()
    source_wins = frozenset() if catalog_releases.app_beats_namespaced_source(release) else frozenset(source_namespaced)
    for event in preconf:
        _apply_event(app, event, namespaced, release, source_wins)


def _mixed_keys(have: set[str]) -> tuple[str, ...]:
    """The keys that make Celery refuse a source mixing old and new names
    (celery/app/utils.py detect_settings): the majority spelling wins, new on a tie, and
    every minority key whose counterpart is not also present is an error."""
    new = {k for k in have if catalog.get(k) is not None}
    old = {k for k in have if catalog.from_old_name(k) is not None}
    if not new or not old:
        return ()
    if len(old) > len(new):
        renames = {k: catalog.get(k).old_names[0] for k in new if catalog.get(k).old_names}
    else:
        renames = {k: catalog.from_old_name(k).name for k in old}
    return tuple(sorted(k for k, counterpart in renames.items() if counterpart not in have))


def _mixed_error(keys: tuple[str, ...]) -> str | None:
    if not keys:
        return None
    to_old = catalog.get(keys[0]) is not None
    renames = {k: catalog.get(k).old_names[0] if to_old else catalog.from_old_name(k).name for k in keys}
    listing = ", ".join(f"{k} -> {renames[k]}" for k in keys)
    wanted = "old" if to_old else "new"
    return f"Celery raises ImproperlyConfigured: the source mixes old and new setting names; in the {wanted} format: {listing}"


def _unset_to_default(value: Value, setting: "catalog.Setting") -> Value:  # setting: of the release read
    if value.status != "several":
        return value
    alts = []
    for alt in value.alternatives:
        v = alt.value
        if v.value is UNSET and v.status == "default":
            v = Value("default", setting.default)
        alts.append((v, alt.condition))
    return V.several(alts, value.origin)


def _record_unread(app: App, mapping: Mapping, read: set[str], release: str | None = None) -> None:
    """Keys of the source that Celery does not read, as catalog.classify() sees them."""
    for key, (value, span) in mapping.items():
        if key in read or key.startswith("_") or catalog.read_undeclared(key, app.namespace):
            continue
        found = catalog.classify(key, app.namespace, release)
        setting = found.setting.name if found.setting else None
        if found.kind == "old-under-namespace" and not found.read and not (
                read & set(catalog.lookup_keys(found.setting, app.namespace, release))):
            app.unread.append(UnreadKey(key, span, "ignored-old-name", setting, value))
        elif found.kind == "not-in-release":
            app.unread.append(UnreadKey(key, span, "not-in-release", setting, value))
        elif found.kind in ("old", "old-under-namespace"):
            app.unread.append(UnreadKey(key, span, "old-name", setting, value))
        elif found.kind in ("namespaced", "current"):
            app.unread.append(UnreadKey(key, span, "shadowed", setting, value))
        elif found.kind == "unknown-prefixed":
            app.unread.append(UnreadKey(key, span, "unknown", value=value))
        elif found.kind == "unrelated" and app.source_kind in ("module", "class", "dict"):
            app.unread.append(UnreadKey(key, span, "unrelated", value=value))


def _preconf_setting(key: str, namespace: str | None, release: str | None = None) -> tuple[str | None, bool]:
    """The setting a key written on the app stands for, and whether it is the namespaced
    spelling (which Celery reads before the others, whatever the order of the writes).
    An old name written on the app is read in every release (Celery renames the app's
    own keys when it loads the configuration)."""
    found = catalog.classify(key, namespace, release)
    if found.kind in ("namespaced", "current", "old", "old-under-namespace") and found.setting is not None:
        return found.setting.name, found.kind == "namespaced"
    return None, False


def _apply_event(app: App, event: ConfEvent, namespaced: set[str], release: str | None = None,
                 source_wins: frozenset[str] = frozenset()) -> None:
    if event.kind == "opaque-update":
        # Every setting may have been written: those set so far and those never set alike.
        reason = (event.value.reason if event.value else None) or "app.conf.update() with a value qlint cannot read"
        for name in app.settings:
            app.settings[name] = unknown(reason, event.span)
        app.updated_unseen = app.updated_unseen or (reason, event.span)
        return
    if event.key is None or event.value is None:
        return
    name, is_namespaced = _preconf_setting(event.key, app.namespace, release)
    if name is None:
        if catalog.read_undeclared(event.key, app.namespace):
            return
        found = catalog.classify(event.key, app.namespace, release)
        kind = {"unknown-prefixed": "unknown", "not-in-release": "not-in-release"}.get(found.kind, "unrelated")
        setting = found.setting.name if kind == "not-in-release" and found.setting else None
        app.unread.append(UnreadKey(event.key, event.span, kind, setting, value=event.value))
        return
    if (name in namespaced or name in source_wins) and not is_namespaced and event.kind != "item":
        app.unread.append(UnreadKey(event.key, event.span, "shadowed", name, event.value))
        return
    if is_namespaced:
        namespaced.add(name)
    if not is_namespaced and catalog.from_old_name(event.key) is not None and catalog.get(event.key) is None:
        app.old_on_app.setdefault(event.key, ((event.value.origin if event.value else None) or event.span, name))
    previous = app.setting(name)
    if event.kind == "item":
        items = dict_items(previous) if isinstance(previous.value, dict) else {}
        if previous.status not in ("known", "default", "env-default"):
            new = unknown(f"{name} is changed item by item from a value qlint cannot read", event.span)
        else:
            items[event.item] = event.value
            new = make_dict(items, event.span)
    elif event.kind in ("default", "setdefault"):
        if previous.status != "default":
            return
        new = event.value
    else:
        new = event.value
    if event.conditions:
        condition = " and ".join(event.conditions)
        new = V.several([(new, condition), (previous, f"not ({condition})")], event.span)
    app.settings[name] = _typed(new, name)


_NOT_STRINGS = frozenset({"int", "float", "bool", "dict", "list", "tuple"})


def _typed(value: Value, name: str) -> Value:
    """Flag an environment string that Celery receives as is where it expects another type."""
    entry = catalog.get(name)
    if value.status != "env-default" or value.uncast or entry is None or entry.type not in _NOT_STRINGS:
        return value
    if not isinstance(value.value, str):
        return value
    return Value(value.status, value.value, value.origin, value.env, value.alternatives, value.reason, True, value.items)


