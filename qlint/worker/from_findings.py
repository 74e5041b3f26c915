"""`qlint simulate --from-findings`: replay each finding's hazard in the user's own project.

The checker runs on the project; for each finding whose hazard the reference worker can
replay, a scenario in the project form (qlint/worker/from_project.py) is built around it:
the project's settings and workers, the long task the finding is about submitted, and a
stream of other work behind it. It is replayed twice in virtual time: as the project is
("before") and with the rule's fix applied ("after").

A rule describes its own replay with Rule.scenario_for(); the built-in replays below cover
QL101, QL102 and QL401. Values the findings do not depend on are replayed with Celery's
defaults where qlint cannot resolve them (`unresolved: default`), and the notes say so.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from qlint.semantics.durations import format_duration
from qlint.pipeline.engine import check
from qlint.model import Finding
from qlint.rules import rule_by_code
from qlint.resolve.resolved import App, Task
from qlint.resolve.routing import queue_of
from qlint.resolve.workers import CeleryProcess, workers_of

from .config import PREFETCH_MULTIPLIER, broker_config
from .from_project import SHARED_LIMITS, LoadedProject, app_path, load_project, prepare_from_project
from .replay import simulate
from .scenario import Prepared, Scenario, ScenarioError, parse_scenario
from .trace import Trace

SHORT_TASK_SECONDS = 60.0  # a short task's duration when [tool.qlint.tasks] declares none
STREAM_LENGTH = 40  # short tasks submitted behind the long one, at most
DEFAULT_WORKERS = 3  # single-process workers replayed when no deployment file starts one


@dataclass
class FindingReplay:
    finding: Finding
    scenario: dict[str, Any] | None = None  # the "before" scenario, in the project form
    fix: str = ""
    before: Prepared | None = None
    after: Prepared | None = None
    before_trace: Trace | None = None
    after_trace: Trace | None = None
    reason: str | None = None  # why it was not replayed
    notes: list[str] = field(default_factory=list)


@dataclass
class Subject:
    """What a finding is about: an app, maybe one of its tasks, maybe one worker process."""

    app: App
    task: Task | None
    worker: CeleryProcess | None


def replay_findings(path: Path, use_cache: bool = True) -> tuple[list[FindingReplay], list[Finding]]:
    """The replays of the project's replayable findings, and the findings without one."""
    project = load_project(path, use_cache)
    result = check(project.analysis, project.config, [str(path)])
    replays: list[FindingReplay] = []
    others: list[Finding] = []
    for finding in result.findings:
        rule = rule_by_code(finding.code)
        try:
            hook = rule().scenario_for(finding, project.analysis.project) if rule is not None else None
        except Exception as exc:  # a bug in one rule's hook must not hide the other replays
            replays.append(FindingReplay(finding, reason=f"internal error in {finding.code}'s scenario_for(): {exc!r}"))
            continue
        if hook is None and finding.code not in BUILT_IN:
            others.append(finding)
            continue
        replays.append(replay_finding(finding, project, hook))
    return replays, others


def replay_finding(finding: Finding, project: LoadedProject, hook: Any = None) -> FindingReplay:
    """Replay one finding before and after its fix: with the rule's scenario_for() mapping
    when given (hook), else with the built-in replay for its code."""
    out = FindingReplay(finding)
    try:
        plan = dict(hook) if hook is not None else BUILT_IN[finding.code](finding, project)
        fixed = dict(plan.pop("fixed", None) or {})
        out.fix = str(plan.pop("fix", "") or "the rule's fix")
        extra_notes = list(plan.pop("notes", None) or [])
        out.scenario = {"project": str(project.path), **plan}
        after = {**out.scenario, **fixed}
        if "settings" in fixed:
            after["settings"] = {**(plan.get("settings") or {}), **fixed["settings"]}
        out.before, out.after = (_prepare(s, project, finding.code) for s in (out.scenario, after))
        out.before_trace = simulate(out.before.scenario, out.before.settings)
        out.after_trace = simulate(out.after.scenario, out.after.settings)
        out.notes = out.before.notes + extra_notes
    except ScenarioError as exc:
        out.reason = str(exc)
    return out


def _prepare(data: dict[str, Any], project: LoadedProject, code: str) -> Prepared:
    try:
        text = json.dumps(data)
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"the scenario for {code} is not plain data: {exc}") from None
    scenario = parse_scenario(text, f"replay of {code}")
    return prepare_from_project(scenario, project)


# ---------------------------------------------------------------- what a finding is about


def _shared_parts(a: str, b: str) -> int:
    count = 0
    for x, y in zip(PurePosixPath(a).parts, PurePosixPath(b).parts):
        if x != y:
            break
        count += 1
    return count


