"""Worker command lines written in a Makefile's recipes, and in shell scripts that build the
command's arguments in a variable: read from files on disk, and through the real `qlint` command."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from qlint.sources.deploy.discover import read_deploy_file

STUDIO_LIKE = (
    "# standalone install method\n"
    "DOCKER_COMPOSE ?= docker-compose\n"
    "CELERY = cd contentcuration/ && celery -A contentcuration worker -l info --concurrency=3 --task-events\n"
    "\n"
    "ifeq (, $(shell command -v docker-compose 2>/dev/null))\n"
    "DOCKER_COMPOSE := docker compose\n"
    "endif\n"
    "\n"
    "altprodserver: NUM_PROCS:=3\n"
    "altprodserver: collectstatic\n"
    "\tcd contentcuration/ && gunicorn contentcuration.wsgi:application --workers=${NUM_PROCS}\n"
    "\n"
    "prodceleryworkers:\n"
    "\t$(CELERY)\n"
    "\n"
    "devceleryworkers:\n"
    "\tDJANGO_SETTINGS_MODULE=contentcuration.dev_settings $(CELERY) --pool=threads\n"
    "\n"
    "run-services:\n"
    "\t$(MAKE) -j 2 dcservicesup devceleryworkers\n"
)


def read(tmp_path: Path, name: str, text: str):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    facts = read_deploy_file(str(path), path.read_text(encoding="utf-8"))
    assert facts is not None and facts.error is None
    return facts


def options(process) -> dict:
    return {name: option.value.value for name, option in process.command.options.items()}


def test_each_target_that_runs_a_worker_is_a_deployment_of_its_own(tmp_path):
    facts = read(tmp_path, "Makefile", STUDIO_LIKE)
    by_target = {d.identity.rpartition(":")[2]: d for d in facts.deployments}
    assert sorted(by_target) == ["devceleryworkers", "prodceleryworkers"]
    [prod] = by_target["prodceleryworkers"].processes
    assert prod.command.kind == "worker" and prod.command.app == "contentcuration"
    assert options(prod) == {"loglevel": "INFO", "concurrency": 3, "task_events": True}
    assert prod.command.span.line == 3  # where the variable holding the command line is written
    [dev] = by_target["devceleryworkers"].processes
    assert options(dev)["pool"] == "threads"
    assert dev.command.options["pool"].flag_span.line == 17


def test_make_variables_expand_in_order_of_their_kind(tmp_path):
    facts = read(tmp_path, "GNUmakefile", (
        "APP := proj\n"
        "LEVEL = $(DEFAULT_LEVEL)\n"
        "DEFAULT_LEVEL = warning\n"
        "OPTS ?= -c 2\n"
        "OPTS ?= -c 9\n"
        "OPTS += -O fair \\\n"
        "        --without-gossip  # comment\n"
        "export CELERY_WORKER_PREFETCH_MULTIPLIER = 1\n"
        "worker: OPTS += -Q images\n"
        "worker:\n"
        "\t@echo starting $@\n"
        "\t-celery -A $(APP) worker -l $(LEVEL) $(OPTS) --hostname=$@@%h --logfile=$$HOME/w.log\n"
        "beat: ; celery -A ${APP} beat -s $(STATE_DIR)/schedule\n"
    ))
    by_target = {d.identity.rpartition(":")[2]: d.processes for d in facts.deployments}
    [worker] = by_target["worker"]
    assert worker.command.app == "proj"
    got = options(worker)
    assert got["loglevel"] == "WARNING"  # `=` expands when the recipe runs: the later definition counts
    assert got["concurrency"] == 2  # ?= keeps the first
    assert got["optimization"] == "fair" and got["without_gossip"] is True and got["queues"] == ["images"]
    assert got["hostname"] == "worker@%h"
    assert got["prefetch_multiplier"] == 1  # exported to the recipe's environment, read by click
    assert worker.command.options["logfile"].value.status == "unknown"  # $HOME is the shell's
    [beat] = by_target["beat"]
    schedule = beat.command.options["schedule_filename"].value
    assert beat.command.kind == "beat" and schedule.status == "unknown"  # STATE_DIR: `make STATE_DIR=...`
    assert "STATE_DIR" in schedule.reason


def test_make_functions_and_expansion_bombs_leave_values_unresolved(tmp_path):
    bomb = "".join(f"V{k} = $(V{k + 1})$(V{k + 1})\n" for k in range(40)) + "V40 = xxxxxxxxxx\n"
    facts = read(tmp_path, "Makefile", (
        bomb + "CONC != nproc\n"
        "define RUN_WORKER\n"
        "celery -A proj worker -c $(CONC)\n"
        "endef\n"
        "worker:\n\t$(RUN_WORKER) -n $(V0)\n"
        "workers2:\n\tcelery -A proj worker -c $(words a b)\n"
        "loop:\n\tA=$(LOOP)\n"
        "LOOP = $(LOOP)\n"
    ))
    by_target = {d.identity.rpartition(":")[2]: d.processes for d in facts.deployments}
    assert set(by_target) == {"workers2"}  # the bomb's recipe is left out whole
    [worker] = by_target["workers2"]
    assert worker.command.options["concurrency"].value.status == "unknown"
    facts = read(tmp_path, "Makefile", "CONC != nproc\nworker:\n\tcelery -A proj worker -c $(CONC)\n")
    [[worker]] = [d.processes for d in facts.deployments]
    assert worker.command.options["concurrency"].value.status == "unknown"


def test_a_makefile_without_celery_or_with_broken_syntax_is_no_deployment(tmp_path):
    assert read_deploy_file(str(tmp_path / "Makefile"), "all:\n\tpytest\n") is None
    facts = read(tmp_path, "Makefile", "celery:\n\t$(\nx: y: z\n\t\t\\\n$$$\n:\n=\ndefine\n")
    assert facts.deployments == []


INTELOWL_LIKE = """\
#!/bin/bash

