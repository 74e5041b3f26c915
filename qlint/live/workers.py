"""The live workers, asked through Celery's own remote control (`qlint inspect --ask-workers`):
`ping`, then `stats`, `conf`, `active`, `reserved`, `scheduled`, `active_queues`, `report` and
`registered`.
These broadcasts are the one thing qlint inspect writes to the broker: a message in the
control exchange, and the reply queue the answers come back on.

What each worker runs with is compared to the project: the prefetch multiplier (from the
prefetch count a worker reports, which its command line sets, over its concurrency), the
concurrency, acks_late, the time limits (from the limits its pool enforces), the queues it
consumes and the visibility timeout."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from qlint.model import Finding, Span
from qlint.rule import Rule
from qlint.semantics.durations import format_duration
from qlint.live.expectations import COMPARED, Expectations

# The settings of a worker its JSON report shows.
SHOWN = ("worker_prefetch_multiplier", "worker_concurrency", "task_acks_late", "task_time_limit",
         "task_soft_time_limit", "broker_transport_options")

# Our own client consumes its replies through kombu's Redis transport, whose consumers may sweep
# `unacked` with their visibility timeout: so large that it never pushes anything back.
NEVER = 10 * 365 * 24 * 3600


class WorkersUnavailable(Exception):
    pass


@dataclass
class LiveWorker:
    hostname: str
    concurrency: int | None = None
    prefetch_count: int | None = None
    conf: dict[str, Any] = field(default_factory=dict)
    queues: list[str] = field(default_factory=list)
    running: list[dict[str, Any]] = field(default_factory=list)
    reserved: list[dict[str, Any]] = field(default_factory=list)
    scheduled: list[dict[str, Any]] = field(default_factory=list)
    celery: str | None = None
    # The (soft, hard) time limits its pool enforces (`stats`), None when it does not say.
    timeouts: tuple[Any, Any] | None = None
    # The names of the tasks it has registered (`registered`): which of the project's apps it runs.
    tasks: list[str] = field(default_factory=list)

    def multiplier(self) -> float | None:
        """The prefetch multiplier it consumes with: each ETA message it holds raises its count by one."""
        if not self.concurrency or self.prefetch_count is None:
            return None
        return (self.prefetch_count - len(self.scheduled)) / self.concurrency

    def settings(self) -> dict[str, Any]:
        """The settings it runs with: its configuration (`conf`), except where its command line
        may have given another value, which Celery passes to the worker without writing it back
        into the configuration: the time limits its pool enforces (--time-limit,
        --soft-time-limit), its concurrency (-c) and prefetch multiplier (--prefetch-multiplier),
        as `stats` reports them."""
        out = dict(self.conf)
        if self.timeouts is not None:
            soft, hard = self.timeouts
            out["task_soft_time_limit"], out["task_time_limit"] = soft or None, hard or None
        if self.concurrency is not None:
            out["worker_concurrency"] = self.concurrency
        multiplier = self.multiplier()
        if multiplier is not None:
            out["worker_prefetch_multiplier"] = int(multiplier) if float(multiplier).is_integer() else multiplier
        return out

    def to_json(self) -> dict[str, Any]:
        return {"hostname": self.hostname, "concurrency": self.concurrency, "prefetch_count": self.prefetch_count,
                "queues": self.queues, "celery": self.celery,
                "active": [_request(r) for r in self.running], "reserved": [_request(r) for r in self.reserved],
                "scheduled": [_request(r) for r in self.scheduled],
                "settings": {k: v for k, v in self.settings().items() if k in SHOWN}}


def _request(request: dict[str, Any]) -> dict[str, Any]:
    inner = request.get("request", request)  # scheduled() wraps the request with its eta
    return {"id": inner.get("id"), "task": inner.get("name") or inner.get("type"), "started": inner.get("time_start")}


def ask(url: str, prefix: str, timeout: float = 1.0) -> list[LiveWorker]:
    try:
        from celery import Celery
    except ImportError:
        raise WorkersUnavailable("--ask-workers needs Celery installed (pip install celery[redis])") from None
    options: dict[str, Any] = {"visibility_timeout": NEVER}
    if prefix:
        options["global_keyprefix"] = prefix
    app = Celery("qlint-inspect", broker=url, set_as_current=False)
    app.conf.update(broker_transport_options=options, broker_connection_retry=False,
                    broker_connection_retry_on_startup=False, broker_connection_max_retries=0)
    try:
        pong = app.control.inspect(timeout=timeout).ping() or {}
        if not pong:
            return []
        # Every worker that answered the ping answers again: stop waiting at the last reply.
        inspect = app.control.inspect(timeout=timeout, limit=len(pong))
        answers = {name: getattr(inspect, name)() or {} for name in
                   ("stats", "active", "reserved", "scheduled", "active_queues", "report", "registered")}
        answers["conf"] = inspect.conf(with_defaults=True) or {}
    except Exception as exc:  # kombu's and redis-py's connection errors, under several names
        raise WorkersUnavailable(f"the workers could not be asked: {exc}") from None
    finally:
        app.close()
    out = []
    for hostname in sorted(pong):
        stats = answers["stats"].get(hostname) or {}
        pool = stats.get("pool") if isinstance(stats.get("pool"), dict) else {}
        report = answers["report"].get(hostname) or {}
        version = re.search(r"celery:(\d+\.\d+(?:\.\d+)?)", str(report.get("ok", "")))
        out.append(LiveWorker(
            hostname, _int(pool.get("max-concurrency")), _int(stats.get("prefetch_count")),
            answers["conf"].get(hostname) or {},
            [q.get("name") for q in answers["active_queues"].get(hostname) or [] if isinstance(q, dict)],
            list(answers["active"].get(hostname) or []), list(answers["reserved"].get(hostname) or []),
            list(answers["scheduled"].get(hostname) or []), version.group(1) if version else None,
            _timeouts(pool.get("timeouts")), [str(t) for t in answers["registered"].get(hostname) or []]))
    return out


def _timeouts(value: Any) -> tuple[Any, Any] | None:
    """The pool's (soft, hard) limits; 0 or None where there is none. The solo pool runs each task
    in the worker's own thread and enforces none: it reports ()."""
    if isinstance(value, (list, tuple)) and not value:
        return None, None
    if isinstance(value, (list, tuple)) and len(value) == 2 \
            and all(positive_seconds(v) or v in (0, None) for v in value):
        return value[0], value[1]
    return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def holders(workers: list[LiveWorker]) -> dict[str, str]:
    """Task id -> `hostname (running|reserved|scheduled)`."""
    out: dict[str, str] = {}
    for worker in workers:
        for state, requests in (("running", worker.running), ("reserved", worker.reserved),
                                ("scheduled", worker.scheduled)):
            for request in requests:
                task_id = _request(request)["id"]
                if task_id:
                    out.setdefault(task_id, f"{worker.hostname} ({state})")
    return out


