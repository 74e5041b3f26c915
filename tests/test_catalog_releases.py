"""The per-release catalog: the installed Celery against its entry, the table of issue 17, the loader."""
from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import celery
import pytest
from celery.app import defaults as celery_defaults
from packaging.version import Version

import qlint.catalog as catalog
from qlint.catalog import releases

REPO = Path(__file__).resolve().parent.parent


def _load_generator():
    spec = importlib.util.spec_from_file_location("generate_catalog", REPO / "scripts" / "generate_catalog.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generator = _load_generator()
INSTALLED = f"{Version(celery.__version__).major}.{Version(celery.__version__).minor}"


# --- the installed Celery against its release's entry -------------------------------------


def test_the_installed_release_is_known():
    assert INSTALLED in releases.names(), f"celery {celery.__version__} is not in releases.json"
    assert celery.__version__ in releases.get_release(INSTALLED).patches


def test_installed_celerys_live_defaults_match_its_catalog_entry():
    entry = releases.settings_of(INSTALLED)
    options = dict(celery_defaults.flatten(celery_defaults.NAMESPACES))
    assert set(entry) == set(options)
    old_names: dict[str, set[str]] = {}
    for old, new in celery_defaults._TO_NEW_KEY.items():
        old_names.setdefault(new, set()).add(old)
    wrong = []
    for name, setting in entry.items():
        live = options[name].default
        if isinstance(live, timedelta):
            ok = setting.default == live.total_seconds() and setting.default_kind == "seconds"
        elif isinstance(live, float) and math.isinf(live):
            ok = setting.default == live
        elif setting.default_kind == "repr":
            ok = setting.default == generator.encode_default(live)[0]
        else:
            ok = setting.default == live and type(setting.default) is type(live)
        declared = options[name].type
        ok = ok and setting.type == (declared if isinstance(declared, str) else declared.__name__)
        ok = ok and set(setting.old_names) == old_names.get(name, set())
        if not ok:
            wrong.append(f"{name}: catalog {setting!r}, Celery {celery.__version__} has {live!r} ({declared!r})")
    assert not wrong, "\n".join(wrong)


def test_the_probe_reads_a_release_as_celery_does():
    """The generator's probe, run on the installed Celery's own files (no wheel, no network),
    finds its settings and measures its ConfigurationView."""
    site = Path(celery.__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", generator.PROBE, str(site), str(REPO / "scripts" / "generate_catalog.py")],
                         capture_output=True, text=True, check=True)
    probed = json.loads(out.stdout)
    stored = json.loads((REPO / "qlint" / "catalog" / "settings.json").read_text(encoding="utf-8"))
    if celery.__version__ == stored["celery_version"]:
        assert probed["settings"] == stored["settings"]
    release = releases.get_release(INSTALLED)
    assert probed["reads_old_names_under_namespace"] is release.reads_old_names_under_namespace
    assert probed["app_beats_namespaced_source"] is release.app_beats_namespaced_source


def test_the_probe_never_imports_celery_itself():
    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("kombu", "billiard", "click", "vine"):
                    raise ImportError(name + " must not be imported")
        sys.meta_path.insert(0, Block())
        probe = sys.argv.pop(1)
        exec(compile(probe, "probe", "exec"))
        """
    )
    site = Path(celery.__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code, generator.PROBE, str(site),
                          str(REPO / "scripts" / "generate_catalog.py")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["settings"]


# --- the table of issue 17, against the catalog data ------------------------------------------

# A Django settings module read with namespace="CELERY" that holds old names.
OLD_NAMES = {"CELERY_QUEUES": ["default", "slow"], "CELERY_ACKS_LATE": True, "CELERYD_PREFETCH_MULTIPLIER": 1}


def _read(source: dict, release: str, name: str):
    """What Celery `release` reads for a setting from a source, by the catalog's lookup rules."""
    for key in catalog.lookup_keys(name, "CELERY", release):
        if key in source:
            return source[key]
    return releases.get(name, release).default


@pytest.mark.parametrize(
    ("release", "queues", "acks_late", "prefetch"),
    [
        ("5.2", None, False, 4),
        ("5.3", None, False, 4),
        ("5.4", None, False, 4),
        ("5.5", None, False, 4),
        ("5.6", None, False, 4),
        ("5.7", ["default", "slow"], True, 1),
    ],
)
def test_the_table_of_issue_17(release, queues, acks_late, prefetch):
    assert _read(OLD_NAMES, release, "task_queues") == queues
    assert _read(OLD_NAMES, release, "task_acks_late") is acks_late
    assert _read(OLD_NAMES, release, "worker_prefetch_multiplier") == prefetch


def test_old_names_under_a_namespace_are_read_from_57_on_only():
    assert [r.name for r in releases.known() if r.reads_old_names_under_namespace] == ["5.7"]
    assert [r.name for r in releases.known() if r.app_beats_namespaced_source] == ["5.7"]
    for release in releases.names():
        found = catalog.classify("CELERY_ACKS_LATE", "CELERY", release)
        assert found.kind == "old-under-namespace" and found.setting.name == "task_acks_late"
        assert found.read is (release == "5.7")
        # Without a namespace every release reads the old names.
        assert catalog.classify("CELERY_ACKS_LATE", None, release).read


# --- the loader ---------------------------------------------------------------------------------


def test_known_releases_and_their_patches():
    assert releases.names() == ("4.4", "5.0", "5.1", "5.2", "5.3", "5.4", "5.5", "5.6", "5.7")
    assert releases.newest() == "5.7"
    assert releases.get_release("5.5").version == "5.5.3"
    assert releases.get_release("5.2").patches[0] == "5.2.0" and "5.2.3" in releases.get_release("5.2").patches
    assert releases.get_release("5.5").kombu and releases.get_release("5.7").requires_python
    assert releases.get_release("5.8") is None
    assert releases.get_release(releases.newest()).version == json.loads(
        (REPO / "qlint" / "catalog" / "settings.json").read_text())["celery_version"]


@pytest.mark.parametrize(
    ("name", "added", "removed"),
    [
        ("worker_disable_prefetch", "5.6", None),
        ("task_retry_on_worker_lost", "5.7", None),
        ("broker_connection_retry_on_startup", "5.3", None),
        ("worker_deduplicate_successful_tasks", "5.1", None),
        ("task_queue_ha_policy", None, "5.0"),
        ("task_acks_late", None, None),
    ],
)
def test_when_settings_came_and_went(name, added, removed):
    assert releases.added_in(name) == added
    assert releases.removed_in(name) == removed
    assert (name in releases.settings_of("5.5")) is (name != "task_queue_ha_policy" and (added or "0") <= "5.5")


def test_settings_differ_by_release():
    assert "worker_disable_prefetch" not in releases.settings_of("5.5")
    assert releases.get("worker_disable_prefetch", "5.6").default is False
    assert releases.get("task_queue_ha_policy", "4.4") is not None
    assert releases.get("task_queue_ha_policy") is None
    # Defaults that moved: worker_concurrency was 0 (the CPU count) up to 5.1, None after.
    assert releases.get("worker_concurrency", "5.1").default == 0
    assert releases.get("worker_concurrency", "5.2").default is None
    assert releases.get("control_queue_exclusive", "5.6").default is False
    assert releases.get("control_queue_exclusive", "5.7").default is True
    # Defaults the rules rely on are the same in every release.
    for release in releases.names():
        assert releases.get("task_acks_late", release).default is False
        assert releases.get("worker_prefetch_multiplier", release).default == 4
        assert releases.get("task_acks_on_failure_or_timeout", release).default is True
        assert releases.from_old_name("CELERYD_PREFETCH_MULTIPLIER", release).name == "worker_prefetch_multiplier"
    assert releases.settings_of(None) is catalog.settings()


def test_releases_are_named_as_a_reader_says_them():
    assert releases.describe(["5.5"]) == "5.5"
    assert releases.describe(["5.6", "5.2", "5.3", "5.4", "5.5"]) == "5.2–5.6"
    assert releases.describe(["4.4", "5.2", "5.7"]) == "4.4, 5.2 and 5.7"
    assert releases.describe(["5.0", "5.1", "5.2", "5.5"]) == "5.0–5.2 and 5.5"
    assert releases.celery(["5.7"]) == "Celery 5.7"


def test_a_setting_of_another_release_is_classified_as_such():
    found = catalog.classify("CELERY_WORKER_DISABLE_PREFETCH", "CELERY", "5.4")
    assert (found.kind, found.read, found.setting.name) == ("not-in-release", False, "worker_disable_prefetch")
    assert "added in Celery 5.6" in found.explanation and "Celery 5.4" in found.explanation
    assert catalog.classify("CELERY_WORKER_DISABLE_PREFETCH", "CELERY", "5.6").kind == "namespaced"
    gone = catalog.classify("CELERY_QUEUE_HA_POLICY")
    assert (gone.kind, gone.setting.name) == ("not-in-release", "task_queue_ha_policy")
    assert catalog.classify("CELERY_QUEUE_HA_POLICY", None, "4.4").kind == "old"


def test_the_history_is_read_only_for_an_older_release():
    code = textwrap.dedent(
        """
        import qlint.catalog as c
        from qlint.catalog import releases
        assert c.classify("CELERY_ACKS_LATE", "CELERY", "5.7").read
        assert c.classify("CELERY_WORKER_DISABLE_PREFETCH", "CELERY").kind == "namespaced"
        assert releases.has_setting("worker_disable_prefetch", "5.4") is False
        assert releases._history.cache_info().currsize == 0, "history.json read for the newest release"
        assert releases.get("worker_disable_prefetch", "5.4") is None
        assert releases._history.cache_info().currsize == 1
        print("ok")
        """
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.stdout.strip() == "ok", run.stderr


def test_differences_rebuild_the_older_release(monkeypatch):
    newest = json.loads((REPO / "qlint" / "catalog" / "settings.json").read_text())["settings"]
    older = [dict(e) for e in newest if e["name"] != "worker_disable_prefetch"]
    for entry in older:
        if entry["name"] == "worker_concurrency":
            entry.update(default=0, type="int")
        if entry["name"] == "accept_content":
            entry.update(default_kind="value")
    older.append(dict(next(e for e in newest if e["name"] == "task_time_limit"), name="riak_backend_settings",
                      django_key="CELERY_RIAK_BACKEND_SETTINGS", old_names=["CELERY_RIAK_BACKEND_SETTINGS"]))
    diff = generator.differences(newest, older)
    assert diff["absent"] == ["worker_disable_prefetch"]
    assert [e["name"] for e in diff["only_here"]] == ["riak_backend_settings"]
    monkeypatch.setattr(releases, "_history", lambda: {"5.0": diff})
    releases._release_settings.cache_clear()
    try:
        rebuilt = releases._release_settings("5.0")[0]
        assert set(rebuilt) == {e["name"] for e in older}
        assert rebuilt["worker_concurrency"].default == 0 and rebuilt["worker_concurrency"].type == "int"
        assert rebuilt["accept_content"].default == ["json"] and rebuilt["accept_content"].default_kind == "value"
        assert rebuilt["riak_backend_settings"].old_names == ("CELERY_RIAK_BACKEND_SETTINGS",)
    finally:
        releases._release_settings.cache_clear()
