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
from qlint.resolve.resolved import App
from qlint.resolve.environment import Environment, environment_of, narrow
from qlint.sources.deploy.facts import DeployFacts, Deployment, EnvVar, OptionValue, Process, Service

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
    # Every deployment of the file that starts it: a compose service without profiles
    # runs in each profile set, and is still one process (the first is `deployment`).
    also_in: list[Deployment] = field(default_factory=list)

    @property
    def deployments(self) -> list[Deployment]:
        return [self.deployment, *self.also_in]

    @property
    def kind(self) -> str:
        return self.process.command.kind

    @property
    def name(self) -> str:
        return self.process.name

    @property
    def label(self) -> str:
        """The process as messages name it, quoted: its --hostname/-n where it has one (four workers
        that one script starts are four names, not four times its name), with the name of its
        definition when that says more ('default@%h' (celery_default))."""
        given = self.option("hostname")
        hostname = given.value if given is not None else None
        if hostname is None or hostname.status not in ("known", "env-default") \
                or not isinstance(hostname.value, str) or not hostname.value:
            return repr(self.name)
        if self.name in hostname.value or self.name in ("worker", "celery", "beat"):
            return repr(hostname.value)
        return f"{hostname.value!r} ({self.name})"

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
            if value.status in ("known", "env-default") and isinstance(value.value, (list, tuple)):
                return Value(value.status, tuple(value.value), value.origin, env=value.env)
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

    def prefetch_count(self) -> tuple[int | None, str]:
        """How many messages this worker reserves at most (multiplier x concurrency), and how
        that was reached; None when a value is not known or depends on the machine."""
        if self.kind == "beat":
            return None, ""
        disabled = self.setting("worker_disable_prefetch")
        if disabled.status in ("known", "env-default") and disabled.value is True:
            return None, "no prefetch: a process takes a message only when it is idle (worker_disable_prefetch)"
        multiplier, concurrency = self.setting("worker_prefetch_multiplier"), self.setting("worker_concurrency")
        if multiplier.status not in ("known", "default", "env-default") or isinstance(multiplier.value, bool) \
                or not isinstance(multiplier.value, int):
            return None, "the prefetch multiplier is not known"
        if multiplier.value == 0:
            return 0, "unlimited (multiplier 0)"
        autoscale = self.option("autoscale")
        if autoscale is not None:  # the prefetch count follows the pool's size (Consumer._update_prefetch_count)
            scale = autoscale.value
            if scale.status in ("known", "env-default") and isinstance(scale.value, (list, tuple)) and scale.value:
                return multiplier.value * int(scale.value[0]), \
                    f"{multiplier.value} x up to {scale.value[0]} processes (--autoscale)"
            return None, f"{multiplier.value} x the processes --autoscale starts, which is not known"
        if concurrency.status in ("known", "default", "env-default") and concurrency.value is None:
            return None, f"{multiplier.value} x the number of CPUs (concurrency not set)"
        if concurrency.status not in ("known", "default", "env-default") or isinstance(concurrency.value, bool) \
                or not isinstance(concurrency.value, int):
            return None, f"{multiplier.value} x concurrency, which is not known"
        return multiplier.value * concurrency.value, f"{multiplier.value} x concurrency {concurrency.value}"

    def to_json(self) -> dict[str, Any]:
        from qlint.resolve import values as V

        return {
            "name": self.name, "kind": self.kind, "defined_at": self.span.to_json(),
            "deployment": self.deployment.identity, "profiles": list(self.process.profiles),
            "app": self.app.name if self.app else None,
            "queues": V.to_json(self.queues()) if self.kind in ("worker", "multi") else None,
            "time_limit": V.to_json(self.setting("task_time_limit")) if self.kind != "beat" else None,
            "concurrency": V.to_json(self.setting("worker_concurrency")),
            "pool": V.to_json(self.setting("worker_pool")),
            "prefetch_multiplier": V.to_json(self.setting("worker_prefetch_multiplier")),
            "prefetch_count": dict(zip(("value", "how"), self.prefetch_count())) if self.kind != "beat" else None,
            "nodes": V.to_json(self.option("nodes").value) if self.option("nodes") else None,
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
    # Deployment files that were not read (templates, unreadable files): the processes
    # they start are not known, so "no worker does X" cannot be said.
    skipped: list[str] = field(default_factory=list)
    # Every compose service, celery or not (the broker a deployment runs: brokers.py).
    services: list[Service] = field(default_factory=list)

    def workers(self) -> list[CeleryProcess]:
        return [p for p in self.processes if p.kind in ("worker", "multi")]

    def groups(self) -> list[list[CeleryProcess]]:
        """Processes that run together: one list per Deployment (see sources/deploy/facts.py)."""
        out: dict[tuple[str, str, tuple[str, ...]], list[CeleryProcess]] = {}
        for process in self.processes:
            for deployment in process.deployments:
                key = (process.file, deployment.identity, deployment.profiles)
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
        found = [app for app in apps if target in (module_name(app.module), f"{module_name(app.module)}.{app.var}")]
        found = found or [app for app in apps if module_name(app.module) == f"{target}.celery"]
        found = found or [app for app in apps if module_name(app.module).startswith(f"{target}.")]
        if len({app.module for app in found}) == 1 and len(found) > 1:
            # one module with several apps: Celery's find_app takes its `app`, then its `celery`
            found = [a for a in found if a.var == "app"] or [a for a in found if a.var == "celery"] or found[:1]
        if len(found) == 1:
            return found[0], ""
        if len(found) > 1:  # two folders on different import paths, each with that module
            where = ", ".join(sorted(app.defined_at.path for app in found))
            return None, f"-A {command_app} matches several apps ({where}): which one runs depends on the import path"
    if len(apps) == 1:
        return apps[0], ""
    return None, f"-A {command_app} names none of the project's apps" if command_app else "no -A option and several apps"


def build_view(facts: list[DeployFacts], apps: list[App], module_name, environment: Environment | None = None,
               env_files: dict[str, DeployFacts] | None = None) -> DeploymentView:
    view = DeploymentView()
    for item in facts:
        view.notes.extend(item.notes)
        if item.kind != "dotenv" and (item.error is not None or item.template):
            view.skipped.append(item.path)
        if item.kind in ("dotenv", "settings"):
            continue
        view.files.append(item.path)
        view.services.extend(item.services)
        seen: dict[tuple[str, Span], CeleryProcess] = {}
        for deployment in item.deployments:
            for process in deployment.processes:
                key = (process.name, process.command.span)
                if key in seen:  # the same definition in another profile set of the file
                    seen[key].also_in.append(deployment)
                    continue
                app, reason = app_for(process.command.app, apps, module_name)
                env = environment_of(environment, process, item.path, env_files or {})
                if process.command.app_after_subcommand:
                    view.notes.append(
                        f"{process.command.span}: `celery {process.command.kind} -A ...` is the Celery 4 order: Celery 5 "
                        f"refuses to start it (write `celery -A {process.command.app} {process.command.kind} ...`)")
                seen[key] = CeleryProcess(item.path, deployment, process, app, reason, env)
                view.processes.append(seen[key])
    return view


def workers_of(project: object, app: App) -> list[CeleryProcess]:
    """The worker processes of the deployment files that run app (empty when none is known)."""
    view = getattr(project, "deployment", None)
    if view is None:
        return []
    return [p for p in view.workers() if p.app is app]
