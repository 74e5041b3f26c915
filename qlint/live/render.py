"""`qlint inspect`'s report: what the broker holds, then the findings, in text or JSON. The
findings have the fields of `qlint check --format json`; in text each is one line,
`<broker key>: <code> <message>`, and the summary line is check's."""
from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from typing import Any, Sequence

from qlint.model import Finding
from qlint.report import ordered
from qlint.report.json_format import finding_to_json
from qlint.report.tally import summary
from qlint.semantics.durations import format_duration
from qlint.live.expectations import Expectations
from qlint.live.hazards import clock, due, size
from qlint.live.rabbitmq import RabbitSnapshot, text as rabbitmq_text
from qlint.live.redis_state import Envelope, Snapshot
from qlint.live.workers import Asked, holders

LARGEST = 5


def _largest(snapshot: Snapshot) -> list[tuple[str, Envelope]]:
    found = [(key, m) for q in snapshot.queues for key, m in q.messages]
    found += [(f"{snapshot.unacked_key}[{h.tag}]", h.message) for h in snapshot.held]
    return sorted(found, key=lambda item: -item[1].size)[:LARGEST]


def text(broker: str, snapshot: Snapshot, expect: Expectations, found: Sequence[Finding],
         workers: Asked | None = None) -> str:
    now = snapshot.read_at
    held_by = holders(workers.workers) if workers is not None else {}
    lines = [f"Broker {broker}, read at {clock(now)}" + (f", key prefix {snapshot.prefix!r}" if snapshot.prefix else ""),
             f"Visibility timeout {format_duration(expect.visibility)} ({expect.visibility_from}); restore sweeps "
             f"at each consumer's start and about every {format_duration(expect.sweep_every)}"
             + ("; one is running now" if snapshot.sweep_running else "")]
    lines += [f"  note: {n}" for n in expect.notes]
    lines.append("")
    lines.append(f"Unacked ({len(snapshot.held)}, {size(snapshot.unacked_memory or 0)}):" if snapshot.held
                 else "Unacked: none")
    for held in sorted(snapshot.held, key=lambda h: (h.delivered_at or 0, h.tag)):
        m, when, age = held.message, due(held, expect, now), held.age(now)
        state = ("age unknown (not in unacked_index)" if age is None else
                 f"delivered {format_duration(round(age))} ago, "
                 + ("past the timeout: pushed back at the next sweep" if when.overdue else
                    f"pushed back from {clock(when.at)} (in {format_duration(round(when.at - now))}) if still unacked"))
        extra = [f"eta {clock(m.eta)}"] if m.eta is not None else []
        extra += ["redelivered"] if m.redelivered else []
        extra += [f"held by {held_by[m.id]}"] if m.id in held_by else []
        extra += [f"sent by {m.origin}"] if m.origin else []
        lines.append(f"  {m.task or '?'} {m.id or '?'}  {state}; {size(m.size)}"
                     + (f"; {', '.join(extra)}" if extra else "") + f"  [tag {held.tag}]")
    if snapshot.unindexed:
        lines.append(f"  ({snapshot.unindexed} delivery tags in unacked_index have no message in unacked)")
    lines.append("")
    lines.append("Queues:" if snapshot.queues else "Queues: none bound or configured")
    for q in snapshot.queues:
        origin = "bound" if q.bound else "configured; kombu has no binding for it"
        head = (f"; next out: {q.oldest.task or '?'} {q.oldest.id or '?'}" + _eta(q.oldest, now)) if q.oldest else ""
        memory = f", {size(q.memory)}" if q.memory is not None else ""
        lines.append(f"  {q.name}: {q.length} message{'s' if q.length != 1 else ''}{memory}{head} ({origin})"
                     + (f"; read {len(q.messages)}" if q.sampled else ""))
    lines += _worker_lines(workers)
    largest = _largest(snapshot)
    if largest:
        lines.append("")
        lines.append("Largest messages:")
        lines += [f"  {size(m.size)}  {m.task or '?'} {m.id or '?'}  in {key}" for key, m in largest]
    return "\n".join(lines + _finding_lines(found, workers)) + "\n"


def _worker_lines(workers: Asked | None) -> list[str]:
    if workers is None:
        return []
    lines = ["", f"Workers ({len(workers.workers)} answered):" if workers.workers else "Workers: none answered"]
    for w in workers.workers:
        multiplier = w.multiplier()
        lines.append(f"  {w.hostname}: concurrency {w.concurrency}, prefetch count {w.prefetch_count}"
                     + (f" (multiplier {multiplier:g})" if multiplier is not None else "")
                     + f", queues {', '.join(w.queues) or 'none'}; {len(w.running)} running, {len(w.reserved)} "
                     f"reserved, {len(w.scheduled)} scheduled" + (f"; Celery {w.celery}" if w.celery else ""))
        confirmed = workers.confirmed.get(w.hostname)
        if confirmed:
            lines.append("    runs the hazards `qlint check` reports from the project's settings: "
                         + ", ".join(f"{f.code} ({f.span})" for f in ordered(confirmed)))
    return lines + [f"  note: {n}" for n in workers.notes] + [f"  drift: {d.describe()}" for d in workers.drift]


