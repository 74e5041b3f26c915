"""`qlint inspect` against a real RabbitMQ server (its management API) and a real Celery worker.
Skipped where rabbitmq-server is not installed (apt-get install rabbitmq-server)."""
from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from qlint.cli import main

from tests.live.conftest import APP

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api(base: str, path: str, method: str = "GET", body: dict | None = None, auth: str = "guest:guest"):
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Authorization": "Basic " + base64.b64encode(auth.encode()).decode(),
                                              "content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        data = response.read()
        return json.loads(data) if data else None


@pytest.fixture(scope="module")
def rabbitmq(tmp_path_factory):
    """A RabbitMQ node of the test's own (ports, data, cookie), with the management plugin."""
    binary = SERVER if os.path.exists(SERVER) else shutil.which("rabbitmq-server")
    if binary is None:
        pytest.skip("rabbitmq-server is not installed (apt-get install rabbitmq-server)")
    home = tmp_path_factory.mktemp("rabbitmq")
    amqp, http, dist, epmd_port = _free_port(), _free_port(), _free_port(), _free_port()
    (home / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{amqp}\nmanagement.tcp.port = {http}\n"
        f"management.tcp.ip = 127.0.0.1\nloopback_users = none\n"
        # queue statistics every 100 ms, not 5 s: the test waits on them
        f"collect_statistics_interval = 100\n")
    (home / "enabled_plugins").write_text("[rabbitmq_management].\n")
    (home / "env").write_text("")
    # Erlang's port mapper of the test's own, on its own port, stopped with the node.
    epmd = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
    if not os.path.exists(epmd):
        pytest.skip("Erlang's epmd is not installed beside rabbitmq-server")
    mapper = subprocess.Popen([epmd, "-port", str(epmd_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {**os.environ, "HOME": str(home), "ERL_EPMD_PORT": str(epmd_port),
           "RABBITMQ_NODENAME": f"qlint{amqp}@localhost", "RABBITMQ_DIST_PORT": str(dist), "RABBITMQ_MNESIA_BASE": str(home / "mnesia"),
           "RABBITMQ_LOG_BASE": str(home / "log"), "RABBITMQ_PID_FILE": str(home / "pid"),
           "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "enabled_plugins"),
           "RABBITMQ_CONFIG_FILE": str(home / "rabbitmq"), "RABBITMQ_CONF_ENV_FILE": str(home / "env"),
           "RABBITMQ_PLUGINS_EXPAND_DIR": str(home / "plugins-expand")}
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    base = f"http://127.0.0.1:{http}"
    try:
        while True:
            if proc.poll() is not None:
                pytest.skip(f"rabbitmq-server could not start here (exit status {proc.returncode})")
            try:
                _api(base, "/api/overview")
                break
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        yield {"amqp": f"amqp://guest:guest@127.0.0.1:{amqp}//", "api": base, "home": home}
    finally:
        os.killpg(proc.pid, 15)
        proc.wait()
        mapper.terminate()
        mapper.wait()


def _queue(base: str, name: str) -> dict:
    try:
        return _api(base, f"/api/queues/%2F/{name}")
    except urllib.error.HTTPError:
        return {}


def _inspect(capsys, rabbit, path: Path, *options: str, broker: str | None = None, api: str | None = None):
    capsys.readouterr()
    status = main(["inspect", "--broker", broker or rabbit["amqp"], "--rabbitmq-api",
                   api or rabbit["api"].replace("http://", "http://guest:guest@"), str(path), "--no-cache", *options])
    out, err = capsys.readouterr()
    return status, out, err


def test_queues_without_consumers_large_messages_and_a_task_past_the_consumer_timeout(rabbitmq, tmp_path, capsys):
    from celery import Celery

    (tmp_path / "liveproj.py").write_text(APP, encoding="utf-8")
    flag, log = tmp_path / "release", tmp_path / "runs.log"
    sender = Celery("sender", broker=rabbitmq["amqp"])
    sender.send_task("liveproj.hold", args=[str(flag), str(log), "x" * 200_000], queue="bulk", task_id="big-1")
    sender.send_task("liveproj.hold", args=[str(flag), str(log)], task_id="long-1")
    while _queue(rabbitmq["api"], "bulk").get("messages_ready") != 1:
        time.sleep(0.1)

    # Nothing consumes yet: two GETs of the API change nothing on the broker.
    before = _api(rabbitmq["api"], "/api/overview")["object_totals"], _queue(rabbitmq["api"], "celery")
    status, out, err = _inspect(capsys, rabbitmq, tmp_path)
    assert status == 1
    assert "queue bulk: QL404 1 message waits in 'bulk' and no consumer is attached to it" in out
    assert "queue bulk: QL201" in out and "guest:***@" in out and ":guest@" not in out
    after = _api(rabbitmq["api"], "/api/overview")["object_totals"], _queue(rabbitmq["api"], "celery")
    assert (before[0], before[1]["messages"]) == (after[0], after[1]["messages"])

    env = {**os.environ, "QLINT_TEST_BROKER": rabbitmq["amqp"], "PYTHONPATH": str(tmp_path)}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "liveproj", "worker", "-c", "1", "--prefetch-multiplier", "1",
         "-n", "rabbit@%h", "--without-mingle", "--without-gossip", "--without-heartbeat", "-l", "warning",
         "--time-limit", "60"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not log.exists():
            assert worker.poll() is None, f"the worker exited with {worker.returncode}"
            time.sleep(0.05)
        started = time.time()
        while time.time() < started + 2.5:  # past the 2 s consumer timeout given below
            time.sleep(0.1)
        status, out, err = _inspect(capsys, rabbitmq, tmp_path, "--ask-workers", "--consumer-timeout", "2",
                                    "--format", "json")
        data = json.loads(out)
        assert status == 1
        codes = {(f["code"], f["path"]) for f in data["findings"]}
        [live] = data["workers"]
        assert ("QL103", f"worker {live['hostname']}") in codes
        assert ("QL404", "queue bulk") in codes and ("QL201", "queue bulk") in codes
        late, limited = sorted((f for f in data["findings"] if f["code"] == "QL103"), key=lambda f: f["severity"])
        assert "liveproj.hold (id long-1)" in late["message"] and "--consumer-timeout" in late["message"]
        # Its --time-limit of 60 s lets every task it runs outlast the consumer timeout given.
        assert limited["path"] == f"worker {live['hostname']}" and limited["message"].startswith(
            f"{live['hostname']} acknowledges tasks late with a hard time limit of 1 min, at or above the consumer "
            f"timeout of 2 s (--consumer-timeout) of 'celery', which it consumes")
        # Its --time-limit is drift too: the limit its pool enforces, not the configuration it reports.
        assert {(d["setting"], d["live"]) for d in data["drift"]} == {("worker_prefetch_multiplier", 1),
                                                                       ("task_time_limit", 60)}
    finally:
        flag.touch()
        worker.kill()
        worker.wait()


def test_credentials_are_never_printed(rabbitmq, tmp_path, capsys):
    secret = "Rabbit-s3cret"
    _api(rabbitmq["api"], "/api/users/inspector", "PUT", {"password": secret, "tags": "monitoring"})
    _api(rabbitmq["api"], "/api/permissions/%2F/inspector", "PUT", {"configure": "", "write": "", "read": ".*"})
    host = rabbitmq["amqp"].split("@", 1)[1]
    api = rabbitmq["api"].replace("http://", f"http://inspector:{secret}@")
    for fmt in ("text", "json"):
        status, out, err = _inspect(capsys, rabbitmq, tmp_path, "--format", fmt,
                                    broker=f"amqp://inspector:{secret}@{host}", api=api)
        assert status in (0, 1) and secret not in out + err and "inspector:***@" in out
    status, out, err = _inspect(capsys, rabbitmq, tmp_path, broker=f"amqp://inspector:{secret}@{host}",
                                api=api.replace(secret, "wrong-" + secret))
    assert status == 2 and secret not in out + err and "401" in err
