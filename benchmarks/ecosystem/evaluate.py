"""Recall and precision of qlint on real Celery projects, labelled by reading their code
before qlint ran on them (projects/*.toml; README.md beside this file says how).

    python benchmarks/ecosystem/evaluate.py                    # every labelled project
    python benchmarks/ecosystem/evaluate.py udata zenodo       # some of them
    python benchmarks/ecosystem/evaluate.py --json out.json    # the figures as data too
    python benchmarks/ecosystem/evaluate.py --set regression   # projects of earlier reviews

Each project is checked out at its pinned commit under --work (default
/tmp/qlint-ecosystem/NAME): from a git directory that holds the commit (--mirrors, default
/work/.mirror, where owner+name/repo is a bare copy), else with `git clone` from GitHub.
Blobs a mirror lacks (files of 4 MB and more) are skipped. Then the installed `qlint
check --no-cache --format json --exit-zero .` runs there.

A must label is found when a finding of its rule stands at one of its places (`at`), or
names one of them among its related locations; a place is the first line of what it names,
and in Python a finding inside a construct that starts there (a decorator call written over
several lines) stands at it. A finding is true when it finds a must
label or is judged true ([[judged]], written after a run, with the reason); false when it
stands where a must_not label of its rule is, or is judged false; any other is printed as
unjudged, and left out of precision until someone judges it.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass
class Label:
    rule: str
    at: frozenset[str]
    why: str
    kind: str  # must | must_not | judged-true | judged-false


@dataclass
class Project:
    name: str
    repo: str
    commit: str
    labels: list[Label] = field(default_factory=list)


def load(path: Path) -> Project:
    data = tomllib.loads(path.read_text())
    project = Project(path.stem, data["repo"], data["commit"])
    for kind in ("must", "must_not"):
        for entry in data.get(kind, []):
            project.labels.append(Label(entry["rule"], frozenset(entry["at"]), entry.get("why", ""), kind))
    for entry in data.get("judged", []):
        verdict = "judged-true" if entry["verdict"] == "true" else "judged-false"
        project.labels.append(Label(entry["rule"], frozenset(entry["at"]), entry.get("why", ""), verdict))
    return project


def checkout(project: Project, work: Path, mirrors: Path) -> Path:
    target = work / project.name
    stamp = target / ".qlint-ecosystem-commit"
    if stamp.exists() and stamp.read_text().strip() == project.commit:
        return target
    if target.exists():
        subprocess.run(["rm", "-rf", str(target)], check=True)
    target.mkdir(parents=True)
    mirror = mirrors / project.repo.replace("/", "+") / "repo"
    if mirror.is_dir():
        _extract(mirror, project.commit, target)
    else:
        subprocess.run(["git", "clone", "--quiet", f"https://github.com/{project.repo}", str(target)], check=True)
        subprocess.run(["git", "-C", str(target), "checkout", "--quiet", project.commit], check=True)
    stamp.write_text(project.commit)
    return target


def _extract(git_dir: Path, commit: str, target: Path) -> None:
    """Every blob of commit that git_dir holds, written under target."""
    listing = subprocess.run(["git", "--git-dir", str(git_dir), "ls-tree", "-r", "-z", commit],
                             capture_output=True, check=True).stdout
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, path = entry.partition(b"\t")
        mode, kind, sha = meta.split()
        if kind != b"blob" or mode == b"120000":
            continue
        blob = subprocess.run(["git", "--git-dir", str(git_dir), "cat-file", "blob", sha.decode()], capture_output=True)
        if blob.returncode != 0:
            continue  # not in the snapshot (large files)
        out = target / os.fsdecode(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(blob.stdout)


def run_qlint(root: Path) -> list[dict]:
    # The qlint command installed beside this interpreter: a checkout's .python-version must not
    # pick another (a pyenv shim would), and `python -m` would put the checkout on sys.path.
    done = subprocess.run([str(Path(sys.executable).parent / "qlint"), "check", "--no-cache", "--format", "json", "--exit-zero", "."], cwd=root,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"qlint failed on {root} ({done.returncode}):\n{done.stderr}")
    report = json.loads(done.stdout)
    return report["findings"] if isinstance(report, dict) else report  # a list before qlint 0.2


def places(finding: dict) -> tuple[str, set[str]]:
    primary = f"{finding['path']}:{finding['line']}"
    return primary, {primary} | {f"{r['path']}:{r['line']}" for r in finding.get("related", [])}


class Extents:
    """A label's place is the first line of what it names; in Python that may be a construct
    written over several lines (a decorator call with its options, a multi-line assignment), and
    a finding anywhere inside it stands at the label. Read with ast from the checkout, once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._ends: dict[str, dict[int, int]] = {}

    def covers(self, label_place: str, place: str) -> bool:
        if label_place == place:
            return True
        label_path, _, label_line = label_place.rpartition(":")
        path, _, line = place.rpartition(":")
        if path != label_path or not label_path.endswith(".py") or not (label_line.isdigit() and line.isdigit()):
            return False
        start, at = int(label_line), int(line)
        return start < at <= self._ends_of(path).get(start, start)

    def _ends_of(self, path: str) -> dict[int, int]:
        if path not in self._ends:
            ends: dict[int, int] = {}
            try:
                tree = ast.parse((self.root / path).read_bytes())
            except (OSError, SyntaxError, ValueError):
                tree = None
            for node in ast.walk(tree) if tree is not None else ():
                if isinstance(node, (ast.stmt, ast.expr)) and getattr(node, "end_lineno", None):
                    ends[node.lineno] = max(ends.get(node.lineno, 0), node.end_lineno)
            self._ends[path] = ends
        return self._ends[path]


