"""Django settings read through config_from_object("django.conf:settings", namespace="CELERY")."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.resolve.conftest import where, write_tree

CELERY_PY = """
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings.production")

app = Celery("proj")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
"""

SPLIT = {
    "manage.py": "",
    "proj/__init__.py": "from .celery import app as celery_app\n",
    "proj/celery.py": CELERY_PY,
    "proj/settings/__init__.py": "",
    "proj/settings/base.py": """
        DEBUG = False
        CELERY_BROKER_URL = "redis://localhost:6379/0"
        CELERY_TASK_ACKS_LATE = False
        CELERY_TASK_TIME_LIMIT = 60
        CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    """,
    "proj/settings/common.py": """
        from .base import *

        CELERY_TASK_TIME_LIMIT = 120
        CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] = 7200
    """,
    "proj/settings/production.py": """
        from proj.settings.common import *

        CELERY_TASK_ACKS_LATE = True
        CELERY_TASK_TIME_LIMIT += 30
        CELERY_BROKER_TRANSPORT_OPTIONS.update({"max_retries": 3})
    """,
}


def test_split_settings_chained_three_levels(analyse_tree):
    (app,) = analyse_tree(SPLIT).project.apps
    assert (app.name, app.namespace, app.source_kind) == ("proj", "CELERY", "django")
    assert app.source_path == "proj/settings/production.py"
    acks = app.setting("task_acks_late")
    assert (acks.status, acks.value, where(acks)) == ("known", True, ("proj/settings/production.py", 3))
    limit = app.setting("task_time_limit")
    assert (limit.status, limit.value, where(limit)) == ("known", 150, ("proj/settings/production.py", 4))
    broker = app.setting("broker_url")
    assert (broker.value, where(broker)) == ("redis://localhost:6379/0", ("proj/settings/base.py", 2))


def test_item_assignment_and_update_keep_each_key_origin(analyse_tree):
    (app,) = analyse_tree(SPLIT).project.apps
    options = app.setting("broker_transport_options")
    assert options.status == "known"
    assert options.value == {"visibility_timeout": 7200, "max_retries": 3}
    assert where(options.item("visibility_timeout")) == ("proj/settings/common.py", 4)
    assert where(options.item("max_retries")) == ("proj/settings/production.py", 5)


def test_unset_setting_is_celery_default(analyse_tree):
    (app,) = analyse_tree(SPLIT).project.apps
    prefetch = app.setting("worker_prefetch_multiplier")
    assert (prefetch.status, prefetch.value, prefetch.origin) == ("default", 4, None)


@pytest.mark.parametrize("entry", ["manage.py", "old-manage.py", "proj/wsgi.py", "proj/asgi.py"])
def test_settings_module_named_outside_the_app_module(analyse_tree, entry):
    files = dict(SPLIT)
    files["proj/celery.py"] = """
        from celery import Celery

        app = Celery("proj")
        app.config_from_object("django.conf:settings", namespace="CELERY")
    """
    body = 'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings.base")'
    if entry == "manage.py":
        files[entry] = f"""
            #!/usr/bin/env python
            import os
            import sys


            def main():
                {body}
                from django.core.management import execute_from_command_line

                execute_from_command_line(sys.argv)


            if __name__ == "__main__":
                main()
        """
    elif entry == "old-manage.py":  # Django's template before 2.0: no main()
        entry = "manage.py"
        files[entry] = f"""
            #!/usr/bin/env python
            import os
            import sys

            if __name__ == "__main__":
                {body}
                from django.core.management import execute_from_command_line

                execute_from_command_line(sys.argv)
        """
    else:
        files[entry] = f"import os\n\nfrom django.core.wsgi import get_wsgi_application\n\n{body}\napplication = get_wsgi_application()\n"
    (app,) = analyse_tree(files).project.apps
    assert app.source_path == "proj/settings/base.py"
    assert app.source_named_at.path == entry
    limit = app.setting("task_time_limit")
    assert (limit.value, where(limit)) == (60, ("proj/settings/base.py", 4))


def test_the_app_module_wins_over_manage_py(analyse_tree):
    files = dict(SPLIT)
    files["manage.py"] = 'import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings.base")\n'
    (app,) = analyse_tree(files).project.apps
    assert app.source_path == "proj/settings/production.py"
    assert (app.source_named_at.path, app.source_named_at.line) == ("proj/celery.py", 5)


def test_old_and_plain_names_under_the_namespace_are_read_as_celery_does(analyse_tree):
    # Celery 5.7 tries CELERY_<NAME>, then <name>, then the old name (ConfigurationView._to_keys).
    files = dict(SPLIT)
    files["proj/settings/production.py"] = """
        from .base import *

        CELERY_ACKS_LATE = True
        CELERYD_PREFETCH_MULTIPLIER = 1
        CELERY_TASK_ACK_LATE = True
        CELERY_PROJECT_REPORT_QUEUE = "reports"
        CELERY_TASK_TIME_LIMIT_OLD = 30
        CELERYD_CONCURRENCY = 2
        CELERY_WORKER_CONCURRENCY = 8
    """
    (app,) = analyse_tree(files).project.apps
    # base sets CELERY_TASK_ACKS_LATE = False: the namespaced key wins over the old one
    acks = app.setting("task_acks_late")
    assert (acks.value, where(acks)) == (False, ("proj/settings/base.py", 3))
    prefetch = app.setting("worker_prefetch_multiplier")
    assert (prefetch.value, where(prefetch)) == (1, ("proj/settings/production.py", 4))
    concurrency = app.setting("worker_concurrency")
    assert (concurrency.value, where(concurrency)) == (8, ("proj/settings/production.py", 9))
    unread = {u.key: (u.kind, u.setting, u.span.line) for u in app.unread}
    assert unread == {
        "CELERY_ACKS_LATE": ("old-name", "task_acks_late", 3),
        "CELERY_TASK_ACK_LATE": ("unknown", None, 5),
        "CELERY_PROJECT_REPORT_QUEUE": ("unknown", None, 6),
        "CELERY_TASK_TIME_LIMIT_OLD": ("unknown", None, 7),
        "CELERYD_CONCURRENCY": ("old-name", "worker_concurrency", 8),
    }
    assert "task_ack_late" not in app.settings


def test_lower_case_names_are_not_django_settings(analyse_tree):
    files = dict(SPLIT)
    files["proj/settings/production.py"] = "from .base import *\n\ntask_acks_late = True\ncelery_task_time_limit = 5\n"
    (app,) = analyse_tree(files).project.apps
    assert app.setting("task_acks_late").value is False
    assert app.setting("task_time_limit").value == 60


def test_without_namespace_prefixed_keys_are_not_settings(analyse_tree):
    files = dict(SPLIT)
    files["proj/celery.py"] = CELERY_PY.replace(', namespace="CELERY"', "")
    files["proj/settings/production.py"] = "from .base import *\n\nCELERY_ACKS_LATE = True\n"
    (app,) = analyse_tree(files).project.apps
    assert app.namespace is None
    # CELERY_TASK_ACKS_LATE is no setting without the namespace; CELERY_ACKS_LATE is the old name
    acks = app.setting("task_acks_late")
    assert (acks.value, where(acks)) == (True, ("proj/settings/production.py", 3))
    assert app.setting("task_time_limit").status == "default"
    assert "CELERY_TASK_TIME_LIMIT" in {u.key for u in app.unread}


def test_settings_class_chosen_by_django_configuration(analyse_tree):
    files = {
        "proj/__init__.py": "",
        "proj/celery.py": """
            import os

            from celery import Celery

            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
            os.environ.setdefault("DJANGO_CONFIGURATION", "Prod")

            app = Celery("proj")
            app.config_from_object("django.conf:settings", namespace="CELERY")
        """,
        "proj/settings.py": """
            from configurations import Configuration


            class Base(Configuration):
                CELERY_TASK_ACKS_LATE = False
                CELERY_TASK_TIME_LIMIT = 300
                CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30


            class Dev(Base):
                CELERY_TASK_ALWAYS_EAGER = True


            class Prod(Base):
                CELERY_TASK_ACKS_LATE = True
                CELERY_WORKER_PREFETCH_MULTIPLIER = 1
        """,
    }
    (app,) = analyse_tree(files).project.apps
    assert app.source_kind == "django" and "Prod" in app.source
    acks = app.setting("task_acks_late")
    assert (acks.value, where(acks)) == (True, ("proj/settings.py", 15))
    soft = app.setting("task_soft_time_limit")
    assert (soft.value, where(soft)) == (270, ("proj/settings.py", 7))
    assert app.setting("worker_prefetch_multiplier").value == 1
    assert app.setting("task_always_eager").status == "default"


def test_settings_class_without_django_configuration_is_unknown(analyse_tree):
    files = {
        "proj/__init__.py": "",
        "proj/celery.py": CELERY_PY.replace("proj.settings.production", "proj.settings"),
        "proj/settings.py": """
            from configurations import Configuration


            class Dev(Configuration):
                CELERY_TASK_ACKS_LATE = False


            class Prod(Configuration):
                CELERY_TASK_ACKS_LATE = True
        """,
    }
    (app,) = analyse_tree(files).project.apps
    acks = app.setting("task_acks_late")
    assert acks.status == "unknown" and "DJANGO_CONFIGURATION" in acks.reason


def test_missing_settings_module_is_a_clear_unknown(analyse_tree):
    files = dict(SPLIT)
    files["proj/celery.py"] = CELERY_PY.replace("proj.settings.production", "proj.settings.staging")
    analysis = analyse_tree(files)
    (app,) = analysis.project.apps
    acks = app.setting("task_acks_late")
    assert acks.status == "unknown"
    assert "proj.settings.staging" in acks.reason and "not in the project" in acks.reason


def test_settings_module_from_an_env_read_with_default(analyse_tree):
    files = dict(SPLIT)
    files["proj/celery.py"] = CELERY_PY.replace(
        'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings.production")',
        'os.environ.setdefault("DJANGO_SETTINGS_MODULE", os.getenv("SETTINGS", "proj.settings.common"))',
    )
    (app,) = analyse_tree(files).project.apps
    assert app.source_path == "proj/settings/common.py"
    assert app.setting("task_time_limit").value == 120


def test_environ_item_assignment_names_the_settings_module(analyse_tree):
    files = dict(SPLIT)
    files["proj/celery.py"] = CELERY_PY.replace(
        'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings.production")',
        'os.environ["DJANGO_SETTINGS_MODULE"] = "proj.settings.common"',
    )
    (app,) = analyse_tree(files).project.apps
    assert app.source_path == "proj/settings/common.py"


def test_conditional_settings_give_several(analyse_tree):
    files = dict(SPLIT)
    files["proj/settings/production.py"] = """
        import os

        from .base import *

        if os.environ.get("HEAVY") == "1":
            CELERY_TASK_TIME_LIMIT = 3600
        else:
            CELERY_TASK_TIME_LIMIT = 600
        if DEBUG:
            CELERY_TASK_ALWAYS_EAGER = True
    """
    (app,) = analyse_tree(files).project.apps
    limit = app.setting("task_time_limit")
    assert limit.status == "several"
    assert [(a.value.value, where(a.value), a.condition) for a in limit.alternatives] == [
        (3600, ("proj/settings/production.py", 6), 'os.environ.get("HEAVY") == "1"'),
        (600, ("proj/settings/production.py", 8), 'not (os.environ.get("HEAVY") == "1")'),
    ]
    # DEBUG is False in base: the branch is decided and never taken
    assert app.setting("task_always_eager").status == "default"


CLASS_SETTINGS = {
    "manage.py": "",
    "proj/__init__.py": "",
    "proj/celery.py": CELERY_PY,
    "proj/core/__init__.py": "",
    "proj/core/settings.py": """
        import inspect
        import sys


        class Settings:
            @classmethod
            def load_settings(cls, module_name):
                module = sys.modules[module_name]
                for member, value in inspect.getmembers(cls()):
                    if member.isupper():
                        setattr(module, member, value)
    """,
    "proj/settings/__init__.py": "",
    "proj/settings/production.py": """
        import sys

        from proj.core.settings import Settings


        class ProductionSettings(Settings):
            CELERY_WORKER_PREFETCH_MULTIPLIER = 1
            CELERY_TASK_ACKS_LATE = True


        ProductionSettings.load_settings(__name__)
    """,
}


@pytest.mark.parametrize("call", [
    "ProductionSettings.load_settings(__name__)",
    "ProductionSettings.load_settings(module_name=__name__)",
    "ProductionSettings.export(sys.modules[__name__])",
    "ProductionSettings.export(globals())",
])
def test_a_call_handed_the_settings_module_makes_its_settings_unknown(analyse_tree, call):
    """The settings class's attributes become module names at run time: none of them is seen,
    so no setting may be taken at Celery's default."""
    files = dict(CLASS_SETTINGS)
    files["proj/settings/production.py"] = CLASS_SETTINGS["proj/settings/production.py"].replace(
        "ProductionSettings.load_settings(__name__)", call)
    (app,) = analyse_tree(files).project.apps
    value = app.setting("worker_prefetch_multiplier")
    assert value.status == "unknown"
    assert "is handed the module and may set names qlint does not see" in value.reason
    assert "proj/settings/production.py" in value.reason


