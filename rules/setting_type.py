"""QL004: a string reaches a setting that Celery uses as a bool or a number."""
from __future__ import annotations

from typing import Iterable

from qlint import catalog
from qlint.model import Finding, Fix, Value
from qlint.resolve.project import Project
from qlint.resolve.resolved import App
from qlint.rule import Example, Rule

_DJANGO = {
    "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site.settings')\n",
    "site/__init__.py": "",
    "site/celery.py": "from celery import Celery\napp = Celery('site')\n"
                      "app.config_from_object('django.conf:settings', namespace='CELERY')\n",
}
_APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'

_CHECKED = frozenset({"bool", "int", "float"})
# Settings whose string value still works: the worker calls int() on the prefetch multiplier
# and on a numeric concurrency; the result backends that expire keys call int() on
# result_expires (others use it as is: left alone, precision first); ports and the Redis
# database number end up in URLs, socket calls or commands that accept text.
_CONVERTED = frozenset({
    "worker_prefetch_multiplier", "worker_concurrency", "result_expires", "broker_port", "redis_port", "redis_db",
})


def string_leaves(value: Value) -> list[tuple[Value, str]]:
    """The branches of a value that give Celery a string, each with when it does."""
    if value.status == "several":
        return [leaf for alt in value.alternatives for leaf in string_leaves(alt.value)]
    if value.status == "env-default" and value.env:
        if isinstance(value.value, str):
            return [(value, f"{value.env} is read as a string, {value.value!r} when it is unset")]
        if value.uncast:
            return [(value, f"{value.value!r} only while {value.env} is unset: a set variable arrives as a string, "
                            "and nothing casts it")]
        return []
    if value.status == "known" and isinstance(value.value, str):
        if value.env:
            return [(value, f"the deployment sets {value.env}={value.value!r}, read without a cast")]
        return [(value, f"the string {value.value!r}")]
    return []


def _consequence(setting: "catalog.Setting") -> str:
    if setting.type == "bool":
        return ("Celery does not convert it and tests it for truth: every non-empty string, 'False' and '0' included, "
                f"turns {setting.name} on")
    return (f"Celery does not convert it and uses it where it expects a number ({setting.type}): "
            "arithmetic and comparisons with it fail, or a string is passed on to the broker or pool")


def _cast_fix(setting: "catalog.Setting") -> str:
    if setting.type == "bool":
        return "compare the variable's text (os.getenv('X', 'false').lower() in ('1', 'true', 'yes')) or use a bool cast"
    return f"wrap the read in {setting.type}() (or use the library's cast, env.{setting.type}(...) / cast={setting.type})"


class SettingType(Rule):
    code = "QL004"
    name = "setting-type"
    severity = "error"
    summary = "A string reaches a setting that Celery uses as a bool or a number, and Celery does not convert it."
    what = """
A boolean, integer or float setting whose value is — always or in some case — a string: a string literal
(`CELERY_TASK_TIME_LIMIT = "300"`), or an environment read without a cast (`os.getenv("LIMIT", 300)`,
`env("EAGER", default=False)` with django-environ, `config("X", default=1)` with python-decouple). The
default of such a read has the right type, so everything works until the variable is set: then it is a
string. Each branch of an `if` is checked. Settings that Celery converts itself (`worker_prefetch_multiplier`,
`worker_concurrency`, `result_expires`) are left alone.
"""
    why = """
Celery takes values from a configuration module, class or Django settings exactly as they are: it converts
strings only for the command line and `celery worker -- key=value` arguments (`Option.to_python`). A string
in a boolean setting is tested for truth, so `EAGER=False` in the environment switches
`task_always_eager` on; a string in a time limit or pool limit reaches the pool, the timer or kombu, which
do arithmetic with it and fail at the first task, or behave in ways no one configured.
"""
    example = """
```python
CELERY_TASK_TIME_LIMIT = os.getenv("TASK_TIME_LIMIT", 300)          # "600" when set: a string
CELERY_TASK_ALWAYS_EAGER = os.environ.get("EAGER", False)           # "False" is true
```
"""
    fix = """
Cast the read: `int(os.getenv("TASK_TIME_LIMIT", 300))`, `env.int(...)`, `config(..., cast=int)`; for a
boolean compare the text (`os.getenv("EAGER", "false").lower() in ("1", "true", "yes")`) or use
`env.bool(...)` / `cast=bool` with decouple. Write literals with their type (`300`, not `"300"`).
"""
    fix_safety = "No automatic fix: a cast makes a malformed variable fail at import, and the right boolean parsing is the project's choice."
    invalid = (
        Example({**_DJANGO, "site/settings.py": "import os\nCELERY_TASK_TIME_LIMIT = os.getenv('TASK_TIME_LIMIT', 300)\n"
                                                "CELERY_TASK_ALWAYS_EAGER = os.environ.get('EAGER', False)\n"}, count=2),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "broker_pool_limit = '10'\n"}, note="a string literal"),
        Example({**_DJANGO, "site/settings.py": "import environ\nenv = environ.Env()\nDEBUG = env.bool('DEBUG', default=False)\n"
                                                "if DEBUG:\n    CELERY_TASK_SOFT_TIME_LIMIT = 60\n"
                                                "else:\n    CELERY_TASK_SOFT_TIME_LIMIT = env('SOFT_LIMIT', default=600)\n"},
                note="one branch reads django-environ without a cast"),
    )
    valid = (
        Example({**_DJANGO, "site/settings.py": "import os\nCELERY_TASK_TIME_LIMIT = int(os.getenv('TASK_TIME_LIMIT', 300))\n"
                                                "CELERY_TASK_ALWAYS_EAGER = os.environ.get('EAGER', '') == '1'\n"
                                                "CELERY_WORKER_PREFETCH_MULTIPLIER = os.getenv('PREFETCH', 1)\n"
                                                "CELERY_BROKER_URL = os.getenv('BROKER_URL', 'redis://localhost')\n"},
                note="cast reads; a setting Celery converts; a string setting"),
        Example({**_DJANGO, "site/settings.py": "from decouple import config\n"
                                                "CELERY_WORKER_MAX_TASKS_PER_CHILD = config('MAX_TASKS', default=100, cast=int)\n"
                                                "CELERY_TASK_ACKS_LATE = config('ACKS_LATE', default=True, cast=bool)\n"}),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/celeryconfig.py": "import os\ntask_time_limit = os.environ['TASK_TIME_LIMIT']\n"},
                note="no default and no deployment value: unknown, left alone"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        for app in project.apps:
            for name, value in sorted(app.settings.items()):
                setting = catalog.get(name)
                if setting is None or setting.type not in _CHECKED or name in _CONVERTED:
                    continue
                finding = self._check_value(app, setting, value)
                if finding is not None:
                    yield finding

    def _check_value(self, app: App, setting: "catalog.Setting", value: Value) -> Finding | None:
        leaves = [(leaf, when) for leaf, when in string_leaves(value) if (leaf.origin or value.origin) is not None]
        if not leaves:
            return None
        leaf, when = leaves[0]
        span = leaf.origin or value.origin
        assert span is not None
        return self.finding(
            f"{setting.name} of app {app.name!r} gets a string here ({when}); {_consequence(setting)}",
            span, (), Fix(_cast_fix(setting)))
