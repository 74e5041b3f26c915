"""The celery command-line parser: wrappers, option forms, env values and exact positions."""
from __future__ import annotations

import pytest

from qlint.sources.deploy.command_line import parse_command_line
from qlint.sources.deploy.facts import EnvVar
from qlint.model import Span, Value


def one(argv, env=None):
    (command,) = parse_command_line(argv, env)
    return command


def values(command):
    return {name: option.value.value for name, option in command.options.items()}


@pytest.mark.parametrize("line", [
    "celery -A proj worker -c 4",
    "celery.exe -A proj worker -c 4",
    "python -m celery -A proj worker -c 4",
    "python3 -u -m celery -A proj worker -c 4",
    "/srv/app/.venv/bin/celery -A proj worker -c 4",
    "exec celery -A proj worker -c 4",
    "FOO=1 BAR=2 celery -A proj worker -c 4",
    "env -u DEBUG LANG=C celery -A proj worker -c 4",
    'sh -c "celery -A proj worker -c 4"',
    "bash -ec 'cd /app && exec celery -A proj worker -c 4'",
    "watchmedo auto-restart -d . -p '*.py' --recursive -- celery -A proj worker -c 4",
    "newrelic-admin run-program celery -A proj worker -c 4",
    "ddtrace-run celery -A proj worker -c 4",
    "gosu app tini -- celery -A proj worker -c 4",
    "celery -A proj worker \\\n    -c 4",
])
def test_invocation_forms(line):
    command = one(line)
    assert (command.kind, command.app, values(command)) == ("worker", "proj", {"concurrency": 4})


def test_not_a_worker_or_beat():
    assert parse_command_line("celery -A proj inspect ping") == []
    assert parse_command_line("python manage.py runserver") == []
    assert parse_command_line("gunicorn proj.wsgi -w 4") == []
    assert parse_command_line("python -m flower") == []


def test_option_forms():
    command = one("celery --app=proj.celery:app worker -c4 --prefetch-multiplier 1 -Q long,default "
                  "-X slow -Ofair -P gevent -BE --autoscale=3,10 --time-limit=300 --soft-time-limit 240 "
                  "--max-tasks-per-child=100 --max-memory-per-child 200000 -S /var/lib/celery/state "
                  "-lINFO -n w1@%h --without-mingle --without-gossip --without-heartbeat --detach "
                  "--pidfile=/run/w.pid --logfile /var/log/w.log --scheduler django_celery_beat.schedulers:X")
    assert command.app == "proj.celery:app"
    assert values(command) == {
        "concurrency": 4, "prefetch_multiplier": 1, "queues": ["long", "default"], "exclude_queues": ["slow"],
        "optimization": "fair", "pool": "gevent", "beat": True, "task_events": True, "autoscale": (10, 3),
        "time_limit": 300.0, "soft_time_limit": 240.0, "max_tasks_per_child": 100,
        "max_memory_per_child": 200000, "statedb": "/var/lib/celery/state", "loglevel": "INFO",
        "hostname": "w1@%h", "without_mingle": True, "without_gossip": True, "without_heartbeat": True,
        "detach": True, "pidfile": "/run/w.pid", "logfile": "/var/log/w.log",
        "scheduler": "django_celery_beat.schedulers:X",
    }
    assert command.unparsed == ()
    assert not command.app_after_subcommand


def test_beat_short_forms_differ_from_worker():
    beat = one("celery -A proj beat -S redbeat.RedBeatScheduler -s /data/schedule --max-interval 10")
    assert values(beat) == {"scheduler": "redbeat.RedBeatScheduler", "schedule_filename": "/data/schedule",
                            "max_interval": 10}
    worker = one("celery -A proj worker -S /data/state")
    assert values(worker) == {"statedb": "/data/state"}


def test_celery4_order_is_understood_and_flagged():
    command = one("celery worker -A proj -c 2 --loglevel=info")
    assert command.app == "proj"
    assert command.app_after_subcommand
    assert values(command) == {"concurrency": 2, "loglevel": "INFO"}
    assert not one("celery -A proj worker").app_after_subcommand


def test_env_default_and_known_and_unknown():
    line = "celery -A proj worker --concurrency=${CELERY_CONCURRENCY:-4} -Q $QUEUES --prefetch-multiplier ${PREFETCH}"
    command = one(line)
    concurrency = command.options["concurrency"].value
    assert (concurrency.status, concurrency.value, concurrency.env) == ("env-default", 4, "CELERY_CONCURRENCY")
    queues = command.options["queues"].value
    assert queues.status == "unknown" and "QUEUES" in queues.reason
    prefetch = command.options["prefetch_multiplier"].value
    assert prefetch.status == "unknown" and prefetch.env == "PREFETCH"
    env = {"CELERY_CONCURRENCY": "16", "QUEUES": "a,b", "PREFETCH": "1"}
    bound = one(line, env)
    assert values(bound) == {"concurrency": 16, "queues": ["a", "b"], "prefetch_multiplier": 1}
    assert bound.options["concurrency"].value.status == "known"


def test_env_var_with_unknown_value_stays_unknown():
    secret = EnvVar("C", Value("unknown", None, reason="read from secret s, key c"), Span("k.yaml", 3))
    value = one("sh -c 'celery -A p worker -c $C'", {"C": secret}).options["concurrency"].value
    assert value.status == "unknown" and "secret" in value.reason


