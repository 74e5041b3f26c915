"""`qlint lsp`: run the language server (stdio by default)."""
from __future__ import annotations

import argparse

from qlint import DISTRIBUTION
from qlint.cli import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("lsp", help="run the language server (for editors)")
    parser.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        from qlint.lsp.server import run as serve
    except ImportError as exc:  # pygls is an optional dependency
        raise UsageError(f"the language server needs pygls: pip install '{DISTRIBUTION}[lsp]' ({exc})") from None
    tcp = None
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        if not host or not port.isdigit():
            raise UsageError(f"--tcp expects HOST:PORT, got {args.tcp!r}")
        tcp = (host, int(port))
    return serve(tcp)
