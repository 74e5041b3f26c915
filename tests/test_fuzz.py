"""Fuzzing `qlint check` and `qlint config` with mutated projects (issue 15).

Each case is one of the bundled projects with some of its files mutated (Python, YAML,
TOML, shell, .env, INI units: tokens of the file's own language inserted, spans deleted,
repeated or nested deep, bytes flipped, files cut short) and a hostile tree around it
(names that are not UTF-8, links that dangle or loop, folders 60 deep, binary files). Every
run must exit 0, 1 or 2 with no traceback and no internal error, and give the same findings
without the caches (--no-cache), with cold caches and with warm ones.

In CI a few derandomized cases run. By hand, a longer run:

    QLINT_FUZZ_EXAMPLES=5000 python -m pytest tests/test_fuzz.py -s -p no:randomly

sets the number of cases (random ones; QLINT_FUZZ_SEED makes them repeatable), stops each
run after QLINT_FUZZ_TIMEOUT seconds (300) so that a hang is a failure, and prints how many
cases ran (also appended to the file QLINT_FUZZ_LOG names, for runs under pytest-xdist).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import sys
import tempfile
import traceback
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from qlint.cli import main

REPO = Path(__file__).resolve().parents[1]
SEEDS = {"deployment": REPO / "examples" / "deployment", "incident": REPO / "examples" / "incident",
         "deployed": REPO / "tests" / "data" / "deployed"}
LONG = int(os.environ.get("QLINT_FUZZ_EXAMPLES", "0") or 0)
TIMEOUT = int(os.environ.get("QLINT_FUZZ_TIMEOUT", "300"))

_COMMON = [b"\x00", b"\xff\xfe", b"\xe9", b"\r", b"\r\n", b"\t", b"\n\n", b"\\", b'"', b"'", b"#", b" " * 80,
           b"\xef\xbb\xbf", b"${X}", b"9" * 5000, b"\n" + b"x" * 20000]
TOKENS = {
    "python": [b"(", b")", b"[", b"]", b"{", b"}", b":", b",", b"'''", b'f"{x}"', b" or a", b" and b", b"*", b"**",
               b"lambda: ", b"async ", b"await ", b"yield ", b"from . import *\n", b"from .settings import *\n",
               b"import proj.settings\n", b"CELERY_TASK_ACKS_LATE = True\n", b"app.conf.update(", b".delay(",
               b".s(", b".si()", b"chain(", b" | ", b"@app.task(bind=True)\n", b"@shared_task\ndef t(x):\n    pass\n",
               b"task_time_limit = ", b"broker_transport_options = {'visibility_timeout': ", b"os.environ['X']",
               b"os.getenv('CONCURRENCY', '4')", b"globals().update(", b"exec(", b"def f(:\n", b"\n    ",
               b"type X = int\n", b"match x:\n    case 1:\n        pass\n", b"# -*- coding: latin-1 -*-\n",
               b"# -*- coding: nonsense -*-\n", b"if DEBUG:\n    ", b"else:\n    ", b"__all__ = ['x']\n"],
    "yaml": [b"{", b"}", b"[", b"]", b"&a ", b"*a", b"<<: *a\n", b"!!binary ", b"!!python/object:os.system ",
             b"!!set ", b"? ", b"- ", b": ", b"|\n", b">-\n", b"%YAML 1.1\n---\n", b"---\n", b"...\n", b"command: ",
             b"celery -A proj worker -c 4 -O fair ", b"--prefetch-multiplier=1 ", b"replicas: 3\n", b"env_file: ",
             b"environment:\n  - A=1\n", b"$(VAR)", b"{{ .Values.x }}", b"profiles: [x]\n", b"kind: Deployment\n"],
    "toml": [b"[", b"]", b"[[", b"]]", b"=", b'"""', b"'''", b"{", b"}", b".", b"[tool.qlint]\n",
             b"exclude = [", b"select = ['QL1']\n", b"long-task-seconds = ", b'"5m"', b"1e400", b"-0", b"inf",
             b"[tool.qlint.tasks]\n", b"per-file-ignores = { ", b"celery = ", b"[project]\n"],
    "shell": [b"$(", b")", b"${", b"}", b":-", b"&&", b"||", b";", b"|", b"\\\n", b"exec ", b"celery -A proj worker ",
              b"--concurrency=", b"-c ", b"\"$@\"", b"set -e\n", b"export X=1\n", b"case $X in\n", b"esac\n", b"<<EOF\n",
              b"eval ", b"'", b"`"],
    "env": [b"=", b"export ", b"${", b"}", b"#", b"\\", b"\n", b"CELERY_BROKER_URL=redis://", b"CONCURRENCY=",
            b"A='", b'B="', b" = "],
    "ini": [b"\\", b"\n    ", b"[Service]\n", b"[program:w]\n", b"ExecStart=", b"Environment=", b"EnvironmentFile=",
            b"command=", b"numprocs=", b"%(program_name)s", b"%(ENV_X)s", b"%%", b"=", b";", b"\n\t"],
    "text": [b"web: ", b"worker: celery -A proj worker\n", b"release: ", b":"],
}
_NESTING = {"python": (b"(", b")"), "yaml": (b"[", b"]"), "toml": (b"[", b"]"), "shell": (b"$(", b")"),
            "env": (b"${", b"}"), "ini": (b"%(", b")s"), "text": (b"[", b"]")}
