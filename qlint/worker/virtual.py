"""Virtual time: a run's end is computed from the task's duration and limits."""
from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Callable

from .messages import Message
from .scenario import Scenario, Step, TaskSpec
from .worker import Execution, Outcome

if TYPE_CHECKING:
    from .engine import Engine


def sample_duration(spec: TaskSpec, rng: random.Random) -> float:
    d = spec.duration
    if isinstance(d, (int, float)):
        return float(d)
    return rng.uniform(min(d.min, d.max), max(d.min, d.max))


def planned_end(spec: TaskSpec, duration: float, nargs: int,
                soft: float | None, hard: float | None) -> tuple[float, Outcome]:
    """When and how a run ends if nothing kills it first."""
    if spec.params is not None and nargs != spec.params:
        return 0.0, "failure"  # TypeError: the function is called with the wrong arguments
    if soft and (not hard or soft < hard) and duration > soft and spec.on_soft_limit != "ignore":
        if spec.on_soft_limit == "catch":  # the task returns once it catches SoftTimeLimitExceeded
            return soft, "failure" if spec.fails else "success"
        return soft, "soft-time-limit"  # SoftTimeLimitExceeded raised in the task
    if hard and duration > hard:
        return hard, "time-limit"  # the parent kills the child
    return duration, "failure" if spec.fails else "success"


def errback_arguments(step: Step) -> int:
    """How many arguments an errback called in place gets: (request, exc, traceback) before its own,
    or its own only when it is immutable."""
    return len(step.args) if step.immutable else 3 + len(step.args)


def errback_duration(spec: TaskSpec, step: Step, rng: random.Random) -> float:
    """How long an errback called in place runs: its task's duration, none when the call raises
    TypeError. Whether it then fails changes nothing: the exception is logged."""
    if spec.params is not None and errback_arguments(step) != spec.params:
        return 0.0
    return sample_duration(spec, rng)


def failure_reason(spec: TaskSpec, nargs: int) -> str:
    """What the task raises, as the real executor reports it."""
    if spec.params is not None and nargs != spec.params:
        return (f"TypeError('takes {spec.params} positional argument{'s' if spec.params != 1 else ''} "
                f"but {nargs} {'were' if nargs != 1 else 'was'} given')")
    return "RuntimeError('the scenario says this task fails')"


class VirtualExecutor:
    def __init__(self, engine: "Engine", scenario: Scenario) -> None:
        self.engine, self.scenario = engine, scenario

    def start(self, execution: Execution) -> None:
        task = execution.request.message.task
        spec, policy = self.scenario.tasks[task], self.engine.config.tasks[task]
        duration = sample_duration(spec, self.engine.rng)
        after, outcome = planned_end(spec, duration, len(execution.request.message.args),
                                     policy.soft_time_limit, policy.time_limit)
        worker = self.engine.workers[execution.worker]
        result = spec.returns if outcome != "failure" else failure_reason(spec, len(execution.request.message.args))
        self.engine.schedule(execution.start + after, lambda: worker.finish(execution, outcome, result))

    def kill(self, execution: Execution) -> None:
        """Nothing to stop: the scheduled end finds the run already finished."""

    def soft_limit(self, execution: Execution) -> None:
        """SoftTimeLimitExceeded raised now; the task ends or carries on as its on_soft_limit says."""
        spec = self.scenario.tasks[execution.request.message.task]
        if spec.on_soft_limit == "ignore":
            return
        worker = self.engine.workers[execution.worker]
        if spec.on_soft_limit == "catch":
            outcome: Outcome = "failure" if spec.fails else "success"
            nargs = len(execution.request.message.args)
            worker.finish(execution, outcome, spec.returns if outcome == "success" else failure_reason(spec, nargs))
        else:
            worker.finish(execution, "soft-time-limit")

    def errback(self, step: Step, failed: Message, reason: str, done: Callable[[], None]) -> Any:
        seconds = errback_duration(self.scenario.tasks[step.task], step, self.engine.rng)
        self.engine.schedule(self.engine.now + seconds, done)
        return None

    def stop_errback(self, handle: Any) -> None:
        """Nothing to stop: the worker ignores the errback's end."""
