"""The resolved project: each Celery app with its effective settings and tasks.

Celery's precedence, read from celery/app/base.py and utils/collections.py:
values written before configuration loads (Celery(...) keywords, app.conf.X = ...,
app.conf.update(...)) win over the configuration source, which wins over the
defaults. The source is the object given to the last config_from_object(); under a
namespace Celery looks a setting up as NAMESPACE_NAME, then its plain name, then its
old name(s) — in that order, in each of those three layers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qlint import catalog
from qlint.model import Span, Value, known, unknown
from qlint.resolve import values as V
from qlint.resolve.evaluate import dict_items, make_dict
from qlint.resolve.objects import UNSET, AppObj, ClassObj, ConfEvent, ModuleRef, Sym, TaskObj
from qlint.resolve.workspace import Workspace
from qlint.sources import ir

# Per-task options and the app setting each falls back to (celery/app/task.py, Task.from_config).
TASK_OPTION_SETTINGS: dict[str, str] = {
    "acks_late": "task_acks_late",
    "acks_on_failure_or_timeout": "task_acks_on_failure_or_timeout",
    "reject_on_worker_lost": "task_reject_on_worker_lost",
    "time_limit": "task_time_limit",
    "soft_time_limit": "task_soft_time_limit",
    "ignore_result": "task_ignore_result",
    "store_errors_even_if_ignored": "task_store_errors_even_if_ignored",
    "serializer": "task_serializer",
    "rate_limit": "task_default_rate_limit",
    "track_started": "task_track_started",
    "store_eager_result": "task_store_eager_result",
}
# Options with a fixed default on the Task class rather than an app setting.
TASK_OPTION_DEFAULTS: dict[str, Any] = {
    "max_retries": 3, "default_retry_delay": 180, "autoretry_for": (), "retry_backoff": False,
    "retry_backoff_max": 600, "retry_jitter": True, "bind": False, "typing": True, "priority": None,
    "queue": None, "expires": None,
}

# Settings that rules depend on: `qlint config` always shows them.
RELIED_ON = (
    "broker_url", "broker_transport_options", "result_backend", "result_backend_transport_options",
    "task_acks_late", "task_acks_on_failure_or_timeout", "task_reject_on_worker_lost",
    "task_time_limit", "task_soft_time_limit", "worker_prefetch_multiplier", "worker_concurrency",
    "worker_disable_prefetch", "worker_state_db", "task_serializer", "result_serializer",
    "accept_content", "result_expires", "task_always_eager", "task_annotations", "task_routes",
    "beat_schedule", "task_default_queue",
)


@dataclass
class UnreadKey:
    """A key in a configuration source that Celery does not read as a setting."""

    key: str
    span: Span | None
    kind: str  # "unknown" (typo or project constant) | "old-name"
    setting: str | None = None  # the setting an old name stands for


@dataclass
class Task:
    name: str
    func: ir.FuncDef
    module: str
    defined_at: Span
    decorator_span: Span
    options: dict[str, Value]
    app: "App | None"
    bind: bool
    unknown_options: str | None = None

    def option(self, name: str) -> Value:
        """The effective value of a task option: its own, else the app setting, else Celery's default."""
        if name in self.options:
            return self.options[name]
        if self.unknown_options:
            return unknown(f"task options of {self.name} come from {self.unknown_options}")
        setting = TASK_OPTION_SETTINGS.get(name)
        if setting and self.app is not None:
            return self.app.setting(setting)
        if setting:
            entry = catalog.get(setting)
            return Value("default", entry.default if entry else None)
        return Value("default", TASK_OPTION_DEFAULTS.get(name))

    def to_json(self) -> dict[str, Any]:
        return {
            "defined_at": self.defined_at.to_json(),
            "options": {k: value_json(v) for k, v in sorted(self.options.items())},
            "parameters": [p.name for p in self.func.params],
        }


