"""The replay: an event loop over one clock, the broker, the workers and the canvas.

The clock and the executor are the only parts that differ between virtual time
(events jump the clock; a run's end is computed) and real time (the clock is the
wall clock; a run is a real process).
"""
from __future__ import annotations

import heapq
import random
from itertools import count
from typing import Any, Callable, Protocol

from .broker import Broker, Store, Unacked
from .config import ReplayConfig
from .messages import QUEUE, Callback, Message
from .scenario import Fault, Scenario, ScenarioError, Step
from .trace import DeliveryRecord, Event, ExecutionRecord, Trace
from .worker import Execution, Executor, Request, Worker


class Clock(Protocol):
    def now(self) -> float: ...
    def advance_to(self, at: float) -> bool:
        """Move to `at`; False when something happened earlier (real time)."""


class VirtualClock:
    def __init__(self) -> None:
        self._now = 0.0

    def now(self) -> float:
        return self._now

    def advance_to(self, at: float) -> bool:
        self._now = max(self._now, at)
        return True


def format_seconds(seconds: float) -> str:
    if seconds != seconds or abs(seconds) == float("inf"):
        return f"{seconds}s"
    sign, s = ("-" if seconds < 0 else ""), abs(seconds)
    if s < 60:
        if s == int(s):
            return f"{sign}{int(s)}s"
        return f"{sign}{s:.2g}s" if s < 0.1 else f"{sign}{s:.1f}s"
    h, rem = divmod(int(round(s)), 3600)
    m, sec = divmod(rem, 60)
    return f"{sign}{h}h{m:02d}m{sec:02d}s" if h else f"{sign}{m}m{sec:02d}s"


MAX_EVENTS = 2_000_000  # a replay that needs more is refused with the reason
# Timeline entries kept for the report (about 1 KB each with what goes with them): a replay
# that records more is refused too, so that its memory stays bounded.
MAX_RECORDS = 500_000
BRPOP_TIMEOUT = 1.0  # kombu.transport.redis.Transport.brpop_timeout


def shuffle(rng: random.Random, items: list[Any]) -> None:
    """rng.shuffle(items), the same permutation from the same draws, without a call per item
    (random.py's Fisher-Yates with _randbelow_with_getrandbits, as in Python 3.10 to 3.13;
    tests/worker/test_shuffle.py holds it to random.shuffle). One per delivery: random.shuffle
    was a fifth of a replay with 50 workers."""
    getrandbits = rng.getrandbits
    for i in range(len(items) - 1, 0, -1):
        k = (i + 1).bit_length()
        j = getrandbits(k)
        while j > i:
            j = getrandbits(k)
        items[i], items[j] = items[j], items[i]


class _ClockTime:
    """Engine.now: the clock's time. An engine on a VirtualClock keeps it as a plain attribute
    instead, set as run() moves the clock (this descriptor then steps aside): a replay of a day
    reads it over a million times."""

    def __get__(self, engine: "Engine", owner: type | None = None) -> float:
        return engine.clock.now()


