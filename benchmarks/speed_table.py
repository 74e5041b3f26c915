"""Issue 18's table: the whole `qlint` process against `ast.parse` and Ruff, on real projects.

    python benchmarks/speed_table.py                       # every project of both checked-in sets
    python benchmarks/speed_table.py saleor ecommerce      # some of them (names of their .toml files)
    python benchmarks/speed_table.py examples/incident     # any folder
    python benchmarks/speed_table.py --large saleor        # and peak memory on 50,000 files
    python benchmarks/speed_table.py --show out.json       # the tables of an earlier --json run
    python benchmarks/speed_table.py --qlint before=/tmp/old-venv --qlint after=/tmp/new-venv saleor

The projects are those of benchmarks/ecosystem (projects/*.toml and regression/*.toml, each a
repository and a commit), checked out by evaluate.py's code under --work: from a git mirror under
--mirrors when there is one, else cloned from GitHub. A run appends a line to each project's
settings module and puts it back, so give it checkouts no one else is using at the same time.

Per project, the runs below go round in turn --repeat times (medians count), so that a busy spell
on a shared machine touches all of them. Each is a fresh process timed from its start to its exit;
its CPU time and peak RSS come from os.wait4 (the largest of the process and the children it waited
for, not their sum):

    pass       `python -c pass`
    parse      a process that reads and `ast.parse`s every .py file qlint would look at
    ruff       `ruff check --isolated --no-cache --select E,F --exit-zero .` (Ruff's own defaults,
               not the project's configuration); ruff-warm the same with its cache filled
and for each qlint build (--qlint, default the `qlint` beside this interpreter):
    version    `qlint --version`
    warm       `qlint check .` on an unchanged tree whose result an earlier run stored
    cold       `qlint check --no-cache .`
    edit       `qlint check .` right after a line was appended to the settings module (the .py
               file `qlint config` names most often as a setting's origin, else the largest
               settings.py / celeryconfig.py); the file is then put back and checked once, untimed

--large then copies the largest project's .py files into numbered folders of a temporary tree until
it holds 50,000, and runs cold qlint and cold Ruff there (min(3, --repeat) times) for peak memory.
The summary prints the rows of issue 18's table from the medians.

Ruff is not a dependency of qlint: `pip install ruff` (its columns show "-" without it).
The caches go to temporary folders, one per build; every build's modules are compiled to
bytecode first, as an install does. benchmarks/process_speed.py is the same measure for
any folder without Ruff, memory or edits.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "ecosystem"))

import evaluate  # noqa: E402  (benchmarks/ecosystem/evaluate.py: the project lists and their checkout)
from process_speed import PARSE_ALL, environment, python_files  # noqa: E402

EDIT = b"\n# speed_table.py: an edit, put back after one run\nSPEED_TABLE_EDIT = 1\n"
BIG = 950  # the "projects with >= 950 files"
LARGE = 50_000  # files of --large's tree


@dataclass
class Run:
    wall: float
    cpu: float
    mb: float


@dataclass
class Build:
    label: str
    command: list[str]
    env: dict[str, str]


@dataclass
class Result:
    name: str
    files: int
    settings: str | None
    runs: dict[str, list[Run]] = field(default_factory=dict)

    def median(self, kind: str, what: str = "wall") -> float | None:
        values = [getattr(run, what) for run in self.runs.get(kind, [])]
        return statistics.median(values) if values else None


def run(command: list[str], cwd: Path, env: dict[str, str]) -> Run:
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        # wait4 rather than process.wait(): it also gives this child's own rusage.
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            sys.exit(f"{' '.join(command)} failed in {cwd} ({process.returncode}):\n{errors.read().decode(errors='replace')}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def build_of(spec: str, scratch: Path) -> Build:
    """LABEL=PATH or PATH, where PATH is a `qlint` script or the environment it is installed in."""
    label, _, path = spec.rpartition("=")
    script = Path(path)
    if script.is_dir():
        script = script / "bin" / "qlint"
    if not script.is_file():
        sys.exit(f"no qlint at {script}")
    label = label or (script.parent.parent.name if script.parent.name == "bin" else str(script))
    env = environment(str(scratch / f"cache-{label}"))
    # The interpreter the script runs under, from its #! line: compile its qlint as an install does.
    interpreter = script.read_text(errors="replace").splitlines()[0].removeprefix("#!").strip()
    subprocess.run([interpreter, "-c", "import compileall, os, qlint;"
                    "compileall.compile_dir(os.path.dirname(qlint.__file__), quiet=1)"], check=True, env=env)
    return Build(label, [str(script)], env)


def ruff_command(*options: str) -> list[str] | None:
    beside = Path(sys.executable).with_name("ruff")
    found = str(beside) if beside.is_file() else shutil.which("ruff")
    return [found, "check", *options, "--isolated", "--select", "E,F", "--exit-zero", "."] if found else None


def settings_file(root: Path, build: Build) -> Path | None:
    done = subprocess.run([*build.command, "config", "--format", "json", "."], cwd=root, env=build.env,
                          capture_output=True, text=True)
    try:
        report = json.loads(done.stdout)
    except ValueError:
        report = {}
    origins: Counter[str] = Counter()
    for app in report.get("apps", []) if isinstance(report, dict) else []:
        for setting in (app.get("settings") or {}).values():
            origin = setting.get("origin") if isinstance(setting, dict) else None
            path = origin.get("path") or "" if isinstance(origin, dict) else ""  # else "default", or None
            if path.endswith(".py") and (root / path).is_file():
                origins[path] += 1
    if origins:
        return root / origins.most_common(1)[0][0]
    named = [Path(p) for p in python_files(root)
             if Path(p).name in ("settings.py", "celeryconfig.py") or Path(p).parent.name == "settings"]
    return max(named, key=lambda p: p.stat().st_size, default=None)


def edited_check(build: Build, root: Path, settings: Path) -> Run:
    original = settings.read_bytes()
    try:
        settings.write_bytes(original + EDIT)
        return run([*build.command, "check", "--exit-zero", "."], root, build.env)
    finally:
        settings.write_bytes(original)


def measure(name: str, root: Path, builds: list[Build], repeat: int, scratch: Path) -> Result:
    files = python_files(root)
    listing = scratch / "files.txt"
    listing.write_text("".join(f"{path}\n" for path in files), encoding="utf-8")
    settings = settings_file(root, builds[0])
    result = Result(name, len(files), str(settings.relative_to(root)) if settings else None)
    env = environment(str(scratch / "cache-none"))
    ruff_env = {**env, "RUFF_CACHE_DIR": str(scratch / "ruff-cache" / name)}
    shared = {"pass": [sys.executable, "-c", "pass"], "parse": [sys.executable, "-c", PARSE_ALL, str(listing)]}
    if ruff_command():
        shared["ruff"] = ruff_command("--no-cache")
        shared["ruff-warm"] = ruff_command()
    # Fill the caches (two qlint runs: the second waits for the first's cache writer) and the OS's.
    for build in builds:
        for _ in range(2):
            run([*build.command, "check", "--exit-zero", "."], root, build.env)
    for kind in ("parse", "ruff-warm"):
        if kind in shared:
            run(shared[kind], root, ruff_env)
    for _ in range(repeat):
        for kind, command in shared.items():
            result.runs.setdefault(kind, []).append(run(command, root, ruff_env))
        for build in builds:
            kinds = {"version": [*build.command, "--version"],
                     "warm": [*build.command, "check", "--exit-zero", "."],
                     "cold": [*build.command, "check", "--no-cache", "--exit-zero", "."]}
            for kind, command in kinds.items():
                result.runs.setdefault(f"{build.label} {kind}", []).append(run(command, root, build.env))
        if settings:
            for build in builds:
                result.runs.setdefault(f"{build.label} edit", []).append(edited_check(build, root, settings))
            # Put back, the file is new to every build's cache (its ctime changed): check once more,
            # untimed, so that the next round's warm runs find the result of an unchanged tree.
            for build in builds:
                run([*build.command, "check", "--exit-zero", "."], root, build.env)
    return result


def large_tree(source: Path, count: int, scratch: Path) -> Path:
    """count .py files: copies of source's, each copy in a numbered folder."""
    target = scratch / "large"
    files = [Path(p).relative_to(source) for p in python_files(source)]
    made = 0
    while made < count:
        for rel in files[: count - made]:
            out = target / f"copy{made // len(files)}" / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / rel, out)
        made += min(len(files), count - made)
    return target


