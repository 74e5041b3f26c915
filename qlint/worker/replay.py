"""Entry points: replay a scenario in virtual time (here) or real time (real.py)."""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Any, Iterator

from .broker import MemoryStore
from .config import replay_config
from .engine import Engine, VirtualClock
from .scenario import Scenario, ScenarioError
from .trace import Trace
from .virtual import VirtualExecutor


def checked_config(scenario: Scenario, settings: dict[str, Any]):
    try:
        return replay_config(scenario, settings)
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"settings: {exc}") from None


def simulate(scenario: Scenario, settings: dict[str, Any], seed: int | None = None) -> Trace:
    if seed is not None:
        scenario = scenario.model_copy(update={"seed": seed})
    engine = Engine(scenario, checked_config(scenario, settings), MemoryStore(), VirtualClock(), "virtual")
    engine.executor = VirtualExecutor(engine, scenario)
    # A replay keeps what it records to its end and leaves no cycles behind as it goes (the engine
    # and its workers become one when it returns): the collector's passes over the growing heap
    # found nothing and took a sixth of a long replay.
    with collector_paused():
        return engine.run()


@contextmanager
def collector_paused() -> Iterator[None]:
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
