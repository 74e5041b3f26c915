"""QL002 old-setting-name: messages follow what Celery 5.7 does with old names, and the fixes keep the values."""
from __future__ import annotations

import warnings

from qlint.rules.mixed_setting_names import MixedSettingNames
from qlint.rules.old_setting_name import OldSettingName
from tests.rules.test_ql001 import NAMESPACED, apply_edits, celery_conf, django, findings, load_module

MODULE_APP = {"proj/__init__.py": "",
              "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('proj.celeryconfig')\n"}


def test_old_names_under_the_namespace_are_read_and_deprecated(tmp_path):
    settings = "CELERY_ACKS_LATE = True\nCELERYD_PREFETCH_MULTIPLIER = 3\nBROKER_URL = 'redis://localhost:6380/1'\n"
    found = findings(tmp_path, OldSettingName(), django(settings))
    assert [f.span.line for f in found] == [1, 2, 3]
    assert all("Celery 5.7 still reads it" in f.message and "ignore" not in f.message for f in found)
    assert [f.fix.edits[0].content for f in found] == [
        "CELERY_TASK_ACKS_LATE", "CELERY_WORKER_PREFETCH_MULTIPLIER", "CELERY_BROKER_URL"]
    conf = celery_conf(load_module(tmp_path / "site/settings.py"))
    before = (conf.task_acks_late, conf.worker_prefetch_multiplier, conf.broker_url)
    assert before == (True, 3, "redis://localhost:6380/1")  # Celery reads the old names under the namespace
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert conf.maybe_warn_deprecated_settings()  # what the worker does at start
    assert len(caught) == 3
    for finding in found:
        assert finding.fix.applicability == "safe"
        apply_edits(tmp_path, finding)
    conf = celery_conf(load_module(tmp_path / "site/settings.py"))
    assert (conf.task_acks_late, conf.worker_prefetch_multiplier, conf.broker_url) == before
    assert not conf.maybe_warn_deprecated_settings()
    assert findings(tmp_path, OldSettingName(), {}) == []


def test_a_fix_also_renames_the_reads_and_is_then_unsafe(tmp_path):
    settings = "BROKER_URL = 'redis://localhost:6379/0'\nCELERY_RESULT_BACKEND = BROKER_URL\n"
    found = findings(tmp_path, OldSettingName(), django(settings))
    assert [f.span.line for f in found] == [1]
    assert found[0].fix.applicability == "unsafe"
    apply_edits(tmp_path, found[0])
    text = (tmp_path / "site/settings.py").read_text()
    assert text == "CELERY_BROKER_URL = 'redis://localhost:6379/0'\nCELERY_RESULT_BACKEND = CELERY_BROKER_URL\n"
    conf = celery_conf(load_module(tmp_path / "site/settings.py"))
    assert conf.broker_url == conf.result_backend == "redis://localhost:6379/0"


def test_a_shadowed_old_key_is_dead(tmp_path):
    found = findings(tmp_path, OldSettingName(), django("CELERY_TASK_ACKS_LATE = False\nCELERY_ACKS_LATE = True\n"))
    assert [(f.span.line, "Celery ignores this key" in f.message) for f in found] == [(2, True)]
    assert celery_conf(load_module(tmp_path / "site/settings.py")).task_acks_late is False


def test_without_namespace_one_fix_renames_the_whole_source(tmp_path):
    files = {**MODULE_APP, "proj/celeryconfig.py": "BROKER_URL = 'redis://'\nCELERY_ACKS_LATE = True\n"
                                                   "CELERYD_PREFETCH_MULTIPLIER = 1\ntask_time_limit = 60\n"}
    found = findings(tmp_path, OldSettingName(), files)
    assert len(found) == 1 and len(found[0].fix.edits) == 3
    assert findings(tmp_path, MixedSettingNames(), {})  # old majority with one new name: Celery refuses it
    apply_edits(tmp_path, found[0])
    assert findings(tmp_path, OldSettingName(), {}) == []
    assert findings(tmp_path, MixedSettingNames(), {}) == []
    conf = celery_conf(load_module(tmp_path / "proj/celeryconfig.py"), namespace=None)
    assert (conf.broker_url, conf.task_acks_late, conf.worker_prefetch_multiplier, conf.task_time_limit) == (
        "redis://", True, 1, 60)