def test_settings_bound_after_a_call_handed_the_module_are_known(analyse_tree):
    """A helper handed globals() early in the module: what the module binds after it wins,
    what it bound before may have been replaced, and what it never binds may be set."""
    files = dict(CLASS_SETTINGS)
    files["proj/settings/helpers.py"] = "def populate(env, target):\n    target['ALERT_REFRESH'] = env('DD_ALERT_REFRESH')\n"
    files["proj/settings/production.py"] = """
        import os

        from proj.settings.helpers import populate

        CELERY_TASK_TIME_LIMIT = 60
        populate(os.environ.get, globals())
        CELERY_WORKER_PREFETCH_MULTIPLIER = int(os.environ.get("PREFETCH", "1"))
        CELERY_TASK_ACKS_LATE = True
    """
    (app,) = analyse_tree(files).project.apps
    prefetch, acks = app.setting("worker_prefetch_multiplier"), app.setting("task_acks_late")
    assert (prefetch.status, prefetch.value, acks.status, acks.value) == ("env-default", 1, "known", True)
    assert app.setting("task_time_limit").status == "unknown"  # bound before: populate() may replace it
    never = app.setting("task_soft_time_limit")
    assert never.status == "unknown" and "populate(globals()) is handed the module" in never.reason


def test_loggers_named_after_the_module_leave_the_settings_readable(analyse_tree):
    files = dict(CLASS_SETTINGS)
    files["proj/settings/production.py"] = (
        "import logging\nimport warnings\n\nlogging.getLogger(__name__)\n"
        "warnings.filterwarnings('ignore', module=__name__)\nCELERY_WORKER_PREFETCH_MULTIPLIER = 1\n")
    (app,) = analyse_tree(files).project.apps
    value = app.setting("worker_prefetch_multiplier")
    assert (value.status, value.value) == ("known", 1)