HOSTILE = ["non-utf8-names", "dangling-link", "loop-link", "deep-folders", "binary", "empty", "folder-named-py",
           "odd-names", "import-chain", "self-import"] + (["fifo", "too-large"] if LONG else [])


def kind_of(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    if name.endswith(".py"):
        return "python"
    if name.endswith((".yml", ".yaml")):
        return "yaml"
    if name.endswith(".toml"):
        return "toml"
    if name.endswith(".sh"):
        return "shell"
    if name.startswith(".env"):
        return "env"
    if name.endswith((".service", ".conf", ".ini")):
        return "ini"
    return "text"


def seed_files(name: str) -> dict[str, bytes]:
    root = SEEDS[name]
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and ".qlint_cache" not in p.parts}


@st.composite
def mutated(draw: st.DrawFn, data: bytes, kind: str) -> bytes:
    tokens = TOKENS[kind] + _COMMON
    for op in draw(st.lists(st.sampled_from(["insert", "delete", "repeat", "truncate", "bytes", "nest", "swap",
                                             "grow"]), min_size=1, max_size=5)):
        at = draw(st.integers(0, len(data)))
        if op == "insert":
            data = data[:at] + draw(st.sampled_from(tokens)) + data[at:]
        elif op == "grow":  # a token many times over: long chains, long lines, many entries
            times = draw(st.sampled_from([10, 300, 1000] + ([8000] if LONG else [])))
            data = data[:at] + draw(st.sampled_from(tokens)) * times + data[at:]
        elif op == "delete":
            data = data[:at] + data[draw(st.integers(at, min(len(data), at + 60))):]
        elif op == "repeat":
            end = draw(st.integers(at, min(len(data), at + 40)))
            times = draw(st.sampled_from([2, 3, 10, 100, 1000] + ([5000] if LONG else [])))
            data = data[:at] + data[at:end] * times + data[end:]
        elif op == "truncate":
            data = data[:at]
        elif op == "bytes":
            data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
        elif op == "nest":
            opener, closer = _NESTING[kind]
            depth = draw(st.sampled_from([2, 40, 120, 400] + ([2000] if LONG else [])))
            end = draw(st.integers(at, min(len(data), at + 20)))
            data = data[:at] + opener * depth + data[at:end] + closer * depth + data[end:]
        else:  # swap two spans
            end = draw(st.integers(at, len(data)))
            middle = draw(st.integers(at, end))
            data = data[:at] + data[middle:end] + data[at:middle] + data[end:]
    return data


@st.composite
def projects(draw: st.DrawFn) -> tuple[dict[str, bytes], list[str]]:
    files = seed_files(draw(st.sampled_from(sorted(SEEDS))))
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(sorted(files)))
        files[path] = draw(mutated(files[path], kind_of(path)))
    return files, draw(st.lists(st.sampled_from(HOSTILE), max_size=3, unique=True))


