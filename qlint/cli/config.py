"""`qlint config`: the effective Celery settings of each app and where each comes from."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qlint.cli import EXIT_OK, EXIT_USAGE


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("config", help="show the effective Celery settings and their origins")
    parser.add_argument("paths", nargs="*", default=["."], metavar="PATH")
    parser.add_argument("--all", action="store_true", help="list every setting of the catalog")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the caches")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"qlint: error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    from qlint.pipeline.analysis import analyse
    from qlint.report.settings import to_json, to_text
    from qlint.scan.discovery import find_root
    from qlint.user_config.project_config import ConfigError, find_project_root, load_config

    try:
        config = load_config(find_project_root(find_root([Path(p).resolve() for p in args.paths])))
    except ConfigError as exc:
        print(f"qlint: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    analysis = analyse(args.paths, use_cache=not args.no_cache, config=config)
    if args.format == "json":
        print(json.dumps(to_json(analysis, args.all), indent=2, default=str))
    else:
        sys.stdout.write(to_text(analysis, args.all))
    return EXIT_OK
