"""The project form of a scenario: settings, workers and tasks read from a project on disk.

`project: PATH` replays what qlint's resolver reads from the project (its code is never
imported):

- the Celery settings the reference worker uses, from the project's app (`app:` names one
  when there are several);
- with no `workers:` in the scenario, the worker processes of the deployment files that run
  that app, one replay worker per replica (compose `worker` with 3 replicas gives
  `worker-1`..`worker-3`), each with its own concurrency, prefetch multiplier and state db
  (a command-line option beats the app's setting, as in Celery);
- every task of the app with its own options (acks_late, time limits...), and a duration
  from the scenario's `tasks:`, else from `[tool.qlint.tasks]`, else 1 s;
- `settings:` next to `project:` replaces the resolved value of each key it names, in the
  app and in every project worker alike (command lines included).

Only concrete values are replayed: known, Celery's default, an environment variable's
default, or several branches that all agree. Any other value is listed by name, origin and
reason; with `unresolved: refuse` (the default) the replay is refused, with
`unresolved: default` Celery's default is used and the notes say so.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pydantic import ValidationError

from qlint.pipeline.analysis import Analysis, analyse
from qlint.scan.discovery import walk_files
from qlint.model import Value
from qlint.user_config.project_config import ConfigError, QlintConfig, find_project_root, load_config
from qlint.resolve.resolved import App
from qlint.resolve.routing import queue_of
from qlint.resolve.workers import CeleryProcess, workers_of

from .config import accept_content, compression, serializer
from .modelled import MODELLED_SETTINGS, TRANSPORT_OPTIONS
from .scenario import Prepared, Scenario, ScenarioError, _format_validation

# Settings a worker's command line may change for that worker alone, which the reference
# worker applies to every worker: the workers must agree on them.
SHARED_LIMITS = ("task_time_limit", "task_soft_time_limit")
# task_routes is replayed through each task's queue, as qlint's resolver routes it (resolve/routing.py).
REPLAYED_SETTINGS = tuple(n for n in MODELLED_SETTINGS
                          if n not in SHARED_LIMITS and n not in ("worker_concurrency", "task_routes"))
# Worker command-line options that change nothing a replay shows (logging, identity, events,
# daemon options), or that the replay reads: others are named in the notes.
QUIET_OPTIONS = frozenset({
    "app", "broker", "config", "workdir", "no_color", "quiet", "version", "skip_checks", "loglevel", "logfile",
    "pidfile", "uid", "gid", "umask", "executable", "detach", "hostname", "task_events", "without_gossip",
    "without_heartbeat", "heartbeat_interval", "include", "pool_start_method",
    "concurrency", "prefetch_multiplier", "statedb", "time_limit", "soft_time_limit", "queues", "autoscale",
    "disable_prefetch", "exclude_queues", "without_mingle",
})
# -O takes only default and fair on Celery's command line (a click choice), both the fair strategy, which
# is a replayed worker's default optimization. fcfs is reached only from Python (app.Worker(optimization=
# 'fcfs')), which the deployment files a project form reads do not show: give it in workers:.
MODELLED_OPTION_VALUES = {"optimization": ("default", "fair"), "pool": ("prefork",)}
# Settings whose value the replay models only in part: a value it does not model is noted, not replayed.
VALUE_CHECKS = {"task_serializer": serializer, "task_compression": compression, "accept_content": accept_content}
# Task options that only name the task or give its class.
QUIET_TASK_OPTIONS = frozenset({"name", "base"})
TASK_OPTIONS = (
    "acks_late", "time_limit", "soft_time_limit", "acks_on_failure_or_timeout", "acks_on_failure",
    "acks_on_timeout", "reject_on_worker_lost", "bind", "retry_on_worker_lost", "max_retries", "default_retry_delay",
    "retry_backoff", "retry_backoff_max", "retry_jitter",
)
WORKER_NAME = re.compile(r"[^A-Za-z0-9_.@-]+")
MAX_PROJECT_FILES = 200_000
_MISSING = object()


@dataclass
class LoadedProject:
    """A project analysed once, for as many replays as needed."""

    path: Path
    analysis: Analysis
    config: QlintConfig


def load_project(path: Path, use_cache: bool = True) -> LoadedProject:
    if not path.is_dir():
        raise ScenarioError(f"project {path}: {'not a folder' if path.exists() else 'no such folder'}")
    if path.resolve().parent == path.resolve():  # Path(".").parent is Path(".") too
        raise ScenarioError(f"project {path}: the root of the file system, not a project; point project: at the "
                            "project's folder")
    try:
        config = load_config(find_project_root(path))
    except ConfigError as exc:
        raise ScenarioError(exc.message) from None
    # A scenario may come with a checked-out repository: its project: could name any folder.
    for number, _ in enumerate(walk_files(path, config.exclude), start=1):
        if number > MAX_PROJECT_FILES:
            raise ScenarioError(f"project {path}: more than {MAX_PROJECT_FILES:,} files, more than a project has; "
                                "point project: at the project's folder")
    analysis = analyse([path], cwd=Path.cwd(), root=path, exclude=config.exclude, use_cache=use_cache)
    return LoadedProject(path, analysis, config)


def project_provider(use_cache: bool = True) -> Callable[[Scenario, Path], Prepared]:
    """The provider that prepare_scenario() calls for `project:`."""
    return lambda scenario, path: prepare_from_project(scenario, load_project(path, use_cache))


def app_path(project: LoadedProject, app: App) -> str:
    """PATH:VAR of an app, PATH relative to the project: what `app:` takes when names clash."""
    analysis = project.analysis
    module = (analysis.cwd / app.module).resolve()
    try:
        where = module.relative_to(analysis.root.resolve()).as_posix()
    except ValueError:
        where = app.module
    return f"{where}:{app.var or 'app'}"


def pick_app(project: LoadedProject, key: str | None) -> App:
    """The app named by `app:` (its name, module:var or PATH:VAR), else the only one."""
    apps = project.analysis.project.apps
    if not apps:
        raise ScenarioError(f"project {project.path}: no Celery app found")
    module_name = project.analysis.project.workspace.index.module_name
    listing = ", ".join(f"{a.name} ({app_path(project, a)})" for a in apps)
    if key is None:
        if len(apps) > 1:
            raise ScenarioError(f"project {project.path} has several apps: {listing}; name one with app: NAME")
        return apps[0]
    matches = [a for a in apps if key in (a.name, f"{module_name(a.module)}:{a.var}", app_path(project, a))]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ScenarioError(f"project {project.path}: no app named {key!r} (apps: {listing})")
    raise ScenarioError(f"project {project.path}: several apps match {key!r}: "
                        f"{', '.join(app_path(project, a) for a in matches)}; name one as PATH:VAR")


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _same(a: Any, b: Any) -> bool:
    """Equal as Celery would use them: 7200 and 7200.0 agree, True and 1 do not."""
    return (_number(a) and _number(b) and a == b) or (type(a) is type(b) and a == b)


def _why(value: Value) -> str:
    where = f" ({value.origin})" if value.origin else ""
    if value.status == "several":
        conditions = "; ".join(a.condition for a in value.alternatives)
        return f"depends on a condition ({conditions}){where}"
    if value.uncast:
        return f"a string from environment variable {value.env} where Celery expects another type{where}"
    return f"{value.reason or 'cannot be resolved'}{where}"


class _Resolver:
    """Turns Values into plain values, collecting what cannot be resolved."""

    def __init__(self, fallback: bool) -> None:
        self.fallback = fallback
        self.problems: list[str] = []
        self.notes: list[str] = []

    def problem(self, text: str, fallback: str = "Celery's default used") -> None:
        """A value that cannot be resolved: refused, or replayed with `fallback` (and noted)."""
        if self.fallback:
            self.note(f"{text}; {fallback}")
        elif text not in self.problems:
            self.problems.append(text)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def take(self, label: str, value: Value, fallback: str = "Celery's default used") -> Any:
        """The one value this takes, or _MISSING (and a problem) when it has no single one."""
        if value.status == "several":
            options = value.possible()
            plain = [self._plain(label, v) for v in options]
            if options and all(p is not _MISSING and _same(p, plain[0]) for p in plain):
                return plain[0]
            self.problem(f"{label}: {_why(value)}", fallback)
            return _MISSING
        if value.status == "unknown" or (value.uncast and isinstance(value.value, str)):
            self.problem(f"{label}: {_why(value)}", fallback)
            return _MISSING
        return self._plain(label, value)

    def _plain(self, label: str, value: Value) -> Any:
        if value.status == "env-default":
            self.note(f"{label}: environment variable {value.env} taken as unset, so {value.value!r}")
        if value.items is None:
            return value.value
        out = {}
        for key, item in value.items:
            got = self.take(f"{label}[{key!r}]", item)
            if got is not _MISSING:
                out[key] = got
            elif not self.fallback:
                return _MISSING
        return out

    def finish(self, where: str) -> list[str]:
        if self.problems:
            listing = "\n".join(f"  {p}" for p in self.problems)
            raise ScenarioError(
                f"{where}: cannot replay the project, these values cannot be resolved:\n{listing}\n"
                "give them under settings: (or workers:, tasks:), or add unresolved: default "
                "to replay with Celery's defaults")
        return self.notes


def _whole(r: _Resolver, label: str, value: Any, minimum: int, fallback: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        r.problem(f"{label}: {value!r} is not a whole number of at least {minimum}", f"{fallback} used")
        return fallback
    return value


def prepare_from_project(scenario: Scenario, project: LoadedProject) -> Prepared:
    """The scenario in the settings form, with the project's settings, workers and tasks."""
    app = pick_app(project, scenario.app)
    r = _Resolver(scenario.unresolved == "default")
    overrides = dict(scenario.settings or {})
    processes = [] if scenario.workers else _processes(project, app, _referenced(scenario), r, scenario.deployment)
    settings = _settings(app, project.config, processes, overrides, r)
    workers = [w.model_dump() for w in scenario.workers] or _workers(scenario, app, processes, overrides, r)
    tasks = _tasks(scenario, app, project.config, r)
    _note_unmodelled(app, processes, _referenced(scenario), r)
    notes = r.finish(f"project {project.path}")
    data = scenario.model_dump(exclude={"project", "app", "unresolved", "cpus", "deployment"})
    data.update(settings=settings, workers=workers, tasks=tasks)
    if scenario.celery is None and getattr(app, "releases", ()):
        data["celery"] = app.releases[-1]  # the project's release (the newest it may install)
        if len(app.releases) > 1:
            notes.append(f"the project may install Celery {', '.join(app.releases)}: replayed as {app.releases[-1]}")
    try:
        prepared = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"with the workers and tasks of project {project.path}: {_format_validation(exc)}") from None
    return Prepared(prepared, settings, notes)