def test_current_names_are_left_alone(tmp_path):
    settings = "CELERY_TASK_ACKS_LATE = True\nCELERY_RESULT_BACKEND = 'redis://'\nCELERY_BROKER_URL = 'redis://'\n"
    assert findings(tmp_path, OldSettingName(), django(settings)) == []


# --- the release the project installs ------------------------------------------------------------

OLD_UNDER_NAMESPACE = "CELERY_ACKS_LATE = True\nCELERYD_PREFETCH_MULTIPLIER = 1\nCELERY_QUEUES = ['default']\n"


def test_celery_up_to_56_ignores_old_names_under_the_namespace(tmp_path):
    files = {**django(OLD_UNDER_NAMESPACE), "requirements.txt": "Django==4.2.16\ncelery[redis]==5.5.3\n"}
    found = findings(tmp_path, OldSettingName(), files)
    assert [(f.span.line, f.severity) for f in found] == [(1, "error"), (2, "error"), (3, "error")]
    assert found[0].message == ("Celery 5.5 ignores CELERY_ACKS_LATE under namespace 'CELERY': late acknowledgement "
                                "is off (old names are read under a namespace only from Celery 5.7 on); write "
                                "CELERY_TASK_ACKS_LATE")
    assert "workers reserve 4 messages per process, not 1" in found[1].message
    assert "the queues it lists are not declared" in found[2].message
    # renaming puts the value into effect on 5.5: a change of behaviour
    assert all(f.fix.applicability == "unsafe" for f in found)
    apply_edits(tmp_path, found[0])
    assert "CELERY_TASK_ACKS_LATE = True" in (tmp_path / "site/settings.py").read_text()


def test_a_range_across_56_and_57_names_what_each_release_does(tmp_path):
    files = {**django("CELERY_ACKS_LATE = True\n"), "requirements.txt": "celery>=5.6,<5.8\n"}
    found = findings(tmp_path, OldSettingName(), files)
    assert [f.severity for f in found] == ["warning"]
    assert found[0].message == (
        "CELERY_ACKS_LATE is the old name of task_acks_late: Celery 5.6 ignores it under namespace 'CELERY' "
        "(late acknowledgement is off), Celery 5.7 reads it as a deprecated fallback; write CELERY_TASK_ACKS_LATE")


def test_an_ignored_old_name_whose_setting_is_set_elsewhere_is_no_hazard(tmp_path):
    module = NAMESPACED + "app.conf.task_acks_late = True\n"
    files = {**django("CELERY_ACKS_LATE = True\n", module), "requirements.txt": "celery==5.4.0\n"}
    found = findings(tmp_path, OldSettingName(), files)
    assert [f.severity for f in found] == ["warning"]
    assert "task_acks_late has the same value from site/celery.py:4" in found[0].message


def test_a_less_important_setting_ignored_is_a_warning(tmp_path):
    files = {**django("CELERY_REDIRECT_STDOUTS_LEVEL = 'INFO'\n"), "requirements.txt": "celery==5.2.7\n"}
    found = findings(tmp_path, OldSettingName(), files)
    assert [f.severity for f in found] == ["warning"]
    assert found[0].message.startswith("Celery 5.2 ignores CELERY_REDIRECT_STDOUTS_LEVEL under namespace 'CELERY'")


def test_the_configured_release_wins(tmp_path):
    files = {**django("CELERY_ACKS_LATE = True\n"), "requirements.txt": "celery==5.7.0\n",
             "pyproject.toml": "[tool.qlint]\ncelery-version = \"5.3\"\n"}
    found = findings(tmp_path, OldSettingName(), files)
    assert found[0].message.startswith("Celery 5.3 ignores CELERY_ACKS_LATE")
