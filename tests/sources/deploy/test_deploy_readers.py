"""Reading realistic deployment files of every kind, with exact positions."""
from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from qlint.model import Span
from qlint.sources.deploy import read_deploy_file
from qlint.sources.deploy.facts import DeployFacts

DATA = Path(__file__).parent / "data"


def read(name: str) -> tuple[DeployFacts, str]:
    text = (DATA / name).read_text()
    facts = read_deploy_file(name, text)
    assert facts is not None
    return facts, text


def at(text: str, span: Span) -> str:
    """The text a single-line span covers."""
    assert span.line == span.end_line
    return text.splitlines()[span.line - 1][span.column - 1:span.end_column - 1]


def options(process) -> dict:
    return {name: o.value.value for name, o in process.command.options.items()}


def by_name(facts: DeployFacts) -> dict:
    return {p.name: p for p in facts.processes}


# ------------------------------------------------------------------ compose


def test_compose_services_commands_and_replicas():
    facts, text = read("docker-compose.yml")
    assert facts.kind == "compose" and facts.notes == []
    procs = by_name(facts)
    assert set(procs) == {"worker", "worker-long", "worker-folded", "beat", "worker-beat-dev"}
    worker = procs["worker"]
    assert options(worker) == {"loglevel": "INFO", "concurrency": 4, "queues": ["default", "emails"]}
    assert (worker.replicas.status, worker.replicas.value) == ("known", 3)
    assert at(text, worker.replicas.origin) == "3"
    concurrency = worker.command.options["concurrency"]
    assert (concurrency.value.status, concurrency.value.env) == ("env-default", "CELERY_CONCURRENCY")
    assert at(text, concurrency.flag_span) == "--concurrency"
    assert at(text, concurrency.value_span) == "${CELERY_CONCURRENCY:-4}"
    assert worker.env_files == (".env",)
    assert worker.env["CELERY_BROKER_URL"].value.value == "redis://redis:6379/0"  # from the anchor


def test_compose_list_command_and_merged_environment():
    facts, text = read("docker-compose.yml")
    long = by_name(facts)["worker-long"]
    assert options(long) == {"queues": ["long"], "prefetch_multiplier": 1, "concurrency": 4,
                             "max_tasks_per_child": 20}
    prefetch = long.command.options["prefetch_multiplier"]
    assert at(text, prefetch.flag_span) == "--prefetch-multiplier"
    assert at(text, prefetch.value_span) == "1"
    short = long.command.options["concurrency"]
    assert at(text, short.flag_span) == "-c" and at(text, short.value_span) == "4"
    # environment: {<<: *celery-env, own key}: both the merged and the own keys
    assert set(long.env) == {"DJANGO_SETTINGS_MODULE", "CELERY_BROKER_URL", "CELERY_WORKER_MAX_TASKS_PER_CHILD"}
    assert long.command.options["max_tasks_per_child"].flag == "$CELERY_WORKER_MAX_TASKS_PER_CHILD"


def test_compose_folded_command_behind_an_entrypoint_script():
    facts, text = read("docker-compose.yml")
    folded = by_name(facts)["worker-folded"]
    assert options(folded)["time_limit"] == 600.0
    soft = folded.command.options["soft_time_limit"].value
    assert soft.status == "unknown" and soft.env == "SOFT_LIMIT"
    flag = folded.command.options["time_limit"].flag_span
    assert (flag.line, at(text, flag)) == (32, "--time-limit")


def test_compose_shell_command_with_escaped_dollar():
    facts, text = read("docker-compose.yml")
    beat = by_name(facts)["beat"]
    assert beat.command.kind == "beat"
    schedule = beat.command.options["schedule_filename"]
    # $$BEAT_DB reaches the container's shell, which reads the service's environment
    assert schedule.value.value == "/data/celerybeat-schedule"
    assert at(text, schedule.value_span) == "$BEAT_DB"
    assert beat.env["DEBUG"].value.status == "unknown"


def test_compose_profiles_are_alternative_deployments():
    facts, _ = read("docker-compose.yml")
    sets = {d.profiles: sorted(p.name for p in d.processes) for d in facts.deployments}
    base = ["worker", "worker-folded", "worker-long"]
    assert sets == {
        (): base,
        ("dev",): sorted(base + ["worker-beat-dev"]),
        ("scheduler",): sorted(base + ["beat"]),
    }
    beats = {d.profiles: [p.name for p in d.processes if p.command.kind == "beat" or "beat" in p.command.options]
             for d in facts.deployments}
    assert all(len(names) <= 1 for names in beats.values())
    assert len({d.identity for d in facts.deployments}) == 1


