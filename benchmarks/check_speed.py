"""How fast `qlint check` is, as a ratio to plain `ast.parse` of the same files.

    python benchmarks/check_speed.py                 # Django's sdist, downloaded from PyPI once
    python benchmarks/check_speed.py PATH [PATH...]  # any trees, e.g. a Celery project you cloned

For each tree: the number of Python files and lines; the time to read and `ast.parse`
every .py file (the baseline, in this process); `qlint check` cold (no cache) and
warm (cache filled, nothing changed), each in a fresh interpreter through the same call as
the CLI (engine.check_paths), timed without the interpreter's start-up, with qlint's modules
compiled to bytecode first as an install does; and each qlint time divided by the baseline.
Every time is the fastest of --repeat runs (3). Targets: cold <= 0.5, warm <= 0.1.
`--warm-facts` adds a run that keeps the per-file facts cache but drops the stored result
of the last run: what an edit to one unrelated file costs at most.

A real Celery project, as measured for issue 3 (saleor; any commit will do, the figures
in the issue note name the one used):

    git clone --depth 1 https://github.com/saleor/saleor /tmp/saleor
    python benchmarks/check_speed.py /tmp/saleor --warm-facts
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
DJANGO = "django==5.1.4"


def django_tree() -> Path:
    """Django's sdist, unpacked under benchmarks/.cache (downloaded once)."""
    target = CACHE / "django"
    if target.is_dir():
        return next(target.iterdir())
    CACHE.mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                    DJANGO, "-d", str(CACHE)], check=True)
    archive = next(CACHE.glob("[dD]jango-*.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return next(target.iterdir())


def baseline(files: list[Path]) -> tuple[float, int]:
    lines = 0
    start = time.perf_counter()
    for path in files:
        data = path.read_bytes()
        lines += data.count(b"\n")
        try:
            ast.parse(data, str(path))
        except (SyntaxError, ValueError):
            pass
    return time.perf_counter() - start, lines


# A run of `qlint check` in a fresh interpreter, timed inside it around the same call as
# the CLI's (engine.check_paths): as a user's run starts, with nothing left over from the
# runs before it, and without the interpreter's start-up.
_CHILD = """
import json, sys, time
from pathlib import Path
from qlint.pipeline.engine import check_paths
from qlint.user_config.project_config import load_config
root = Path(sys.argv[1])
start = time.perf_counter()
result = check_paths(["."], cwd=root, root=root, config=load_config(root), use_cache=True)
print(json.dumps([time.perf_counter() - start, len(result.findings)]))
"""


# As installed: pip compiles a package's modules to bytecode, and an interpreter writes what
# it compiles unless PYTHONDONTWRITEBYTECODE is set (as on some CI machines, this one too:
# there every run compiled qlint's hundred modules again, 0.13 s of each run).
_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def compile_qlint() -> None:
    import qlint
    import qlint.rules

    folders = [str(Path(package.__file__).parent) for package in (qlint, qlint.rules)]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *folders], check=True, env=_ENV)


def qlint_check(root: Path) -> tuple[float, int]:
    done = subprocess.run([sys.executable, "-c", _CHILD, str(root)], check=True, capture_output=True, text=True,
                          env=_ENV)
    elapsed, findings = json.loads(done.stdout.splitlines()[-1])
    return elapsed, findings


def measure(root: Path, warm_facts: bool, repeat: int) -> dict[str, float]:
    """Each time is the fastest of `repeat` runs: on a shared machine the noise only ever
    adds time. The runs of each kind alternate, so a slow spell touches all of them."""
    from qlint.scan.cache_store import project_dir
    from qlint.scan.cache_writer import wait_for_writer
    from qlint.scan.discovery import walk

    cache = project_dir(root.resolve())  # the caches live in the user's cache directory (cache_store.py)
    files = [p for p in walk(root) if p.suffix == ".py"]
    times: dict[str, list[float]] = {"ast_parse": [], "cold": [], "warm": [], "warm_facts": []}
    counts = set()
    for _ in range(repeat):
        parse_time, lines = baseline(files)
        times["ast_parse"].append(parse_time)
        wait_for_writer(root)  # a run's cache writes may outlast it (cache_writer.py)
        shutil.rmtree(cache, ignore_errors=True)
        cold, findings = qlint_check(root)
        warm, again = qlint_check(root)
        times["cold"].append(cold)
        times["warm"].append(warm)
        counts.update((findings, again))
        if warm_facts:
            wait_for_writer(root)
            shutil.rmtree(cache / "runs", ignore_errors=True)
            times["warm_facts"].append(qlint_check(root)[0])
    assert len(counts) == 1, f"runs disagree on the number of findings: {sorted(counts)}"
    out = {kind: min(values) for kind, values in times.items() if values}
    out.update(files=len(files), lines=lines, findings=counts.pop())
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--warm-facts", action="store_true",
                        help="also time a run with the facts cache but without the stored result")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each kind; the fastest counts (default 3)")
    args = parser.parse_args()
    trees = args.paths or [django_tree()]
    compile_qlint()
    header = f"{'tree':<24} {'files':>6} {'lines':>9} {'ast.parse':>10} {'cold':>8} {'ratio':>6} {'warm':>8} {'ratio':>6}"
    print(header + (f" {'facts':>8} {'ratio':>6}" if args.warm_facts else "") + f" {'findings':>8}")
    for root in trees:
        m = measure(root.resolve(), args.warm_facts, max(1, args.repeat))
        line = (f"{root.resolve().name[:24]:<24} {m['files']:>6} {m['lines']:>9} {m['ast_parse']:>9.2f}s {m['cold']:>7.2f}s "
                f"{m['cold'] / m['ast_parse']:>6.2f} {m['warm']:>7.2f}s {m['warm'] / m['ast_parse']:>6.2f}")
        if args.warm_facts:
            line += f" {m['warm_facts']:>7.2f}s {m['warm_facts'] / m['ast_parse']:>6.2f}"
        print(line + f" {m['findings']:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