def behind_long_tasks(workers: list[LiveWorker], now: float, expect: Expectations,
                      rules: dict[str, type[Rule]]) -> list[Finding]:
    """QL401, live: a worker whose every process runs a long task still holds reserved messages,
    which wait for one of them to end while other workers may idle."""
    rule = rules["QL401"]
    out = []
    for worker in workers:
        started = [r.get("time_start") for r in worker.running]
        ages = [now - t for t in started if isinstance(t, (int, float)) and not isinstance(t, bool)]
        if not worker.reserved or not worker.concurrency or len(ages) < worker.concurrency:
            continue
        if min(ages) < expect.long_seconds:
            continue
        tasks = sorted({str(_request(r)["task"]) for r in worker.reserved})
        count = len(worker.reserved)
        out.append(Finding(
            "QL401", rule.name, rule.severity,
            f"{count} message{'s' if count != 1 else ''} reserved by {worker.hostname} ({', '.join(tasks)}) "
            f"wait{'s' if count == 1 else ''} behind its {worker.concurrency} process"
            f"{'es' if worker.concurrency != 1 else ''}, each running a task for {format_duration(round(min(ages)))} "
            f"or more (long-task-seconds {format_duration(expect.long_seconds)}); no other worker can take "
            f"them: a prefetch multiplier of 1 with late acknowledgement reserves nothing behind long tasks",
            Span(f"worker {worker.hostname}", 0)))
    return out


