"""The static rules run again with the settings each live worker runs with (`qlint inspect
--ask-workers`).

The worker's app, as the project resolves it, gets each setting the worker reports with another
value than the app's replaced by the worker's, and the ordinary rules run over a project that
holds that app alone and no deployment files (the live worker is the deployment: what its
command line changes is in what it reports). Settings the worker runs as the app sets them keep
the app's value and origin, so that a rule says of them what it says in `qlint check`.

A finding whose rule reads on the worker only values the project runs with (the app's, or where
the deployment files start workers, one of theirs: a Procfile's --time-limit) says nothing new:
`qlint check` reports it, with its suppressions and baseline, and the worker only confirms it
(listed with the worker, not a finding again per worker and per --watch round). A finding that
reads a value the project never runs with is the news: it is located at the worker and names
those values of the worker, and the project's."""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from qlint.model import Finding, Fix, Related, Span, Value
from qlint.resolve.brokers import single, transport_of_url
from qlint.resolve.project import Project
from qlint.resolve.resolved import App
from qlint.semantics.delivery import per_worker
from qlint.live.urls import redacted
from qlint.live.workers import LiveWorker, show

# The rules whose verdict depends on how a worker runs, each with the settings it reads that
# Celery's `conf` reply carries as plain values (objects such as task_queues or task_routes come
# back as their repr): acknowledgement and time limits against the broker's deadline (QL101 to
# QL105), the content a worker accepts (QL203, QL204), the results it stores (QL205, QL303),
# prefetch (QL401), its limits (QL402). Not run again: the rules about the deployment files'
# command lines (QL106, QL501, QL502, QL503), which a live worker replaces, and those about what
# senders and beat do (QL202, QL404, QL504, QL505).
_DEADLINE = ("broker_url", "broker_transport_options", "task_acks_late", "task_time_limit")
READS: dict[str, tuple[str, ...]] = {
    "QL101": _DEADLINE,
    "QL102": _DEADLINE,
    "QL103": ("broker_url", "task_acks_late", "task_time_limit"),
    "QL104": ("broker_url", "broker_transport_options"),
    "QL105": ("task_acks_late", "task_reject_on_worker_lost", "task_retry_on_worker_lost", "task_acks_on_timeout",
              "task_acks_on_failure_or_timeout", "task_time_limit"),
    "QL203": ("accept_content", "result_accept_content", "task_serializer", "result_serializer"),
    "QL204": ("task_serializer", "result_serializer", "accept_content", "result_accept_content"),
    "QL205": ("result_backend", "result_expires", "task_ignore_result"),
    "QL303": ("result_backend", "task_ignore_result", "task_always_eager"),
    "QL401": ("broker_url", "worker_prefetch_multiplier", "worker_disable_prefetch", "worker_concurrency",
              "task_time_limit", "task_soft_time_limit"),
    "QL402": ("task_time_limit", "task_soft_time_limit"),
}
SETTINGS = tuple(dict.fromkeys(name for names in READS.values() for name in names))

# How Celery's `conf` reply writes a timedelta (str(timedelta)): result_expires.
_TIMEDELTA = re.compile(r"^(?:(-?\d+) days?, )?(\d+):(\d\d):(\d\d(?:\.\d+)?)$")


# The origin of a worker's values in the project the rules run over: the same for every worker,
# so that workers that run with the same values share one run of the rules.
LIVE = Span("the live worker", 0)


def where(worker: LiveWorker) -> Span:
    """The location of the findings of a worker's settings."""
    return Span(f"worker {worker.hostname}", 0)


