import os

INSTALLED_APPS = ["shop"]

CELERY_BROKER_URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
CELERY_TASK_ACKS_LATE = True
# Exports run for up to two hours; everything else takes seconds.
CELERY_TASK_ROUTES = {
    "shop.tasks.export_orders": {"queue": "exports"},
    "shop.tasks.send_receipt": {"queue": "mail"},
}
CELERY_WORKER_PREFETCH_MULTIPLIER = int(os.environ.get("PREFETCH", "4"))
CELERY_BEAT_SCHEDULE = {
    "nightly-export": {"task": "shop.tasks.export_orders", "schedule": 24 * 60 * 60},
}