def write(root: Path, files: dict[str, bytes], hostile: list[str]) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    base = os.fsencode(root)
    python = sorted(rel for rel in files if rel.endswith(".py"))
    package = python[0].rsplit("/", 1)[0] if python and "/" in python[0] else "."
    for what in hostile:
        if what == "non-utf8-names":
            Path(os.fsdecode(base + b"/notes-\xff.txt")).write_bytes(b"celery\n")
            Path(os.fsdecode(base + b"/d\xe9ploiement")).mkdir(exist_ok=True)
            Path(os.fsdecode(base + b"/d\xe9ploiement/docker-compose.yml")).write_bytes(b"services: {w: {command: x}}\n")
            Path(os.fsdecode(base + b"/" + os.fsencode(package) + b"/t\xe2ches.py")).write_bytes(b"import celery\n")
        elif what == "dangling-link":
            with contextlib.suppress(OSError):
                (root / package / "missing.py").symlink_to("/nonexistent/missing.py")
                (root / "docker-compose.override.yml").symlink_to("/nonexistent.yml")
        elif what == "loop-link":
            with contextlib.suppress(OSError):
                (root / package / "loop").symlink_to(".")
                (root / "outside").symlink_to("/")
        elif what == "deep-folders":
            deep = root.joinpath(*["d"] * 60)
            deep.mkdir(parents=True, exist_ok=True)
            (deep / "tasks.py").write_text("from celery import shared_task\n\n@shared_task\ndef deep():\n    pass\n")
        elif what == "binary" and files:
            (root / sorted(files)[0]).write_bytes(bytes(range(256)) * 4)
        elif what == "empty" and files:
            (root / sorted(files)[-1]).write_bytes(b"")
        elif what == "folder-named-py":
            (root / package / "settings_dir.py").mkdir(exist_ok=True)
            (root / package / "settings_dir.py" / "x.py").write_text("import celery\n")
        elif what == "odd-names":
            (root / package / "a b.py").write_text("import celery\n")
            (root / package / "new\nline.py").write_text("from celery import shared_task\n")
            (root / "-c").write_text("x")
        elif what == "import-chain":  # modules that star-import the next, deeper than Python follows
            chain = root / package / "chain"
            chain.mkdir(exist_ok=True)
            (chain / "__init__.py").write_text("")
            dotted = f"{package.replace('/', '.')}.chain" if package != "." else "chain"
            for i in range(160):
                (chain / f"m{i}.py").write_text(f"from {dotted}.m{i + 1} import *\nCELERY_X{i} = {i}\n")
            (chain / "m160.py").write_text("CELERY_TASK_ACKS_LATE = True\n")
            with open(root / python[-1], "ab") as handle:
                handle.write(f"\nfrom {dotted}.m0 import *\n".encode())
        elif what == "self-import" and python:
            module = python[-1][:-3].replace("/", ".")
            with open(root / python[-1], "ab") as handle:
                handle.write(f"\nfrom {module} import *\nimport {module}\n".encode())
        elif what == "too-large" and python:
            with open(root / python[0], "ab") as handle:
                handle.write(b"\nDATA = [" + b"1, " * 400_000 + b"]\n")
        elif what == "fifo":
            with contextlib.suppress(OSError):
                os.mkfifo(root / "docker-compose.prod.yml")
                os.mkfifo(root / package / "fifo.py")


class Hung(Exception):
    pass


def _alarm(signum, frame):
    raise Hung(f"no answer after {TIMEOUT} s")


