"""QL001: a key in a configuration source that Celery never reads, close to a real name."""
from __future__ import annotations

from typing import Iterable

from qlint import catalog
from qlint.catalog import releases as catalog_releases
from qlint.model import Finding, Fix, Related, Value
from qlint.resolve.project import App, Project, UnreadKey
from qlint.rule import Example, Rule
from qlint.rules._setting_keys import references, rename

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


def _setting_of(spelling: str, namespace: str | None) -> "catalog.Setting | None":
    found = catalog.classify(spelling, namespace)
    return found.setting


class UnknownSetting(Rule):
    code = "QL001"
    name = "unknown-setting"
    severity = "error"
    summary = ("A setting name Celery does not read — close to one it does, or a setting of other Celery releases "
               "than the one installed: the value is silently ignored.")
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
  none of them has the setting.

Project constants are left alone: keys that merely share the prefix (`CELERY_FLOWER_USER`,
`CELERY_QUEUE_PREFIX`), keys whose value cannot be the suggested setting's (a queue name in
`CELERY_TASK_QUEUE`), keys the project's own code reads (`settings.CELERY_X`), and the few keys Celery
reads without declaring them (`CELERY_RESULT_BACKEND_THREAD_SAFE`, `CELERY_DB_REUSE_MAX`).
"""
    why = """
Celery looks settings up by name and never complains about names it does not know. A typo leaves the
setting at its default — late acknowledgement silently off, a time limit never applied — while the code
reads as if it were configured. The same happens to `CELERY_`-prefixed names when
`config_from_object("django.conf:settings")` is called without `namespace="CELERY"`, and to a setting
copied from the documentation of a newer release than the one installed: Celery 5.4 has no
`worker_disable_prefetch`, so `CELERY_WORKER_DISABLE_PREFETCH = True` changes nothing until the upgrade.
"""
    example = """
```python
CELERY_TASK_ACK_LATE = True             # Celery reads CELERY_TASK_ACKS_LATE
CELERY_WORKER_DISABLE_PREFETCH = True   # requirements.txt: celery==5.4.0; added in Celery 5.6
```
"""
    fix = ("Rename the key to the setting it was meant to be, or load the settings with the namespace its names use; "
           "for a setting of another release, install a release that has it or remove the key.")
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
    )

    def check(self, project: Project) -> Iterable[Finding]:
        for app in project.apps:
            for key in app.unread:
                if key.kind == "not-in-release" and key.span is not None and not key.releases \
                        and not references(project, key.key, key.span):
                    yield self._not_in_release(project, app, key)
                    continue
                if key.kind != "unknown" or key.span is None or references(project, key.key, key.span):
                    continue
                finding = self._near_miss(app, key) or self._missing_namespace(app, key)
                if finding is not None:
                    yield finding

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
