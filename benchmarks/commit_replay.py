"""The pre-commit hook over a project's real history: what a commit costs a developer (issue 18).

    python benchmarks/commit_replay.py saleor rapidpro --commits 40
    python benchmarks/commit_replay.py --qlint before=/tmp/old-venv/bin/qlint --qlint after=… saleor

For each project of benchmarks/ecosystem (its repository's git mirror under --mirrors, as
evaluate.py finds it), the last --commits commits of the mirror's first-parent history are replayed
in order on a scratch tree: the tree starts as the oldest one's parent and is checked once with
`qlint check .` per build (untimed, as the developer's last run). Then for each commit the files it
changes are written (deleted ones removed), and the hook runs as pre-commit runs it: `qlint check
--force-exclude` with the added and modified files its `files` pattern matches
(.pre-commit-hooks.yaml), for each build in turn. A commit that changes no such file runs no hook.

Printed per project and build: the commits where the hook ran, how many of those were answered
without analysing the project (the run did not import qlint.pipeline.analysis, as
PYTHONPROFILEIMPORTTIME shows), and the median and total wall time of the hook. Files the mirror
lacks (blobs of 4 MB and more) are left as they were.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "ecosystem"))

import evaluate  # noqa: E402  (benchmarks/ecosystem/evaluate.py: the project lists and their checkout)
from process_speed import environment  # noqa: E402


def hook_pattern() -> re.Pattern[str]:
    from ruamel.yaml import YAML

    [hook] = YAML(typ="safe").load((HERE.parent / ".pre-commit-hooks.yaml").read_text())
    return re.compile(hook["files"])


def git(git_dir: Path, *args: str) -> bytes:
    return subprocess.run(["git", "--git-dir", str(git_dir), *args], capture_output=True, check=True).stdout


def apply(git_dir: Path, parent: str, commit: str, tree: Path) -> list[str]:
    """Write commit's changes over tree (at parent); the added and modified paths."""
    changed = []
    entries = git(git_dir, "diff-tree", "-r", "-z", "--no-renames", parent, commit).split(b"\0")
    for meta, path in zip(entries[0::2], entries[1::2]):
        if not meta:
            continue
        _, new_mode, _, sha, status = meta.decode().lstrip(":").split()
        rel = os.fsdecode(path)
        target = tree / rel
        if status == "D" or new_mode == "120000":
            target.unlink(missing_ok=True)
            continue
        blob = subprocess.run(["git", "--git-dir", str(git_dir), "cat-file", "blob", sha], capture_output=True)
        if blob.returncode != 0:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob.stdout)
        changed.append(rel)
    return changed


def run(command: list[str], tree: Path, env: dict[str, str]) -> tuple[float, bool]:
    """Wall seconds, and whether the process analysed the project. Returns once the child that
    stores the run's caches is done too, as it is long before a developer's next commit."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=tree, env={**env, "PYTHONPROFILEIMPORTTIME": "1"}, capture_output=True,
                          text=True, check=False)
    took = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command[:3])}… failed in {tree}:\n{done.stderr[-2000:]}")
    python = Path(command[0]).with_name("python")
    subprocess.run([str(python), "-c", WAIT, str(tree)], env=env, check=True)
    return took, "qlint.pipeline.analysis" in done.stderr


WAIT = "import sys; from pathlib import Path; from qlint.scan.cache_writer import wait_for_writer; " \
       "wait_for_writer(Path(sys.argv[1]).resolve())"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("projects", nargs="+", help="names of benchmarks/ecosystem/*/NAME.toml")
    parser.add_argument("--commits", type=int, default=30)
    parser.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("-v", "--verbose", action="store_true", help="a line per commit")
    parser.add_argument("--qlint", action="append", default=[], metavar="LABEL=PATH",
                        help="a qlint executable to time (repeatable; default the one beside this interpreter)")
    args = parser.parse_args()
    builds = dict(item.split("=", 1) for item in args.qlint) or {"qlint": str(Path(sys.executable).with_name("qlint"))}
    pattern = hook_pattern()
    tomls = {path.stem: path for path in HERE.glob("ecosystem/*/*.toml")}
    for name in args.projects:
        project = evaluate.load(tomls[name])
        git_dir = args.mirrors / project.repo.replace("/", "+") / "repo"
        commits = git(git_dir, "rev-list", "--first-parent", "-n", str(args.commits + 1), "HEAD").decode().split()[::-1]
        with tempfile.TemporaryDirectory(prefix=f"qlint-replay-{name}-") as scratch:
            tree = Path(scratch, name)
            tree.mkdir()
            evaluate._extract(git_dir, commits[0], tree)
            envs = {label: environment(str(Path(scratch, f"cache-{label}"))) for label in builds}
            for label, qlint in builds.items():
                run([qlint, "check", "--exit-zero", "."], tree, envs[label])
            times: dict[str, list[float]] = {label: [] for label in builds}
            answered = dict.fromkeys(builds, 0)
            for parent, commit in zip(commits, commits[1:]):
                paths = [p for p in apply(git_dir, parent, commit, tree) if pattern.search(p)]
                if not paths:
                    continue
                line = []
                for label, qlint in builds.items():
                    took, analysed = run([qlint, "check", "--force-exclude", "--exit-zero", *paths], tree, envs[label])
                    times[label].append(took)
                    answered[label] += not analysed
                    line.append(f"{label} {took:.2f} s{' analysed' if analysed else ''}")
                if args.verbose:
                    print(f"  {commit[:10]} {len(paths):3} files: {', '.join(line)}; {' '.join(paths[:4])[:100]}")
            ran = len(next(iter(times.values())))
            print(f"{name}: {args.commits} commits, the hook ran on {ran}")
            for label in builds:
                if ran:
                    print(f"  {label:>10}: answered without analysis {answered[label]}/{ran}, "
                          f"median {statistics.median(times[label]):.2f} s, total {sum(times[label]):.1f} s")


if __name__ == "__main__":
    main()