@dataclass
class Tally:
    must: Counter = field(default_factory=Counter)
    found: Counter = field(default_factory=Counter)
    true: Counter = field(default_factory=Counter)
    false: Counter = field(default_factory=Counter)
    unjudged: Counter = field(default_factory=Counter)


def evaluate(project: Project, findings: list[dict], tally: Tally, out: list[str], extents: Extents) -> None:
    found_labels: set[int] = set()
    for finding in findings:
        code = finding["code"]
        primary, anywhere = places(finding)
        verdict = None
        for number, label in enumerate(project.labels):
            if label.rule != code:
                continue
            at_primary = any(extents.covers(place, primary) for place in label.at)
            if label.kind == "must" and (at_primary or any(extents.covers(p, q) for p in label.at for q in anywhere)):
                found_labels.add(number)
                verdict = verdict or "true"
            elif label.kind == "judged-true" and at_primary:
                verdict = verdict or "true"
            elif label.kind in ("must_not", "judged-false") and at_primary:
                verdict = "false" if verdict is None else verdict
        if verdict == "true":
            tally.true[code] += 1
        elif verdict == "false":
            tally.false[code] += 1
            out.append(f"  FALSE   {code} {primary}  {finding['message'][:150]}")
        else:
            tally.unjudged[code] += 1
            out.append(f"  UNJUDGED {code} {primary}  {finding['message'][:150]}")
    for number, label in enumerate(project.labels):
        if label.kind != "must":
            continue
        tally.must[label.rule] += 1
        if number in found_labels:
            tally.found[label.rule] += 1
        else:
            out.append(f"  MISSED  {label.rule} {sorted(label.at)[0]}  {' '.join(label.why.split())[:150]}")


def ratio(part: int, whole: int) -> str:
    return f"{part / whole:.2f}" if whole else "  - "


def report(tally: Tally) -> dict:
    rules = sorted(set(tally.must) | set(tally.true) | set(tally.false) | set(tally.unjudged))
    print(f"\n{'rule':7} {'labels':>6} {'found':>5} {'recall':>6} {'true':>5} {'false':>5} {'unjudged':>8} {'precision':>9}")
    rows = {}
    for rule in rules + ["all"]:
        pick = (lambda c: sum(c.values())) if rule == "all" else (lambda c, r=rule: c[r])
        must, found, true, false, unjudged = (pick(c) for c in (tally.must, tally.found, tally.true, tally.false,
                                                                tally.unjudged))
        rows[rule] = {"labels": must, "found": found, "true": true, "false": false, "unjudged": unjudged}
        print(f"{rule:7} {must:6} {found:5} {ratio(found, must):>6} {true:5} {false:5} {unjudged:8} "
              f"{ratio(true, true + false):>9}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="projects (file names under the set's folder, without .toml)")
    parser.add_argument("--set", default="projects", choices=["projects", "regression"],
                        help="projects: labelled before qlint ran; regression: projects of earlier reviews, "
                             "unlabelled (their findings print as unjudged until judged)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/qlint-ecosystem"))
    parser.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--json", type=Path, help="also write the per-rule figures and every finding here")
    parser.add_argument("--findings", type=Path, help="score the findings of an earlier --json file instead of "
                                                      "running qlint (labels edited since are taken into account)")
    args = parser.parse_args()
    paths = sorted((HERE / args.set).glob("*.toml"))
    if args.names:
        paths = [p for p in paths if p.stem in args.names]
    tally, dump = Tally(), defaultdict(list)
    earlier = json.loads(args.findings.read_text())["findings"] if args.findings else None
    for path in paths:
        project = load(path)
        root = checkout(project, args.work, args.mirrors)
        findings = earlier.get(project.name, []) if earlier is not None else run_qlint(root)
        lines: list[str] = []
        evaluate(project, findings, tally, lines, Extents(root))
        print(f"{project.name} ({project.repo} @ {project.commit[:10]}): {len(findings)} findings")
        print("\n".join(lines) if lines else "  every label found, every finding true")
        dump[project.name] = findings
        sys.stdout.flush()
    rows = report(tally)
    if args.json:
        args.json.write_text(json.dumps({"rules": rows, "findings": dump}, indent=1))


if __name__ == "__main__":
    main()
