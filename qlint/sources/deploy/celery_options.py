"""Celery 5's command-line options for ``celery``, ``celery worker`` and ``celery beat``.

Copied from the click declarations in ``celery/bin/celery.py``, ``worker.py``,
``beat.py`` and ``base.py`` (the daemon options); a test compares this table with the
installed Celery. ``name`` is click's parameter name, which is also the name of the
matching setting without its ``worker_``/``beat_`` prefix, except where noted.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ValueType = Literal[
    "flag", "str", "int", "float", "list", "choice", "loglevel", "concurrency", "autoscale", "pool"
]


@dataclass(frozen=True)
class OptionSpec:
    name: str
    flags: tuple[str, ...]
    type: ValueType = "str"
    choices: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()  # --no-... forms of a boolean flag
    envvar: str | None = None  # an explicit click envvar, read before the automatic one

    @property
    def takes_value(self) -> bool:
        return self.type != "flag"


LOGLEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "FATAL")
POOLS = ("prefork", "eventlet", "gevent", "solo", "processes", "threads", "custom")

GLOBAL = (
    OptionSpec("app", ("-A", "--app"), envvar="APP"),
    OptionSpec("broker", ("-b", "--broker"), envvar="BROKER_URL"),
    OptionSpec("result_backend", ("--result-backend",), envvar="RESULT_BACKEND"),
    OptionSpec("loader", ("--loader",), envvar="LOADER"),
    OptionSpec("config", ("--config",), envvar="CONFIG_MODULE"),
    OptionSpec("workdir", ("--workdir",)),
    OptionSpec("no_color", ("-C", "--no-color"), "flag", envvar="NO_COLOR"),
    OptionSpec("quiet", ("-q", "--quiet"), "flag"),
    OptionSpec("version", ("--version",), "flag"),
    OptionSpec("skip_checks", ("--skip-checks",), "flag", envvar="SKIP_CHECKS"),
)

_DAEMON = (
    OptionSpec("logfile", ("--logfile", "-f")),
    OptionSpec("pidfile", ("--pidfile",)),
    OptionSpec("uid", ("--uid",)),
    OptionSpec("gid", ("--gid",)),
    OptionSpec("umask", ("--umask",)),
    OptionSpec("executable", ("--executable",)),
)

WORKER = (
    OptionSpec("hostname", ("-n", "--hostname")),
    OptionSpec("detach", ("-D", "--detach"), "flag"),
    OptionSpec("statedb", ("-S", "--statedb")),
    OptionSpec("loglevel", ("-l", "--loglevel"), "loglevel", LOGLEVELS),
    OptionSpec("optimization", ("-O", "--optimization"), "choice", ("default", "fair")),
    OptionSpec("prefetch_multiplier", ("--prefetch-multiplier",), "int"),
    OptionSpec("disable_prefetch", ("--disable-prefetch",), "flag"),
    OptionSpec("concurrency", ("-c", "--concurrency"), "concurrency"),
    OptionSpec("pool", ("-P", "--pool"), "pool", POOLS),
    OptionSpec("task_events", ("-E", "--task-events", "--events"), "flag"),
    OptionSpec("time_limit", ("--time-limit",), "float"),
    OptionSpec("soft_time_limit", ("--soft-time-limit",), "float"),
    OptionSpec("max_tasks_per_child", ("--max-tasks-per-child",), "int"),
    OptionSpec("pool_start_method", ("--pool-start-method",), "choice", ("fork", "spawn")),
    OptionSpec("max_memory_per_child", ("--max-memory-per-child",), "int"),
    OptionSpec("purge", ("--purge", "--discard"), "flag"),
    OptionSpec("queues", ("--queues", "-Q"), "list"),
    OptionSpec("exclude_queues", ("--exclude-queues", "-X"), "list"),
    OptionSpec("include", ("--include", "-I"), "list"),
    OptionSpec("without_gossip", ("--without-gossip",), "flag"),
    OptionSpec("without_mingle", ("--without-mingle",), "flag"),
    OptionSpec("without_heartbeat", ("--without-heartbeat",), "flag"),
    OptionSpec("heartbeat_interval", ("--heartbeat-interval",), "int"),
    OptionSpec("autoscale", ("--autoscale",), "autoscale"),
    OptionSpec("beat", ("-B", "--beat"), "flag"),
    # The setting is beat_schedule_filename.
    OptionSpec("schedule_filename", ("-s", "--schedule-filename", "--schedule")),
    OptionSpec("scheduler", ("--scheduler",)),
) + _DAEMON

BEAT = (
    OptionSpec("detach", ("--detach",), "flag"),
    # click calls it "schedule"; named like the worker's option and the setting.
    OptionSpec("schedule_filename", ("-s", "--schedule")),
    OptionSpec("scheduler", ("-S", "--scheduler")),
    OptionSpec("max_interval", ("--max-interval",), "int"),
    OptionSpec("remote_control", ("--enable-remote-control",), "flag",
               negative=("--no-enable-remote-control",)),
    OptionSpec("hostname", ("-n", "--hostname")),
    OptionSpec("loglevel", ("-l", "--loglevel"), "loglevel", LOGLEVELS),
) + _DAEMON

# click's parameter name where it differs from ours, for the environment variables
# that click reads (CELERY_BEAT_SCHEDULE).
CLICK_NAMES = {("beat", "schedule_filename"): "schedule"}

SUBCOMMANDS = {"worker": WORKER, "beat": BEAT}


def by_flag(specs: tuple[OptionSpec, ...]) -> dict[str, tuple[OptionSpec, bool]]:
    """Each flag to its option and whether it sets a boolean to False."""
    table: dict[str, tuple[OptionSpec, bool]] = {}
    for spec in specs:
        for flag in spec.flags:
            table[flag] = (spec, False)
        for flag in spec.negative:
            table[flag] = (spec, True)
    return table
