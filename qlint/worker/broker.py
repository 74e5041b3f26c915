"""The broker side: a queue, the unacked messages, and when they come back.

The semantics follow kombu: on Redis (transport/redis.py) publishing is LPUSH and
consuming BRPOP, so the head of the queue is the right end; every delivery is
recorded in `unacked` + `unacked_index` until acked; a restore sweep pushes back
(RPUSH, to the head) every entry delivered more than `visibility_timeout` ago and
flags it redelivered; `reject(requeue=True)` pushes with LPUSH, to the tail. SQS
makes each delivery visible again on its own timer; RabbitMQ instead closes a
consumer's channel when one of its deliveries stays unacked past
`consumer_timeout`, and requeues everything that channel held.

Storage is behind `Store`, so the same decisions drive a dict in virtual time and a
real Redis server in real time.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from typing import Callable, Protocol, Sequence

from .config import BrokerConfig
from .messages import QUEUE, Message


@dataclass(slots=True)
class Unacked:
    message: Message
    delivered_at: float
    holder: str  # the worker (connection) the message was delivered to
    delivery: int  # a serial number of this delivery, to tell copies of a tag apart


class Store(Protocol):
    def push_tail(self, message: Message) -> None: ...  # LPUSH to the message's queue
    def push_head(self, message: Message) -> None: ...  # RPUSH
    def pop_head(self, queues: Sequence[str] = (QUEUE,)) -> Message | None: ...  # BRPOP, keys in this order
    def queue_length(self) -> int: ...  # every queue
    def has_messages(self, queues: Sequence[str]) -> bool: ...
    def add_unacked(self, entry: Unacked) -> None: ...  # ZADD unacked_index + HSET unacked
    def remove_unacked(self, tag: str) -> Unacked | None: ...  # ZREM + HDEL
    def get_unacked(self, tag: str) -> Unacked | None: ...
    def unacked_delivered_before(self, ceiling: float) -> list[str]: ...  # ZRANGE BYSCORE
    def bytes_held(self) -> int: ...
    def message_ids(self) -> set[str]: ...  # ids in the queue or unacked


class MemoryStore:
    """Redis's list and hash, held in a Python list and dict."""

    def __init__(self) -> None:
        # one list per queue: index 0 is the tail (LPUSH end), -1 the head
        self.queues: dict[str, deque[Message]] = {}
        self.unacked: dict[str, Unacked] = {}
        self._bytes = 0  # sizes of everything in the queues and in unacked
        self._queued = 0

    @property
    def queue(self) -> list[Message]:
        """Every queued message, queue after queue."""
        return [m for q in self.queues.values() for m in q]

    def _list(self, name: str) -> deque[Message]:
        found = self.queues.get(name)
        if found is None:
            found = self.queues[name] = deque()
        return found

    def push_tail(self, message: Message) -> None:
        self._list(message.queue).appendleft(message)
        self._bytes += message.size
        self._queued += 1

    def push_head(self, message: Message) -> None:
        self._list(message.queue).append(message)
        self._bytes += message.size
        self._queued += 1

    def pop_head(self, queues: Sequence[str] = (QUEUE,)) -> Message | None:
        for name in queues:  # BRPOP takes from the first key that holds a message
            found = self.queues.get(name)
            if found:
                message = found.pop()
                self._bytes -= message.size
                self._queued -= 1
                return message
        return None

    def queue_length(self) -> int:
        return self._queued

    def has_messages(self, queues: Sequence[str]) -> bool:
        found = self.queues.get
        for name in queues:
            if found(name):
                return True
        return False

    def add_unacked(self, entry: Unacked) -> None:
        old = self.unacked.get(entry.message.tag)  # HSET replaces the entry of the same tag
        if old is not None:
            self._bytes -= old.message.size
        self.unacked[entry.message.tag] = entry
        self._bytes += entry.message.size

    def remove_unacked(self, tag: str) -> Unacked | None:
        entry = self.unacked.pop(tag, None)
        if entry is not None:
            self._bytes -= entry.message.size
        return entry

    def get_unacked(self, tag: str) -> Unacked | None:
        return self.unacked.get(tag)

    def unacked_delivered_before(self, ceiling: float) -> list[str]:
        due = [e for e in self.unacked.values() if e.delivered_at <= ceiling]
        return [e.message.tag for e in sorted(due, key=lambda e: e.delivered_at, reverse=True)]

    def bytes_held(self) -> int:
        return self._bytes

    def message_ids(self) -> set[str]:
        return {m.id for m in self.queue} | {e.message.id for e in self.unacked.values()}


# (what happened, message, detail) -> None; the engine records it on the timeline.
Notify = Callable[[str, Message, str], None]


class Broker:
    def __init__(self, config: BrokerConfig, store: Store, notify: Notify) -> None:
        self.config = config
        self.store = store
        self.notify = notify
        self._deliveries = 0

    def publish(self, message: Message) -> None:
        self.store.push_tail(message)

    def deliver(self, holder: str, now: float, queues: Sequence[str] = (QUEUE,)) -> Unacked | None:
        message = self.store.pop_head(queues)
        if message is None:
            return None
        self._deliveries += 1
        entry = Unacked(message, now, holder, self._deliveries)
        self.store.add_unacked(entry)
        return entry

    def ack(self, tag: str) -> None:
        self.store.remove_unacked(tag)

    def reject(self, tag: str, requeue: bool) -> None:
        if requeue:
            self._restore(tag, to_head=False, why="rejected with requeue: back to the tail of the queue")
            return
        entry = self.store.remove_unacked(tag)
        if entry is not None:
            # Gone as if acked on Redis and SQS; RabbitMQ dead-letters it when the queue has an exchange for that.
            self.notify("drop", entry.message, "rejected without requeue: removed from the broker")

    def _restore(self, tag: str, to_head: bool, why: str) -> None:
        entry = self.store.remove_unacked(tag)
        if entry is None:  # already restored or acked through another copy
            return
        # A new copy: the worker that received the message before keeps its own request,
        # whose delivery was not flagged redelivered.
        message = replace(entry.message, redelivered=True)
        (self.store.push_head if to_head else self.store.push_tail)(message)
        self.notify("restore", message, why)

    def restore_visible(self, now: float, by: str) -> int:
        """kombu's QoS.restore_visible: one sweep over the whole unacked index."""
        timeout = self.config.visibility_timeout
        if self.config.kind != "redis" or timeout is None:
            return 0
        tags = self.store.unacked_delivered_before(now - timeout)
        for tag in tags:
            entry = self.store.get_unacked(tag)
            age = now - entry.delivered_at if entry else 0
            self._restore(
                tag, to_head=True,
                why=f"restore sweep by {by}: unacked for {age:.0f}s ≥ visibility_timeout {timeout:g}s, "
                    f"pushed back to the head of the queue",
            )
        return len(tags)

    def restore_held(self, holder: str, tags: list[str], why: str) -> None:
        """A warm shutdown or a closed channel gives back what a consumer held."""
        for tag in tags:
            entry = self.store.get_unacked(tag)
            if entry is not None and entry.holder == holder:
                self._restore(tag, to_head=True, why=why)

    def visibility_expired(self, tag: str, delivery: int) -> None:
        """SQS: one delivery's own visibility timer ran out."""
        entry = self.store.get_unacked(tag)
        if entry is not None and entry.delivery == delivery:
            self._restore(tag, to_head=True, why=f"SQS visibility timeout {self.config.visibility_timeout:g}s expired")

    def still_unacked(self, tag: str, delivery: int) -> bool:
        entry = self.store.get_unacked(tag)
        return entry is not None and entry.delivery == delivery
