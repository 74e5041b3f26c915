"""QL002: settings written under the old (Celery 3) names."""
from __future__ import annotations

from typing import Iterable

from qlint import catalog
from qlint.catalog import releases as catalog_releases
from qlint.model import Edit, Finding, Fix, Related, Span, Value
from qlint.resolve.project import Project
from qlint.resolve.resolved import RELIED_ON, App, UnreadKey
from qlint.resolve.values import is_plain
from qlint.rule import Example, Rule
from qlint.semantics.setting_keys import references, rename

_APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'
_DJANGO = {
    "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site.settings')\n",
    "site/__init__.py": "",
    "site/celery.py": "from celery import Celery\napp = Celery('site')\n"
                      "app.config_from_object('django.conf:settings', namespace='CELERY')\n",
}


# Settings whose value decides delivery, acknowledgement, routing, the broker or results:
# an old name that a release ignores there is an error, elsewhere a warning.
MATTERS = frozenset(RELIED_ON) | {
    "task_queues", "task_create_missing_queues", "task_default_exchange", "task_default_routing_key",
    "task_default_delivery_mode", "imports", "include", "beat_scheduler", "worker_max_tasks_per_child",
    "worker_max_memory_per_child", "worker_pool", "timezone", "enable_utc", "task_track_started",
    "task_ignore_result", "result_persistent",
}