def test_compose_extends_in_the_same_file(tmp_path):
    text = (
        "services:\n"
        "  base:\n"
        "    image: app\n"
        "    command: celery -A app worker -c 2\n"
        "    deploy: {replicas: 4}\n"
        "  second:\n"
        "    extends: base\n"
        "    environment: [A=1]\n"
        "  third:\n"
        "    extends: {service: base}\n"
        "    command: [celery, -A, app, worker, -c, '6']\n"
    )
    procs = by_name(read_deploy_file("compose.yaml", text))
    assert options(procs["second"]) == {"concurrency": 2} and procs["second"].replicas.value == 4
    assert options(procs["third"]) == {"concurrency": 6}


# --------------------------------------------------------------- kubernetes


def test_kubernetes_args_split_across_items_and_hpa():
    facts, text = read("deployment.yaml")
    assert facts.kind == "kubernetes"
    procs = by_name(facts)
    assert set(procs) == {"shop-worker/worker", "shop-beat/beat"}
    worker = procs["shop-worker/worker"]
    assert options(worker)["concurrency"] == 8 and options(worker)["queues"] == ["long", "default"]
    concurrency = worker.command.options["concurrency"]
    assert (concurrency.flag_span.line, at(text, concurrency.flag_span)) == (18, "--concurrency")
    assert (concurrency.value_span.line, at(text, concurrency.value_span)) == (19, "8")
    assert worker.replicas.value == 2 and worker.autoscaled and worker.autoscaled_max.value == 12
    assert at(text, worker.autoscaled_max.origin) == "12"
    # no shell runs args: ${PREFETCH} reaches celery as written
    prefetch = worker.command.options["prefetch_multiplier"].value
    assert prefetch.status == "unknown" and "${PREFETCH}" in prefetch.reason
    secret = worker.env["CELERY_BROKER_URL"].value
    assert secret.status == "unknown" and "shop-secrets" in secret.reason
    beat = procs["shop-beat/beat"]
    assert options(beat) == {"scheduler": "redbeat.RedBeatScheduler", "loglevel": "INFO"}
    assert beat.replicas.status == "default" and not beat.autoscaled
    scheduler = beat.command.options["scheduler"]
    assert at(text, scheduler.flag_span) == "-S"
    assert at(text, scheduler.value_span) == "redbeat.RedBeatScheduler"


# ------------------------------------------------------------ line formats


def test_procfile():
    facts, text = read("Procfile")
    assert [(d.identity, [p.name for p in d.processes]) for d in facts.deployments] == [
        ("Procfile", ["worker", "beat"])]
    worker = by_name(facts)["worker"]
    assert options(worker) == {"loglevel": "INFO", "concurrency": 2, "prefetch_multiplier": 1}
    prefetch = worker.command.options["prefetch_multiplier"]
    assert (prefetch.flag_span.line, at(text, prefetch.flag_span)) == (2, "--prefetch-multiplier")
    assert at(text, prefetch.value_span) == "1"


def test_supervisord_continuation_numprocs_environment():
    facts, text = read("celery.conf")
    procs = by_name(facts)
    worker = procs["celery-worker"]
    assert options(worker) == {"loglevel": "INFO", "concurrency": 4, "queues": ["default"],
                               "prefetch_multiplier": 1}
    assert worker.replicas.value == 2 and at(text, worker.replicas.origin) == "2"
    queues = worker.command.options["queues"]
    assert (queues.flag_span.line, at(text, queues.flag_span)) == (5, "-Q")
    assert worker.env["DJANGO_SETTINGS_MODULE"].value.value == "shop.settings"
    assert at(text, worker.env["DJANGO_SETTINGS_MODULE"].value.origin) == "shop.settings"
    assert options(procs["celery-beat"]) == {"schedule_filename": "/var/lib/shop/beat.db"}


def test_supervisord_percent_references():
    text = ("[program:reports]\n"
            "command=/venv/bin/celery -A proj worker -n %(program_name)s-%(process_num)02d@%%h"
            " -c %(ENV_CONCURRENCY)s --statedb=%(here)s/%(program_name)s.state -Q reports\n"
            "numprocs=2\n")
    (process,) = read_deploy_file("ops/supervisor/celery.conf", text).processes
    assert options(process)["hostname"] == "reports-00@%h"
    assert options(process)["statedb"] == "ops/supervisor/reports.state"
    assert options(process)["queues"] == ["reports"]  # the split is not thrown off by the references
    concurrency = process.command.options["concurrency"]
    assert concurrency.value.status == "unknown"
    assert concurrency.value.reason == ("$ENV_CONCURRENCY: supervisord fills %(ENV_CONCURRENCY)s from the "
                                        "environment it was started with, which no file shows")
    assert at(text, concurrency.value_span) == "%(ENV_CONCURRENCY)s"