def test_settings_module_named_after_the_package_folder(analyse_tree):
    """kpi: the project's name is the folder of the app module, os.path.basename(os.path.dirname(__file__))."""
    files = dict(SPLIT)
    files["proj/celery.py"] = """
        import os

        import celery

        PROJECT_NAME = os.path.basename(os.path.dirname(os.path.abspath(__file__)))
        if os.environ.get("DJANGO_SETTINGS_MODULE") in (None, f"{PROJECT_NAME}.settings.base"):
            os.environ["DJANGO_SETTINGS_MODULE"] = f"{PROJECT_NAME}.settings.production"

        app = celery.Celery(PROJECT_NAME)
        app.config_from_object("django.conf:settings", namespace="CELERY")
    """
    (app,) = analyse_tree(files).project.apps
    assert (app.name, app.source_path) == ("proj", "proj/settings/production.py")
    assert app.setting("task_acks_late").value is True


def test_the_name_of_the_checkout_folder_is_not_known(analyse_tree):
    files = {"celery_app.py": """
        import os

        from celery import Celery

        app = Celery(os.path.basename(os.path.dirname(__file__)))
    """}
    (app,) = analyse_tree(files).project.apps
    assert app.name == "celery_app:app"


def test_a_test_project_run_from_its_own_folder(analyse_tree):
    """openwisp: tests/manage.py runs Django from tests/, itself a package (tests/__init__.py),
    so DJANGO_SETTINGS_MODULE 'openwisp2.settings' is tests/openwisp2/settings.py."""
    files = {
        "openwisp_x/__init__.py": "",
        "tests/__init__.py": "",
        "tests/manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'openwisp2.settings')\n",
        "tests/openwisp2/__init__.py": "from .celery import app as celery_app\n",
        "tests/openwisp2/celery.py": CELERY_PY.replace("proj.settings.production", "openwisp2.settings"),
        "tests/openwisp2/settings.py": "from openwisp2.limits import LIMIT\n\nCELERY_TASK_TIME_LIMIT = LIMIT\n",
        "tests/openwisp2/limits.py": "LIMIT = 90\n",
    }
    (app,) = analyse_tree(files).project.apps
    assert app.source_path == "tests/openwisp2/settings.py"
    limit = app.setting("task_time_limit")
    assert (limit.value, where(limit)) == (90, ("tests/openwisp2/settings.py", 3))