class Engine:
    now = _ClockTime()

    def __init__(self, scenario: Scenario, config: ReplayConfig, store: Store,
                 clock: Clock, mode: str) -> None:
        self.scenario, self.config, self.clock = scenario, config, clock
        self.rng = random.Random(scenario.seed)
        self.until = scenario.until or self._default_until()
        self.trace = Trace(mode=mode, broker=config.broker.kind, until=self.until)
        self.broker = Broker(config.broker, store, self._on_broker)
        self.workers = {w.name: Worker(w, self) for w in config.workers}
        self.trace.workers = {w.name: w.concurrency for w in config.workers}
        # Every worker from the start: an empty list is one that never reserved anything.
        self.trace.reserved = {w.name: [] for w in config.workers}
        # Workers whose state changed (worker_changed), by name: since the last look at their
        # prefetch window (_track_brpop), and since the last sample of what they reserve.
        self._unchecked: dict[str, Worker] = {}
        self._unsampled: dict[str, Worker] = {}
        self._queue_sets = list(dict.fromkeys(w.queues for w in config.workers))
        self._consumers: list[Worker] | None = None  # those consuming, in order; None: to be listed again
        self.executor: Executor = None  # type: ignore[assignment]  # set by the caller
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = count()
        self._ids = count(1)
        self._records: dict[int, ExecutionRecord] = {}
        self._by_id: dict[str, list[ExecutionRecord]] = {}  # message id -> its executions
        self.succeeded: dict[str, float] = {}  # message id -> when its first success was stored
        self._chords: dict[str, dict[str, Any]] = {}
        self._chains: dict[int, tuple[Callback, ...]] = {}  # id() of a chain submission -> its callbacks

    # -- clock and events -------------------------------------------------------

    def fmt(self, at: float) -> str:
        return format_seconds(at)

    def schedule(self, at: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (at, next(self._seq), action))

    def next_event_at(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def run(self) -> Trace:
        for spec in self.config.workers:
            self.schedule(spec.start, lambda w=self.workers[spec.name]: w.start())
        for sub in self.scenario.submit:
            # Each submission is scheduled when the one before it is sent, with the place in
            # the order of events it would have had if all were scheduled now: a `count` of
            # 100,000 holds one event at a time, not 100,000.
            first = next(self._seq)
            self._seq = count(first + sub.count)
            self._submission(sub, 0, first)
        for fault in self.scenario.faults:
            self.schedule(fault.at, lambda f=fault: self.apply_fault(f))
        # In real time, runs end through the clock's polling: keep the loop alive until the end.
        self.schedule(self.until, lambda: None)
        handled = 0
        heap, clock, until, events = self._heap, self.clock, self.until, self.trace.events
        virtual = isinstance(clock, VirtualClock)
        while heap:
            at = heap[0][0]
            if at > until:
                break
            if not clock.advance_to(at):
                continue
            if virtual:
                self.now = clock.now()
            heapq.heappop(heap)[2]()
            self.pump()
            if self._unsampled:
                self._sample_reserved()
            handled += 1
            if handled > MAX_EVENTS or len(events) > MAX_RECORDS:
                raise ScenarioError(self._too_many_events(at))
        clock.advance_to(until)
        if virtual:
            self.now = clock.now()
        return self.finish()

    def _submission(self, sub: Any, i: int, first: int) -> None:
        def send() -> None:
            if i + 1 < sub.count:
                self._submission(sub, i + 1, first)
            self.submit(sub)

        heapq.heappush(self._heap, (sub.at + i * sub.every, first + i, send))

    def pump(self) -> None:
        """Every worker that may consume blocks in BRPOP; Redis serves the client whose
        pending BRPOP is the oldest. kombu's BRPOP times out after brpop_timeout (1 s)
        and is issued again at once, so that is the client whose current one-second
        cycle began longest ago, not the one idle the longest."""
        if self._unchecked:
            self._track_brpop()
        store = self.broker.store
        while store.queue_length():
            ready = self._consumers_with_messages(store)
            if not ready:
                break
            shuffle(self.rng, ready)
            worker = self._oldest_brpop(ready)
            delivery = self.broker.deliver(worker.name, self.now, worker.queue_cycle)
            if delivery is None:
                break
            self._measure()
            worker.took_from(delivery.message.queue)
            worker.receive(delivery)
            self._track_brpop()

    def _consumers_with_messages(self, store: Store) -> list[Worker]:
        """The workers with room in their window and a message in one of their queues, in order.
        A worker's BRPOP keys are always its queues (rotated), so each set is asked about once."""
        if self._consumers is None:
            self._consumers = [w for w in self.workers.values() if w.consuming]
        if len(self._queue_sets) == 1:
            return list(self._consumers) if store.has_messages(self._queue_sets[0]) else []
        has = {queues: store.has_messages(queues) for queues in self._queue_sets}
        return [w for w in self._consumers if has[w.config.queues]]

    def _oldest_brpop(self, ready: list[Worker]) -> Worker:
        """The first of `ready` whose current BRPOP cycle began longest ago (max() by age)."""
        now = self.now
        best, oldest = ready[0], float("-inf")
        for worker in ready:
            waited = now - worker.waiting_since
            age = waited % BRPOP_TIMEOUT if waited >= BRPOP_TIMEOUT else waited
            if age > oldest:
                best, oldest = worker, age
        return best

    def worker_changed(self, worker: Worker) -> None:
        """Its prefetch window or what it reserves may have changed."""
        self._unchecked[worker.name] = self._unsampled[worker.name] = worker

    def _track_brpop(self) -> None:
        """A worker whose prefetch window was full issues BRPOP again once it has room
        (kombu's on_poll_start checks QoS.can_consume): it joins the end of Redis' line of
        blocked clients, behind those that kept waiting meanwhile."""
        for worker in self._unchecked.values():
            able = worker.can_consume()
            if able != worker.consuming:
                self._consumers = None
                if able:
                    worker.waiting_since = self.now
            worker.consuming = able
        self._unchecked.clear()

    def _sample_reserved(self) -> None:
        reserved = self.trace.reserved
        for worker in self._unsampled.values():
            held = len(worker.ready) + len(worker.scheduled) + sum(map(len, worker.pipes))
            steps = reserved[worker.name]
            if (steps[-1][1] if steps else 0) != held:
                steps.append((self.now, held))
        self._unsampled.clear()

    def _measure(self) -> None:
        held = self.broker.store.bytes_held()
        if held > self.trace.broker_bytes_peak:
            self.trace.broker_bytes_peak = held

    # -- recording ----------------------------------------------------------------

    def record(self, kind: str, worker: str = "", message: str = "", detail: str = "",
               delivery: Unacked | None = None) -> None:
        now = self.now
        self.trace.events.append(Event(now, kind, worker, message, detail))
        if delivery is not None:
            m = delivery.message
            self.trace.deliveries.append(DeliveryRecord(m.id, m.task, worker, now, m.redelivered))

    def _on_broker(self, what: str, message: Message, detail: str) -> None:
        self.record(what, message=message.id, detail=detail)

    def begin_execution(self, request: Request, worker: str, slot: int) -> Execution:
        mid, now = request.message.id, self.now
        others = self._by_id.setdefault(mid, [])  # the runs of this message before this one
        execution = Execution(request, worker, slot, now, len(others) + 1)
        record = ExecutionRecord(mid, request.message.task, worker, slot, now, None, "running",
                                 execution.number, request.message.redelivered, list(request.message.args))
        self._records[id(execution)] = record
        self.trace.executions.append(record)
        running = [f"{r.worker}/{r.slot}" for r in others if r.end is None]
        ran_before = bool(others)
        others.append(record)
        detail = f"run #{execution.number}"
        if running:
            detail += f" - DUPLICATE: still running on {', '.join(running)}"
        elif ran_before:
            detail += " - it ran before"
        self.record("run", worker=f"{worker}/{slot}", message=mid, detail=detail)
        return execution

    def end_execution(self, execution: Execution) -> None:
        record = self._records[id(execution)]
        record.end, record.outcome = execution.end, execution.outcome
        if execution.outcome == "success":
            self.succeeded.setdefault(record.id, self.now)
        detail = execution.outcome
        if execution.outcome == "failure" and execution.result is not None:
            detail += f": {execution.result}"
        self.record("end", worker=f"{execution.worker}/{execution.slot}",
                    message=execution.request.message.id, detail=detail)

    def mark_revoked(self, task_id: str) -> None:
        self.trace.revoked.add(task_id)

    # -- submissions and canvas -----------------------------------------------------

    def _new_id(self, given: str | None) -> str:
        return given or f"t{next(self._ids)}"

    def publish(self, task: str, args: list[Any], mid: str | None = None, eta: float | None = None,
                callbacks: tuple[Callback, ...] = (), chord: str | None = None,
                errbacks: tuple[Step, ...] = (), retries: int = 0) -> str:
        mid = self._new_id(mid)
        spec = self.scenario.tasks[task]
        tag = f"tag-{mid}" + (f"-retry{retries}" if retries else "")
        message = Message(mid, task, list(args), self.now, tag=tag, eta=eta, retries=retries,
                          padding=spec.payload_bytes, payload_kind=spec.payload_kind,
                          compression=self.config.compression, serializer=self.config.serializer,
                          callbacks=callbacks, errbacks=errbacks, chord=chord,
                          queue=self.config.routes[task] if self.config.routes else QUEUE)
        self.trace.published.setdefault(mid, self.now)
        self.trace.tasks[mid] = task
        when = f", ETA {self.fmt(eta)}" if eta is not None else ""
        self.record("publish", message=mid, detail=f"{task}{tuple(args)!r}{when}, {message.size:,} bytes")
        self.broker.publish(message)
        self._measure()
        return mid

    def submit(self, sub: Any) -> None:
        eta = sub.eta if sub.eta is not None else (self.now + sub.countdown if sub.countdown is not None else None)
        if sub.task:
            self.publish(sub.task, sub.args, sub.id, eta, callbacks=(Callback(sub.link),) if sub.link else (),
                         errbacks=(sub.link_error,) if sub.link_error else ())
        elif sub.chain:
            if id(sub) not in self._chains:  # built once for all the submissions of the entry
                self._chains[id(sub)] = _chain_callbacks(sub.chain[1:])
            first = sub.chain[0]
            self.publish(first.task, first.args, sub.id, eta, callbacks=self._chains[id(sub)])
        else:
            chord_id = self._new_id(sub.id)
            self._chords[chord_id] = {"left": len(sub.chord.header), "results": {}, "order": [],
                                      "body": sub.chord.body, "failed": False}
            for step in sub.chord.header:
                mid = self.publish(step.task, step.args, chord=chord_id)
                self._chords[chord_id]["order"].append(mid)

    def on_success(self, execution: Execution) -> None:
        message = execution.request.message
        for callback in message.callbacks:
            args = callback.step.args if callback.step.immutable else [execution.result, *callback.step.args]
            self.publish(callback.step.task, args, callbacks=callback.then)
        if message.chord:
            self._chord_part_done(message.chord, message.id, execution.result)

    def on_failure(self, message: Message, calls: int = 1) -> list[tuple[Step, bool]]:
        """Backend.mark_as_failure, `calls` times: the chord fails, the chain stops, and the errbacks
        come back in the order each call takes them, each with whether it is called in place (True:
        the caller runs it) or sent as a task (False: send_errback)."""
        chord = self._chords.get(message.chord or "")
        if chord and not chord["failed"]:
            chord["failed"] = True
            self.record("chord-failed", message=message.chord or "", detail=f"header task {message.id} failed")
        if message.callbacks:
            self.record("chain-stopped", message=message.id, detail="parent failed: the next step is never sent")
        # _call_task_errbacks calls those it calls in place first, then sends the rest as one group.
        kinds = [(step, self.inline_errback(step)) for step in message.errbacks]
        once = [k for k in kinds if k[1]] + [k for k in kinds if not k[1]]
        return once * calls

    def inline_errback(self, step: Step) -> bool:
        """Backend._call_task_errbacks: a task function that takes more than one argument besides
        those its signature holds, and is not bound, is called in place with (request, exc,
        traceback); any other is sent as a task."""
        spec = self.scenario.tasks[step.task]
        held = 0 if step.immutable else len(step.args)
        return not spec.bind and spec.params is not None and spec.params - held > 1

    def retry(self, message: Message, delay: float, why: str) -> None:
        """Task.retry, Request._retry_worker_lost: the same task id again, one retry more, after the delay."""
        self.record("retry", message=message.id,
                    detail=f"{why}: retry {message.retries + 1} sent, due in {self.fmt(delay)}")
        self.publish(message.task, message.args, message.id, self.now + delay, callbacks=message.callbacks,
                     chord=message.chord, errbacks=message.errbacks, retries=message.retries + 1)

    def send_errback(self, step: Step, failed: str) -> None:
        """An errback sent as a task: the failed task's id before its own arguments, unless it is immutable."""
        args = step.args if step.immutable else [failed, *step.args]
        self.record("errback", message=failed, detail=f"{step.task} sent with the failed task's id")
        self.publish(step.task, args)

    def _chord_part_done(self, chord_id: str, mid: str, result: Any) -> None:
        chord = self._chords[chord_id]
        if chord["failed"] or mid in chord["results"]:
            return
        chord["results"][mid] = result
        if len(chord["results"]) == chord["left"]:
            body: Step = chord["body"]
            results = [chord["results"][m] for m in chord["order"]]
            args = body.args if body.immutable else [results, *body.args]
            self.record("chord-ready", message=chord_id, detail="every header task finished: sending the body")
            self.publish(body.task, args)

    # -- faults ---------------------------------------------------------------------

    def apply_fault(self, fault: Fault) -> None:
        if fault.action == "revoke":
            listening = [w for w in self.workers.values() if w.listening]
            how = (f"with terminate ({fault.signal or 'SIGTERM'})" if fault.terminate else "without terminate")
            self.record("revoke", message=fault.target,
                        detail=f"{how}; heard by {', '.join(w.name for w in listening) or 'no running worker'}")
            for worker in listening:
                worker.revoke(fault.target, fault.terminate, fault.signal)
            return
        name, _, slot = fault.target.partition("/")
        worker = self.workers[name]
        if fault.action == "kill":
            if not worker.alive:
                self.record("kill", worker=name, detail="not running")
            elif slot:
                worker.kill_process(int(slot))
            else:
                worker.kill()
        elif fault.action == "stop":
            worker.stop()
        elif fault.action == "restart":
            if worker.alive:
                worker.kill()
            worker.start()

    def _too_many_events(self, at: float) -> str:
        broker = self.config.broker
        sweeps = (f"; {len(self.workers)} worker(s) sweep every {format_seconds(broker.sweep_period)}"
                  if broker.kind == "redis" and broker.visibility_timeout is not None else "")
        needs = (f"more than {MAX_EVENTS:,} events" if len(self.trace.events) <= MAX_RECORDS
                 else f"a timeline of more than {MAX_RECORDS:,} entries")
        return (f"the replay needs {needs} (stopped at {format_seconds(at)} of "
                f"{format_seconds(self.until)}{sweeps}): shorten until, or submit fewer tasks")

    # -- the end ------------------------------------------------------------------

    def finish(self) -> Trace:
        pending = self.broker.store.message_ids()
        for worker in self.workers.values():
            pending |= {r.message.id for r in [*worker.ready, *worker.scheduled, *worker.piped()]}
            pending |= {e.request.message.id for e in worker.running() if not e.finished}
        self.trace.pending_at_end = sorted(pending)
        self.trace.broker_bytes_end = self.broker.store.bytes_held()
        return self.trace

    def _default_until(self) -> float:
        last = max([s.at + s.every * (s.count - 1) for s in self.scenario.submit]
                   + [f.at for f in self.scenario.faults] + [0.0])
        longest = max(_max_duration(t.duration) for t in self.scenario.tasks.values())
        return last + 4 * max(longest, 1.0) + 3 * self.config.broker.sweep_period


def _max_duration(duration: Any) -> float:
    return float(duration.max) if hasattr(duration, "max") else float(duration)


def _chain_callbacks(steps: list[Step]) -> tuple[Callback, ...]:
    """The rest of a chain as nested callbacks, built from its end (a chain may be long)."""
    then: tuple[Callback, ...] = ()
    for step in reversed(steps):
        then = (Callback(step, then),)
    return then
