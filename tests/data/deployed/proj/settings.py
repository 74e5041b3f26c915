import os

INSTALLED_APPS = ["proj"]
CELERY_BROKER_URL = os.environ.get("BROKER_URL", "redis://localhost:6379/0")
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_CONCURRENCY = int(os.environ.get("WORKER_CONCURRENCY", "2"))
CELERY_TASK_ROUTES = {
    "proj.tasks.build_report": {"queue": "reports"},
    "proj.tasks.send_mail": {"queue": "mail"},
    "proj.tasks.resize": {"queue": "images"},
}
CELERY_BEAT_SCHEDULE = {
    "nightly": {"task": "proj.tasks.build_report", "schedule": 86400},
}
