"""Real time: the same engine on the wall clock, a real Redis server laid out like
kombu's Redis transport, and each run in a real child process.

Keys carry kombu's `global_keyprefix` style prefix `qlint:` so a replay never touches
another application's queue on the same database: `qlint:celery` (the list),
`qlint:unacked` (hash tag -> [envelope, exchange, routing key]) and
`qlint:unacked_index` (sorted set tag -> delivery time).
"""
from __future__ import annotations

import base64
import importlib
import json
import multiprocessing
import os
import signal
import time
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Sequence

import redis

from .broker import Unacked
from .engine import Engine
from .messages import QUEUE, Message, envelope, serialized_body
from .replay import checked_config
from .scenario import Scenario, Step, TaskSpec
from .virtual import errback_duration, sample_duration
from .worker import Execution

PREFIX = "qlint:"
QUEUE_KEY, UNACKED, INDEX, HOLDERS = (PREFIX + QUEUE, PREFIX + "unacked", PREFIX + "unacked_index",
                                      PREFIX + "delivery")


class BrokerUnavailable(Exception):
    pass


class RedisStore:
    def __init__(self, client: redis.Redis, clock: "WallClock") -> None:
        self.client, self.clock = client, clock
        self.messages: dict[str, Message] = {}  # canvas callbacks live here, keyed by tag
        self.queue_keys: set[str] = {QUEUE_KEY}  # every queue a message was pushed to
        client.delete(*client.keys(PREFIX + "*"), UNACKED, INDEX, HOLDERS)

    def _encode(self, message: Message) -> str:
        raw = base64.b64encode(serialized_body(message)).decode()
        self.messages[message.tag] = message
        return json.dumps(envelope(message, raw))

    def _decode(self, raw: bytes) -> Message:
        payload = json.loads(raw)
        message = self.messages[payload["properties"]["delivery_tag"]]
        return replace(message, redelivered=bool(payload["headers"].get("redelivered")))

    def _key(self, queue: str) -> str:
        key = PREFIX + queue
        self.queue_keys.add(key)
        return key

    def push_tail(self, message: Message) -> None:
        self.client.lpush(self._key(message.queue), self._encode(message))

    def push_head(self, message: Message) -> None:
        self.client.rpush(self._key(message.queue), self._encode(message))

    def pop_head(self, queues: Sequence[str] = (QUEUE,)) -> Message | None:
        popped = self.client.brpop([PREFIX + q for q in queues], timeout=0.001)
        return self._decode(popped[1]) if popped else None

    def queue_length(self) -> int:
        return sum(int(self.client.llen(key)) for key in self.queue_keys)

    def has_messages(self, queues: Sequence[str]) -> bool:
        return any(self.client.llen(PREFIX + q) for q in queues)

    def add_unacked(self, entry: Unacked) -> None:
        tag = entry.message.tag
        record = json.dumps([json.loads(self._encode(entry.message)), "", entry.message.queue])
        meta = json.dumps({"holder": entry.holder, "delivery": entry.delivery, "at": entry.delivered_at})
        (self.client.pipeline().zadd(INDEX, {tag: self.clock.wall(entry.delivered_at)})
         .hset(UNACKED, tag, record).hset(HOLDERS, tag, meta).execute())

    def get_unacked(self, tag: str) -> Unacked | None:
        record, meta = self.client.hget(UNACKED, tag), self.client.hget(HOLDERS, tag)
        if record is None or meta is None:
            return None
        info = json.loads(meta)
        return Unacked(self.messages[tag], info["at"], info["holder"], info["delivery"])

    def remove_unacked(self, tag: str) -> Unacked | None:
        entry = self.get_unacked(tag)
        self.client.pipeline().zrem(INDEX, tag).hdel(UNACKED, tag).hdel(HOLDERS, tag).execute()
        return entry

    def unacked_delivered_before(self, ceiling: float) -> list[str]:
        tags = self.client.zrange(INDEX, self.clock.wall(ceiling), 0, desc=True, byscore=True)
        return [t.decode() for t in tags]

    def bytes_held(self) -> int:
        queued = sum(len(x) for key in self.queue_keys for x in self.client.lrange(key, 0, -1))
        return queued + sum(len(x) for x in self.client.hvals(UNACKED))

    def message_ids(self) -> set[str]:
        ids = {self._decode(x).id for key in self.queue_keys for x in self.client.lrange(key, 0, -1)}
        return ids | {self.messages[t.decode()].id for t in self.client.hkeys(UNACKED)}