@dataclass
class App:
    name: str
    var: str
    module: str
    defined_at: Span
    settings: dict[str, Value] = field(default_factory=dict)
    namespace: str | None = None
    source: str = "none"
    source_problem: str | None = None
    unread: list[UnreadKey] = field(default_factory=list)
    tasks: dict[str, Task] = field(default_factory=dict)
    source_kind: str = "none"  # "django" | "module" | "class" | "none" | "unknown"
    source_path: str | None = None

    def setting(self, name: str) -> Value:
        if name in self.settings:
            return self.settings[name]
        if self.source_problem:
            return unknown(self.source_problem)
        entry = catalog.get(name)
        return Value("default", entry.default if entry else None)

    def to_json(self, all_settings: bool = False) -> dict[str, Any]:
        names = set(self.settings) | set(RELIED_ON)
        if all_settings:
            names |= set(catalog.settings())
        return {
            "name": self.name,
            "defined_at": self.defined_at.to_json(),
            "config_source": self.source,
            "namespace": self.namespace,
            "settings": {n: value_json(self.setting(n)) for n in sorted(names)},
            "tasks": {name: task.to_json() for name, task in sorted(self.tasks.items())},
            "unread_keys": [
                {"key": u.key, "kind": u.kind, "setting": u.setting, **({"origin": u.span.to_json()} if u.span else {})}
                for u in self.unread
            ],
        }


@dataclass
class Project:
    root: str
    apps: list[App]
    workspace: Workspace
    notes: list[str] = field(default_factory=list)
    task_objects: dict[int, Task] = field(default_factory=dict)
    # qlint's own configuration ([tool.qlint]); set by the engine before rules run.
    config: Any = None

    def tasks(self) -> list[Task]:
        return [t for app in self.apps for t in app.tasks.values()]

    def module_value(self, path: str, name: str) -> Value | None:
        """What a module-level name is bound to, interpreting the module if needed."""
        env = self.workspace.module_env(path)
        return env.names.get(name) if env is not None else None

    def task_of(self, obj: TaskObj) -> Task | None:
        return self.task_objects.get(id(obj))

    def task_named(self, name: str) -> Task | None:
        for app in self.apps:
            if name in app.tasks:
                return app.tasks[name]
        return None


def value_json(value: Value) -> dict[str, Any]:
    out: dict[str, Any] = {"value": V.to_plain(value), "status": value.status}
    out["origin"] = value.origin.to_json() if value.origin else "default"
    if value.env:
        out["env"] = value.env
    if value.reason:
        out["reason"] = value.reason
    if value.uncast:
        out["uncast"] = True
    if value.status == "several":
        out["alternatives"] = [{"condition": a.condition, **value_json(a.value)} for a in value.alternatives]
    return out


# ---------------------------------------------------------------- building


def build_project(root: str, workspace: Workspace, entry_paths: list[str]) -> Project:
    for path in entry_paths:
        workspace.module_env(path)
    apps: list[App] = []
    for obj in workspace.apps:
        apps.append(_resolve_app(obj, workspace))
    task_objects = _attach_tasks(apps, workspace)
    return Project(root, apps, workspace, notes=list(dict.fromkeys(workspace.notes)), task_objects=task_objects)


def _app_name(obj: AppObj, workspace: Workspace) -> str:
    if obj.main.status == "known" and isinstance(obj.main.value, str) and obj.main.value:
        return obj.main.value
    return f"{workspace.index.module_name(obj.module)}:{obj.var or 'app'}"


def _resolve_app(obj: AppObj, workspace: Workspace) -> App:
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
        elif key not in ("config_source", "namespace", "loader", "fixups", "set_as_current", "autofinalize",
                         "strict_typing", "config_source_silent", "task_cls", "amqp", "events", "log", "control", "tasks"):
            preconf.append(ConfEvent("set", target, value, value.origin or obj.span))
    source: Value | None = obj.kwargs.get("config_source")
    for event in obj.events:
        if event.kind == "source":
            source = event.value
            namespace = event.extra.get("namespace")
            if namespace is not None and namespace.status == "known":
                app.namespace = namespace.value
        else:
            preconf.append(event)
    mapping = _source_mapping(app, source, workspace)
    _effective(app, mapping, preconf)
    return app


