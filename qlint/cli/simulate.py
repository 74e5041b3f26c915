"""`qlint simulate`: replay a scenario on the reference worker."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qlint.cli import EXIT_OK, EXIT_USAGE


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "simulate", help="replay a workload on the reference worker and show the timeline",
        description="Replay a scenario (settings, workers, tasks, submissions, faults) with "
                    "Celery's delivery semantics: in virtual time by default, or on a real Redis "
                    "server with real worker processes (--real).")
    p.add_argument("scenario", type=Path, help="scenario YAML file")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--svg", type=Path, metavar="FILE", help="also write a Gantt chart of the executions")
    p.add_argument("--seed", type=int, help="seed for sampled durations and ties (overrides the scenario)")
    p.add_argument("--real", action="store_true", help="run on a real Redis server with real processes")
    p.add_argument("--broker", metavar="URL", help="Redis URL for --real, e.g. redis://127.0.0.1:6379/15")
    p.add_argument("--time-scale", type=float, default=1.0, metavar="X",
                   help="with --real: real seconds per scenario second (0.01 runs an hour in 36 s)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from qlint.worker import ScenarioError, load_scenario, prepare_scenario, simulate
    from qlint.worker.from_project import project_provider
    from qlint.worker.render_svg import render_svg
    from qlint.worker.render_text import render_text

    try:
        scenario, settings, notes = prepare_scenario(load_scenario(args.scenario), args.scenario.parent,
                                                     project_provider)
        if args.real:
            from qlint.worker.real import BrokerUnavailable, simulate_real
            if not args.broker:
                raise ScenarioError("--real needs --broker redis://HOST:PORT[/DB]")
            if not args.time_scale > 0:
                raise ScenarioError("--time-scale must be greater than 0")
            try:
                trace = simulate_real(scenario, settings, args.broker, args.time_scale,
                                      seed=args.seed, base=args.scenario.parent)
            except BrokerUnavailable as exc:
                raise ScenarioError(str(exc)) from None
        else:
            if args.broker:
                raise ScenarioError("--broker is used with --real only")
            trace = simulate(scenario, settings, seed=args.seed)
    except ScenarioError as exc:
        print(f"qlint simulate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    title = f"{args.scenario.name} ({trace.mode} time, {trace.broker})"
    if args.svg:
        try:
            args.svg.write_text(render_svg(trace, title), encoding="utf-8")
        except OSError as exc:
            print(f"qlint simulate: cannot write {args.svg}: {exc.strerror}", file=sys.stderr)
            return EXIT_USAGE
    if args.format == "json":
        print(json.dumps({**trace.to_json(), "notes": notes}, indent=2, default=str))
    else:
        sys.stdout.write(render_text(trace, "\n".join([title, *(f"  note: {n}" for n in notes)])))
    return EXIT_OK