def run(args: list[str], cwd: Path) -> tuple[object, str, str]:
    """main(args) in cwd, as the command line runs it: exit code, stdout and stderr as
    strict UTF-8 (a name that cannot be encoded fails here as it would on a terminal)."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", write_through=True)
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", write_through=True)
    here = os.getcwd()
    os.chdir(cwd)
    previous = signal.signal(signal.SIGALRM, _alarm) if LONG else None
    if LONG:
        signal.alarm(TIMEOUT)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(args)
            except SystemExit as exc:
                code = exc.code
            except BaseException:  # a crash is what this test looks for: keep it as the result
                code = "crash"
                print(traceback.format_exc(), file=sys.stderr)
    finally:
        if LONG:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        os.chdir(here)
    return code, out.buffer.getvalue().decode("utf-8"), err.buffer.getvalue().decode("utf-8")


def findings_of(stdout: str) -> list[tuple]:
    data = json.loads(stdout)
    found = data["findings"] if isinstance(data, dict) else data
    return sorted((f["code"], f["path"], f["line"], f["column"], f["message"]) for f in found)


def check_case(root: Path) -> None:
    results = []
    for step, args in enumerate((["--no-cache"], [], [], [])):
        if step == 3:  # every file touched: the run's stored answer is stale, each file's facts are not
            for folder, _, names in os.walk(root):
                for name in names:
                    with contextlib.suppress(OSError):
                        path = os.path.join(folder, name)
                        if os.path.isfile(path) and not os.path.islink(path):
                            stat = os.stat(path)
                            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        code, out, err = run(["check", ".", "--format", "json", *args], root)
        assert code in (0, 1, 2), f"check {args}: exit {code}\n{err}"
        assert "Traceback" not in err and "internal error" not in err, f"check {args}:\n{err}"
        results.append((code, findings_of(out) if code != 2 else err))
    assert all(r == results[0] for r in results), f"the caches change the answer: {results}"
    code, out, err = run(["config", ".", "--format", "json"], root)
    assert code in (0, 2) and "Traceback" not in err, f"config: exit {code}\n{err}"


CASES = {"count": 0}


def _report(what: str) -> None:
    """How many cases ran so far, on stderr and in QLINT_FUZZ_LOG (a long run's record)."""
    if not LONG:
        return
    line = f"qlint fuzz: {CASES['count']} cases run (through the {what})"
    print(f"\n{line}", file=sys.stderr)
    if os.environ.get("QLINT_FUZZ_LOG"):
        with open(os.environ["QLINT_FUZZ_LOG"], "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
SCENARIOS = sorted((REPO / "examples" / "scenarios").glob("*.yaml"))
_SCENARIO_TOKENS = [b"count: 100000", b"every: 0.001", b"until: 1e9", b"args: [", b"chain: [", b"{task: t}, ",
                    b"chord: {header: [", b"body: ", b"faults: [{at: 1, kill: w1}]", b"revoke: ", b"terminate: true",
                    b"duration: {min: 0, max: 1e12}", b"project: /", b"settings: ", b"seed: ",
                    b"returns: ", b"payload_bytes: 536870912", b"concurrency: 512", b"prefetch_multiplier: 100000",
                    b"statedb: /dev/null", b"broker_url: ", b"visibility_timeout: 0.0001", b"!!set {a}", b"!!timestamp "]


def test_mutated_projects_are_checked_without_a_traceback_and_the_caches_agree():
    budget = settings(max_examples=LONG or 5, deadline=None, derandomize=not LONG, database=None,
                      suppress_health_check=list(HealthCheck), print_blob=True)

    @budget
    @given(projects())
    def case(project: tuple[dict[str, bytes], list[str]]) -> None:
        CASES["count"] += 1
        files, hostile = project
        folder = Path(tempfile.mkdtemp(prefix="qlint-fuzz-"))
        try:
            write(folder / "p", files, hostile)
            check_case(folder / "p")
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    if LONG and os.environ.get("QLINT_FUZZ_SEED"):
        case = seed(int(os.environ["QLINT_FUZZ_SEED"]))(case)
    try:
        case()
    finally:
        _report("projects")


def test_mutated_scenarios_are_replayed_or_refused_without_a_traceback():
    budget = settings(max_examples=LONG or 5, deadline=None, derandomize=not LONG, database=None,
                      suppress_health_check=list(HealthCheck), print_blob=True)
    TOKENS["scenario"] = TOKENS["yaml"] + _SCENARIO_TOKENS
    _NESTING["scenario"] = _NESTING["yaml"]

    @budget
    @given(st.sampled_from(SCENARIOS).flatmap(lambda path: mutated(path.read_bytes(), "scenario")))
    def case(text: bytes) -> None:
        CASES["count"] += 1
        folder = Path(tempfile.mkdtemp(prefix="qlint-fuzz-"))
        try:
            (folder / "scenario.yaml").write_bytes(text)
            code, out, err = run(["simulate", "scenario.yaml", "--format", "json"], folder)
            assert code in (0, 2) and "Traceback" not in err, f"simulate: exit {code}\n{err}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    try:
        case()
    finally:
        _report("scenarios")
