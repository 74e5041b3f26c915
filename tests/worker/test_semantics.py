"""Virtual-time tests: one per delivery semantic of the reference worker."""
from __future__ import annotations

from .conftest import replay, runs

REDIS = 'broker_url: "redis://localhost:6379/0"'


def test_restore_sweep_redelivers_late_ack_task_to_head_flagged_redelivered():
    trace = replay(f"""
settings: {{{REDIS}, task_acks_late: true,
           broker_transport_options: {{visibility_timeout: 5, unacked_restore_interval: 1, unacked_restore_throttle: 1}}}}
workers: [{{name: w1, concurrency: 2, without_mingle: true}}]
tasks: {{long: {{duration: 15}}}}
submit: [{{at: 0, task: long, id: m}}]
until: 40
""")
    starts = [e.start for e in trace.executions]
    # pushed back after 5 s, rerun at once on the idle slot; the copy is pushed back
    # again 5 s later and waits for a slot; the first run's ack at 15 s clears the tag.
    assert starts == [0, 5, 15]
    assert [d.redelivered for d in trace.deliveries] == [False, True, True]


def test_default_sweep_period_misses_a_short_window():
    trace = replay(f"""
settings: {{{REDIS}, task_acks_late: true, broker_transport_options: {{visibility_timeout: 5}}}}
workers: [{{name: w1, concurrency: 2}}]
tasks: {{long: {{duration: 15}}}}
submit: [{{at: 1, task: long, id: m}}]
until: 60
""")
    assert runs(trace, "m") == 1  # sweeps at 0 and 100 s only


def test_new_worker_sweeps_at_start():
    trace = replay(f"""
settings: {{{REDIS}, task_acks_late: true, broker_transport_options: {{visibility_timeout: 5}}}}
workers: [{{name: w1, concurrency: 1, prefetch_multiplier: 1}}, {{name: w2, concurrency: 1, start: 8}}]
tasks: {{long: {{duration: 15}}}}
submit: [{{at: 1, task: long, id: m}}]
until: 60
""")
    # w2's start-up sweep pushes m back at 8 s; w2 takes it once mingle's one-second wait is over
    assert [(e.worker, e.start) for e in trace.executions] == [("w1", 1), ("w2", 9)]


def test_restored_message_jumps_the_queue_but_requeue_goes_to_the_tail():
    trace = replay(f"""
settings: {{{REDIS}, task_acks_late: true, task_acks_on_failure_or_timeout: false, worker_prefetch_multiplier: 1,
           broker_transport_options: {{visibility_timeout: 5, unacked_restore_interval: 1, unacked_restore_throttle: 1}}}}
workers: [{{name: w1, concurrency: 1}}]
tasks: {{slow: {{duration: 10, time_limit: 3}}, quick: {{duration: 1}}}}
submit: [{{at: 0, task: slow, id: s}}, {{at: 1, task: quick, id: q1}}, {{at: 1, task: quick, id: q2}}]
until: 9
""")
    # the hard limit at 3 s rejects with requeue: the slow task goes behind q1 and q2
    assert [e.id for e in trace.executions][:4] == ["s", "q1", "q2", "s"]
    assert trace.executions[0].outcome == "time-limit"


def test_prefetched_message_waits_behind_a_long_task_with_early_ack():
    trace = replay(f"""
settings: {{{REDIS}}}
workers: [{{name: w1, concurrency: 1}}, {{name: w2, concurrency: 1, start: 1}}]
tasks: {{long: {{duration: 100}}, short: {{duration: 1}}}}
submit: [{{at: 0, task: long, id: L}}, {{at: 2, task: short, count: 6}}]
""")
    assert trace.summary()["max_queue_wait"] >= 90
    fixed = replay(f"""
settings: {{{REDIS}, worker_prefetch_multiplier: 1, task_acks_late: true}}
workers: [{{name: w1, concurrency: 1}}, {{name: w2, concurrency: 1, start: 1}}]
tasks: {{long: {{duration: 100}}, short: {{duration: 1}}}}
submit: [{{at: 0, task: long, id: L}}, {{at: 2, task: short, count: 6}}]
""")
    assert fixed.summary()["max_queue_wait"] <= 10


