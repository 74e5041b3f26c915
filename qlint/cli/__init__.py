"""The `qlint` command: one module per subcommand, each with register() and run(). The top of
the tree: it may import every stage."""
from __future__ import annotations

import argparse
import atexit
import gc
import importlib
import os
import sys
from typing import NoReturn

from qlint import __version__

# Analysis allocates millions of small acyclic objects (syntax trees, facts, values); at
# CPython's default threshold the collector keeps rescanning the growing heap for cycles
# that hardly exist (check_paths pauses it altogether; config, lsp and simulate run with this).
GC_THRESHOLD = 50_000

# Each name is a module of this package that defines register(subparsers).
COMMANDS: tuple[str, ...] = ("check", "baseline", "config", "rule", "simulate", "inspect", "lsp")

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A problem with the command line or qlint's own configuration (exit 2)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qlint",
        description="Find Celery settings and task code that break with long-running tasks.",
    )
    parser.add_argument("--version", action="version", version=f"qlint {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"qlint.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command argv names. Without argv, as the `qlint` command runs it, the process
    ends here: see exit_process()."""
    if argv is not None:
        return _main(argv)
    try:
        code = _main(None)
    except SystemExit as done:  # argparse's --version, --help and usage errors
        if not isinstance(done.code, (int, type(None))):
            raise
        code = done.code or 0
    exit_process(code)


def exit_process(code: int) -> NoReturn:
    """End the process as the interpreter does, less the freeing of every object one by one
    (0.03 to 0.13 s after a check of a large project): the output is flushed, the exit handlers
    run (multiprocessing's, temporary folders'), then os._exit. A cache writer forked earlier
    finishes on its own (cache_writer.py). While another thread runs, or when the output cannot
    be flushed (a closed pipe), the interpreter exits as usual, and says what it says."""
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        sys.exit(code)
    try:
        _flush()
    except (OSError, ValueError):
        sys.exit(code)
    atexit._run_exitfuncs()
    try:
        _flush()  # what a handler wrote
    finally:
        os._exit(code)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()


def _main(argv: list[str] | None) -> int:
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.run(args)
    except UsageError as exc:
        print(f"qlint: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
