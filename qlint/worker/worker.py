"""The worker side: one Celery worker with its pool slots, prefetch window, ETA
timer, revoked set, and the ack/reject decision at the end of each run.

Sources: celery/worker/strategy.py (receipt, ETA), worker/request.py (accept,
success, failure, timeout, worker lost, revoke), worker/state.py (revoked ids,
statedb), kombu/transport/virtual/base.py (QoS.can_consume).
"""
from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Protocol

from .broker import Broker, Unacked
from .config import ReplayConfig, TaskPolicy, WorkerConfig
from .messages import Message
from .scenario import Scenario, Step

Outcome = Literal[
    "success", "failure", "retry", "soft-time-limit", "time-limit", "worker-lost", "terminated", "running"
]

# Failures that trace_task handles in the pool process (the task raised): there it calls the errbacks.
IN_CHILD = ("failure", "soft-time-limit")


def _reason(outcome: str, result: Any) -> str:
    """The exception an errback called in place receives, as text."""
    return {"soft-time-limit": "SoftTimeLimitExceeded()", "time-limit": "TimeLimitExceeded()",
            "worker-lost": "WorkerLostError('Worker exited prematurely')"}.get(outcome, str(result))


@dataclass(eq=False)
class Errbacks:
    """The errbacks of one failure still to call or send, in order, and what follows them."""

    work: deque[tuple[Step, bool]]
    message: Message
    place: Execution | None  # whose pool process calls them; None: the worker's main process
    reason: str
    then: Callable[[], None]
    generation: int
    handle: Any = None  # the executor's, for the errback running now
    done: bool = False


@dataclass(slots=True)
class Request:
    message: Message
    delivery: Unacked
    worker: str
    received_at: float
    # fcfs only, for a job waiting in a process's pipe: revoked with terminate (the signal), which Celery
    # applies once a process accepts the job; or dropped by the pool (a warm shutdown, a closed channel)
    # while its process still reads and runs it, so nothing acks or rejects its message.
    terminate: str | None = None
    dropped: bool = False


@dataclass(eq=False, slots=True)  # compared by identity: `None in slots` stays in C
class Execution:
    request: Request
    worker: str
    slot: int
    start: float
    number: int  # 1 for the first run of this message id, 2 for the second...
    end: float | None = None
    outcome: Outcome = "running"
    result: Any = None
    handle: Any = None  # the executor's own handle (a timer entry or a process)

    @property
    def finished(self) -> bool:
        return self.end is not None


class Executor(Protocol):
    """Runs an execution's task: as virtual events, or as a real process (virtual.py, real.py)."""

    def start(self, execution: Execution) -> None: ...
    def kill(self, execution: Execution) -> None: ...
    def soft_limit(self, execution: Execution) -> None: ...  # SIGUSR1 now
    def errback(self, step: Step, failed: Message, reason: str, done: Callable[[], None]) -> Any:
        """Run an errback's body in place; done() once it returns. Returns a handle for stop_errback."""
    def stop_errback(self, handle: Any) -> None: ...


class Host(Protocol):
    """The replay a worker runs in, as the worker uses it (engine.Engine)."""

    broker: Broker
    config: ReplayConfig
    executor: Executor
    scenario: Scenario
    workers: dict[str, "Worker"]
    rng: random.Random
    succeeded: dict[str, float]  # message id -> when the result backend got its success

    @property
    def now(self) -> float: ...
    def fmt(self, at: float) -> str: ...
    def schedule(self, at: float, action: Callable[[], None]) -> None: ...
    def record(self, kind: str, worker: str = "", message: str = "", detail: str = "",
               delivery: Unacked | None = None) -> None: ...
    def mark_revoked(self, task_id: str) -> None: ...
    def begin_execution(self, request: Request, worker: str, slot: int) -> Execution: ...
    def end_execution(self, execution: Execution) -> None: ...
    def worker_changed(self, worker: "Worker") -> None: ...  # its window or reserved requests
    def on_success(self, execution: Execution) -> None: ...
    def on_failure(self, message: Message, calls: int = 1) -> list[tuple[Step, bool]]: ...  # mark_as_failure
    def send_errback(self, step: Step, failed: str) -> None: ...
    def retry(self, message: Message, delay: float, why: str) -> None: ...