def _settings(app: App, config: QlintConfig, processes: list[CeleryProcess], overrides: dict[str, Any],
              r: _Resolver) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for name in REPLAYED_SETTINGS:
        if name in overrides:
            continue
        value = _as_the_workers_see_it(app, name, processes)
        if name == "broker_url" and config.broker and (value.status == "default" or _Resolver(False).take(name, value) is _MISSING):
            # As the rules do: an unset or unreadable broker URL is the scheme [tool.qlint] declares.
            r.note(f"broker_url: not resolved; {config.broker}:// assumed from [tool.qlint] broker")
            settings[name] = f"{config.broker}://"
            continue
        got = r.take(f"app {app.name!r}: {name}", value)
        if name == "broker_transport_options" and isinstance(got, dict):
            left = sorted(str(k) for k in got if k not in TRANSPORT_OPTIONS)
            if left:
                r.note(f"app {app.name!r}: broker_transport_options {', '.join(left)}: not modelled, not replayed")
                got = {k: v for k, v in got.items() if k in TRANSPORT_OPTIONS}
        if name in VALUE_CHECKS and got is not _MISSING:
            try:
                VALUE_CHECKS[name]({name: got})
            except ValueError as exc:
                r.note(f"app {app.name!r}: {exc}; Celery's default replayed")
                continue
        if got is not _MISSING:
            settings[name] = got
    for name in SHARED_LIMITS:
        if name in overrides:
            continue
        values = [(p.name, r.take(f"worker {p.name!r}: {name}", p.setting(name))) for p in processes] or \
                 [("", r.take(f"app {app.name!r}: {name}", app.setting(name)))]
        given = [(who, v) for who, v in values if v is not _MISSING]
        if any(not _same(v, given[0][1]) for _, v in given):
            listing = ", ".join(f"{who}: {v!r}" for who, v in given)
            r.problem(f"{name}: the workers run with different values ({listing}) and the reference worker "
                      "applies one to all; give it under settings:")
        elif given:
            settings[name] = given[0][1]
    settings.update(overrides)
    return settings


