"""The effective settings of each app and where each value comes from, as `qlint config` prints
them (text and JSON) and the language server's hover shows one of them."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qlint.model import Value
from qlint.resolve.brokers import brokers, describe as describe_brokers
from qlint.resolve.resolved import RELIED_ON, App
from qlint.resolve.values import to_plain

if TYPE_CHECKING:
    from qlint.pipeline.analysis import Analysis


def to_json(analysis: Analysis, all_settings: bool) -> dict[str, Any]:
    project = analysis.project
    deployment = project.deployment
    return {
        "root": project.root,
        "versions": project.versions.to_json() if project.versions is not None else None,
        "apps": [{**app.to_json(all_settings), "broker": _broker_json(app, project)} for app in project.apps],
        "deployment_files": list(deployment.files) if deployment else [],
        "processes": [p.to_json() for p in deployment.processes] if deployment else [],
        "environment": {
            name: [{"path": d.span.path, "line": d.span.line} for d in spots]
            for name, spots in sorted(_definitions(analysis).items())
        },
        "problems": [{"path": p.path, "line": p.span.line, "message": p.message} for p in analysis.problems],
        "notes": project.notes + (deployment.notes if deployment else []),
    }


def _broker_json(app: App, project: Any) -> dict[str, Any]:
    found = brokers(app, project)
    return {"kinds": [t.kind for t in found], "how": found[0].how or None,
            "origin": found[0].origin.to_json() if len(found) == 1 and found[0].origin else None}


def _definitions(analysis: Analysis) -> dict[str, list]:
    environ = analysis.project.workspace.environ
    return environ.definitions if environ is not None else {}


def _env_note(value: Value, definitions: dict[str, list]) -> str:
    spots = definitions.get(value.env or "") if value.status in ("known", "several") else None
    if not spots:
        return ""
    if value.status == "known":
        # Only the places that set the value shown: another file may set it to something else.
        same = [d for d in spots if d.value.status in ("known", "env-default") and _same_text(d.value.value, value.value)]
        spots = same or spots
    return f", environment variable {value.env} set in " + ", ".join(str(d.span) for d in spots)


def _same_text(text: object, value: object) -> bool:
    """A variable's text and the value a setting made of it (maybe cast with int(), float())."""
    if str(text) == str(value):
        return True
    try:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and float(str(text)) == float(value)
    except ValueError:
        return False


def describe(value: Value, definitions: dict[str, list] | None = None) -> tuple[str, str]:
    """(value, where it comes from) for one line of the text report."""
    if value.status == "unknown":
        return "?", f"unknown: {value.reason}"
    if value.status == "several":
        # Each alternative with the file that sets it, when that is not where the setting is read.
        shown = " | ".join(
            f"{_show(a.value)} if {a.condition}"
            + (f" ({a.value.origin})" if a.value.origin and (a.value.env or _by_release(a.condition))
               and str(a.value.origin) != str(value.origin) else "")
            for a in value.alternatives)
        return shown, (str(value.origin) if value.origin else "") + _env_note(value, definitions or {})
    shown = _show(value)
    if value.status == "default":
        return shown, value.reason or "Celery default"
    where = (str(value.origin) if value.origin else "") + _env_note(value, definitions or {})
    if value.status == "env-default":
        cast_note = " (a string when the variable is set)" if value.uncast else ""
        where = f"{where}, environment variable {value.env}, default used{cast_note}"
    return shown, where


def _by_release(condition: str) -> bool:
    """An alternative of a setting that Celery releases read differently ("Celery 5.2–5.6")."""
    return condition.startswith("Celery ")


def _show(value: Value) -> str:
    if value.status == "unknown":
        return "?"
    if value.status == "several":
        return " | ".join(_show(a.value) for a in value.alternatives)
    if value.items is not None and isinstance(value.value, dict) and len(value.items) == len(value.value):
        # a dict written in the code: each member as it was resolved, so one that
        # cannot be read shows as ? rather than as None
        return "{" + ", ".join(f"{key!r}: {_show(item)}" for key, (_, item) in zip(value.value, value.items)) + "}"
    plain = to_plain(value)
    if plain is None and value.value is not None:
        return "<object>"
    return _text(plain)


def _text(plain: Any) -> str:
    """A plain value as Python would print it, with a kombu Queue as Queue('name')."""
    if isinstance(plain, dict):
        if set(plain) == {"__queue__"}:
            return f"Queue({plain['__queue__']!r})"
        return "{" + ", ".join(f"{k!r}: {_text(v)}" for k, v in plain.items()) + "}"
    if isinstance(plain, list):
        return "[" + ", ".join(_text(v) for v in plain) + "]"
    if isinstance(plain, tuple):
        return "(" + ", ".join(_text(v) for v in plain) + ("," if len(plain) == 1 else "") + ")"
    if isinstance(plain, float):
        return f"{plain:g}"
    return repr(plain)


