"""What resolution makes of each Celery app and task: the App with its effective settings and
where each comes from, and the Task with its options (the rules read these).

A setting's value falls back to Celery's default for the releases the app may run; a task
option falls back to its app's setting (Task.from_config in celery/app/task.py) or the Task
class default.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qlint import catalog
from qlint.catalog import releases as catalog_releases
from qlint.model import Span, Value, unknown
from qlint.resolve import values as V
from qlint.sources import ir

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
    # "old-name": an old spelling shadowed by a newer one of the same setting;
    # "ignored-old-name": an old spelling under a namespace, which Celery up to 5.6 never reads;
    # "not-in-release": a setting of other Celery releases than this one;
    # "shadowed": a current spelling shadowed by the namespaced key;
    # "unknown": looks like a setting (prefix, typo) but Celery ignores it;
    # "unrelated": any other attribute of a configuration module or class.
    kind: str
    setting: str | None = None  # the setting an old or shadowed spelling stands for
    value: Value | None = None  # what the key is bound to in the source
    # The Celery releases that do not read the key, when the app may run others that do;
    # empty: none of the app's releases reads it.
    releases: tuple[str, ...] = ()


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
    # Why a setting the source does not bind may be set all the same: no Celery default is assumed.
    source_unseen: str | None = None
    unread: list[UnreadKey] = field(default_factory=list)
    # The keys of the configuration source that Celery reads, with where each is set.
    read_keys: dict[str, Span] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    source_kind: str = "none"  # "django" | "module" | "class" | "dict" | "none" | "unknown"
    source_path: str | None = None
    # For Django: where DJANGO_SETTINGS_MODULE is set, and why there when the code and the
    # deployment disagree.
    source_named_at: Span | None = None
    source_named_by: str | None = None
    # Set when Celery refuses to load the configuration (old and new names mixed).
    config_error: str | None = None
    # The keys Celery names in that error: those of the minority format without a counterpart.
    mixed_keys: tuple[str, ...] = ()
    # Celery(task_cls=...): the base class of the app's tasks when the decorator names none.
    task_cls: Value | None = None
    # An update of the app's configuration with a value qlint cannot read (app.conf.update(x)):
    # why, and where; a setting not written after it is unknown.
    updated_unseen: tuple[str, Span] | None = None
    # Old (Celery 3) names written on the app (app.conf.update(), Celery(...) keywords): Celery renames
    # them in every release; each with where its value is written and the setting it stands for.
    old_on_app: dict[str, tuple[Span, str]] = field(default_factory=dict)
    # The Celery releases the app may run, oldest first (the project's versions); none: the newest.
    releases: tuple[str, ...] = ()
    # When there are several: the app as each of them reads it (see setting_in).
    by_release: dict[str, "App"] = field(default_factory=dict, repr=False)
    _defaults: dict[str, Value] = field(default_factory=dict, repr=False, compare=False)

    def setting_in(self, name: str, release: str) -> Value:
        """A setting's value as one of the app's releases reads it."""
        part = self.by_release.get(release)
        return part.setting(name) if part is not None else self.setting(name)

    def setting(self, name: str) -> Value:
        if name in self.settings:
            return self.settings[name]
        if self.updated_unseen is not None:
            return unknown(*self.updated_unseen)
        if self.source_problem:
            return unknown(self.source_problem)
        if self.source_unseen:
            return unknown(f"{self.source_unseen}, and the configuration source does not set {name} after that")
        if name not in self._defaults:
            self._defaults[name] = default_value(name, self.releases)
        return self._defaults[name]

    def to_json(self, all_settings: bool = False) -> dict[str, Any]:
        names = set(self.settings) | set(RELIED_ON)
        if all_settings:
            names |= set(catalog.settings())
        return {
            "name": self.name,
            "defined_at": self.defined_at.to_json(),
            "celery_releases": list(self.releases),
            "config_source": self.source,
            "namespace": self.namespace,
            "settings_module_named_at": self.source_named_at.to_json() if self.source_named_at else None,
            "settings_module_chosen_because": self.source_named_by,
            "config_error": self.config_error,
            "settings_may_be_set_unseen": self.source_unseen,
            "updated_unseen": ({"reason": self.updated_unseen[0], "origin": self.updated_unseen[1].to_json()}
                               if self.updated_unseen else None),
            "settings": {n: V.to_json(self.setting(n)) for n in sorted(names)},
            "tasks": {name: task.to_json() for name, task in sorted(self.tasks.items())},
            "unread_keys": [
                {"key": u.key, "kind": u.kind, "setting": u.setting, **({"origin": u.span.to_json()} if u.span else {}),
                 **({"releases": list(u.releases)} if u.releases else {})}
                for u in self.unread
            ],
        }


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


def default_value(name: str, releases: tuple[str, ...]) -> Value:
    """A setting's default in the releases an app may run: `several` where they differ (a
    release without the setting has none)."""
    by_release = [(release, catalog_releases.get(name, release)) for release in releases or (None,)]
    values = [(release, _default_of(name, entry, release)) for release, entry in by_release]
    return merge_releases([(release, value) for release, value in values], releases)


def _default_of(name: str, entry: "catalog.Setting | None", release: str | None) -> Value:
    if entry is not None:
        return Value("default", entry.default)
    if release is not None and catalog_releases.lifetime(name) is not None:
        return Value("default", None, reason=f"Celery {release} has no setting {name}")
    return Value("default", None)


def merge_releases(values: list[tuple[str | None, Value]], releases: tuple[str, ...]) -> Value:
    """One value per release, merged: the value itself when every release has it, else one
    alternative per group of releases with the same value."""
    groups: list[tuple[list[str], Value]] = []
    for release, value in values:
        for names, seen in groups:
            if V.identical(seen, value):
                names.append(release)
                break
        else:
            groups.append(([release], value))
    if len(groups) == 1:
        return groups[0][1]
    return V.several([(value, catalog_releases.celery(names)) for names, value in groups], None)
