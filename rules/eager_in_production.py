"""QL505: task_always_eager on in settings that are not test settings."""
from __future__ import annotations

import re
from typing import Any, Iterable

from qlint.model import Finding, Fix, Span
from qlint.resolve.project import Project
from qlint.rule import Example, Rule
from qlint.semantics.delivery import always
from qlint.sources.paths import in_project, is_test_path
from qlint.semantics.spelling import key

_APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'
# Settings for a developer's machine, where running tasks inline without a worker is a
# deliberate choice (cookiecutter-django's config/settings/local.py does exactly that).
_DEV_PART = re.compile(r"(^|[/._-])(local|dev|devel|develop|development)([/._-]|$)", re.I)


def _not_production(path: str, root: str) -> bool:
    return is_test_path(path, root) or bool(_DEV_PART.search(in_project(path, root)))


def _on(value: Any) -> bool:
    # Celery tests the setting for truth; strings are QL004's business.
    return value is True or (type(value) is int and value != 0)


class EagerInProduction(Rule):
    code = "QL505"
    name = "eager-in-production"
    severity = "error"
    summary = "task_always_eager is on outside test settings: tasks run inline in the caller, not on workers."
    what = """
`task_always_eager` (`CELERY_TASK_ALWAYS_EAGER`) is certainly true in a configuration that is not a test
configuration: neither the file that sets it nor the settings module Celery loads is a test module
(`tests/`, `test_*.py`, `*_test.py`, `settings/test.py`, `conftest.py`, `ci`) or a developer's local
settings (`settings/local.py`, `settings/dev.py`, `local_settings.py`). When the settings module qlint
resolves is itself a test or local one, it does not show what production loads, and the rule stays
silent. An environment read whose default is true (`env.bool("EAGER", default=True)`) counts: production
is eager unless someone remembers to set the variable.
"""
    why = """
With eager execution `.delay()` and `.apply_async()` call the task function in the calling process and
return its result: nothing goes through the broker, the web request waits for the whole task, time
limits, retries with countdown, rate limits, routing and acknowledgement settings do not apply, and the
workers sit idle. It is meant for unit tests; left on in a settings module that production imports, the
site slows down with every long task and no configuration of the workers helps.
"""
    example = """
```python
# settings/base.py, imported by settings/production.py
CELERY_TASK_ALWAYS_EAGER = True
```
"""
    fix = """
Turn it on in the test settings only (`settings/test.py`, or a pytest fixture such as
`celery_config`), and leave it off (the default) everywhere else.
"""
    fix_safety = "No automatic fix: tests may rely on it through the settings module."
    invalid = (
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "task_always_eager = True\n"}),
        Example({"manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site.settings.production')\n",
                 "site/__init__.py": "",
                 "site/celery.py": "from celery import Celery\napp = Celery('site')\n"
                                   "app.config_from_object('django.conf:settings', namespace='CELERY')\n",
                 "site/settings/__init__.py": "",
                 "site/settings/base.py": "CELERY_TASK_ALWAYS_EAGER = True\n",
                 "site/settings/production.py": "from .base import *\n"},
                note="set in base settings that production imports"),
    )
    valid = (
        Example({"manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site.settings.test')\n",
                 "site/__init__.py": "",
                 "site/celery.py": "from celery import Celery\napp = Celery('site')\n"
                                   "app.config_from_object('django.conf:settings', namespace='CELERY')\n",
                 "site/settings/__init__.py": "",
                 "site/settings/test.py": "CELERY_TASK_ALWAYS_EAGER = True\n"},
                note="test settings"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "import os\ntask_always_eager = os.environ.get('EAGER') == '1'\n"},
                note="off unless a variable is set"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "proj/celeryconfig.py": "",
                 "tests/conftest.py": "from proj.celery import app\n\napp.conf.task_always_eager = True\n"},
                note="turned on by the test suite"),
        Example({"manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings.local')\n",
                 "config/__init__.py": "",
                 "config/celery_app.py": "from celery import Celery\napp = Celery('shop')\n"
                                         "app.config_from_object('django.conf:settings', namespace='CELERY')\n",
                 "config/settings/__init__.py": "",
                 "config/settings/base.py": "CELERY_TASK_ACKS_LATE = True\n",
                 "config/settings/local.py": "from .base import *\nCELERY_TASK_ALWAYS_EAGER = True\n"
                                             "CELERY_TASK_EAGER_PROPAGATES = True\n"},
                note="a developer's local settings, as cookiecutter-django writes them"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        for app in project.apps:
            eager = app.setting("task_always_eager")
            if eager.status == "default" or eager.origin is None or not always(eager, _on):
                continue
            if any(_not_production(p, project.root) for p in (eager.origin.path, app.source or "", app.source_path or "",
                                                 app.defined_at.path)):
                continue
            span: Span = eager.origin
            unless = f" unless {eager.env} is set" if eager.status == "env-default" and eager.env else ""
            yield self.finding(
                f"task_always_eager is on{unless} for app {app.name!r} (configuration {app.source}): every .delay() "
                "runs the task inline in the caller, without broker, workers, time limits or retries",
                span, (), Fix(f"enable {key(app, 'task_always_eager')} only in test settings"),
            )
