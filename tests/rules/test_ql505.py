"""QL505 eager-in-production on Django layouts: which settings count as production."""
from __future__ import annotations

import pytest

from qlint.rules.eager_in_production import EagerInProduction
from tests.rules.test_ql001 import NAMESPACED, findings


def layout(module: str, files: dict[str, str]) -> dict[str, str]:
    return {"manage.py": f"import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site.settings.{module}')\n",
            "site/__init__.py": "", "site/celery.py": NAMESPACED, "site/settings/__init__.py": "",
            **{f"site/settings/{name}": text for name, text in files.items()}}


def test_base_settings_shared_with_production(tmp_path):
    files = layout("production", {"base.py": "DEBUG = False\nCELERY_TASK_ALWAYS_EAGER = True\n",
                                  "production.py": "from .base import *\n"})
    found = findings(tmp_path, EagerInProduction(), files)
    assert [(f.span.path, f.span.line) for f in found] == [("site/settings/base.py", 2)]
    assert "site.settings.production" in found[0].message


def test_production_overrides_base(tmp_path):
    files = layout("production", {"base.py": "CELERY_TASK_ALWAYS_EAGER = True\n",
                                  "production.py": "from .base import *\nCELERY_TASK_ALWAYS_EAGER = False\n"})
    assert findings(tmp_path, EagerInProduction(), files) == []


@pytest.mark.parametrize("module", ["test", "testing", "local", "dev", "ci"])
def test_test_and_local_settings(tmp_path, module):
    files = layout(module, {"base.py": "CELERY_TASK_ACKS_LATE = True\n",
                            f"{module}.py": "from .base import *\nCELERY_TASK_ALWAYS_EAGER = True\n"})
    assert findings(tmp_path, EagerInProduction(), files) == []


def test_env_read_defaulting_to_eager(tmp_path):
    files = layout("production", {"production.py": "import environ\nenv = environ.Env()\n"
                                                   "CELERY_TASK_ALWAYS_EAGER = env.bool('EAGER', default=True)\n"})
    found = findings(tmp_path, EagerInProduction(), files)
    assert len(found) == 1 and "unless EAGER is set" in found[0].message
    files["site/settings/production.py"] = ("import environ\nenv = environ.Env()\n"
                                            "CELERY_TASK_ALWAYS_EAGER = env.bool('EAGER', default=False)\n")
    assert findings(tmp_path, EagerInProduction(), files) == []


def test_only_when_debug(tmp_path):
    files = layout("production", {"production.py": "import os\nDEBUG = os.getenv('DEBUG') == '1'\n"
                                                   "CELERY_TASK_ALWAYS_EAGER = DEBUG\n"})
    assert findings(tmp_path, EagerInProduction(), files) == []