def test_prefetch_zero_is_unlimited_and_tasks_go_only_to_idle_slots():
    trace = replay(f"""
settings: {{{REDIS}, worker_prefetch_multiplier: 0}}
workers: [{{name: w1, concurrency: 2}}, {{name: w2, concurrency: 1, start: 1}}]
tasks: {{t: {{duration: 10}}}}
submit: [{{at: 0, task: t, count: 8}}]
until: 100
""")
    assert {d.worker for d in trace.deliveries} == {"w1"}  # w1 reserved everything first
    per_slot: dict[int, list[tuple[float, float]]] = {}
    for e in trace.executions:
        per_slot.setdefault(e.slot, []).append((e.start, e.end))
    for spans in per_slot.values():  # never two runs at once in one slot
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_eta_message_held_without_a_slot_and_doubled_by_a_sweep():
    trace = replay(f"""
settings: {{{REDIS}}}
workers: [{{name: w1, concurrency: 1, prefetch_multiplier: 1}}]
tasks: {{later: {{duration: 1}}, now: {{duration: 1}}}}
submit: [{{at: 0, task: later, id: e, countdown: 7200}}, {{at: 10, task: now, id: n}}]
until: 8000
""")
    assert trace.executions[0].id == "n" and trace.executions[0].start == 10  # no slot used by the ETA
    assert runs(trace, "e") == 2
    # Two timer entries: the first delivery's and the restored copy's; only the copy is redelivered.
    assert [(x.id, x.redelivered) for x in trace.executions[1:]] == [("e", False), ("e", True)]
    assert [(d.id, d.redelivered) for d in trace.deliveries] == [("e", False), ("n", False), ("e", True)]
    fixed = replay(f"""
settings: {{{REDIS}, broker_transport_options: {{visibility_timeout: 20000}}}}
workers: [{{name: w1, concurrency: 1}}]
tasks: {{later: {{duration: 1}}}}
submit: [{{at: 0, task: later, id: e, countdown: 7200}}]
until: 8000
""")
    assert runs(fixed, "e") == 1


KILL = """
settings: {{{redis}, task_acks_late: {late}, task_reject_on_worker_lost: {reject}}}
workers: [{{name: w1, concurrency: 1}}]
tasks: {{t: {{duration: 600}}}}
submit: [{{at: 0, task: t, id: m}}]
faults: [{{at: 60, kill: "{target}"}}, {{at: 120, restart: w1}}]
until: 5000
"""


def test_worker_killed_early_ack_loses_the_task():
    trace = replay(KILL.format(redis=REDIS, late="false", reject="false", target="w1"))
    assert runs(trace, "m") == 1 and trace.summary()["lost_ids"] == ["m"]


def test_worker_killed_late_ack_waits_for_visibility_timeout():
    trace = replay(KILL.format(redis=REDIS, late="true", reject="false", target="w1"))
    second = trace.executions[1]
    assert second.redelivered and 3600 <= second.start <= 3600 + 100
    assert trace.summary()["lost"] == 0


def test_child_killed_late_ack_acks_unless_reject_on_worker_lost():
    acked = replay(KILL.format(redis=REDIS, late="true", reject="false", target="w1/1"))
    assert runs(acked, "m") == 1 and acked.executions[0].outcome == "worker-lost"
    requeued = replay(KILL.format(redis=REDIS, late="true", reject="true", target="w1/1"))
    assert requeued.executions[1].start == 60 and requeued.executions[1].redelivered


def test_failure_with_acks_on_failure_false_rejects_without_requeue():
    trace = replay(f"""
settings: {{{REDIS}, task_acks_late: true, task_acks_on_failure: false}}
workers: [{{name: w1}}]
tasks: {{t: {{duration: 5, fails: true}}}}
submit: [{{at: 0, task: t, id: m}}]
until: 500
""")
    assert runs(trace, "m") == 1 and trace.summary()["pending_at_end"] == []


