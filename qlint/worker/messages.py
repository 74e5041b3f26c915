"""Task messages as Celery's protocol 2 puts them on the broker, and their size."""
from __future__ import annotations

import base64
import bz2
import json
import lzma
import math
import pickle
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
PAYLOAD_KINDS = ("repeated", "random", "bytes")
# task_serializer: the content type and encoding kombu writes for each (kombu/serialization.py).
SERIALIZERS = {"json": ("application/json", "utf-8"), "pickle": ("application/x-python-serialize", "binary")}
PICKLE_PROTOCOL = 4  # kombu.serialization.pickle_protocol, unless PICKLE_PROTOCOL is set


@dataclass(frozen=True)
class Callback:
    """The rest of a chain, or a chord's body: published after its parent succeeds."""

    step: Step
    then: tuple["Callback", ...] = ()
    chord: str | None = None  # the chord id whose header this parent belongs to


@dataclass(slots=True)
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
    serializer: str = "json"  # task_serializer
    callbacks: tuple[Callback, ...] = ()
    errbacks: tuple[Step, ...] = ()  # link_error
    chord: str | None = None
    redelivered: bool = False
    queue: str = QUEUE  # where task routing sends it (the Redis list of that name)
    retries: int = 0
    size: int = field(default=0)

    def __post_init__(self) -> None:
        if not self.size:
            self.size = envelope_size(self)


def payload_text(size: int, kind: str) -> str | bytes:
    """The argument payload_bytes stands for: one character repeated, random base64 text (a
    file as an upload form sends it, which zlib shrinks to about 3/4), or random bytes (the
    file itself). The same value for the same size, so that sizes are reproducible."""
    if kind == "repeated":
        return "x" * size
    if kind == "bytes":
        return random.Random(size).randbytes(size)
    return base64.b64encode(random.Random(size).randbytes(size * 3 // 4 + 3)).decode()[:size]


def _json_default(value: Any) -> Any:
    """kombu's JSON encoder for bytes (kombu/utils/json.py): text when it decodes, else base64."""
    if isinstance(value, bytes):
        try:
            return {"__type__": "bytes", "__value__": value.decode("utf-8")}
        except UnicodeDecodeError:
            return {"__type__": "base64", "__value__": base64.b64encode(value).decode()}
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def body(message: Message, with_payload: bool = False) -> list[Any]:
    """Celery's protocol 2 body: args (the payload string last), kwargs, embed."""
    args = [*message.args, payload_text(message.padding, message.payload_kind)] \
        if with_payload and message.padding else message.args
    return [args, {}, _embed([c.step.task for c in message.callbacks], [e.task for e in message.errbacks],
                             message.chord)]


def _embed(callbacks: list[str], errbacks: list[str], chord: str | None) -> dict[str, Any]:
    return {"callbacks": callbacks or None, "errbacks": errbacks or None, "chain": None, "chord": chord}


def serialized_body(message: Message) -> bytes:
    """The body as the transport stores it before base64: serialized, compressed if asked."""
    return _serialize(body(message, with_payload=True), message.serializer, message.compression)


def _serialize(data: list[Any], serializer: str, compression: str | None) -> bytes:
    if serializer == "pickle":
        raw = pickle.dumps(tuple(data), protocol=PICKLE_PROTOCOL)  # Celery's body is a tuple
    else:
        raw = json.dumps(data, default=_json_default).encode()
    return COMPRESSIONS[compression][1](raw) if compression else raw


def envelope(message: Message, body_b64: str) -> dict[str, Any]:
    """kombu's Redis envelope: the serialized body base64-encoded inside JSON."""
    return {
        "body": body_b64,
        "content-encoding": SERIALIZERS[message.serializer][1],
        "content-type": SERIALIZERS[message.serializer][0],
        "headers": {
            "lang": "py",
            "task": message.task,
            "id": message.id,
            "root_id": message.id,
            "parent_id": None,
            "eta": message.eta,
            "retries": message.retries,
            "redelivered": message.redelivered,
            **({"compression": COMPRESSIONS[message.compression][0]} if message.compression else {}),
        },
        "properties": {
            "correlation_id": message.id,
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": message.queue, "redelivered": message.redelivered},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": message.tag,
        },
    }


def body_bytes(message: Message) -> int:
    """The serialized body's length, without building it where that can be helped."""
    if message.compression or message.serializer != "json" or (message.padding and message.payload_kind == "bytes"):
        return _serialized_length(json.dumps(body(message)), message.padding, message.payload_kind,
                                  message.serializer, message.compression)
    # The padding is one more string argument: its characters, its quotes, and a separator.
    extra = message.padding + 2 + (2 if message.args else 0) if message.padding else 0
    # json.dumps([args, {}, embed]) is "[" args ", {}, " embed "]", and the embed depends on the canvas alone.
    args = len(json.dumps(message.args)) if message.args else 2
    embed = _embed_length(tuple(c.step.task for c in message.callbacks) if message.callbacks else (),
                          tuple(e.task for e in message.errbacks) if message.errbacks else (), message.chord)
    return 1 + args + 6 + embed + 1 + extra


@lru_cache(maxsize=1024)
def _embed_length(callbacks: tuple[str, ...], errbacks: tuple[str, ...], chord: str | None) -> int:
    return len(json.dumps(_embed(list(callbacks), list(errbacks), chord)))


@lru_cache(maxsize=256)
def _serialized_length(plain: str, padding: int, kind: str, serializer: str, compression: str | None) -> int:
    # Messages of one task usually share their body: serialize each body once.
    data = json.loads(plain)
    if padding:
        data[0].append(payload_text(padding, kind))
    return len(_serialize(data, serializer, compression))


# The envelope's length without its body, by what it holds: the id and the delivery tag count by
# the length of their JSON strings alone, so the messages of one task mostly share an entry.
_envelope_lengths: dict[tuple[Any, ...], int] = {}


def _json_length(text: str) -> int:
    """len(json.dumps(text)): the text and its quotes, unless json escapes something in it."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return len(text) + 2
    return len(json.dumps(text))


def envelope_size(message: Message) -> int:
    encoded = 4 * math.ceil(body_bytes(message) / 3)
    key = (_json_length(message.id), _json_length(message.tag), message.task, type(message.eta), message.eta,
           message.retries, message.redelivered, message.compression, message.serializer, message.queue)
    length = _envelope_lengths.get(key)
    if length is None:
        if len(_envelope_lengths) >= 4096:  # ETAs all differ: keep the table small
            _envelope_lengths.clear()
        length = _envelope_lengths[key] = len(json.dumps(envelope(message, "")))
    return length + encoded
