"""`qlint simulate --format json` is written as it is encoded: the same text as json.dumps of the
whole trace, indented, with json's own conversions."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from qlint.worker import load_scenario, parse_scenario, prepare_scenario, simulate
from qlint.worker.from_project import project_provider
from qlint.worker.render_json import write_json
from qlint.worker.trace import DeliveryRecord, Event, ExecutionRecord, Trace

SCENARIOS = sorted((Path(__file__).parents[2] / "examples" / "scenarios").glob("*.yaml"))

# Arguments and results of every JSON kind, text json escapes, a chord's list of results, an
# errback's id, a kill, ETAs and redeliveries.
ODD_VALUES = """
settings: {broker_url: "redis://localhost:6379/0", task_acks_late: true,
           broker_transport_options: {visibility_timeout: 20, unacked_restore_interval: 5, unacked_restore_throttle: 1}}
workers: [{name: w1, concurrency: 2}, {name: "w-2", concurrency: 1, prefetch_multiplier: 1}]
tasks:
  a: {duration: {min: 1, max: 30}, returns: {"k\\u00e9y": [1, 2.5, null, true, "\\"q\\"\\n"], "": {}}}
  b: {duration: 2, returns: -0.0}
  c: {duration: 1, fails: true}
  e: {duration: 1}
submit:
  - {at: 0, task: a, count: 20, every: 0.5, args: [2024-05-01, [], {}, [[1, [2]], {"x": {"y": []}}], "ü ☃ \\t", 1e300, -7]}
  - {at: 1, chord: {header: [{task: a}, {task: b, args: [false]}], body: {task: e, args: [3]}}}
  - {at: 2, task: c, link_error: {task: e}}
  - {at: 3, chain: [{task: a}, {task: b}, {task: e, immutable: true}], countdown: 40}
faults: [{at: 10, kill: w1}]
until: 200
"""


def expected(trace, extra) -> str:
    return json.dumps({**trace.to_json(), **extra}, indent=2, default=str) + "\n"


def written(trace, extra) -> str:
    out = io.StringIO()
    write_json(trace, out, extra)
    return out.getvalue()


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_examples(path: Path) -> None:
    scenario, settings, notes = prepare_scenario(load_scenario(path), path.parent, project_provider(False))
    trace = simulate(scenario, settings)
    assert written(trace, {"notes": notes}) == expected(trace, {"notes": notes})


def test_odd_values() -> None:
    scenario = parse_scenario(ODD_VALUES)
    trace = simulate(scenario, scenario.settings or {})
    extra = {"notes": ["a note ✓", "two"], "more": {"nan": float("nan"), "inf": [float("-inf")], 3: None}}
    assert written(trace, extra) == expected(trace, extra)
    assert '"x": {' in written(trace, {})  # a mapping inside the arguments of a run


def test_odd_record_fields() -> None:
    # The fields of a batch of records are encoded a column at a time: columns of one plain type or
    # of several, floats json writes as NaN or Infinity, a value json converts with default=str.
    trace = Trace(mode="virtual", broker="redis", until=10.0, published={"t1": 0.0, "t2": 1.0})
    trace.events = [Event(1.0, "run", "w1", "t1", "é"), Event(float("nan"), "end"), Event(float("inf"), "x", detail=Path("p"))]
    trace.executions = [ExecutionRecord("t1", "a", "w1", 1, 0.0, None, "running", 1, False, []),
                        ExecutionRecord("t2", "a", "w1", True, 2, float("-inf"), "success", 2, None, [1.5, {"k": None}])]
    trace.deliveries = [DeliveryRecord("t1", "a", "w1", 0, True), DeliveryRecord("t2", "a", "w1", 1.5, False)]
    trace.reserved = {"w1": [(0.0, 1), (2.5, 0)], "w2": [], "w3": [(1, 2)]}
    # Lists of one length are encoded a column at a time too, nested ones as well.
    extra = {"rows": [[1, "a"], (2.5, None), [float("nan"), True]], "nested": [[[1], {"k": [2]}], [(3,), {}]],
             "ragged": [[1], [1, 2], []], "empty rows": [[], []]}
    assert written(trace, extra) == expected(trace, extra)