def _as_the_workers_see_it(app: App, name: str, processes: list[CeleryProcess]) -> Value:
    """The app's setting, or the one value every replayed worker runs with when the app's
    depends on the environment (a variable that each deployment file sets its own way)."""
    value = app.setting(name)
    if value.status != "several" or not processes:
        return value
    seen = [p.setting(name) for p in processes]
    if all(v.status in ("known", "default", "env-default") and not v.items and _same(v.value, seen[0].value)
           for v in seen):
        return seen[0]
    return value


def _queue_list(value: Value) -> list[str] | None:
    """The queue names of a resolved value, in order."""
    if value.status in ("known", "default", "env-default") and isinstance(value.value, (list, tuple, str)):
        names = [value.value] if isinstance(value.value, str) else list(value.value)
        if names and all(isinstance(n, str) and n for n in names):
            return list(dict.fromkeys(names))
    return None


def _queues(value: Value) -> set[str] | None:
    if value.status in ("known", "default", "env-default") and isinstance(value.value, (list, tuple, str)):
        return {value.value} if isinstance(value.value, str) else set(value.value)
    return None


def _processes(project: LoadedProject, app: App, referenced: set[str], r: _Resolver,
               deployment: str | None = None) -> list[CeleryProcess]:
    """The worker processes of one deployment (the one named by `deployment:`, else the
    first that runs the app, in file order) that consume a queue the scenario's tasks are
    routed to.

    The reference worker has one queue: the workers kept are replayed as if they all consumed it."""
    processes = [p for p in workers_of(project.analysis.project, app) if p.kind in ("worker", "multi")]
    if deployment is not None:
        target = (project.path / deployment).resolve()
        named = [p for p in processes if (project.analysis.cwd / p.file).resolve() == target]
        if not named:
            files = sorted({p.file for p in processes}) or ["none"]
            raise ScenarioError(f"deployment: {deployment} starts no worker of app {app.name!r} "
                                f"(files that do: {', '.join(files)})")
        processes = named
    routed = [_queues(queue_of(app.tasks[n], app)) for n in sorted(referenced) if n in app.tasks]
    wanted = set().union(*routed) if routed and all(q is not None for q in routed) else None
    if wanted is not None:
        idle = [p for p in processes if (q := _queues(p.queues())) is not None and not q & wanted]
        for p in idle:
            r.note(f"worker {p.name!r} consumes {', '.join(sorted(_queues(p.queues()) or ()))}, "
                   f"not the queues of the scenario's tasks ({', '.join(sorted(wanted))}): not replayed")
        processes = [p for p in processes if p not in idle]
    if not processes:
        r.problem(f"workers: no deployment file of project {project.path} starts a worker of app {app.name!r} "
                  "(give workers:)", "one worker with the app's settings used")
        return []
    key = lambda p: (p.file, p.deployment.identity, p.deployment.profiles)  # noqa: E731
    chosen = key(processes[0])
    others = sorted({f"{k[0]}" + (f" (profiles {', '.join(k[2])})" if k[2] else "")
                     for k in map(key, processes) if k != chosen})
    if others:
        r.note(f"workers: replaying the deployment in {chosen[0]}; alternatives not replayed: {', '.join(others)}")
    return [p for p in processes if key(p) == chosen]