def test_a_package_without_a_manage_py_does_not_lend_its_modules(analyse_tree):
    files = {
        "lib/__init__.py": "",
        "lib/settings.py": "CELERY_TASK_TIME_LIMIT = 90\n",
        "lib/celery.py": CELERY_PY.replace("proj.settings.production", "settings"),
    }
    (app,) = analyse_tree(files).project.apps
    assert app.setting("task_time_limit").status == "unknown"


STAND_INS = {
    "proj/__init__.py": "",
    "proj/celery.py": """
        import os

        from celery import Celery

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
        app = Celery("proj")
        app.config_from_object("django.conf:settings", namespace="CELERY")
    """,
    # each deployment writes proj/settings.py; the repository holds what it is made from
    "proj/settings_common.py": """
        INSTALLED_APPS = ["proj"]
        DATABASES = {"default": {"NAME": "shop", "ATOMIC_REQUESTS": True}}
        CELERY_BROKER_URL = "redis://redis:6379/0"
        CELERY_TASK_ACKS_LATE = True
    """,
    "proj/settings_dev.py": """
        from .settings_common import *

        CELERY_TASK_ALWAYS_EAGER = True
    """,
    # named like a settings module but not one: no INSTALLED_APPS
    "proj/settings_security.py": "SESSION_COOKIE_SECURE = True\nCELERY_TASK_ACKS_LATE = False\n",
}