def test_systemd_multi_with_environment():
    facts, text = read("celery.service")
    (process,) = facts.processes
    command = process.command
    assert command.kind == "multi" and command.app == "shop"
    assert options(process) == {"nodes": ["w1", "w2"], "pidfile": "/run/celery/%%n.pid",
                                "time_limit": 300.0, "concurrency": 8}
    concurrency = command.options["concurrency"]
    assert (concurrency.flag_span.line, at(text, concurrency.flag_span)) == (13, "--concurrency")
    assert process.env_files == ("/etc/conf.d/celery",)
    assert {e.name for e in facts.env} == {"CELERY_BIN", "CELERY_APP", "CELERYD_NODES"}


def test_shell_entrypoint_follows_assignments():
    facts, text = read("docker-entrypoint.sh")
    # each command of the case statement is its own (alternative) deployment
    assert [d.identity for d in facts.deployments] == ["docker-entrypoint.sh:10", "docker-entrypoint.sh:13"]
    worker = facts.deployments[0].processes[0]
    concurrency = worker.command.options["concurrency"].value
    assert (concurrency.status, concurrency.value, concurrency.env) == ("env-default", 3, "CELERY_CONCURRENCY")
    assert options(worker)["queues"] == ["default", "reports"]
    assert options(worker)["loglevel"] == "INFO"
    statedb = worker.command.options["statedb"]
    assert statedb.value.status == "unknown" and statedb.value.env == "STATE_DB"
    assert (statedb.flag_span.line, at(text, statedb.flag_span)) == (10, "--statedb")
    assert at(text, statedb.value_span) == "${STATE_DB}"


def test_dotenv():
    facts, text = read(".env.example")
    env = {e.name: e for e in facts.env}
    assert {name: e.value.value for name, e in env.items()} == {
        "DJANGO_SETTINGS_MODULE": "shop.settings",
        "CELERY_BROKER_URL": "redis://localhost:6379/0",
        "CELERY_CONCURRENCY": "4",
        "CELERY_QUEUES": "default,emails",
        "EMPTY": "",
        "QUOTED_HASH": "a # not a comment",
    }
    assert at(text, env["CELERY_CONCURRENCY"].value.origin) == "4"
    assert at(text, env["CELERY_BROKER_URL"].value.origin) == "redis://localhost:6379/0"


def test_toml_settings_with_environments():
    facts, text = read("settings.toml")
    entries = {(s.section, s.key): s for s in facts.settings}
    assert {k: s.value.value for k, s in entries.items()} == {
        (("default",), "CELERY_BROKER_URL"): "redis://localhost:6379/0",
        (("default",), "CELERY_TASK_ACKS_LATE"): True,
        (("default",), "CELERY_BROKER_TRANSPORT_OPTIONS"): {"visibility_timeout": 3600},
        (("production",), "CELERY_WORKER_PREFETCH_MULTIPLIER"): 1,
        (("production",), "CELERY_TASK_TIME_LIMIT"): 900,
    }
    limit = entries[(("production",), "CELERY_TASK_TIME_LIMIT")]
    assert (limit.span.line, at(text, limit.span)) == (8, "CELERY_TASK_TIME_LIMIT")


def test_yaml_settings():
    text = "default:\n  CELERY_TASK_ACKS_LATE: true\nproduction:\n  CELERY_WORKER_PREFETCH_MULTIPLIER: 1\n"
    facts = read_deploy_file("celery.yaml", text)
    assert facts.kind == "settings"
    entry = facts.settings[1]
    assert (entry.section, entry.key, entry.value.value) == (("production",), "CELERY_WORKER_PREFETCH_MULTIPLIER", 1)
    assert (entry.span.line, at(text, entry.span)) == (4, "CELERY_WORKER_PREFETCH_MULTIPLIER")


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.iterdir()))
def test_facts_pickle(name):
    facts, _ = read(name)
    assert pickle.loads(pickle.dumps(facts)) == facts


def test_compose_anchor_defined_again_takes_the_latest_without_a_warning(recwarn):
    # open-forms' docker/docker-compose.open-klant.yml defines &web_env on two services
    text = ("services:\n"
            "  web:\n    image: app\n    environment: &web_env\n      CELERY_BROKER_URL: redis://old:6379/0\n"
            "  fixtures:\n    image: app\n    environment: &web_env\n      CELERY_BROKER_URL: redis://new:6379/0\n"
            "  celery:\n    image: app\n    environment: *web_env\n    command: celery -A proj worker -c 2\n")
    facts = read_deploy_file("docker-compose.yml", text)
    (worker,) = facts.processes
    assert worker.env["CELERY_BROKER_URL"].value.value == "redis://new:6379/0"
    assert [str(w.message) for w in recwarn] == []
