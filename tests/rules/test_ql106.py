"""QL106 visibility-timeout-mismatch on real projects, and what kombu's Redis sweeps really do
with the same configuration files."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from qlint.pipeline.analysis import analyse
from qlint.model import Finding
from qlint.user_config.project_config import load_config
from qlint.rules.visibility_timeout_mismatch import VisibilityTimeoutMismatch, redis_database
from tests.resolve.conftest import write_tree
from tests.worker.conftest import redis_url  # noqa: F401  (fixture)

APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'


def check(root: Path, files: dict[str, str]) -> list[Finding]:
    write_tree(root, files)
    project = analyse(["."], cwd=root, root=root, use_cache=False).project
    project.config = load_config(root)
    return list(VisibilityTimeoutMismatch().check(project))


def one_app(config: str) -> dict[str, str]:
    return {"proj/__init__.py": "", "proj/celery.py": APP, "proj/celeryconfig.py": config}


def two_apps(broker: str, billing_options: str, reports_options: str, procfile: str | None = None) -> dict[str, str]:
    files = {"billing/__init__.py": "", "reports/__init__.py": ""}
    for name, options in (("billing", billing_options), ("reports", reports_options)):
        files[f"{name}/celery.py"] = (f'from celery import Celery\n\napp = Celery("{name}", broker="{broker}")\n'
                                      + (f"app.conf.broker_transport_options = {options}\n" if options else ""))
    files["Procfile"] = procfile if procfile is not None else \
        "billing: celery -A billing worker -c 2\nreports: celery -A reports worker\n"
    return files


# ---------------------------------------------------------------- a value kombu never reads


def test_result_backend_copy_longer_than_the_broker_default(tmp_path):
    (finding,) = check(tmp_path, one_app(
        "broker_url = 'redis://redis:6379/0'\nresult_backend = 'redis://redis:6379/1'\n"
        "result_backend_transport_options = {'visibility_timeout': 12 * 3600, 'retry_policy': {'timeout': 5}}\n"))
    assert (finding.span.path, finding.span.line, finding.span.column) == ("proj/celeryconfig.py", 3, 59)
    assert finding.message == (
        "visibility_timeout 12 h in result_backend_transport_options is never read for app 'proj': kombu takes the "
        "timeout only from broker_transport_options, which does not set it: the Redis default is 1 h; "
        "unacknowledged messages are delivered again after 1 h, not 12 h")
    assert [(r.span.line, r.message) for r in finding.related] == [
        (1, "the broker is redis, with its default visibility timeout")]
    assert finding.fix.description.startswith("set broker_transport_options = {'visibility_timeout': 43200}")
    assert finding.severity == "warning" and finding.code == "QL106"


@pytest.mark.parametrize(("where", "files", "line"), [
    ("visibility_timeout (not a Celery setting)",
     one_app("broker_url = 'sqs://'\nbroker_transport_options = {'visibility_timeout': 600}\nvisibility_timeout = 7200\n"), 3),
    ("visibility_timeout (not a Celery setting)",
     {"proj/__init__.py": "", "proj/celeryconfig.py": "broker_url = 'redis://r'\n",
      "proj/celery.py": APP + "app.conf.visibility_timeout = 7200\n"}, 5),
    ("CELERY_VISIBILITY_TIMEOUT (not a Celery setting)",
     {"proj/__init__.py": "", "proj/settings.py": "CELERY_BROKER_URL = 'redis://r'\nCELERY_VISIBILITY_TIMEOUT = 7200\n",
      "proj/celery.py": 'import os\nfrom celery import Celery\n\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")\n'
                        'app = Celery("proj")\napp.config_from_object("django.conf:settings", namespace="CELERY")\n'}, 2),
])
def test_top_level_keys(tmp_path, where, files, line):
    (finding,) = check(tmp_path, files)
    assert f"visibility_timeout 2 h in {where} is never read" in finding.message
    assert finding.span.line == line


@pytest.mark.parametrize("config", [
    "broker_url = 'redis://r'\nbroker_transport_options = {'visibility_timeout': 7200}\n"
    "result_backend_transport_options = {'visibility_timeout': 600}\nvisibility_timeout = 7200\n",
    "broker_url = 'redis://r'\nresult_backend_transport_options = {'visibility_timeout': 3600}\n",
    "broker_url = 'amqp://'\nresult_backend_transport_options = {'visibility_timeout': 43200}\n",
    "import os\nbroker_url = os.environ['BROKER']\nresult_backend_transport_options = {'visibility_timeout': 43200}\n",
    "broker_url = 'redis://r'\nimport os\nbroker_transport_options = {'visibility_timeout': int(os.environ['VT'])}\n"
    "visibility_timeout = 43200\n",
    "import os\nbroker_url = 'redis://r'\nresult_backend_transport_options = {'visibility_timeout': int(os.environ['VT'])}\n",
    "broker_url = 'redis://r'\nresult_backend_transport_options = {'visibility_timeout': 'twelve hours'}\n"
    "visibility_timeout = None\n",
    "broker_url = 'redis://r'\nresult_backend_transport_options = 'visibility_timeout'\n",
])
def test_silent_when_the_broker_value_governs_or_is_unknown(tmp_path, config):
    assert check(tmp_path, one_app(config)) == []


def test_unread_keys_holding_dicts_or_lists(tmp_path):
    # mediacms: Django settings loaded without a namespace, so CELERY_BEAT_SCHEDULE (a dict) is
    # an unread key; the rule used to put every unread value in a set and crashed on it.
    files = {
        "cms/__init__.py": "",
        "cms/celery.py": 'import os\nfrom celery import Celery\n\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", '
                         '"cms.settings")\napp = Celery("cms")\napp.config_from_object("django.conf:settings")\n'
                         'app.conf.broker_transport_options = {"visibility_timeout": 60 * 60 * 24}\n',
        "cms/settings.py": "BROKER_URL = 'redis://redis:6379/1'\n"
                           "CELERY_BEAT_SCHEDULE = {'clear': {'task': 'clear', 'schedule': 3600}}\n"
                           "CELERY_QUEUES_LIST = ['a', 'b']\nVISIBILITY_TIMEOUT = {'seconds': 43200}\n",
    }
    assert check(tmp_path, files) == []


def test_assumed_broker_is_not_enough(tmp_path):
    files = one_app("import os\nbroker_url = os.environ['BROKER']\nvisibility_timeout = 43200\n")
    files["pyproject.toml"] = '[tool.qlint]\nbroker = "redis"\n'
    assert check(tmp_path, files) == []


# ---------------------------------------------------------------- apps sharing a database


def test_shared_database_reports_the_longer_timeout(tmp_path):
    (finding,) = check(tmp_path, two_apps("redis://redis:6379/2", "{'visibility_timeout': 6 * 3600}", ""))
    assert (finding.span.path, finding.span.line) == ("billing/celery.py", 4)
    assert finding.message.startswith(
        "app 'billing' has visibility timeout 6 h, but the workers of app 'reports' consume the same Redis database "
        "with 1 h: their restore sweeps push back the unacknowledged messages of 'billing' after 1 h")
    assert [(str(r.span), r.message) for r in finding.related] == [
        ("reports/celery.py:3", "app 'reports': visibility timeout 1 h (Redis default: nothing sets it)"),
        ("Procfile:2", "a worker of app 'reports'")]


@pytest.mark.parametrize(("billing", "reports", "procfile"), [
    ("redis://redis:6379/0", "redis://redis:6379/1", None),
    ("redis://redis:6379/0", "redis://cache:6379/0", None),
    ("redis://redis:6379/0", "redis://redis:6380/0", None),
    ("redis://redis:6379/0", "redis://redis:6379", "billing: celery -A billing worker\nreports: celery -A reports worker -b redis://redis/4\n"),
])
def test_shared_database_needs_the_same_server_and_db(tmp_path, billing, reports, procfile):
    files = two_apps(billing, "{'visibility_timeout': 7200}", "")
    files["reports/celery.py"] = files["reports/celery.py"].replace(billing, reports)
    if procfile:
        files["Procfile"] = procfile
    assert check(tmp_path, files) == []


@pytest.mark.parametrize(("reports_options", "procfile", "expected"), [
    ("{'visibility_timeout': 7200}", None, 0),
    ("{'visibility_timeout': 600, 'global_keyprefix': 'reports:'}", None, 0),
    ("{'visibility_timeout': 600, 'unacked_key': 'reports_unacked'}", None, 0),
    ("{'visibility_timeout': 600}", None, 1),
    ("{'visibility_timeout': 600}", "billing: celery -A billing worker\nweb: gunicorn app\n", 0),
    ("{'visibility_timeout': 600}", "reports: celery -A reports worker\n", 0),
])
def test_shared_database_needs_the_same_keys_and_both_workers(tmp_path, reports_options, procfile, expected):
    files = two_apps("redis://redis:6379/0", "{'visibility_timeout': 7200}", reports_options, procfile)
    assert len(check(tmp_path, files)) == expected


def test_the_shortest_of_three_is_named(tmp_path):
    files = two_apps("redis://redis/0", "{'visibility_timeout': 7200}", "{'visibility_timeout': 300}")
    files["audit/__init__.py"] = ""
    files["audit/celery.py"] = ('from celery import Celery\n\napp = Celery("audit", broker="redis://redis/0")\n'
                                "app.conf.broker_transport_options = {'visibility_timeout': 1800}\n")
    files["Procfile"] += "audit: celery -A audit worker\n"
    found = sorted((f.span.path, f.message.split(":")[0]) for f in check(tmp_path, files))
    assert found == [
        ("audit/celery.py", "app 'audit' has visibility timeout 30 min, but the workers of app 'reports' consume the same Redis database with 5 min"),
        ("billing/celery.py", "app 'billing' has visibility timeout 2 h, but the workers of app 'reports' consume the same Redis database with 5 min"),
    ]


@pytest.mark.parametrize(("url", "expected"), [
    ("redis://redis:6379/0", ("tcp", "redis", "6379", "0")),
    ("redis://:secret@Redis/3", ("tcp", "redis", "6379", "3")),
    ("rediss://cache:6380", ("tcp", "cache", "6380", "0")),
    ("redis+socket:///run/redis.sock?virtual_host=2", ("socket", "/run/redis.sock", "2")),
    ("redis://a:notaport/0", None),
    ("sentinel://s1:26379;sentinel://s2:26379", None),
    (["redis://a/0", "redis://b/0"], None),
    (None, None),
])
def test_redis_database(url, expected):
    assert redis_database(url) == expected


# ---------------------------------------------------------------- what kombu does with the same files

_SWEEP = """
import importlib, json, sys, time
sys.path.insert(0, {root!r})
deliver = importlib.import_module({deliver!r}).app
sweep = importlib.import_module({sweep!r}).app
import redis
client = redis.Redis.from_url(deliver.conf.broker_url)
client.flushdb()
channel = deliver.connection_for_read().default_channel
channel.queue_declare("q106")
with deliver.connection_for_write() as producer:
    producer.default_channel.basic_publish(channel.prepare_message("job"), exchange="", routing_key="q106")