def _app_text(app: App, all_settings: bool, definitions: dict[str, list], project: Any) -> list[str]:
    from qlint import catalog

    lines = [f"app {app.name!r}  defined at {app.defined_at}"]
    source = app.source if app.source != "none" else "none (defaults and code on the app only)"
    lines.append(f"  configuration source: {source}" + (f", namespace {app.namespace!r}" if app.namespace else ""))
    if app.source_named_by:
        lines.append(f"  DJANGO_SETTINGS_MODULE: {app.source_named_by}")
    elif app.source_named_at:
        lines.append(f"  DJANGO_SETTINGS_MODULE set at {app.source_named_at}")
    lines.append(f"  broker: {describe_brokers(brokers(app, project))}")
    if app.source_problem:
        lines.append(f"  ! {app.source_problem}: settings it would hold are unknown")
    if app.updated_unseen:
        lines.append(f"  ! {app.updated_unseen[1]}: {app.updated_unseen[0]}: the settings not written after it are unknown")
    if app.source_unseen:
        lines.append(f"  ! {app.source_unseen}: the settings it does not set after that are unknown")
    if app.config_error:
        lines.append(f"  ! {app.config_error}")
    names = set(app.settings) | set(RELIED_ON)
    if all_settings:
        names |= set(catalog.settings())
    rows = [(name, *describe(app.setting(name), definitions)) for name in sorted(names)]
    width = max((len(r[0]) for r in rows), default=0)
    vwidth = min(max((len(r[1]) for r in rows), default=0), 40)
    lines.append("  settings:")
    for name, shown, where in rows:
        lines.append(f"    {name:<{width}}  {shown:<{vwidth}}  {where}".rstrip())
    if app.tasks:
        lines.append("  tasks:")
        for task_name, task in sorted(app.tasks.items()):
            lines.append(f"    {task_name}  ({task.defined_at})")
            for option, value in sorted(task.options.items()):
                shown, where = describe(value)
                lines.append(f"      {option} = {shown}  {where}".rstrip())
    if app.unread:
        lines.append("  keys in the configuration source that Celery does not read:")
        for key in app.unread:
            from qlint.catalog import releases

            celery = releases.celery(key.releases or app.releases or (releases.newest(),))
            what = {
                "old-name": f"old name of {key.setting}, shadowed by a newer spelling",
                "ignored-old-name": f"old name of {key.setting}, which {celery} does not read under a namespace",
                "not-in-release": f"{key.setting}, {_lifetime(key.setting)}: {celery} does not have it",
                "shadowed": f"spelling of {key.setting}, shadowed by the namespaced key",
                "unknown": "not a Celery setting",
                "unrelated": "not meant for Celery",
            }.get(key.kind, key.kind)
            if key.releases and key.kind not in ("ignored-old-name", "not-in-release"):
                what += f", in {celery}"
            lines.append(f"    {key.key}  {key.span or ''}  ({what})")
    return lines


def _lifetime(name: str | None) -> str:
    from qlint.catalog import releases

    return releases.lifetime_text(name) if name else "a setting of another Celery release"


def versions_text(versions: Any) -> list[str]:
    """The Celery and kombu releases the project installs, and how qlint knows."""
    rows = [(package.package, package.describe(), package.explanation) for package in (versions.celery, versions.kombu)]
    width = max(len(shown) for _, shown, _ in rows)
    return [f"{name:<6} {shown:<{width}}  {how}" for name, shown, how in rows]


def to_text(analysis: Analysis, all_settings: bool) -> str:
    project = analysis.project
    out: list[str] = []
    if project.versions is not None and project.apps:
        out.extend(versions_text(project.versions))
        out.append("")
    if not project.apps:
        out.append(f"No Celery app found under {project.root}.")
    for app in project.apps:
        out.extend(_app_text(app, all_settings, _definitions(analysis), analysis.project))
        out.append("")
    if project.deployment is not None and project.deployment.files:
        out.extend(_deployment_text(project.deployment, _definitions(analysis)))
        out.append("")
    for problem in analysis.problems:
        out.append(f"{problem.span}: cannot analyse: {problem.message}")
    for note in project.notes + (project.deployment.notes if project.deployment else []):
        out.append(f"note: {note}")
    return "\n".join(out).rstrip() + "\n"


def _deployment_text(deployment: Any, definitions: dict[str, list]) -> list[str]:
    lines = ["deployment files: " + ", ".join(deployment.files)]
    if not deployment.processes:
        lines.append("  no celery worker or beat command in them")
    for process in deployment.processes:
        profiles = f" (profiles {', '.join(process.process.profiles)})" if process.process.profiles else ""
        app = process.app.name if process.app else f"? ({process.app_reason})"
        lines.append(f"  {process.kind} {process.name!r}  {process.span}{profiles}  app {app!r}" if process.app
                     else f"  {process.kind} {process.name!r}  {process.span}{profiles}  app {app}")
        rows: list[tuple[str, Value]] = [("replicas", process.process.replicas)]
        if process.kind != "beat":
            rows += [
                ("queues", process.queues()),
                ("concurrency", process.setting("worker_concurrency")),
                ("pool", process.setting("worker_pool")),
                ("prefetch multiplier", process.setting("worker_prefetch_multiplier")),
                ("state db", process.setting("worker_state_db")),
                ("time limit", process.setting("task_time_limit")),
            ]
        if process.kind == "multi" and process.option("nodes") is not None:
            rows.insert(1, ("nodes", process.option("nodes").value))
        for label, value in rows:
            shown, where = describe(value, definitions)
            lines.append(f"    {label:<20} {shown}  {where}".rstrip())
            if label == "prefetch multiplier":
                count, how = process.prefetch_count()
                shown = "?" if count is None else "any number" if count == 0 else str(count)
                lines.append(f"    {'reserves at most':<20} {shown}  {how}".rstrip())
        if process.process.autoscaled:
            lines.append(f"    autoscaled up to {describe(process.process.autoscaled_max)[0] if process.process.autoscaled_max else '?'} replicas")
        for argument in process.process.command.unparsed:
            lines.append(f"    not read             {argument}")
        lines.append(f"    embedded beat        {'yes (-B)' if process.runs_beat and process.kind != 'beat' else 'no'}"
                     if process.kind != "beat" else "    runs beat")
    return lines
