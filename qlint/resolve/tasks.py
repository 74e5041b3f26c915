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
from qlint.model import Span, Value, known, unknown
from qlint.resolve import values as V
from qlint.resolve.objects import ClassObj
from qlint.resolve.workspace import Workspace
from qlint.sources import ir

if TYPE_CHECKING:
    from qlint.resolve.project import App

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
            "options": {k: V.to_json(v) for k, v in sorted(self.options.items())},
            "parameters": [p.name for p in self.func.params],
        }



def attach_tasks(apps: list[App], workspace: Workspace) -> dict[int, Task]:
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
