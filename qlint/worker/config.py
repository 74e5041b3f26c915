"""Effective settings for a replay: Celery's defaults, then the scenario's settings,
then each task's own options, in the order Celery applies them (app/task.py bind)."""
from __future__ import annotations

from dataclasses import dataclass
import fnmatch
import re
from typing import Any, Literal
from urllib.parse import urlsplit

from .messages import COMPRESSIONS, SERIALIZERS
from .modelled import refuse_unmodelled
from .scenario import Scenario, TaskSpec, WorkerSpec

BrokerKind = Literal["redis", "sqs", "amqp", "memory"]

CELERY_DEFAULT_BROKER = "amqp://guest@localhost//"
REDIS_VISIBILITY_TIMEOUT = 3600  # kombu.transport.redis.Channel.visibility_timeout
SQS_VISIBILITY_TIMEOUT = 1800  # kombu.transport.SQS.Channel.default_visibility_timeout
RESTORE_INTERVAL = 10  # Channel.unacked_restore_interval
RESTORE_THROTTLE = 10  # Channel.unacked_restore_throttle
PREFETCH_MULTIPLIER = 4  # worker_prefetch_multiplier
# Mingle's wait for replies from peers (celery/worker/consumer/mingle.py, inspect(timeout=1.0)), on the
# transports it runs on (Mingle.compatible_transports).
MINGLE_TIMEOUT = 1.0
MINGLE_BROKERS = ("redis", "amqp")


@dataclass(frozen=True)
class BrokerConfig:
    kind: BrokerKind
    url: str
    visibility_timeout: float | None  # None: the broker never restores unacked messages
    restore_interval: float
    restore_throttle: int
    consumer_timeout: float | None  # RabbitMQ's channel timeout for a late ack

    @property
    def sweep_period(self) -> float:
        return self.restore_interval * max(self.restore_throttle, 1)


@dataclass(frozen=True)
class TaskPolicy:
    """How the worker acknowledges one task, after Celery's fallbacks."""

    acks_late: bool
    acks_on_failure: bool
    acks_on_timeout: bool
    reject_on_worker_lost: bool
    time_limit: float | None
    soft_time_limit: float | None
    # What happens to a late-acked message whose task hit the hard limit when it is not acked:
    # Celery 5.5 on requeues it (the task runs again, forever); up to 5.4 the worker rejects it
    # without requeue and the message is gone (celery/worker/request.py, Request.on_failure).
    timeout_requeues: bool = True
    # worker_deduplicate_successful_tasks in effect (celery/app/trace.py): a redelivered copy is
    # skipped when the result backend holds the task's success ("backend"), or fails at once
    # because there is no result backend to ask ("no-backend"); None: every copy runs.
    dedupe: Literal["backend", "no-backend"] | None = None
    result_expires: float | None = 86400  # how long the backend keeps the success; None: for ever
    retry_on_worker_lost: bool = False  # in effect: Celery 5.7 on
    max_retries: int | None = 3
    retry_delay: float = 180.0


@dataclass(frozen=True)
class WorkerConfig:
    name: str
    concurrency: int
    prefetch_count: int  # 0 = unlimited
    statedb: str | None
    start: float
    # worker_disable_prefetch in effect (Celery 5.6 on, Redis only): the worker takes a message
    # only while it holds fewer unfinished ones than it has processes.
    disable_prefetch: bool = False
    queues: tuple[str, ...] = ("celery",)  # -Q, in BRPOP's first order
    # Mingle at each connection (unless --without-mingle): after its restore sweep the worker waits
    # this long for its peers' replies before it consumes; 0: it consumes at once.
    mingle_wait: float = 0.0
    # The prefork pool's strategy: "fair" (a job goes to an idle process only) or "fcfs".
    optimization: Literal["fair", "fcfs"] = "fair"


def broker_kind(url: str) -> BrokerKind:
    scheme = urlsplit(url).scheme.split("+")[0].lower()
    if scheme in ("redis", "rediss", "sentinel", "socket"):
        return "redis"
    if scheme == "sqs":
        return "sqs"
    if scheme in ("memory",):
        return "memory"
    return "amqp"


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


# The settings the reference worker reads as booleans: a YAML string such as 'off'
# or 'no' would be truthy, so anything but true, false or null is refused.
BOOLEAN_SETTINGS = ("task_acks_late", "task_acks_on_failure_or_timeout", "task_acks_on_failure",
                    "task_acks_on_timeout", "task_reject_on_worker_lost", "worker_disable_prefetch",
                    "worker_deduplicate_successful_tasks", "task_retry_on_worker_lost")


def _number(value: Any, name: str, unit: str = "a number of seconds") -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value \
            or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name} should be {unit}, not {value!r}")
    if value < 0:
        raise ValueError(f"{name} should not be negative, not {value!r}")
    return float(value)