assert channel.basic_get("q106", no_ack=False) is not None  # delivered, held unacknowledged
time.sleep({wait})
sweeper = sweep.connection_for_read().default_channel
sweeper.qos.restore_visible(interval=1)  # one sweep, as a worker runs at start-up and every ~100 s
print(json.dumps({{"deliverer_timeout": channel.visibility_timeout, "sweeper_timeout": sweeper.visibility_timeout,
                   "restored": client.llen("q106") == 1}}))
"""


def kombu_sweep(root: Path, deliver: str, sweep: str, wait: float) -> dict:
    """Deliver a message with one app's connection, hold it unacked, let another app's connection
    sweep after `wait` seconds: was it pushed back? (In a child process: the project is imported.)"""
    code = _SWEEP.format(root=str(root), deliver=deliver, sweep=sweep, wait=wait)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=root)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_real_kombu_ignores_the_result_backend_and_top_level_copies(tmp_path, redis_url):  # noqa: F811
    files = one_app(f"broker_url = {redis_url!r}\nresult_backend = {redis_url!r}\n"
                    "broker_transport_options = {'visibility_timeout': 1}\n"
                    "result_backend_transport_options = {'visibility_timeout': 30}\nvisibility_timeout = 30\n")
    findings = check(tmp_path, files)
    assert len(findings) == 2
    assert all("delivered again after 1 s, not 30 s" in f.message for f in findings)
    real = kombu_sweep(tmp_path, "proj.celery", "proj.celery", wait=1.5)
    assert real == {"deliverer_timeout": 1, "sweeper_timeout": 1, "restored": True}


def test_real_kombu_default_applies_when_only_the_copies_are_set(tmp_path, redis_url):  # noqa: F811
    files = one_app(f"broker_url = {redis_url!r}\nresult_backend_transport_options = {{'visibility_timeout': 7200}}\n")
    (finding,) = check(tmp_path, files)
    assert "the Redis default is 1 h; unacknowledged messages are delivered again after 1 h, not 2 h" in finding.message
    real = kombu_sweep(tmp_path, "proj.celery", "proj.celery", wait=0)
    assert real["deliverer_timeout"] == 3600 and real["restored"] is False


@pytest.mark.parametrize(("reports_options", "restored"), [
    ("{'visibility_timeout': 1}", True),
    ("{'visibility_timeout': 1, 'global_keyprefix': 'reports:'}", False),
])
def test_real_sweep_of_another_app_on_the_same_database(tmp_path, redis_url, reports_options, restored):  # noqa: F811
    files = two_apps(redis_url.rsplit("/", 1)[0] + "/6", "{'visibility_timeout': 600}", reports_options)
    assert len(check(tmp_path, files)) == (1 if restored else 0)
    real = kombu_sweep(tmp_path, "billing.celery", "reports.celery", wait=1.5)
    assert real["deliverer_timeout"] == 600 and real["sweeper_timeout"] == 1
    assert real["restored"] is restored
