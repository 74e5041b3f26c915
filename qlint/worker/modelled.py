"""What the reference worker models, setting by setting.

A scenario's `settings:` may name only the Celery settings the replay reads, and inside
`broker_transport_options` only the options it reads. Any other key would be accepted and
then change nothing in the replay where Celery acts on it, so it is refused by name. Settings
a project brings (`project:`) that the replay does not read are listed in its notes instead.
tests/worker/test_modelled.py holds this table to the scenario schema and Celery's catalog:
each key here must change a replay, and every other setting must be refused.
"""
from __future__ import annotations

from typing import Any

from qlint import catalog
from qlint.catalog import releases as catalog_releases

# Each setting the replay reads, and what it decides there.
MODELLED_SETTINGS: dict[str, str] = {
    "broker_url": "which broker's delivery rules apply (Redis, SQS or RabbitMQ)",
    "broker_transport_options": "the visibility timeout and the timing of Redis restore sweeps",
    "task_acks_late": "ack when the run ends rather than when a process accepts it",
    "task_acks_on_failure_or_timeout": "ack or reject a late-acked message whose run failed or timed out",
    "task_acks_on_failure": "ack or reject a late-acked message whose run failed (Celery 5.7)",
    "task_acks_on_timeout": "ack or reject a late-acked message whose run hit its hard limit (Celery 5.7)",
    "task_reject_on_worker_lost": "requeue a late-acked message whose process was killed",
    "task_retry_on_worker_lost": "Celery 5.7: a run whose process was killed is sent again after default_retry_delay",
    "task_time_limit": "the hard limit: the process is killed",
    "task_soft_time_limit": "the soft limit: SoftTimeLimitExceeded in the task",
    "worker_prefetch_multiplier": "how many messages a worker reserves per process",
    "worker_state_db": "revoked ids kept across a warm restart",
    "worker_concurrency": "processes per worker, for workers that do not give concurrency:",
    "worker_disable_prefetch": "Redis, Celery 5.6 on: a worker takes a message only when a process is free",
    "worker_deduplicate_successful_tasks": "a redelivered late-acked copy is skipped once the task succeeded",
    "result_backend": "whether deduplication can see a success (none: the copy fails; rpc://: off)",
    "result_expires": "how long the backend keeps a success that deduplication reads",
    "task_default_queue": "the queue of a task no route sends elsewhere, and of a worker without queues:",
    "task_routes": "which queue each task goes to (mappings of names or glob patterns)",
    "task_compression": "the size of each message in the broker (kombu compresses the body, then base64)",
    "task_serializer": "the size of each message (json or pickle), and whether workers accept it",
    "accept_content": "a message of another content type is rejected on receipt and never runs",
}

# broker_transport_options keys the replay reads (kombu/transport/redis.py, Channel).
TRANSPORT_OPTIONS: dict[str, str] = {
    "visibility_timeout": "how long a delivery may stay unacked before a sweep restores it",
    "unacked_restore_interval": "seconds between restore sweeps (with the throttle)",
    "unacked_restore_throttle": "restore sweeps are tried every interval x throttle seconds",
}

_WHY: dict[str, str] = {
    "visibility_timeout": "not a Celery setting: kombu reads the visibility timeout from broker_transport_options only",
    "result_backend_transport_options": "the result backend never restores messages: kombu reads the visibility "
                                        "timeout from broker_transport_options only",
}


def why_not(key: str) -> str:
    """One line on a settings key the replay does not read."""
    if key in _WHY:
        return f"{key}: {_WHY[key]}"
    if catalog_releases.setting_in_any(key) is not None:
        return f"{key}: a Celery setting the reference worker does not model"
    old = next(filter(None, (catalog_releases.from_old_name(key, r) for r in (None, *catalog_releases.names()))), None)
    if old is not None:
        if old.name in MODELLED_SETTINGS:
            return f"{key}: Celery's old name of {old.name}; write {old.name}"
        return f"{key}: Celery's old name of {old.name}, a setting the reference worker does not model"
    close = catalog.suggest(key, limit=1)
    return f"{key}: not a Celery setting" + (f" (did you mean {close[0]!r}?)" if close else "")


def unmodelled(settings: dict[str, Any]) -> list[str]:
    """Why each key of settings (and of its broker_transport_options) is not replayed."""
    out = [why_not(str(key)) for key in settings if key not in MODELLED_SETTINGS]
    options = settings.get("broker_transport_options")
    if isinstance(options, dict):
        out += [f"broker_transport_options[{key!r}]: a transport option the reference worker does not model "
                f"(it models {', '.join(TRANSPORT_OPTIONS)})" for key in options if key not in TRANSPORT_OPTIONS]
    return out


def refuse_unmodelled(settings: dict[str, Any]) -> None:
    problems = unmodelled(settings)
    if problems:
        listing = "\n".join(f"  {p}" for p in problems)
        raise ValueError("not modelled by the reference worker, so the replay would not show what Celery does "
                         f"with them; remove them from the scenario:\n{listing}")
