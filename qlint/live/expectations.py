"""What a live broker is judged against, taken from the project as `qlint config` resolves it:
the visibility timeout in force, how often consumers sweep, the key prefix, the queues the
project configures, and the resolved project itself, for the static rules to run again with
the live workers' settings."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qlint.model import Value
from qlint.resolve.brokers import brokers
from qlint.resolve.resolved import App
from qlint.resolve.routing import queue_of
from qlint.resolve.workers import queue_names, workers_of
from qlint.semantics.delivery import VISIBILITY_DEFAULTS, visibility_timeout
from qlint.semantics.durations import format_duration
from qlint.semantics.thresholds import DEFAULT_LONG_TASK_SECONDS, DEFAULT_PAYLOAD_LITERAL_BYTES

# The settings a live worker is compared with (`qlint inspect --ask-workers`).
COMPARED = ("worker_prefetch_multiplier", "worker_concurrency", "task_acks_late", "task_time_limit",
            "task_soft_time_limit")

# kombu's Channel.unacked_restore_interval and unacked_restore_throttle: a consumer sweeps
# every interval x throttle seconds, and once when it connects.
RESTORE_INTERVAL, RESTORE_THROTTLE = 10, 10


@dataclass
class Expectations:
    visibility: float
    visibility_from: str  # where the value comes from, for people
    sweep_every: float
    prefix: str = ""
    queues: dict[str, str] = field(default_factory=dict)  # configured queue -> where it is named
    large_bytes: int = DEFAULT_PAYLOAD_LITERAL_BYTES
    long_seconds: float = DEFAULT_LONG_TASK_SECONDS
    notes: list[str] = field(default_factory=list)
    # Each compared setting's values in the project (the app's, and each deployed worker's where
    # its command line sets another), with where each comes from; unresolved values left out.
    settings: dict[str, list[tuple[Any, str]]] = field(default_factory=dict)
    # The queues deployed workers consume (-Q, else the app's), when every one is known.
    consumed: dict[str, str] = field(default_factory=dict)
    # The Celery releases the dependency files install (e.g. ("5.5", "5.6")), the exact versions
    # when every choice pins one, and how they say it; empty when no file names Celery's version.
    celery_releases: tuple[str, ...] = ()
    celery_versions: tuple[str, ...] = ()
    celery_from: str = ""
    # The resolved project and its apps on the broker's kind, which the live workers' settings
    # are put into to run the static rules again (rerun.py); None and empty without a project.
    project: Any = None
    apps: list[App] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"visibility_timeout": {"seconds": self.visibility, "from": self.visibility_from},
                "sweep_every": self.sweep_every, "key_prefix": self.prefix, "configured_queues": self.queues,
                "large_message_bytes": self.large_bytes}


def defaults() -> Expectations:
    return Expectations(VISIBILITY_DEFAULTS["redis"], "kombu's default", RESTORE_INTERVAL * RESTORE_THROTTLE)


def from_project(paths: list[str], app_name: str | None, use_cache: bool, config: Any,
                 kind: str = "redis") -> Expectations:
    """The expectations of the apps under paths that may run on the broker kind ("redis" or
    "amqp"), or of app_name alone."""
    from qlint.pipeline.analysis import analyse

    label = "Redis" if kind == "redis" else "RabbitMQ"
    analysis = analyse(paths, use_cache=use_cache, config=config)
    try:
        project = analysis.project
        project.config = config  # as the engine sets it before rules run (rerun.py runs them)
        out = defaults()
        if config is not None:
            out.large_bytes = getattr(config, "payload_literal_bytes", out.large_bytes)
            out.long_seconds = getattr(config, "long_task_seconds", out.long_seconds)
        apps = [a for a in project.apps if app_name in (None, a.name)]
        if app_name is not None and not apps:
            names = ", ".join(sorted(a.name for a in project.apps)) or "none"
            raise LookupError(f"no app named {app_name!r} under {', '.join(paths)} (apps: {names})")
        on_broker = [a for a in apps if any(t.kind == kind for t in brokers(a, project))]
        out.project, out.apps = project, on_broker
        where = ", ".join(paths)
        if not apps:
            out.notes.append(f"no Celery app found under {where}: Celery's and kombu's defaults apply")
        elif not on_broker:
            out.notes.append(f"no app under {where} runs on {label} ({', '.join(a.name for a in apps)}): "
                             "Celery's and kombu's defaults apply")
        versions = getattr(project, "versions", None)
        if versions is not None and versions.celery.how not in ("default", "unversioned"):
            out.celery_releases = versions.celery.releases
            choices = versions.celery.choices
            if choices and all(c.versions for c in choices):
                out.celery_versions = tuple(v for c in choices for v in c.versions)
            out.celery_from = f"{versions.celery.describe()} ({versions.celery.how})"
        chosen: tuple[float, str] | None = None
        for app in on_broker:
            for queue, where_named in configured_queues(app, project).items():
                out.queues.setdefault(queue, where_named)
            _compared_settings(app, project, out)
            if kind != "redis":
                continue
            found = visibility_timeout(app, "redis")
            if found is None:
                out.notes.append(f"the visibility timeout of app {app.name!r} cannot be resolved; "
                                 "give --visibility-timeout")
                continue
            where = f"{found.origin}, app {app.name!r}" if found.origin else f"kombu's default, app {app.name!r}"
            # Every consumer on the database sweeps with its own value: the shortest wins.
            if chosen is None or found.seconds < chosen[0]:
                chosen = (found.seconds, where)
            out.sweep_every = min(out.sweep_every, _sweep_every(app))
            prefix = _option(app, "global_keyprefix")
            if isinstance(prefix, str) and prefix:
                out.prefix = prefix
        if chosen is not None:
            out.visibility, out.visibility_from = chosen
        if len(on_broker) > 1 and chosen is not None:
            out.notes.append(f"{len(on_broker)} apps run on Redis; the shortest visibility timeout "
                             f"({format_duration(chosen[0])}) is the one in force where they share a database")
        return out
    finally:
        analysis.close()


def _compared_settings(app: App, project: Any, out: Expectations) -> None:
    def add(name: str, value: Value, where: str) -> None:
        for option in value.possible():
            entry = (option.value, f"{where}: {option.origin}" if option.origin else f"{where}: Celery's default")
            if all(v != option.value for v, _ in out.settings.get(name, [])):
                out.settings.setdefault(name, []).append(entry)

    for name in COMPARED:
        add(name, app.setting(name), f"app {app.name!r}")
        for worker in workers_of(project, app):
            if worker.kind in ("worker", "multi"):
                add(name, worker.setting(name), f"worker {worker.name}")
    for worker in workers_of(project, app):
        consumed = worker.queues() if worker.kind in ("worker", "multi") else None
        if consumed is not None and consumed.is_resolved and isinstance(consumed.value, (list, tuple)):
            for name in consumed.value:
                out.consumed.setdefault(str(name), f"worker {worker.name} ({worker.span})")


def _option(app: App, key: str) -> Any:
    options = app.setting("broker_transport_options")
    item = options.item(key)
    if item is None and options.is_resolved and isinstance(options.value, dict):
        return options.value.get(key)
    return item.value if item is not None and item.is_resolved else None


def _sweep_every(app: App) -> float:
    numbers = []
    for key, default in (("unacked_restore_interval", RESTORE_INTERVAL), ("unacked_restore_throttle", RESTORE_THROTTLE)):
        value = _option(app, key)
        if key == "unacked_restore_interval" and isinstance(value, (int, float)) and value <= 0:
            value = default  # kombu falls back to its default for a non-positive interval
        numbers.append(value if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
                       else default)
    return float(numbers[0] * numbers[1])


def configured_queues(app: App, project: Any) -> dict[str, str]:
    """The queues the app's settings, task routes and deployed workers name, with where."""
    found: dict[str, str] = {}

    def add(value: Value, what: str) -> None:
        if value.is_resolved and isinstance(value.value, str):
            found.setdefault(value.value, f"{what} ({value.origin})" if value.origin else what)

    add(app.setting("task_default_queue"), "task_default_queue")
    for name in queue_names(app.setting("task_queues")) or ():
        found.setdefault(name, "task_queues")
    for task in app.tasks.values():
        add(queue_of(task, app), f"the route of {task.name}")
    for worker in workers_of(project, app):
        if worker.kind not in ("worker", "multi"):
            continue
        consumed = worker.queues()
        if consumed.is_resolved and isinstance(consumed.value, (list, tuple)):
            for name in consumed.value:
                if isinstance(name, str):
                    found.setdefault(name, f"worker {worker.name} ({worker.span})")
    return found

