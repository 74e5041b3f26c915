"""QL401 prefetch-long-tasks: what the finding says the harm is, and how it names workers."""
from __future__ import annotations

from pathlib import Path

from qlint.pipeline.analysis import analyse
from qlint.model import Finding
from qlint.rules.prefetch_long_tasks import PrefetchLongTasks

APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'
LONG = {
    "proj/__init__.py": "", "proj/celery.py": APP,
    "proj/tasks.py": "from proj.celery import app\n\n\n@app.task(soft_time_limit=2 * 3600)\ndef build(x):\n    return x\n",
    "proj/views.py": "from proj.tasks import build\n\n\ndef start(x):\n    build.delay(x)\n",
}


def check(root: Path, files: dict[str, str]) -> list[Finding]:
    for rel, content in {**LONG, **files}.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return list(PrefetchLongTasks().check(analyse(["."], cwd=root, root=root, use_cache=False).project))


def test_workers_sharing_a_queue_are_named_by_their_hostnames(tmp_path):
    compose = ("services:\n"
               "  worker:\n    command: celery -A proj worker -n default_worker@%h -Q default,long -c 2\n"
               "  worker_long:\n    command: celery -A proj worker --hostname=long_worker@%h -Q long -c 2\n")
    found = check(tmp_path, {"proj/celeryconfig.py": "broker_url = 'redis://redis:6379/0'\n"
                                                     "task_default_queue = 'default'\n"
                                                     "task_routes = {'proj.tasks.build': {'queue': 'long'}}\n",
                             "docker-compose.yml": compose})
    assert sorted(f.message.split(" runs long tasks")[0] for f in found) == [
        "worker 'default_worker@%h'", "worker 'long_worker@%h' (worker_long)"]
    by_line = {f.span.line: f for f in found}
    assert by_line[3].message.endswith("reserved messages wait behind a long task while other consumers of its queues "
                                       "idle ('long_worker@%h' (worker_long))")
    # Both workers read the app's multiplier and both are reported: the fix sets it for the app.
    assert by_line[3].fix.description == (
        "set worker_prefetch_multiplier = 1 (every worker that reads it is reported), or --prefetch-multiplier=1 "
        "on the command of worker 'default_worker@%h', with late acknowledgement")
    (edit,) = by_line[3].fix.edits
    assert by_line[3].fix.applicability == "unsafe" and edit.content == "worker_prefetch_multiplier = 1\n"
    assert (edit.span.path, edit.span.line, edit.span.column) == ("proj/celeryconfig.py", 4, 1)
    assert all("worker 'worker'" not in f.message for f in found)


def test_the_only_consumer_of_a_queue_on_redis_is_told_about_redelivery(tmp_path):
    (finding,) = check(tmp_path, {"proj/celeryconfig.py": "broker_url = 'redis://redis:6379/0'\n",
                                  "Procfile": "web: gunicorn proj.wsgi\nworker: celery -A proj worker -c 4\n"})
    assert "while other" not in finding.message
    assert finding.message.endswith(
        "reserved messages wait unacknowledged behind a long task; on Redis, one that waits past the Redis default "
        "visibility timeout of 1 h is delivered again and runs twice")


def test_no_worker_in_the_deployment_and_an_unknown_broker(tmp_path):
    (finding,) = check(tmp_path, {"proj/celeryconfig.py": "import os\n\nbroker_url = os.environ['BROKER_URL']\n"})
    message = finding.message
    assert "reserved messages wait unacknowledged behind a long task (other workers, if any, cannot take them); " in message
    assert "on Redis, one that waits past the Redis default visibility timeout of 1 h is delivered again" in message
    assert ("on RabbitMQ, one unacknowledged past consumer_timeout (30 min by default) gets the worker's channel closed "
            "and all it holds re-queued") in message
    assert "on SQS, one that waits past the SQS default visibility timeout of 30 min" in message
    assert finding.fix.description.startswith("set worker_prefetch_multiplier = 1 (or --prefetch-multiplier=1)")


def test_django_settings_fix_names_the_namespaced_key(tmp_path):
    django_app = ("import os\n\nfrom celery import Celery\n\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
                  "app = Celery('proj')\napp.config_from_object('django.conf:settings', namespace='CELERY')\n")
    (finding,) = check(tmp_path, {"proj/celery.py": django_app,
                                  "proj/settings.py": "CELERY_BROKER_URL = 'amqp://rabbit//'\n"})
    assert finding.message.endswith("; on RabbitMQ, one unacknowledged past consumer_timeout (30 min by default) gets "
                                    "the worker's channel closed and all it holds re-queued")
    assert finding.fix.description.startswith("set CELERY_WORKER_PREFETCH_MULTIPLIER = 1 (or --prefetch-multiplier=1)")


def test_a_setting_other_workers_read_is_not_changed_for_one_of_them(tmp_path):
    """The 'fast' worker reads the same multiplier and is not reported (no long task reaches its
    queue): setting 1 for the app would cut its throughput, so the fix is described only."""
    compose = ("services:\n"
               "  fast:\n    command: celery -A proj worker -Q celery -c 8\n    deploy:\n      replicas: 2\n"
               "  slow:\n    command: celery -A proj worker -Q long -c 4\n    deploy:\n      replicas: 2\n")
    (finding,) = check(tmp_path, {"proj/celeryconfig.py": "task_routes = {'proj.tasks.build': {'queue': 'long'}}\n",
                                  "docker-compose.yml": compose})
    assert finding.fix.edits == () and finding.fix.applicability == "display-only"
    assert finding.fix.description == (
        "add --prefetch-multiplier=1 to the command of worker 'slow', with late acknowledgement (not written by "
        "--fix: the app's setting also governs worker 'fast', which is not reported)")


def test_a_multiplier_from_the_environment_is_not_rewritten(tmp_path):
    (finding,) = check(tmp_path, {"proj/celeryconfig.py": "import os\nworker_prefetch_multiplier = "
                                                          "int(os.environ.get('PREFETCH', 4))\n"})
    assert finding.fix.edits == ()
    assert finding.fix.description.endswith("(not written by --fix: the value comes from the environment (PREFETCH): "
                                            "set it there)")


def test_a_visibility_timeout_qlint_cannot_read_still_ends(tmp_path):
    """The only worker of its queue on Redis with transport options from the environment: a
    reserved message that waits past the timeout, whatever it is, is delivered again."""
    config = ("import json\nimport os\n\nbroker_url = 'redis://redis:6379/0'\n"
              "broker_transport_options = json.loads(os.environ['TRANSPORT_OPTIONS'])\n")
    (finding,) = check(tmp_path, {"proj/celeryconfig.py": config,
                                  "Procfile": "worker: celery -A proj worker -c 2\n"})
    assert finding.message.endswith("reserved messages wait unacknowledged behind a long task; on Redis, one that "
                                    "waits past the visibility timeout (not readable here) is delivered again and "
                                    "runs twice")
