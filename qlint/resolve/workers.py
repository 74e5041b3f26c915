"""Celery processes of the shipped deployment, each tied to its app, with the settings
its command line overrides.

A worker's option beats the app's setting of the same meaning
(``WorkController.setup_defaults`` calls ``app.either(setting, option)``); a task's own
options still beat both. ``-b/--broker`` and ``--result-backend`` go through the
environment (CELERY_BROKER_URL, CELERY_RESULT_BACKEND), which beats every file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qlint.model import Span, Value
from qlint.resolve.project import App
from qlint.resolve.environment import Environment, environment_of, narrow
from qlint.sources.deploy.facts import DeployFacts, Deployment, EnvVar, OptionValue, Process

# command-line option -> the setting it overrides for that process
OPTION_SETTINGS = {
    "concurrency": "worker_concurrency",
    "prefetch_multiplier": "worker_prefetch_multiplier",
    "disable_prefetch": "worker_disable_prefetch",
    "statedb": "worker_state_db",
    "time_limit": "task_time_limit",
    "soft_time_limit": "task_soft_time_limit",
    "max_tasks_per_child": "worker_max_tasks_per_child",
    "max_memory_per_child": "worker_max_memory_per_child",
    "pool": "worker_pool",
    "task_events": "worker_send_task_events",
    "broker": "broker_url",
    "result_backend": "result_backend",
    "schedule_filename": "beat_schedule_filename",
    "scheduler": "beat_scheduler",
    "max_interval": "beat_max_interval",
}


@dataclass
class CeleryProcess:
    """One worker, beat or multi process definition and the app it runs."""

    file: str
    deployment: Deployment
    process: Process
    app: App | None
    app_reason: str = ""  # why app is None
    env: dict[str, EnvVar] = field(default_factory=dict)  # what it is started with

    @property
    def kind(self) -> str:
        return self.process.command.kind

    @property
    def name(self) -> str:
        return self.process.name

    @property
    def span(self) -> Span:
        return self.process.command.span

    def option(self, name: str) -> OptionValue | None:
        return self.process.command.option(name)

    def setting(self, name: str) -> Value:
        """The value this process runs with: its command line first, then the app's."""
        for option, setting in OPTION_SETTINGS.items():
            if setting == name:
                given = self.option(option)
                if given is not None:
                    return given.value
        if self.app is not None:
            return narrow(self.app.setting(name), self.env)
        return Value("unknown", reason=self.app_reason or "the process's app is not known")

    @property
    def runs_beat(self) -> bool:
        """A beat process, or a worker with an embedded beat (-B)."""
        if self.kind == "beat":
            return True
        flag = self.option("beat") if self.kind == "worker" else None
        return flag is not None and flag.value.status == "known" and bool(flag.value.value)

    def queues(self) -> Value:
        """The queues this worker consumes: -Q, else every queue in task_queues, else the default queue."""
        consumed = self._queues()
        excluded = self.option("exclude_queues")
        if excluded is None or consumed.status not in ("known", "default"):
            return consumed
        if excluded.value.status != "known" or not isinstance(excluded.value.value, (list, tuple)):
            return Value("unknown", reason="-X cannot be read")
        return Value(consumed.status, tuple(q for q in consumed.value if q not in excluded.value.value), consumed.origin)

    def _queues(self) -> Value:
        given = self.option("queues")
        if given is not None:
            value = given.value
            if value.status == "known" and isinstance(value.value, (list, tuple)):
                return Value("known", tuple(value.value), value.origin, env=value.env)
            return value
        if self.app is None:
            return Value("unknown", reason=self.app_reason)
        declared = self.app.setting("task_queues")
        if declared.status == "default" or (declared.status == "known" and not declared.value):
            default = self.app.setting("task_default_queue")
            if default.status in ("known", "default") and isinstance(default.value, str):
                return Value(default.status, (default.value,), default.origin)
            return Value("unknown", reason="task_default_queue cannot be read")
        names = queue_names(declared)
        if names is not None:
            return Value("known", tuple(names), declared.origin)
        why = f": {declared.reason}" if declared.status == "unknown" and declared.reason else ""
        return Value("unknown", reason=f"task_queues cannot be read{why}")

    def to_json(self) -> dict[str, Any]:
        from qlint.resolve import values as V

        return {
            "name": self.name, "kind": self.kind, "defined_at": self.span.to_json(),
            "deployment": self.deployment.identity, "profiles": list(self.process.profiles),
            "app": self.app.name if self.app else None,
            "queues": V.to_json(self.queues()) if self.kind == "worker" else None,
            "concurrency": V.to_json(self.setting("worker_concurrency")),
            "pool": V.to_json(self.setting("worker_pool")),
            "prefetch_multiplier": V.to_json(self.setting("worker_prefetch_multiplier")),
            "state_db": V.to_json(self.setting("worker_state_db")),
            "beat": self.runs_beat,
            "replicas": V.to_json(self.process.replicas),
            "autoscaled": self.process.autoscaled,
            "not_read": list(self.process.command.unparsed),
        }


