"""Tasks: their names, parameters and effective options.

A task option comes from the decorator (`@app.task(acks_late=True)`, `**options`,
a decorator factory stored in a variable), else from the `base=` Task class's
attributes, else from `task_annotations`; what is left falls back to the app
setting (Task.from_config in celery/app/task.py) or the Task class default.
"""
from __future__ import annotations

from qlint.model import Span, Value
from qlint.resolve import values as V
from qlint.resolve.evaluate import TASK_CLASSES, dict_items
from qlint.resolve.objects import ClassObj, Sym
from qlint.resolve.resolved import TASK_OPTION_DEFAULTS, TASK_OPTION_SETTINGS, App, Task
from qlint.resolve.workspace import Workspace


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
