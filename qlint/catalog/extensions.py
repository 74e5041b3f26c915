"""Keys that are no Celery settings but are read all the same: by Celery extensions, from the
app's configuration or from Django settings, and by Celery 3, which removed them.

Each extension entry was checked in the extension's own source (the release named):

- app.conf names are looked up through Celery's ConfigurationView, so under
  namespace="CELERY" the key in Django settings is CELERY_<NAME> (and the plain name);
- Django settings keys are read by the extension as written (django-appconf prefixes).
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping


@dataclass(frozen=True)
class Extension:
    package: str
    # Names read from app.conf (conf.get("x"), conf.x, conf.first("x", "X")): exact, or every name
    # starting with a prefix ending in "_".
    conf: tuple[str, ...] = ()
    # Keys read from django.conf.settings as written.
    django: tuple[str, ...] = ()
    where: str = ""


EXTENSIONS: tuple[Extension, ...] = (
    Extension("celery-redbeat", conf=("redbeat_",),
              where="redbeat/schedulers.py RedBeatConfig: conf.first('redbeat_redis_url', 'REDBEAT_REDIS_URL') and "
                    "redbeat_redis_use_ssl, redbeat_redis_options, redbeat_key_prefix, redbeat_lock_key, "
                    "redbeat_lock_timeout (2.4.2)"),
    Extension("celery-singleton", conf=("singleton_",),
              where="celery_singleton/config.py: conf.get('singleton_backend_url'), singleton_key_prefix, "
                    "singleton_backend_class, singleton_backend_kwargs, singleton_raise_on_duplicate, "
                    "singleton_lock_expiry (0.3.1)"),
    Extension("celery-once", conf=("once", "ONCE"), where="celery_once/tasks.py QueueOnce.once_config: app.conf.ONCE (3.0.1)"),
    Extension("celerybeat-mongo", conf=("mongodb_scheduler_",), django=("CELERY_MONGODB_SCHEDULER_",),
              where="celerybeatmongo/schedulers.py and models.py: conf.get('mongodb_scheduler_db'), _url, "
                    "_connection_alias, _collection, else conf.CELERY_MONGODB_SCHEDULER_DB... (0.2.0)"),
    Extension("sqlalchemy-celery-beat", conf=("beat_dburi", "beat_schema", "beat_engine_options"),
              where="sqlalchemy_celery_beat/schedulers.py DatabaseScheduler: conf.get('beat_dburi'), "
                    "'beat_schema', 'beat_engine_options' (0.9.1)"),
    Extension("tenant-schemas-celery", conf=("task_tenant_databases", "task_tenant_cache_seconds"),
              where="tenant_schemas_celery/task.py: conf.task_tenant_databases, conf.task_tenant_cache_seconds (5.0.0)"),
    Extension("django-celery-monitor", conf=("monitors_expire_",),
              where="django_celery_monitor/camera.py: conf.monitors_expire_success, _error, _pending (1.1.2)"),
    Extension("django-celery-email", django=("CELERY_EMAIL_",),
              where="djcelery_email/conf.py: django-appconf prefix CELERY_EMAIL (TASK_CONFIG, BACKEND, CHUNK_SIZE, "
                    "MESSAGE_EXTRA_ATTRIBUTES) (3.0.0)"),
    Extension("celery-haystack", django=("CELERY_HAYSTACK_",),
              where="celery_haystack/conf.py: django-appconf class CeleryHaystack (0.10)"),
    Extension("django-celery", django=("CELERYCAM_EXPIRE_",),
              where="djcelery/snapshot.py: getattr(settings, 'CELERYCAM_EXPIRE_SUCCESS') (3.3.1)"),
)
# Checked and found to read no key of their own from app.conf or under a CELERY_ prefix:
# django-celery-results 2.6.0 (result_extended is Celery's; DJANGO_CELERY_RESULTS*),
# django-celery-beat 2.9.0 (DJANGO_CELERY_BEAT_TZ_AWARE and Celery's own settings), and
# flower 2.2.0 (its options come from FLOWER_* variables, flowerconfig.py and the command line).


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(name == p or (p.endswith("_") and name.startswith(p)) for p in patterns)


def reader(key: str, namespace: str | None) -> Extension | None:
    """The extension that reads `key` of a configuration source loaded with `namespace`, if any."""
    names = [key]
    if namespace:
        prefix = namespace.rstrip("_") + "_"
        if key.upper().startswith(prefix.upper()):
            names.append(key[len(prefix):])
    for extension in EXTENSIONS:
        if _matches(key, extension.django):
            return extension
        if any(_matches(n, extension.conf) or _matches(n.lower(), extension.conf) for n in names):
            return extension
    return None


# Celery 3.1 settings (celery/app/defaults.py of 3.1.26) that Celery 4.0 removed, with no
# current or old name in any release since, and the alternative 3.1 named where it named one.
CELERY3_REMOVED: Mapping[str, str] = MappingProxyType({
    "CELERY_SEND_TASK_ERROR_EMAILS": "",
    "CELERY_CHORD_PROPAGATES": "",
    "CELERY_BROADCAST_QUEUE": "",
    "CELERY_BROADCAST_EXCHANGE": "",
    "CELERY_BROADCAST_EXCHANGE_TYPE": "",
    "CELERYD_FORCE_EXECV": "",
    "CELERYD_AUTORELOADER": "",
    "CELERYD_LOG_LEVEL": "the worker's --loglevel argument",
    "CELERYD_LOG_FILE": "the worker's --logfile argument",
    "CELERYBEAT_LOG_LEVEL": "beat's --loglevel argument",
    "CELERYBEAT_LOG_FILE": "beat's --logfile argument",
    "CELERYMON_LOG_LEVEL": "",
    "CELERYMON_LOG_FILE": "",
    "CELERYMON_LOG_FORMAT": "",
    "CASSANDRA_COLUMN_FAMILY": "",
    "CASSANDRA_DETAILED_MODE": "",
})
