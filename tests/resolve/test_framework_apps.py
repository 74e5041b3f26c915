"""Apps a framework builds outside the project (invenio-celery, Flask-CeleryExt): the project
defines only @shared_task functions, and its Flask configuration module, found through the
invenio_config.module entry point, is the app's configuration source. Real projects on disk,
through analyse() and the real `qlint` command."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.resolve.conftest import where, write_tree

SETUP_PY = """\
from setuptools import find_packages, setup

setup(
    name='archive',
    packages=find_packages(),
    install_requires=['invenio-app>=1.2.2', 'invenio-celery>=1.0.1', 'invenio-config>=1.0.1'],
    entry_points={
        'console_scripts': ['archive = invenio_app.cli:cli'],
        'invenio_base.apps': ['archive_records = archive.modules.records.ext:ArchiveRecords'],
        'invenio_config.module': [
            'archive = archive.config',
        ],
        'invenio_celery.tasks': [
            'archive_sipstore = archive.modules.sipstore.tasks',
        ],
    },
)
"""
CONFIG = """\
from datetime import timedelta

CELERY_BROKER_URL = "amqp://guest:guest@localhost:5672//"
CELERY_RESULT_BACKEND = "redis://localhost:6379/1"
CELERY_TASK_ROUTES = {
    "archive.modules.sipstore.tasks.archive_sip": {"queue": "low"},
}
CELERY_BEAT_SCHEDULE = {
    "cleanup": {"task": "archive.modules.sipstore.tasks.cleanup", "schedule": timedelta(hours=2)},
}
SEARCH_INDEX_PREFIX = "archive-"
"""
TASKS = """\
from celery import shared_task


@shared_task(ignore_result=True, max_retries=6,
             default_retry_delay=4 * 60 * 60)
def archive_sip(sip_uuid):
    try:
        upload(sip_uuid)
    except IOError as exc:
        archive_sip.retry(exc=exc)


@shared_task(ignore_result=True, max_retries=3, default_retry_delay=600)
def cleanup():
    try:
        purge()
    except IOError as exc:
        cleanup.retry(exc=exc)


def upload(uuid):
    pass


def purge():
    pass
"""
INVENIO = {
    "setup.py": SETUP_PY,
    "archive/__init__.py": "",
    "archive/celery.py": '"""The archive\'s Celery app."""\n\nfrom invenio_app.celery import celery\n\n__all__ = ("celery",)\n',
    "archive/config.py": CONFIG,
    "archive/modules/__init__.py": "",
    "archive/modules/sipstore/__init__.py": "",
    "archive/modules/sipstore/tasks.py": TASKS,
    "docker-compose.yml": """\
        services:
          worker:
            build: .
            command: celery worker -A archive.celery -l INFO
          mq:
            image: rabbitmq:3-management
        """,
}


def qlint(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qlint", *args, "--no-cache", "."], cwd=root, capture_output=True,
                          text=True)


def findings(root: Path) -> list[tuple[str, str, int]]:
    done = qlint(root, "check", "--format", "json")
    assert done.returncode in (0, 1), done.stderr
    return sorted((f["code"], f["path"], f["line"]) for f in json.loads(done.stdout)["findings"])


def test_invenio_app_reads_the_config_module_of_the_entry_point(analyse_tree):
    project = analyse_tree(INVENIO).project
    [app] = project.apps
    assert app.namespace == "CELERY"
    assert (app.module, app.var) == ("archive/celery.py", "celery")
    assert app.source == "Invenio's Flask config (archive.config)" and app.source_path == "archive/config.py"
    assert app.setting("broker_url").value == "amqp://guest:guest@localhost:5672//"
    assert where(app.setting("broker_url")) == ("archive/config.py", 3)
    assert app.setting("task_routes").value == {"archive.modules.sipstore.tasks.archive_sip": {"queue": "low"}}
    # invenio-celery's own defaults stand where the project sets nothing
    assert app.setting("task_serializer").value == "msgpack"
    assert "invenio-celery" in app.setting("task_serializer").reason
    assert set(app.tasks) == {"archive.modules.sipstore.tasks.archive_sip", "archive.modules.sipstore.tasks.cleanup"}


