"""RabbitMQ, read through its management HTTP API with GET requests only: each queue's depth,
unacknowledged count, consumers and bytes, and the consumer timeout that applies to it.

RabbitMQ has no visibility timeout: it closes a channel whose delivery stays unacknowledged
longer than `consumer_timeout` (30 min by default since 3.8.15, a server setting the API does
not show; a queue's `x-consumer-timeout` argument or a policy's `consumer-timeout` overrides it)
and requeues what that channel held. Messages cannot be read without taking them off the queue,
so their tasks and sizes one by one are not known here: only each queue's totals."""
from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from qlint.model import Finding, Related, Span
from qlint.resolve.resolved import App
from qlint.rule import Rule
from qlint.semantics.delivery import CONSUMER_TIMEOUT
from qlint.semantics.durations import format_duration
from qlint.live.expectations import Expectations
from qlint.live.hazards import size
from qlint.live.workers import LiveWorker, positive_seconds


# Where a queue's consumer timeout comes from when neither the broker nor the command line says.
DEFAULT_FROM = "RabbitMQ's default; rabbitmq.conf may set another"


class ApiUnavailable(Exception):
    pass


@dataclass
class RabbitQueue:
    name: str
    ready: int
    unacked: int
    consumers: int
    bytes: int | None
    consumer_timeout: float  # seconds
    timeout_from: str
    oldest: float | None = None  # head_message_timestamp: only when publishers set a timestamp

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ready": self.ready, "unacked": self.unacked, "consumers": self.consumers,
                "bytes": self.bytes, "consumer_timeout": self.consumer_timeout, "consumer_timeout_from":
                self.timeout_from, "oldest_published_at": self.oldest}


@dataclass
class RabbitSnapshot:
    vhost: str
    version: str | None
    read_at: float
    queues: list[RabbitQueue] = field(default_factory=list)


def vhost_of(broker: str) -> str:
    path = urlsplit(broker).path
    name = unquote(path[1:]) if path.startswith("/") else unquote(path)
    return name or "/"


def default_api(broker: str) -> str:
    """The management API beside the broker: the same host and credentials, port 15672."""
    parts = urlsplit(broker)
    auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return f"http://{auth}{parts.hostname or 'localhost'}:15672"


def _control(name: str) -> bool:
    """Celery's remote control and event queues, which carry no tasks."""
    return name.endswith(".pidbox") or name.startswith("celeryev.")


class Api:
    """GET requests to the management API; no other method is ever built."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        self.base = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        self.base += parts.path.rstrip("/")
        user, password = unquote(parts.username or "guest"), unquote(parts.password or "guest")
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.timeout = timeout

    def get(self, path: str) -> Any:
        request = urllib.request.Request(self.base + path, method="GET", headers={"Authorization": self.auth})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise ApiUnavailable(f"the management API answered {exc.code} {exc.reason} for {path}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ApiUnavailable(f"cannot read the management API: {exc}") from None


def read(api: Api, vhost: str, now: float, consumer_timeout: float | None = None) -> RabbitSnapshot:
    overview = api.get("/api/overview")
    queues = api.get(f"/api/queues/{quote(vhost, safe='')}")
    out = RabbitSnapshot(vhost, overview.get("rabbitmq_version") if isinstance(overview, dict) else None, now)
    for q in queues if isinstance(queues, list) else []:
        name = q.get("name")
        if not isinstance(name, str) or _control(name):
            continue
        seconds, where = _timeout(q, consumer_timeout)
        stamp = q.get("head_message_timestamp")
        out.queues.append(RabbitQueue(
            name, int(q.get("messages_ready") or 0), int(q.get("messages_unacknowledged") or 0),
            int(q.get("consumers") or 0), q.get("message_bytes") if isinstance(q.get("message_bytes"), int) else None,
            seconds, where, float(stamp) if isinstance(stamp, (int, float)) else None))
    out.queues.sort(key=lambda q: q.name)
    return out


def _timeout(queue: dict[str, Any], given: float | None) -> tuple[float, str]:
    arguments = queue.get("arguments") if isinstance(queue.get("arguments"), dict) else {}
    policy = queue.get("effective_policy_definition")
    policy = policy if isinstance(policy, dict) else {}
    if isinstance(arguments.get("x-consumer-timeout"), (int, float)):
        return arguments["x-consumer-timeout"] / 1000, "the queue's x-consumer-timeout"
    if isinstance(policy.get("consumer-timeout"), (int, float)):
        return policy["consumer-timeout"] / 1000, f"policy {queue.get('policy')!r}"
    if given is not None:
        return given, "--consumer-timeout"
    return float(CONSUMER_TIMEOUT), DEFAULT_FROM


def findings(snapshot: RabbitSnapshot, expect: Expectations, running: list[tuple[str, dict[str, Any]]] | None,
             rules: dict[str, type[Rule]]) -> list[Finding]:
    """QL404 for a queue with ready messages and no consumer, QL201 for a queue whose messages
    average above the large-message size, and with the live workers' running tasks (hostname,
    request), QL103 for one held unacknowledged past its queue's consumer timeout."""
    out: list[Finding] = []

    def add(code: str, where: str, message: str) -> None:
        rule = rules[code]
        out.append(Finding(code, rule.name, rule.severity, message, Span(where, 0)))

    by_name = {q.name: q for q in snapshot.queues}
    for q in snapshot.queues:
        where = f"queue {q.name}"
        if q.ready and not q.consumers:
            add("QL404", where, f"{q.ready} message{'s wait' if q.ready != 1 else ' waits'} in {q.name!r} and no "
                                f"consumer is attached to it")
        count = q.ready + q.unacked
        if q.bytes and count and q.bytes / count >= expect.large_bytes:
            add("QL201", where, f"the {count} message{'s' if count != 1 else ''} in {q.name!r} hold {size(q.bytes)}, "
                                f"{size(q.bytes / count)} each on average (above {size(expect.large_bytes)}): tasks "
                                f"are sent the data itself; send a reference (a key, a path) instead")
    for hostname, request in running or []:
        started = request.get("time_start")
        if request.get("acknowledged") or not isinstance(started, (int, float)):
            continue
        info = request.get("delivery_info") if isinstance(request.get("delivery_info"), dict) else {}
        queue = by_name.get(str(info.get("routing_key")))
        limit, origin = (queue.consumer_timeout, queue.timeout_from) if queue else (float(CONSUMER_TIMEOUT),
                                                                                    "RabbitMQ's default")
        age = snapshot.read_at - started
        if age >= limit:
            add("QL103", f"worker {hostname}",
                f"{request.get('name') or request.get('type')} (id {request.get('id')}) on {hostname} has run "
                f"unacknowledged for {format_duration(round(age))}, past the consumer timeout of "
                f"{format_duration(limit)} ({origin}): RabbitMQ closes the worker's channel and requeues what "
                f"it held, so the task runs again")
    return out


