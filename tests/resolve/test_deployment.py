"""Deployment files in the resolved project: the environment they give settings, and
the celery processes with their app, queues and command-line overrides."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.resolve.conftest import where

APP = {
    "proj/__init__.py": "",
    "proj/celery.py": """
        import os
        from celery import Celery

        app = Celery("proj")
        app.conf.broker_url = os.environ.get("BROKER", "amqp://")
        app.conf.task_time_limit = int(os.getenv("LIMIT", "60"))
        app.conf.worker_prefetch_multiplier = os.getenv("PREFETCH", 4)
    """,
}


def test_variable_set_by_compose_and_env_file_reaches_settings(analyse_tree):
    analysis = analyse_tree({**APP,
        "docker-compose.yml": """
            services:
              worker:
                command: celery -A proj worker
                environment:
                  BROKER: redis://redis:6379/0
                env_file: ./deploy/worker.env
        """,
        "deploy/worker.env": "LIMIT=7200\n",
    })
    app = analysis.project.apps[0]
    broker = app.setting("broker_url")
    assert (broker.status, broker.value, broker.env) == ("known", "redis://redis:6379/0", "BROKER")
    limit = app.setting("task_time_limit")
    assert (limit.status, limit.value, limit.env) == ("known", 7200, "LIMIT")
    definitions = analysis.project.workspace.environ.definitions
    assert [(d.span.path, d.span.line) for d in definitions["LIMIT"]] == [("deploy/worker.env", 1)]
    assert [(d.span.path, d.span.line) for d in definitions["BROKER"]] == [("docker-compose.yml", 5)]


def test_string_from_the_environment_without_a_cast_stays_flagged(analyse_tree):
    analysis = analyse_tree({**APP, ".env": "PREFETCH=1\n"})
    value = analysis.project.apps[0].setting("worker_prefetch_multiplier")
    # The variable is set: Celery gets the string "1" (no cast in the code).
    assert value.value == "1" and value.uncast and where(value) == ("proj/celery.py", 7)


def test_different_values_in_two_places_are_alternatives(analyse_tree):
    analysis = analyse_tree({**APP,
        "Procfile": "worker: celery -A proj worker\n",
        "docker-compose.yml": """
            services:
              worker:
                command: celery -A proj worker
                environment: ["LIMIT=100"]
              slow:
                command: celery -A proj worker -Q slow
                environment: ["LIMIT=9000"]
        """,
    })
    limit = analysis.project.apps[0].setting("task_time_limit")
    assert limit.status == "several"
    # The Procfile's worker sets nothing: the code's default applies there.
    assert sorted(v.value for v in limit.possible()) == [60, 100, 9000]
    by_name = {(w.file, w.name): w.setting("task_time_limit").value for w in analysis.project.deployment.workers()}
    assert by_name == {("Procfile", "worker"): 60, ("docker-compose.yml", "worker"): 100,
                       ("docker-compose.yml", "slow"): 9000}


def test_templates_and_unset_variables_leave_the_code_default(analyse_tree):
    analysis = analyse_tree({**APP, ".env.example": "LIMIT=5\nBROKER=redis://example\n"})
    app = analysis.project.apps[0]
    assert app.setting("task_time_limit").status == "env-default"
    assert app.setting("task_time_limit").value == 60
    assert app.setting("broker_url").value == "amqp://"


def test_secret_reference_makes_the_setting_unknown(analyse_tree):
    analysis = analyse_tree({**APP,
        "k8s/worker.yaml": """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: worker}
            spec:
              replicas: 2
              template:
                spec:
                  containers:
                    - name: worker
                      image: proj
                      args: ["celery", "-A", "proj", "worker", "--prefetch-multiplier=1"]
                      env:
                        - name: BROKER
                          valueFrom: {secretKeyRef: {name: broker, key: url}}
        """,
    })
    assert analysis.project.apps[0].setting("broker_url").status == "unknown"
    [worker] = analysis.project.deployment.workers()
    assert worker.setting("worker_prefetch_multiplier").value == 1
    assert worker.process.replicas.value == 2


def test_processes_are_tied_to_their_app_with_command_line_overrides(analyse_tree):
    analysis = analyse_tree({**APP,
        "proj/celery.py": APP["proj/celery.py"] + '    app.config_from_object("proj.celeryconfig")\n',
        "proj/celeryconfig.py": "from kombu import Queue\n\ntask_queues = [Queue('default'), Queue('long')]\n",
        "supervisord.conf": """
            [program:long]
            command=celery -A proj.celery:app worker -Q long --time-limit=600 -c 2 --statedb=/var/run/worker.db
            numprocs=1
            [program:any]
            command=celery --app=proj worker -X long
        """,
    })
    view = analysis.project.deployment
    assert view.files == ["supervisord.conf"]
    long, other = view.workers()
    app = analysis.project.apps[0]
    assert long.app is app and other.app is app
    assert long.queues().value == ("long",)
    assert long.setting("task_time_limit").value == 600
    assert where(long.setting("task_time_limit"))[0] == "supervisord.conf"
    assert long.setting("worker_state_db").value == "/var/run/worker.db"
    assert long.setting("worker_concurrency").value == 2
    # No -Q: the worker consumes every queue of task_queues, minus -X.
    assert other.queues().value == ("default",)
    assert other.setting("task_time_limit").value == 60


def test_app_option_naming_nothing_in_a_project_with_two_apps(analyse_tree):
    analysis = analyse_tree({
        "a/__init__.py": "", "a/celery.py": "from celery import Celery\napp = Celery('a')\n",
        "b/__init__.py": "", "b/celery.py": "from celery import Celery\napp = Celery('b')\n",
        "Procfile": "w1: celery -A b worker\nw2: celery -A elsewhere worker\n",
    })
    first, second = analysis.project.deployment.workers()
    assert first.app is not None and first.app.name == "b"
    assert second.app is None and "elsewhere" in second.app_reason
    assert second.setting("worker_prefetch_multiplier").status == "unknown"


def test_compose_interpolates_from_the_env_file_beside_it(analyse_tree):
    analysis = analyse_tree({**APP,
        "deploy/docker-compose.yml": """
            services:
              worker:
                command: celery -A proj worker --prefetch-multiplier=${PREFETCH:-1} -c ${CONCURRENCY}
        """,
        "deploy/.env": "PREFETCH=8\n",
    })
    [worker] = analysis.project.deployment.workers()
    assert worker.setting("worker_prefetch_multiplier").value == 8
    assert worker.setting("worker_concurrency").status == "unknown"


def test_qlint_config_shows_workers_and_environment_origins(tmp_path):
    from tests.resolve.conftest import write_tree

    write_tree(tmp_path, {**APP,
        "docker-compose.yml": """
            services:
              worker:
                command: celery -A proj worker -Q long -B
                environment:
                  LIMIT: "3600"
                deploy: {replicas: 2}
        """,
    })
    text = subprocess.run([sys.executable, "-m", "qlint", "config", "--no-cache", "."], cwd=tmp_path,
                          capture_output=True, text=True, check=True).stdout
    assert "deployment files: docker-compose.yml" in text
    assert "worker 'worker'  docker-compose.yml:3  app 'proj'" in text
    assert "environment variable LIMIT set in docker-compose.yml:5" in text
    assert "embedded beat        yes (-B)" in text
    report = json.loads(subprocess.run([sys.executable, "-m", "qlint", "config", "--no-cache", "--format", "json", "."],
                                       cwd=tmp_path, capture_output=True, text=True, check=True).stdout)
    [process] = report["processes"]
    assert process["queues"]["value"] == ["long"] and process["beat"] is True
    assert process["replicas"]["value"] == 2
    assert report["environment"]["LIMIT"] == [{"path": "docker-compose.yml", "line": 5}]


def test_what_each_worker_reserves(analyse_tree):
    analysis = analyse_tree({**APP, "Procfile": (
        "a: celery -A proj worker -c 3\n"
        "b: celery -A proj worker --autoscale=10,3 --prefetch-multiplier=2\n"
        "c: celery -A proj worker\n"
        "d: celery -A proj worker -c 2 --disable-prefetch\n"
        "e: celery -A proj worker -c 2 --prefetch-multiplier=${P}\n"
    ), ".env": "PREFETCH=0\n"})
    counts = {p.name: p.prefetch_count() for p in analysis.project.deployment.processes}
    # The app's multiplier is os.getenv("PREFETCH", 4): .env sets it to "0" (unlimited), uncast.
    assert counts["b"] == (20, "2 x up to 10 processes (--autoscale)")
    assert counts["d"][0] is None and "worker_disable_prefetch" in counts["d"][1]
    assert counts["e"] == (None, "the prefetch multiplier is not known")
    analysis = analyse_tree({**APP, ".env": "PREFETCH=1\n", "proj/celery.py": APP["proj/celery.py"].replace(
        'os.getenv("PREFETCH", 4)', 'int(os.getenv("PREFETCH", 4))')})
    counts = {p.name: p.prefetch_count() for p in analysis.project.deployment.processes}
    assert counts["a"] == (3, "1 x concurrency 3")
    assert counts["c"] == (None, "1 x the number of CPUs (concurrency not set)")


def test_queues_of_a_worker_without_q_come_from_task_queues(analyse_tree):
    # Celery takes task_queues as Queue objects or a mapping of names; a list of bare
    # names makes it fail at start-up ('str' object has no attribute 'name').
    def consumed(celeryconfig: str):
        analysis = analyse_tree({**APP,
            "proj/celery.py": APP["proj/celery.py"] + '    app.config_from_object("proj.celeryconfig")\n',
            "proj/celeryconfig.py": celeryconfig,
            "Procfile": "worker: celery -A proj worker\n",
        })
        return analysis.project.deployment.workers()[0].queues()

    objects = consumed("from kombu import Queue\n\ntask_queues = (Queue('tasks', routing_key='task.#'), Queue('transient'))\n")
    assert (objects.status, objects.value) == ("known", ("tasks", "transient"))
    mapping = consumed("task_queues = {'tasks': {'routing_key': 'task.#'}}\n")
    assert (mapping.status, mapping.value) == ("known", ("tasks",))
    assert consumed("task_queues = ['tasks']\n").status == "unknown"
    unread = consumed("import os\ntask_queues = os.environ['QUEUES']\n")
    assert unread.status == "unknown" and unread.reason.startswith("task_queues cannot be read: ")


def test_app_option_matching_two_apps_is_not_guessed(analyse_tree):
    """flower: docs/tasks.py and examples/tasks.py are both module `tasks`; the worker's import
    path decides which one `-A tasks` loads, and qlint does not know it."""
    analysis = analyse_tree({
        "docs/tasks.py": "from celery import Celery\ncelery = Celery()\n",
        "examples/tasks.py": "from celery import Celery\napp = Celery('tasks')\napp.conf.worker_prefetch_multiplier = 1\n",
        "proj/__init__.py": "", "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp2 = Celery('other')\n",
        "docker-compose.yml": "services:\n  worker:\n    command: celery -A tasks worker\n"
                              "  proj:\n    command: celery -A proj.celery worker\n",
    })
    tasks, proj = analysis.project.deployment.workers()
    assert tasks.app is None
    assert tasks.app_reason == "-A tasks matches several apps (docs/tasks.py, examples/tasks.py): which one runs depends on the import path"
    assert tasks.setting("worker_prefetch_multiplier").status == "unknown"
    assert proj.app is not None and proj.app.var == "app"  # one module, two apps: Celery takes `app`