def test_hard_limit_without_ack_on_timeout_reruns_forever():
    trace = replay(f"""
settings: {{{REDIS}, task_acks_late: true, task_acks_on_timeout: false, task_time_limit: 4}}
workers: [{{name: w1}}]
tasks: {{t: {{duration: 60}}}}
submit: [{{at: 0, task: t, id: m}}]
until: 41
""")
    assert runs(trace, "m") == 11
    assert {e.outcome for e in trace.executions[:-1]} == {"time-limit"}


def test_soft_limit_fails_the_task_before_the_hard_limit():
    trace = replay(f"""
settings: {{{REDIS}, task_soft_time_limit: 5, task_time_limit: 10}}
workers: [{{name: w1}}]
tasks: {{t: {{duration: 60}}, u: {{duration: 60, soft_time_limit: 20}}}}
submit: [{{at: 0, task: t, id: a}}, {{at: 0, task: u, id: b}}]
until: 100
""")
    assert [(e.id, e.end - e.start, e.outcome) for e in trace.executions] == [
        ("a", 5, "soft-time-limit"), ("b", 10, "time-limit")]


REVOKE = """
settings: {{{redis}}}
workers: [{{name: w1, statedb: {statedb}}}]
tasks: {{t: {{duration: 30}}}}
submit: [{{at: 0, task: t, id: m, countdown: 600}}]
faults: [{{at: 10, revoke: m}}, {{at: 20, {how}: w1}}, {{at: 30, restart: w1}}]
until: 5000
"""


def test_revoke_is_lost_on_restart_without_statedb():
    assert runs(replay(REVOKE.format(redis=REDIS, statedb="null", how="stop")), "m") == 1
    kept = replay(REVOKE.format(redis=REDIS, statedb="/tmp/w1.db", how="stop"))
    assert runs(kept, "m") == 0 and kept.summary()["revoked"] == ["m"]


def test_statedb_is_written_at_clean_exit_only():
    trace = replay(REVOKE.format(redis=REDIS, statedb="/tmp/w1.db", how="kill"))
    # the held message waits for the visibility timeout, then runs: the revoke died with the process
    assert runs(trace, "m") == 1


def test_revoke_checked_at_receipt_and_mingle_copies_peers():
    trace = replay(f"""
settings: {{{REDIS}}}
workers: [{{name: w1, prefetch_multiplier: 1}}, {{name: w2, start: 50}}]
tasks: {{t: {{duration: 100}}}}
submit: [{{at: 0, task: t, id: a}}, {{at: 1, task: t, id: b}}, {{at: 1, task: t, id: c}}]
faults: [{{at: 5, revoke: c}}]
until: 400
""")
    assert runs(trace, "a") == 1 and runs(trace, "b") == 1 and runs(trace, "c") == 0
    assert any(e.kind == "discard" and e.message == "c" and e.worker == "w2" for e in trace.events)


def test_revoke_terminate_kills_the_running_process():
    base = """
settings: {{{redis}}}
workers: [{{name: w1, without_mingle: true}}]
tasks: {{t: {{duration: 300}}}}
submit: [{{at: 0, task: t, id: m}}]
faults: [{{at: 30, revoke: m, terminate: {terminate}}}]
until: 600
"""
    plain = replay(base.format(redis=REDIS, terminate="false"))
    assert (plain.executions[0].end, plain.executions[0].outcome) == (300, "success")
    killed = replay(base.format(redis=REDIS, terminate="true"))
    assert (killed.executions[0].end, killed.executions[0].outcome) == (30, "terminated")


def test_chain_passes_parent_result_to_mutable_signatures_only():
    text = """
settings: {{{redis}}}
workers: [{{name: w1, concurrency: 2, without_mingle: true}}]
tasks: {{a: {{duration: 1, returns: 42}}, b: {{duration: 1}}, c: {{duration: 1, fails: true}}, d: {{duration: 1}}}}
submit:
  - {{at: 0, chain: [{{task: a}}, {{task: b, args: [x], immutable: {immutable}}}]}}
  - {{at: 0, chain: [{{task: c}}, {{task: d}}]}}
"""
    mutable = replay(text.format(redis=REDIS, immutable="false"))
    assert [e.args for e in mutable.executions if e.task == "b"] == [[42, "x"]]
    assert not [e for e in mutable.executions if e.task == "d"]  # parent failed
    immutable = replay(text.format(redis=REDIS, immutable="true"))
    b = [e for e in immutable.executions if e.task == "b"]
    assert b[0].args == ["x"] and b[0].start == 1  # still waits for its parent


