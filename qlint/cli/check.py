"""`qlint check`: find the hazards and report them; the command CI and pre-commit run."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from qlint.cli import EXIT_FINDINGS, EXIT_OK, UsageError, fix

FORMATS = ("text", "json", "sarif", "github", "gitlab")


def _codes(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    return [c.strip().upper() for c in raw.split(",") if c.strip()]


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("check", help="find Celery hazards in settings, task code and deployment files")
    parser.add_argument("paths", nargs="*", default=["."], metavar="PATH")
    parser.add_argument("--select", help="comma-separated codes or prefixes to enable (replaces the default)")
    parser.add_argument("--extend-select", help="codes or prefixes to enable in addition")
    parser.add_argument("--ignore", help="codes or prefixes to disable")
    parser.add_argument("--format", choices=FORMATS, default=None, help="report format (default: text)")
    parser.add_argument("--output-file", "-o", help="write the report to this file")
    parser.add_argument("--statistics", action="store_true", help="show counts per rule")
    parser.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only findings, no summary")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the caches")
    parser.add_argument("--force-exclude", action="store_true", help="apply excludes to paths given explicitly too")
    parser.add_argument("--baseline", metavar="FILE", help="leave out the findings this file lists (`qlint baseline` writes it)")
    parser.add_argument("--report-unused-ignores", action="store_true", help="report suppression comments that suppress nothing")
    parser.add_argument("--no-source", action="store_true", help="do not show source lines in text output")
    fix.register_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from qlint import report
    from qlint.pipeline.engine import check_paths
    from qlint.user_config.project_config import ConfigError, find_project_root, load_config
    from qlint.report.notes import Note, parse_note
    from qlint.cli import baseline
    from qlint.scan.discovery import find_root

    cwd = Path.cwd()
    missing = [p for p in args.paths if not (cwd / p).exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    root = find_root([(cwd / p).resolve() for p in args.paths])
    try:
        config = load_config(find_project_root(root))
        paths = list(args.paths)
        if args.force_exclude:
            paths = [p for p in paths if not _force_excluded((cwd / p).resolve(), root, config)]
            if not paths:
                return EXIT_OK
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    for option in (args.select, args.ignore, args.extend_select):
        for code in _codes(option) or []:
            if not any(r.code.startswith(code) for r in _rules()):
                raise UsageError(f"unknown rule code or prefix {code!r} (see `qlint rules`)")
    options = dict(select=_codes(args.select), ignore=_codes(args.ignore), extend_select=_codes(args.extend_select),
                   report_unused=args.report_unused_ignores)
    fixing = None
    try:
        if args.fix or args.diff:
            fixing = fix.run_fixes(args, paths, cwd=cwd, root=root, config=config, **options)
            result = fixing.result
        else:
            result = check_paths(paths, cwd=cwd, root=root, config=config, use_cache=not args.no_cache,
                                 force_exclude=args.force_exclude, **options)
    except ConfigError as exc:  # a sub-project's configuration
        raise UsageError(str(exc)) from None
    if args.diff:
        assert fixing is not None
        if args.output_file:
            Path(args.output_file).write_text(fix.unified_diff(fixing), encoding="utf-8", newline="")
        else:
            sys.stdout.write(fix.unified_diff(fixing))
            sys.stdout.flush()
        count = len(fixing.fixed)
        print(f"Would fix {count} finding{'' if count == 1 else 's'}." if count else "No fixes to apply.", file=sys.stderr)
        return EXIT_FINDINGS if fixing.changed else EXIT_OK
    findings = list(result.findings)
    if getattr(args, "write_baseline", False):  # `qlint baseline` runs this check
        return baseline.write(args, findings, cwd, config)
    findings, baselined = baseline.without_baselined(findings, args.baseline, cwd, config)
    fmt = args.format or "text"
    to_terminal = args.output_file is None and sys.stdout.isatty()
    color = to_terminal and fmt == "text" and "NO_COLOR" not in os.environ
    # What was skipped or may not run as written (templates, the Celery 4 order), and the
    # paths where nothing was checked: in the machine formats, and on stderr for people.
    notes = [parse_note(note) for note in result.notes if _under(note, paths)]
    warnings = [Note("holds no file qlint reads (Python, deployment, environment, settings or dependency "
                     "files); nothing was checked there", Path(p).as_posix(), level="warning")
                for p in getattr(result, "unchecked", ())]
    # Only SARIF describes the rules; the others would import every rule module for nothing.
    rules = {r.code: r for r in _rules()} if fmt == "sarif" else {}
    output = report.render(findings, fmt, root=cwd, rules=rules, color=color, show_source=not args.no_source,
                           statistics=args.statistics, notes=[*warnings, *notes, *baseline.notes(baselined)],
                           baselined=baselined)
    if args.quiet and fmt == "text":
        kept = [line for line in output.splitlines() if line and line[0] not in " "
                and not line.startswith(("Found ", "All checks passed"))]
        output = "".join(line + "\n" for line in kept)
    elif fmt == "text":
        output = _with_fix_summary(output, fixing, findings, len(baselined), args.unsafe_fixes, color)
    if args.output_file:
        Path(args.output_file).write_text(output, encoding="utf-8")
    else:
        sys.stdout.write(output)
    for warning in warnings:
        print(f"warning: {warning.text}", file=sys.stderr)
    if fmt == "text" and not args.quiet:
        for note in notes:
            print(f"note: {note.text}", file=sys.stderr)
    # Notes (severity info) inform without failing the run: an unreadable script that mentions no Celery.
    if any(f.severity != "info" for f in findings) and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_OK


def _rules():
    from qlint.rules import all_rules

    return all_rules()


def _with_fix_summary(output: str, fixing, findings, baselined: int, unsafe: bool, color: bool) -> str:
    """The text report with --fix's summary in place of its last line ("Found 3 findings
    (2 fixed, 1 remaining).") when something was fixed, and what --fix could still do."""
    lines = output.rstrip("\n").split("\n")
    if fixing is not None and fixing.fixed:
        line = fix.summary(len(fixing.fixed), len(findings), baselined)
        lines[-1] = f"\033[1m{line}\033[0m" if color else line
    hint = fix.hints(findings, unsafe)
    if hint is not None:
        lines.append(hint)
    return "\n".join(lines) + "\n"


def _under(note: str, paths: list[str]) -> bool:
    """Whether a note (it starts with the display path of its file) is about a checked path."""
    for given in paths:
        prefix = Path(given).as_posix().rstrip("/")
        if prefix in ("", ".") or note.startswith((f"{prefix}/", f"{prefix}:")):
            return True
    return False


def _force_excluded(path: Path, root: Path, config) -> bool:
    """Whether --force-exclude leaves out a path named on the command line: the exclude of the
    configuration that governs it (the nearest one in a folder at or above it, up to the
    root's) covers it or a folder above it."""
    from qlint.scan.discovery import excluded
    from qlint.user_config.project_config import config_in

    governing, folder = config, path if path.is_dir() else path.parent
    while folder != root and folder.is_relative_to(root):
        own = config_in(folder)
        if own is not None:
            governing = own
            break
        folder = folder.parent
    if not governing.exclude:
        return False
    try:
        rel = path.relative_to(Path(governing.root).resolve()).as_posix()
    except ValueError:
        return False
    return excluded(rel, governing.exclude)