def _workers(scenario: Scenario, app: App, processes: list[CeleryProcess], overrides: dict[str, Any],
             r: _Resolver) -> list[dict[str, Any]]:
    if not processes:  # only reached with unresolved: default
        concurrency = _concurrency(scenario, f"app {app.name!r}", app.setting("worker_concurrency"), overrides, r)
        return [{"name": "worker", "concurrency": concurrency}]
    out: list[dict[str, Any]] = []
    taken: set[str] = set()
    for process in processes:
        label = f"worker {process.name!r} ({process.span})"
        count = _replicas(process, label, r)
        spec: dict[str, Any] = {
            "concurrency": _concurrency(scenario, label, process.setting("worker_concurrency"), overrides, r),
        }
        for setting, key in (("worker_prefetch_multiplier", "prefetch_multiplier"), ("worker_state_db", "statedb")):
            got = overrides[setting] if setting in overrides else r.take(f"{label}: {setting}", process.setting(setting))
            if got is not _MISSING:
                spec[key] = got
        consumed = _queue_list(process.queues())
        if consumed is None:
            r.note(f"{label}: the queues it consumes cannot be resolved; replayed on task_default_queue")
        else:
            spec["queues"] = consumed
        without_mingle = process.process.command.options.get("without_mingle")
        if without_mingle is not None:
            got = r.take(f"{label}: --without-mingle", without_mingle.value)
            if got is not _MISSING:
                spec["without_mingle"] = bool(got)
        disabled = process.setting("worker_disable_prefetch")
        if "worker_disable_prefetch" not in overrides and disabled.status != "default":
            got = r.take(f"{label}: worker_disable_prefetch", disabled)
            if got is not _MISSING:
                spec["disable_prefetch"] = got
        base = WORKER_NAME.sub("-", process.name).strip("-") or "worker"
        names = [base] if count == 1 else [f"{base}-{i}" for i in range(1, count + 1)]
        for name in names:
            while name in taken:
                name += "_"
            taken.add(name)
            out.append({"name": name, **spec})
    return out


