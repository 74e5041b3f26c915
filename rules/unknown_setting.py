"""QL001: a key in a configuration source that Celery never reads, close to a real name."""
from __future__ import annotations

from typing import Iterable

from qlint import catalog
from qlint.catalog import releases as catalog_releases
from qlint.catalog.extensions import CELERY3_REMOVED, reader
from qlint.model import Finding, Fix, Related, Span, Value
from qlint.resolve.config_source import attribute_mapping
from qlint.resolve.project import Project
from qlint.resolve.resolved import App, UnreadKey
from qlint.rule import Example, Rule
from qlint.semantics.setting_keys import references, rename
from qlint.semantics.spelling import key as spelled

_APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'
_DJANGO = {
    "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site.settings')\n",
    "site/__init__.py": "",
    "site/celery.py": "from celery import Celery\napp = Celery('site')\n"
                      "app.config_from_object('django.conf:settings', namespace='CELERY')\n",
}


# A typo, not a different word: at most this many single-character edits apart.
MAX_EDITS = 2


def distance(a: str, b: str) -> int:
    """Edits (insert, delete, replace, swap of neighbours) that turn a into b."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, previous2[j - 2] + 1)
            current.append(cost)
        previous2, previous = previous, current
    return previous[-1]


def near_miss(key: str, real: str, namespace: str | None) -> bool:
    prefix = f"{namespace}_".lower() if namespace else ""
    a, b = key.lower(), real.lower()
    if prefix and a.startswith(prefix) and b.startswith(prefix):
        a, b = a[len(prefix):], b[len(prefix):]
    return distance(a, b) <= min(MAX_EDITS, max(1, len(b) // 6))


def fits(value: Value | None, setting: "catalog.Setting") -> bool:
    """False when the key's value certainly has a type the setting cannot take (a queue
    name in CELERY_TASK_QUEUE is a constant, not a misspelt task_queues)."""
    options = value.possible() if value is not None else []
    known = [v for v in options if v.status == "known"]
    return not known or any(catalog.coerce_kind(setting, v.value) for v in known)


# The groups a setting's name starts with that a namespaced key may lose (CELERY_SOFT_TIME_LIMIT).
_GROUPS = ("task", "worker", "broker", "result", "beat")


def _lower_case_setting(name: str, namespace: str | None) -> "catalog.Setting | None":
    """The setting a lower-case key of a Django settings module names: its current name
    (broker_transport_options) or that name under the namespace (celery_broker_url). Names of
    one word (timezone, include) are too common as plain variables to count."""
    found = catalog_releases.setting_in_any(name)
    if found is None and namespace and name.lower().startswith(namespace.lower().rstrip("_") + "_"):
        found = catalog_releases.setting_in_any(name[len(namespace.rstrip("_")) + 1:].lower())
    return found if found is not None and "_" in found.name else None


def _setting_of(spelling: str, namespace: str | None) -> "catalog.Setting | None":
    found = catalog.classify(spelling, namespace)
    return found.setting


class UnknownSetting(Rule):
    code = "QL001"
    name = "unknown-setting"
    severity = "error"
    summary = ("A key meant for Celery that it never reads — a near miss of a setting, a setting of another release "
               "or one Celery 4 removed, a lower-case name in Django settings: the value is silently ignored.")
    what = """
A key in the configuration Celery loads (a config module or class, Django settings under the `CELERY_`
namespace, or `app.conf`) that Celery reads under no name, when it is

- a near miss of a real key (`CELERY_TASK_ACK_LATE` for `CELERY_TASK_ACKS_LATE`, `worker_prefetch_multipler`):
  at most one edit for names up to 11 characters after the namespace prefix, two for longer ones; or
- the namespaced spelling of a setting (`CELERY_TASK_ACKS_LATE`) in a source loaded without
  `namespace="CELERY"`, where Celery reads only the plain and old names; or
