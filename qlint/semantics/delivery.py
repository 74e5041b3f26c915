"""What the delivery rules share: the broker's transport, its visibility timeout, and
how sure a value is for a rule to act on it."""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from qlint.semantics.durations import format_duration
from qlint.model import Related, Span, Value
from qlint.sources import ir
from qlint.resolve.brokers import Transport, brokers, single, transport_of_url  # noqa: F401 (rules' import)
from qlint.resolve.project import Project
from qlint.resolve.resolved import App
from qlint.resolve.workers import CeleryProcess, workers_of

# kombu's defaults: Channel.visibility_timeout for Redis, the queue attribute kombu sets for SQS.
VISIBILITY_DEFAULTS = {"redis": 3600, "sqs": 1800}
# RabbitMQ's consumer_timeout default (rabbitmq.conf), 30 min since 3.8.15: a server setting,
# never in the project's code.
CONSUMER_TIMEOUT = 1800


def always(value: Value, test: Callable[[Any], bool]) -> bool:
    """True when every value the setting may take satisfies test (nothing unknown)."""
    options = value.possible()
    return bool(options) and all(test(v.value) for v in options)


def transport(app: App, project: Project) -> Transport | None:
    """The app's broker transport when only one is plausible (brokers.py), else None."""
    return single(app, project)


@dataclass(frozen=True)
class Visibility:
    seconds: float
    origin: Span | None  # None: the transport's default
    value: Value | None

    def describe(self, transport: str) -> str:
        if self.origin is None:
            return f"the {transport.capitalize() if transport != 'sqs' else 'SQS'} default visibility timeout of {format_duration(self.seconds)}"
        return f"visibility timeout {format_duration(self.seconds)}"


def visibility_timeout(app: App, kind: str) -> Visibility | None:
    """The effective visibility timeout; None when it cannot be resolved."""
    options = app.setting("broker_transport_options")
    if options.status == "unknown" or options.status == "several":
        return None
    item = options.item("visibility_timeout")
    if item is None:
        if isinstance(options.value, dict) and "visibility_timeout" in options.value:
            item = Value(options.status, options.value["visibility_timeout"], options.origin)
        else:
            return Visibility(VISIBILITY_DEFAULTS[kind], None, None)
    seconds = [v.value for v in item.possible()]
    if not seconds or not all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in seconds):
        return None
    return Visibility(min(seconds), item.origin or options.origin, item)


@dataclass(frozen=True)
class Deadline:
    """How long a broker leaves a delivered message unacknowledged before another worker
    gets it: a visibility timeout (Redis, SQS), or RabbitMQ's consumer_timeout."""

    transport: Transport
    seconds: float
    visibility: Visibility | None  # None on RabbitMQ

    def describe(self) -> str:
        if self.visibility is not None:
            return f"on {self.transport.label}, after {self.visibility.describe(self.transport.kind)}"
        return (f"on RabbitMQ, its consumer_timeout ({format_duration(self.seconds)} by default) closes the "
                "worker's channel and re-queues the message")


def unknown_broker_deadlines(app: App, project: Project) -> list[Deadline] | None:
    """The deadline of each broker app may run on, when its broker is not known (several are
    plausible); None when it is known, or when one plausible broker has no deadline or one that
    cannot be read: that broker may be safe, so a rule stays silent."""
    found = brokers(app, project)
    if len(found) < 2:
        return None
    out = []
    for kind in found:
        if kind.kind == "amqp":
            out.append(Deadline(kind, CONSUMER_TIMEOUT, None))
            continue
        if kind.kind not in VISIBILITY_DEFAULTS:
            return None
        vt = visibility_timeout(app, kind.kind)
        if vt is None:
            return None
        out.append(Deadline(kind, vt.seconds, vt))
    return out


def each_broker(deadlines: list[Deadline]) -> str:
    """'on Redis, ...; on RabbitMQ, ...; on SQS, ...', and how the brokers were chosen."""
    how = deadlines[0].transport.how
    return f"{'; '.join(d.describe() for d in deadlines)} ({how})"


def related(span: Span | None, message: str) -> list[Related]:
    return [Related(span, message)] if span is not None else []


def apps_with_visibility_timeout(project: Project) -> Iterator[tuple[App, Transport, Visibility]]:
    """Each app whose broker re-delivers unacked messages after a timeout, with that timeout."""
    for app in project.apps:
        kind = transport(app, project)
        if kind is None or kind.kind not in VISIBILITY_DEFAULTS:
            continue
        vt = visibility_timeout(app, kind.kind)
        if vt is not None:
            yield app, kind, vt


def per_worker(project: Project, app: App, name: str) -> list[tuple[CeleryProcess | None, Value]]:
    """The value of a setting in each worker of the deployment files that runs app (a
    command-line option beats the app's setting); [(None, app's value)] without workers.
    Workers that only inherit the app's value are folded into one entry."""
    workers = [w for w in workers_of(project, app) if w.kind == "worker"]
    out: list[tuple[CeleryProcess | None, Value]] = []
    inherited = False
    for worker in workers:
        value = worker.setting(name)
        if value is app.setting(name) or value == app.setting(name):
            if not inherited:
                out.append((None, value))
                inherited = True
        else:
            out.append((worker, value))
    return out or [(None, app.setting(name))]


_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "//": operator.floordiv}


def literal_seconds(expr: ir.Expr | None) -> float | None:
    """A number written at a call (literals and arithmetic on them)."""
    if isinstance(expr, ir.Const) and isinstance(expr.value, (int, float)) and not isinstance(expr.value, bool):
        return float(expr.value)
    if isinstance(expr, ir.BinOp) and expr.op in _OPS:
        left, right = literal_seconds(expr.left), literal_seconds(expr.right)
        if left is not None and right is not None:
            try:
                return float(_OPS[expr.op](left, right))
            except ZeroDivisionError:
                return None
    return None