def _mapping(settings: dict[str, Any], name: str) -> dict[str, Any]:
    value = settings.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{name} should be a mapping, not {value!r}")
    return value


def check_settings(settings: dict[str, Any]) -> None:
    """Refuse values the replay would misread, with a message naming the setting."""
    for name in BOOLEAN_SETTINGS:
        value = settings.get(name)
        if value is not None and not isinstance(value, bool):
            raise ValueError(f"{name} should be true or false, not {value!r}")
    for name in ("broker_url", "result_backend"):
        url = settings.get(name)
        if url is not None and not isinstance(url, str):
            raise ValueError(f"{name} should be a URL string, not {url!r}")


def broker_config(settings: dict[str, Any], consumer_timeout: float) -> BrokerConfig:
    check_settings(settings)
    url = str(settings.get("broker_url") or CELERY_DEFAULT_BROKER)
    kind = broker_kind(url)
    options = _mapping(settings, "broker_transport_options")
    # Only the broker connection's options reach kombu's channel (see QL106).
    given = _number(options.get("visibility_timeout"), "visibility_timeout")
    default = {"redis": REDIS_VISIBILITY_TIMEOUT, "sqs": SQS_VISIBILITY_TIMEOUT}.get(kind)
    visibility = given if given is not None and default is not None else default
    interval = _number(options.get("unacked_restore_interval"), "unacked_restore_interval") or RESTORE_INTERVAL
    throttle = int(_number(_first(options.get("unacked_restore_throttle"), RESTORE_THROTTLE),
                           "unacked_restore_throttle", "a whole number") or 0)
    return BrokerConfig(
        kind=kind,
        url=url,
        visibility_timeout=visibility,
        restore_interval=interval if interval > 0 else RESTORE_INTERVAL,
        restore_throttle=throttle,
        consumer_timeout=consumer_timeout if kind == "amqp" else None,
    )


def _release(text: str | None) -> tuple[int, int]:
    if not text:
        return (99, 0)  # the newest
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


def task_policy(settings: dict[str, Any], spec: TaskSpec, celery: str | None = None) -> TaskPolicy:
    either = _first(spec.acks_on_failure_or_timeout, settings.get("task_acks_on_failure_or_timeout"))
    on_failure = _first(spec.acks_on_failure, settings.get("task_acks_on_failure"), either, True)
    on_timeout = _first(spec.acks_on_timeout, settings.get("task_acks_on_timeout"), either, True)
    return TaskPolicy(
        acks_late=bool(_first(spec.acks_late, settings.get("task_acks_late"), False)),
        acks_on_failure=bool(on_failure),
        acks_on_timeout=bool(on_timeout),
        reject_on_worker_lost=bool(
            _first(spec.reject_on_worker_lost, settings.get("task_reject_on_worker_lost"), False)
        ),
        time_limit=_number(_first(spec.time_limit, settings.get("task_time_limit")), "task_time_limit"),
        soft_time_limit=_number(_first(spec.soft_time_limit, settings.get("task_soft_time_limit")),
                                "task_soft_time_limit"),
        timeout_requeues=_release(celery) >= (5, 5),
        dedupe=_dedupe(settings, spec, celery),
        retry_on_worker_lost=bool(_first(spec.retry_on_worker_lost, settings.get("task_retry_on_worker_lost")))
        and _release(celery) >= (5, 7),
        max_retries=spec.max_retries,
        retry_delay=spec.default_retry_delay,
        result_expires=_number(settings.get("result_expires", 86400), "result_expires") or None,
    )


def _dedupe(settings: dict[str, Any], spec: TaskSpec, celery: str | None) -> Literal["backend", "no-backend"] | None:
    # The app's task_acks_late or the task's own acks_late: either turns it on (build_tracer).
    if not settings.get("worker_deduplicate_successful_tasks") or _release(celery) < (5, 1) \
            or not (settings.get("task_acks_late") or spec.acks_late):
        return None
    backend = settings.get("result_backend")
    if not backend:
        return "no-backend"  # DisabledBackend is "persistent" and cannot be asked
    if backend.split(":", 1)[0].lower() == "rpc":
        return None  # the RPC backend is not persistent: Celery leaves deduplication off
    return "backend"


