"""Task messages as Celery's protocol 2 puts them on the broker, and their size."""
from __future__ import annotations

import base64
import bz2
import json
import lzma
import math
import random
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

from .scenario import Step

QUEUE = "celery"

# task_compression as kombu/compression.py registers it: each name and alias to the content
# type written in the message's `compression` header and the function applied to the body.
COMPRESSIONS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    **dict.fromkeys(("zlib", "gzip", "application/x-gzip"), ("application/x-gzip", zlib.compress)),
    **dict.fromkeys(("bzip2", "bzip", "application/x-bz2"), ("application/x-bz2", bz2.compress)),
    **dict.fromkeys(("lzma", "xz", "application/x-lzma"), ("application/x-lzma", lzma.compress)),
}
PAYLOAD_KINDS = ("repeated", "random")


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
    payload_kind: str = "repeated"  # what that string holds (payload_text)
    compression: str | None = None  # task_compression
    callbacks: tuple[Callback, ...] = ()
    chord: str | None = None
    redelivered: bool = False
    size: int = field(default=0)

    def __post_init__(self) -> None:
        if not self.size:
            self.size = envelope_size(self)


def payload_text(size: int, kind: str) -> str:
    """The string argument payload_bytes stands for: one character repeated, or random
    base64 text (a file's bytes as an upload sends them, which zlib shrinks to about 3/4).
    The same text for the same size, so that sizes are reproducible."""
    if kind == "repeated":
        return "x" * size
    return base64.b64encode(random.Random(size).randbytes(size * 3 // 4 + 3)).decode()[:size]


def body(message: Message, with_payload: bool = False) -> list[Any]:
    """Celery's protocol 2 body: args (the payload string last), kwargs, embed."""
    callbacks = [c.step.task for c in message.callbacks] or None
    embed = {"callbacks": callbacks, "errbacks": None, "chain": None, "chord": message.chord}
    args = [*message.args, payload_text(message.padding, message.payload_kind)] \
        if with_payload and message.padding else message.args
    return [args, {}, embed]


def serialized_body(message: Message) -> bytes:
    """The body as the transport stores it before base64: JSON, compressed if asked."""
    data = json.dumps(body(message, with_payload=True)).encode()
    return COMPRESSIONS[message.compression][1](data) if message.compression else data


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
            **({"compression": COMPRESSIONS[message.compression][0]} if message.compression else {}),
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
    """The serialized body's length, without building it where that can be helped."""
    if message.compression:
        return _compressed_length(json.dumps(body(message)), message.padding, message.payload_kind,
                                  message.compression)
    # The padding is one more string argument: its characters, its quotes, and a separator.
    extra = message.padding + 2 + (2 if message.args else 0) if message.padding else 0
    return len(json.dumps(body(message)).encode()) + extra


@lru_cache(maxsize=256)
def _compressed_length(plain: str, padding: int, kind: str, compression: str) -> int:
    # Messages of one task usually share their body: compress each body once.
    data = json.loads(plain)
    if padding:
        data[0].append(payload_text(padding, kind))
    return len(COMPRESSIONS[compression][1](json.dumps(data).encode()))


def envelope_size(message: Message) -> int:
    encoded = 4 * math.ceil(body_bytes(message) / 3)
    return len(json.dumps(envelope(message, "")).encode()) + encoded
