"""Task messages as Celery's protocol 2 puts them on the broker, and their size."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from .scenario import Step

QUEUE = "celery"


@dataclass(frozen=True)
class Callback:
    """The rest of a chain, or a chord's body: published after its parent succeeds."""

    step: Step
    then: tuple["Callback", ...] = ()
    chord: str | None = None  # the chord id whose header this parent belongs to


@dataclass
class Message:
    id: str
    task: str
    args: list[Any]
    published_at: float
    tag: str
    eta: float | None = None
    padding: int = 0  # bytes of argument data the scenario asks for (payload_bytes)
    callbacks: tuple[Callback, ...] = ()
    chord: str | None = None
    redelivered: bool = False
    size: int = field(default=0)

    def __post_init__(self) -> None:
        if not self.size:
            self.size = envelope_size(self)


def body(message: Message) -> list[Any]:
    embed = {"callbacks": [c.step.task for c in message.callbacks], "errbacks": None, "chain": None, "chord": message.chord}
    return [message.args, {}, embed]


def envelope(message: Message, body_b64: str) -> dict[str, Any]:
    """kombu's Redis envelope: the serialized body base64-encoded inside JSON."""
    return {
        "body": body_b64,
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            "lang": "py",
            "task": message.task,
            "id": message.id,
            "root_id": message.id,
            "parent_id": None,
            "eta": message.eta,
            "retries": 0,
            "redelivered": message.redelivered,
        },
        "properties": {
            "correlation_id": message.id,
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": QUEUE, "redelivered": message.redelivered},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": message.tag,
        },
    }


def body_bytes(message: Message) -> int:
    # The padding stands for a string argument of that many ASCII bytes.
    return len(json.dumps(body(message)).encode()) + message.padding


def envelope_size(message: Message) -> int:
    encoded = 4 * math.ceil(body_bytes(message) / 3)
    return len(json.dumps(envelope(message, "")).encode()) + encoded
