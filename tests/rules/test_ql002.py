"""QL002 old-setting-name: messages follow what Celery 5.7 does with old names, and the fixes keep the values."""
from __future__ import annotations

import warnings

from qlint.rules.mixed_setting_names import MixedSettingNames
from qlint.rules.old_setting_name import OldSettingName
from tests.rules.test_ql001 import apply_edits, celery_conf, django, findings, load_module

MODULE_APP = {"proj/__init__.py": "",
              "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('proj.celeryconfig')\n"}


def test_old_names_under_the_namespace_are_read_and_deprecated(tmp_path):
    settings = "CELERY_ACKS_LATE = True\nCELERYD_PREFETCH_MULTIPLIER = 3\nBROKER_URL = 'redis://localhost:6380/1'\n"
    found = findings(tmp_path, OldSettingName(), django(settings))
    assert [f.span.line for f in found] == [1, 2, 3]
    assert all("Celery still reads it" in f.message and "ignore" not in f.message for f in found)
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
