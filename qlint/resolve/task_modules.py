"""The modules a worker imports to register its app's tasks, read like the modules the
project imports.

A worker imports, before it consumes (celery/loaders/base.py import_default_modules):
the modules named by the `imports` and `include` settings (`Celery(include=[...])` sets
the latter), and the modules that `app.autodiscover_tasks()` finds: `<package>.<related_name>`
(`tasks` by default; the package itself when related_name is None) for each package it is
given — a list, or a callable such as `lambda: settings.INSTALLED_APPS` — or, given none,
for each Django app (the Django fixup's `config.name` of every installed app).

Nothing else imports a `jobs/tasks.py` that only `include=["jobs.tasks"]` names, so its
tasks were never seen. Reading these modules may make apps or write configuration (a
task module that sets `app.conf.task_routes`), so the apps are resolved again until no
new module turns up.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterator

from qlint.model import Value
from qlint.resolve import django
from qlint.resolve.objects import UNSET, AppObj, ClassObj

if TYPE_CHECKING:
    from qlint.resolve.resolved import App
    from qlint.resolve.workspace import Workspace

# Reading task modules rarely makes another app or changes a setting that names more of them:
# a few rounds reach the end on any real project.
MAX_ROUNDS = 4


def resolve_with_task_modules(workspace: "Workspace", resolve: Callable[[AppObj], "App"]) -> list["App"]:
    """Every app of the workspace resolved (by `resolve`), once the modules their workers
    import for tasks are read."""
    read: set[str] = set()
    apps: list[App] = []
    for _ in range(MAX_ROUNDS):
        before = _state(workspace)
        objs = list(workspace.apps)
        apps = [resolve(obj) for obj in objs]
        fresh = [path for app, obj in zip(apps, objs) for path in task_module_paths(app, obj, workspace)
                 if path not in read]
        for path in dict.fromkeys(fresh):
            read.add(path)
            workspace.module_env(path)
        if _state(workspace) == before:
            break
    return apps


def _state(workspace: "Workspace") -> tuple[int, ...]:
    """What resolving an app depends on that reading a module can change."""
    return (len(workspace.apps), *(len(obj.events) + len(obj.late_events) for obj in workspace.apps))


def task_module_paths(app: "App", obj: AppObj, workspace: "Workspace") -> Iterator[str]:
    """The project files the app's workers import for tasks, in Celery's order."""
    index = workspace.index
    for setting in ("imports", "include"):
        for name in _strings(app.setting(setting), listed=True)[0]:
            path = index.find(name, app.module)
            if path is not None:
                yield path
    for event in [*obj.events, *obj.late_events]:
        if event.kind == "autodiscover":
            yield from _autodiscovered(app, event.value, event.extra.get("related_name"), workspace)


def _autodiscovered(app: "App", packages: Value | None, related: Value | None, workspace: "Workspace") -> Iterator[str]:
    related_names, related_unknown = _strings(related, listed=False) if related is not None else (["tasks"], False)
    if related is not None and related.status == "known" and related.value is None:
        related_names = [""]
    if related_unknown or not related_names:
        related_names = ["tasks"]
    if packages is None or packages.status == "known" and not packages.value:
        names, unknown = _django_apps(app, workspace)  # Celery asks its fixups: the Django apps
    else:
        names, unknown = _strings(packages, listed=True)
        if unknown:
            # A callable (`lambda: settings.INSTALLED_APPS`) or a list qlint cannot read: the
            # Django apps where the app loads Django settings, else any package of the project.
            django_apps, apps_unknown = _django_apps(app, workspace)
            if django_apps or apps_unknown:
                names, unknown = names + django_apps, apps_unknown
    index = workspace.index
    for package in dict.fromkeys(names):
        package_path = index.find(package, app.module)
        if package_path is not None:
            yield package_path  # find_related_module imports the package first
        for related_name in related_names:
            if related_name:
                path = index.find(f"{package}.{related_name}", app.module)
                if path is not None:
                    yield path
    if unknown:
        yield from _related_anywhere(workspace, {name for name in related_names if name})


def _strings(value: Value | None, listed: bool) -> tuple[list[str], bool]:
    """The strings a value may hold (a list or tuple of them when listed; a lone string counts
    as one, as Celery's maybe_list takes it), and whether some alternative cannot be read."""
    if value is None:
        return [], False
    if value.status == "several":
        found: list[str] = []
        unknown = False
        for alternative in value.alternatives:
            names, opaque = _strings(alternative.value, listed)
            found.extend(names)
            unknown = unknown or opaque
        return found, unknown
    if value.status == "unknown":
        return [], True
    raw = value.value
    if isinstance(raw, str):
        return [raw], False
    if listed and isinstance(raw, (list, tuple, set, frozenset)):
        return [item for item in raw if isinstance(item, str)], False
    # A function or other object (`get_packages`) stands for whatever it returns; a number or
    # None names nothing.
    return [], raw is not UNSET and not isinstance(raw, (int, float, dict, type(None)))


def _django_apps(app: "App", workspace: "Workspace") -> tuple[list[str], bool]:
    """The packages of the Django apps the app's settings install (AppConfig.name), and
    whether INSTALLED_APPS may hold others qlint cannot read; none when the app loads no
    Django settings qlint can find."""
    found = django.locate(workspace, app.module)
    if found.names is None or "INSTALLED_APPS" not in found.names:
        return [], False
    installed = workspace.resolve(found.names["INSTALLED_APPS"])
    entries, unknown = _strings(installed, listed=True)
    return [package for entry in entries if (package := _app_package(entry, app.module, workspace))], unknown


def _app_package(entry: str, near: str, workspace: "Workspace") -> str | None:
    """The package of an INSTALLED_APPS entry: the entry itself, or for an AppConfig class
    ("billing.apps.BillingConfig") the package its module is in, else the class's `name`."""
    index = workspace.index
    if index.find(entry, near) is not None:
        return entry
    module, _, cls_name = entry.rpartition(".")
    path = index.find(module, near) if module else None
    if path is None:
        return None
    package = module.rpartition(".")[0]
    if package and index.find(package, near) is not None:
        return package  # what AppConfig.name says in all but odd layouts: apps.py need not be read
    env = workspace.module_env(path)
    cls = workspace.resolve(env.names[cls_name]) if env is not None and cls_name in env.names else None
    if cls is not None and isinstance(cls.value, ClassObj):
        name = cls.value.lookup("name")
        if name is not None and name.status == "known" and isinstance(name.value, str):
            return name.value
    return None


def _related_anywhere(workspace: "Workspace", related_names: set[str]) -> Iterator[str]:
    """The `<package>.<related_name>` modules of every package of the project: what a list of
    packages qlint cannot read may find."""
    yield from workspace.index.in_packages_as(related_names)