def _closest(apps: list[App], path: str) -> App | None:
    """The app defined nearest to path (two projects side by side may name their apps alike)."""
    ranked = sorted(apps, key=lambda a: _shared_parts(a.defined_at.path, path), reverse=True)
    if len(ranked) > 1 and _shared_parts(ranked[0].defined_at.path, path) == _shared_parts(ranked[1].defined_at.path, path):
        return None
    return ranked[0] if ranked else None


def subject_of(finding: Finding, project: LoadedProject) -> Subject:
    resolved = project.analysis.project
    message = finding.message
    worker = None
    if named := re.search(r"\bworker '([^']+)'", message):
        candidates = [p for p in resolved.deployment.workers() if p.name == named[1]] if resolved.deployment else []
        here = [p for p in candidates if p.file == finding.span.path]
        worker = (here or candidates or [None])[0]
    task = None
    if named := re.search(r"\btask ([\w.:-]+)", message):
        owners = [a for a in resolved.apps if named[1] in a.tasks]
        owner = _closest(owners, finding.span.path)
        task = owner.tasks[named[1]] if owner is not None else None
    app = worker.app if worker is not None else None
    app = app or (task.app if task is not None else None)
    if app is None and (named := re.search(r"\bapp '([^']+)'", message)):
        app = _closest([a for a in resolved.apps if a.name == named[1]], finding.span.path)
    if app is None:
        app = _closest(resolved.apps, finding.span.path)
    if app is None:
        raise ScenarioError("cannot tell which app of the project the finding is about")
    return Subject(app, task, worker)


def _consumed_tasks(subject: Subject) -> list[str]:
    """The app's tasks, those routed to a queue the finding's worker consumes first."""
    names = sorted(subject.app.tasks)
    if subject.worker is None:
        return names
    queues = subject.worker.queues()
    if queues.status not in ("known", "default", "env-default") or not isinstance(queues.value, (list, tuple)):
        return names

    def consumed(name: str) -> bool:
        queue = queue_of(subject.app.tasks[name], subject.app)
        return queue.status in ("known", "default") and queue.value in queues.value

    return [n for n in names if consumed(n)] + [n for n in names if not consumed(n)]


def _long_task(subject: Subject, durations: dict[str, float]) -> str | None:
    """The task the finding is about, else the longest declared task (one that the
    finding's worker consumes, when there is one), else any task, the worker's first."""
    if subject.task is not None:
        return subject.task.name
    names = _consumed_tasks(subject)
    group = names[:_count_consumed(subject, names)] or names
    declared = sorted((d, n) for n, d in durations.items() if n in group)
    if declared:
        return declared[-1][1]
    return group[0] if group else None


def _count_consumed(subject: Subject, names: list[str]) -> int:
    if subject.worker is None:
        return len(names)
    queues = subject.worker.queues()
    if not isinstance(queues.value, (list, tuple)):
        return len(names)
    return sum(1 for n in names
               if (q := queue_of(subject.app.tasks[n], subject.app)).status in ("known", "default")
               and q.value in queues.value)


def _short_task(subject: Subject, long: str, durations: dict[str, float], threshold: float) -> str | None:
    shorter = [n for n in _consumed_tasks(subject) if n != long and durations.get(n, 0) < threshold]
    return shorter[0] if shorter else None


# ---------------------------------------------------------------- building a replay


@dataclass
class _Base:
    """The scenario every replay starts from, and what resolving it gave."""

    subject: Subject
    scenario: dict[str, Any]
    long: str
    settings: dict[str, Any]
    prepared: Scenario
    notes: list[str]


def _base(finding: Finding, project: LoadedProject) -> _Base:
    subject = subject_of(finding, project)
    scenario: dict[str, Any] = {"app": app_path(project, subject.app), "unresolved": "default", "tasks": {}}
    if subject.worker is not None:  # replay the deployment of the worker the finding is about
        where = (project.analysis.cwd / subject.worker.file).resolve()
        try:
            scenario["deployment"] = where.relative_to(project.path.resolve()).as_posix()
        except ValueError:
            pass
    notes = []
    if not [p for p in workers_of(project.analysis.project, subject.app) if p.kind in ("worker", "multi")]:
        scenario["workers"] = [{"name": f"w{i}", "concurrency": 1} for i in range(1, DEFAULT_WORKERS + 1)]
        notes.append(f"no deployment file starts a worker of app {subject.app.name!r}: "
                     f"replayed with {DEFAULT_WORKERS} single-process workers")
    long = _long_task(subject, project.config.tasks)
    if long is None:
        long = "long-task"
        scenario["tasks"][long] = {}
        notes.append(f"app {subject.app.name!r} has no task qlint can see: replayed with a task named {long!r}")
    probe = _prepare({"project": str(project.path), **scenario, "submit": [{"task": long}]}, project, finding.code)
    return _Base(subject, scenario, long, probe.settings, probe.scenario, notes)