class WallClock:
    """Scenario seconds on the wall clock: one scenario second is `scale` real seconds."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.t0 = time.monotonic()
        self.wall0 = time.time()
        self.executor: RealExecutor | None = None

    def now(self) -> float:
        return (time.monotonic() - self.t0) / self.scale

    def wall(self, at: float) -> float:
        return self.wall0 + at * self.scale

    def advance_to(self, at: float) -> bool:
        while True:
            if self.executor is not None and self.executor.poll():
                return False
            remaining = at * self.scale - (time.monotonic() - self.t0)
            if remaining <= 0:
                return True
            time.sleep(min(remaining, 0.005))


class SoftTimeLimit(Exception):
    pass


def _on_soft_limit(signum: int, frame: Any) -> None:
    raise SoftTimeLimit()


def _run_child(call: str | None, seconds: float, args: list[Any], spec: dict[str, Any],
               out: Connection) -> None:
    """The pool process: run the task, send back ('ok', result) or (outcome, reason)."""
    signal.signal(signal.SIGUSR1, _on_soft_limit)
    try:
        if call:
            module, _, name = call.partition(":")
            result = getattr(importlib.import_module(module), name)(*args)
        else:
            if spec["params"] is not None and len(args) != spec["params"]:
                n, given = spec["params"], len(args)
                raise TypeError(f"takes {n} positional argument{'s' if n != 1 else ''} "
                                f"but {given} {'were' if given != 1 else 'was'} given")
            deadline = time.monotonic() + seconds
            while True:
                try:
                    time.sleep(max(0.0, deadline - time.monotonic()))
                    break
                except SoftTimeLimit:
                    if spec["on_soft_limit"] == "raise":
                        raise
                    if spec["on_soft_limit"] == "catch":
                        break
            if spec["fails"]:
                raise RuntimeError("the scenario says this task fails")
            result = spec["returns"]
        out.send(("success", result))
    except SoftTimeLimit:
        out.send(("soft-time-limit", None))
    except BaseException as exc:  # the task's own failure, reported like Celery's trace does
        out.send(("failure", repr(exc)))
    finally:
        out.close()


@dataclass
class Child:
    process: multiprocessing.Process
    result: Connection
    timed_out: bool = False
    killed: bool = False


class RealExecutor:
    def __init__(self, engine: Engine, scenario: Scenario, scale: float) -> None:
        self.engine, self.scenario, self.scale = engine, scenario, scale
        self.context = multiprocessing.get_context("fork")
        self.running: dict[int, Execution] = {}
        self.errbacks: dict[int, tuple[Child, Callable[[], None]]] = {}  # by id() of the Child

    def start(self, execution: Execution) -> None:
        message = execution.request.message
        spec: TaskSpec = self.scenario.tasks[message.task]
        policy = self.engine.config.tasks[message.task]
        seconds = sample_duration(spec, self.engine.rng) * self.scale
        receive, send = self.context.Pipe(duplex=False)
        process = self.context.Process(
            target=_run_child, daemon=True,
            args=(spec.call, seconds, list(message.args),
                  {"params": spec.params, "fails": spec.fails, "returns": spec.returns,
                   "on_soft_limit": spec.on_soft_limit}, send))
        process.start()
        send.close()
        execution.handle = Child(process, receive)
        self.running[id(execution)] = execution
        soft, hard = policy.soft_time_limit, policy.time_limit
        if soft and (not hard or soft < hard):
            self.engine.schedule(execution.start + soft, lambda: self._signal(execution, signal.SIGUSR1))
        if hard:
            self.engine.schedule(execution.start + hard, lambda: self._hard_limit(execution))

    def soft_limit(self, execution: Execution) -> None:
        self._signal(execution, signal.SIGUSR1)

    def errback(self, step: Step, failed: Message, reason: str, done: Callable[[], None]) -> Child:
        """The errback's body in a process of its own, standing for the pool process or the main
        process that calls it in place: a call: function gets a request with the failed task's id."""
        spec: TaskSpec = self.scenario.tasks[step.task]
        request = SimpleNamespace(id=failed.id, task=failed.task, args=list(failed.args))
        args = list(step.args) if step.immutable else [request, RuntimeError(reason), None, *step.args]
        receive, send = self.context.Pipe(duplex=False)
        process = self.context.Process(
            target=_run_child, daemon=True,
            args=(spec.call, errback_duration(spec, step, self.engine.rng) * self.scale, args,
                  {"params": spec.params, "fails": spec.fails, "returns": spec.returns, "on_soft_limit": "raise"},
                  send))
        process.start()
        send.close()
        child = Child(process, receive)
        self.errbacks[id(child)] = (child, done)
        return child

    def stop_errback(self, handle: Child | None) -> None:
        if handle is None or self.errbacks.pop(id(handle), None) is None:
            return
        if handle.process.is_alive():
            handle.process.kill()
        handle.process.join()

    def _signal(self, execution: Execution, signum: int) -> None:
        child: Child = execution.handle
        if not execution.finished and child.process.is_alive():
            os.kill(child.process.pid, signum)

    def _hard_limit(self, execution: Execution) -> None:
        child: Child = execution.handle
        if execution.finished or not child.process.is_alive():
            return
        child.timed_out = True
        child.process.terminate()
        child.process.join(0.5)
        if child.process.is_alive():
            child.process.kill()

    def kill(self, execution: Execution) -> None:
        child: Child = execution.handle
        child.killed = True
        if child.process.is_alive():
            child.process.kill()
        child.process.join()
        self.running.pop(id(execution), None)

    def poll(self) -> bool:
        """Turn the children that exited into events at the current time."""
        ended = False
        for key, execution in list(self.running.items()):
            child: Child = execution.handle
            if child.process.is_alive():
                continue
            child.process.join()
            del self.running[key]
            if child.killed or execution.finished:
                continue
            outcome, result = "worker-lost", None
            if child.timed_out:
                outcome = "time-limit"
            elif child.result.poll():
                outcome, result = child.result.recv()
            worker = self.engine.workers[execution.worker]
            self.engine.schedule(self.engine.now, lambda w=worker, e=execution, o=outcome, r=result: w.finish(e, o, r))
            ended = True
        for key, (child, done) in list(self.errbacks.items()):
            if child.process.is_alive():
                continue
            child.process.join()
            del self.errbacks[key]
            self.engine.schedule(self.engine.now, done)
            ended = True
        return ended

    def shutdown(self) -> None:
        for execution in list(self.running.values()):
            self.kill(execution)
        for child, _ in list(self.errbacks.values()):
            self.stop_errback(child)