@dataclass
class Rerun:
    """The rules' findings with the live workers' settings: those only the live values give
    (findings), and for each worker those its settings confirm (the project's own)."""

    findings: list[Finding] = field(default_factory=list)
    confirmed: dict[str, list[Finding]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class Rerunner:
    """Runs the rules for one project, once per app and set of values (workers of one deployment
    run the same, and --watch asks again every round)."""

    def __init__(self, project: Project | None, apps: list[App]) -> None:
        self.project, self.apps = project, apps
        self._found: dict[tuple, list[Finding]] = {}

    def run(self, workers: list[LiveWorker], without: dict[str, set[str]] | None = None) -> Rerun:
        """without: the codes not to run for a worker (by hostname)."""
        out = Rerun()
        if self.project is None or not self.apps:
            return out
        for worker in workers:
            app = app_of(worker, self.apps)
            if app is None:
                out.notes.append(f"{worker.hostname} registers no task of exactly one app of the project "
                                 f"({', '.join(a.name for a in self.apps)}): the rules were not run with its settings")
                continue
            skip = (without or {}).get(worker.hostname, set())
            changed = differing(app, worker)
            confirmed = []
            for finding in self._findings(app, changed):
                if finding.code in skip:
                    continue
                own = self._own(finding.code, app, worker)
                if own:
                    out.findings.append(self._located(finding, worker, app, own))
                else:
                    confirmed.append(finding)
            out.confirmed[worker.hostname] = confirmed
        return out

    def _own(self, code: str, app: App, worker: LiveWorker) -> dict[str, Any]:
        """The settings the rule reads that the worker runs with a value the project never runs
        them with, neither the app's nor, where the deployment files start workers, one of theirs
        (what `qlint check` judges); empty: the rule's verdict is the project's."""
        reported = worker.settings()
        return {name: _plain(name, reported[name]) for name in READS[code]
                if name in reported and not self._deployed(app, name, _plain(name, reported[name]))}

    def _deployed(self, app: App, name: str, live: Any) -> bool:
        if name == "broker_url":  # what the rules read of it: the transport
            kind = single(app, self.project)
            return kind is not None and kind.kind == transport_of_url(live)
        values = [v for _, value in per_worker(self.project, app, name) for v in value.possible()]
        # A concurrency left unset is the machine's CPU count: any number may be it.
        if name == "worker_concurrency" and any(v.value is None for v in values):
            return True
        return any(_same(name, live, v) for v in values)

    def _located(self, finding: Finding, worker: LiveWorker, app: App, own: dict[str, Any]) -> Finding:
        """A finding of the worker's own values, at the worker, naming them and the project's."""
        values = "; ".join(f"{name} {_shown(name, live)} (the project: {self._project_values(app, name)})"
                           for name, live in own.items())
        message = f"{finding.message} [as {worker.hostname} runs, by the settings it reports: {values}]"
        related = [r for r in finding.related if r.span != LIVE]
        if finding.span != LIVE:
            related.insert(0, Related(finding.span, "the rule's location in the project"))
        fix = Fix(finding.fix.description) if finding.fix is not None else None  # not an edit of the repository
        return Finding(finding.code, finding.name, finding.severity, message, where(worker), tuple(related), fix)

    def _project_values(self, app: App, name: str) -> str:
        if name == "broker_url":
            return _described(name, app.setting(name))
        return "; ".join((f"worker {process.label}: " if process is not None else "") + _described(name, value)
                         for process, value in per_worker(self.project, app, name))

    def _findings(self, app: App, changed: dict[str, Value]) -> list[Finding]:
        wanted = (id(app), tuple(sorted((name, repr(v.value)) for name, v in changed.items())))
        if wanted not in self._found:
            self._found[wanted] = run(project_with(self.project, app, changed))
        return self._found[wanted]


def app_of(worker: LiveWorker, apps: list[App]) -> App | None:
    """The app a worker runs: the one app whose tasks it registers; the project's one app when
    the worker registers none of the project's tasks because neither side names any."""
    registered = set(worker.tasks) - CELERY_TASKS
    matching = [a for a in apps if registered & set(a.tasks)]
    if len(matching) == 1:
        return matching[0]
    if len(apps) == 1 and not (registered and apps[0].tasks):
        return apps[0]
    return None


# Celery's own tasks, which every worker registers.
CELERY_TASKS = {"celery.accumulate", "celery.backend_cleanup", "celery.chain", "celery.chord", "celery.chord_unlock",
                "celery.chunks", "celery.group", "celery.map", "celery.starmap"}


def differing(app: App, worker: LiveWorker) -> dict[str, Value]:
    """The settings the worker runs with another value than the app's, as values the rules read:
    known, set at the worker."""
    reported = worker.settings()
    out = {}
    for name in SETTINGS:
        if name not in reported:
            continue
        live = _plain(name, reported[name])
        if not _same(name, live, app.setting(name)):
            out[name] = Value("known", live, LIVE)
    return out


def _plain(name: str, value: Any) -> Any:
    if name == "result_expires" and isinstance(value, str):
        match = _TIMEDELTA.match(value)
        if match:
            days, hours, minutes, seconds = match.groups()
            return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return value


def _same(name: str, live: Any, project: Value) -> bool:
    """Whether the worker runs a value the project resolves (one the project cannot read, or one
    of several, is never the same)."""
    if not project.is_resolved:
        return False
    expected = project.value
    if name in ("broker_url", "result_backend") and isinstance(live, str) and isinstance(expected, str):
        return _without_credentials(live) == _without_credentials(expected)  # the reply masks passwords
    if isinstance(live, (list, tuple)) and isinstance(expected, (list, tuple)):
        return list(live) == list(expected)
    if isinstance(live, (int, float)) and isinstance(expected, (int, float)) \
            and not isinstance(live, bool) and not isinstance(expected, bool):
        return float(live) == float(expected)
    return live == expected


def _without_credentials(url: str) -> str:
    try:
        parts = urlsplit(url)
        return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    except ValueError:
        return url


def project_with(project: Project, app: App, changed: dict[str, Value]) -> Project:
    """The project with app alone, its settings changed, and no deployment files."""
    live = replace(app, settings={**app.settings, **changed}, tasks={}, by_release={})
    live.tasks = {name: replace(task, app=live) for name, task in app.tasks.items()}
    by_id = {id(task): live.tasks[name] for name, task in app.tasks.items()}
    task_objects = {obj: by_id[id(task)] for obj, task in project.task_objects.items() if id(task) in by_id}
    return replace(project, apps=[live], task_objects=task_objects, deployment=None, derived={}, notes=[])


def run(project: Project) -> list[Finding]:
    from qlint.pipeline.analysis import Analysis
    from qlint.pipeline.engine import run_rules, selected_rules
    from qlint.rules import all_rules

    chosen = selected_rules(project.config) if project.config is not None else all_rules()
    return run_rules(Analysis(Path(project.root), Path.cwd(), project), [r for r in chosen if r.code in READS])


def _shown(name: str, value: Any) -> str:
    return redacted(value) if name in ("broker_url", "result_backend") and isinstance(value, str) else show(name, value)


def _described(name: str, value: Value) -> str:
    if value.status == "unknown":
        return f"unknown: {value.reason}" if value.reason else "unknown"
    if value.status == "several":
        return "one of " + ", ".join(_shown(name, v.value) for v in value.possible()) if value.possible() else "several"
    if value.status == "default" or value.origin is None:
        return f"{_shown(name, value.value)}, Celery's default"
    return f"{_shown(name, value.value)}, {value.origin}"