def worker_config(settings: dict[str, Any], spec: WorkerSpec, broker: BrokerKind = "redis",
                  celery: str | None = None) -> WorkerConfig:
    multiplier = _first(spec.prefetch_multiplier, settings.get("worker_prefetch_multiplier"), PREFETCH_MULTIPLIER)
    concurrency = _first(spec.concurrency, settings.get("worker_concurrency"), 1)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= 512:
        raise ValueError(f"worker_concurrency should be a whole number from 1 to 512, not {concurrency!r} "
                         "(one process per CPU is not replayed: give the number)")
    return WorkerConfig(
        name=spec.name,
        concurrency=concurrency,
        prefetch_count=int(_number(multiplier, "worker_prefetch_multiplier", "a whole number") or 0) * concurrency,
        statedb=_first(spec.statedb, settings.get("worker_state_db")),
        start=spec.start,
        # Other brokers log a warning and keep the prefetch window (celery/worker/consumer/tasks.py).
        disable_prefetch=bool(_first(spec.disable_prefetch, settings.get("worker_disable_prefetch")))
        and broker == "redis" and _release(celery) >= (5, 6),
        queues=tuple(spec.queues or [default_queue(settings)]),
        mingle_wait=MINGLE_TIMEOUT if not spec.without_mingle and broker in MINGLE_BROKERS else 0.0,
        # asynpool.SCHED_STRATEGIES: "default" is fair, "fast" is fcfs
        optimization="fcfs" if spec.optimization in ("fcfs", "fast") else "fair",
    )


def default_queue(settings: dict[str, Any]) -> str:
    value = settings.get("task_default_queue", "celery")
    if not isinstance(value, str) or not value:
        raise ValueError(f"task_default_queue should be a queue name, not {value!r}")
    return value


def _route_maps(settings: dict[str, Any]) -> list[dict[str, Any]]:
    """task_routes as celery/app/routes.py prepares it: a mapping, or a list of mappings (a router
    class named by a string is not modelled)."""
    value = settings.get("task_routes")
    if value is None:
        return []
    maps = value if isinstance(value, list) else [value]
    for item in maps:
        if not isinstance(item, dict):
            raise ValueError(f"task_routes: {item!r} is not modelled (the reference worker models mappings "
                             "of task names or glob patterns to a queue)")
        for key, route in item.items():
            queue = route.get("queue") if isinstance(route, dict) else route
            if not isinstance(queue, str) or not queue:
                raise ValueError(f"task_routes[{key!r}]: a route without a queue name is not modelled")
    return maps


def route(name: str, own: str | None, maps: list[dict[str, Any]], default: str) -> str:
    """The queue of a task: its own queue option (apply_async's options win over a route, lpmerge),
    else the first route that matches (MapRoute: the exact name, then patterns in order), else
    task_default_queue."""
    if own:
        return own
    for item in maps:
        found = item.get(name)
        if found is None:
            found = next((r for k, r in item.items() if "*" in k and re.match(fnmatch.translate(k), name)), None)
        if found is not None:
            return found["queue"] if isinstance(found, dict) else found
    return default


@dataclass(frozen=True)
class ReplayConfig:
    broker: BrokerConfig
    tasks: dict[str, TaskPolicy]
    workers: list[WorkerConfig]
    compression: str | None = None  # task_compression, as kombu names it
    serializer: str = "json"  # task_serializer
    accept_content: tuple[str, ...] = ("json",)  # what workers deserialize: names or content types
    routes: dict[str, str] | None = None  # task -> queue; none: every task to "celery"

    def accepts(self, serializer: str) -> bool:
        return serializer in self.accept_content or SERIALIZERS[serializer][0] in self.accept_content


def serializer(settings: dict[str, Any]) -> str:
    value = settings.get("task_serializer")
    if value is None:
        return "json"
    if value not in SERIALIZERS:
        raise ValueError(f"task_serializer {value!r} is not modelled (the reference worker models "
                         f"{', '.join(SERIALIZERS)})")
    return str(value)


def accept_content(settings: dict[str, Any]) -> tuple[str, ...]:
    value = settings.get("accept_content")
    if value is None:
        return ("json",)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple, set, frozenset)) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"accept_content should be a list of serializer names, not {value!r}")
    return tuple(value)


def compression(settings: dict[str, Any]) -> str | None:
    value = settings.get("task_compression")
    if value is None or value in COMPRESSIONS:
        return value
    names = ", ".join(sorted(n for n in COMPRESSIONS if "/" not in n))
    raise ValueError(f"task_compression {value!r} is not modelled (the reference worker models {names})")


def replay_config(scenario: Scenario, settings: dict[str, Any]) -> ReplayConfig:
    refuse_unmodelled(settings)
    broker = broker_config(settings, scenario.rabbitmq_consumer_timeout)
    return ReplayConfig(
        broker=broker,
        tasks={name: task_policy(settings, spec, scenario.celery) for name, spec in scenario.tasks.items()},
        workers=[worker_config(settings, spec, broker.kind, scenario.celery) for spec in scenario.workers],
        compression=compression(settings),
        serializer=serializer(settings),
        accept_content=accept_content(settings),
        routes={name: route(name, spec.queue, _route_maps(settings), default_queue(settings))
                for name, spec in scenario.tasks.items()},
    )