def test_invenio_tasks_are_judged_by_the_app_the_framework_makes(tmp_path):
    write_tree(tmp_path, INVENIO)
    found = findings(tmp_path)
    ql104 = [f for f in found if f[0] == "QL104"]
    # a 4 h retry delay outlives RabbitMQ's consumer_timeout; 600 s does not
    assert ql104 and all(f[1] == "archive/modules/sipstore/tasks.py" and f[2] < 12 for f in ql104)
    # the lone worker consumes only the default queue, and archive_sip is routed to 'low'
    assert any(code == "QL404" for code, _, _ in found)
    text = qlint(tmp_path, "config").stdout
    assert "configuration source: Invenio's Flask config (archive.config), namespace 'CELERY'" in text
    assert "RabbitMQ" in text


def test_without_the_framework_shared_tasks_still_belong_to_no_app(analyse_tree):
    files = {k: v for k, v in INVENIO.items() if k not in ("setup.py", "archive/celery.py")}
    assert analyse_tree(files).project.apps == []


def test_a_project_that_makes_its_own_app_keeps_it(analyse_tree):
    own = 'from celery import Celery\n\ncelery = Celery("archive", broker="redis://localhost:6379/0")\n'
    project = analyse_tree({**INVENIO, "archive/celery.py": own}).project
    [app] = project.apps
    assert app.source == "none" and app.setting("broker_url").value == "redis://localhost:6379/0"


def test_an_invenio_module_without_its_instance_config_has_every_setting_unknown(analyse_tree):
    """A library of Invenio modules: the instance that installs it sets the broker."""
    setup = SETUP_PY.replace("        'invenio_config.module': [\n            'archive = archive.config',\n        ],\n", "")
    project = analyse_tree({**INVENIO, "setup.py": setup, "archive/celery.py": ""}).project
    [app] = project.apps
    assert app.source_kind == "unknown" and "invenio_config.module" in app.source_problem
    assert app.setting("broker_url").status == "unknown"
    assert app.setting("task_acks_late").status == "unknown"


def test_config_modules_of_several_entry_points_load_in_name_order(analyse_tree):
    setup_cfg = """\
        [metadata]
        name = archive

        [options]
        install_requires =
            invenio-celery>=1.2

        [options.entry_points]
        invenio_config.module =
            20_archive = archive.config
            00_base = archive.base_config
        invenio_base.apps =
            archive = archive.ext:Archive
        """
    files = {k: v for k, v in INVENIO.items() if k != "setup.py"}
    project = analyse_tree({
        **files, "setup.cfg": setup_cfg, "setup.py": "from setuptools import setup\nsetup()\n",
        "archive/base_config.py": 'CELERY_BROKER_URL = "redis://base:6379/0"\nCELERY_TASK_ACKS_LATE = True\n',
    }).project
    [app] = project.apps
    assert app.source == "Invenio's Flask config (archive.base_config, archive.config)"
    assert where(app.setting("broker_url")) == ("archive/config.py", 3)
    assert app.setting("task_acks_late").value is True


def test_pyproject_entry_point_table(analyse_tree):
    pyproject = """\
        [project]
        name = "archive"
        dependencies = ["invenio-app-rdm[opensearch2]~=12.0"]

        [project.entry-points."invenio_config.module"]
        archive = "archive.config"

        [project.entry-points."invenio_base.apps"]
        archive = "archive.ext:Archive"
        """
    files = {k: v for k, v in INVENIO.items() if k not in ("setup.py", "archive/celery.py")}
    project = analyse_tree({**files, "pyproject.toml": pyproject}).project
    [app] = project.apps
    assert app.source_path == "archive/config.py"
    assert app.module == "archive/config.py" and (app.defined_at.path, app.defined_at.line) == ("pyproject.toml", 6)


