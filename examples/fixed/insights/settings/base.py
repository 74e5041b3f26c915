import environ

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
INSTALLED_APPS = ["django.contrib.contenttypes", "uploads"]

# Celery: reports take hours, so nothing may ack before the work is done.
CELERY_BROKER_URL = env("REDIS_URL", default="redis://localhost:6379/0")
CELERY_RESULT_BACKEND = env("REDIS_URL", default="redis://localhost:6379/0")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_TIME_LIMIT = 24 * 60 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 23 * 60 * 60
# Above the longest hard limit, for every client of this Redis database.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 25 * 60 * 60}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": 25 * 60 * 60}
# A worker reserves only what it runs: nothing waits behind a long report.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
