"""`qlint inspect`: the hazards of a live broker (Redis, or RabbitMQ's management API), judged by
the project's configuration. It only reads, unless --ask-workers sends Celery's own remote
control broadcasts."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

from qlint import DISTRIBUTION
from qlint.cli import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "inspect", help="read a live broker: redeliveries under way, queues, large messages",
        description="Read a live broker and report what is going wrong now. Redis: kombu's keys, with "
                    "read commands only: messages held unacknowledged past the visibility timeout (the "
                    "next restore sweep runs them again), messages already redelivered, ETA messages held "
                    "past it, queue lengths and the largest messages. RabbitMQ: its management API, with "
                    "GET requests only: queue depths, unacknowledged counts, consumers. The visibility "
                    "timeout, key prefix and queues come from the project at PATH.")
    p.add_argument("path", nargs="?", default=".", metavar="PATH", help="the project (default .)")
    p.add_argument("--broker", required=True, metavar="URL",
                   help="redis://[:password@]host:port/db, or amqp://user:password@host:port/vhost")
    p.add_argument("--app", metavar="NAME", help="judge by this app of the project (default: every app on the broker's kind)")
    p.add_argument("--visibility-timeout", type=float, metavar="SECONDS",
                   help="the visibility timeout in force (default: the project's, else kombu's 3600 s)")
    p.add_argument("--key-prefix", metavar="PREFIX",
                   help="kombu's global_keyprefix (default: the project's; 'qlint:' reads a `simulate --real` replay)")
    p.add_argument("--rabbitmq-api", metavar="URL",
                   help="with an amqp:// broker: its management API (default http://HOST:15672, the broker's "
                        "credentials)")
    p.add_argument("--consumer-timeout", type=float, metavar="SECONDS",
                   help="with an amqp:// broker: RabbitMQ's consumer_timeout when rabbitmq.conf sets one, which "
                        "the management API does not show (default 1800 s); a queue's x-consumer-timeout or a "
                        "policy's consumer-timeout still wins. With --ask-workers, the workers' time limits are "
                        "judged against it (QL103)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--watch", type=float, metavar="N", help="read again every N seconds until interrupted")
    p.add_argument("--sample", type=int, default=1000, metavar="N",
                   help="read at most N messages per queue for sizes and redeliveries (default 1000; "
                        "at most 64 MiB of them)")
    p.add_argument("--ask-workers", action="store_true",
                   help="also ask the live workers (Celery's ping, stats, conf, active, reserved broadcasts: "
                        "the one write to the broker), compare their settings with the project's and run the "
                        "static rules again with the settings each worker runs with")
    p.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the caches")
    p.set_defaults(run=run)


def _fail(message: str) -> int:
    print(f"qlint inspect: {message}", file=sys.stderr)
    return EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    from qlint.live.urls import redacted, scrub

    url = args.broker
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    rabbit = scheme in ("amqp", "amqps", "pyamqp")
    if scheme not in ("redis", "rediss", "unix") and not rabbit:
        return _fail(f"{redacted(url)}: only Redis (redis://, rediss://, unix://) and RabbitMQ (amqp://) brokers "
                     "can be inspected")
    if args.rabbitmq_api and not rabbit:
        return _fail("--rabbitmq-api goes with an amqp:// broker")
    if args.consumer_timeout is not None and not rabbit:
        return _fail("--consumer-timeout goes with an amqp:// broker (Redis has a visibility timeout: "
                     "--visibility-timeout)")
    if args.watch is not None and not args.watch > 0:
        return _fail("--watch takes a number of seconds greater than 0")
    if args.visibility_timeout is not None and not args.visibility_timeout > 0:
        return _fail("--visibility-timeout must be greater than 0")
    if args.sample < 1:
        return _fail("--sample must be at least 1")
    if rabbit:
        return _run_rabbitmq(args)
    try:
        import redis
    except ImportError:
        return _fail(f"reading a Redis broker needs the redis client, which is not installed: "
                     f"pip install '{DISTRIBUTION}[redis]'")
    if not Path(args.path).exists():
        return _fail(f"no such file or folder: {args.path}")
    try:
        expect = _expectations(args)
    except LookupError as exc:
        return _fail(str(exc))
    from qlint.live.redis_state import ReadRefused, Reader, read_only_client
    from qlint.live.rerun import Rerunner
    from qlint.live.workers import WorkersUnavailable

    try:
        client = read_only_client(url)
    except (ValueError, redis.RedisError) as exc:
        return _fail(scrub(f"{redacted(url)}: {exc}", url))
    reader = Reader(client, expect.prefix, args.sample)
    rerun = Rerunner(expect.project, expect.apps)
    try:
        return watch(lambda: _once(args, reader, expect, url, rerun), args.watch)
    except (redis.RedisError, OSError, ReadRefused, WorkersUnavailable) as exc:
        return _fail(scrub(f"cannot read {redacted(url)}: {exc}", url))
    finally:
        client.close()


def _expectations(args: argparse.Namespace, kind: str = "redis") -> Any:
    from qlint.live.expectations import from_project
    from qlint.pipeline.analysis import find_root
    from qlint.user_config.project_config import ConfigError, find_project_root, load_config
    from qlint.cli import UsageError

    try:
        config = load_config(find_project_root(find_root([Path(args.path).resolve()])))
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    expect = from_project([args.path], args.app, not args.no_cache, config, kind)
    if args.visibility_timeout is not None:
        expect.visibility, expect.visibility_from = args.visibility_timeout, "--visibility-timeout"
    if args.key_prefix is not None:
        expect.prefix = args.key_prefix
    return expect


def _once(args: argparse.Namespace, reader: Any, expect: Any, url: str, rerun: Any) -> int:
    from qlint.live.hazards import findings, unconsumed
    from qlint.live.render import render
    from qlint.live.urls import redacted
    from qlint.live.workers import Asked, ask, behind_long_tasks, drift
    from qlint.rules import all_rules

    rules = {r.code: r for r in all_rules()}
    snapshot = reader.read(expect.queues)  # before the broadcasts, which add their own keys
    asked = None
    if args.ask_workers:
        live = ask(url, expect.prefix)
        asked = Asked(live, drift(live, expect))
        if args.visibility_timeout is None:
            expect = asked.in_force(expect)
    found = findings(snapshot, expect, rules)
    if asked is not None:
        found += unconsumed(snapshot, {q for w in asked.workers for q in w.queues}, rules)
        found += behind_long_tasks(asked.workers, snapshot.read_at, expect, rules)
        found += _rerun(rerun, asked)
    _emit(args, render(args.format, redacted(url), snapshot, expect, found, asked))
    if (any(f.severity != "info" for f in found) or asked is not None and asked.drift) and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_OK


def _rerun(rerun: Any, asked: Any, without: dict[str, set[str]] | None = None) -> list[Any]:
    """The static rules with each live worker's settings: the findings only those give; what the
    project's own settings give too is kept with the worker as confirmed."""
    result = rerun.run(asked.workers, without)
    asked.confirmed, asked.notes = result.confirmed, result.notes
    return result.findings