- a setting that the Celery release the project installs does not have: added in a later release
  (`worker_disable_prefetch` in 5.6, `task_retry_on_worker_lost` in 5.7) or removed in an earlier one
  (`task_queue_ha_policy` in 5.0). The release is read from the project's dependency files or
  `[tool.qlint] celery-version`; where the project admits several releases, the key is reported only when
  none of them has the setting; or
- a Celery 3 setting that Celery 4.0 removed and no release since reads (`CELERY_SEND_TASK_ERROR_EMAILS`,
  `CELERYD_LOG_LEVEL`, `CELERYD_FORCE_EXECV`); or
- a namespaced key that lacks the group of the setting it names (`CELERY_EAGER_PROPAGATES` for
  `CELERY_TASK_EAGER_PROPAGATES`, `CELERY_SOFT_TIME_LIMIT` for `CELERY_TASK_SOFT_TIME_LIMIT`: `task_`,
  `worker_`, `broker_`, `result_` or `beat_` is missing), when the value fits that setting; or
- a Celery setting written in lower case in a Django settings module (`broker_transport_options = {...}`
  in settings.py): Django's settings object holds only upper-case names, so Celery never sees it.

Project constants are left alone: keys that merely share the prefix (`CELERY_FLOWER_USER`,
`CELERY_QUEUE_PREFIX`), keys whose value cannot be the suggested setting's (a queue name in
`CELERY_TASK_QUEUE`), keys the project's own code reads (`settings.CELERY_X`, `app.config["CELERY_X"]`, a lower-case helper
that an upper-case setting is built from; `os.environ["CELERY_X"]` reads a variable, not the key), and the few keys Celery reads without declaring them
(`CELERY_RESULT_BACKEND_THREAD_SAFE`, `CELERY_DB_REUSE_MAX`). So are the keys Celery extensions read
from the app's configuration or Django settings, each checked in the extension's source: RedBeat
(`redbeat_*`, `CELERY_REDBEAT_*` under the namespace), celery-singleton (`singleton_*`), celery-once
(`ONCE`), celerybeat-mongo (`mongodb_scheduler_*`), sqlalchemy-celery-beat (`beat_dburi`...),
tenant-schemas-celery, django-celery-monitor, django-celery-email (`CELERY_EMAIL_*`), celery-haystack
(`CELERY_HAYSTACK_*`) and django-celery (`CELERYCAM_*`); django-celery-results, django-celery-beat and
Flower read no such key of their own.
"""
    why = """
Celery looks settings up by name and never complains about names it does not know. A typo leaves the
setting at its default — late acknowledgement silently off, a time limit never applied — while the code
reads as if it were configured. The same happens to `CELERY_`-prefixed names when
`config_from_object("django.conf:settings")` is called without `namespace="CELERY"`, and to a setting
copied from the documentation of a newer release than the one installed: Celery 5.4 has no
`worker_disable_prefetch`, so `CELERY_WORKER_DISABLE_PREFETCH = True` changes nothing until the upgrade.
Under a namespace every setting is `<NAMESPACE>_<its full name>`: `CELERY_SOFT_TIME_LIMIT` is not
`task_soft_time_limit`, and Celery 3 settings that 4.0 removed are read by nothing. Django copies only the
upper-case names of a settings module into `django.conf.settings`, which is the object Celery reads: a
lower-case `broker_transport_options` there is a plain module variable.
"""
    example = """
