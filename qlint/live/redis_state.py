"""What kombu's Redis transport holds right now, read with read commands only.

The layout (kombu/transport/redis.py), every key under the transport's `global_keyprefix`:
a queue is a list (LPUSH to publish, BRPOP from the right end to consume), with one more list
`<queue>\\x06\\x16<n>` per priority step above 0; `unacked` is a hash from delivery tag to
`[message, exchange, routing key]` and `unacked_index` a sorted set from delivery tag to the
time it was delivered, both kept until the message is acked; `unacked_mutex` exists while a
restore sweep runs; `_kombu.binding.<exchange>` is a set of `routing key, pattern, queue`
joined by the same separator, one per queue bound to that exchange.

Only the commands in READ_COMMANDS are ever sent: the client refuses any other, so a mistake
here cannot change a production broker. Message bodies are never decoded unless they are JSON
(a pickled body is left alone, as everywhere in qlint).
"""
from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

SEP = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)
# Celery's own exchanges: remote control replies and broadcasts, events. Their queues carry no tasks.
CONTROL_EXCHANGES = ("celery.pidbox", "reply.celery.pidbox", "celeryev")

READ_COMMANDS = frozenset({
    "PING", "TIME", "SCAN", "TYPE", "EXISTS", "PTTL", "LLEN", "LRANGE", "HLEN", "HSCAN", "ZCARD", "ZRANGE",
    "ZSCORE", "SSCAN", "MEMORY USAGE",
})
PAGE = 200
# Queued messages are read a few at a time, and no more than max_bytes of them per queue: a
# queue of large messages is what an incident may be about, and reading it must not be one.
LIST_PAGE = 20
MAX_BYTES = 64 * 1024 * 1024


class ReadRefused(Exception):
    """A command outside READ_COMMANDS was about to be sent."""


def read_only_client(url: str, timeout: float = 10.0) -> Any:
    """A redis-py client for url that sends nothing but READ_COMMANDS."""
    import redis

    class ReadOnlyRedis(redis.Redis):
        def execute_command(self, *args: Any, **options: Any) -> Any:
            name = str(args[0]).upper() if args else ""
            if name not in READ_COMMANDS:
                raise ReadRefused(f"{name} is not a read command; qlint inspect sends none")
            return super().execute_command(*args, **options)

        def pipeline(self, *args: Any, **kwargs: Any) -> Any:
            raise ReadRefused("pipelines and transactions are not used by qlint inspect")

    return ReadOnlyRedis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


@dataclass(frozen=True)
class Envelope:
    """What a kombu message says about itself (Celery's protocol 2 headers, or a protocol 1
    JSON body)."""

    task: str | None
    id: str | None
    size: int  # bytes of the stored message, as Redis holds it
    eta: float | None = None  # epoch seconds
    expires: float | None = None
    redelivered: bool = False
    origin: str | None = None  # the process that sent it (Celery's `origin` header)
    routing_key: str | None = None
    exchange: str | None = None
    priority: int | None = None
    readable: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "id": self.id, "size": self.size, "eta": self.eta, "expires": self.expires,
                "redelivered": self.redelivered, "sent_by": self.origin, "routing_key": self.routing_key,
                "exchange": self.exchange}


@dataclass(frozen=True)
class Held:
    """An entry of `unacked`: a message a consumer received and has not acknowledged."""

    tag: str
    delivered_at: float | None  # its `unacked_index` score; None when the index lacks it
    message: Envelope

    def age(self, now: float) -> float | None:
        return None if self.delivered_at is None else max(0.0, now - self.delivered_at)


@dataclass
class QueueState:
    name: str
    keys: list[str]  # the list itself and its priority lists that exist
    length: int
    memory: int | None  # MEMORY USAGE of its lists (Redis' own estimate)
    bound: bool  # kombu has a binding for it
    messages: list[tuple[str, Envelope]] = field(default_factory=list)  # (key, message) read
    oldest: Envelope | None = None  # the next one a consumer takes from the list of priority 0
    sampled: bool = False  # beyond the reading limits (messages, bytes): only part of it was read


