"""A Gantt chart of executions per worker slot, with redeliveries marked.

One row per pool process (worker/slot) holds its runs, coloured by outcome; a thin lane
under each worker's rows shows the messages it holds without running them (prefetched
behind busy processes, or waiting for an ETA), so a reader sees work waiting while
another worker idles. Restore sweeps that push a message back are dashed lines labelled
with the message. A run too short for the time axis is still drawn a few pixels wide,
and the line under the title sums the replay up, so the chart reads without the text
timeline next to it.
"""
from __future__ import annotations

from html import escape

from .engine import format_seconds
from .trace import Trace

COLOURS = {
    "success": "#4c9a5a", "failure": "#c0504d", "soft-time-limit": "#d98c3a",
    "time-limit": "#a23b72", "worker-lost": "#555555", "terminated": "#7a5195",
    "running": "#4a7bb7",
}
REDELIVERED, RESERVED = "#e8b400", "#f2c57c"
ROW, LANE, LEFT, TOP, WIDTH, MIN_BAR = 26, 16, 110, 62, 900, 4


def _ticks(until: float) -> list[float]:
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400,
                 172800, 604800):
        if until / step <= 10:
            return [i * step for i in range(int(until // step) + 1)]
    return [0.0, until]


def tick_label(seconds: float) -> str:
    """A short time for the axis: 0, 45s, 5m, 1h30m, 2d."""
    s = int(round(seconds))
    if s == 0:
        return "0"
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else "",
             f"{secs}s" if secs else ""]
    return "".join(parts)


def _summary(trace: Trace) -> str:
    s = trace.summary()
    repeated = [f"{mid} ran {n}×" for mid, n in s["executions_per_id"].items() if n > 1]  # in publish order
    parts = []
    if repeated:
        shown = ", ".join(repeated[:4]) + (f" and {len(repeated) - 4} more" if len(repeated) > 4 else "")
        parts.append(f"{s['duplicates']} duplicate run{'s' if s['duplicates'] != 1 else ''} ({shown})")
    else:
        parts.append("no duplicate runs")
    parts.append(f"lost {s['lost']}" + (f" ({', '.join(s['lost_ids'][:3])})" if s["lost"] else ""))
    failed = sum(ex.outcome not in ("success", "running") for ex in trace.executions)
    if failed:
        parts.append(f"{failed} run{'s' if failed != 1 else ''} not successful")
    parts.append(f"longest wait {format_seconds(s['max_queue_wait'])}")
    parts.append(f"broker memory peak {s['broker_bytes_peak']:,} bytes")
    return "; ".join(parts)


def render_svg(trace: Trace, title: str = "") -> str:
    until = max(trace.until, 1e-9)
    x = lambda t: LEFT + (min(max(t, 0.0), until) / until) * WIDTH  # noqa: E731
    # Layout: each worker's slot rows, then its reserved lane.
    rows: dict[tuple[str, int], float] = {}
    lanes: dict[str, float] = {}
    y = TOP
    for worker, concurrency in trace.workers.items():
        for slot in range(1, concurrency + 1):
            rows[(worker, slot)] = y
            y += ROW
        lanes[worker] = y
        y += LANE + 6
    axis_y = y
    height = axis_y + 62
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{LEFT + WIDTH + 70}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{LEFT}" y="20" font-size="14" font-weight="bold">{escape(title or "executions per worker slot")}</text>',
           f'<text x="{LEFT}" y="38" fill="#333">{escape(_summary(trace))}</text>']
    for (worker, slot), top in rows.items():
        out.append(f'<text x="{LEFT - 8}" y="{top + 17}" text-anchor="end">{escape(worker)}/{slot}</text>')
        out.append(f'<rect x="{LEFT}" y="{top}" width="{WIDTH}" height="{ROW - 2}" fill="#f3f3f3"/>')
    for worker, top in lanes.items():
        out.append(f'<text x="{LEFT - 8}" y="{top + 12}" text-anchor="end" font-size="10" fill="#666">'
                   f'{escape(worker)} reserved</text>')
        out.append(f'<rect x="{LEFT}" y="{top}" width="{WIDTH}" height="{LANE}" fill="#fafafa" stroke="#eee"/>')
        steps = trace.reserved.get(worker, [])
        for (start, count), (end, _) in zip(steps, [*steps[1:], (until, 0)]):
            if count <= 0 or end <= start and start < until:
                continue
            x0, x1 = x(start), x(end)
            out.append(f'<rect x="{x0:.1f}" y="{top + 1}" width="{max(x1 - x0, 1):.1f}" height="{LANE - 2}" '
                       f'fill="{RESERVED}"><title>{escape(worker)} holds {count} message(s) it does not run, '
                       f'{format_seconds(start)}–{format_seconds(end)}</title></rect>')
            if x1 - x0 > 8 * len(str(count)) + 4:
                out.append(f'<text x="{x0 + 3:.1f}" y="{top + 12}" font-size="10">{count}</text>')
    for t in _ticks(until):
        out.append(f'<line x1="{x(t):.1f}" y1="{TOP}" x2="{x(t):.1f}" y2="{axis_y}" stroke="#ccc"/>')
        out.append(f'<text x="{x(t):.1f}" y="{axis_y + 14}" text-anchor="middle">{tick_label(t)}</text>')
    for ex in trace.executions:
        top = rows.get((ex.worker, ex.slot))
        if top is None:
            continue
        x0, x1 = x(ex.start), x(ex.end if ex.end is not None else until)
        width = max(x1 - x0, MIN_BAR)
        colour = COLOURS.get(ex.outcome, "#888")
        stroke = f' stroke="{REDELIVERED}" stroke-width="3"' if ex.redelivered else ' stroke="white" stroke-width="0.5"'
        out.append(f'<rect x="{x0:.1f}" y="{top + 2}" width="{width:.1f}" height="{ROW - 6}" '
                   f'fill="{colour}"{stroke}><title>{escape(ex.id)} {escape(ex.task)} run #{ex.number} '
                   f'{format_seconds(ex.start)}–{format_seconds(ex.end or until)} {ex.outcome}</title></rect>')
        label = f"{ex.id}" + (f" #{ex.number}" if ex.number > 1 else "") + (" ↻" if ex.redelivered else "")
        if width > 7 * len(label):
            out.append(f'<text x="{x0 + 4:.1f}" y="{top + 17}" fill="white">{escape(label)}</text>')
    last_label = -1e9
    for event in trace.events:
        if event.kind != "restore":
            continue
        at = x(event.at)
        out.append(f'<line x1="{at:.1f}" y1="{TOP - 6}" x2="{at:.1f}" y2="{axis_y}" '
                   f'stroke="{REDELIVERED}" stroke-dasharray="4 3"><title>{escape(event.message)} pushed back: '
                   f'{escape(event.detail)}</title></line>')
        if at - last_label > 7 * len(event.message) + 6:
            out.append(f'<text x="{at:.1f}" y="{TOP - 9}" text-anchor="middle" font-size="10" fill="#9a7a00">'
                       f'{escape(event.message)}</text>')
            last_label = at
    legend_y = axis_y + 40
    items = [("redelivered run / restore", REDELIVERED), ("held, not running", RESERVED)]
    items += [(k, v) for k, v in COLOURS.items() if any(e.outcome == k for e in trace.executions)]
    lx = LEFT
    for name, colour in items:
        out.append(f'<rect x="{lx}" y="{legend_y - 10}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{lx + 16}" y="{legend_y}">{escape(name)}</text>')
        lx += 24 + 7 * len(name)
    out.append("</svg>")
    return "\n".join(out) + "\n"