def _visibility(base: _Base) -> float:
    broker = broker_config(base.settings, 1800)
    if broker.visibility_timeout is None:
        raise ScenarioError(f"the replay's broker ({broker.kind}) has no visibility timeout")
    return broker.visibility_timeout


def _stream(base: _Base, project: LoadedProject, duration: float, gap: float) -> list[dict[str, Any]]:
    """The long task once at 0, then short tasks every `gap` while it runs."""
    threshold = float(project.config.long_task_seconds)
    short = _short_task(base.subject, base.long, project.config.tasks, threshold)
    submit: list[dict[str, Any]] = [{"at": 0, "task": base.long, "id": "long"}]
    if short is not None:
        every = max(gap, duration / STREAM_LENGTH)
        if short not in project.config.tasks:
            base.scenario["tasks"][short] = {"duration": SHORT_TASK_SECONDS}
        submit.append({"at": every, "task": short, "count": max(1, int(duration // every)), "every": every})
    return submit


def _with_limit_raised(settings: dict[str, Any], seconds: int) -> dict[str, Any]:
    """The visibility timeout raised where kombu reads it, the broker's transport options."""
    return {"broker_transport_options": {**(settings.get("broker_transport_options") or {}), "visibility_timeout": seconds}}


def _late_ack_limit(finding: Finding, project: LoadedProject) -> dict[str, Any]:
    """QL101: a run allowed past the visibility timeout is handed out again at each sweep."""
    base = _base(finding, project)
    vt = _visibility(base)
    spec = base.prepared.tasks[base.long]
    limit = spec.time_limit or base.settings.get("task_time_limit")
    declared = project.config.tasks.get(base.long)
    duration = declared if declared is not None and declared >= vt else min(limit or 3 * vt, 3 * vt)
    base.scenario["tasks"].setdefault(base.long, {})["duration"] = duration
    timeout = int(max(limit or 0, duration) * 1.1 + 600)
    return {**base.scenario, "submit": _stream(base, project, duration, vt / 2), "until": duration + vt,
            "fixed": {"settings": _with_limit_raised(base.settings, timeout)},
            "fix": f"visibility_timeout {format_duration(timeout)}, above the hard time limit", "notes": base.notes}


def _late_ack_unbounded(finding: Finding, project: LoadedProject) -> dict[str, Any]:
    """QL102: nothing bounds a late-acked run; one past the visibility timeout is handed out again."""
    base = _base(finding, project)
    vt = _visibility(base)
    declared = project.config.tasks.get(base.long)
    duration = declared if declared is not None and declared >= vt else 3 * vt
    base.scenario["tasks"].setdefault(base.long, {})["duration"] = duration
    if declared is not None and declared >= vt:
        # The task is meant to run that long: the timeout has to cover it.
        timeout = int(declared * 1.1 + 600)
        fixed, fix = _with_limit_raised(base.settings, timeout), f"visibility_timeout {format_duration(timeout)}, above the declared duration"
    else:
        limit = int(vt * 0.9)
        fixed, fix = {"task_time_limit": limit}, f"task_time_limit {format_duration(limit)}, below the visibility timeout"
    return {**base.scenario, "submit": _stream(base, project, duration, vt / 2), "until": duration + vt,
            "fixed": {"settings": fixed}, "fix": fix, "notes": base.notes}


def _prefetch(finding: Finding, project: LoadedProject) -> dict[str, Any]:
    """QL401: the first worker up reserves the backlog behind its long tasks while the others idle."""
    base = _base(finding, project)
    spec = base.prepared.tasks[base.long]
    settings = base.settings
    declared = project.config.tasks.get(base.long)
    limits = [spec.soft_time_limit, spec.time_limit, settings.get("task_soft_time_limit"), settings.get("task_time_limit")]
    duration = declared or next((v for v in limits if v), float(project.config.long_task_seconds))
    base.scenario["tasks"].setdefault(base.long, {})["duration"] = duration
    workers = [w.model_dump() for w in base.prepared.workers]
    if len(workers) == 1:
        workers.append({**workers[0], "name": f"{workers[0]['name']}-2"})
    for worker in workers[1:]:
        worker["start"] = 1
    first = workers[0]
    multiplier = first["prefetch_multiplier"]
    multiplier = settings.get("worker_prefetch_multiplier", PREFETCH_MULTIPLIER) if multiplier is None else multiplier
    reserved_beyond = first["concurrency"] * (multiplier - 1 if multiplier else PREFETCH_MULTIPLIER)
    threshold = float(project.config.long_task_seconds)
    short = _short_task(base.subject, base.long, project.config.tasks, threshold) or base.long
    if short != base.long and short not in project.config.tasks:
        base.scenario["tasks"][short] = {"duration": SHORT_TASK_SECONDS}
    idle_slots = sum(w["concurrency"] for w in workers[1:])
    # Short tasks: enough to fill the first worker's window and the others' slots. The long
    # task again: no more than the other workers can start, so that none has to wait once fixed.
    behind = reserved_beyond + idle_slots if short != base.long else idle_slots
    submit = [{"at": 0, "task": base.long, "count": first["concurrency"]},
              {"at": 0, "task": short, "count": max(1, behind)}]
    late = spec.acks_late if spec.acks_late is not None else settings.get("task_acks_late") is True
    fixed: dict[str, Any] = {"workers": [{**w, "prefetch_multiplier": 1} for w in workers]}
    fix = "prefetch multiplier 1 on every worker"
    notes = list(base.notes)
    broker = broker_config(settings, 1800)
    if broker.visibility_timeout is not None and duration > broker.visibility_timeout:
        notes.append(f"runs of {format_duration(duration)} outlast the visibility timeout "
                     f"({format_duration(broker.visibility_timeout)}): duplicates left after this fix come from it")
    if not late:
        fixed["settings"] = {"task_acks_late": True}
        fix += ", with late acknowledgement"
    # The settings as the deployment's workers run with them (their command lines and
    # environments count), as the probe resolved them: the workers below are given as is.
    resolved = {k: v for k, v in settings.items() if v is not None or k in SHARED_LIMITS}
    return {**base.scenario, "settings": resolved, "workers": workers, "submit": submit, "until": 2 * duration + 600,
            "fixed": fixed, "fix": fix, "notes": notes}


BUILT_IN: dict[str, Callable[[Finding, LoadedProject], dict[str, Any]]] = {
    "QL101": _late_ack_limit,
    "QL102": _late_ack_unbounded,
    "QL401": _prefetch,
}


# ---------------------------------------------------------------- describing a replay


def describe_workload(prepared: Scenario) -> str:
    parts = []
    for sub in prepared.submit:
        duration = prepared.tasks[sub.task].duration if sub.task else None
        what = f"{sub.task} ({format_duration(duration)})" if isinstance(duration, (int, float)) else str(sub.task)
        if sub.count > 1 and sub.every:
            when = f"×{sub.count} every {format_duration(sub.every)} from {format_duration(sub.at)}"
        else:
            when = (f"×{sub.count} " if sub.count > 1 else "") + f"at {format_duration(sub.at)}"
        parts.append(f"{what} {when}")
    workers = ", ".join(f"{w.name} (-c {w.concurrency}" + (f", prefetch ×{w.prefetch_multiplier}" if w.prefetch_multiplier is not None else "")
                        + (f", up at {format_duration(w.start)}" if w.start else "") + ")" for w in prepared.workers)
    return f"{'; '.join(parts)}; workers {workers}; until {format_duration(prepared.until or 0)}"


def _listing(items: list[str]) -> str:
    text = ", ".join(items)
    return text if len(text) <= 120 else text[:117].rsplit(", ", 1)[0] + ", …"


def describe_outcome(trace: Trace) -> str:
    s = trace.summary()
    runs = [f"{mid}×{n}" for mid, n in s["executions_per_id"].items() if n > 1]
    ended: dict[str, list[str]] = {}
    for ex in trace.executions:
        if ex.outcome not in ("success", "running"):
            ended.setdefault(ex.outcome, []).append(ex.id)
    return (f"duplicates {s['duplicates']}" + (f" ({_listing(runs)})" if runs else "") +
            f", lost {s['lost']}, longest queue wait {format_duration(s['max_queue_wait'])}" +
            "".join(f"; {outcome}: {_listing(ids)}" for outcome, ids in sorted(ended.items())))


def combined_svg(before: str, after: str) -> str:
    """Two charts, one above the other, in one SVG document."""
    size = re.compile(r'<svg [^>]*width="(\d+)" height="(\d+)"')
    (w1, h1), (w2, h2) = (map(int, size.match(doc).groups()) for doc in (before, after))
    lower = after.replace("<svg ", f'<svg y="{h1}" ', 1)
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{max(w1, w2)}" height="{h1 + h2}">\n{before}{lower}</svg>\n'