def _note_unmodelled(app: App, processes: list[CeleryProcess], referenced: set[str], r: _Resolver) -> None:
    """Name what the project sets that the replay leaves out: settings, worker options, task options."""
    unread = [f"{n}" + (f" ({v.origin})" if v.origin else "") for n, v in sorted(app.settings.items())
              if n not in MODELLED_SETTINGS]
    if unread:
        r.note(f"app {app.name!r}: settings the reference worker does not model, not replayed: {', '.join(unread)}")
    for process in processes:
        options = []
        for name, given in sorted(process.process.command.options.items()):
            if name in QUIET_OPTIONS:
                continue
            value = given.value.value if given.value.status == "known" else None
            if value in MODELLED_OPTION_VALUES.get(name, ()):
                continue
            options.append(name if value is None or value is True else f"{name}={value}")
        if options:
            r.note(f"worker {process.name!r} ({process.span}): options the reference worker does not model, "
                   f"not replayed: {', '.join(options)}")
    for name in sorted(referenced & set(app.tasks)):
        extra = sorted(o for o in app.tasks[name].options if o not in TASK_OPTIONS and o not in QUIET_TASK_OPTIONS)
        if extra:
            r.note(f"task {name}: options the reference worker does not model, not replayed: {', '.join(extra)}")


def _replicas(process: CeleryProcess, label: str, r: _Resolver) -> int:
    replicas = r.take(f"{label}: replicas", process.process.replicas, "1 used")
    count = 1 if replicas is _MISSING else _whole(r, f"{label}: replicas", replicas, 0, 1)
    if process.process.autoscaled:
        r.note(f"{label}: autoscaled; replayed with {count} replicas")
    if process.kind == "multi":
        nodes = process.option("nodes")
        given = 1 if nodes is None else r.take(f"{label}: nodes", nodes.value, "1 used")
        if isinstance(given, (list, tuple)):
            given = len(given)
        count *= 1 if given is _MISSING else _whole(r, f"{label}: nodes", given, 1, 1)
    return count


def _concurrency(scenario: Scenario, label: str, value: Value, overrides: dict[str, Any], r: _Resolver) -> int:
    """Celery's rule (celery/worker/worker.py): a numeric string counts as its number;
    nothing, 0, "auto" or any other string means one process per CPU."""
    given = overrides["worker_concurrency"] if "worker_concurrency" in overrides else \
        r.take(f"{label}: worker_concurrency", value, "1 process used")
    if given is _MISSING:
        return 1
    if isinstance(given, str) and given.strip().isdigit():
        given = int(given)
    if not given or isinstance(given, str):
        if scenario.cpus is not None:
            return scenario.cpus
        r.problem(f"{label}: worker_concurrency: one process per CPU of the machine it runs on "
                  "(give cpus: N, or -c on the command line)", "1 process used")
        return 1
    return _whole(r, f"{label}: worker_concurrency", given, 1, 1)


def _referenced(scenario: Scenario) -> set[str]:
    names: set[str] = set()
    for sub in scenario.submit:
        names.update([sub.task] if sub.task else [])
        names.update(s.task for s in (sub.link, sub.link_error) if s)
        names.update(s.task for s in sub.chain or [])
        if sub.chord:
            names.update([s.task for s in sub.chord.header] + [sub.chord.body.task])
    return names


def _tasks(scenario: Scenario, app: App, config: QlintConfig, r: _Resolver) -> dict[str, dict[str, Any]]:
    referenced = _referenced(scenario)
    tasks: dict[str, dict[str, Any]] = {}
    for name, task in app.tasks.items():
        spec: dict[str, Any] = {}
        if name in referenced and task.unknown_options:
            r.problem(f"task {name}: its options come from {task.unknown_options}")
        for option in TASK_OPTIONS:
            own = task.options.get(option)
            if own is None or (own.status == "known" and own.value is None and option != "max_retries"):
                continue
            # A task that the scenario does not run does not need its options.
            got = r.take(f"task {name}: {option}", own) if name in referenced else _MISSING
            if got is not _MISSING:
                spec[option] = got
        if name in referenced:
            queue = _queue_list(queue_of(task, app))
            if queue is not None and len(queue) == 1:
                spec["queue"] = queue[0]
            else:
                r.note(f"task {name}: its queue cannot be resolved; replayed on task_default_queue")
        if name in config.tasks:
            spec["duration"] = config.tasks[name]
        elif name in referenced and name not in scenario.tasks:
            r.note(f"task {name}: no duration in the scenario or [tool.qlint.tasks]; 1 s assumed")
        tasks[name] = spec
    for name, given in scenario.tasks.items():
        tasks[name] = {**tasks.get(name, {}), **given.model_dump(exclude_unset=True)}
    return tasks