def test_chord_body_waits_for_every_header_task():
    trace = replay(f"""
settings: {{{REDIS}}}
workers: [{{name: w1, concurrency: 3}}]
tasks: {{part: {{duration: {{min: 1, max: 9}}, returns: 1}}, total: {{duration: 1}}}}
submit: [{{at: 0, chord: {{header: [{{task: part}}, {{task: part}}, {{task: part}}], body: {{task: total}}}}}}]
until: 100
""")
    parts = [e for e in trace.executions if e.task == "part"]
    body = [e for e in trace.executions if e.task == "total"]
    assert len(body) == 1 and body[0].start == max(p.end for p in parts)
    assert body[0].args == [[1, 1, 1]]


def test_amqp_consumer_timeout_closes_channel_and_requeues():
    trace = replay("""
settings: {broker_url: "amqp://guest@localhost//", task_acks_late: true}
workers: [{name: w1, concurrency: 2}]
tasks: {t: {duration: 3000}}
submit: [{at: 0, task: t, id: m}]
until: 4000
""")
    # delivered once mingle is over (1 s); the channel closes 1800 s later, and the consumer's restart
    # mingles again before it consumes
    assert [e.start for e in trace.executions] == [1, 1802]
    assert any(e.kind == "channel-closed" for e in trace.events)


def test_sqs_visibility_timeout_is_per_message():
    trace = replay("""
settings: {broker_url: "sqs://", task_acks_late: true}
workers: [{name: w1, concurrency: 2}]
tasks: {t: {duration: 2000}}
submit: [{at: 7, task: t, id: m}]
until: 3000
""")
    assert [e.start for e in trace.executions] == [7, 1807]


def test_payload_size_is_about_four_thirds_of_the_arguments():
    trace = replay(f"""
settings: {{{REDIS}, task_acks_late: true}}
workers: [{{name: w1}}]
tasks: {{t: {{duration: 10, payload_bytes: 3000000}}}}
submit: [{{at: 0, task: t, count: 2}}]
until: 50
""")
    peak = trace.summary()["broker_bytes_peak"]
    assert 8_000_000 <= peak <= 8_100_000  # two messages of ~4 MB, one queued and one unacked


def test_seed_makes_sampled_durations_repeatable():
    text = f"""
settings: {{{REDIS}}}
workers: [{{name: w1, concurrency: 2}}]
tasks: {{t: {{duration: {{min: 1, max: 100}}}}}}
submit: [{{at: 0, task: t, count: 5}}]
seed: {{seed}}
"""
    first = [e.end for e in replay(text.replace("{seed}", "1")).executions]
    assert first == [e.end for e in replay(text.replace("{seed}", "1")).executions]
    assert first != [e.end for e in replay(text.replace("{seed}", "2")).executions]


def test_bytes_held_follow_every_push_pop_restore_and_ack():
    """The memory store keeps a running total: it must equal the sizes of what it holds."""
    from qlint.worker.broker import MemoryStore, Unacked
    from qlint.worker.messages import Message

    store = MemoryStore()
    a, b = Message("a", "t", ["x" * 100], 0, "tag-a"), Message("b", "t", [], 0, "tag-b")
    held = lambda: sum(m.size for m in store.queue) + sum(e.message.size for e in store.unacked.values())  # noqa: E731
    store.push_tail(a)
    store.push_tail(b)
    assert store.bytes_held() == held() == a.size + b.size
    popped = store.pop_head()
    store.add_unacked(Unacked(popped, 0, "w1", 1))
    store.add_unacked(Unacked(popped, 5, "w2", 2))  # a redelivered copy replaces the entry of its tag
    store.push_head(popped)
    assert store.bytes_held() == held() == 2 * a.size + b.size
    store.remove_unacked("tag-a")
    store.remove_unacked("tag-a")
    assert store.pop_head() is a and store.bytes_held() == held() == b.size


