"""A snapshot of the broker against the project's expectations: the findings, each with the
code of the rule whose hazard it shows and the broker key it was read from as its location
(`unacked[<delivery tag>]`, a queue's list), line 0 since a key has no lines."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone

from qlint.model import Finding, Span
from qlint.rule import Rule
from qlint.semantics.durations import format_duration
from qlint.live.expectations import Expectations
from qlint.live.redis_state import Envelope, Held, Snapshot


def clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def size(n: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024 or unit == "MiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def who(message: Envelope) -> str:
    task = message.task or "a message qlint cannot read"
    return f"{task} (id {message.id})" if message.id else task


@dataclass(frozen=True)
class Due:
    """When the restore sweeps will push a held message back."""

    at: float | None  # epoch seconds at which it becomes due; None: unknown (no index entry)
    overdue: bool


def due(held: Held, expect: Expectations, now: float) -> Due:
    if held.delivered_at is None:
        return Due(None, False)
    at = held.delivered_at + expect.visibility
    return Due(at, now >= at)


def sweep_phrase(expect: Expectations) -> str:
    return (f"the next restore sweep (each consumer sweeps when it connects and about every "
            f"{format_duration(expect.sweep_every)})")


def findings(snapshot: Snapshot, expect: Expectations, rules: dict[str, type[Rule]]) -> list[Finding]:
    now = snapshot.read_at
    timeout = f"the visibility timeout of {format_duration(expect.visibility)} ({expect.visibility_from})"
    out: list[Finding] = []

    def add(code: str, where: str, message: str) -> None:
        rule = rules[code]
        out.append(Finding(code, rule.name, rule.severity, message, Span(where, 0)))

    for held in sorted(snapshot.held, key=lambda h: (h.delivered_at or 0, h.tag)):
        where = f"{snapshot.unacked_key}[{held.tag}]"
        message, age, when = held.message, held.age(now), due(held, expect, now)
        queue = message.routing_key or "its queue"
        if message.eta is not None:
            if when.overdue and age is not None:
                add("QL104", where,
                    f"{who(message)}, due {_relative(message.eta, now)}, has been held unacked by a worker for "
                    f"{format_duration(round(age))}, past {timeout}: {sweep_phrase(expect)} pushes it back to "
                    f"{queue!r} while the worker that holds it keeps its timer, so it runs twice")
            elif when.at is not None and message.eta > when.at:
                add("QL104", where,
                    f"{who(message)} is due {_relative(message.eta, now)}, after {timeout} runs out at "
                    f"{clock(when.at)}: from then on a restore sweep pushes it back before it is due, while the "
                    f"worker that holds it keeps its timer, so it runs twice")
        elif when.overdue and age is not None:
            add("QL101", where,
                f"{who(message)} has been delivered and not acknowledged for {format_duration(round(age))}, past "
                f"{timeout}: {sweep_phrase(expect)} pushes it back to {queue!r} while its task may still run "
                f"(acknowledged late) or wait behind a busy process (prefetched), and another worker runs it again")
        if message.redelivered:
            add("QL101", where,
                f"{who(message)} is running more than once, or about to: it was pushed back to {queue!r} "
                f"after its visibility timeout and delivered again, while the worker that held it first may still "
                f"run it (unless that worker gave it back at a warm shutdown)")
    for state in snapshot.queues:
        for key, message in state.messages:
            if message.redelivered:
                add("QL101", key,
                    f"{who(message)} waits in {state.name!r} to run again: it was pushed back after being "
                    f"delivered (by a restore sweep past its visibility timeout, a warm shutdown or a requeue), "
                    f"and the run it was delivered for may still be going")
    out += _large(snapshot, expect, rules)
    return out


def _large(snapshot: Snapshot, expect: Expectations, rules: dict[str, type[Rule]]) -> list[Finding]:
    rule = rules["QL201"]
    groups: dict[tuple[str, str], list[Envelope]] = defaultdict(list)
    for state in snapshot.queues:
        for key, message in state.messages:
            if message.size >= expect.large_bytes:
                groups[(key, message.task or "?")].append(message)
    for held in snapshot.held:
        if held.message.size >= expect.large_bytes:
            groups[(snapshot.unacked_key, held.message.task or "?")].append(held.message)
    out = []
    for (key, task), messages in sorted(groups.items()):
        total, largest = sum(m.size for m in messages), max(m.size for m in messages)
        held = key == snapshot.unacked_key
        count = f"{len(messages)} message{'s' if len(messages) != 1 else ''}"
        where = "held unacked by workers" if held else f"queued in {key!r}"
        tail = ("; this is the copy kombu keeps while a worker runs it, besides the one the worker received"
                if held else "; while a worker holds one, `unacked` keeps another full copy")
        out.append(Finding("QL201", rule.name, rule.severity,
                           f"{count} of {task} {where} {'carry' if len(messages) != 1 else 'carries'} the data itself: {size(total)} of Redis memory "
                           f"(largest {size(largest)}, above {size(expect.large_bytes)}){tail}; send a "
                           f"reference (a key, a path) instead",
                           Span(key, 0)))
    return out


def unconsumed(snapshot: Snapshot, consumed: set[str], rules: dict[str, type[Rule]]) -> list[Finding]:
    """QL404, live: messages wait in a queue that no worker that answered consumes."""
    rule = rules["QL404"]
    out = []
    for state in snapshot.queues:
        if state.length and state.name not in consumed:
            out.append(Finding("QL404", rule.name, rule.severity,
                               f"{state.length} message{'s wait' if state.length != 1 else ' waits'} in "
                               f"{state.name!r} and no live worker that answered consumes it",
                               Span(state.keys[0] if state.keys else state.name, 0)))
    return out


def _relative(moment: float, now: float) -> str:
    delta = moment - now
    if abs(delta) < 1:
        return f"now ({clock(moment)})"
    text = format_duration(round(abs(delta)))
    return f"in {text} ({clock(moment)})" if delta > 0 else f"{text} ago ({clock(moment)})"
