"""Settings named in fix texts the way the app's configuration spells them.

A fix that says `broker_transport_options = {...}` to a Django project read with
namespace="CELERY" does nothing when copied into settings.py: Celery reads
CELERY_BROKER_TRANSPORT_OPTIONS there, and Django does not even export a lower-case
name. key() gives the key that takes effect where the app is configured:

- a key the configuration source already sets for the setting, as it is written there;
- a setting written on the app itself (app.conf.x = ..., Celery(x=...)) and not in the
  source: `app.conf.<name>`, where the value that wins is;
- under a namespace, the namespaced key (CELERY_BROKER_TRANSPORT_OPTIONS), which every
  Celery release reads first;
- Django settings without a namespace export only upper-case names, so only old names
  (BROKER_TRANSPORT_OPTIONS) reach Celery; a setting without one is written on the app;
- a source without namespace that spells its keys with old names only: the old name,
  since one new name among old ones makes Celery refuse the configuration;
- else the setting's name.
"""
from __future__ import annotations

from qlint import catalog
from qlint.resolve.resolved import App


def key(app: App | None, name: str) -> str:
    """The key that sets `name` in the app's configuration, as a fix should write it."""
    if app is None:
        return name
    spellings = catalog.lookup_keys(name, app.namespace)
    for written in app.read_keys:
        if written in spellings:
            return written
    value = app.setting(name)
    if value.status not in ("default", "unknown") and value.origin is not None and _on_the_app(app, value.origin.path):
        return f"{app.var or 'app'}.conf.{name}"
    if app.source_kind == "none":
        return f"{app.var or 'app'}.conf.{name}"
    if app.namespace:
        return catalog.namespaced_key(name, app.namespace)
    setting = catalog.get(name)
    old = setting.old_names[0] if setting is not None and setting.old_names else None
    if app.source_kind == "django":
        return old.upper() if old else f"{app.var or 'app'}.conf.{name}"
    if old and _old_names_only(app):
        return old
    return name


def assignment(app: App | None, name: str, value: str) -> str:
    """`KEY = value` in the app's configuration (`CELERY_TASK_TIME_LIMIT = 3300`)."""
    return f"{key(app, name)} = {value}"


def _on_the_app(app: App, path: str) -> bool:
    """Whether a value set in `path` was written on the app rather than in its configuration source."""
    return app.source_path is None or (path != app.source_path and path == app.defined_at.path)


def _old_names_only(app: App) -> bool:
    keys = list(app.read_keys)
    return bool(keys) and all(catalog.get(k) is None and catalog.from_old_name(k) is not None for k in keys)


def dict_item(app: App | None, name: str, item: str, value: str) -> str:
    """One item of a dict setting, added to what the app sets or as the whole setting:
    `'visibility_timeout': 7200 in CELERY_BROKER_TRANSPORT_OPTIONS` where the app sets other
    options already (replacing the dict would drop them), else
    `CELERY_BROKER_TRANSPORT_OPTIONS = {'visibility_timeout': 7200}`."""
    where = key(app, name)
    current = app.setting(name) if app is not None else None
    if current is not None and current.status != "default" and not (isinstance(current.value, dict) and not current.value):
        return f"{item!r}: {value} in {where}"
    return f"{where} = {{{item!r}: {value}}}"