def measure_large(root: Path, builds: list[Build], repeat: int) -> dict[str, list[Run]]:
    runs: dict[str, list[Run]] = {}
    commands = {f"{b.label} cold": ([*b.command, "check", "--no-cache", "--exit-zero", "."], b.env) for b in builds}
    if ruff_command():
        commands["ruff"] = (ruff_command("--no-cache"), builds[0].env)
    for _ in range(repeat):
        for kind, (command, env) in commands.items():
            runs.setdefault(kind, []).append(run(command, root, env))
    return runs


def figures(result: Result, build: Build) -> dict[str, float | None]:
    """A project's medians, as seen by one build: the shared runs and that build's own."""
    out = {kind: result.median(kind) for kind in ("pass", "parse", "ruff", "ruff-warm")}
    out.update({kind: result.median(f"{build.label} {kind}") for kind in ("version", "warm", "cold", "edit")})
    out["cpu"] = result.median(f"{build.label} cold", "cpu")
    out["MB"] = result.median(f"{build.label} cold", "mb")
    out["ruff MB"] = result.median("ruff", "mb")
    return out


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


COLUMNS = [  # heading, width, what it shows from figures()
    ("pass", 6, lambda f: fmt(f["pass"], 3)),
    ("version", 7, lambda f: fmt(f["version"], 3)),
    ("warm", 6, lambda f: fmt(f["warm"], 3)),
    ("cold", 6, lambda f: fmt(f["cold"])),
    ("cpu", 6, lambda f: fmt(f["cpu"])),
    ("parse", 6, lambda f: fmt(f["parse"])),
    ("edit", 6, lambda f: fmt(f["edit"])),
    ("MB", 5, lambda f: fmt(f["MB"], 0)),
    ("ruff", 6, lambda f: fmt(f["ruff"])),
    ("ruff-w", 6, lambda f: fmt(f["ruff-warm"], 3)),
    ("ruff MB", 7, lambda f: fmt(f["ruff MB"], 0)),
    ("cold/parse", 10, lambda f: fmt(ratio(f["cold"], f["parse"]))),
    ("cold/ruff", 9, lambda f: fmt(ratio(f["cold"], f["ruff"]), 1)),
    ("warm/pass", 9, lambda f: fmt(ratio(f["warm"], f["pass"]), 1)),
    ("edit/parse", 10, lambda f: fmt(ratio(f["edit"], f["parse"]))),
    ("MB/ruff", 7, lambda f: fmt(ratio(f["MB"], f["ruff MB"]), 1)),
]


