"""QL001: a key in a configuration source that Celery never reads, close to a real name."""
from __future__ import annotations

from typing import Iterable

from qlint import catalog
from qlint.model import Finding, Fix
from qlint.resolve.project import Project
from qlint.rule import Example, Rule
from qlint.rules._setting_keys import rename

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


class UnknownSetting(Rule):
    code = "QL001"
    name = "unknown-setting"
    severity = "error"
    summary = "A setting name Celery does not know, close to one it does: the value is silently ignored."
    what = """
A key in the configuration Celery loads (a config module or class, or Django settings under the
`CELERY_` namespace) that Celery reads under no name, and that is a near miss of a real setting
(`CELERY_TASK_ACK_LATE` for `CELERY_TASK_ACKS_LATE`). Project constants that merely share the prefix
(`CELERY_FLOWER_USER`, `CELERY_QUEUE_PREFIX`) are not near misses and are left alone.
"""
    why = """
Celery looks settings up by name and never complains about names it does not know. A typo leaves the
setting at its default — late acknowledgement silently off, a time limit never applied — while the code
reads as if it were configured.
"""
    example = """
```python
CELERY_TASK_ACK_LATE = True      # Celery reads CELERY_TASK_ACKS_LATE
```
"""
    fix = "Rename the key to the setting it was meant to be."
    fix_safety = "Unsafe fix: renaming turns the setting on, which changes runtime behaviour."
    invalid = (
        Example({**_DJANGO, "site/settings.py": "CELERY_TASK_ACK_LATE = True\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "task_acks_lat = True\nworker_prefetch_multipler = 1\n"}, count=2),
    )
    valid = (
        Example({**_DJANGO, "site/settings.py": "CELERY_TASK_ACKS_LATE = True\nCELERY_FLOWER_USER = 'admin'\n"
                                                "CELERY_QUEUE_PREFIX = 'shop'\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "import os\nDEBUG = True\nhelper_timeout = 5\ntask_acks_late = True\n"}),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        for app in project.apps:
            for key in app.unread:
                if key.kind != "unknown" or key.span is None:
                    continue
                suggestions = [s for s in catalog.suggest(key.key, app.namespace) if near_miss(key.key, s, app.namespace)]
                if not suggestions:
                    continue
                best = suggestions[0]
                yield self.finding(
                    f"{key.key} is not a Celery setting and Celery ignores it; did you mean {best}?",
                    key.span, (),
                    Fix(f"rename {key.key} to {best}", (rename(key.span, key.key, best),), "unsafe"),
                )