def test_invenio_environment_variables_override_the_config_module(analyse_tree):
    compose = """\
        services:
          worker:
            build: .
            command: celery worker -A archive.celery -l INFO
            environment:
              - "INVENIO_CELERY_BROKER_URL=redis://cache:6379/0"
              - INVENIO_CELERY_TASK_ACKS_LATE=True
        """
    project = analyse_tree({**INVENIO, "docker-compose.yml": compose}).project
    [app] = project.apps
    assert app.setting("broker_url").value == "redis://cache:6379/0"
    assert where(app.setting("broker_url"))[0] == "docker-compose.yml"
    assert app.setting("task_acks_late").value is True  # ast.literal_eval, as invenio-config reads it


def test_flask_celeryext_project_without_a_located_config_has_every_setting_unknown(tmp_path, analyse_tree):
    files = {
        "requirements.txt": "Flask==2.3.3\nFlask-CeleryExt==0.5.0\ncelery[redis]==5.3.6\n",
        "reports/__init__.py": "",
        "reports/tasks.py": """\
            from celery import shared_task


            @shared_task(acks_late=True)
            def build_report(report_id):
                return report_id
            """,
    }
    project = analyse_tree(files).project
    [app] = project.apps
    assert "Flask-CeleryExt" in app.source_problem
    assert app.setting("broker_url").status == "unknown"
    assert list(app.tasks) == ["reports.tasks.build_report"]


def test_broken_project_files_give_no_traceback(tmp_path):
    write_tree(tmp_path, {**INVENIO, "setup.py": b"\xff\xfe\x00 setup(entry_points={'invenio_config.module': [\n",
                          "setup.cfg": b"[options.entry_points]\ninvenio_config.module =\n    x = \n    = y\n\x00\x01"})
    done = qlint(tmp_path, "check", "--format", "json")
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr
    done = qlint(tmp_path, "config")
    assert done.returncode == 0 and "Traceback" not in done.stderr


RDM_INSTANCE = {
    # an InvenioRDM instance: invenio.cfg at the top (the Dockerfile copies it into the instance path),
    # the instance's own code in site/, installed from the Pipfile
    "Pipfile": '[packages]\ninvenio-app-rdm = {extras = ["opensearch2"], version = "~=12.0.0"}\n'
               'my-site = {editable="true", path="./site"}\n',
    "invenio.cfg": """\
        from invenio_i18n import lazy_gettext as _

        APP_DEFAULT_SECURE_HEADERS = {"force_https": True}
        BROKER_URL = "amqp://guest:guest@localhost:5672/"
        CELERY_BROKER_URL = "amqp://guest:guest@localhost:5672/"
        CELERY_RESULT_BACKEND = "redis://localhost:6379/2"
        """,
    "Dockerfile": "FROM registry.cern.ch/inveniosoftware/almalinux:1\nCOPY ./invenio.cfg ${INVENIO_INSTANCE_PATH}\n",
    "site/setup.cfg": "[metadata]\nname = my-site\n\n[options.entry_points]\ninvenio_celery.tasks =\n"
                      "    my_site = my_site.tasks\n",
    "site/setup.py": "from setuptools import setup\n\nsetup()\n",
    "site/my_site/__init__.py": "",
    "site/my_site/tasks.py": TASKS.replace("archive_sip", "harvest"),
}


def test_invenio_instance_config_file_is_read_after_the_entry_points(tmp_path, analyse_tree):
    project = analyse_tree(RDM_INSTANCE).project
    [app] = project.apps
    assert app.source == "Invenio's Flask config (invenio.cfg)"
    assert where(app.setting("broker_url")) == ("invenio.cfg", 5)
    found = findings(tmp_path)
    assert ("QL104", "site/my_site/tasks.py", 5) in found
    # BROKER_URL beside CELERY_BROKER_URL is Invenio's Celery 3 spelling, which Flask-CeleryExt maps too
    assert not [f for f in found if f[0] == "QL002"]
