"""QL003: a configuration source that mixes old and new setting names."""
from __future__ import annotations

from typing import Iterable

from qlint.model import Finding, Fix, Related
from qlint.resolve.project import Project
from qlint.rule import Example, Rule

_APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'
_BASE = {"proj/__init__.py": "", "proj/celery.py": _APP}


class MixedSettingNames(Rule):
    code = "QL003"
    name = "mixed-setting-names"
    severity = "error"
    summary = "Old and new setting names mixed in one configuration: Celery refuses to start."
    what = """
A configuration source loaded without a namespace holds both old-style (`CELERY_ACKS_LATE`, `BROKER_URL`)
and new-style (`task_acks_late`) keys, and some key of the minority format has no counterpart in the
majority format — the condition under which Celery's `detect_settings` raises `ImproperlyConfigured`.
"""
    why = """
Celery decides per source which format it is reading, by majority. Keys of the other format are an
error, so the app (worker, beat and every process that sends tasks) fails at start with
ImproperlyConfigured — typically right after someone adds one new-style setting to an old config.
"""
    example = """
```python
BROKER_URL = "redis://"
CELERY_RESULT_BACKEND = "redis://"
task_acks_late = True          # one new name among old ones
```
"""
    fix = "Write every key of the source in the same format, preferably the new lowercase names (see QL002)."
    fix_safety = "No automatic fix here; QL002's fix renames all old keys of the source at once."
    invalid = (
        Example({**_BASE, "proj/celeryconfig.py": "BROKER_URL = 'redis://'\nCELERY_RESULT_BACKEND = 'redis://'\n"
                                                  "task_acks_late = True\n"}),
    )
    valid = (
        Example({**_BASE, "proj/celeryconfig.py": "broker_url = 'redis://'\ntask_acks_late = True\n"}),
        Example({**_BASE, "proj/celeryconfig.py": "BROKER_URL = 'redis://'\nCELERY_ACKS_LATE = True\n"}),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        for app in project.apps:
            if not app.config_error:
                continue
            spans = {**{u.key: u.span for u in app.unread}, **app.read_keys}
            located = [(k, spans[k]) for k in app.mixed_keys if spans.get(k) is not None]
            if not located:
                continue
            key, span = located[0]
            related = [Related(s, f"{k} is also in the minority format") for k, s in located[1:6]]
            yield self.finding(f"{app.config_error} (app {app.name!r})", span, related,
                               Fix("write every key of this source in one format (the new lowercase names)"))