def test_single_quotes_and_escapes_are_not_expanded():
    command = one("celery -A p worker -n 'w$HOST' -Q \\$Q")
    assert values(command) == {"hostname": "w$HOST", "queues": ["$Q"]}


def test_bad_values_are_unknown_with_reason():
    command = one("celery -A p worker -c many --prefetch-multiplier=0 -O quick")
    assert all(o.value.status == "unknown" for o in command.options.values())
    assert "worker_prefetch_multiplier" in command.options["prefetch_multiplier"].value.reason


def test_click_environment_variables_fill_missing_options():
    command = one("celery -A p worker -c 2", {"CELERY_WORKER_CONCURRENCY": "9", "CELERY_WORKER_PREFETCH_MULTIPLIER": "1"})
    assert values(command) == {"concurrency": 2, "prefetch_multiplier": 1}
    assert command.options["prefetch_multiplier"].flag == "$CELERY_WORKER_PREFETCH_MULTIPLIER"
    inline = one("CELERY_WORKER_POOL=solo celery -A p worker")
    assert values(inline) == {"pool": "solo"}
    assert "CELERY_WORKER_POOL" in inline.env


def test_unknown_options_are_reported():
    command = one("celery -A p worker --frobnicate -c 3 extra")
    assert values(command) == {"concurrency": 3}
    assert command.unparsed == ("--frobnicate: unknown option", "extra: not an option of celery worker")


def test_variable_holding_options_is_spliced_or_reported():
    line = "celery -A p worker $CELERYD_OPTS"
    assert values(one(line, {"CELERYD_OPTS": "--time-limit=300 -c 8"})) == {"time_limit": 300.0, "concurrency": 8}
    assert one(line).unparsed == ("$CELERYD_OPTS: unresolved, the options it holds are not read",)


@pytest.mark.parametrize("rest", ['"$@"', "$@", "$*", "$1", '"${1}"', "$#"])
def test_positional_parameters_are_unresolved(rest):
    # an entrypoint ending in `"$@"` passes on whatever the container is started with
    command = one(f"exec celery -A p worker -c 4 {rest}")
    assert values(command) == {"concurrency": 4}
    assert command.unparsed == (f"{rest.strip(chr(34))}: unresolved, the options it holds are not read",)


def test_an_expansion_is_not_expanded_again():
    command = one("celery -A p worker $OPTS", {"OPTS": "-c 2 $OPTS"})
    assert values(command) == {"concurrency": 2}
    assert command.unparsed == ("$OPTS: not an option of celery worker",)


def test_multi():
    command = one("celery multi start w1 w2 -A proj -c 3 -Q:w1 images")
    assert command.kind == "multi" and command.app == "proj"
    assert values(command) == {"nodes": ["w1", "w2"], "concurrency": 3, "queues": None}
    assert command.unparsed == ("-Q:w1: an option for some nodes only",)
    # The nodes consume different queues: no single value holds for the multi, even with a -Q for all.
    queues = one("celery multi start w1 w2 -A proj -Q:w1 images -Q celery").options["queues"].value
    assert queues.status == "unknown" and "set per node (-Q:w1)" in queues.reason
    assert values(one("celery multi start 3 -A proj")) == {"nodes": 3}
    assert parse_command_line("celery multi stop w1 -A proj") == []


def test_several_commands_in_one_string():
    found = parse_command_line("celery -A p worker -c 2 & celery -A p beat; wait")
    assert [c.kind for c in found] == ["worker", "beat"]


def test_positions_in_a_string():
    line = "exec celery -A proj worker -c4 --prefetch-multiplier 1 --concurrency=${C:-2}"
    command = one(line)
    prefetch = command.options["prefetch_multiplier"]
    assert line[prefetch.flag_span.column - 1:prefetch.flag_span.end_column - 1] == "--prefetch-multiplier"
    assert line[prefetch.value_span.column - 1:prefetch.value_span.end_column - 1] == "1"
    concurrency = command.options["concurrency"]  # the last one wins, as in click
    assert line[concurrency.value_span.column - 1:concurrency.value_span.end_column - 1] == "${C:-2}"
    short = one("celery -A p worker -c4").options["concurrency"]
    assert (short.flag_span.column, short.flag_span.end_column) == (20, 22)
    assert (short.value_span.column, short.value_span.end_column) == (22, 23)


def test_positions_across_a_line_continuation():
    text = "celery -A proj worker \\\n    --concurrency 8 \\\n    -Q long"
    queues = one(text).options["queues"]
    assert (queues.flag_span.line, queues.flag_span.column) == (3, 5)
    assert (queues.value_span.line, queues.value_span.column, queues.value_span.end_column) == (3, 8, 12)


def test_argv_list():
    command = one(["python3", "-m", "celery", "-A", "proj", "worker", "--concurrency=${N:-4}"])
    assert (command.program, values(command)) == ("python3 -m celery", {"concurrency": 4})


def test_rebind_with_a_later_environment():
    from qlint.sources.deploy.command_line import rebind

    command = one("celery -A p worker -c ${CELERY_CONCURRENCY:-4} -Q ${QUEUES} -l info")
    bound = rebind(command, {"CELERY_CONCURRENCY": "12", "QUEUES": "a,b"})
    assert values(bound) == {"concurrency": 12, "queues": ["a", "b"], "loglevel": "INFO"}
    assert bound.options["concurrency"].value_span == command.options["concurrency"].value_span
    assert values(rebind(command, {})) == {"concurrency": 4, "queues": None, "loglevel": "INFO"}