@dataclass
class Worker:
    # Every change to what can_consume() reads or to the requests it reserves (alive, stopping, slots,
    # ready, scheduled, held) is reported to engine.worker_changed: the engine looks at no other worker.
    config: WorkerConfig
    engine: "Host"
    alive: bool = False
    stopping: bool = False
    slots: list[Execution | None] = field(default_factory=list)
    ready: deque[Request] = field(default_factory=deque)  # received, waiting for a slot
    scheduled: list[Request] = field(default_factory=list)  # ETA/countdown, on the timer
    # kombu's QoS._delivered: the unacked tags in delivery order (an ordered dict; a tag
    # delivered again keeps its place)
    held: dict[str, None] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    saved_revokes: set[str] = field(default_factory=set)  # the statedb file
    waiting_since: float = 0.0  # when its pending BRPOP was issued (Redis serves the oldest first)
    consuming: bool = False  # whether it had room in its prefetch window at the last look
    generation: int = 0  # bumps at each (re)start so stale timers do nothing
    mingling: bool = False  # connected, waiting for its peers' replies: not consuming yet
    # kombu's Channel._queue_cycle: the keys BRPOP is given, in order; the queue a message came from
    # goes to the end, so a worker on several queues takes from each in turn.
    queue_cycle: list[str] = field(default_factory=list)
    # The main process runs errbacks in place (after a hard time limit or a lost process): its event
    # loop is stopped, so it takes no message, acks nothing, starts no job and reads no result until
    # they return; what reaches it meanwhile waits in after_block.
    blocked: bool = False
    after_block: list[Callable[[], None]] = field(default_factory=list)
    # The errbacks running in place, by pool slot (0: the main process).
    errback_runs: dict[int, "Errbacks"] = field(default_factory=dict)
    # fcfs: the jobs written to each process's pipe (by slot index) that it has not read yet. With the fair
    # strategy a job is written to an idle process only, so these stay empty.
    pipes: list[deque[Request]] = field(default_factory=list)
    # fcfs: when the pool last took a job, and how many it took at that instant before it
    turn: tuple[float, int] = (-1.0, 0)
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = self.config.name

    # -- life cycle -------------------------------------------------------------

    def start(self) -> None:
        engine = self.engine
        self.alive, self.stopping = True, False
        self.generation += 1
        self.slots = [None] * self.config.concurrency
        self.pipes = [deque() for _ in range(self.config.concurrency)]
        self.queue_cycle = list(self.config.queues)
        self.ready.clear()
        self.scheduled.clear()
        self.held.clear()
        self.revoked = set(self.saved_revokes) if self.config.statedb else set()
        self.blocked, self.after_block, self.errback_runs = False, [], {}
        engine.worker_changed(self)
        self.waiting_since = engine.now
        mingle = (f"mingle: waits {engine.fmt(self.config.mingle_wait)} for its peers' replies before consuming"
                  if self.config.mingle_wait else "without mingle")
        engine.record("start", worker=self.name,
                      detail=f"concurrency {self.config.concurrency}, prefetch "
                             f"{self.config.prefetch_count or 'unlimited'}, {len(self.revoked)} revoked id(s) known; {mingle}")
        self._connect()

    def _connect(self) -> None:
        """The consumer's start, and its restart after a lost connection: the restore sweep on connect
        (kombu's on_poll_init), then mingle, then the first BRPOP."""
        self._sweep(generation=self.generation)
        if self.config.mingle_wait:
            self._mingle()

    def _mingle(self) -> None:
        """celery/worker/consumer/mingle.py: broadcast hello with the revoked ids this worker knows; each
        peer listening merges them and replies with its own (control.hello), and the worker waits
        mingle_wait for replies before its Tasks and Control steps start: it neither consumes nor hears
        broadcasts meanwhile."""
        engine = self.engine
        self.mingling = True
        engine.worker_changed(self)
        own = set(self.revoked)
        peers = [p for p in engine.workers.values() if p.listening and p is not self]
        for peer in peers:
            peer.revoked |= own
            self.revoked |= peer.revoked
        generation = self.generation
        replies = f"synced with {len(peers)} node(s)" if peers else "all alone"
        engine.schedule(engine.now + self.config.mingle_wait, lambda: self._mingled(generation, replies))

    def _mingled(self, generation: int, replies: str) -> None:
        if generation != self.generation or not self.mingling:
            return
        self.mingling = False
        self.engine.worker_changed(self)
        self.engine.record("mingle", worker=self.name,
                           detail=f"{replies}, {len(self.revoked)} revoked id(s) known: consuming")

    @property
    def listening(self) -> bool:
        """Whether it hears broadcasts (revoke, mingle's hello): its Control step runs after mingle."""
        return self.alive and not self.mingling

    def _sweep(self, generation: int) -> None:
        """Restore sweeps: one on connect, then every interval x throttle seconds."""
        if not self.alive or generation != self.generation:
            return
        if self.blocked:  # a timer of the stopped event loop
            self.after_block.append(lambda: self._sweep(generation))
            return
        engine = self.engine
        engine.broker.restore_visible(engine.now, by=self.name)
        if engine.broker.config.kind == "redis":
            engine.schedule(engine.now + engine.broker.config.sweep_period, lambda: self._sweep(generation))

    def kill(self) -> None:
        """SIGKILL of the main process: children die with it, nothing is acked or
        given back, and the in-memory revoked set is gone."""
        if not self.alive:
            return
        self.engine.record("kill", worker=self.name,
                           detail=f"{len(self.held)} unacked message(s) stay reserved in the broker")
        for chain in self.errback_runs.values():
            self.engine.executor.stop_errback(chain.handle)
        for pipe in self.pipes:
            pipe.clear()
        for execution in self.running():
            if execution.finished:  # its process was running an errback
                continue
            self.engine.executor.kill(execution)
            self._end(execution, "worker-lost", settle=False)
        self._down()

    def stop(self) -> None:
        """Warm shutdown: stop consuming, let running tasks finish (reserved ones are not
        started), then give back every message still held (virtual.QoS.restore_unacked_once)."""
        if self.blocked:  # the signal is handled by the event loop
            self.after_block.append(self.stop)
            return
        if self.alive and not self.stopping:
            self.stopping = True
            self.engine.worker_changed(self)
            self.engine.record("stop", worker=self.name, detail="warm shutdown: waiting for running tasks"
                               + self._drop_piped("the warm shutdown"))
            self._maybe_finish_stop()

    def _drop_piped(self, why: str) -> str:
        """AsynPool.flush forgets the jobs no process has accepted, but those already in a process's pipe
        are still read and run by it; their messages stay unacked and go back to the broker with the rest."""
        piped = [r for pipe in self.pipes for r in pipe]
        for request in piped:
            request.dropped = True
        if not piped:
            return ""
        return (f"; {', '.join(r.message.id for r in piped)} already in a process's pipe (fcfs): each still runs "
                f"there, but {why} drops its result and leaves its message unacked")

    def _maybe_finish_stop(self) -> None:
        if not self.stopping or self.running() or self.blocked or any(self.pipes):
            return
        self.engine.broker.restore_held(self.name, self._held_for_restore(), why=f"warm shutdown of {self.name}")
        if self.config.statedb:
            self.saved_revokes = set(self.revoked)
        self.engine.record("down", worker=self.name,
                           detail="revoked ids saved to the state db" if self.config.statedb else "revoked ids forgotten")
        self._down()

    def _down(self) -> None:
        self.alive = self.stopping = self.mingling = self.blocked = False
        self.after_block.clear()
        self.errback_runs.clear()
        for pipe in self.pipes:
            pipe.clear()
        self.generation += 1
        self.ready.clear()
        self.scheduled.clear()
        self.held.clear()
        self.revoked = set()
        self.engine.worker_changed(self)

    def _held_for_restore(self) -> list[str]:
        """virtual.QoS.restore_unacked pops _delivered from its end and RPUSHes each to the
        head of the queue: the first delivered is pushed last and is taken first again."""
        return list(reversed(self.held))

    def close_channel(self, tag: str) -> None:
        """RabbitMQ closed the channel (consumer_timeout): every held message is
        requeued; the consumer reconnects and drops its reserved requests."""
        timeout = self.engine.broker.config.consumer_timeout
        self.engine.record("channel-closed", worker=self.name, message=tag,
                           detail=f"delivery unacked past consumer_timeout {timeout:g}s"
                                  + self._drop_piped("the closed channel"))
        self.engine.broker.restore_held(self.name, self._held_for_restore(), why=f"channel of {self.name} closed")
        self.held.clear()
        self.ready.clear()
        self.scheduled.clear()
        self.engine.worker_changed(self)
        self.generation += 1
        self._connect()

    # -- consuming --------------------------------------------------------------

    def running(self) -> list[Execution]:
        return [e for e in self.slots if e is not None]

    def piped(self) -> list[Request]:
        """fcfs: the jobs waiting in the processes' pipes."""
        return [r for pipe in self.pipes for r in pipe]

    def _in_pool(self) -> int:
        """Jobs handed to the pool and not yet reported done. The worker's semaphore (one per process,
        celery/worker/components.py) admits the next reserved request only below the process count."""
        return len(self.slots) - self.slots.count(None) + sum(map(len, self.pipes))

    def can_consume(self) -> bool:
        """kombu's QoS.can_consume, with the ETA increments of strategy.py."""
        if not self.alive or self.stopping or self.mingling or self.blocked:
            return False
        # worker_disable_prefetch: no more while state.reserved_requests (running, or received and
        # waiting; not those held for their ETA) reach the process count, i.e. while no process is left
        # for the next message.
        if self.config.disable_prefetch and len(self.ready) + sum(map(len, self.pipes)) >= self.slots.count(None):
            return False
        window = self.config.prefetch_count
        return not window or len(self.held) < window + len(self.scheduled)

    def took_from(self, queue: str) -> None:
        if len(self.queue_cycle) > 1:
            self.queue_cycle.remove(queue)
            self.queue_cycle.append(queue)

    def receive(self, delivery: Unacked) -> None:
        engine, message = self.engine, delivery.message
        now = engine.now
        request = Request(message, delivery, self.name, now)
        self.held.setdefault(message.tag, None)
        engine.worker_changed(self)
        detail = ["redelivered"] if message.redelivered else []
        waits = message.eta is None or message.eta <= now
        if waits and self._in_pool() >= self.config.concurrency and message.id not in self.revoked:
            busy = ", ".join([f"{self.name}/{e.slot} runs {e.request.message.id}" for e in self.slots if e is not None])
            piped = ", ".join([f"{r.message.id} waits in the pipe of {self.name}/{i + 1}"
                               for i, pipe in enumerate(self.pipes) for r in pipe])
            if piped:  # fcfs: a process may be idle, yet the pool holds a job per process
                detail.append(f"reserved: the pool holds as many jobs as processes ({busy}; {piped})")
            else:
                detail.append(f"reserved behind busy processes ({busy})")
        engine.record("deliver", worker=self.name, message=message.id, detail="; ".join(detail), delivery=delivery)
        self.waiting_since = now
        if not engine.config.accepts(message.serializer):
            # ContentDisallowed on receipt: Consumer.on_invalid_task rejects without requeue.
            engine.record("invalid", worker=self.name, message=message.id,
                          detail=f"refusing to deserialize untrusted content of type {message.serializer} "
                                 "(not in accept_content): rejected, never run")
            self._reject(request, requeue=False)
            return
        if self._discard_if_revoked(request):
            return
        broker = engine.broker
        if broker.config.kind == "sqs":
            engine.schedule(engine.now + broker.config.visibility_timeout,
                            lambda: broker.visibility_expired(message.tag, delivery.delivery))
        if broker.config.kind == "amqp":
            generation = self.generation
            engine.schedule(engine.now + broker.config.consumer_timeout,
                            lambda: self._check_consumer_timeout(message.tag, delivery.delivery, generation))
        if message.eta is not None and message.eta > engine.now:
            self.scheduled.append(request)
            generation = self.generation
            engine.schedule(message.eta, lambda: self._eta_due(request, generation))
            engine.record("eta-held", worker=self.name, message=message.id,
                          detail=f"held reserved until its ETA at {engine.fmt(message.eta)}, no slot used")
        else:
            self.ready.append(request)
        self.dispatch()

    def _check_consumer_timeout(self, tag: str, delivery: int, generation: int) -> None:
        if self.alive and generation == self.generation and self.engine.broker.still_unacked(tag, delivery):
            self.close_channel(tag)

    def _eta_due(self, request: Request, generation: int) -> None:
        if generation != self.generation or request not in self.scheduled:
            return
        self.scheduled.remove(request)
        self.ready.append(request)
        self.engine.worker_changed(self)
        self.dispatch()

    def _discard_if_revoked(self, request: Request) -> bool:
        if request.message.id not in self.revoked:
            return False
        self.engine.record("discard", worker=self.name, message=request.message.id,
                           detail="revoked: acked without running")
        self._ack(request)
        self.engine.mark_revoked(request.message.id)
        return True

    def dispatch(self) -> None:
        """Hand ready requests to the pool while it holds fewer jobs than processes. With the fair strategy
        a job goes to an idle process only; with fcfs to the first process whatever it runs (_fcfs). A worker
        shutting down hands over nothing more: AsynPool.flush drops the jobs no process accepted, and their
        messages go back to the broker with the rest of what the worker held."""
        while self.alive and not self.blocked:
            if any(self.pipes) and self._start_piped():
                continue
            if self.stopping or not self.ready or self._in_pool() >= self.config.concurrency:
                return
            request = self.ready.popleft()
            self.engine.worker_changed(self)
            if self._discard_if_revoked(request):  # Request.execute_using_pool
                continue
            if self.config.optimization == "fcfs":
                at, taken = self.turn
                taken = taken + 1 if at == self.engine.now else 0
                self.turn = (self.engine.now, taken)
                self._fcfs(request, first=taken % 2)
            else:
                self._begin(request, self.slots.index(None))

    def _fcfs(self, request: Request, avoid: int | None = None, first: int = 0) -> None:
        """Write the job to a process's pipe as the fcfs strategy does (first: its place in the turn).

        Each turn of Celery's event loop writes the jobs pending since the last one to the writable
        inqueues, one each, starting again from the inqueue the loop lists first; a pipe stays writable
        while it has room (64 KiB, and the semaphore keeps at most one job per process in the pool). So a
        job that reaches the pool alone goes to the same process every time, busy or not: here the first
        slot. A burst already in Redis is read one message per turn, and the job read in one turn is
        written in the next along with the one read then: the burst goes two by two to the first and the
        second process (first 0 and 1). Jobs put back after a process died go to the others in turn."""
        order = [i for i in range(len(self.slots)) if i != avoid] or [avoid or 0]
        slot = order[first % len(order)]
        pipe = self.pipes[slot]
        pipe.append(request)
        self.engine.worker_changed(self)
        current = self.slots[slot]
        if current is None and len(pipe) == 1:
            return  # an idle process reads it at once (_start_piped)
        idle = [f"{self.name}/{i + 1}" for i, e in enumerate(self.slots) if e is None and not self.pipes[i]]
        busy = f"runs {current.request.message.id}" if current is not None else "is busy"
        self.engine.record("queued", worker=f"{self.name}/{slot + 1}", message=request.message.id,
                           detail=f"fcfs: written to the pipe of {self.name}/{slot + 1}, which {busy}"
                                  + (f" and has {len(pipe) - 1} job(s) before it" if len(pipe) > 1 else "")
                                  + (f", while {', '.join(idle)} idle" if idle else ""))

    def _start_piped(self) -> bool:
        """An idle process reads the next job from its pipe; True when one was read."""
        for slot, pipe in enumerate(self.pipes):
            if pipe and self.slots[slot] is None:
                request = pipe.popleft()
                self.engine.worker_changed(self)
                self._begin(request, slot)
                return True
        return False

    def _put_back(self, slot: int) -> None:
        """A process died with jobs in its pipe: the pool puts them back at the head of its buffer, each
        in front of the one before (so in reverse), and writes them to the processes still up."""
        pipe = self.pipes[slot]
        jobs, self.pipes[slot] = list(reversed(pipe)), deque()
        for turn, request in enumerate(jobs):
            self._fcfs(request, avoid=slot, first=turn)

    def _begin(self, request: Request, slot: int) -> None:
        """A pool process takes the job (slot is an index): it runs, unless deduplication skips it."""
        if self._deduplicated(request, slot):
            return
        execution = self.engine.begin_execution(request, self.name, slot + 1)
        self.slots[slot] = execution
        if not self.policy(request).acks_late:
            self._ack(request)  # Request.on_accepted: early ack
        self.engine.executor.start(execution)
        if request.terminate is not None:  # revoked with terminate while in the pipe: on_accepted terminates
            self.engine.mark_revoked(request.message.id)
            self._terminate(execution, request.terminate)

    def _deduplicated(self, request: Request, slot: int) -> bool:
        """trace_task's check before the task body runs, for a redelivered message."""
        message = request.message
        if not message.redelivered:
            return False
        policy, engine = self.policy(request), self.engine
        if policy.dedupe is None:
            return False
        if policy.dedupe == "no-backend":
            engine.record("dedupe-error", worker=self.name, message=message.id,
                          detail="no result backend to ask whether it succeeded (AttributeError from "
                                 "DisabledBackend): the copy fails without running")
            # A pool process took the job: trace_task's on_error (mark_as_failure) calls the errbacks
            # there, and the process reports the failure once they return.
            job = Execution(request, self.name, slot + 1, engine.now, 0, end=engine.now, outcome="failure")
            self.slots[slot] = job
            engine.worker_changed(self)

            def settle() -> None:
                if policy.acks_late and not policy.acks_on_failure:
                    self._reject(request, requeue=False)
                else:
                    self._ack(request)
                self._free(job)

            self._mark_failed(message, job, "DisabledBackend has no result to ask", settle)
            return True
        stored = engine.succeeded.get(message.id)
        if stored is None or (policy.result_expires is not None and engine.now - stored >= policy.result_expires):
            return False
        engine.record("dedupe", worker=self.name, message=message.id,
                      detail="redelivered, and the result backend holds its success: acked without running")
        self._ack(request)
        return True

    def policy(self, request: Request) -> TaskPolicy:
        return self.engine.config.tasks[request.message.task]

    # -- ending a run -------------------------------------------------------------

    def _ack(self, request: Request) -> None:
        if request.dropped:
            return
        self.engine.broker.ack(request.message.tag)
        self.held.pop(request.message.tag, None)
        self.engine.worker_changed(self)

    def _reject(self, request: Request, requeue: bool) -> None:
        if request.dropped:
            return
        self.engine.broker.reject(request.message.tag, requeue)
        self.held.pop(request.message.tag, None)
        self.engine.worker_changed(self)

    def finish(self, execution: Execution, outcome: Outcome, result: Any = None) -> None:
        """The pool reports the end of a run (from the executor)."""
        if execution.finished or not self.alive:
            return
        if self.blocked:  # the result waits in the pipe until the event loop reads it
            self.after_block.append(lambda: self.finish(execution, outcome, result))
            return
        execution.result = result
        if outcome == "failure" and self._autoretry_due(execution.request):
            outcome = "retry"
        self._end(execution, outcome, settle=True)
        self.dispatch()
        self._maybe_finish_stop()

    def _end(self, execution: Execution, outcome: Outcome, settle: bool) -> None:
        execution.end, execution.outcome = self.engine.now, outcome
        if not settle or outcome not in IN_CHILD:
            self._free(execution)
        self.engine.end_execution(execution)
        if settle and outcome in ("time-limit", "worker-lost", "terminated"):
            self._put_back(execution.slot - 1)  # its process is gone, not the jobs in its pipe
        if settle:
            self._settle(execution)

    def _free(self, execution: Execution) -> None:
        if self.slots[execution.slot - 1] is execution:
            self.slots[execution.slot - 1] = None
            self.engine.worker_changed(self)

    def _settle(self, execution: Execution) -> None:
        """Request.on_success / on_failure / on_timeout: the exact ack or reject."""
        request, outcome = execution.request, execution.outcome
        policy = self.policy(request)
        if outcome == "terminated":
            self._ack(request)  # _announce_revoked acknowledges
            return
        if outcome == "success":
            if policy.acks_late:
                self._ack(request)
            self.engine.on_success(execution)
            return
        if outcome == "retry":  # Request.on_retry: no failure; the new message carries the canvas
            self.engine.retry(request.message, self._retry_countdown(request), "autoretry")
            if policy.acks_late:
                self._ack(request)
            return
        lost = outcome == "worker-lost"
        exceeded = lost and policy.retry_on_worker_lost and policy.max_retries is not None \
            and request.message.retries >= policy.max_retries
        if lost and policy.retry_on_worker_lost and not exceeded:
            self.engine.retry(request.message, policy.retry_delay, "worker lost")
            if policy.acks_late:
                self._ack(request)
            return
        requeued = lost and policy.acks_late and policy.reject_on_worker_lost and not exceeded

        def settle() -> None:
            self._free(execution)
            if not policy.acks_late:
                return  # acked when the slot accepted it
            if outcome == "time-limit":
                if policy.acks_on_timeout:
                    self._ack(request)
                else:
                    self._reject(request, requeue=policy.timeout_requeues)
            elif requeued:
                self._reject(request, requeue=True)
            elif policy.acks_on_failure:
                self._ack(request)
            else:
                self._reject(request, requeue=False)

        if requeued:
            settle()
            return
        calls = 1
        if outcome == "time-limit":
            # The pool's hard-timeout handler fails the job (Request.on_failure) and then calls
            # Request.on_timeout: each marks the failure, so the errbacks run twice, unless
            # on_failure requeued the message (late ack, timeouts not acked, Celery 5.5 on).
            calls = 1 if policy.acks_late and not policy.acks_on_timeout and policy.timeout_requeues else 2
        # mark_as_failure: the chord fails, the chain stops, the errbacks are called. In the pool
        # process after the task raised; in the main process after a hard limit or a lost process.
        place = execution if outcome in IN_CHILD else None
        self._mark_failed(request.message, place, _reason(outcome, execution.result), settle, calls)

    def _mark_failed(self, message: Message, place: Execution | None, reason: str,
                     then: Callable[[], None], calls: int = 1) -> None:
        """Backend.mark_as_failure, then `then` (the ack or reject). Errbacks called in place run in
        `place`'s pool process, which takes no other job until they return, or in the main process
        when place is None (blocked meanwhile)."""
        chain = Errbacks(deque(self.engine.on_failure(message, calls)), message, place, reason, then, self.generation)
        self._next_errback(chain, waited=False)

    def _next_errback(self, chain: "Errbacks", waited: bool, ended: str = "returned") -> None:
        if chain.generation != self.generation or chain.done:
            return  # the worker was killed meanwhile, or the process running them
        engine, place, message = self.engine, chain.place, chain.message
        key = place.slot if place is not None else 0
        if waited:
            engine.record("errback-end", worker=self._where(place), message=message.id, detail=ended)
        while chain.work:
            step, inline = chain.work.popleft()
            if not inline:
                engine.send_errback(step, message.id)
                continue
            if place is None and not self.blocked:
                self.blocked = True
                engine.worker_changed(self)
            where = (f"the pool process {self._where(place)}, which takes no other task until it returns"
                     if place is not None else
                     f"{self.name}'s main process, which takes, acks and starts nothing until it returns")
            engine.record("errback", worker=self._where(place), message=message.id,
                          detail=f"{step.task}(request, exc, traceback) called in {where}")
            chain.handle = engine.executor.errback(step, message, chain.reason,
                                                   lambda: self._next_errback(chain, waited=True))
            self.errback_runs[key] = chain
            return
        chain.done = True
        self.errback_runs.pop(key, None)
        if waited:
            self._errbacks_returned(chain)
        else:
            chain.then()  # the caller goes on

    def _errbacks_returned(self, chain: "Errbacks") -> None:
        if chain.generation != self.generation:
            return
        if chain.place is not None and self.blocked:  # the pool process's report waits for the event loop
            self.after_block.append(lambda: self._errbacks_returned(chain))
            return
        chain.then()
        if chain.place is None:
            self._unblock()
        self.dispatch()
        self._maybe_finish_stop()

    def _stop_errbacks(self, slot: int) -> None:
        """The process running errbacks died: the rest are not called; the job ends as it was."""
        chain = self.errback_runs.get(slot)
        if chain is None:
            return
        self.engine.executor.stop_errback(chain.handle)
        chain.work.clear()
        self._next_errback(chain, waited=True, ended="stopped: its process was killed")

    def _where(self, place: Execution | None) -> str:
        return f"{self.name}/{place.slot}" if place is not None else self.name

    def _unblock(self) -> None:
        self.blocked = False
        self.engine.worker_changed(self)
        waiting, self.after_block = self.after_block, []
        for action in waiting:
            action()

    def _autoretry_due(self, request: Request) -> bool:
        """Task.retry sends the task again unless its retries are spent (then the failure stands)."""
        spec = self.engine.scenario.tasks[request.message.task]
        return spec.autoretry and (spec.max_retries is None or request.message.retries < spec.max_retries)

    def _retry_countdown(self, request: Request) -> float:
        """celery/app/autoretry.py: default_retry_delay, or get_exponential_backoff_interval."""
        spec = self.engine.scenario.tasks[request.message.task]
        if not spec.retry_backoff:
            return spec.default_retry_delay
        countdown = min(int(spec.retry_backoff_max), int(max(1.0, spec.retry_backoff)) * 2 ** request.message.retries)
        return float(self.engine.rng.randrange(countdown + 1) if spec.retry_jitter else countdown)

    def kill_process(self, slot: int) -> None:
        """SIGKILL one pool process: WorkerLostError for its task; the pool replaces it."""
        execution = self.slots[slot - 1] if 0 < slot <= len(self.slots) else None
        if execution is None:
            self.engine.record("kill", worker=f"{self.name}/{slot}", detail="process was idle")
            return
        if execution.finished:
            # Its task had failed and it was calling errbacks: they stop there. (Celery would also
            # fail the job again as a lost process, from the main process; not modelled.)
            self.engine.record("kill", worker=f"{self.name}/{slot}", message=execution.request.message.id,
                               detail="pool process killed while it ran an errback")
            self._stop_errbacks(slot)
            return
        self.engine.executor.kill(execution)
        self.engine.record("kill", worker=f"{self.name}/{slot}", message=execution.request.message.id,
                           detail="pool process killed while running")
        self.finish(execution, "worker-lost")

    def revoke(self, task_id: str, terminate: bool, signal: str | None = None) -> None:
        if self.blocked:  # the broadcast is read by the event loop
            self.after_block.append(lambda: self.revoke(task_id, terminate, signal))
            return
        self.revoked.add(task_id)
        if not terminate:
            return
        for request in self.piped():
            if request.message.id == task_id:
                request.terminate = signal or "SIGTERM"
        for execution in self.running():
            if execution.request.message.id == task_id and not execution.finished:
                self.engine.mark_revoked(task_id)
                self._terminate(execution, signal)

    def _terminate(self, execution: Execution, signal: str | None) -> None:
        if signal == "SIGUSR1":
            # Request.terminate: the signal, then _announce_revoked acks; the run goes on
            # as the task handles SoftTimeLimitExceeded (a chain continues if it returns).
            self._ack(execution.request)
            self.engine.executor.soft_limit(execution)
            return
        self.engine.executor.kill(execution)
        self.finish(execution, "terminated")
