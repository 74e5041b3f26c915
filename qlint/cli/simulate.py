"""`qlint simulate`: replay a scenario, or the findings of a project, on the reference worker."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qlint import DISTRIBUTION
from qlint.cli import EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from qlint.worker import Trace


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "simulate", help="replay a workload on the reference worker and show the timeline",
        description="Replay a scenario (settings, workers, tasks, submissions, faults) with "
                    "Celery's delivery semantics: in virtual time by default, or on a real Redis "
                    "server with real worker processes (--real). With --from-findings, check a "
                    "project and replay the hazard of each finding, before and after its fix.")
    p.add_argument("scenario", type=Path, nargs="?", help="scenario YAML file")
    p.add_argument("--from-findings", type=Path, nargs="?", const=Path("."), metavar="PATH",
                   help="check the project at PATH (default .) and replay each finding's hazard")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--svg", type=Path, metavar="FILE|DIR",
                   help="also write a Gantt chart of the executions (with --from-findings: a folder, "
                        "one chart per finding, before above after)")
    p.add_argument("--seed", type=int, help="seed for sampled durations and ties (overrides the scenario)")
    p.add_argument("--real", action="store_true", help="run on a real Redis server with real processes")
    p.add_argument("--broker", metavar="URL", help="Redis URL for --real, e.g. redis://127.0.0.1:6379/15")
    p.add_argument("--time-scale", type=float, default=1.0, metavar="X",
                   help="with --real: real seconds per scenario second (0.01 runs an hour in 36 s)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the caches")
    p.set_defaults(run=run)


def _fail(message: str) -> int:
    print(f"qlint simulate: {message}", file=sys.stderr)
    return EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    if args.from_findings is not None:
        if args.scenario is not None:
            return _fail("give a scenario file or --from-findings PATH, not both")
        if args.real or args.broker:
            return _fail("--from-findings replays in virtual time only (no --real or --broker)")
        return run_from_findings(args)
    if args.scenario is None:
        return _fail("give a scenario file, or --from-findings [PATH] to replay a project's findings")
    return run_scenario(args)


def run_scenario(args: argparse.Namespace) -> int:
    if args.real:
        try:
            import redis  # noqa: F401  (the real-time replay's client, an optional dependency)
        except ImportError:
            return _fail(f"--real needs the redis client, which is not installed: pip install '{DISTRIBUTION}[redis]'")
    from qlint.worker import ScenarioError, load_scenario, prepare_scenario, simulate
    from qlint.worker.from_project import project_provider
    from qlint.worker.replay import collector_paused

    try:
        scenario, settings, notes = prepare_scenario(load_scenario(args.scenario), args.scenario.parent,
                                                     project_provider(not args.no_cache))
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
        return _fail(str(exc))
    # The replay ran with the collector paused: its first pass now would walk the whole trace, to find nothing.
    with collector_paused():
        return _write(args, trace, notes)


def _write(args: argparse.Namespace, trace: Trace, notes: list[str]) -> int:
    from qlint.worker.render_json import write_json
    from qlint.worker.render_svg import render_svg
    from qlint.worker.render_text import write_text

    title = f"{args.scenario.name} ({trace.mode} time, {trace.broker})"
    if args.svg:
        try:
            args.svg.write_text(render_svg(trace, title), encoding="utf-8")
        except OSError as exc:
            return _fail(f"cannot write {args.svg}: {exc.strerror}")
    if args.format == "json":
        write_json(trace, sys.stdout, {"notes": notes})
    else:
        write_text(trace, sys.stdout, "\n".join([title, *(f"  note: {n}" for n in notes)]))
    return EXIT_OK


def run_from_findings(args: argparse.Namespace) -> int:
    from qlint.worker import ScenarioError
    from qlint.worker.from_findings import replay_findings

    if args.seed is not None:
        return _fail("--seed applies to a scenario file; --from-findings replays are deterministic")
    try:
        replays, others = replay_findings(args.from_findings, use_cache=not args.no_cache)
    except ScenarioError as exc:
        return _fail(str(exc))
    charts: dict[int, str] = {}
    if args.svg:
        try:
            charts = _write_charts(args.svg, replays)
        except OSError as exc:
            return _fail(f"cannot write charts under {args.svg}: {exc.strerror}")
    if args.format == "json":
        print(json.dumps(_json(replays, others, charts), indent=2, default=str))
    else:
        sys.stdout.write(_text(replays, others, charts))
    return EXIT_OK


def _write_charts(folder: Path, replays: list) -> dict[int, str]:
    from qlint.worker.from_findings import combined_svg
    from qlint.worker.render_svg import render_svg

    folder.mkdir(parents=True, exist_ok=True)
    written: dict[int, str] = {}
    for i, replay in enumerate(replays, 1):
        if replay.before_trace is None:
            continue
        where = f"{replay.finding.span.path}:{replay.finding.span.line}"
        before = render_svg(replay.before_trace, f"{replay.finding.code} {where}: before")
        after = render_svg(replay.after_trace, f"{replay.finding.code} {where}: after ({replay.fix})")
        path = folder / f"{i:02d}-{replay.finding.code}.svg"
        path.write_text(combined_svg(before, after), encoding="utf-8")
        written[i] = str(path)
    return written


def _headline(finding) -> str:
    span = finding.span
    return f"{span.path}:{span.line}:{span.column}: {finding.code} {finding.message}"


def _text(replays: list, others: list, charts: dict[int, str]) -> str:
    from qlint.worker.from_findings import describe_outcome, describe_workload

    lines: list[str] = []
    for i, replay in enumerate(replays, 1):
        lines.append(_headline(replay.finding))
        if replay.reason is not None:
            lines += [f"  not replayed: {line}" if n == 0 else f"    {line.strip()}"
                      for n, line in enumerate(replay.reason.splitlines())]
        else:
            lines.append(f"  replay: {describe_workload(replay.before.scenario)}")
            lines.append(f"  before: {describe_outcome(replay.before_trace)}")
            lines.append(f"  after ({replay.fix}): {describe_outcome(replay.after_trace)}")
            lines += [f"  note: {note}" for note in replay.notes]
            if i in charts:
                lines.append(f"  chart: {charts[i]}")
        lines.append("")
    done = sum(r.reason is None for r in replays)
    summary = f"Replayed {done} of {len(replays)} replayable finding{'s' if len(replays) != 1 else ''}."
    if others:
        codes = ", ".join(sorted({f.code for f in others}))
        summary += f" {len(others)} other finding{'s have' if len(others) != 1 else ' has'} no replay ({codes})."
    if not replays and not others:
        summary = "No findings: nothing to replay."
    return "\n".join(lines + [summary]) + "\n"


def _json(replays: list, others: list, charts: dict[int, str]) -> dict[str, Any]:
    def finding(f) -> dict[str, Any]:
        return {"code": f.code, "name": f.name, "severity": f.severity, "message": f.message,
                "path": f.span.path, "line": f.span.line, "column": f.span.column}

    def outcome(trace, prepared) -> dict[str, Any]:
        return {"summary": trace.summary(), "settings": prepared.settings,
                "executions": trace.to_json()["executions"]}

    out = []
    for i, replay in enumerate(replays, 1):
        item: dict[str, Any] = {"finding": finding(replay.finding), "replayed": replay.reason is None}
        if replay.reason is not None:
            item["reason"] = replay.reason
        else:
            item.update(scenario=replay.scenario, fix=replay.fix, notes=replay.notes,
                        before=outcome(replay.before_trace, replay.before),
                        after=outcome(replay.after_trace, replay.after), chart=charts.get(i))
        out.append(item)
    return {"replays": out, "not_replayable": [finding(f) for f in others]}