def queue_names(value: Value) -> list[str] | None:
    """Names of the queues in a task_queues value: a list of Queue objects (read as
    {"__queue__": name}) or a mapping of names. Celery refuses anything else."""
    if value.status != "known" or not isinstance(value.value, (list, tuple, dict)):
        return None
    if isinstance(value.value, dict):
        names = list(value.value)
    else:
        names = [q.get("__queue__") if isinstance(q, dict) else None for q in value.value]
    return names if all(isinstance(n, str) for n in names) else None


@dataclass
class DeploymentView:
    """Everything read from deployment files, for `qlint config` and the rules."""

    files: list[str] = field(default_factory=list)  # deployment files considered
    processes: list[CeleryProcess] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def workers(self) -> list[CeleryProcess]:
        return [p for p in self.processes if p.kind in ("worker", "multi")]

    def groups(self) -> list[list[CeleryProcess]]:
        """Processes that run together: one list per Deployment (see sources/deploy/facts.py)."""
        out: dict[tuple[str, str, tuple[str, ...]], list[CeleryProcess]] = {}
        for process in self.processes:
            key = (process.file, process.deployment.identity, process.deployment.profiles)
            out.setdefault(key, []).append(process)
        return list(out.values())


def app_for(command_app: str | None, apps: list[App], module_name) -> tuple[App | None, str]:
    """The app that ``-A value`` names, the way Celery's find_app looks it up.

    ``-A proj`` finds an app attribute of the package, or the ``proj.celery`` module's
    app; ``-A proj.celery:app`` and ``-A proj.celery.app`` name it exactly. With one app
    in the project and no better match, that app is taken.
    """
    if not apps:
        return None, "no Celery app was found in the project"
    if command_app:
        target = command_app.replace(":", ".")
        for app in apps:
            module = module_name(app.module)
            if target in (module, f"{module}.{app.var}") or (module == f"{target}.celery") \
                    or (module.startswith(f"{target}.") and sum(module_name(a.module).startswith(f"{target}.") for a in apps) == 1):
                return app, ""
    if len(apps) == 1:
        return apps[0], ""
    return None, f"-A {command_app} names none of the project's apps" if command_app else "no -A option and several apps"


def build_view(facts: list[DeployFacts], apps: list[App], module_name, environment: Environment | None = None,
               env_files: dict[str, DeployFacts] | None = None) -> DeploymentView:
    view = DeploymentView()
    for item in facts:
        view.notes.extend(item.notes)
        if item.kind in ("dotenv", "settings"):
            continue
        view.files.append(item.path)
        for deployment in item.deployments:
            for process in deployment.processes:
                app, reason = app_for(process.command.app, apps, module_name)
                env = environment_of(environment, process, item.path, env_files or {})
                view.processes.append(CeleryProcess(item.path, deployment, process, app, reason, env))
    return view


def workers_of(project: object, app: App) -> list[CeleryProcess]:
    """The worker processes of the deployment files that run app (empty when none is known)."""
    view = getattr(project, "deployment", None)
    if view is None:
        return []
    return [p for p in view.workers() if p.app is app]