```python
CELERY_TASK_ACK_LATE = True             # Celery reads CELERY_TASK_ACKS_LATE
CELERY_WORKER_DISABLE_PREFETCH = True   # requirements.txt: celery==5.4.0; added in Celery 5.6
CELERY_EAGER_PROPAGATES = True          # Celery reads CELERY_TASK_EAGER_PROPAGATES
broker_transport_options = {"visibility_timeout": 7200}   # settings.py: Django never exports it
```
"""
    fix = ("Rename the key to the setting it was meant to be (in a Django settings module, its upper-case "
           "namespaced key: `CELERY_BROKER_TRANSPORT_OPTIONS`), or load the settings with the namespace its names use; "
           "for a setting of another release, install a release that has it or remove the key; remove a Celery 3 "
           "setting, or use what replaced it (`--loglevel` for `CELERYD_LOG_LEVEL`).")
    fix_safety = ("Unsafe fix: the rename puts a setting into effect that was not, which changes runtime "
                  "behaviour; several equally near names are offered as a suggestion only.")
    invalid = (
        Example({**_DJANGO, "site/settings.py": "CELERY_TASK_ACK_LATE = True\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "task_acks_lat = True\nworker_prefetch_multipler = 1\n"}, count=2),
        Example({**_DJANGO, "site/celery.py": "from celery import Celery\napp = Celery('site')\n"
                                              "app.config_from_object('django.conf:settings')\n",
                 "site/settings.py": "CELERY_BROKER_URL = 'redis://'\nCELERY_TASK_ACKS_LATE = True\n"},
                count=2, note="namespaced names, loaded without the namespace"),
        Example({**_DJANGO, "site/settings.py": "CELERY_WORKER_DISABLE_PREFETCH = True\n",
                 "requirements.txt": "celery[redis]==5.4.0\n"},
                note="added in Celery 5.6; this project installs 5.4"),
        Example({**_DJANGO, "site/settings.py": "CELERY_TASK_QUEUE_HA_POLICY = 'all'\n"},
                note="removed in Celery 5.0; the newest release is assumed"),
        Example({**_DJANGO, "site/settings.py": "CELERY_EAGER_PROPAGATES = True\nCELERY_SOFT_TIME_LIMIT = 240\n"},
                count=2, note="namespaced keys that lack their group (task_)"),
        Example({**_DJANGO, "site/settings.py": "CELERY_SEND_TASK_ERROR_EMAILS = True\nCELERYD_LOG_LEVEL = 'INFO'\n"},
                count=2, note="Celery 3 settings that Celery 4.0 removed"),
        Example({**_DJANGO, "site/settings.py": "CELERY_BROKER_URL = 'redis://redis'\n"
                                                "broker_transport_options = {'visibility_timeout': 7200}\n"},
                note="a lower-case Celery name in Django settings, which Django never exports"),
    )
    valid = (
        Example({**_DJANGO, "site/settings.py": "CELERY_TASK_ACKS_LATE = True\nCELERY_FLOWER_USER = 'admin'\n"
                                                "CELERY_QUEUE_PREFIX = 'shop'\nCELERY_TASK_QUEUE = 'default'\n"
                                                "CELERY_RESULT_BACKEND_THREAD_SAFE = True\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "import os\nDEBUG = True\nhelper_timeout = 5\ntask_acks_late = True\n"}),
        Example({**_DJANGO, "site/celery.py": _DJANGO["site/celery.py"] + "from django.conf import settings\n"
                 "app.conf.worker_prefetch_multiplier = settings.CELERY_PREFETCH_MULTIPLER\n",
                 "site/settings.py": "CELERY_PREFETCH_MULTIPLER = 4\n"},
                note="a project constant that the app's code reads"),
        Example({**_DJANGO, "site/settings.py": "CELERY_WORKER_DISABLE_PREFETCH = True\n",
                 "requirements.txt": "celery>=5.4\n"},
                note="5.4 and 5.5 ignore it, 5.6 and later read it: a plausible release has the setting"),
        Example({**_DJANGO, "site/settings.py": "CELERY_BEAT_SCHEDULER = 'redbeat.RedBeatScheduler'\n"
                                                "CELERY_REDBEAT_REDIS_URL = 'redis://redis/1'\nCELERY_ONCE = {'backend': 'x'}\n"
                                                "CELERY_EMAIL_BACKEND = 'django.core.mail.backends.smtp.EmailBackend'\n"},
                note="keys that RedBeat, celery-once and django-celery-email read"),
        Example({**_DJANGO, "site/settings.py": "import os\nbroker_url = os.environ['REDIS_URL']\n"
                                                "CELERY_BROKER_URL = broker_url\n"},
                note="a lower-case helper the settings build a key from"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        seen: set[tuple[str, int, str]] = set()
        for app in project.apps:
            for key in app.unread:
                if key.span is None or reader(key.key, app.namespace) is not None:
                    continue  # an extension's own key (RedBeat's CELERY_REDBEAT_REDIS_URL...)
                if key.kind == "not-in-release" and not key.releases and not references(project, key.key, key.span):
                    yield self._not_in_release(project, app, key)
                    continue
                if key.kind not in ("unknown", "unrelated") or references(project, key.key, key.span):
                    continue
                finding = self._removed(app, key.key, key.span)
                if finding is None and key.kind == "unknown":
                    finding = self._near_miss(app, key) or self._missing_namespace(app, key) or self._missing_group(app, key)
                if finding is not None:
                    seen.add((key.span.path, key.span.line, key.key))
                    yield finding
            for finding in self._django_module(project, app):
                identity = (finding.span.path, finding.span.line, finding.message.split(" ", 1)[0])
                if identity not in seen:
                    seen.add(identity)
                    yield finding

    def _removed(self, app: App, key: str, span: Span) -> Finding | None:
        """CELERY_SEND_TASK_ERROR_EMAILS: a Celery 3 setting that no release since 4.0 reads."""
        if key not in CELERY3_REMOVED:
            return None
        instead = CELERY3_REMOVED[key]
        releases = app.releases or (catalog_releases.newest(),)
        return self.finding(
            f"{key} is a Celery 3 setting that Celery 4.0 removed: {catalog_releases.celery(releases)} ignores it"
            + (f" (use {instead})" if instead else ""),
            span, (), Fix(f"remove {key}" + (f", and use {instead}" if instead else "")))

    def _missing_group(self, app: App, key: UnreadKey) -> Finding | None:
        """CELERY_SOFT_TIME_LIMIT for CELERY_TASK_SOFT_TIME_LIMIT: a namespaced name without the
        group its setting belongs to (task_, worker_, broker_, result_, beat_)."""
        if not app.namespace or key.span is None:
            return None
        prefix = app.namespace.rstrip("_") + "_"
        if not key.key.upper().startswith(prefix.upper()) or len(key.key) == len(prefix):
            return None
        core = key.key[len(prefix):].lower()
        found = []
        for group in _GROUPS:
            setting = catalog_releases.setting_in_any(f"{group}_{core}")
            if setting is not None and fits(key.value, setting):
                found.append(catalog.namespaced_key(setting.name, app.namespace))
        if not found:
            return None
        names = " or ".join(found)
        message = (f"{key.key} is no Celery setting and Celery ignores it: the name lacks its group; did you mean "
                   f"{names}?")
        if len(found) > 1 or found[0] in app.read_keys:
            return self.finding(message, key.span, (), Fix(f"rename {key.key} to {names}"))
        return self.finding(message, key.span, (),
                            Fix(f"rename {key.key} to {found[0]}", (rename(key.span, key.key, found[0]),), "unsafe"))

    def _django_module(self, project: Project, app: App) -> Iterable[Finding]:
        """Keys of a Django settings module that Django never hands to Celery, or that Celery 3
        read: a lower-case Celery name (`broker_transport_options = ...`), which Django does not
        export, and a removed setting under a prefix that is not the namespace's (CELERYD_...)."""
        path = app.source_path
        if app.source_kind != "django" or path is None:
            return
        if any(other.source_path == path and other.source_kind != "django" for other in project.apps):
            return  # the same module is also loaded as a plain module, where lower-case names are read
        env = project.workspace.root_env(path)
        if env is None:
            return
        mapping = attribute_mapping(project.workspace.resolved_names(env), env.spans, frozenset(env.imported))
        for name, (value, span) in mapping.items():
            if span is None or name.startswith("_") or reader(name, app.namespace) is not None:
                continue
            if name.isupper():
                if name in CELERY3_REMOVED and not references(project, name, span):
                    finding = self._removed(app, name, span)
                    if finding is not None:
                        yield finding
                continue
            setting = _lower_case_setting(name, app.namespace)
            if setting is None or not fits(value, setting) or references(project, name, span):
                continue
            wanted = spelled(app, setting.name)
            if wanted in app.read_keys or catalog.namespaced_key(setting.name, app.namespace or "CELERY") in app.read_keys:
                continue  # the setting is set under its real key: this is some other variable
            message = (f"{name} is the Celery setting {setting.name} in lower case, but Django settings hold only "
                       f"upper-case names: Celery never sees it; it reads {wanted}")
            if "." in wanted:
                yield self.finding(message, span, (), Fix(f"set {wanted} instead"))
            else:
                yield self.finding(message, span, (),
                                   Fix(f"rename {name} to {wanted}", (rename(span, name, wanted),), "unsafe"))

    def _near_miss(self, app: App, key: UnreadKey) -> Finding | None:
        candidates = [s for s in catalog.suggest(key.key, app.namespace) if near_miss(key.key, s, app.namespace)]
        candidates = [s for s in candidates if (st := _setting_of(s, app.namespace)) is None or fits(key.value, st)]
        if not candidates:
            return None
        best = candidates[0]
        if len(candidates) > 1:
            names = " or ".join(candidates)
            return self.finding(f"{key.key} is not a Celery setting and Celery ignores it; did you mean {names}?",
                                key.span, (), Fix(f"rename {key.key} to {names}"))
        return self.finding(
            f"{key.key} is not a Celery setting and Celery ignores it; did you mean {best}?",
            key.span, (), Fix(f"rename {key.key} to {best}", (rename(key.span, key.key, best),), "unsafe"))

    def _not_in_release(self, project: Project, app: App, key: UnreadKey) -> Finding:
        """A setting that none of the releases the project may install has."""
        releases = app.releases or (catalog_releases.newest(),)
        versions = getattr(project, "versions", None)
        celery = versions.celery if versions is not None else None
        if celery is not None and celery.how != "default":
            installs = f"this project installs {catalog_releases.celery(releases)}, which ignores it"
        else:
            installs = (f"Celery {releases[-1]} ignores it (no dependency file names the release: the newest qlint "
                        "knows is assumed)")
        related = [Related(origin, f"Celery {choice.release} is installed here")
                   for choice in (celery.choices if celery is not None else ()) for origin in choice.origins[:1]]
        name = key.setting or key.key
        return self.finding(
            f"{key.key} is {name}, {catalog_releases.lifetime_text(name)}; {installs}",
            key.span, related[:3],
            Fix(f"install a Celery release that has {name} ({catalog_releases.celery(catalog_releases.having(name))}), "
                f"or remove {key.key}"))

    def _missing_namespace(self, app: App, key: UnreadKey) -> Finding | None:
        """CELERY_TASK_ACKS_LATE in a source loaded without namespace="CELERY"."""
        if app.namespace or not key.key.startswith("CELERY_"):
            return None
        setting = catalog.from_namespaced(key.key, "CELERY")
        if setting is None or not fits(key.value, setting):
            return None
        return self.finding(
            f"{key.key} is the CELERY_-namespaced name of {setting.name}, but app {app.name!r} loads its configuration "
            f"without namespace='CELERY': Celery ignores this key",
            key.span, (Related(app.defined_at, f"app {app.name!r} is defined here"),),
            Fix(f"pass namespace='CELERY' to config_from_object (every CELERY_ key is then read), or rename "
                f"{key.key} to {setting.name}"))