@dataclass
class Snapshot:
    prefix: str
    read_at: float
    held: list[Held]
    queues: list[QueueState]
    unacked_key: str
    unacked_memory: int | None
    sweep_running: bool  # `unacked_mutex` exists: a restore sweep holds it right now
    unindexed: int = 0  # delivery tags in `unacked_index` with no message in `unacked`


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _epoch(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        if moment.tzinfo is None:  # Celery writes naive times in UTC (app.now with enable_utc)
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    return None


def envelope(raw: bytes | str) -> Envelope:
    size = len(raw)
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return Envelope(None, None, size, readable=False)
    if not isinstance(payload, dict):
        return Envelope(None, None, size, readable=False)
    headers = payload.get("headers") if isinstance(payload.get("headers"), dict) else {}
    props = payload.get("properties") if isinstance(payload.get("properties"), dict) else {}
    delivery = props.get("delivery_info") if isinstance(props.get("delivery_info"), dict) else {}
    fields: dict[str, Any] = dict(headers)
    if "task" not in headers:  # protocol 1: task, id and eta are in the body
        fields.update(_json_body(payload))
    priority = props.get("priority")
    return Envelope(
        task=_str(fields.get("task")), id=_str(fields.get("id")), size=size,
        eta=_epoch(fields.get("eta")), expires=_epoch(fields.get("expires")),
        redelivered=bool(headers.get("redelivered") or delivery.get("redelivered")),
        origin=_str(fields.get("origin")), routing_key=_str(delivery.get("routing_key")),
        exchange=_str(delivery.get("exchange")),
        priority=priority if isinstance(priority, int) and not isinstance(priority, bool) else None)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _json_body(payload: dict[str, Any]) -> dict[str, Any]:
    if payload.get("content-type") != "application/json":
        return {}
    body = payload.get("body")
    if not isinstance(body, str):
        return {}
    try:
        if payload.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body).decode("utf-8")
        decoded = json.loads(body)
    except (ValueError, binascii.Error, UnicodeDecodeError, AttributeError):
        return {}
    return decoded if isinstance(decoded, dict) else {}


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class Reader:
    """Reads one snapshot of kombu's layout under a key prefix."""

    def __init__(self, client: Any, prefix: str = "", sample: int = 1000, max_bytes: int = MAX_BYTES) -> None:
        self.client, self.prefix, self.sample, self.max_bytes = client, prefix, sample, max_bytes

    def key(self, name: str) -> str:
        return self.prefix + name

    def bindings(self) -> dict[str, list[tuple[str, str]]]:
        """Each queue kombu has bound, with its (exchange, routing key) pairs."""
        found: dict[str, list[tuple[str, str]]] = {}
        start = self.key("_kombu.binding.")
        for key in self._scan(_glob_escape(start) + "*"):
            exchange = key[len(start):]
            if exchange in CONTROL_EXCHANGES or exchange.endswith(".pidbox"):
                continue
            if _text(self.client.type(key)) != "set":
                continue
            for member in self._sscan(key):
                parts = member.split(SEP)
                if len(parts) == 3 and parts[2]:
                    found.setdefault(parts[2], []).append((exchange, parts[0]))
        return found

    def _scan(self, match: str) -> Iterable[str]:
        cursor = 0
        seen: set[str] = set()
        while True:
            cursor, keys = self.client.scan(cursor, match=match, count=500)
            for key in keys:
                name = _text(key)
                if name not in seen:  # SCAN may return a key twice
                    seen.add(name)
                    yield name
            if int(cursor) == 0:
                return

    def _sscan(self, key: str) -> Iterable[str]:
        cursor = 0
        while True:
            cursor, members = self.client.sscan(key, cursor, count=500)
            yield from (_text(m) for m in members)
            if int(cursor) == 0:
                return

    def held(self) -> tuple[list[Held], int]:
        unacked, index = self.key("unacked"), self.key("unacked_index")
        scores: dict[str, float] = {}
        total = int(self.client.zcard(index))
        for start in range(0, total, PAGE):
            for tag, score in self.client.zrange(index, start, start + PAGE - 1, withscores=True):
                scores[_text(tag)] = float(score)
        out: list[Held] = []
        cursor = 0
        seen: set[str] = set()
        while True:
            cursor, entries = self.client.hscan(unacked, cursor, count=PAGE)
            for raw_tag, raw in entries.items():
                tag = _text(raw_tag)
                if tag in seen:
                    continue
                seen.add(tag)
                out.append(Held(tag, scores.get(tag), _unacked_message(raw)))
            if int(cursor) == 0:
                break
        return out, len(set(scores) - seen)

    def queue(self, name: str, bound: bool) -> QueueState:
        keys = [self.key(name if step == 0 else f"{name}{SEP}{step}") for step in PRIORITY_STEPS]
        lengths = {}
        for key in keys:
            kind = _text(self.client.type(key))
            if kind == "list":
                lengths[key] = int(self.client.llen(key))
        state = QueueState(name, list(lengths), sum(lengths.values()), None, bound)
        if lengths:
            usage = [self.client.memory_usage(k) for k in lengths]
            state.memory = sum(int(u) for u in usage if u is not None)
        budget, transferred = self.sample, 0
        for key, length in lengths.items():
            start = 0
            while start < min(length, budget) and transferred < self.max_bytes:
                stop = min(start + LIST_PAGE, budget, length) - 1
                raws = self.client.lrange(key, start, stop)
                transferred += sum(len(r) for r in raws)
                state.messages += [(key, envelope(raw)) for raw in raws]
                start = stop + 1
            budget -= start
        state.sampled = len(state.messages) < state.length
        first = self.key(name)
        if lengths.get(first):
            tail = self.client.lrange(first, -1, -1)
            state.oldest = envelope(tail[0]) if tail else None
        return state

    def read(self, configured: Iterable[str] = ()) -> Snapshot:
        bound = self.bindings()
        held, unindexed = self.held()
        queues = []
        for name in sorted(set(bound) | set(configured)):
            queues.append(self.queue(name, name in bound))
        unacked = self.key("unacked")
        memory = self.client.memory_usage(unacked) if _text(self.client.type(unacked)) == "hash" else None
        sweeping = bool(self.client.exists(self.key("unacked_mutex")))
        return Snapshot(self.prefix, time.time(), held, queues, unacked, memory, sweeping, unindexed)


def _unacked_message(raw: bytes) -> Envelope:
    """An `unacked` value: JSON `[message, exchange, routing key]`; its size is the whole value's."""
    try:
        record = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return Envelope(None, None, len(raw), readable=False)
    if not (isinstance(record, list) and record and isinstance(record[0], dict)):
        return Envelope(None, None, len(raw), readable=False)
    inner = envelope(json.dumps(record[0]))
    routing = record[2] if len(record) > 2 and isinstance(record[2], str) else inner.routing_key
    return Envelope(inner.task, inner.id, len(raw), inner.eta, inner.expires, inner.redelivered, inner.origin,
                    routing, inner.exchange, inner.priority, inner.readable)
