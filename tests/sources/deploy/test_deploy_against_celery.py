"""The option table and the parser agree with the installed Celery's click commands."""
from __future__ import annotations

import logging

import click
import pytest
from celery import Celery
from celery.bin.base import CLIContext
from celery.bin.celery import celery as celery_group
from celery.utils.nodenames import default_nodename, host_format

from qlint.sources.deploy import celery_options as opts
from qlint.sources.deploy.command_line import parse_command_line


def _click_options(command: click.Command) -> dict[str, tuple[set[str], set[str], bool]]:
    return {
        p.name: (set(p.opts), set(p.secondary_opts), bool(getattr(p, "is_flag", False)))
        for p in command.params if isinstance(p, click.Option)
    }


def _ours(specs: tuple[opts.OptionSpec, ...], command: str) -> dict[str, tuple[set[str], set[str], bool]]:
    return {
        opts.CLICK_NAMES.get((command, s.name), s.name): (set(s.flags), set(s.negative), s.type == "flag")
        for s in specs
    }


@pytest.mark.parametrize("command", ["worker", "beat"])
def test_subcommand_options_match_celery(command):
    assert _ours(opts.SUBCOMMANDS[command], command) == _click_options(celery_group.commands[command])


def test_global_options_match_celery():
    assert _ours(opts.GLOBAL, "celery") == _click_options(celery_group)
    envvars = {p.name: p.envvar for p in celery_group.params}
    assert {s.name: s.envvar for s in opts.GLOBAL} == envvars


def _celery_parse(subcommand: str, args: list[str], env: dict[str, str], monkeypatch) -> dict:
    """What Celery's click makes of the subcommand's arguments (types converted)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = Celery("probe", set_as_current=False)
    parent = click.Context(celery_group, info_name="celery", auto_envvar_prefix="CELERY",
                           obj=CLIContext(app=app, no_color=True, workdir=None, quiet=True))
    ctx = celery_group.commands[subcommand].make_context(subcommand, list(args), parent=parent)
    return ctx.params


CASES = [
    ("worker", ["-c4", "--prefetch-multiplier", "1", "-Q", "long,default", "-Ofair"], {}),
    ("worker", ["--concurrency=8", "-X", "slow", "-P", "threads", "-BE", "-s", "/tmp/beat-sched"], {}),
    ("worker", ["--time-limit=300", "--soft-time-limit", "240.5", "--max-tasks-per-child=50",
                "--max-memory-per-child", "200000", "--autoscale=3,10", "-n", "w1@%h", "-lINFO"], {}),
    ("worker", ["-S", "/var/run/celery/worker.state", "--without-mingle", "--without-gossip",
                "--without-heartbeat", "--pidfile=/tmp/w.pid", "-f", "/tmp/w.log", "-D"], {}),
    ("worker", ["-l", "warning"], {"CELERY_WORKER_CONCURRENCY": "6", "CELERY_WORKER_QUEUES": "a,b"}),
    ("beat", ["-S", "redbeat.RedBeatScheduler", "-s", "/tmp/sched", "--max-interval=30", "-l", "debug"], {}),
    ("beat", ["--no-enable-remote-control", "--detach"], {"CELERY_BEAT_SCHEDULE": "/data/beat"}),
]


@pytest.mark.parametrize("subcommand,args,env", CASES)
def test_parsed_values_match_celery(subcommand, args, env, monkeypatch):
    theirs = _celery_parse(subcommand, args, env, monkeypatch)
    (command,) = parse_command_line(["celery", "-A", "proj", subcommand, *args], env)
    assert command.kind == subcommand
    assert command.unparsed == ()
    assert set(command.options) == _set_by_user(subcommand, args, env)
    for name, option in command.options.items():
        click_name = opts.CLICK_NAMES.get((subcommand, name), name)
        expected = theirs[click_name]
        ours = option.value.value
        if name == "pool":
            expected = expected.__module__.rsplit(".", 1)[-1]
            ours = {"prefork": "prefork", "threads": "thread"}.get(ours, ours)
        elif name == "loglevel":
            ours = logging.getLevelName(ours)
        elif name == "hostname":
            ours = host_format(default_nodename(ours))  # Celery fills in %h at start-up
        elif name == "autoscale":
            expected = tuple(expected)
        assert ours == expected, name


def _set_by_user(subcommand: str, args: list[str], env: dict[str, str]) -> set[str]:
    """The options these arguments set, by click's own parser (no defaults, no callbacks)."""
    command = celery_group.commands[subcommand]
    parser = command.make_parser(click.Context(command))
    values, _, _ = parser.parse_args(list(args))
    names = {name for name in values}
    prefix = f"CELERY_{subcommand.upper()}_"
    names |= {p.name for p in command.params if prefix + p.name.upper() in env}
    return {next((ours for (cmd, ours), theirs in opts.CLICK_NAMES.items()
                  if cmd == subcommand and theirs == n), n) for n in names}