def _source_mapping(app: App, source: Value | None, workspace: Workspace) -> dict[str, tuple[Value, Span | None]] | None:
    """The keys Celery would see in the configuration source; None when it cannot be read."""
    if source is None:
        return {}
    if source.status == "several":
        app.source_problem = "the configuration source depends on a condition"
        app.source, app.source_kind = "several", "unknown"
        return None
    if source.status == "unknown":
        app.source_problem = f"configuration source cannot be read: {source.reason}"
        app.source, app.source_kind = "unknown", "unknown"
        return None
    obj = source.value
    if isinstance(obj, str):
        return _named_source(app, obj, workspace)
    if isinstance(obj, ModuleRef):
        env = workspace.module_env(obj.path)
        app.source, app.source_kind, app.source_path = obj.name, "module", obj.path
        return _namespace_mapping(env.names if env else {}, env.spans if env else {}, django=False)
    if isinstance(obj, ClassObj):
        app.source, app.source_kind, app.source_path = obj.name, "class", obj.module
        return _namespace_mapping(obj.all_attrs(), obj.attr_spans, django=False)
    if isinstance(obj, Sym) and obj.qualname in ("django.conf.settings",):
        return _named_source(app, "django.conf:settings", workspace)
    app.source_problem = "configuration source is not a module, class or module name"
    app.source, app.source_kind = "unknown", "unknown"
    return None


def _named_source(app: App, name: str, workspace: Workspace) -> dict[str, tuple[Value, Span | None]] | None:
    if name in ("django.conf:settings", "django.conf.settings"):
        path, problem = _django_settings_module(app, workspace)
        if path is None:
            app.source_problem = problem
            app.source, app.source_kind = "django.conf:settings", "unknown"
            return None
        env = workspace.module_env(path)
        app.source, app.source_kind, app.source_path = f"django.conf:settings ({workspace.index.module_name(path)})", "django", path
        return _namespace_mapping(env.names if env else {}, env.spans if env else {}, django=True)
    module_name, _, attr = name.partition(":")
    path = workspace.index.find(module_name, app.module)
    if path is None and not attr and "." in module_name:
        module_name, attr = module_name.rsplit(".", 1)
        path = workspace.index.find(module_name, app.module)
    if path is None:
        app.source_problem = f"configuration module {name!r} is not in the project"
        app.source, app.source_kind = name, "unknown"
        return None
    env = workspace.module_env(path)
    if env is None:
        app.source_problem = f"configuration module {name!r} cannot be read"
        return None
    if attr:
        cls = env.names.get(attr)
        if cls is None or not isinstance(cls.value, ClassObj):
            app.source_problem = f"{name!r} is not a class qlint can read"
            app.source, app.source_kind = name, "unknown"
            return None
        app.source, app.source_kind, app.source_path = name, "class", path
        return _namespace_mapping(cls.value.all_attrs(), cls.value.attr_spans, django=False)
    app.source, app.source_kind, app.source_path = name, "module", path
    return _namespace_mapping(env.names, env.spans, django=False)


def _django_settings_module(app: App, workspace: Workspace) -> tuple[str | None, str]:
    """Find DJANGO_SETTINGS_MODULE: the app's own module first, then manage.py, wsgi.py, asgi.py."""
    entries = list(workspace.django_settings)
    for candidate in workspace.index.files:
        if candidate.rsplit("/", 1)[-1] in ("manage.py", "wsgi.py", "asgi.py"):
            workspace.module_env(candidate)
    entries = list(workspace.django_settings)
    if not entries:
        return None, "DJANGO_SETTINGS_MODULE is not set by os.environ.setdefault() in the app module, manage.py, wsgi.py or asgi.py"
    entries.sort(key=lambda e: (e[2] != app.module, e[2].rsplit("/", 1)[-1] != "manage.py", e[2]))
    value = entries[0][0]
    if value.status not in ("known", "env-default") or not isinstance(value.value, str):
        return None, f"DJANGO_SETTINGS_MODULE cannot be read: {value.reason or 'not a string'}"
    path = workspace.index.find(value.value, app.module)
    if path is None:
        return None, f"settings module {value.value!r} (DJANGO_SETTINGS_MODULE) is not in the project"
    return path, ""


def _namespace_mapping(names: dict[str, Value], spans: dict[str, Span], django: bool) -> dict[str, tuple[Value, Span | None]]:
    out: dict[str, tuple[Value, Span | None]] = {}
    for key, value in names.items():
        if key.startswith("__"):
            continue
        if django and not key.isupper():
            continue  # Django settings hold upper-case names only
        if isinstance(value.value, (ModuleRef, Sym, AppObj, ClassObj, TaskObj)) or callable(value.value):
            continue
        out[key] = (value, spans.get(key))
    return out


def _effective(app: App, mapping: dict[str, tuple[Value, Span | None]] | None, preconf: list[ConfEvent]) -> None:
    read_keys: set[str] = set()
    if mapping is not None:
        for setting in catalog.settings().values():
            for key in catalog.lookup_keys(setting, app.namespace):
                if key in mapping:
                    value, span = mapping[key]
                    app.settings[setting.name] = _unset_to_default(V.with_origin(value, span) if span else value, setting)
                    read_keys.add(key)
                    break
        _record_unread(app, mapping, read_keys)
    for event in preconf:
        _apply_event(app, event)


