"""Real time: the reference worker on a real Redis server with real child processes, each
replay a `qlint simulate --real` process of its own (conftest.replay_real)."""
from __future__ import annotations

from pathlib import Path

import redis

from qlint.cli import main
from tests.worker.conftest import replay_real

FAST = "broker_transport_options: {visibility_timeout: %s, unacked_restore_interval: 1, unacked_restore_throttle: 1}"


def test_incident_on_real_redis(redis_url, tmp_path):
    trace = replay_real(f"""
settings: {{task_acks_late: true, task_time_limit: 86400, {FAST % 4}}}
workers:
  - {{name: w1, concurrency: 1, prefetch_multiplier: 1}}
  - {{name: w2, concurrency: 1, prefetch_multiplier: 1}}
  - {{name: w3, concurrency: 1, prefetch_multiplier: 1}}
tasks: {{reports.build: {{duration: 14}}, uploads.process: {{duration: 1}}}}
submit: [{{at: 0, task: reports.build, id: report}}, {{at: 9, task: uploads.process, count: 2}}]
until: 24
""", redis_url, tmp_path, 0.25)
    report = [e for e in trace.executions if e.id == "report"]
    assert {e.worker for e in report} == {"w1", "w2", "w3"}
    assert all(e.redelivered for e in report[1:])
    assert trace.summary["max_queue_wait"] >= 4  # uploads wait behind the copies


def test_kill_fault_early_vs_late_ack(redis_url, tmp_path):
    text = f"""
settings: {{task_acks_late: %s, {FAST % 3}}}
workers: [{{name: w1, concurrency: 1, without_mingle: true}}]
tasks: {{charge: {{duration: 1.5}}}}
submit: [{{at: 0, task: charge, id: m}}]
faults: [{{at: 1, kill: w1}}, {{at: 1.5, restart: w1}}]
until: 10
"""
    early = replay_real(text % "false", redis_url, tmp_path, 0.2)
    assert [e.outcome for e in early.executions] == ["worker-lost"]
    assert early.summary["lost_ids"] == ["m"]
    late = replay_real(text % "true", redis_url, tmp_path, 0.2)
    assert [e.outcome for e in late.executions] == ["worker-lost", "success"]
    assert late.executions[1].redelivered and late.executions[1].start >= 3


def test_hard_time_limit_kills_the_real_process(redis_url, tmp_path):
    trace = replay_real("""
settings: {task_acks_late: true}
workers: [{name: w1}]
tasks: {stuck: {duration: 30, time_limit: 1}}
submit: [{at: 0, task: stuck, id: m}]
until: 4
""", redis_url, tmp_path, 0.2)
    assert trace.executions[0].outcome == "time-limit"
    assert trace.executions[0].end - trace.executions[0].start < 30


def test_revoke_and_terminate_on_real_processes(redis_url, tmp_path):
    trace = replay_real("""
settings: {}
workers: [{name: w1, concurrency: 1, without_mingle: true}]
tasks: {export: {duration: 20}}
submit: [{at: 0, task: export, id: running}, {at: 0, task: export, id: queued}]
faults: [{at: 1, revoke: queued}, {at: 2, revoke: running, terminate: true}]
until: 6
""", redis_url, tmp_path, 0.2)
    assert [(e.id, e.outcome) for e in trace.executions] == [("running", "terminated")]
    assert any(e.kind == "discard" and e.message == "queued" for e in trace.events)
    client = redis.Redis.from_url(redis_url)
    assert client.llen("qlint:celery") == 0 and client.hlen("qlint:unacked") == 0


def test_real_callables_and_chain_results(redis_url, tmp_path):
    (tmp_path / "jobs.py").write_text(
        "import os\n"
        "def build():\n    return os.getpid()\n"
        "def notify(pid, team):\n    return f'{team}:{pid}'\n")
    trace = replay_real("""
settings: {}
workers: [{name: w1, concurrency: 1}]
tasks:
  build: {call: "jobs:build"}
  notify: {call: "jobs:notify"}
submit: [{at: 0, chain: [{task: build}, {task: notify, args: [ops]}]}]
until: 3
""", redis_url, tmp_path, 0.2)
    build, notify = trace.executions
    assert (build.outcome, notify.outcome) == ("success", "success")
    assert isinstance(notify.args[0], int) and notify.args[1] == "ops"


def test_cli_real_mode_and_payload_size(redis_url, tmp_path):
    trace = replay_real(f"""
settings: {{task_acks_late: true, {FAST % 1}}}
workers: [{{name: w1}}]
tasks: {{t: {{duration: 3, payload_bytes: 30000}}}}
submit: [{{at: 0, task: t, id: m}}]
until: 1.5
""", redis_url, tmp_path, 0.2)
    assert trace.mode == "real" and trace.executions[0].id == "m"
    assert trace.summary["broker_bytes_peak"] >= 40000  # base64 inside the envelope: ~4/3


def test_cli_real_mode_unreachable_broker(tmp_path, capsys):
    path = Path(__file__).resolve().parents[2] / "examples" / "scenarios" / "revoke-running-bad.yaml"
    assert main(["simulate", str(path), "--real", "--broker", "redis://127.0.0.1:1/0"]) == 2
    assert "cannot reach Redis" in capsys.readouterr().err