def _finding_lines(found: Sequence[Finding], workers: Asked | None) -> list[str]:
    lines = [""] + [f"{f.span.path}: {f.code} {f.message}" for f in ordered(found)]
    if found:
        lines.append("")
    drifted = len(workers.drift) if workers is not None else 0
    return lines + [summary(found, 0) + (f" {drifted} setting{'s' if drifted != 1 else ''} drifted from the "
                                         f"project." if drifted else "")]


def _eta(message: Envelope, now: float) -> str:
    # Celery's messages carry no time of publication: an age is known only from an eta.
    if message.eta is None:
        return ""
    return f", due {format_duration(round(now - message.eta))} ago" if message.eta <= now else \
        f", due at {clock(message.eta)}"


def to_json(broker: str, snapshot: Snapshot, expect: Expectations, found: Sequence[Finding],
            workers: Asked | None = None) -> dict[str, Any]:
    now = snapshot.read_at
    held_by = holders(workers.workers) if workers is not None else {}
    found = ordered(found)
    held = []
    for h in sorted(snapshot.held, key=lambda h: (h.delivered_at or 0, h.tag)):
        when = due(h, expect, now)
        held.append({"key": snapshot.unacked_key, "tag": h.tag, **h.message.to_json(), "delivered_at": h.delivered_at,
                     "age": h.age(now), "pushed_back_from": when.at, "overdue": when.overdue,
                     "worker": held_by.get(h.message.id or "")})
    return {
        "broker": broker, "read_at": now, **expect.to_json(), "sweep_running": snapshot.sweep_running,
        "unacked": held, "unacked_memory": snapshot.unacked_memory,
        "queues": [{"name": q.name, "keys": q.keys, "length": q.length, "memory": q.memory, "bound": q.bound,
                    "configured": q.name in expect.queues, "read": len(q.messages),
                    "next": q.oldest.to_json() if q.oldest else None} for q in snapshot.queues],
        "largest": [{"key": key, **m.to_json()} for key, m in _largest(snapshot)],
        **_common_json(found, expect, workers),
    }


def _common_json(found: Sequence[Finding], expect: Expectations, workers: Asked | None) -> dict[str, Any]:
    found = ordered(found)
    return {
        "workers": [{**w.to_json(),
                     "confirmed": [_confirmed(f) for f in ordered(workers.confirmed.get(w.hostname, []))]}
                    for w in workers.workers] if workers is not None else None,
        "drift": [d.to_json() for d in workers.drift] if workers is not None else None,
        "findings": [finding_to_json(f, fp) for f, fp in zip(found, _fingerprints(found))],
        "notes": [{"level": "note", "path": None, "line": None, "column": None, "message": n}
                  for n in [*expect.notes, *(workers.notes if workers is not None else [])]],
    }


def _confirmed(finding: Finding) -> dict[str, Any]:
    """A static rule's finding that a worker's settings confirm: where `qlint check` reports it."""
    return {"code": finding.code, "path": finding.span.path, "line": finding.span.line, "message": finding.message}


def _fingerprints(found: Sequence[Finding]) -> list[str]:
    """check's form (`hash:n`) from the key and the message with its digits left out (ages and
    times change between reads). Not check's own function: it would open a file named like
    the key."""
    seen: Counter[str] = Counter()
    out = []
    for f in found:
        text = re.sub(r"\s+", " ", re.sub(r"[0-9]", "", f.message)).strip()
        digest = hashlib.sha256(f"{f.code}\0{f.span.path}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()[:16]
        out.append(f"{digest}:{seen[digest]}")
        seen[digest] += 1
    return out


def render(fmt: str, broker: str, snapshot: Snapshot, expect: Expectations, found: Sequence[Finding],
           workers: Asked | None = None) -> str:
    """workers: what --ask-workers learnt (`.workers`, `.drift`), else None."""
    if fmt == "json":
        return json.dumps(to_json(broker, snapshot, expect, found, workers), indent=2, ensure_ascii=False) + "\n"
    return text(broker, snapshot, expect, found, workers)


def render_rabbitmq(fmt: str, broker: str, api: str, snapshot: RabbitSnapshot, expect: Expectations,
                    found: Sequence[Finding], workers: Asked | None = None) -> str:
    if fmt == "json":
        data = {"broker": broker, "api": api, "rabbitmq": snapshot.version, "vhost": snapshot.vhost,
                "read_at": snapshot.read_at, "queues": [q.to_json() for q in snapshot.queues],
                **_common_json(found, expect, workers)}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    lines = [f"Broker {broker}, read at {clock(snapshot.read_at)}"] + [f"  note: {n}" for n in expect.notes]
    lines += rabbitmq_text(api, snapshot) + _worker_lines(workers)
    return "\n".join(lines + _finding_lines(found, workers)) + "\n"