class OldSettingName(Rule):
    code = "QL002"
    name = "old-setting-name"
    severity = "warning"
    summary = ("A setting uses its old (Celery 3) name: ignored under a namespace up to Celery 5.6, "
               "a deprecated fallback from 5.7, and easy to shadow.")
    what = """
A key of the configuration Celery loads that is the old spelling of a setting (`CELERY_ACKS_LATE`,
`CELERYD_PREFETCH_MULTIPLIER`, `CELERY_QUEUES`, `BROKER_URL`). What Celery does with it depends on the
release the project installs (read from its requirements, pyproject, lock or Dockerfile, or
`[tool.qlint] celery-version`):

- under a namespace (`config_from_object("django.conf:settings", namespace="CELERY")`), Celery up to 5.6
  never reads an old name: the setting keeps its default, so the value written is not in effect. This is
  reported as a hazard, an error for settings that decide delivery, acknowledgement, routing, the broker or
  results (`CELERY_ACKS_LATE`, `CELERYD_PREFETCH_MULTIPLIER`, `CELERY_QUEUES`, `BROKER_URL`...);
- Celery 5.7 reads it there as a fallback after `CELERY_<NEW_NAME>` and the plain new name, and warns that
  it is deprecated: a deprecation warning;
- without a namespace every release reads old names, deprecated.

Where the releases a project may install disagree (`celery>=5.5`), the finding names what each does; it is
an error only when every one of them ignores the key. An old key that a new spelling of the same setting
shadows is reported as dead.
An old key written on the app itself (`app.conf.update(...)`, also with a mapping computed from a settings
module or a Flask config, or a `Celery(...)` keyword) is renamed by every release when the configuration
loads, namespace or not (`detect_settings`): in effect, deprecated.
"""
    why = """
Under a namespace, a project on Celery 5.2–5.6 that writes `CELERY_ACKS_LATE = True` runs with late
acknowledgement off, `CELERYD_PREFETCH_MULTIPLIER = 1` leaves workers reserving 4 messages per process,
and `CELERY_QUEUES` declares no queue: `ConfigurationView` looks each key up in every layer before the
next key, and Celery's defaults hold the plain new name, so the old name is never reached. Celery 5.7
looks in one layer at a time and finds it, which is why the same settings start working (with a
deprecation warning) after an upgrade. Old names are scheduled for removal in Celery 6. Meanwhile they
mislead: a reader searching for `task_acks_late` does not find `CELERY_ACKS_LATE`, and adding the new name
beside the old one makes the old one dead code. Without a namespace, a source mixing old and new names does
not load at all (QL003), so renaming must be done for all old keys of a source at once.
"""
    example = """
```python
# settings.py, loaded with namespace="CELERY"; requirements.txt: celery==5.5.3
CELERY_ACKS_LATE = True            # Celery 5.5 ignores it: late acknowledgement is off
CELERYD_PREFETCH_MULTIPLIER = 1    # ignored too: workers reserve 4 messages per process
```
"""
    fix = """
Rename to the current spelling: `CELERY_TASK_ACKS_LATE` under the namespace, `task_acks_late` in a config
module. Without a namespace the fix renames every old key of the source together, so that the source never
mixes both formats.
"""
    fix_safety = """
Safe fix where every release the project may install reads the old key (it reads the renamed key as the
same setting). Unsafe where a release ignores it: the rename puts into effect a value that was not, which
changes how the workers behave. Where the project's own code also reads the old key
(`CELERY_RESULT_BACKEND = BROKER_URL`, `settings.BROKER_URL`), the fix renames those reads too and is marked
unsafe, since code qlint does not see (other packages, `getattr` with a string) may read it as well.
"""
    invalid = (
        Example({**_DJANGO, "site/settings.py": "CELERY_ACKS_LATE = True\nCELERYD_PREFETCH_MULTIPLIER = 1\n",
                 "requirements.txt": "celery[redis]==5.5.3\n"},
                count=2, note="Celery 5.5 ignores old names under a namespace: both values are not in effect"),
        Example({**_DJANGO, "site/settings.py": "CELERY_ACKS_LATE = True\nCELERYD_PREFETCH_MULTIPLIER = 1\n"},
                count=2, note="Celery 5.7 (the newest, when nothing pins another) reads them, deprecated"),
        Example({**_DJANGO, "site/settings.py": "CELERY_QUEUES = ['default', 'reports']\n",
                 "requirements.txt": "celery>=5.6,<5.8\n"},
                note="5.6 ignores the key, 5.7 reads it: one finding naming both"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "BROKER_URL = 'redis://'\nCELERY_ACKS_LATE = True\n"},
                count=1, note="no namespace: one finding whose fix renames every old key"),
        Example({**_DJANGO, "site/settings.py": "CELERY_TASK_ACKS_LATE = True\nCELERY_ACKS_LATE = False\n"},
                note="an old key shadowed by the new one is dead"),
        Example({"proj/__init__.py": "", "proj/settings.py": "CELERY_QUEUES = ['default']\nCELERY_ACKS_LATE = True\n",
                 "proj/celery.py": "from celery import Celery\nfrom proj import settings\n\napp = Celery('proj')\n"
                                   "app.namespace = 'CELERY'\napp.conf.update({k: v for k, v in vars(settings).items() "
                                   "if k.startswith('CELERY')})\n"},
                count=2, note="old keys given to app.conf.update() are renamed in every release: deprecated"),
    )
    valid = (
        Example({**_DJANGO, "site/settings.py": "CELERY_TASK_ACKS_LATE = True\nCELERY_WORKER_PREFETCH_MULTIPLIER = 1\n",
                 "requirements.txt": "celery==5.5.3\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/celeryconfig.py": "task_acks_late = True\n"}),
        Example({"proj/__init__.py": "", "proj/settings.py": "CELERY_TASK_QUEUES = ['default']\n",
                 "proj/celery.py": "from celery import Celery\nfrom proj import settings\n\napp = Celery('proj')\n"
                                   "app.conf.update(dict((k.replace('CELERY_', '').lower(), v) for k, v in "
                                   "vars(settings).items() if k.startswith('CELERY_')))\n"}),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        for app in project.apps:
            releases = app.releases or (catalog_releases.newest(),)
            read = [(key, span, found.setting) for key, span in app.read_keys.items()
                    if (found := catalog.classify(key, app.namespace, releases[-1])).kind in ("old", "old-under-namespace")
                    and found.setting is not None]
            if app.namespace:
                ignored = {key.key: key for key in app.unread if key.kind == "ignored-old-name" and key.span is not None}
                for key, span, setting in read:
                    yield self._under_namespace(project, app, key, span, setting.name, ignored.pop(key, None))
                for key in ignored.values():
                    yield self._under_namespace(project, app, key.key, key.span, key.setting, key)
            elif read:
                yield self._whole_source(project, app, read)
            for key, (span, setting) in app.old_on_app.items():
                new = catalog.namespaced_key(setting, app.namespace) if app.namespace else setting
                yield self.finding(
                    f"{key} is the old name of {setting}: written on the app, it is renamed by every Celery release "
                    f"when the configuration loads, but old names are deprecated (removed in Celery 6); write {new}",
                    span, (), Fix(f"rename {key} to {new}"))
            for key in app.unread:
                if key.kind == "old-name" and key.span is not None:
                    yield self.finding(
                        f"{key.key} is an old name of {key.setting}, which is also set under its current name: "
                        "Celery ignores this key", key.span, (), Fix(f"remove {key.key}"))

    def _under_namespace(self, project: Project, app: App, key: str, span: Span, setting: str,
                         ignored: UnreadKey | None) -> Finding:
        releases = app.releases or (catalog_releases.newest(),)
        ignoring = (ignored.releases or releases) if ignored is not None else ()
        reading = tuple(r for r in releases if r not in ignoring)
        new = catalog.namespaced_key(setting, app.namespace)
        edits, applicability = _renames(project, [(key, span, new)])
        fix = Fix(f"rename {key} to {new}", edits, "unsafe" if ignoring else applicability)
        if not ignoring:
            return self.finding(
                f"{key} is the old name of {setting}: {catalog_releases.celery(reading)} still reads it under "
                f"namespace {app.namespace!r}, after {new} and {setting}, but warns that the old names are deprecated "
                f"(removed in Celery 6); write {new}", span, (), fix)
        consequence, hazard = _consequence(app, setting, ignoring, ignored.value if ignored else None)
        if not reading:
            severity = "error" if hazard and setting in MATTERS else "warning"
            return self.finding(
                f"{catalog_releases.celery(ignoring)} ignores {key} under namespace {app.namespace!r}: {consequence} "
                f"(old names are read under a namespace only from Celery 5.7 on); write {new}",
                span, (), fix, severity=severity)
        return self.finding(
            f"{key} is the old name of {setting}: {catalog_releases.celery(ignoring)} ignores it under namespace "
            f"{app.namespace!r} ({consequence}), {catalog_releases.celery(reading)} reads it as a deprecated "
            f"fallback; write {new}", span, (), fix)

    def _whole_source(self, project: Project, app: App, old: list[tuple[str, Span, "catalog.Setting"]]) -> Finding:
        key, span, setting = old[0]
        edits, applicability = _renames(project, [(k, s, st.name) for k, s, st in old])
        others = [Related(s, f"{k} is the old name of {st.name}") for k, s, st in old[1:]]
        releases = app.releases or (catalog_releases.newest(),)
        return self.finding(
            f"the configuration of app {app.name!r} uses {len(old)} old setting name(s) ({key} for {setting.name}"
            f"{', …' if len(old) > 1 else ''}): deprecated, still read by {catalog_releases.celery(releases)}, "
            "removed in Celery 6",
            span, others, Fix("rename every old key of this source to its current name", edits, applicability))


def _plain(value: Value | None) -> list[object] | None:
    """The concrete values a Value may take, or None when any is unknown."""
    if value is None:
        return None
    options = value.possible()
    if not options or any(not is_plain(v.value) for v in options):
        return None
    return [v.value for v in options]


def _consequence(app: App, setting: str, releases: tuple[str, ...], intended: Value | None) -> tuple[str, bool]:
    """What the setting is where the old key is ignored, said for a reader; and whether that
    differs from what the key says (the hazard)."""
    effective = [app.setting_in(setting, release) for release in releases]
    wanted = _plain(intended)
    got = [_plain(v) for v in effective]
    same = wanted is not None and all(g is not None and sorted(map(repr, g)) == sorted(map(repr, wanted)) for g in got)
    value = effective[-1]
    shown = " or ".join(repr(v) for v in (got[-1] or [])) or "unknown"
    if same:
        if value.status == "default":
            return f"{setting} keeps its default, {shown}, which is also the value written here", False
        return f"{setting} has the same value from {value.origin or 'elsewhere'}", False
    where = "Celery's default" if value.status == "default" else f"set at {value.origin}" if value.origin else "set elsewhere"
    if setting == "task_acks_late" and wanted == [True] and got[-1] == [False]:
        return "late acknowledgement is off", True
    if setting == "task_queues" and got[-1] == [None]:
        return "the queues it lists are not declared", True
    if setting == "worker_prefetch_multiplier" and got[-1] and wanted:
        return f"workers reserve {shown} messages per process, not {wanted[0]!r}", True
    written = f"{' or '.join(repr(v) for v in wanted)} as written here" if wanted else "the value written here"
    return f"{setting} is {shown} ({where}), not {written}", True


def _renames(project: Project, keys: list[tuple[str, Span, str]]) -> tuple[tuple[Edit, ...], str]:
    """Edits renaming each key where it is assigned and where the project reads it."""
    edits: list[Edit] = []
    read_elsewhere = False
    for key, span, new in keys:
        edits.append(rename(span, key, new))
        for ref in references(project, key, span):
            edits.append(Edit(ref, new))
            read_elsewhere = True
    return tuple(edits), "unsafe" if read_elsewhere else "safe"