def _run_rabbitmq(args: argparse.Namespace) -> int:
    from qlint.live import rabbitmq
    from qlint.live.rerun import Rerunner
    from qlint.live.urls import redacted, scrub
    from qlint.live.workers import WorkersUnavailable

    if not Path(args.path).exists():
        return _fail(f"no such file or folder: {args.path}")
    if args.consumer_timeout is not None and not args.consumer_timeout > 0:
        return _fail("--consumer-timeout must be greater than 0")
    try:
        expect = _expectations(args, "amqp")
    except LookupError as exc:
        return _fail(str(exc))
    api_url = args.rabbitmq_api or rabbitmq.default_api(args.broker)
    api = rabbitmq.Api(api_url)
    rerun = Rerunner(expect.project, expect.apps)
    try:
        return watch(lambda: _once_rabbitmq(args, api, api_url, expect, rerun), args.watch)
    except (rabbitmq.ApiUnavailable, WorkersUnavailable) as exc:
        return _fail(scrub(scrub(f"cannot read {redacted(api_url)}: {exc}", api_url), args.broker))


def _once_rabbitmq(args: argparse.Namespace, api: Any, api_url: str, expect: Any, rerun: Any) -> int:
    from qlint.live import rabbitmq
    from qlint.live.render import render_rabbitmq
    from qlint.live.rerun import app_of
    from qlint.live.urls import redacted
    from qlint.live.workers import Asked, ask, behind_long_tasks, drift
    from qlint.rules import all_rules

    rules = {r.code: r for r in all_rules()}
    snapshot = rabbitmq.read(api, rabbitmq.vhost_of(args.broker), time.time(), args.consumer_timeout)
    asked, running = None, None
    if args.ask_workers:
        live = ask(args.broker, "")
        asked = Asked(live, drift(live, expect, visibility=False))
        running = [(w.hostname, r) for w in live for r in w.running]
    found = rabbitmq.findings(snapshot, expect, running, rules)
    if asked is not None:
        found += behind_long_tasks(asked.workers, snapshot.read_at, expect, rules)
        # QL103 by the consumer timeout RabbitMQ shows or --consumer-timeout gives, where there is one;
        # elsewhere the static rule, which assumes RabbitMQ's default, runs with the worker's settings.
        apps = {w.hostname: app for w in asked.workers if (app := app_of(w, expect.apps)) is not None}
        found += rabbitmq.limits(asked.workers, snapshot, apps, rules)
        found += _rerun(rerun, asked, {w.hostname: {"QL103"} for w in asked.workers
                                       if rabbitmq.timeout_of(w, snapshot) is not None})
    _emit(args, render_rabbitmq(args.format, redacted(args.broker), redacted(api_url), snapshot, expect, found,
                                asked))
    if (any(f.severity != "info" for f in found) or asked is not None and asked.drift) and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_OK


def _emit(args: argparse.Namespace, output: str) -> None:
    if args.format == "json" and args.watch is not None:
        # One report per line while watching, so that a script can read them as they come.
        output = json.dumps(json.loads(output), ensure_ascii=False) + "\n"
    elif args.watch is not None:
        output += "\n"
    sys.stdout.write(output)
    sys.stdout.flush()


def watch(read: Callable[[], int], every: float | None, sleep: Callable[[float], None] | None = None,
          rounds: int | None = None) -> int:
    """Run read once, or every `every` seconds (rounds times, or until interrupted); the exit
    status of the last read."""
    sleep = sleep or time.sleep
    status = read()
    done = 1
    while every is not None and (rounds is None or done < rounds):
        sleep(every)
        status = read()
        done += 1
    return status
