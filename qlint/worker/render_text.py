"""The timeline as text: one line per event, then the summary."""
from __future__ import annotations

from itertools import islice
from typing import Iterator, TextIO

from .engine import format_seconds
from .trace import ExecutionRecord, Trace

LABELS = {
    "start": "worker up", "mingle": "mingle done", "kill": "SIGKILL", "stop": "shutdown", "down": "worker down",
    "publish": "publish", "deliver": "deliver", "eta-held": "hold (ETA)", "run": "run",
    "end": "end", "restore": "restore", "discard": "discard", "revoke": "revoke",
    "channel-closed": "channel closed", "chain-stopped": "chain stops",
    "chord-ready": "chord body", "chord-failed": "chord fails", "queued": "in pipe",
}


def write_text(trace: Trace, out: TextIO, header: str = "") -> None:
    """The lines, written a thousand at a time."""
    lines = text_lines(trace, header)
    while batch := list(islice(lines, 1000)):
        out.write("\n".join(batch) + "\n")


def text_lines(trace: Trace, header: str = "") -> Iterator[str]:
    if header:
        yield header
    yield f"broker: {trace.broker}, clock: {trace.mode}, until {format_seconds(trace.until)}"
    yield ""
    last_at, when = None, ""
    labels = {kind: f"{label:<14}" for kind, label in LABELS.items()}
    for e in trace.events:
        if e.at != last_at:  # events come in time order, many at one instant
            last_at, when = e.at, f"{format_seconds(e.at):>10}"
        label = labels.get(e.kind) or f"{e.kind:<14}"
        detail = f"{e.message} {e.detail}".strip() if e.message else e.detail.strip()
        yield f"{when}  {label} {e.worker:<7} {detail}".rstrip()
    s = trace.summary()
    yield ""
    yield "summary"
    runs = ", ".join(f"{mid}×{n}" for mid, n in s["executions_per_id"].items() if n != 1) or "every message ran once"
    yield f"  executions other than once: {runs}"
    by_id: dict[str, list[ExecutionRecord]] = {}
    for e in trace.executions if s["duplicated_ids"] else ():
        by_id.setdefault(e.id, []).append(e)
    for mid in s["duplicated_ids"]:
        yield f"    {mid} ran on {_where_and_overlap(by_id[mid], trace.until)}"
    yield f"  duplicate executions: {s['duplicates']}" + (f" ({', '.join(s['duplicated_ids'])})" if s["duplicates"] else "")
    yield f"  lost messages: {s['lost']}" + (f" ({', '.join(s['lost_ids'])})" if s["lost"] else "")
    unsuccessful: dict[str, int] = {}
    for e in trace.executions:
        if e.outcome not in ("success", "running"):
            unsuccessful[f"{e.id} {e.outcome}"] = unsuccessful.get(f"{e.id} {e.outcome}", 0) + 1
    if unsuccessful:
        yield ("  runs that did not succeed: "
               + ", ".join(f"{what} ×{n}" if n > 1 else what for what, n in unsuccessful.items()))
    if s["never_started"]:
        yield f"  never started: {', '.join(s['never_started'])}"
    if s["revoked"]:
        yield f"  revoked: {', '.join(s['revoked'])}"
    if s["pending_at_end"]:
        yield f"  still queued, reserved or running at the end: {', '.join(s['pending_at_end'])}"
    yield f"  longest wait from publish to first run: {format_seconds(s['max_queue_wait'])}"
    yield (f"  broker memory held at peak: {s['broker_bytes_peak']:,} bytes "
           f"({_human(s['broker_bytes_peak'])}queue + unacked copies)")


def _where_and_overlap(runs: list[ExecutionRecord], until: float) -> str:
    """The slots a message ran on, and how many of its runs overlapped at most."""
    slots = list(dict.fromkeys(f"{e.worker}/{e.slot}" for e in runs))
    edges = sorted([(e.start, 1) for e in runs] + [(e.end if e.end is not None else until, -1) for e in runs],
                   key=lambda edge: (edge[0], edge[1]))
    at_once = peak = 0
    for _, step in edges:
        at_once += step
        peak = max(peak, at_once)
    overlap = f", {peak} at the same time" if peak > 1 else ", one after another"
    return f"{', '.join(slots)}{overlap}"


def _human(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}, "
    return ""