def print_rows(results: list[Result], builds: list[Build]) -> None:
    print(f"{'project':<24} {'files':>6} {'build':>8} " + " ".join(f"{h:>{w}}" for h, w, _ in COLUMNS)
          + "   (seconds; MB of peak RSS)")
    for result in results:
        for build in builds:
            f = figures(result, build)
            print(f"{result.name[:24]:<24} {result.files:>6} {build.label[:8]:>8} "
                  + " ".join(f"{show(f):>{w}}" for _, w, show in COLUMNS))


def summary(results: list[Result], build: Build, large: tuple[int, dict[str, list[Run]]] | None) -> list[str]:
    """The rows of issue 18's table, with this run's figures."""
    f = {r.name: figures(r, build) for r in results}
    files = {r.name: r.files for r in results}
    rows = []

    cold_parse = {name: ratio(v["cold"], v["parse"]) for name, v in f.items()}
    big = sorted((name for name in f if files[name] >= BIG), key=lambda name: cold_parse[name] or 0)
    met = [name for name in big if (cold_parse[name] or 9) <= 0.5]
    rows.append(("projects whose cold run is ≤ 0.5× ast.parse-all",
                 f"{len(met)} of {len(big)} with ≥ {BIG} files ("
                 + ", ".join(f"{name} {fmt(cold_parse[name])}×" for name in big) + ")"))

    cold = [v["cold"] for v in f.values()]
    ruff = [v["ruff"] for v in f.values()]
    cpu = [v["cpu"] for v in f.values()]
    if None not in cold + ruff:
        rows.append((f"cold, all {len(f)} projects summed, vs Ruff cold",
                     f"{sum(cold) / sum(ruff):.1f}× ({sum(cold):.1f} s, {sum(cpu):.1f} s of CPU; Ruff {sum(ruff):.1f} s)"))

    warm_pass = {name: ratio(v["warm"], v["pass"]) for name, v in f.items()}
    worst = max(warm_pass, key=lambda name: warm_pass[name] or 0)

    def spread(kind: str) -> str:
        values = [v[kind] for v in f.values()]
        return f"{min(values):.3f}–{max(values):.3f}"

    rows.append(("unchanged tree (warm), any project",
                 f"{spread('warm')} s, at most {warm_pass[worst]:.1f}× `python -c pass` ({worst}); "
                 f"`python -c pass` {spread('pass')} s" + (f"; Ruff {spread('ruff-warm')} s" if None not in ruff else "")))

    edit_parse = {name: ratio(v["edit"], v["parse"]) for name, v in f.items() if v["edit"] is not None}
    if edit_parse:
        saleor = f"saleor {edit_parse['saleor']:.2f}× ast.parse ({f['saleor']['edit']:.2f} s); " if "saleor" in edit_parse else ""
        rows.append(("one settings file edited",
                     f"{saleor}{min(edit_parse.values()):.2f}–{max(edit_parse.values()):.2f}× on {len(edit_parse)} projects"))

    top = max(f, key=lambda name: files[name])
    memory = f"{top} ({files[top]} files) {fmt(f[top]['MB'], 0)} MB, Ruff {fmt(f[top]['ruff MB'], 0)} MB"
    if large:
        count, runs = large
        mine = statistics.median(x.mb for x in runs[f"{build.label} cold"])
        wall = statistics.median(x.wall for x in runs[f"{build.label} cold"])
        theirs = statistics.median(x.mb for x in runs["ruff"]) if "ruff" in runs else None
        memory += f"; {count:,} files {mine:.0f} MB in {wall:.1f} s, Ruff {fmt(theirs, 0)} MB ({fmt(ratio(mine, theirs), 1)}×)"
    rows.append(("peak memory (cold)", memory))
    return ["| measure | today |", "|---|---|"] + [f"| {measure} | {today} |" for measure, today in rows]


