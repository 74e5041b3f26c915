"""What a replay produced: the timeline, the executions, the deliveries, a summary."""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class Event:
    at: float
    kind: str
    worker: str = ""
    message: str = ""
    detail: str = ""


@dataclass(slots=True)
class ExecutionRecord:
    id: str
    task: str
    worker: str
    slot: int
    start: float
    end: float | None
    outcome: str
    number: int
    redelivered: bool
    args: list[Any]


@dataclass(slots=True)
class DeliveryRecord:
    id: str
    task: str
    worker: str
    at: float
    redelivered: bool


@dataclass
class Trace:
    mode: str
    broker: str
    until: float
    events: list[Event] = field(default_factory=list)
    executions: list[ExecutionRecord] = field(default_factory=list)
    deliveries: list[DeliveryRecord] = field(default_factory=list)
    published: dict[str, float] = field(default_factory=dict)  # id -> first publish time
    tasks: dict[str, str] = field(default_factory=dict)  # id -> task name
    revoked: set[str] = field(default_factory=set)
    pending_at_end: list[str] = field(default_factory=list)
    broker_bytes_peak: int = 0
    broker_bytes_end: int = 0
    workers: dict[str, int] = field(default_factory=dict)  # name -> concurrency
    # name -> [(time, count)]: messages a worker holds without running them (prefetched
    # behind busy slots, or waiting for their ETA), each time the count changes.
    reserved: dict[str, list[tuple[float, int]]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        ids = [ex.id for ex in self.executions]
        per_id = dict.fromkeys(self.published, 0)
        per_id.update(Counter(ids))  # ids run but not published, if any, after the others
        # The first run of each id: reversed, so that the first one is the one kept.
        first_start = dict(zip(reversed(ids), [ex.start for ex in reversed(self.executions)]))
        completed = {ex.id for ex in self.executions if ex.outcome == "success"}
        until = self.until
        waits = [first_start.get(mid, until) - at for mid, at in self.published.items()]
        pending = set(self.pending_at_end)
        failed = {e.id for e in self.executions if e.outcome in ("failure", "soft-time-limit", "time-limit")}
        lost = sorted(
            mid for mid in self.published
            if mid not in completed and mid not in pending and mid not in self.revoked and mid not in failed
        )
        return {
            "executions_per_id": per_id,
            "duplicates": sum(max(0, n - 1) for n in per_id.values()),
            "duplicated_ids": sorted(mid for mid, n in per_id.items() if n > 1),
            "lost": len(lost),
            "lost_ids": lost,
            "never_started": sorted(mid for mid in self.published if mid not in first_start),
            "max_queue_wait": max(waits, default=0.0),
            "revoked": sorted(self.revoked),
            "pending_at_end": sorted(pending),
            "broker_bytes_peak": self.broker_bytes_peak,
            "broker_bytes_end": self.broker_bytes_end,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "broker": self.broker,
            "until": self.until,
            "executions": [asdict(e) for e in self.executions],
            "deliveries": [asdict(d) for d in self.deliveries],
            "reserved": {w: [list(step) for step in steps] for w, steps in self.reserved.items()},
            "events": [asdict(e) for e in self.events],
            "summary": self.summary(),
        }
