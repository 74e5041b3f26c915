"""The findings of a broker snapshot, without a broker: what each held or queued message means."""
from __future__ import annotations

import base64
import json

from qlint.live.expectations import defaults
from qlint.live.hazards import findings
from qlint.live.redis_state import Envelope, Held, QueueState, Snapshot, envelope
from qlint.rules import all_rules

RULES = {r.code: r for r in all_rules()}
NOW = 1_800_000_000.0


def snapshot(held=(), queues=()) -> Snapshot:
    return Snapshot("", NOW, list(held), list(queues), "unacked", None, False)


def expect(seconds: float = 60):
    out = defaults()
    out.visibility, out.visibility_from = seconds, "test"
    return out


def message(**fields) -> Envelope:
    return Envelope(**{"task": "proj.work", "id": "m1", "size": 500, "routing_key": "celery", **fields})


def codes(snap: Snapshot, seconds: float = 60) -> list[tuple[str, str]]:
    return [(f.code, f.span.path) for f in findings(snap, expect(seconds), RULES)]


def test_a_held_message_is_a_finding_only_once_past_the_timeout():
    young = Held("t1", NOW - 30, message())
    old = Held("t2", NOW - 90, message(id="m2"))
    assert codes(snapshot([young])) == []
    assert codes(snapshot([young, old])) == [("QL101", "unacked[t2]")]


def test_an_eta_due_after_the_timeout_is_reported_before_it_runs_out():
    waiting = Held("t1", NOW - 10, message(eta=NOW + 3600))
    due_soon = Held("t2", NOW - 10, message(id="m2", eta=NOW + 20))
    [finding] = findings(snapshot([waiting, due_soon]), expect(), RULES)
    assert (finding.code, finding.span.path) == ("QL104", "unacked[t1]")
    assert "before it is due" in finding.message
    overdue = Held("t3", NOW - 90, message(id="m3", eta=NOW + 20))
    assert codes(snapshot([overdue])) == [("QL104", "unacked[t3]")]


def test_redelivered_messages_held_or_queued():
    held = Held("t1", NOW - 5, message(redelivered=True))
    queue = QueueState("celery", ["celery"], 1, 100, True, [("celery", message(id="m2", redelivered=True))])
    found = findings(snapshot([held], [queue]), expect(), RULES)
    assert [(f.code, f.span.path) for f in found] == [("QL101", "unacked[t1]"), ("QL101", "celery")]
    assert "running more than once" in found[0].message and "to run again" in found[1].message


def test_large_messages_are_grouped_by_key_and_task():
    big = [("bulk", message(id=f"b{i}", size=2 * 2**20)) for i in range(3)]
    queue = QueueState("bulk", ["bulk"], 3, 7 * 2**20, True, big + [("bulk", message(id="s", size=100))])
    [finding] = findings(snapshot(queues=[queue]), expect(), RULES)
    assert (finding.code, finding.span.path) == ("QL201", "bulk")
    assert finding.message.startswith("3 messages of proj.work queued in 'bulk' carry") and "6.0 MiB" in finding.message


def test_messages_are_read_without_unpickling():
    pickled = ('{"body": "gASVAAAAAAAAAAAu", "content-type": "application/x-python-serialize", '
               '"headers": {}, "properties": {"body_encoding": "base64"}}')
    read = envelope(pickled)
    assert (read.task, read.id, read.readable) == (None, None, True)
    assert not envelope(b"\x80\x04not json").readable
    # Protocol 1 keeps task, id and eta in a JSON body.
    body = base64.b64encode(json.dumps({"task": "old.task", "id": "x1", "eta": "2027-01-01T00:00:00"}).encode())
    old = envelope(json.dumps({"body": body.decode(), "content-type": "application/json", "headers": {},
                               "properties": {"body_encoding": "base64"}}))
    assert (old.task, old.id, old.eta) == ("old.task", "x1", 1798761600.0)


def test_drift_of_live_workers_from_the_project():
    from qlint.live.workers import Asked, LiveWorker, drift

    project = expect(3600)
    project.settings = {"task_acks_late": [(True, "app 'proj': settings.py:3")],
                        "worker_prefetch_multiplier": [(4, "app 'proj': Celery's default")],
                        "worker_concurrency": [(None, "app 'proj': Celery's default"), (4, "worker w: compose")]}
    project.consumed = {"celery": "worker w"}
    project.celery_releases, project.celery_versions, project.celery_from = ("5.5",), ("5.5.3",), "5.5 (5.5.3) (lock)"
    worker = LiveWorker("w1@host", concurrency=2, prefetch_count=5, queues=["celery", "reports"], celery="5.7.0",
                        conf={"task_acks_late": False, "broker_transport_options": {"visibility_timeout": 60}},
                        scheduled=[{"request": {"id": "e1"}}])
    found = {d.setting: d for d in drift([worker], project)}
    assert set(found) == {"task_acks_late", "worker_prefetch_multiplier", "visibility_timeout", "queues", "Celery"}
    assert found["Celery"].describe() == "w1@host runs Celery 5.7.0; the dependency files install 5.5 (5.5.3) (lock)"
    assert found["worker_prefetch_multiplier"].live == 2  # 5 reserved, less the ETA message, over 2 processes
    assert found["task_acks_late"].describe() == (
        "w1@host runs with task_acks_late False; the project sets True (app 'proj': settings.py:3)")
    assert found["queues"].live == "reports"
    # The shortest visibility timeout any consumer sweeps with is the one in force.
    in_force = Asked([worker], []).in_force(project)
    assert (in_force.visibility, in_force.visibility_from) == (60, "worker w1@host's broker_transport_options")


def test_reserved_messages_behind_long_running_tasks():
    from qlint.live.workers import LiveWorker, behind_long_tasks

    running = [{"id": "a", "name": "proj.report", "time_start": NOW - 7200},
               {"id": "b", "name": "proj.report", "time_start": NOW - 600}]
    reserved = [{"id": "c", "name": "proj.thumbnail"}]
    busy = LiveWorker("w1@host", concurrency=2, running=running, reserved=reserved)
    [finding] = behind_long_tasks([busy], NOW, expect(), RULES)
    assert (finding.code, finding.span.path) == ("QL401", "worker w1@host")
    assert finding.message.startswith("1 message reserved by w1@host (proj.thumbnail) waits behind its 2 processes, "
                                      "each running a task for 10 min or more")
    # A process runs a short task, or one is idle: the reserved message starts soon.
    short = LiveWorker("w2@host", concurrency=2, running=[running[0], {"id": "d", "time_start": NOW - 5}],
                       reserved=reserved)
    idle = LiveWorker("w3@host", concurrency=3, running=running, reserved=reserved)
    assert behind_long_tasks([short, idle], NOW, expect(), RULES) == []