def positive_seconds(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None


@dataclass(frozen=True)
class Drift:
    hostname: str
    setting: str
    live: Any
    expected: list[tuple[Any, str]]

    def describe(self) -> str:
        if self.setting == "Celery":
            return f"{self.hostname} runs Celery {self.live}; the dependency files install {self.expected[0][0]}"
        if self.setting == "queues":
            return f"{self.hostname} consumes {self.live}, which no deployed worker of the project consumes " \
                   f"({self.expected[0][0]})"
        project = "; ".join(f"{show(self.setting, v)} ({where})" for v, where in self.expected)
        return f"{self.hostname} runs with {self.setting} {show(self.setting, self.live)}; the project sets {project}"

    def to_json(self) -> dict[str, Any]:
        return {"worker": self.hostname, "setting": self.setting, "live": self.live,
                "project": [{"value": v, "from": where} for v, where in self.expected],
                "message": self.describe()}


def show(setting: str, value: Any) -> str:
    if value is None:
        return "none"
    if setting in ("task_time_limit", "task_soft_time_limit", "visibility_timeout") and \
            isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_duration(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, str) else str(value)


def drift(workers: list[LiveWorker], expect: Expectations, visibility: bool = True) -> list[Drift]:
    """Each worker's settings that none of the project's values match; the visibility timeout
    too on Redis (visibility)."""
    out: list[Drift] = []
    for worker in workers:
        settings = worker.settings()
        live = {"worker_prefetch_multiplier": worker.multiplier(), "worker_concurrency": worker.concurrency}
        for setting in COMPARED:
            value = live[setting] if setting in live else settings.get(setting)
            expected = expect.settings.get(setting)
            if not expected or value is None and setting in ("worker_prefetch_multiplier", "worker_concurrency"):
                continue
            # A concurrency left unset is the machine's CPU count: any number matches it.
            if setting == "worker_concurrency" and any(v is None for v, _ in expected):
                continue
            if all(not _same(value, v) for v, _ in expected):
                out.append(Drift(worker.hostname, setting, value, expected))
        options = worker.conf.get("broker_transport_options")
        seconds = options.get("visibility_timeout") if isinstance(options, dict) else None
        seconds = seconds if seconds is not None else 3600
        if visibility and expect.visibility_from != "--visibility-timeout" and not _same(seconds, expect.visibility):
            out.append(Drift(worker.hostname, "visibility_timeout", seconds,
                             [(expect.visibility, expect.visibility_from)]))
        if worker.celery and expect.celery_releases:
            release = ".".join(worker.celery.split(".")[:2])
            if release not in expect.celery_releases or expect.celery_versions and \
                    worker.celery not in expect.celery_versions:
                out.append(Drift(worker.hostname, "Celery", worker.celery,
                                 [(expect.celery_from, "the dependency files")]))
        if expect.consumed:
            extra = [q for q in worker.queues if q not in expect.consumed]
            if extra:
                out.append(Drift(worker.hostname, "queues", ", ".join(extra),
                                 [(", ".join(sorted(expect.consumed)), "the deployed workers")]))
    return out


@dataclass
class Asked:
    """What --ask-workers learnt in one round."""

    workers: list[LiveWorker]
    drift: list[Drift]
    # The findings of the static rules that each worker's settings confirm (rerun.py), by hostname.
    confirmed: dict[str, list[Finding]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def in_force(self, expect: Expectations) -> Expectations:
        """The expectations with the visibility timeout the live workers sweep with, when one is
        shorter than the project's: each consumer sweeps with its own, so the shortest wins."""
        from dataclasses import replace

        shortest: tuple[float, str] | None = None
        for worker in self.workers:
            options = worker.conf.get("broker_transport_options")
            seconds = options.get("visibility_timeout") if isinstance(options, dict) else None
            seconds = 3600 if seconds is None else seconds
            if isinstance(seconds, (int, float)) and (shortest is None or seconds < shortest[0]):
                shortest = (float(seconds), f"worker {worker.hostname}'s broker_transport_options")
        if shortest is None or shortest[0] >= expect.visibility:
            return expect
        return replace(expect, visibility=shortest[0], visibility_from=shortest[1])


def _same(live: Any, expected: Any) -> bool:
    if isinstance(live, (int, float)) and isinstance(expected, (int, float)) \
            and not isinstance(live, bool) and not isinstance(expected, bool):
        return float(live) == float(expected)
    return live == expected