def _unset_to_default(value: Value, setting: "catalog.Setting") -> Value:
    if value.status != "several":
        return value
    alts = []
    for alt in value.alternatives:
        v = alt.value
        if v.value is UNSET and v.status == "default":
            v = Value("default", setting.default)
        alts.append((v, alt.condition))
    return V.several(alts, value.origin)


def _record_unread(app: App, mapping: dict[str, tuple[Value, Span | None]], read: set[str]) -> None:
    prefix = (app.namespace.rstrip("_") + "_") if app.namespace else None
    for key, (_, span) in mapping.items():
        if key in read:
            continue
        old = catalog.from_old_name(key)
        if old is not None:
            # Shadowed by a newer spelling of the same setting.
            app.unread.append(UnreadKey(key, span, "old-name", old.name))
        elif prefix and key.startswith(prefix):
            app.unread.append(UnreadKey(key, span, "unknown"))
        elif not prefix and app.source_kind in ("module", "class") and not key.startswith("_"):
            app.unread.append(UnreadKey(key, span, "unknown"))


def _setting_name(key: str) -> str:
    if catalog.get(key) is not None:
        return key
    old = catalog.from_old_name(key)
    return old.name if old is not None else key


def _apply_event(app: App, event: ConfEvent) -> None:
    if event.kind == "opaque-update":
        reason = event.value.reason if event.value else "app.conf.update() with a value qlint cannot read"
        for name in catalog.settings():
            app.settings[name] = unknown(reason or "", event.span)
        return
    if event.key is None or event.value is None:
        return
    name = _setting_name(event.key)
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
    app.settings[name] = new


def _attach_tasks(apps: list[App], workspace: Workspace) -> dict[int, Task]:
    by_obj = {id(workspace.apps[i]): app for i, app in enumerate(apps)}
    found: dict[int, Task] = {}
    for task in workspace.tasks:
        decorator = task.decorator
        if decorator.app is not None:
            app = by_obj.get(id(decorator.app))
        else:
            app = _default_app(apps, task.module, workspace)
        options = dict(decorator.options)
        name_value = options.pop("name", None)
        module_name = workspace.index.module_name(task.module)
        if name_value is not None and name_value.status == "known" and isinstance(name_value.value, str):
            name = name_value.value
        else:
            name = f"{module_name}.{task.func.name}"
        bind_value = options.get("bind")
        bind = bool(bind_value and bind_value.status == "known" and bind_value.value)
        resolved: dict[str, Value] = {}
        base = options.pop("base", None)
        if base is not None and isinstance(base.value, ClassObj):
            for key, value in base.value.all_attrs().items():
                if key in TASK_OPTION_SETTINGS or key in TASK_OPTION_DEFAULTS:
                    resolved[key] = V.with_origin(value, base.value.attr_spans.get(key) or value.origin or task.decorator_span)
        for key, value in options.items():
            resolved[key] = V.with_origin(value, value.origin or task.decorator_span) if value.origin is None else value
        entry = Task(name, task.func, task.module, task.func.span, task.decorator_span, resolved, app, bind,
                     decorator.unknown_options)
        if app is not None:
            _apply_annotations(entry, app)
            app.tasks[name] = entry
        found[id(task)] = entry
    return found


def _apply_annotations(task: Task, app: App) -> None:
    annotations = app.settings.get("task_annotations")
    if annotations is None or annotations.status != "known":
        return
    raw = annotations.value
    entries = raw if isinstance(raw, (list, tuple)) else [raw]
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        for key in ("*", task.name):
            options = entry.get(key)
            if isinstance(options, dict):
                for option, value in options.items():
                    if not option.startswith("@"):
                        task.options[option] = known(value, annotations.origin)


def _default_app(apps: list[App], module: str, workspace: Workspace) -> App | None:
    """The app a @shared_task joins: the one in the task's own package tree, else the only one."""
    if len(apps) == 1:
        return apps[0]
    package = workspace.index.module_name(module).split(".")[0]
    for app in apps:
        if workspace.index.module_name(app.module).split(".")[0] == package:
            return app
    return apps[0] if apps else None
