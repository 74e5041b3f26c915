"""Tasks: their names, parameters and effective options.

A task option comes from the decorator (`@app.task(acks_late=True)`, `**options`,
a decorator factory stored in a variable), else from the `base=` Task class's
attributes, else from `task_annotations`; what is left falls back to the app
setting (Task.from_config in celery/app/task.py) or the Task class default.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qlint import catalog
from qlint.model import Span, Value, unknown
from qlint.resolve import values as V
from qlint.resolve.evaluate import TASK_CLASSES, dict_items
from qlint.resolve.objects import ClassObj, Sym
from qlint.resolve.workspace import Workspace
from qlint.sources import ir

if TYPE_CHECKING:
    from qlint.resolve.project import App

# Per-task options and the app setting each falls back to, in Celery's order
# (celery/app/task.py, Task.from_config): an option left at None takes the setting.
TASK_OPTION_SETTINGS: dict[str, str] = {
    "serializer": "task_serializer",
    "rate_limit": "task_default_rate_limit",
    "priority": "task_default_priority",
    "time_limit": "task_time_limit",
    "soft_time_limit": "task_soft_time_limit",
    "track_started": "task_track_started",
    "acks_late": "task_acks_late",
    "acks_on_failure_or_timeout": "task_acks_on_failure_or_timeout",
    "acks_on_failure": "task_acks_on_failure",
    "acks_on_timeout": "task_acks_on_timeout",
    "reject_on_worker_lost": "task_reject_on_worker_lost",
    "retry_on_worker_lost": "task_retry_on_worker_lost",
    "ignore_result": "task_ignore_result",
    "store_eager_result": "task_store_eager_result",
    "store_errors_even_if_ignored": "task_store_errors_even_if_ignored",
}
# Options with a fixed default on the Task class rather than an app setting.
TASK_OPTION_DEFAULTS: dict[str, Any] = {
    "max_retries": 3, "default_retry_delay": 180, "autoretry_for": (), "retry_backoff": False,
    "retry_backoff_max": 600, "retry_jitter": True, "bind": False, "typing": True,
    "queue": None, "expires": None,
}


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
        setting = TASK_OPTION_SETTINGS.get(name)
        own = self.options.get(name)
        if own is not None and not (setting and own.status == "known" and own.value is None):
            return own
        if self.unknown_options:
            return unknown(f"task options of {self.name} come from {self.unknown_options}")
        if setting and self.app is not None:
            return self.app.setting(setting)
        if setting:
            entry = catalog.get(setting)
            return Value("default", entry.default if entry else None)
        return Value("default", TASK_OPTION_DEFAULTS.get(name))

    def to_json(self) -> dict[str, Any]:
        return {
            "defined_at": self.defined_at.to_json(),
            "options": {k: V.to_json(v) for k, v in sorted(self.options.items())},
            # every option Celery fills from the app's settings, as the worker will see it
            "effective": {k: V.to_json(self.option(k)) for k in TASK_OPTION_SETTINGS},
            "parameters": [p.name for p in self.func.params],
        }



def attach_tasks(apps: list[App], workspace: Workspace) -> dict[int, Task]:
    by_obj = {id(obj): app for obj, app in zip(workspace.apps, apps)}
    found: dict[int, Task] = {}
    for task in workspace.tasks:
        decorator = task.decorator
        if decorator.app is not None:
            app = by_obj.get(id(decorator.app))
        else:
            app = _default_app(apps, task.module, workspace)
        options = dict(decorator.options)
        name_value = options.pop("name", None)
        if name_value is not None and name_value.status == "known" and isinstance(name_value.value, str):
            name = name_value.value
        else:
            name = f"{workspace.index.module_name(task.module)}.{task.func.name}"
        bind_value = options.get("bind")
        bind = bool(bind_value and bind_value.status == "known" and bind_value.value)
        unknown_options = decorator.unknown_options
        base = options.pop("base", None) or (app.task_cls if app is not None else None)
        resolved: dict[str, Value] = {}
        if base is not None:
            base_options, problem = _base_options(base, task.decorator_span)
            resolved.update(base_options)
            unknown_options = unknown_options or problem
        for key, value in options.items():
            resolved[key] = value if value.origin is not None else V.with_origin(value, task.decorator_span)
        entry = Task(name, task.func, task.module, task.func.span, task.decorator_span, resolved, app, bind,
                     unknown_options)
        if app is not None:
            _apply_annotations(entry, app)
            app.tasks[name] = entry
        found[id(task)] = entry
    return found


def _base_options(base: Value, span: Span) -> tuple[dict[str, Value], str | None]:
    """Options set as class attributes of the `base=` class (or the app's task_cls)."""
    cls = base.value
    if isinstance(cls, Sym) and cls.qualname in TASK_CLASSES:
        return {}, None
    if not isinstance(cls, ClassObj):
        return {}, f"a base task class qlint cannot read ({base.reason or 'outside the project'})"
    spans = cls.all_attr_spans()
    out: dict[str, Value] = {}
    for key, value in cls.all_attrs().items():
        if key in TASK_OPTION_SETTINGS or key in TASK_OPTION_DEFAULTS:
            out[key] = V.with_origin(value, spans.get(key) or value.origin or span)
    return out, None


def _apply_annotations(task: Task, app: App) -> None:
    """task_annotations: the "*" entry, then the task's own, override the task's attributes
    (celery/app/annotations.py; Task.annotate sets them after the decorator's)."""
    annotations = app.settings.get("task_annotations")
    if annotations is None or annotations.value is None and annotations.status in ("known", "default"):
        return
    if annotations.status != "known":
        task.unknown_options = task.unknown_options or "task_annotations, which qlint cannot read"
        return
    raw = annotations.value
    if isinstance(raw, (list, tuple)):
        entries = [Value("known", item, annotations.origin) for item in raw]
    else:
        entries = [annotations]
    for entry in entries:
        if not isinstance(entry.value, dict):
            task.unknown_options = task.unknown_options or "task_annotations holds an object qlint does not read"
            continue
        members = dict_items(entry)
        for key in ("*", task.name):
            options = members.get(key)
            if options is None:
                continue
            for option, value in dict_items(options).items():
                if not str(option).startswith("@"):
                    task.options[str(option)] = value


def _default_app(apps: list[App], module: str, workspace: Workspace) -> App | None:
    """The app a @shared_task joins: the one in the task's own package tree, else the only one."""
    if len(apps) == 1:
        return apps[0]
    package = workspace.index.module_name(module).split(".")[0]
    for app in apps:
        if workspace.index.module_name(app.module).split(".")[0] == package:
            return app
    return apps[0] if apps else None
