"""QL001 unknown-setting on real projects, checked against what Celery 5.7 really reads."""
from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path
from types import ModuleType

import pytest
from celery import Celery

from qlint.pipeline.analysis import analyse
from qlint.model import Finding
from qlint.rules.unknown_setting import UnknownSetting

MANAGE = "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site.settings')\n"
NAMESPACED = "from celery import Celery\napp = Celery('site')\napp.config_from_object('django.conf:settings', namespace='CELERY')\n"
PLAIN = "from celery import Celery\napp = Celery('site')\napp.config_from_object('django.conf:settings')\n"
_modules = itertools.count()


def write(root: Path, files: dict[str, str]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")


def findings(root: Path, rule, files: dict[str, str]) -> list[Finding]:
    write(root, files)
    project = analyse(["."], cwd=root, root=root, use_cache=False).project
    return sorted(rule.check(project), key=lambda f: (f.span.path, f.span.line))


def django(settings: str, celery_module: str = NAMESPACED) -> dict[str, str]:
    return {"manage.py": MANAGE, "site/__init__.py": "", "site/celery.py": celery_module, "site/settings.py": settings}


def apply_edits(root: Path, finding: Finding) -> None:
    """Apply a finding's fix to the files on disk (edits on one line each)."""
    assert finding.fix is not None
    for edit in sorted(finding.fix.edits, key=lambda e: (e.span.path, e.span.line, e.span.column), reverse=True):
        assert edit.span.line == edit.span.end_line
        path = root / edit.span.path
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        text = lines[edit.span.line - 1]
        lines[edit.span.line - 1] = text[: edit.span.column - 1] + edit.content + text[edit.span.end_column - 1:]
        path.write_text("".join(lines), encoding="utf-8")


def load_module(path: Path) -> ModuleType:
    """Import a settings file written by the test (the test's own data, never a checked project)."""
    spec = importlib.util.spec_from_file_location(f"ql_settings_{next(_modules)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def celery_conf(settings: ModuleType | type, namespace: str | None = "CELERY"):
    app = Celery("check", set_as_current=False)
    app.config_from_object(settings, namespace=namespace)
    return app.conf


def test_typo_under_namespace_is_ignored_by_celery_and_the_fix_makes_it_read(tmp_path):
    found = findings(tmp_path, UnknownSetting(), django("DEBUG = False\nCELERY_TASK_ACK_LATE = True\n"))
    assert [(f.span.line, f.span.column) for f in found] == [(2, 1)]
    assert "did you mean CELERY_TASK_ACKS_LATE?" in found[0].message
    assert found[0].fix.applicability == "unsafe"
    assert celery_conf(load_module(tmp_path / "site/settings.py")).task_acks_late is False
    apply_edits(tmp_path, found[0])
    assert (tmp_path / "site/settings.py").read_text() == "DEBUG = False\nCELERY_TASK_ACKS_LATE = True\n"
    assert celery_conf(load_module(tmp_path / "site/settings.py")).task_acks_late is True
    assert findings(tmp_path, UnknownSetting(), {}) == []


@pytest.mark.parametrize("key", ["CELERY_FLOWER_USER", "CELERY_APP_NAME", "CELERY_REDIS_URL", "CELERY_QUEUE_NAME",
                                 "CELERY_TASK_TIMEOUT", "CELERY_WORKER_COUNT", "CELERY_BROKER",
                                 "CELERY_RESTRICT_WRITER_METHOD"])
def test_project_constants_sharing_the_prefix_are_left_alone(tmp_path, key):
    assert findings(tmp_path, UnknownSetting(), django(f"{key} = 'x'\nCELERY_TASK_ACKS_LATE = True\n")) == []


def test_keys_celery_reads_without_declaring_them(tmp_path):
    settings = "CELERY_RESULT_BACKEND_THREAD_SAFE = True\nCELERY_DB_REUSE_MAX = 5\n"
    assert findings(tmp_path, UnknownSetting(), django(settings)) == []
    conf = celery_conf(load_module(tmp_path / "site/settings.py"))
    assert conf.get("result_backend_thread_safe") is True  # what celery/backends/base.py reads
    assert conf.get("CELERY_DB_REUSE_MAX") == 5  # what celery/fixups/django.py reads


def test_value_type_picks_the_meant_setting_or_none(tmp_path):
    settings = ("CELERY_BEAT_SCHEDULES = {'nightly': {'task': 'x', 'schedule': 60}}\n"
                "CELERY_TASK_QUEUE = 'default'\n")
    found = findings(tmp_path, UnknownSetting(), django(settings))
    assert [f.span.line for f in found] == [1]
    assert found[0].message.endswith("did you mean CELERY_BEAT_SCHEDULE?")


def test_equally_near_names_are_only_a_suggestion(tmp_path):
    found = findings(tmp_path, UnknownSetting(), django("import os\nCELERY_BEAT_SCHEDULES = os.environ['S']\n"))
    assert len(found) == 1
    assert "CELERY_BEAT_SCHEDULE or CELERY_BEAT_SCHEDULER" in found[0].message
    assert found[0].fix.edits == ()


def test_a_constant_the_code_reads_is_not_a_typo(tmp_path):
    celery_module = NAMESPACED + "from django.conf import settings\n" \
        "app.conf.worker_prefetch_multiplier = settings.CELERY_WORKER_PREFETCH_MULTIPLER\n"
    files = django("CELERY_WORKER_PREFETCH_MULTIPLER = 1\n", celery_module)
    assert findings(tmp_path, UnknownSetting(), files) == []
    files["site/celery.py"] = NAMESPACED
    assert [f.span.line for f in findings(tmp_path, UnknownSetting(), files)] == [1]


def test_a_key_the_code_reads_by_item_is_a_constant_and_a_variable_of_its_name_is_not(tmp_path):
    celery_module = NAMESPACED + "import os\nfrom django.conf import settings\n" \
        "app.conf.worker_prefetch_multiplier = vars(settings)['CELERY_WORKER_PREFETCH_MULTIPLER']\n"
    files = django("CELERY_WORKER_PREFETCH_MULTIPLER = 1\n", celery_module)
    assert findings(tmp_path, UnknownSetting(), files) == []
    files["site/celery.py"] = NAMESPACED + "import os\nlimit = os.environ.get('CELERY_WORKER_PREFETCH_MULTIPLER')\n" \
        "other = os.environ['CELERY_WORKER_PREFETCH_MULTIPLER']\n"
    assert [f.span.line for f in findings(tmp_path, UnknownSetting(), files)] == [1]


def test_namespaced_names_without_the_namespace(tmp_path):
    settings = "CELERY_TASK_ACKS_LATE = True\nCELERY_RESULT_BACKEND = 'redis://'\nCELERY_FLOWER_USER = 'x'\n"
    found = findings(tmp_path, UnknownSetting(), django(settings, PLAIN))
    assert [f.span.line for f in found] == [1]
    assert "without namespace='CELERY'" in found[0].message
    assert found[0].related[0].span.path == "site/celery.py"
    conf = celery_conf(load_module(tmp_path / "site/settings.py"), namespace=None)
    assert conf.task_acks_late is False  # ignored, as the finding says
    assert conf.result_backend == "redis://"  # an old name: read, and not reported here


def test_config_module_typos_get_the_spelling_of_their_format(tmp_path):
    files = {"proj/__init__.py": "",
             "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('proj.celeryconfig')\n",
             "proj/celeryconfig.py": "BROKER_URI = 'redis://'\nCELERYD_CONCURENCY = 4\n"}
    found = findings(tmp_path, UnknownSetting(), files)
    assert [f.message.rsplit(" ", 1)[-1] for f in found] == ["BROKER_URL?", "CELERYD_CONCURRENCY?"]
    files["proj/celeryconfig.py"] = "task_acks_lat = True\nhelper_timeout = 3\nDEBUG = True\n"
    found = findings(tmp_path, UnknownSetting(), files)
    assert [f.message.rsplit(" ", 1)[-1] for f in found] == ["task_acks_late?"]


# --- settings of other releases ------------------------------------------------------------------


def test_a_setting_the_installed_release_does_not_have(tmp_path):
    files = {**django("CELERY_WORKER_DISABLE_PREFETCH = True\nCELERY_TASK_RETRY_ON_WORKER_LOST = True\n"),
             "requirements.txt": "celery[redis]==5.4.0\n"}
    found = findings(tmp_path, UnknownSetting(), files)
    assert [f.message for f in found] == [
        "CELERY_WORKER_DISABLE_PREFETCH is worker_disable_prefetch, added in Celery 5.6; this project installs "
        "Celery 5.4, which ignores it",
        "CELERY_TASK_RETRY_ON_WORKER_LOST is task_retry_on_worker_lost, added in Celery 5.7; this project installs "
        "Celery 5.4, which ignores it",
    ]
    assert [(r.span.path, r.span.line, r.message) for r in found[0].related] == [
        ("requirements.txt", 1, "Celery 5.4 is installed here")]
    assert all(f.severity == "error" for f in found)


def test_silent_when_a_release_the_project_admits_has_the_setting(tmp_path):
    files = {**django("CELERY_WORKER_DISABLE_PREFETCH = True\n"), "requirements.txt": "celery>=5.4,<6\n"}
    assert findings(tmp_path, UnknownSetting(), files) == []
    pinned = {**django("CELERY_WORKER_DISABLE_PREFETCH = True\n"), "requirements.txt": "celery==5.6.3\n"}
    assert findings(tmp_path, UnknownSetting(), pinned) == []


def test_a_removed_setting_on_the_newest_release(tmp_path):
    found = findings(tmp_path, UnknownSetting(), django("CELERY_TASK_QUEUE_HA_POLICY = 'all'\n"))
    assert [f.message for f in found] == [
        "CELERY_TASK_QUEUE_HA_POLICY is task_queue_ha_policy, removed in Celery 5.0; Celery 5.7 ignores it "
        "(no dependency file names the release: the newest qlint knows is assumed)"]
    on_44 = findings(tmp_path, UnknownSetting(), {"requirements.txt": "celery==4.4.7\n"})
    assert on_44 == []


def test_a_setting_written_on_the_app_for_another_release(tmp_path):
    module = NAMESPACED + "app.conf.worker_eta_task_limit = 100\n"
    files = {**django("", module), "requirements.txt": "celery==5.5.3\n"}
    found = findings(tmp_path, UnknownSetting(), files)
    assert [(f.span.path, f.span.line) for f in found] == [("site/celery.py", 4)]
    assert "worker_eta_task_limit, added in Celery 5.6" in found[0].message


# --- keys that are no Celery setting at all (issue 16) -------------------------------------------


def test_namespaced_keys_missing_their_group(tmp_path):
    settings = ("CELERY_BROKER_URL = 'redis://redis:6379/0'\nCELERY_TASK_ALWAYS_EAGER = False\n"
                "CELERY_EAGER_PROPAGATES = True\nCELERY_SOFT_TIME_LIMIT = 240\nCELERY_CONCURRENCY = 4\n")
    found = findings(tmp_path, UnknownSetting(), django(settings))
    assert [(f.span.line, f.message.rsplit(" ", 1)[-1]) for f in found] == [
        (3, "CELERY_TASK_EAGER_PROPAGATES?"), (4, "CELERY_TASK_SOFT_TIME_LIMIT?"), (5, "CELERY_WORKER_CONCURRENCY?")]
    assert found[0].message.startswith("CELERY_EAGER_PROPAGATES is no Celery setting and Celery ignores it: the name "
                                       "lacks its group")
    conf = celery_conf(load_module(tmp_path / "site/settings.py"))
    assert (conf.task_eager_propagates, conf.task_soft_time_limit, conf.worker_concurrency) == (False, None, None)
    for finding in found:
        apply_edits(tmp_path, finding)
    conf = celery_conf(load_module(tmp_path / "site/settings.py"))
    assert (conf.task_eager_propagates, conf.task_soft_time_limit, conf.worker_concurrency) == (True, 240, 4)


def test_a_key_missing_its_group_whose_value_fits_no_setting_is_left_alone(tmp_path):
    assert findings(tmp_path, UnknownSetting(), django("CELERY_SOFT_TIME_LIMIT = 'long'\nCELERY_TIMEOUT = 30\n")) == []


def test_celery_3_settings_that_celery_4_removed(tmp_path):
    settings = ("CELERY_BROKER_URL = 'redis://redis:6379/0'\nCELERY_SEND_TASK_ERROR_EMAILS = True\n"
                "CELERYD_LOG_LEVEL = 'INFO'\nADMINS = [('ops', 'ops@example.com')]\n")
    found = findings(tmp_path, UnknownSetting(), django(settings))
    assert [(f.span.line, f.message) for f in found] == [
        (2, "CELERY_SEND_TASK_ERROR_EMAILS is a Celery 3 setting that Celery 4.0 removed: Celery 5.7 ignores it"),
        (3, "CELERYD_LOG_LEVEL is a Celery 3 setting that Celery 4.0 removed: Celery 5.7 ignores it (use the worker's "
            "--loglevel argument)")]
    from celery.app.defaults import _TO_NEW_KEY, DEFAULTS
    assert not {"CELERY_SEND_TASK_ERROR_EMAILS", "CELERYD_LOG_LEVEL", "CELERYD_FORCE_EXECV"} & (set(DEFAULTS) | set(_TO_NEW_KEY))
    files = {"proj/__init__.py": "",
             "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('proj.celeryconfig')\n",
             "proj/celeryconfig.py": "BROKER_URL = 'redis://'\nCELERYD_FORCE_EXECV = True\n",
             "requirements.txt": "celery==5.4.0\n"}
    (finding,) = findings(tmp_path / "module", UnknownSetting(), files)
    assert finding.message == "CELERYD_FORCE_EXECV is a Celery 3 setting that Celery 4.0 removed: Celery 5.4 ignores it"


def test_lower_case_celery_names_in_django_settings_never_reach_celery(tmp_path):
    settings = ("import os\n\nCELERY_BROKER_URL = os.environ.get('REDIS_URL', 'redis://redis:6379/0')\n"
                "broker_transport_options = {'visibility_timeout': 7200}\ntask_acks_late = True\n"
                "celery_worker_prefetch_multiplier = 1\n")
    found = findings(tmp_path, UnknownSetting(), django(settings))
    assert [(f.span.line, f.fix.description) for f in found] == [
        (4, "rename broker_transport_options to CELERY_BROKER_TRANSPORT_OPTIONS"),
        (5, "rename task_acks_late to CELERY_TASK_ACKS_LATE"),
        (6, "rename celery_worker_prefetch_multiplier to CELERY_WORKER_PREFETCH_MULTIPLIER")]
    assert found[0].message == (
        "broker_transport_options is the Celery setting broker_transport_options in lower case, but Django settings "
        "hold only upper-case names: Celery never sees it; it reads CELERY_BROKER_TRANSPORT_OPTIONS")
    for finding in reversed(found):
        apply_edits(tmp_path, finding)
    assert findings(tmp_path, UnknownSetting(), {}) == []
    text = (tmp_path / "site/settings.py").read_text()
    assert "CELERY_BROKER_TRANSPORT_OPTIONS = {'visibility_timeout': 7200}\nCELERY_TASK_ACKS_LATE = True\n" in text


def test_lower_case_names_the_settings_use_or_that_are_no_celery_setting_are_left_alone(tmp_path):
    settings = ("import os\nfrom django.utils import timezone\n\n"
                "broker_url = os.environ.get('REDIS_URL', 'redis://redis:6379/0')\nCELERY_BROKER_URL = broker_url\n"
                "result_backend = 'redis://cache'\nCELERY_RESULT_BACKEND = result_backend\n"
                "base_dir = '/srv'\ntimezone_name = 'UTC'\n")
    assert findings(tmp_path, UnknownSetting(), django(settings)) == []


def test_lower_case_names_in_a_config_module_are_read(tmp_path):
    files = {"proj/__init__.py": "",
             "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('proj.celeryconfig')\n",
             "proj/celeryconfig.py": "broker_transport_options = {'visibility_timeout': 7200}\n"}
    assert findings(tmp_path, UnknownSetting(), files) == []


@pytest.mark.parametrize("key", ["CELERY_REDBEAT_REDIS_URL", "CELERY_REDBEAT_LOCK_TIMEOUT", "CELERY_ONCE",
                                 "CELERY_SINGLETON_BACKEND_URL", "CELERY_EMAIL_BACKEND", "CELERY_EMAIL_CHUNK_SIZE",
                                 "CELERY_HAYSTACK_QUEUE", "CELERY_MONGODB_SCHEDULER_DB", "CELERY_BEAT_DBURI",
                                 "CELERY_TASK_TENANT_CACHE_SECONDS", "CELERY_MONITORS_EXPIRE_SUCCESS"])
def test_keys_extensions_read_are_left_alone(tmp_path, key):
    assert findings(tmp_path, UnknownSetting(), django(f"{key} = 'redis://redis:6379/1'\n")) == []


def test_extension_keys_on_app_conf_are_left_alone(tmp_path):
    celery_module = ("from celery import Celery\n\napp = Celery('proj')\napp.config_from_object('proj.celeryconfig')\n"
                     "app.conf.redbeat_redis_url = 'redis://redis:6379/1'\napp.conf.redbeat_lock_timeout = 30\n"
                     "app.conf.ONCE = {'backend': 'celery_once.backends.Redis', 'settings': {}}\n")
    files = {"proj/__init__.py": "", "proj/celery.py": celery_module, "proj/celeryconfig.py": "task_acks_late = True\n"}
    assert findings(tmp_path, UnknownSetting(), files) == []
