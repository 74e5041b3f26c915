"""Message sizes in Redis, real Celery against the reference worker: the body kombu stores
(serialized, compressed with task_compression, base64-encoded) must have the same length, and the
whole list element the same size but for the protocol headers the model leaves out. A real worker
then runs the message once, holding the same copy in `unacked`, as the replay does."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from qlint.worker.messages import Message, body_bytes, payload_text

from .conftest import replay

APP = '''
import json, os, time
from celery import Celery

app = Celery("sizetest", broker=os.environ["QLINT_BROKER"])
app.conf.update(json.loads(os.environ["QLINT_CONF"]))
LOG = os.environ["QLINT_LOG"]


@app.task(name="upload", bind=True)
def upload(self, seconds, payload):
    with open(LOG, "a") as f:
        f.write(json.dumps(["start", self.request.id, len(payload)]) + "\\n")
    time.sleep(seconds)
'''
# Protocol headers the model leaves out (shadow, origin, reply_to, stamps...: about 300 bytes) and
# argsrepr, the arguments' repr cut at 1,024 characters.
HEADERS_LEFT_OUT = 2500

CASES = {
    # (settings, payload size, payload kind)
    "json": ({}, 1024 * 1024, "random"),
    "zlib-random-5mib": ({"task_compression": "zlib"}, 5 * 1024 * 1024, "random"),
    "zlib-repeated": ({"task_compression": "zlib"}, 1024 * 1024, "repeated"),
    "bzip2-random": ({"task_compression": "bzip2"}, 1024 * 1024, "random"),
    # bytes in JSON: kombu writes them as base64 inside the JSON, base64 again in the envelope
    "json-bytes": ({}, 1024 * 1024, "bytes"),
    "pickle-bytes": ({"task_serializer": "pickle", "accept_content": ["pickle", "json"]}, 1024 * 1024, "bytes"),
    "pickle-zlib-text": ({"task_serializer": "pickle", "task_compression": "zlib",
                          "accept_content": ["application/x-python-serialize"]}, 1024 * 1024, "random"),
    # the worker accepts JSON only (the default): the message is rejected on receipt and never runs
    "pickle-refused": ({"task_serializer": "pickle"}, 1024, "bytes"),
}


def celery_sizes(tmp_path: Path, url: str, settings: dict, size: int, kind: str) -> dict:
    (tmp_path / "sizeapp.py").write_text(APP)
    log = tmp_path / "runs.log"
    env = {**os.environ, "QLINT_BROKER": url, "QLINT_CONF": json.dumps(settings), "QLINT_LOG": str(log),
           "PYTHONPATH": str(tmp_path), "C_FORCE_ROOT": "1"}  # a worker accepting pickle refuses to run as root
    client = redis.Redis.from_url(url)
    payload = payload_text(size, kind)
    (tmp_path / "payload").write_bytes(payload if isinstance(payload, bytes) else payload.encode())
    read = "open(sys.argv[1], 'rb').read()" + ("" if isinstance(payload, bytes) else ".decode()")
    published = subprocess.run(
        [sys.executable, "-c", "import sys, sizeapp\n"
         f"sizeapp.app.send_task('upload', args=[2, {read}], task_id='u')\n",
         str(tmp_path / "payload")], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert published.returncode == 0, published.stderr
    element = client.lindex("celery", 0)
    out = {"element": len(element), "body": len(json.loads(element)["body"])}
    with open(tmp_path / "worker.log", "w") as log_out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "sizeapp", "worker", "-c", "1", "-P", "prefork",
             "--without-mingle", "--without-gossip", "--without-heartbeat", "-l", "INFO", "-n", "w1@%h"],
            cwd=tmp_path, env=env, stdout=log_out, stderr=subprocess.STDOUT)
        try:
            for _ in range(400):
                if log.exists() or "Refusing to deserialize" in (tmp_path / "worker.log").read_text():
                    break
                if worker.poll() is not None:
                    pytest.fail("celery worker exited:\n" + (tmp_path / "worker.log").read_text())
                time.sleep(0.05)
            held = client.hvals("unacked")
            out["unacked"] = sum(len(v) for v in held)
            out["queued"] = client.llen("celery")
            time.sleep(2.5)
        finally:
            worker.send_signal(signal.SIGQUIT)
            worker.wait(30)
    out["runs"] = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    out["left"] = client.llen("celery") + client.hlen("unacked")
    return out


def model_sizes(settings: dict, size: int, kind: str) -> tuple[dict, object]:
    scenario = {
        "settings": {**settings, "broker_url": "redis://localhost/0"},
        "workers": [{"name": "w1", "concurrency": 1, "without_mingle": True}],
        "tasks": {"upload": {"duration": 2, "payload_bytes": size, "payload_kind": kind}},
        "submit": [{"at": 0, "task": "upload", "id": "u", "args": [2]}],
        "until": 10,
    }
    trace = replay(json.dumps(scenario))
    publish = next(e for e in trace.events if e.kind == "publish")
    return {"element": int(publish.detail.rsplit(", ", 1)[1].split()[0].replace(",", ""))}, trace


@pytest.mark.parametrize("name", list(CASES))
def test_message_size_matches_celery(name, redis_url, tmp_path):
    settings, size, kind = CASES[name]
    settings = {**settings, "task_acks_late": True}  # held in unacked for the whole run
    url = redis_url.rsplit("/", 1)[0] + f"/{6 + list(CASES).index(name)}"  # test_differential.py uses 1-5
    redis.Redis.from_url(url).flushdb()
    real = celery_sizes(tmp_path, url, settings, size, kind)
    model, trace = model_sizes(settings, size, kind)
    message = Message("u", "upload", [2], 0.0, tag="tag-u", padding=size, payload_kind=kind,
                      compression=settings.get("task_compression"), serializer=settings.get("task_serializer", "json"))
    assert 4 * -(-body_bytes(message) // 3) == real["body"], "the base64 body differs in length"
    assert 0 <= real["element"] - model["element"] <= HEADERS_LEFT_OUT, (real, model)
    assert real["queued"] == 0 and real["left"] == 0 and trace.broker_bytes_end == 0
    if name == "pickle-refused":
        assert real["runs"] == [] and trace.executions == [] and trace.summary()["lost_ids"] == ["u"]
        return
    # While the worker runs it, the message sits in unacked (with its exchange and routing key) and
    # not in the queue; the model holds the same one copy at its peak.
    assert 0 <= real["unacked"] - trace.broker_bytes_peak <= HEADERS_LEFT_OUT + 50
    # One run, with the whole payload, in both.
    assert [(kind_, mid, n) for kind_, mid, n in real["runs"]] == [("start", "u", size)]
    assert [(e.id, e.outcome) for e in trace.executions] == [("u", "success")]