def test_incident_memory_figures_match_what_the_store_holds():
    trace = replay(f"""
settings: {{{REDIS}, task_acks_late: true}}
workers: [{{name: w1}}, {{name: w2}}]
tasks: {{long: {{duration: 9000, payload_bytes: 1000}}, short: {{duration: 60}}}}
submit: [{{at: 0, task: long, id: r}}, {{at: 100, task: short, count: 5, every: 600}}]
until: 20000
""")
    assert trace.broker_bytes_end == 0 and trace.broker_bytes_peak > 1000 * 4 // 3


def test_redis_serves_the_oldest_pending_brpop_and_a_full_window_sends_none():
    """kombu's BRPOP times out after 1 s and is sent again at once; a worker whose prefetch
    window is full sends none until it has room. Redis hands a message to the client whose
    pending BRPOP was sent first: the phase of its one-second cycle decides, not how long
    it has been idle."""
    def first_worker_of(at: float) -> str:
        trace = replay(f"""
settings: {{{REDIS}, task_acks_late: true}}
workers: [{{name: w1, concurrency: 1, prefetch_multiplier: 1}}, {{name: w2, concurrency: 1, start: 5}}]
tasks: {{long: {{duration: 10.5}}, short: {{duration: 1}}}}
submit: [{{at: 0, task: long, id: a}}, {{at: {at}, task: short, id: b}}]
until: 30
""")
        return next(e.worker for e in trace.executions if e.id == "b")
    # w1 is full until 10.5 s, then its BRPOPs go out at 10.5, 11.5, 12.5...; w2's at 5, 6, ..., 12.
    assert first_worker_of(12.2) == "w1"  # w1's pending BRPOP (11.5) is older than w2's (12.0)
    assert first_worker_of(12.7) == "w2"  # w2's (12.0) is older than w1's (12.5)
    assert first_worker_of(8) == "w2"  # w1 sends no BRPOP while its one-message window is full


def test_warm_shutdown_gives_back_what_the_worker_held_in_order():
    """A stop waits for the running task, then restores every held message at once (not
    after the visibility timeout), to the head of the queue in the order delivered."""
    trace = replay(f"""
settings: {{{REDIS}}}
workers: [{{name: w1, concurrency: 1, without_mingle: true}},
          {{name: w2, concurrency: 1, start: 200, without_mingle: true}}]
tasks: {{long: {{duration: 100}}, short: {{duration: 1}}}}
submit: [{{at: 0, task: long, id: a}}, {{at: 1, task: short, id: t2}}, {{at: 2, task: short, id: t10}},
         {{at: 3, task: short, id: t3}}]
faults: [{{at: 10, stop: w1}}]
until: 400
""")
    restores = [(e.at, e.message) for e in trace.events if e.kind == "restore"]
    assert restores == [(100, "t3"), (100, "t10"), (100, "t2")]  # pushed to the head, last delivered first
    assert [(e.id, e.worker, e.start, e.redelivered) for e in trace.executions[1:]] == [
        ("t2", "w2", 200, True), ("t10", "w2", 201, True), ("t3", "w2", 202, True)]
    assert [e.id for e in trace.executions[:1]] == ["a"] and trace.executions[0].outcome == "success"


def test_a_timed_out_late_ack_task_is_requeued_from_5_5_and_dropped_before():
    """Request.on_failure: with task_acks_on_failure_or_timeout=False, Celery 5.5 and later reject
    a task killed by its hard limit with requeue (it runs again, forever); up to 5.4 the reject
    has no requeue, and the message is gone."""
    def scenario(release: str) -> str:
        return f"""
celery: "{release}"
settings: {{{REDIS}, task_acks_late: true, task_acks_on_failure_or_timeout: false}}
workers: [{{name: w1, concurrency: 1}}]
tasks: {{slow: {{duration: 10, time_limit: 3}}}}
submit: [{{at: 0, task: slow, id: s}}]
until: 12
"""
    looping = replay(scenario("5.5"))
    assert [e.outcome for e in looping.executions][:3] == ["time-limit"] * 3
    dropped = replay(scenario("5.4"))
    assert [(e.id, e.outcome) for e in dropped.executions] == [("s", "time-limit")]


