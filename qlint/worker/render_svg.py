"""A Gantt chart of executions per worker slot, with redeliveries marked."""
from __future__ import annotations

from html import escape

from .engine import format_seconds
from .trace import Trace

COLOURS = {
    "success": "#4c9a5a", "failure": "#c0504d", "soft-time-limit": "#d98c3a",
    "time-limit": "#a23b72", "worker-lost": "#555555", "terminated": "#7a5195",
    "running": "#4a7bb7",
}
ROW, LEFT, TOP, WIDTH = 26, 90, 40, 900


def _ticks(until: float) -> list[float]:
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400):
        if until / step <= 10:
            return [i * step for i in range(int(until // step) + 1)]
    return [0.0, until]


def render_svg(trace: Trace, title: str = "") -> str:
    rows = [(w, s) for w, n in trace.workers.items() for s in range(1, n + 1)]
    index = {row: i for i, row in enumerate(rows)}
    until = max(trace.until, 1e-9)
    x = lambda t: LEFT + (min(t, until) / until) * WIDTH  # noqa: E731
    height = TOP + ROW * len(rows) + 70
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{LEFT + WIDTH + 70}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{LEFT}" y="20" font-size="14" font-weight="bold">{escape(title or "executions per worker slot")}</text>']
    for (worker, slot), i in index.items():
        y = TOP + i * ROW
        out.append(f'<text x="{LEFT - 8}" y="{y + 17}" text-anchor="end">{escape(worker)}/{slot}</text>')
        out.append(f'<rect x="{LEFT}" y="{y}" width="{WIDTH}" height="{ROW - 2}" fill="#f3f3f3"/>')
    axis_y = TOP + ROW * len(rows) + 4
    for t in _ticks(until):
        out.append(f'<line x1="{x(t):.1f}" y1="{TOP}" x2="{x(t):.1f}" y2="{axis_y}" stroke="#ccc"/>')
        out.append(f'<text x="{x(t):.1f}" y="{axis_y + 14}" text-anchor="middle">{format_seconds(t)}</text>')
    for ex in trace.executions:
        i = index.get((ex.worker, ex.slot))
        if i is None:
            continue
        y = TOP + i * ROW
        x0, x1 = x(ex.start), x(ex.end if ex.end is not None else until)
        colour = COLOURS.get(ex.outcome, "#888")
        stroke = ' stroke="#e8b400" stroke-width="3"' if ex.redelivered else ' stroke="white"'
        out.append(f'<rect x="{x0:.1f}" y="{y + 2}" width="{max(x1 - x0, 2):.1f}" height="{ROW - 6}" '
                   f'fill="{colour}"{stroke}><title>{escape(ex.id)} {escape(ex.task)} run #{ex.number} '
                   f'{format_seconds(ex.start)}–{format_seconds(ex.end or until)} {ex.outcome}</title></rect>')
        label = f"{ex.id}" + (f" #{ex.number}" if ex.number > 1 else "") + (" ↻" if ex.redelivered else "")
        if x1 - x0 > 7 * len(label):
            out.append(f'<text x="{x0 + 4:.1f}" y="{y + 17}" fill="white">{escape(label)}</text>')
    for d in trace.events:
        if d.kind == "restore":
            out.append(f'<line x1="{x(d.at):.1f}" y1="{TOP - 4}" x2="{x(d.at):.1f}" y2="{axis_y}" '
                       f'stroke="#e8b400" stroke-dasharray="4 3"/>')
    legend_y = axis_y + 34
    items = [("redelivered run / restore", "#e8b400")] + [(k, v) for k, v in COLOURS.items()
                                                          if any(e.outcome == k for e in trace.executions)]
    lx = LEFT
    for name, colour in items:
        out.append(f'<rect x="{lx}" y="{legend_y - 10}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{lx + 16}" y="{legend_y}">{escape(name)}</text>')
        lx += 24 + 7 * len(name)
    out.append("</svg>")
    return "\n".join(out) + "\n"
