"""Which brokers an app may run on, and how qlint knows.

broker_url says it when it can be read. Otherwise `[tool.qlint] broker` says what to
assume; otherwise the deployment often shows it: a compose service that runs a Redis
(or Valkey, KeyDB, Dragonfly) image and no RabbitMQ, or the reverse. Failing all of
that, the broker stands for every broker Celery acknowledges messages on: Redis,
RabbitMQ and SQS. A rule then reports a hazard only when it holds on each of them, and
says which part of its message applies to which.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qlint.model import Span

if TYPE_CHECKING:
    from qlint.resolve.project import Project
    from qlint.resolve.resolved import App

PLAUSIBLE = ("redis", "amqp", "sqs")
NAMES = {"redis": "Redis", "amqp": "RabbitMQ", "sqs": "SQS"}
_SCHEMES = {
    "redis": "redis", "rediss": "redis", "redis+socket": "redis", "sentinel": "redis", "sentinels": "redis",
    "sqs": "sqs", "amqp": "amqp", "amqps": "amqp", "pyamqp": "amqp", "librabbitmq": "amqp",
    "memory": "memory", "filesystem": "filesystem", "mongodb": "other", "zookeeper": "other",
    "confluentkafka": "other", "gcpubsub": "other", "azureservicebus": "other", "sqla": "other",
}
# Images whose service is a broker, by the transport Celery would use with it.
_IMAGES = (
    (re.compile(r"(^|/)(redis|valkey|keydb|dragonfly|redis-stack(-server)?)(:|@|$)"), "redis"),
    (re.compile(r"(^|/)(rabbitmq)(:|@|$)"), "amqp"),
    (re.compile(r"(^|/)(localstack|elasticmq|elasticmq-native)(:|@|$)"), "sqs"),
)


def transport_of_url(url: Any) -> str | None:
    if isinstance(url, (list, tuple)) and url:
        url = url[0]
    if not isinstance(url, str) or not url:
        return None
    url = url.split(";", 1)[0].strip()
    scheme = url.split("://", 1)[0].lower() if "://" in url else url.lower()
    return _SCHEMES.get(scheme, "other")


@dataclass(frozen=True)
class Transport:
    kind: str  # "redis" | "sqs" | "amqp" | ...
    origin: Span | None
    assumed: bool  # taken from [tool.qlint] broker, not from the code
    # How qlint knows, when broker_url does not say it: "" when it does.
    how: str = ""

    @property
    def label(self) -> str:
        return NAMES.get(self.kind, self.kind)


def brokers(app: "App", project: "Project") -> list[Transport]:
    """Every broker app may run on (one when it is known), most certain source first."""
    value = app.setting("broker_url")
    if value.status != "default":
        options = value.possible()
        kinds = [transport_of_url(v.value) for v in options]
        if options and None not in kinds:
            seen: dict[str, Transport] = {}
            for kind, option in zip(kinds, options):
                seen.setdefault(kind, Transport(kind, option.origin or value.origin, False))
            return list(seen.values())
    assumed = getattr(project.config, "broker", None)
    if assumed:
        return [Transport(transport_of_url(f"{assumed}://") or "other", None, True, "[tool.qlint] broker")]
    why = (value.reason or "broker_url cannot be read") if value.status != "default" else (
        "broker_url is not set, and Celery also reads CELERY_BROKER_URL from the environment")
    deployed = _from_deployment(project)
    if len(deployed) == 1:
        kind, (span, image) = next(iter(deployed.items()))
        return [Transport(kind, span, False, f"{why}; the deployment runs a {NAMES[kind]} server ({span}: "
                                             f"image {image}) and no other broker")]
    kinds = [k for k in PLAUSIBLE if k in deployed] or list(PLAUSIBLE)
    return [Transport(kind, deployed[kind][0] if kind in deployed else None, False,
                      f"{why}: any of {', '.join(NAMES[k] for k in kinds)}") for kind in kinds]


def single(app: "App", project: "Project") -> Transport | None:
    """The app's broker when only one is plausible, else None."""
    found = brokers(app, project)
    return found[0] if len(found) == 1 else None


def _from_deployment(project: "Project") -> dict[str, tuple[Span, str]]:
    """The brokers the deployment files run, with the first service that runs each."""
    view = getattr(project, "deployment", None)
    found: dict[str, tuple[Span, str]] = {}
    for service in getattr(view, "services", ()):
        image = (service.image or "").lower()
        for pattern, kind in _IMAGES:
            if image and pattern.search(image):
                found.setdefault(kind, (service.span, service.image))
    return found


def describe(found: list[Transport]) -> str:
    """For `qlint config`: the broker, or the brokers it stands for, and how qlint knows."""
    if len(found) == 1:
        transport = found[0]
        where = f" ({transport.origin})" if transport.origin and not transport.how else ""
        return f"{transport.label}{where}" + (f": {transport.how}" if transport.how else "")
    return found[0].how if found and found[0].how else ", ".join(t.label for t in found)
