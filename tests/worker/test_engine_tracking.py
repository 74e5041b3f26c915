"""The engine looks only at the workers that reported a change (Worker -> Engine.worker_changed).
After every event, what it keeps must equal what a look at every worker finds: whether each may
consume (its prefetch window has room), the list of those that may, and how many requests each
reserves."""
from __future__ import annotations

from pathlib import Path

import pytest

from qlint.worker import load_scenario, parse_scenario, prepare_scenario
from qlint.worker.broker import MemoryStore
from qlint.worker.engine import Engine, VirtualClock
from qlint.worker.from_project import project_provider
from qlint.worker.replay import checked_config
from qlint.worker.virtual import VirtualExecutor

SCENARIOS = sorted((Path(__file__).parents[2] / "examples" / "scenarios").glob("*.yaml"))

# Kills, restarts, a warm shutdown, revokes, ETAs, two queues, prefetch off, unlimited and
# disabled, retries and redeliveries, the fcfs strategy: every path that changes what a worker holds.
MIXED = """
settings:
  broker_url: "{broker}"
  task_acks_late: true
  task_reject_on_worker_lost: true
  broker_transport_options: {{visibility_timeout: 60, unacked_restore_interval: 5, unacked_restore_throttle: 1}}
  {routes}
workers:
  - {{name: a, concurrency: 2, prefetch_multiplier: 4, optimization: fcfs{queues}}}
  - {{name: b, concurrency: 3, prefetch_multiplier: 0}}
  - {{name: c, concurrency: 1, prefetch_multiplier: 1}}
  - {{name: d, concurrency: 4, optimization: fcfs{disable}}}
  - {{name: e, concurrency: 2, start: 20}}
tasks:
  short: {{duration: {{min: 1, max: 12}}}}
  long: {{duration: {{min: 50, max: 200}}, time_limit: 150}}
  flaky: {{duration: 3, fails: true, autoretry: true, retry_backoff: 2, max_retries: 3}}
  lost: {{duration: 40, retry_on_worker_lost: true, max_retries: 2, default_retry_delay: 10}}
submit:
  - {{at: 0, task: short, count: 300, every: 0.7}}
  - {{at: 1, task: long, count: 12, every: 17}}
  - {{at: 2, task: short, count: 20, every: 9, countdown: 70}}
  - {{at: 3, task: flaky, count: 8, every: 23}}
  - {{at: 4, task: lost, count: 8, every: 21}}
  - {{at: 5, task: short, id: victim}}
faults:
  - {{at: 5, revoke: victim}}
  - {{at: 40, kill: a/1}}
  - {{at: 60, kill: b}}
  - {{at: 80, restart: b}}
  - {{at: 90, stop: d}}
  - {{at: 130, restart: d}}
  - {{at: 150, revoke: t40, terminate: true}}
until: 400
rabbitmq_consumer_timeout: 100
seed: 3
"""

# One change alone in an event: an idle worker killed; a revoke with SIGUSR1 that acks only.
SINGLE_CHANGES = ["""
settings: {broker_url: "redis://localhost:6379/0"}
workers: [{name: w1, concurrency: 1}, {name: w2, concurrency: 1}]
tasks: {t: {duration: 1}}
submit: [{at: 10, task: t, count: 3}]
faults: [{at: 5, kill: w1}]
until: 20
""", """
settings: {broker_url: "redis://localhost:6379/0", task_acks_late: true}
workers: [{name: w1, concurrency: 1, prefetch_multiplier: 1}]
tasks: {t: {duration: 100, on_soft_limit: ignore}}
submit: [{at: 0, task: t, id: m}, {at: 1, task: t, count: 2}]
faults: [{at: 10, revoke: m, terminate: true, signal: SIGUSR1}]
until: 400
"""]


def mixed(broker: str) -> str:
    redis = broker.startswith("redis")
    return MIXED.format(broker=broker, routes="task_routes: {long: {queue: long}}" if redis else "",
                        queues=", queues: [celery, long]" if redis else "",
                        disable=", disable_prefetch: true" if redis else "")


class Checked(Engine):
    def _sample_reserved(self) -> None:
        super()._sample_reserved()
        if self._consumers is not None:
            assert self._consumers == [w for w in self.workers.values() if w.can_consume()], self.now
        for worker in self.workers.values():
            assert worker.consuming == worker.can_consume(), (self.now, worker.name)
            steps = self.trace.reserved[worker.name]
            held = len(worker.ready) + len(worker.scheduled) + len(worker.piped())
            assert (steps[-1][1] if steps else 0) == held, (self.now, worker.name)


def check(scenario, settings) -> None:
    engine = Checked(scenario, checked_config(scenario, settings), MemoryStore(), VirtualClock(), "virtual")
    engine.executor = VirtualExecutor(engine, scenario)
    trace = engine.run()
    assert trace.events


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_examples(path: Path) -> None:
    scenario, settings, _ = prepare_scenario(load_scenario(path), path.parent, project_provider(False))
    check(scenario, settings)


@pytest.mark.parametrize("broker", ["redis://localhost:6379/0", "amqp://localhost//", "sqs://"])
def test_mixed(broker: str) -> None:
    scenario = parse_scenario(mixed(broker))
    check(scenario, scenario.settings or {})


@pytest.mark.parametrize("text", SINGLE_CHANGES)
def test_single_changes(text: str) -> None:
    scenario = parse_scenario(text)
    check(scenario, scenario.settings or {})