def timeout_of(worker: LiveWorker, snapshot: RabbitSnapshot) -> RabbitQueue | None:
    """The queue with the shortest consumer timeout among those the worker consumes (the first to
    close its channel), when RabbitMQ shows it (a queue's argument, a policy) or --consumer-timeout
    gives it; None when each is RabbitMQ's default, which no API shows."""
    known = [q for q in snapshot.queues if q.name in worker.queues and q.timeout_from != DEFAULT_FROM]
    return min(known, key=lambda q: q.consumer_timeout) if known else None


def limits(workers: list[LiveWorker], snapshot: RabbitSnapshot, apps: dict[str, App],
           rules: dict[str, type[Rule]]) -> list[Finding]:
    """QL103 with the consumer timeout in force (timeout_of): a worker that acknowledges late with
    a hard time limit at or above it, or with none; a task of its app (apps, by hostname) with a
    time limit of its own at or above it. Where the timeout is RabbitMQ's default, the static
    QL103, which assumes that default, judges the worker's settings instead (rerun.py)."""
    rule = rules["QL103"]
    out: list[Finding] = []
    for worker in workers:
        queue = timeout_of(worker, snapshot)
        if queue is None:
            continue
        settings = worker.settings()
        late, hard = settings.get("task_acks_late") is True, positive_seconds(settings.get("task_time_limit"))
        timeout = (f"the consumer timeout of {format_duration(queue.consumer_timeout)} ({queue.timeout_from}) of "
                   f"{queue.name!r}, which it consumes")
        closed = ("RabbitMQ closes the worker's channel when a task runs that long and requeues every message "
                  "the channel held, so the task runs again")
        where = Span(f"worker {worker.hostname}", 0)
        if late and hard is not None and hard >= queue.consumer_timeout:
            out.append(Finding("QL103", rule.name, rule.severity,
                               f"{worker.hostname} acknowledges tasks late with a hard time limit of "
                               f"{format_duration(hard)}, at or above {timeout}: {closed}", where))
        elif late and hard is None:
            out.append(Finding("QL103", rule.name, "warning",
                               f"{worker.hostname} acknowledges tasks late with no hard time limit, so nothing keeps "
                               f"a run under {timeout}: past it, {closed}", where))
        app = apps.get(worker.hostname)
        for task in sorted(app.tasks.values(), key=lambda t: t.name) if app is not None else []:
            own, acks = task.options.get("time_limit"), task.options.get("acks_late")
            seconds = positive_seconds(own.value) if own is not None and own.status == "known" else None
            task_late = acks.value is True if acks is not None and acks.status == "known" else late
            if task_late and seconds is not None and seconds >= queue.consumer_timeout:
                out.append(Finding("QL103", rule.name, rule.severity,
                                   f"task {task.name} is acknowledged late with a hard time limit of "
                                   f"{format_duration(seconds)}, at or above {timeout} on {worker.hostname}: {closed}",
                                   where, (Related(own.origin or task.decorator_span, "its time limit is set here"),)))
    return out


def text(api: str, snapshot: RabbitSnapshot) -> list[str]:
    lines = [f"RabbitMQ {snapshot.version or '?'}, management API {api}, virtual host {snapshot.vhost!r}", ""]
    lines.append("Queues:" if snapshot.queues else "Queues: none")
    for q in snapshot.queues:
        bytes_ = f", {size(q.bytes)}" if q.bytes is not None else ""
        lines.append(f"  {q.name}: {q.ready} ready, {q.unacked} unacknowledged, {q.consumers} consumer"
                     f"{'s' if q.consumers != 1 else ''}{bytes_}; consumer timeout {format_duration(q.consumer_timeout)}"
                     f" ({q.timeout_from})")
    return lines
