"""`qlint baseline`: write the current findings to a baseline file, which `qlint check
--baseline FILE` (or `baseline = "FILE"` in [tool.qlint]) then leaves out. The way to adopt qlint
in CI on a project that already has findings: new ones fail the build, the old ones wait.

The command runs `qlint check` itself, with check's defaults for every option it does not take,
and check hands its findings to write() instead of reporting them; check also reads the
baseline through this module (without_baselined, notes)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from qlint.cli import EXIT_OK, UsageError, build_parser

# The options `qlint baseline` passes on to the check; the others keep check's defaults.
_PASSED_ON = ("paths", "select", "extend_select", "ignore", "no_cache", "force_exclude", "report_unused_ignores")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("baseline", help="write the current findings to a file that `qlint check --baseline` leaves out")
    parser.add_argument("paths", nargs="*", default=["."], metavar="PATH")
    parser.add_argument("--output-file", "-o", metavar="FILE",
                        help="the file to write (default: `baseline` in [tool.qlint], else qlint-baseline.json "
                             "in the project root)")
    parser.add_argument("--select", help="comma-separated codes or prefixes to enable (replaces the default)")
    parser.add_argument("--extend-select", help="codes or prefixes to enable in addition")
    parser.add_argument("--ignore", help="codes or prefixes to disable")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the caches")
    parser.add_argument("--force-exclude", action="store_true", help="apply excludes to paths given explicitly too")
    parser.add_argument("--report-unused-ignores", action="store_true", help="include unused suppression comments")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check = build_parser().parse_args(["check"])
    for name in _PASSED_ON:
        setattr(check, name, getattr(args, name))
    check.write_baseline = args.output_file or True
    return check.run(check)


def baseline_file(given: str | None, config) -> Path | None:
    """The baseline to read: --baseline (from the current folder), else [tool.qlint]'s (from its folder)."""
    if given:
        return Path(given)
    return Path(config.root) / config.baseline if config.baseline else None


def without_baselined(findings: list, given: str | None, cwd: Path, config) -> tuple[list, list]:
    """The findings the baseline does not list, and those it does."""
    path = baseline_file(given, config)
    if path is None:
        return findings, []
    from qlint.pipeline.baseline import BaselineError, load, split

    try:
        listed = load(path)
    except BaselineError as exc:
        raise UsageError(str(exc)) from None
    return split(findings, listed, cwd=cwd, project_root=Path(config.root))


def notes(baselined: list) -> list:
    """How many findings the baseline left out, for the machine formats (text says it in its summary)."""
    from qlint.report.notes import Note

    if not baselined:
        return []
    return [Note(f"{len(baselined)} finding{'' if len(baselined) == 1 else 's'} listed in the baseline not reported")]


def write(args: argparse.Namespace, findings: list, cwd: Path, config) -> int:
    """Every finding to the baseline: --output-file, else the configured file, else
    qlint-baseline.json in the project root."""
    from qlint.pipeline.baseline import DEFAULT_NAME, dumps, entries

    given = args.write_baseline
    path = Path(given) if isinstance(given, str) else baseline_file(None, config) or Path(config.root) / DEFAULT_NAME
    written = entries(findings, cwd=cwd, project_root=Path(config.root))
    try:
        path.write_text(dumps(written), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    shown = os.path.relpath(path) if path.resolve().is_relative_to(cwd) else path
    print(f"wrote {len(written)} finding{'' if len(written) == 1 else 's'} to {shown}", file=sys.stderr)
    return EXIT_OK