def test_a_missing_settings_module_is_read_as_each_complete_module_beside_it(analyse_tree):
    (app,) = analyse_tree(STAND_INS).project.apps
    assert app.source_kind == "django"
    assert "'proj.settings' (DJANGO_SETTINGS_MODULE) is not in the project" in app.source_named_by
    assert app.source_named_by.endswith("proj.settings_common, proj.settings_dev")
    # the modules agree: the value is known, from where the common module sets it
    acks = app.setting("task_acks_late")
    assert (acks.status, acks.value, where(acks)) == ("known", True, ("proj/settings_common.py", 4))
    assert app.setting("broker_url").value == "redis://redis:6379/0"
    # they differ: one alternative per module
    eager = app.setting("task_always_eager")
    assert eager.status == "several"
    assert sorted((alt.value.value, alt.condition) for alt in eager.alternatives) == [
        (False, "proj.settings is proj.settings_common"), (True, "proj.settings is proj.settings_dev")]


def test_without_a_complete_module_beside_it_the_settings_stay_unknown(analyse_tree):
    files = {k: v for k, v in STAND_INS.items() if k not in ("proj/settings_common.py", "proj/settings_dev.py")}
    (app,) = analyse_tree(files).project.apps
    acks = app.setting("task_acks_late")
    assert acks.status == "unknown" and "'proj.settings' (DJANGO_SETTINGS_MODULE) is not in the project" in acks.reason


def test_views_of_a_project_whose_stand_ins_all_turn_on_atomic_requests(tmp_path):
    files = dict(STAND_INS)
    files["proj/tasks.py"] = "from proj.celery import app\n\n\n@app.task\ndef index(pk):\n    return pk\n"
    files["proj/models.py"] = "from django.db import models\n\n\nclass Order(models.Model):\n    pass\n"
    files["proj/views.py"] = ("from proj.models import Order\nfrom proj.tasks import index\n\n\n"
                              "def save(request, pk):\n    Order.objects.create(pk=pk)\n    index.delay(pk)\n")
    write_tree(tmp_path, files)
    done = subprocess.run([sys.executable, "-m", "qlint", "check", "--no-cache", "--select", "QL305", "--format", "json",
                           "."], cwd=tmp_path, capture_output=True, text=True)
    (finding,) = json.loads(done.stdout)["findings"]
    assert (finding["code"], finding["path"], finding["line"]) == ("QL305", "proj/views.py", 7)
    # one of the stand-ins turning it off leaves the views out
    files["proj/settings_dev.py"] = "from .settings_common import *\n\nDATABASES = {'default': {'NAME': 'shop'}}\n"
    write_tree(tmp_path, files)
    done = subprocess.run([sys.executable, "-m", "qlint", "check", "--no-cache", "--select", "QL305", "--format", "json",
                           "."], cwd=tmp_path, capture_output=True, text=True)
    assert json.loads(done.stdout)["findings"] == []
