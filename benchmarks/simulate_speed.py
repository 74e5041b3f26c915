"""`qlint simulate` as a user waits for it: 50 workers, 100,000 tasks over a day (issue 18).

    python benchmarks/simulate_speed.py                  # text and JSON, median of 3
    python benchmarks/simulate_speed.py --repeat 5 --tasks 20000

Writes the scenario to a temporary folder (50 workers of 4 processes on Redis; a 20 s task every
0.8 s and a 600 s task every 8 s, nine to one), runs the whole `qlint simulate` process for each
output format, the formats interleaved, and prints per format the median wall time, tasks per
second, the peak memory of the process (its maximum resident set) and the size of the output.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORKERS = 50


def scenario(tasks: int) -> str:
    short = tasks * 9 // 10
    workers = "".join(f"  - {{name: w{i}, concurrency: 4}}\n" for i in range(WORKERS))
    return (f'settings: {{broker_url: "redis://localhost:6379/0"}}\nworkers:\n{workers}'
            "tasks:\n  short.t: {duration: 20}\n  long.t: {duration: 600}\n"
            f"submit:\n  - {{at: 0, task: short.t, count: {short}, every: 0.8}}\n"
            f"  - {{at: 0, task: long.t, count: {tasks - short}, every: 8}}\nuntil: 86400\n")


def qlint_command() -> list[str]:
    script = Path(sys.executable).with_name("qlint")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "qlint"]


def run_once(path: Path, fmt: str, out: Path) -> tuple[float, int]:
    """Wall seconds and the peak resident memory in bytes of one `qlint simulate` process."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    with out.open("wb") as handle:
        process = subprocess.Popen([*qlint_command(), "simulate", str(path), "--format", fmt],
                                   stdout=handle, env=env)
        _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"qlint simulate --format {fmt} failed")
    return elapsed, usage.ru_maxrss * 1024  # kilobytes on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "day.yaml"
        path.write_text(scenario(args.tasks))
        times: dict[str, list[float]] = {"text": [], "json": []}
        peaks: dict[str, int] = {}
        sizes: dict[str, int] = {}
        for _ in range(args.repeat):
            for fmt in times:
                out = Path(folder) / f"out.{fmt}"
                elapsed, peak = run_once(path, fmt, out)
                times[fmt].append(elapsed)
                peaks[fmt] = max(peaks.get(fmt, 0), peak)
                sizes[fmt] = out.stat().st_size
    print(f"qlint simulate, {WORKERS} workers, {args.tasks:,} tasks over a day (median of {args.repeat})")
    for fmt, found in times.items():
        wall = statistics.median(found)
        print(f"  {fmt:<5} {wall:6.2f} s  {args.tasks / wall:9,.0f} tasks/s  peak {peaks[fmt] / 2**20:5.0f} MB"
              f"  output {sizes[fmt] / 2**20:6.1f} MB")


if __name__ == "__main__":
    main()
