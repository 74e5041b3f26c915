"""`qlint check --fix`, `--diff` and `--unsafe-fixes`: what the command line adds to the
fixing of qlint/pipeline/fixes.py: writing or showing the changes, and saying what was
fixed, what was refused and what fixes are still to be had."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from qlint.model import Finding
    from qlint.pipeline.fixes import FixRun


def register_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fix", action="store_true", help="apply the safe fixes (with --unsafe-fixes, the unsafe ones too)")
    parser.add_argument("--unsafe-fixes", action="store_true",
                        help="also apply (with --fix) or offer the fixes that may change how the project behaves")
    parser.add_argument("--diff", action="store_true",
                        help="print the changes --fix would make as a unified diff, and write nothing")


def run_fixes(args: argparse.Namespace, paths: Sequence[str], *, cwd: Path, root: Path, config, **options) -> "FixRun":
    """Fix in memory, then write the files unless --diff; refusals and write errors go to stderr."""
    from qlint.pipeline.fixes import checker, fix_paths, write_files

    check = checker(paths, cwd=cwd, root=root, config=config, use_cache=not args.no_cache,
                    force_exclude=args.force_exclude, **options)
    run = fix_paths(check, cwd=cwd, root=root, paths=paths, unsafe=args.unsafe_fixes, writing=not args.diff)
    for refusal in run.refused:
        codes = ", ".join(sorted({f.code for f in refusal.findings}))
        print(f"qlint: not fixed ({codes}) in {refusal.path}: {refusal.reason}", file=sys.stderr)
    if not args.diff:
        failed = write_files(run)
        for path, error in failed:
            print(f"qlint: could not write {path}: {error}; its fixes were not applied", file=sys.stderr)
        if failed:
            # What is on disk is not what was fixed in memory: report what the files now hold.
            run.result = check(None)
            written = {s.path for s in run.changed} - {path for path, _ in failed}
            run.fixed = [f for f in run.fixed if f.fix is not None and {e.span.path for e in f.fix.edits} <= written]
    return run


def unified_diff(run: "FixRun") -> str:
    """The changes as `git apply` and `patch -p1` read them."""
    import difflib

    out: list[str] = []
    for source in run.changed:
        before = source.original.splitlines(keepends=True)
        after = source.text.splitlines(keepends=True)
        for line in difflib.unified_diff(before, after, f"a/{source.path}", f"b/{source.path}"):
            if line.endswith(("\n", "\r")):
                out.append(line)
            else:  # the last line of a file without a line ending
                out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)


def summary(fixed: int, remaining: int, baselined: int = 0) -> str:
    """The last line of the text report after --fix, in Ruff's words."""
    total = fixed + remaining
    head = f"Found {total} finding{'' if total == 1 else 's'} ({fixed} fixed, {remaining} remaining)"
    if baselined:
        return f"{head}; {baselined} finding{'' if baselined == 1 else 's'} in the baseline not shown."
    return f"{head}."


def hints(findings: Sequence[Finding], unsafe: bool) -> str | None:
    """What --fix could do about the findings left, as Ruff says it."""
    from qlint.model import applicable

    fixable = sum(applicable(f.fix, unsafe) for f in findings)
    hidden = 0 if unsafe else sum(applicable(f.fix, True) for f in findings) - fixable
    hidden_text = f"{hidden} hidden fix{'' if hidden == 1 else 'es'} can be enabled with the `--unsafe-fixes` option"
    if fixable and hidden:
        return f"[*] {fixable} fixable with the `--fix` option ({hidden_text})."
    if fixable:
        return f"[*] {fixable} fixable with the `--fix` option."
    if hidden:
        return f"No fixes available ({hidden_text})."
    return None