def simulate_real(scenario: Scenario, settings: dict[str, Any], url: str, scale: float,
                  seed: int | None = None, base: Path | None = None):
    if seed is not None:
        scenario = scenario.model_copy(update={"seed": seed})
    config = checked_config(scenario, {**settings, "broker_url": url})
    if config.broker.kind != "redis":
        raise BrokerUnavailable(f"--real runs on Redis only, not {url!r}")
    try:
        client = redis.Redis.from_url(url, socket_timeout=5)
        client.ping()
    except (redis.RedisError, ValueError) as exc:
        raise BrokerUnavailable(
            f"cannot reach Redis at {url}: {exc}. Start one with: redis-server --port 6379 --bind 127.0.0.1"
        ) from None
    if base is not None and str(base.resolve()) not in os.sys.path:
        os.sys.path.insert(0, str(base.resolve()))  # `call: module:function` resolves next to the scenario
    clock = WallClock(scale)
    engine = Engine(scenario, config, RedisStore(client, clock), clock, "real")
    executor = RealExecutor(engine, scenario, scale)
    engine.executor = executor
    clock.executor = executor
    try:
        return engine.run()
    except redis.RedisError as exc:
        raise BrokerUnavailable(f"lost the connection to Redis at {url} during the replay: {exc}") from None
    finally:
        executor.shutdown()
        client.close()