until cd /opt/deploy/intel_owl
do
    echo "Waiting for server volume..."
done

if [ "$AWS_SQS" = "True" ]
then
  queues="default.fifo,config.fifo"
else
  queues="default,broadcast,config"
fi

ARGUMENTS="-A intel_owl.celery worker -n worker_default --time-limit=10000 --pidfile= -c 8 -Ofair -Q ${queues} -E"
if [[ $DEBUG == "True" ]] && [[ $DJANGO_TEST_SERVER == "True" ]];
then
    python3 manage.py celery_reload -c "$ARGUMENTS"
else
  # shellcheck disable=SC2086
  /usr/local/bin/celery $ARGUMENTS
fi
"""


def test_a_variable_holding_the_whole_argument_list_is_read(tmp_path):
    facts = read(tmp_path, "docker/entrypoints/celery_default.sh", INTELOWL_LIKE)
    [process] = facts.processes
    assert process.command.kind == "worker" and process.command.app == "intel_owl.celery"
    got = options(process)
    assert got["time_limit"] == 10000 and got["concurrency"] == 8 and got["optimization"] == "fair"
    assert got["queues"] == ["default", "broadcast", "config"] and got["hostname"] == "worker_default"
    assert process.command.span.line == 21


def test_an_unresolved_argument_variable_gives_no_command(tmp_path):
    facts = read(tmp_path, "entrypoint.sh", "#!/bin/sh\nexec celery $CELERY_ARGS\n")
    assert facts.processes == []
    facts = read(tmp_path, "entrypoint.sh", '#!/bin/sh\nGLOBAL="-A proj"\nexec celery $GLOBAL worker $EXTRA -c 2\n')
    [process] = facts.processes
    assert process.command.app == "proj" and options(process)["concurrency"] == 2
    assert any("$EXTRA" in note for note in process.command.unparsed)


APP = 'from celery import Celery\n\napp = Celery("proj")\n'
REVOKING = ("from proj.celery import app\n\n\n@app.task\ndef build(x):\n    return x\n\n\n"
            "def cancel(task_id):\n    app.control.revoke(task_id)\n")


def qlint_check(root: Path) -> list[tuple[str, str, int]]:
    done = subprocess.run([sys.executable, "-m", "qlint", "check", "--format", "json", "--no-cache", "."], cwd=root,
                          capture_output=True, text=True)
    assert done.returncode in (0, 1), done.stderr
    return sorted((f["code"], f["path"], f["line"]) for f in json.loads(done.stdout)["findings"])


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")


def test_workers_started_by_make_count_for_the_rules(tmp_path):
    files = {"proj/__init__.py": "", "proj/celery.py": APP, "proj/tasks.py": REVOKING,
             "Makefile": "WORKER = celery -A proj worker -l info\n\nworker:\n\t$(WORKER)\n"}
    write(tmp_path, files)
    assert ("QL501", "proj/tasks.py", 10) in qlint_check(tmp_path)
    write(tmp_path, {"Makefile": "WORKER = celery -A proj worker --statedb=/var/run/celery/%n.state\n\n"
                                 "worker:\n\t$(WORKER)\n"})
    assert not [f for f in qlint_check(tmp_path) if f[0] == "QL501"]


def test_workers_of_an_entrypoint_with_an_argument_variable_count_for_the_rules(tmp_path):
    write(tmp_path, {"proj/__init__.py": "", "proj/celery.py": APP, "proj/tasks.py": REVOKING,
                     "docker/entrypoint.sh": '#!/bin/sh\nARGS="-A proj worker -c 4"\nexec celery $ARGS\n'})
    assert ("QL501", "proj/tasks.py", 10) in qlint_check(tmp_path)


def test_results_deleted_through_a_queryset_held_in_a_name_need_no_beat(tmp_path):
    settings = ('CELERY_RESULT_BACKEND = "django-db"\nCELERY_BROKER_URL = "redis://redis:6379/0"\n')
    cleanup = ("import datetime\n\nfrom django.utils.timezone import now\n"
               "from django_celery_results.models import TaskResult\n\n\n"
               "def clean_up_tasks():\n    cutoff = now() - datetime.timedelta(days=7)\n"
               "    old = TaskResult.objects.filter(date_done__lt=cutoff)\n    count, _ = old.delete()\n"
               "    return count\n")
    celery = ('import os\nfrom celery import Celery\n\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", '
              '"proj.settings")\napp = Celery("proj")\napp.config_from_object("django.conf:settings", '
              'namespace="CELERY")\n')
    files = {"proj/__init__.py": "", "proj/celery.py": celery, "proj/settings.py": settings,
             "proj/tasks.py": REVOKING.replace("app.control.revoke(task_id)", "return task_id"),
             "Makefile": "worker:\n\tcelery -A proj worker --statedb=w.state\n"}
    write(tmp_path, files)
    assert [f for f in qlint_check(tmp_path) if f[0] == "QL205"]
    write(tmp_path, {"proj/garbage.py": cleanup})
    assert not [f for f in qlint_check(tmp_path) if f[0] == "QL205"]
