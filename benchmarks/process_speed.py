"""What a user waits for: the whole `qlint` process, start-up and exit included.

    python benchmarks/process_speed.py                    # examples/incident
    python benchmarks/process_speed.py TREE [TREE...]     # e.g. a Celery project you cloned
    python benchmarks/process_speed.py --repeat 9 /tmp/saleor

Per tree, each a fresh process, timed from its start to its exit (median of --repeat runs, the
kinds interleaved so that a busy spell on a shared machine touches all of them):

    pass      `python -c pass`: what any Python command costs
    version   `qlint --version`: qlint's own start-up
    warm      `qlint check .` on an unchanged tree, its result stored by an earlier run
    cold      `qlint check --no-cache .`
    parse     a process that reads and `ast.parse`s every .py file of the tree

and the ratios the targets of issue 18 are stated in: warm / pass (<= 3) and cold / parse.
`qlint` is the console script installed beside this interpreter (as a user runs it, no shim).
The caches go to a temporary folder ($QLINT_CACHE_DIR), not the user's; qlint's modules are
compiled to bytecode first, as an install does. benchmarks/check_speed.py times the analysis
inside one process instead.
benchmarks/speed_table.py adds Ruff, peak memory and an edited settings file, on the projects
of benchmarks/ecosystem (issue 18's table).
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

HERE = Path(__file__).resolve().parent
DEFAULT_TREE = HERE.parent / "examples" / "incident"

PARSE_ALL = """
import ast, sys
for line in open(sys.argv[1], encoding="utf-8"):
    path = line.rstrip("\\n")
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        ast.parse(data, path)
    except (SyntaxError, ValueError):
        pass
"""


def qlint_command() -> list[str]:
    script = Path(sys.executable).with_name("qlint")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "qlint"]


def environment(cache_dir: str) -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE (set on some CI machines, this one too) would make every run
    # compile qlint's modules again; an installed qlint has its bytecode.
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    env["QLINT_CACHE_DIR"] = cache_dir
    return env


def compile_qlint(env: dict[str, str]) -> None:
    import qlint
    import qlint.rules

    folders = [str(Path(package.__file__).parent) for package in (qlint, qlint.rules)]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *folders], check=True, env=env)


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def python_files(root: Path) -> list[str]:
    from qlint.scan.discovery import walk_files

    return [full for rel, full in walk_files(root) if rel.endswith(".py")]


def measure(root: Path, repeat: int, env: dict[str, str], listing: str) -> dict[str, float]:
    qlint = qlint_command()
    commands = {
        "pass": [sys.executable, "-c", "pass"],
        "version": [*qlint, "--version"],
        "warm": [*qlint, "check", "--exit-zero", "."],
        "cold": [*qlint, "check", "--no-cache", "--exit-zero", "."],
        "parse": [sys.executable, "-c", PARSE_ALL, listing],
    }
    # The first run stores the result the warm runs find; the second makes sure the cache
    # writer of the first has finished (a run waits for it) and everything is in the OS cache.
    for _ in range(2):
        timed(commands["warm"], root, env)
        timed(commands["parse"], root, env)
    times: dict[str, list[float]] = {kind: [] for kind in commands}
    for _ in range(repeat):
        for kind, command in commands.items():
            times[kind].append(timed(command, root, env))
    return {kind: statistics.median(values) for kind, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=7, help="runs of each kind; the median counts (default 7)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qlint-bench-") as scratch:
        env = environment(os.path.join(scratch, "cache"))
        compile_qlint(env)
        print(f"{'tree':<20} {'files':>6} {'pass':>7} {'version':>8} {'warm':>7} {'cold':>7} {'parse':>7}"
              f" {'warm/pass':>9} {'cold/parse':>10}")
        for root in [path.resolve() for path in (args.paths or [DEFAULT_TREE])]:
            files = python_files(root)
            listing = os.path.join(scratch, "files.txt")
            Path(listing).write_text("".join(f"{path}\n" for path in files), encoding="utf-8")
            m = measure(root, max(1, args.repeat), env, listing)
            ms = {kind: f"{value * 1000:.0f}ms" for kind, value in m.items()}
            print(f"{root.name[:20]:<20} {len(files):>6} {ms['pass']:>7} {ms['version']:>8} {ms['warm']:>7}"
                  f" {ms['cold']:>7} {ms['parse']:>7} {m['warm'] / m['pass']:>9.1f} {m['cold'] / m['parse']:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