MINGLE = """
settings: {{broker_url: "{broker}"}}
workers: [{{name: w1, concurrency: 1, start: 5{without}}}]
tasks: {{t: {{duration: 2}}}}
submit: [{{at: 0, task: t, id: m}}]
until: 20
"""


def test_mingle_waits_a_second_after_the_start_up_sweep():
    """celery/worker/consumer/mingle.py: a worker on Redis or RabbitMQ asks its peers for their revoked
    ids and waits 1 s for replies before it consumes; --without-mingle consumes at once, and SQS has no
    mingle (Mingle.compatible_transports)."""
    def first_run(broker: str, without: str = "") -> float:
        trace = replay(MINGLE.format(broker=broker, without=without))
        return trace.executions[0].start

    assert first_run("redis://localhost/0") == 6
    assert first_run("redis://localhost/0", ", without_mingle: true") == 5
    assert first_run("amqp://guest@localhost//") == 6
    assert first_run("sqs://") == 5
    trace = replay(MINGLE.format(broker="redis://localhost/0", without=""))
    assert [(e.at, e.kind, e.detail) for e in trace.events if e.worker == "w1"][:2] == [
        (5, "start", "concurrency 1, prefetch 4, 0 revoked id(s) known; "
                     "mingle: waits 1s for its peers' replies before consuming"),
        (6, "mingle", "all alone, 0 revoked id(s) known: consuming")]


def test_a_worker_without_mingle_copies_no_revoked_ids():
    trace = replay(f"""
settings: {{{REDIS}}}
workers: [{{name: w1, prefetch_multiplier: 1}}, {{name: w2, start: 50, without_mingle: true}}]
tasks: {{t: {{duration: 100}}}}
submit: [{{at: 0, task: t, id: a}}, {{at: 1, task: t, id: b}}, {{at: 1, task: t, id: c}}]
faults: [{{at: 5, revoke: c}}]
until: 400
""")
    assert runs(trace, "c") == 1 and [e.worker for e in trace.executions if e.id == "c"] == ["w2"]


def test_a_revoke_sent_while_a_worker_mingles_is_not_heard_by_it():
    """Its Control step (the broadcast consumer) starts after mingle, and its peers replied before the
    revoke: the id reaches w1 only, and w2, which takes the message (w1's window is full), runs it."""
    def runs_of_x(revoke_at: float) -> list[str]:
        trace = replay(f"""
settings: {{{REDIS}, worker_prefetch_multiplier: 1, task_acks_late: true}}
workers: [{{name: w1, concurrency: 1, without_mingle: true}}, {{name: w2, concurrency: 1, start: 10}}]
tasks: {{t: {{duration: 100}}}}
submit: [{{at: 0, task: t, id: busy}}, {{at: 12, task: t, id: x}}]
faults: [{{at: {revoke_at}, revoke: x}}]
until: 300
""")
        return [e.worker for e in trace.executions if e.id == "x"]

    assert runs_of_x(9) == []  # heard by w1, copied by w2 at its mingle
    assert runs_of_x(10.5) == ["w2"]  # sent during w2's mingle
    assert runs_of_x(11.5) == []  # w2 listens from the end of its mingle (11 s)


def test_mingle_gives_peers_the_revoked_ids_a_worker_kept_in_its_state_db():
    """control.hello: each peer merges the revoked ids the starting worker sends. w1 saved the revoke in
    its state db; w2 started while w1 was down and never heard it; w1's mingle at its restart tells it."""
    def runs_of_x(w1: str) -> int:
        return runs(replay(f"""
settings: {{{REDIS}, worker_prefetch_multiplier: 1}}
workers: [{{name: w1, concurrency: 1, statedb: /tmp/w1.db{w1}}}, {{name: w2, concurrency: 1, start: 25}}]
tasks: {{t: {{duration: 100}}}}
submit: [{{at: 40, task: t, id: x}}]
faults: [{{at: 10, revoke: x}}, {{at: 20, stop: w1}}, {{at: 30, restart: w1}}, {{at: 35, kill: w1}}]
until: 300
"""), "x")

    assert runs_of_x("") == 0
    assert runs_of_x(", without_mingle: true") == 1


