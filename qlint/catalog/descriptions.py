"""One line, in qlint's words, on what the settings that qlint's rules rely on do."""
from __future__ import annotations

DESCRIPTIONS = {
    "broker_url": "Where tasks are sent and consumed from; its scheme picks the transport (redis, amqp, sqs…).",
    "broker_transport_options": "Options of the broker transport; on Redis and SQS, visibility_timeout is how "
                                "long a delivered, unacknowledged message stays hidden before it is delivered again.",
    "result_backend": "Where task results and states are stored; unset means results are not kept.",
    "result_backend_transport_options": "Options of the result backend's connection (retry policy, key prefix…).",
    "result_expires": "How long stored results are kept; None or 0 keeps them forever.",
    "task_acks_late": "Acknowledge a task's message after it finishes instead of when it starts.",
    "task_acks_on_failure_or_timeout": "With late ack, acknowledge tasks that fail or time out (else they are re-queued).",
    "task_reject_on_worker_lost": "With late ack, re-queue a task whose worker process died while running it.",
    "task_time_limit": "Hard time limit in seconds: the pool process running the task is killed.",
    "task_soft_time_limit": "Soft time limit in seconds: SoftTimeLimitExceeded is raised inside the task.",
    "worker_prefetch_multiplier": "How many messages each worker process reserves ahead (0: no limit).",
    "worker_concurrency": "Number of pool processes (or threads) per worker; defaults to the CPU count.",
    "worker_disable_prefetch": "Reserve only as many messages as there are idle processes (Redis).",
    "worker_state_db": "File in which a worker keeps revoked task ids across restarts.",
    "task_serializer": "Format task messages are written in.",
    "result_serializer": "Format results are written in.",
    "accept_content": "Content types a worker accepts; other messages are rejected.",
    "task_always_eager": "Run tasks in the caller, synchronously, instead of sending them (tests only).",
    "task_routes": "Which queue each task is sent to.",
    "task_default_queue": "The queue of tasks that no route or option sends elsewhere.",
    "beat_schedule": "Periodic tasks that beat sends.",
    "task_annotations": "Options applied to tasks by name, as if given to their decorators.",
}
