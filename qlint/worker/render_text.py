"""The timeline as text: one line per event, then the summary."""
from __future__ import annotations

from .engine import format_seconds
from .trace import Trace

LABELS = {
    "start": "worker up", "kill": "SIGKILL", "stop": "shutdown", "down": "worker down",
    "publish": "publish", "deliver": "deliver", "eta-held": "hold (ETA)", "run": "run",
    "end": "end", "restore": "restore", "discard": "discard", "revoke": "revoke",
    "channel-closed": "channel closed", "chain-stopped": "chain stops",
    "chord-ready": "chord body", "chord-failed": "chord fails",
}


def render_text(trace: Trace, header: str = "") -> str:
    lines = [header] if header else []
    lines.append(f"broker: {trace.broker}, clock: {trace.mode}, until {format_seconds(trace.until)}")
    lines.append("")
    for e in trace.events:
        who = f"{e.worker:<7}" if e.worker else " " * 7
        what = f"{e.message} " if e.message else ""
        detail = f"{what}{e.detail}".strip()
        lines.append(f"{format_seconds(e.at):>10}  {LABELS.get(e.kind, e.kind):<14} {who} {detail}".rstrip())
    s = trace.summary()
    lines.append("")
    lines.append("summary")
    runs = ", ".join(f"{mid}×{n}" for mid, n in s["executions_per_id"].items() if n != 1) or "every message ran once"
    lines.append(f"  executions other than once: {runs}")
    for mid in s["duplicated_ids"]:
        lines.append(f"    {mid} ran on {_where_and_overlap(trace, mid)}")
    lines.append(f"  duplicate executions: {s['duplicates']}" + (f" ({', '.join(s['duplicated_ids'])})" if s["duplicates"] else ""))
    lines.append(f"  lost messages: {s['lost']}" + (f" ({', '.join(s['lost_ids'])})" if s["lost"] else ""))
    unsuccessful: dict[str, int] = {}
    for e in trace.executions:
        if e.outcome not in ("success", "running"):
            unsuccessful[f"{e.id} {e.outcome}"] = unsuccessful.get(f"{e.id} {e.outcome}", 0) + 1
    if unsuccessful:
        lines.append("  runs that did not succeed: "
                     + ", ".join(f"{what} ×{n}" if n > 1 else what for what, n in unsuccessful.items()))
    if s["never_started"]:
        lines.append(f"  never started: {', '.join(s['never_started'])}")
    if s["revoked"]:
        lines.append(f"  revoked: {', '.join(s['revoked'])}")
    if s["pending_at_end"]:
        lines.append(f"  still queued, reserved or running at the end: {', '.join(s['pending_at_end'])}")
    lines.append(f"  longest wait from publish to first run: {format_seconds(s['max_queue_wait'])}")
    lines.append(f"  broker memory held at peak: {s['broker_bytes_peak']:,} bytes "
                 f"({_human(s['broker_bytes_peak'])}queue + unacked copies)")
    return "\n".join(lines) + "\n"


def _where_and_overlap(trace: Trace, mid: str) -> str:
    """The slots a message ran on, and how many of its runs overlapped at most."""
    runs = [e for e in trace.executions if e.id == mid]
    slots = list(dict.fromkeys(f"{e.worker}/{e.slot}" for e in runs))
    edges = sorted([(e.start, 1) for e in runs] + [(e.end if e.end is not None else trace.until, -1) for e in runs],
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