def test_a_copy_failed_by_deduplication_without_a_backend_calls_its_errbacks():
    """trace_task: the AttributeError of asking DisabledBackend is handled by on_error, whose
    mark_as_failure calls the errbacks, before the worker acks the copy."""
    trace = replay(f"""
settings: {{{REDIS}, task_acks_late: true, worker_deduplicate_successful_tasks: true,
           broker_transport_options: {{visibility_timeout: 3, unacked_restore_interval: 1, unacked_restore_throttle: 1}}}}
workers: [{{name: w1, concurrency: 2, without_mingle: true}}]
tasks: {{sleep: {{duration: 7}}, on_error: {{duration: 0, params: 1}}}}
submit: [{{at: 0, task: sleep, id: m, link_error: {{task: on_error}}}}]
until: 14
""")
    kinds = [(e.at, e.kind) for e in trace.events if e.message == "m" and e.kind in ("dedupe-error", "errback")]
    assert kinds == [(3, "dedupe-error"), (3, "errback")]
    assert [(e.task, e.args, e.start) for e in trace.executions] == [("sleep", [], 0), ("on_error", ["m"], 3)]


def test_an_errback_called_in_the_main_process_stops_the_whole_worker():
    """After a hard limit the main process calls an errback taking (request, exc, traceback) twice
    (Request.on_failure, then Request.on_timeout): meanwhile it takes no message, even for its idle
    process. Observed with Celery 5.7, -c 2: y, published at 2 s, ran at 5.25 s."""
    trace = replay(f"""
settings: {{{REDIS}, task_time_limit: 1}}
workers: [{{name: w1, concurrency: 2, without_mingle: true}}]
tasks: {{bad: {{duration: 10}}, short: {{duration: 0.5}}, on_err: {{duration: 2, params: 3}}}}
submit: [{{at: 0, task: bad, id: a, link_error: {{task: on_err}}}}, {{at: 0, task: short, id: x}},
         {{at: 2, task: short, id: y}}]
until: 8
""")
    assert [(e.at, e.kind, e.worker) for e in trace.events if e.kind.startswith("errback")] == [
        (1, "errback", "w1"), (3, "errback-end", "w1"), (3, "errback", "w1"), (5, "errback-end", "w1")]
    assert [(e.id, e.start) for e in trace.executions] == [("a", 0), ("x", 0), ("y", 5)]
    assert [(d.id, d.at) for d in trace.deliveries if d.id == "y"] == [("y", 5)]


def test_an_errback_called_in_the_pool_process_holds_its_slot_only():
    """A task that raises: its pool process calls the errback, the other process goes on taking tasks,
    and a late-acked message is acked once the errback returns."""
    text = f"""
settings: {{{REDIS}, task_acks_late: true}}
workers: [{{name: w1, concurrency: 2, without_mingle: true}}]
tasks: {{bad: {{duration: 1, fails: true}}, short: {{duration: 0.5}}, on_err: {{duration: 2, params: 3}}}}
submit: [{{at: 0, task: bad, id: a, link_error: {{task: on_err}}}}, {{at: 0, task: short, count: 4}}]
until: %s
"""
    trace = replay(text % 8)
    assert [(e.id, e.worker, e.slot, e.start) for e in trace.executions] == [
        ("a", "w1", 1, 0), ("t1", "w1", 2, 0), ("t2", "w1", 2, 0.5), ("t3", "w1", 2, 1), ("t4", "w1", 2, 1.5)]
    assert "a" in replay(text % 2.5).pending_at_end  # still unacked while its errback runs
    assert "a" not in replay(text % 3.5).pending_at_end
