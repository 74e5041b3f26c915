"""QL002: settings written under the old (Celery 3) names."""
from __future__ import annotations

from typing import Iterable

from qlint import catalog
from qlint.model import Edit, Finding, Fix, Related, Span
from qlint.resolve.project import App, Project
from qlint.rule import Example, Rule
from qlint.rules._setting_keys import references, rename

_APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'
_DJANGO = {
    "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site.settings')\n",
    "site/__init__.py": "",
    "site/celery.py": "from celery import Celery\napp = Celery('site')\n"
                      "app.config_from_object('django.conf:settings', namespace='CELERY')\n",
}


class OldSettingName(Rule):
    code = "QL002"
    name = "old-setting-name"
    severity = "warning"
    summary = "A setting uses its old (Celery 3) name: still read by Celery 5, deprecated, and easy to shadow."
    what = """
A key of the configuration Celery loads that is the old spelling of a setting (`CELERY_ACKS_LATE`,
`CELERYD_PREFETCH_MULTIPLIER`, `BROKER_URL`), including under a Django `CELERY_` namespace. Celery 5
still reads it when the new spelling is absent (under a namespace it tries `CELERY_<NEW_NAME>`, the plain
new name, then the old names), so the value is in effect today — contrary to what Celery's documentation
says about namespaces. The old names are deprecated: the worker warns about each at start, and they are
scheduled for removal in Celery 6. An old key that a new spelling of the same setting shadows is reported as dead.
"""
    why = """
Old names work until the upgrade that drops them, and then the setting silently falls back to its
default. Meanwhile they mislead: a reader searching for `task_acks_late` does not find
`CELERY_ACKS_LATE`, and adding the new name beside the old one makes the old one dead code. Without a
namespace, a source mixing old and new names does not load at all (QL003), so renaming must be done for
all old keys of a source at once.
"""
    example = """
```python
# settings.py, loaded with namespace="CELERY"
CELERY_ACKS_LATE = True            # old name of task_acks_late: CELERY_TASK_ACKS_LATE
CELERYD_PREFETCH_MULTIPLIER = 1    # CELERY_WORKER_PREFETCH_MULTIPLIER
```
"""
    fix = """
Rename to the current spelling: `CELERY_TASK_ACKS_LATE` under the namespace, `task_acks_late` in a config
module. Without a namespace the fix renames every old key of the source together, so that the source never
mixes both formats.
"""
    fix_safety = """
Safe fix: Celery reads the renamed key as the same setting. Where the project's own code also reads the old
key (`CELERY_RESULT_BACKEND = BROKER_URL`, `settings.BROKER_URL`), the fix renames those reads too and is
marked unsafe, since code qlint does not see (other packages, `getattr` with a string) may read it as well.
"""
    invalid = (
        Example({**_DJANGO, "site/settings.py": "CELERY_ACKS_LATE = True\nCELERYD_PREFETCH_MULTIPLIER = 1\n"}, count=2),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "BROKER_URL = 'redis://'\nCELERY_ACKS_LATE = True\n"},
                count=1, note="no namespace: one finding whose fix renames every old key"),
        Example({**_DJANGO, "site/settings.py": "CELERY_TASK_ACKS_LATE = True\nCELERY_ACKS_LATE = False\n"},
                note="an old key shadowed by the new one is dead"),
    )
    valid = (
        Example({**_DJANGO, "site/settings.py": "CELERY_TASK_ACKS_LATE = True\nCELERY_WORKER_PREFETCH_MULTIPLIER = 1\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/celeryconfig.py": "task_acks_late = True\n"}),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        for app in project.apps:
            old = [(key, span, found.setting) for key, span in app.read_keys.items()
                   if (found := catalog.classify(key, app.namespace)).kind in ("old", "old-under-namespace")
                   and found.setting is not None]
            if old and app.namespace:
                for key, span, setting in old:
                    new = catalog.namespaced_key(setting, app.namespace)
                    edits, applicability = _renames(project, [(key, span, new)])
                    yield self.finding(
                        f"{key} is the old name of {setting.name}: Celery still reads it but warns that the old names "
                        f"are deprecated (removed in Celery 6); write {new}",
                        span, (), Fix(f"rename {key} to {new}", edits, applicability))
            elif old:
                yield self._whole_source(project, app, old)
            for key in app.unread:
                if key.kind == "old-name" and key.span is not None:
                    yield self.finding(
                        f"{key.key} is an old name of {key.setting}, which is also set under its current name: "
                        "Celery ignores this key", key.span, (), Fix(f"remove {key.key}"))

    def _whole_source(self, project: Project, app: App, old: list[tuple[str, Span, "catalog.Setting"]]) -> Finding:
        key, span, setting = old[0]
        edits, applicability = _renames(project, [(k, s, st.name) for k, s, st in old])
        others = [Related(s, f"{k} is the old name of {st.name}") for k, s, st in old[1:]]
        return self.finding(
            f"the configuration of app {app.name!r} uses {len(old)} old setting name(s) ({key} for {setting.name}"
            f"{', …' if len(old) > 1 else ''}): deprecated, still read by Celery 5, removed in Celery 6",
            span, others, Fix("rename every old key of this source to its current name", edits, applicability))


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