class Load:
    """How busy the machine was while we ran: all its CPU time against what our children used."""

    def __init__(self) -> None:
        self.start, self.ours, self.began = self._stat(), self._ours(), time.monotonic()

    @staticmethod
    def _stat() -> tuple[float, float]:
        fields = [float(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    @staticmethod
    def _ours() -> float:
        import resource

        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    def report(self) -> str:
        busy, total = self._stat()
        ticks = os.sysconf("SC_CLK_TCK")
        busy_s, total_s = (busy - self.start[0]) / ticks, (total - self.start[1]) / ticks
        ours = self._ours() - self.ours
        wall = time.monotonic() - self.began
        return (f"machine: {os.cpu_count()} cores, {wall / 60:.1f} min; CPU busy {busy_s / total_s:.0%} "
                f"({busy_s:.0f} core-s, {ours:.0f} of them this benchmark's, {max(0.0, busy_s - ours):.0f} others'); "
                f"/proc/loadavg at the end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


def projects(names: list[str], work: Path, mirrors: Path) -> list[tuple[str, Path]]:
    tomls = sorted((evaluate.HERE / "projects").glob("*.toml")) + sorted((evaluate.HERE / "regression").glob("*.toml"))
    chosen = []
    for name in names or [p.stem for p in tomls]:
        if Path(name).is_dir():
            chosen.append((Path(name).resolve().name, Path(name).resolve()))
            continue
        match = [p for p in tomls if p.stem == name]
        if not match:
            sys.exit(f"{name}: neither a folder nor a project of benchmarks/ecosystem")
        chosen.append((name, evaluate.checkout(evaluate.load(match[0]), work, mirrors)))
    return chosen


def report(results: list[Result], builds: list[Build], repeat: int, large: tuple[int, dict[str, list[Run]]] | None,
           load: str) -> None:
    print_rows(results, builds)
    for build in builds:
        print(f"\n{build.label}: {' '.join(build.command)}, medians of {repeat}\n")
        print("\n".join(summary(results, build, large)))
    print("\n" + load)


def save(path: Path, results: list[Result], builds: list[Build], repeat: int,
         large: tuple[int, dict[str, list[Run]]] | None, load: str) -> None:
    def runs(by_kind: dict[str, list[Run]]) -> dict[str, list[dict]]:
        return {kind: [vars(x) for x in values] for kind, values in by_kind.items()}

    path.write_text(json.dumps({
        "builds": [{"label": b.label, "command": b.command} for b in builds], "repeat": repeat, "load": load,
        "projects": [{"name": r.name, "files": r.files, "settings": r.settings, "runs": runs(r.runs)} for r in results],
        "large": {"files": large[0], "runs": runs(large[1])} if large else None}, indent=1))


def show(path: Path) -> None:
    data = json.loads(path.read_text())

    def to_runs(by_kind: dict[str, list[dict]]) -> dict[str, list[Run]]:
        return {kind: [Run(**x) for x in values] for kind, values in by_kind.items()}

    results = [Result(p["name"], p["files"], p["settings"], to_runs(p["runs"])) for p in data["projects"]]
    builds = [Build(b["label"], b["command"], {}) for b in data["builds"]]
    large = (data["large"]["files"], to_runs(data["large"]["runs"])) if data["large"] else None
    report(results, builds, data["repeat"], large, data["load"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("projects", nargs="*",
                        help="project names (benchmarks/ecosystem/{projects,regression}/NAME.toml) or folders; "
                             "default every project of both sets")
    parser.add_argument("--repeat", type=int, default=5, help="rounds of runs; medians count (default 5)")
    parser.add_argument("--qlint", action="append", metavar="[LABEL=]PATH",
                        help="a qlint build to time: its script or environment (repeat to compare builds)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/qlint-speed"), help="where the checkouts go")
    parser.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--large", action="store_true",
                        help=f"also peak memory of cold runs on {LARGE:,} .py files, copies of the largest project's")
    parser.add_argument("--json", type=Path, help="also write every run here")
    parser.add_argument("--show", type=Path, metavar="JSON", help="print the tables of an earlier --json, run nothing")
    args = parser.parse_args()
    if args.show:
        show(args.show)
        return 0
    if ruff_command() is None:
        print("Ruff not found: `pip install ruff` for its columns", file=sys.stderr)
    load = Load()
    repeat = max(1, args.repeat)
    chosen = projects(args.projects, args.work, args.mirrors)
    results: list[Result] = []
    large = None
    with tempfile.TemporaryDirectory(prefix="qlint-speed-") as folder:
        scratch = Path(folder)
        builds = [build_of(spec, scratch) for spec in args.qlint or [f"qlint={Path(sys.executable).with_name('qlint')}"]]
        for name, root in chosen:
            results.append(measure(name, root, builds, repeat, scratch))
            print(f"{name}: done", file=sys.stderr, flush=True)
        if args.large:
            biggest = max(zip(chosen, results), key=lambda pair: pair[1].files)[0][1]
            large = LARGE, measure_large(large_tree(biggest, LARGE, scratch), builds, min(3, repeat))
    machine = load.report()
    report(results, builds, repeat, large, machine)
    if args.json:
        save(args.json, results, builds, repeat, large, machine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
